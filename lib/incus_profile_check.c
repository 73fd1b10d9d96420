/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Checking an Incus profile a user edited (coldplug incus-profile --check):
 * the YAML (libyaml, loaded with dlopen() by the first check: `coldplug
 * serve` links this library and never parses YAML, so it never maps a YAML
 * parser), raw.qemu.conf in Incus's override syntax (the parser
 * follows qemuRawCfgOverride in Incus's driver_qemu_config_override.go, so
 * what it refuses Incus would refuse too), and what coldplug needs in it.
 * Every problem is collected; warnings do not fail the check.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "coldplug/cleanup.h"
#include "coldplug/incus_profile.h"
#include "coldplug/stub.h"
#include "names.h"
#include "util.h"

#define CHECK_MAX_SECTIONS 256
#define CHECK_MAX_ENTRIES  32

/* Longest key and value Incus's profiles need (longer is refused). */
#define CHECK_KEY_MAX	48
#define CHECK_VALUE_MAX 256

/* libyaml's soname: the ABI <yaml.h> describes (Debian's libyaml-0-2). */
#define YAML_SONAME "libyaml-0.so.2"

/* The libyaml functions the checker calls, resolved by yaml_api_get(). */
struct yaml_api {
	int (*parser_initialize)(yaml_parser_t *parser);
	void (*parser_set_input_string)(yaml_parser_t *parser, const unsigned char *input,
					size_t size);
	int (*parser_load)(yaml_parser_t *parser, yaml_document_t *document);
	void (*parser_delete)(yaml_parser_t *parser);
	void (*document_delete)(yaml_document_t *document);
};

/* One raw.qemu.conf section as Incus sees it; keys and values point into
 * check_ctx.text. */
struct check_section {
	char name[96];
	int index;
	struct {
		const char *key;
		const char *value;
	} e[CHECK_MAX_ENTRIES];
	unsigned n;
};

/**
 * struct check_ctx - checker state
 * @text:	raw.qemu.conf's copy, cut into the sections' keys and values
 * @conf:	the raw.qemu.conf sections
 * @nconf:	their count
 * @cap:	sections allocated
 * @problems:	"\n  - ..." each
 * @nproblems:	their count
 * @nomem:	a section could not be allocated
 * @rep:	the report being filled
 */
struct check_ctx {
	char *text;
	struct check_section *conf;
	size_t nconf;
	size_t cap;
	char problems[4096];
	unsigned nproblems;
	bool nomem;
	struct incus_profile_report *rep;
};

/**
 * problem() - record a problem that fails the check
 * @ctx:	checker state
 * @fmt:	printf format
 */
static void problem(struct check_ctx *ctx, const char *fmt, ...) CP_PRINTF(2, 3);
static void problem(struct check_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	ctx->nproblems++;
	va_start(ap, fmt);
	cp_reasons_vadd(ctx->problems, sizeof(ctx->problems), fmt, ap);
	va_end(ap);
}

/**
 * warning() - record a problem that does not fail the check
 * @ctx:	checker state
 * @fmt:	printf format
 */
static void warning(struct check_ctx *ctx, const char *fmt, ...) CP_PRINTF(2, 3);
static void warning(struct check_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cp_reasons_vadd(ctx->rep->warnings, sizeof(ctx->rep->warnings), fmt, ap);
	va_end(ap);
}

/* Record a problem and leave the (void) function. */
#define problem_ret(...)                                                                           \
	do {                                                                                       \
		problem(__VA_ARGS__);                                                              \
		return;                                                                            \
	} while (0)

/**
 * go_unquote() - Go strconv.Unquote of a double-quoted value (the escapes
 * Incus's values need: \" \\ \n \t)
 * @in:		"...", trimmed
 * @out:	unquoted (may be @in: it is never longer)
 * @size:	size of @out
 *
 * Return: true if valid
 */
static bool go_unquote(const char *in, char *out, size_t size)
{
	size_t len = strlen(in), o = 0, i;

	if (len < 2 || in[len - 1] != '"')
		return false;
	for (i = 1; i < len - 1 && o + 1 < size; i++) {
		char c = in[i];

		if (c == '"')
			return false;
		if (c == '\\') {
			c = in[++i];
			if (c == 'n')
				c = '\n';
			else if (c == 't')
				c = '\t';
			else if (c != '"' && c != '\\')
				return false;
		}
		out[o++] = c;
	}
	out[o] = '\0';
	return i == len - 1;
}

/**
 * trim() - strip spaces and tabs around @s in place
 * @s:	text
 *
 * Return: @s moved past leading blanks
 */
static char *trim(char *s)
{
	size_t len;

	s += strspn(s, " \t");
	len = strlen(s);
	while (len && strchr(" \t\r", s[len - 1]))
		s[--len] = '\0';
	return s;
}

/**
 * conf_header() - a "[name]" or "[name][idx]" line
 * @ctx:	checker state
 * @line:	the line
 * @lineno:	its number
 *
 * Return: the new section, or NULL on a syntax problem (recorded)
 */
static struct check_section *conf_header(struct check_ctx *ctx, char *line, int lineno)
{
	char *end = strchr(line, ']');
	struct check_section *s;
	char *rest, *stop, *name;
	long idx = 0;

	if (!end || end == line + 1) {
		problem(ctx, "raw.qemu.conf line %d: a section header is a name in square brackets",
			lineno);
		return NULL;
	}
	rest = end + 1;
	if (*rest) {
		idx = strtol(rest + 1, &stop, 10);
		if (rest[0] != '[' || stop == rest + 1 || strcmp(stop, "]")) {
			problem(ctx,
				"raw.qemu.conf line %d: a section index is an integer in square "
				"brackets",
				lineno);
			return NULL;
		}
	}
	if (ctx->nconf == CHECK_MAX_SECTIONS) {
		problem(ctx, "raw.qemu.conf: more than %d sections", CHECK_MAX_SECTIONS);
		return NULL;
	}
	*end = '\0';
	name = trim(line + 1);
	if (strlen(name) >= sizeof(ctx->conf[0].name)) {
		problem(ctx,
			"raw.qemu.conf line %d: section name '%s' is longer than %zu characters",
			lineno, name, sizeof(ctx->conf[0].name) - 1);
		return NULL;
	}
	/* Grown by doubling, to at most CHECK_MAX_SECTIONS. */
	if (ctx->nconf == ctx->cap) {
		size_t cap = ctx->cap ? 2 * ctx->cap : 16;

		s = realloc(ctx->conf, cap * sizeof(*s));
		if (!s) {
			ctx->nomem = true;
			return NULL;
		}
		ctx->conf = s;
		ctx->cap = cap;
	}
	s = &ctx->conf[ctx->nconf++];
	memset(s, 0, sizeof(*s));
	cp_strlcpy(s->name, name, sizeof(s->name));
	s->index = (int)idx;
	return s;
}

/**
 * conf_entry() - a "key = value" line
 * @ctx:	checker state
 * @s:		current section, or NULL
 * @line:	the line
 * @lineno:	its number
 */
static void conf_entry(struct check_ctx *ctx, struct check_section *s, char *line, int lineno)
{
	char *eq = strchr(line, '='), *key, *value;

	if (line[0] == '#')
		problem_ret(ctx, "raw.qemu.conf line %d: Incus's override syntax has no comments",
			    lineno);
	if (!s)
		problem_ret(ctx, "raw.qemu.conf line %d: a key before any section header", lineno);
	if (!eq || eq == line)
		problem_ret(ctx, "raw.qemu.conf line %d: expected key = value", lineno);
	*eq = '\0';
	key = trim(line);
	value = trim(eq + 1);
	if (s->n == CHECK_MAX_ENTRIES)
		problem_ret(ctx, "raw.qemu.conf line %d: too many keys in [%s]", lineno, s->name);
	if (strlen(key) >= CHECK_KEY_MAX)
		problem_ret(ctx, "raw.qemu.conf line %d: key '%s' is longer than %d characters",
			    lineno, key, CHECK_KEY_MAX - 1);
	/* Unquoted in place: the result is never longer. */
	if (value[0] == '"' && !go_unquote(value, value, strlen(value) + 1))
		problem_ret(ctx, "raw.qemu.conf line %d: invalid quoted value", lineno);
	if (strlen(value) >= CHECK_VALUE_MAX)
		problem_ret(ctx,
			    "raw.qemu.conf line %d: the value of '%s' is longer than %d characters",
			    lineno, key, CHECK_VALUE_MAX - 1);
	s->e[s->n].key = key;
	s->e[s->n].value = value;
	s->n++;
}

/**
 * parse_conf() - raw.qemu.conf into sections, syntax as Incus checks it
 * @ctx:	checker state
 * @text:	the value
 */
static void parse_conf(struct check_ctx *ctx, const char *text)
{
	struct check_section *cur = NULL;
	char *save = NULL, *line;
	int lineno = 0;

	ctx->text = strdup(text);
	if (!ctx->text) {
		ctx->nomem = true;
		return;
	}
	for (line = strtok_r(ctx->text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *t = trim(line);

		lineno++;
		if (!*t)
			continue;
		if (t[0] == '[')
			cur = conf_header(ctx, t, lineno);
		else
			conf_entry(ctx, cur, t, lineno);
	}
}

/**
 * get() - value of @key in section @s, "" if absent
 * @s:		section
 * @key:	key
 *
 * Return: borrowed value
 */
static const char *get(const struct check_section *s, const char *key)
{
	unsigned i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->e[i].key, key))
			return s->e[i].value;
	return "";
}

/**
 * find() - the section named exactly @name
 * @ctx:	checker state
 * @name:	e.g. "chardev \"coldplug\""
 *
 * Return: the section, or NULL
 */
static const struct check_section *find(const struct check_ctx *ctx, const char *name)
{
	size_t i;

	for (i = 0; i < ctx->nconf; i++)
		if (!strcmp(ctx->conf[i].name, name))
			return &ctx->conf[i];
	return NULL;
}

/**
 * check_monitor() - the second monitor dials the daemon
 * @ctx:	checker state
 * @socket:	the socket it must dial, or NULL for any
 */
static void check_monitor(struct check_ctx *ctx, const char *socket)
{
	const struct check_section *c = find(ctx, "chardev \"" STUB_MONITOR "\"");
	const struct check_section *m = find(ctx, "mon \"" STUB_MONITOR "\"");
	const struct check_section *r = find(ctx, "chardev \"" STUB_STATUS_CHARDEV "\"");

	if (!c || strcmp(get(c, "backend"), "socket") || strcmp(get(c, "server"), "off"))
		problem_ret(ctx, "raw.qemu.conf needs [chardev \"" STUB_MONITOR "\"] with backend "
				 "= \"socket\", server = \"off\" and the daemon's path");
	if (!m || strcmp(get(m, "chardev"), STUB_MONITOR) || strcmp(get(m, "mode"), "control"))
		problem(ctx, "raw.qemu.conf needs [mon \"" STUB_MONITOR
			     "\"] with chardev = \"" STUB_MONITOR "\" and mode = \"control\"");
	if (!r || strcmp(get(r, "backend"), "ringbuf"))
		problem(ctx, "raw.qemu.conf needs [chardev \"" STUB_STATUS_CHARDEV
			     "\"] with backend = \"ringbuf\": the scriptlet reads coldplug's "
			     "answer there (regenerate the profile with 'coldplug incus-profile')");
	if (!*get(c, "reconnect") && !*get(c, "reconnect-ms"))
		warning(ctx,
			"the monitor has no reconnect: QEMU will not start while coldplug serve "
			"is down, and will not reconnect after a daemon restart");
	if (cp_strlcpy(ctx->rep->socket, get(c, "path"), sizeof(ctx->rep->socket)) >=
	    sizeof(ctx->rep->socket)) {
		problem(ctx, "the monitor's socket path '%s' is longer than %zu characters",
			get(c, "path"), sizeof(ctx->rep->socket) - 1);
		ctx->rep->socket[0] = '\0';
	} else if (socket && strcmp(socket, ctx->rep->socket)) {
		problem(ctx, "the monitor dials %s, but the daemon listens on %s", ctx->rep->socket,
			socket);
	}
}

/**
 * check_devices() - count slots; no PCI device on pcie.0 with an id
 * @ctx:	checker state
 */
static void check_devices(struct check_ctx *ctx)
{
	size_t i;
	unsigned idx;

	for (i = 0; i < ctx->nconf; i++) {
		const struct check_section *s = &ctx->conf[i];
		const char *drive = get(s, "drive");

		if (!strcmp(s->name, "global") && !strcmp(get(s, "driver"), "ICH9-LPC") &&
		    !strcmp(get(s, "property"), "acpi-pci-hotplug-with-bridge-support") &&
		    !strcmp(get(s, "value"), "off"))
			ctx->rep->hotplug_global = true;
		if (strncmp(s->name, "device", 6))
			continue;
		if (!strcmp(s->name, "device") &&
		    names_parse_indexed(drive, NAMES_DISK_SLOT, "", &idx))
			ctx->rep->disk_slots++;
		if (!strcmp(get(s, "driver"), "ide-cd") &&
		    names_parse_indexed(drive, NAMES_CD_SLOT, "", &idx))
			ctx->rep->cd_slots++;
		if (strcmp(s->name, "device") && !strcmp(get(s, "bus"), "pcie.0"))
			problem(ctx,
				"[%s] is a device on pcie.0 with an id: Incus's hot-plug allocator "
				"takes it for a free root port; make it anonymous ([device][N])",
				s->name);
	}
	if (!ctx->rep->hotplug_global)
		warning(ctx,
			"no ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off global: PCI disks "
			"(virtio-blk, nvme) and NICs cannot be re-homed before the VM starts");
	if (ctx->rep->cd_slots)
		warning(ctx,
			"%u CD slot%s on the AHCI (ide-cd coldplug-cd<N>) from an older profile: "
			"coldplug no longer uses them (an ISO now gets a USB CD drive on qemu_usb, "
			"as Incus 6.0.0-6.0.4 ejects a medium moved through a tray); regenerate "
			"the profile",
			ctx->rep->cd_slots, ctx->rep->cd_slots == 1 ? "" : "s");
	if (!ctx->rep->disk_slots)
		warning(ctx, "no disk slots: disks stay where Incus puts them");
}

/**
 * check_scriptlet() - the stub is there and says what it asks for
 * @ctx:	checker state
 * @text:	raw.qemu.scriptlet
 */
static void check_scriptlet(struct check_ctx *ctx, const char *text)
{
	const char *f = strstr(text, "COLDPLUG_NIC_FRONTEND = \"");

	if (!strstr(text, "def qemu_hook(instance, stage)") || !strstr(text, STUB_REQUEST_OBJECT) ||
	    !strstr(text, STUB_STATUS_OBJECT))
		problem_ret(ctx, "raw.qemu.scriptlet is not coldplug's stub (regenerate it with "
				 "coldplug incus-profile)");
	if (f && strcspn(f + 25, "\"") < sizeof(ctx->rep->frontend)) {
		memcpy(ctx->rep->frontend, f + 25, strcspn(f + 25, "\""));
		ctx->rep->frontend[strcspn(f + 25, "\"")] = '\0';
	}
}

/**
 * check_apparmor() - QEMU may connect to the socket
 * @ctx:	checker state
 * @text:	raw.apparmor, or NULL
 */
static void check_apparmor(struct check_ctx *ctx, const char *text)
{
	char rule[160];

	snprintf(rule, sizeof(rule), "%s rw,", ctx->rep->socket);
	if (!text || !strstr(text, rule))
		problem(ctx,
			"raw.apparmor needs the rule '%s' (QEMU's AppArmor profile does not let "
			"it reach the daemon's socket otherwise)",
			rule);
}

/**
 * yaml_sym() - one libyaml function into a function pointer
 * @h:		libyaml's handle
 * @name:	the function
 * @fn:		the address of the pointer to fill (POSIX: a data pointer from
 *		dlsym() has the size and form of a function pointer)
 *
 * Return: found
 */
static bool yaml_sym(void *h, const char *name, void *fn)
{
	void *p = dlsym(h, name);

	memcpy(fn, &p, sizeof(p));
	return p != NULL;
}

/**
 * yaml_api_get() - libyaml, loaded once and kept
 * @err:	filled on failure
 *
 * Return: the functions, or NULL
 */
static const struct yaml_api *yaml_api_get(struct cp_error *err)
{
	static struct yaml_api api;
	static bool loaded;
	void *h;

	if (loaded)
		return &api;
	h = dlopen(YAML_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		cp_error_set(err, CP_ERR_FAILED,
			     "cannot load the YAML parser: %s; install Debian's libyaml-0-2",
			     dlerror());
		return NULL;
	}
	if (!yaml_sym(h, "yaml_parser_initialize", &api.parser_initialize) ||
	    !yaml_sym(h, "yaml_parser_set_input_string", &api.parser_set_input_string) ||
	    !yaml_sym(h, "yaml_parser_load", &api.parser_load) ||
	    !yaml_sym(h, "yaml_parser_delete", &api.parser_delete) ||
	    !yaml_sym(h, "yaml_document_delete", &api.document_delete)) {
		dlclose(h);
		cp_error_set(err, CP_ERR_FAILED, "%s lacks a function the checker calls",
			     YAML_SONAME);
		return NULL;
	}
	loaded = true;
	return &api;
}

/**
 * doc_node() - a document's node by index (libyaml's
 * yaml_document_get_node(), on its public structures)
 * @doc:	document
 * @index:	1-based, as in a pair or the root (1)
 *
 * Return: the node, or NULL
 */
static yaml_node_t *doc_node(yaml_document_t *doc, int index)
{
	if (index > 0 && index <= doc->nodes.top - doc->nodes.start)
		return doc->nodes.start + index - 1;
	return NULL;
}

/**
 * config_value() - the scalar under config: -> @key in a YAML document
 * @doc:	document
 * @key:	e.g. "raw.qemu.conf"
 *
 * Return: borrowed text, or NULL
 */
static const char *config_value(yaml_document_t *doc, const char *key)
{
	yaml_node_t *root = doc_node(doc, 1), *config = NULL;
	yaml_node_pair_t *p;

	if (!root || root->type != YAML_MAPPING_NODE)
		return NULL;
	for (p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *k = doc_node(doc, p->key);

		if (k && k->type == YAML_SCALAR_NODE &&
		    !strcmp((char *)k->data.scalar.value, "config"))
			config = doc_node(doc, p->value);
	}
	if (!config || config->type != YAML_MAPPING_NODE)
		return NULL;
	for (p = config->data.mapping.pairs.start; p < config->data.mapping.pairs.top; p++) {
		yaml_node_t *k = doc_node(doc, p->key);
		yaml_node_t *v = doc_node(doc, p->value);

		if (k && v && k->type == YAML_SCALAR_NODE && v->type == YAML_SCALAR_NODE &&
		    !strcmp((char *)k->data.scalar.value, key))
			return (const char *)v->data.scalar.value;
	}
	return NULL;
}

/**
 * check_doc() - every check on a parsed profile
 * @ctx:	checker state
 * @doc:	document
 * @socket:	the daemon's socket, or NULL
 */
static void check_doc(struct check_ctx *ctx, yaml_document_t *doc, const char *socket)
{
	const char *conf = config_value(doc, "raw.qemu.conf");
	const char *stub = config_value(doc, "raw.qemu.scriptlet");

	if (!conf)
		problem_ret(ctx, "config: raw.qemu.conf is missing");
	parse_conf(ctx, conf);
	check_monitor(ctx, socket);
	check_devices(ctx);
	check_apparmor(ctx, config_value(doc, "raw.apparmor"));
	if (!stub)
		problem(ctx, "config: raw.qemu.scriptlet is missing");
	else
		check_scriptlet(ctx, stub);
}

/**
 * incus_profile_check() - check a profile's YAML
 * @yaml:	the text
 * @len:	its length
 * @socket:	the socket the daemon listens on, or NULL to accept any
 * @rep:	filled (also on failure, as far as it got)
 * @err:	filled on failure: every problem found
 *
 * Return: 0 (warnings may be in @rep), or -1
 */
int incus_profile_check(const char *yaml, size_t len, const char *socket,
			struct incus_profile_report *rep, struct cp_error *err)
{
	struct check_ctx ctx = { .rep = rep };
	const struct yaml_api *y;
	yaml_parser_t parser;
	yaml_document_t doc;
	int rc = 0;

	memset(rep, 0, sizeof(*rep));
	y = yaml_api_get(err);
	if (!y)
		return -1;
	if (!y->parser_initialize(&parser))
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory");
	y->parser_set_input_string(&parser, (const unsigned char *)yaml, len);
	if (!y->parser_load(&parser, &doc)) {
		rc = cp_error_set(err, CP_ERR_INVALID, "not valid YAML: %s at line %zu",
				  parser.problem ? parser.problem : "error",
				  parser.problem_mark.line + 1);
		y->parser_delete(&parser);
		return rc;
	}
	check_doc(&ctx, &doc, socket);
	y->document_delete(&doc);
	y->parser_delete(&parser);
	free(ctx.conf);
	free(ctx.text);
	if (ctx.nomem)
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory");
	if (ctx.nproblems)
		return cp_error_set(err, CP_ERR_INVALID, "%u problem%s:%s", ctx.nproblems,
				    ctx.nproblems == 1 ? "" : "s", ctx.problems);
	return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Running a scriptlet the way Incus runs it, for the stub's tests and the
 * runner's fidelity tests (incus_run.h says what is shared, and why).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "coldplug/incus_profile.h"
#include "coldplug/stub.h"
#include "config.h"
#include "incus_run.h"
#include "tap.h"
#include "util.h"

#ifndef COLDPLUG_TEST_DATA
#error "COLDPLUG_TEST_DATA must name tests/data"
#endif
#ifndef COLDPLUG_SCRIPTLET_RUNNER /* meson passes the built runner's path */
#define COLDPLUG_SCRIPTLET_RUNNER ""
#endif

/* The runner: $COLDPLUG_SCRIPTLET_RUNNER, else the one meson built. */
static const char *runner_path = COLDPLUG_SCRIPTLET_RUNNER;

/**
 * incus_run_init() - pick the runner: $COLDPLUG_SCRIPTLET_RUNNER, else the one
 * meson built; bails out, naming the packages, if it is not there
 */
void incus_run_init(void)
{
	const char *env = getenv("COLDPLUG_SCRIPTLET_RUNNER");

	if (env && *env)
		runner_path = env;
	if (access(runner_path, X_OK) < 0)
		bail_out("incus-scriptlet (%s) is missing: it is built from tests/starlark with "
			 "golang-go and golang-starlark-dev (scripts/deps.sh check installs them)",
			 runner_path);
}

/**
 * incus_run_runner() - the runner incus_run_init() picked
 *
 * Return: its path, static
 */
const char *incus_run_runner(void)
{
	return runner_path;
}

/* The profile's defaults: PCI NICs, 120 s for the answer, 5 s to connect. */
const struct incus_run_stub incus_run_stub_default = { .usb = false, .timeout = 120, .connect = 5 };

/**
 * incus_run_read_file() - a whole file
 * @path:	its path
 *
 * Return: new string (caller frees); bails out if unreadable
 */
char *incus_run_read_file(const char *path)
{
	cleanup_free char *buf = NULL;
	size_t len = 0;
	FILE *f = fopen(path, "re");
	int c;

	if (!f)
		bail_out("%s: %s", path, strerror(errno));
	buf = malloc(1);
	while (buf && (c = getc(f)) != EOF) {
		char *p = realloc(buf, len + 2);

		if (!p)
			break;
		buf = p;
		buf[len++] = (char)c;
	}
	fclose(f);
	if (!buf)
		bail_out("out of memory");
	buf[len] = '\0';
	return steal_pointer(&buf);
}

/**
 * yaml_block() - the text of a "  KEY: |-" block scalar of the profile
 * @yaml:	the profile
 * @key:	e.g. "raw.qemu.scriptlet"
 *
 * Return: new string without the final newline (as |- reads it), or NULL
 */
static char *yaml_block(const char *yaml, const char *key)
{
	char head[128];
	const char *p;
	FILE *out;
	char *text = NULL;
	size_t len = 0;

	snprintf(head, sizeof(head), "  %s: |-\n", key);
	p = strstr(yaml, head);
	if (!p || !(out = open_memstream(&text, &len)))
		return NULL;
	for (p += strlen(head); *p == '\n' || !strncmp(p, "    ", 4);) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		fprintf(out, "%s%.*s", ftell(out) ? "\n" : "", n >= 4 ? (int)n - 4 : 0,
			n >= 4 ? p + 4 : "");
		p += n + (nl ? 1 : 0);
	}
	fclose(out);
	while (len && text[len - 1] == '\n')
		text[--len] = '\0';
	return text;
}

/**
 * subst_all() - replace every @key in @text by @value
 * @text:	heap string, freed
 * @key:	placeholder
 * @value:	replacement
 *
 * Return: new string
 */
static char *subst_all(char *text, const char *key, const char *value)
{
	char *hit;

	while ((hit = strstr(text, key))) {
		char *out = cp_asprintf(NULL, "%.*s%s%s", (int)(hit - text), text, value,
					hit + strlen(key));

		free(text);
		text = out;
		if (!text)
			bail_out("out of memory");
	}
	return text;
}

/**
 * stub_from_template() - fill a stub template as lib/incus_profile.c does
 * @path:	the template
 * @s:		settings
 *
 * Return: new string
 */
static char *stub_from_template(const char *path, const struct incus_run_stub *s)
{
	char *t = incus_run_read_file(path);
	char num[16];

	t = subst_all(t, "@VERSION@", COLDPLUG_VERSION);
	t = subst_all(t, "@NIC_FRONTEND@", s->usb ? "usb" : "pci");
	t = subst_all(t, "@NIC_MODEL@", s->model ? s->model : "virtio-net-pci");
	t = subst_all(t, "@VHOST@", "off");
	snprintf(num, sizeof(num), "%u", s->timeout);
	t = subst_all(t, "@TIMEOUT@", num);
	snprintf(num, sizeof(num), "%u", s->connect);
	t = subst_all(t, "@CONNECT_TIMEOUT@", num);
	t = subst_all(t, "@MONITOR@", STUB_MONITOR);
	t = subst_all(t, "@STATUS@", STUB_STATUS_CHARDEV);
	t = subst_all(t, "@REQUEST@", STUB_REQUEST_OBJECT);
	return subst_all(t, "@SOCKET@", INCUS_RUN_SOCKET);
}

/**
 * incus_run_stub_text() - the stub as the profile generated with @s carries it
 * @s:	settings
 *
 * Return: new string
 */
char *incus_run_stub_text(const struct incus_run_stub *s)
{
	const char *tmpl = getenv("COLDPLUG_TEST_STUB_TEMPLATE");
	cleanup_free char *yaml = NULL;
	struct incus_profile_opts o;
	struct cp_error err;
	char *stub;

	if (tmpl && *tmpl)
		return stub_from_template(tmpl, s);
	incus_profile_opts_init(&o);
	o.monitor.socket = INCUS_RUN_SOCKET;
	o.frontend = s->usb ? PLAN_FRONTEND_USB : PLAN_FRONTEND_PCI;
	o.conf.nic_model = s->model;
	o.timeout_s = s->timeout;
	o.connect_timeout_s = s->connect;
	yaml = incus_profile_generate(&o, &err);
	if (!yaml)
		bail_out("incus-profile: %s", err.msg);
	stub = yaml_block(yaml, "raw.qemu.scriptlet");
	if (!stub)
		bail_out("the profile has no raw.qemu.scriptlet block");
	return stub;
}

/**
 * incus_run_instance() - tests/data/stub/instance.json (mac1: eth0, eth1, root)
 *
 * Return: new reference
 */
cp_json *incus_run_instance(void)
{
	cleanup_free char *text = incus_run_read_file(COLDPLUG_TEST_DATA "/stub/instance.json");
	struct cp_error err;
	cp_json *v = cp_json_parse(text, strlen(text), &err);

	if (!v)
		bail_out("instance.json: %s", err.msg);
	return v;
}

/**
 * incus_run_config_conf() - the sections Incus would have before the scriptlet (two)
 *
 * Return: new reference
 */
cp_json *incus_run_config_conf(void)
{
	static const char text[] =
		"[{\"name\": \"machine\", \"comment\": \"Machine\", \"entries\": {\"graphics\": "
		"\"off\", \"type\": \"q35\"}}, {\"name\": \"chardev \\\"coldplug\\\"\", \"comment\": "
		"\"\", \"entries\": {\"backend\": \"socket\", \"path\": \"" INCUS_RUN_SOCKET
		"\"}}]";

	return cp_json_parse(text, strlen(text), NULL);
}

/**
 * incus_run_stage() - run one stage of @script
 * @c:		Incus's monitor, or NULL
 * @script:	the scriptlet
 * @stage:	the stage
 * @inst:	the instance
 * @conf:	sections, or NULL
 * @res:	filled (release with lab_scriptlet_result_clear())
 *
 * Return: 0 if the hook returned None, else -1 (the message in res->error,
 * or diagnosed when the run itself failed)
 */
int incus_run_stage(struct qmp_client *c, const char *script, const char *stage,
		    const cp_json *inst, const cp_json *conf, struct lab_scriptlet_result *res)
{
	struct lab_scriptlet_args a = {
		.qmp = c,
		.runner = runner_path,
		.script = script,
		.stage = stage,
		.instance = inst,
		.conf = conf,
		.timeout_ms = 60000,
	};
	struct cp_error err;
	int rc = lab_scriptlet_exec(&a, res, &err);

	if (rc < 0 && !res->error)
		diag("the runner could not run: %s", err.msg);
	if (rc < 0 && res->error && strcmp(res->error, err.msg))
		diag("error and result differ: %s", err.msg);
	return rc;
}

/**
 * incus_run_script() - run a small scriptlet with no QMP at @stage
 * @src:	the scriptlet
 * @stage:	the stage
 * @rc:		set to 0 if it returned None, else -1; may be NULL
 *
 * Return: the error text, "" on success (caller frees)
 */
char *incus_run_script(const char *src, const char *stage, int *rc)
{
	cleanup_json cp_json *inst = incus_run_instance();
	struct lab_scriptlet_result res;
	int r = incus_run_stage(NULL, src, stage, inst, NULL, &res);
	char *out = strdup(res.error ? res.error : "");

	lab_scriptlet_result_clear(&res);
	if (!out)
		bail_out("out of memory");
	if (rc)
		*rc = r;
	return out;
}

/**
 * incus_run_peer_new() - a scripted QEMU 7.2 past the handshake
 *
 * Return: new peer
 */
struct fakepeer *incus_run_peer_new(void)
{
	struct fakepeer *fp = fakepeer_new();

	fakepeer_negotiate(fp);
	return fp;
}

/**
 * incus_run_peer_connect() - start @fp's script and connect Incus's monitor to it
 * @fp:	peer, script written
 *
 * Return: the client; bails out on failure
 */
struct qmp_client *incus_run_peer_connect(struct fakepeer *fp)
{
	struct qmp_client_opts o;
	struct qmp_client *c;
	struct cp_error err;

	qmp_client_opts_init(&o);
	o.label = "incus";
	o.trace = 0;
	fakepeer_start(fp);
	c = qmp_client_new(fakepeer_client_fd(fp), &o, &err);
	if (!c || qmp_client_handshake(c, INCUS_RUN_HANDSHAKE_MS, &err) < 0)
		bail_out("handshake with the fake peer: %s", err.msg);
	return c;
}

/**
 * incus_run_expect() - expect @cmd with @args (serialised; Incus always sends
 * "arguments", {} when there are none) and reply @reply
 * @fp:		peer
 * @cmd:	command
 * @args:	arguments (stolen), or NULL for {}
 * @reply:	reply text
 */
void incus_run_expect(struct fakepeer *fp, const char *cmd, cp_json *args, const char *reply)
{
	cleanup_json cp_json *msg = cp_json_new_object();
	cleanup_free char *text = NULL;

	cp_json_set_str(msg, "execute", cmd);
	cp_json_set(msg, "arguments", args ? args : cp_json_new_object());
	text = cp_json_dump(msg, 0);
	fakepeer_expect(fp, text);
	fakepeer_reply(fp, reply);
}

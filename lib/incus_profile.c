/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Generating the Incus profile: see coldplug/incus_profile.h. The YAML is
 * written by hand: three block scalars under "config", nothing else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coldplug/cleanup.h"
#include "coldplug/incus_profile.h"
#include "coldplug/stub.h"
#include "config.h"
#include "incus_stub.h"
#include "util.h"

/**
 * incus_profile_opts_init() - defaults
 * @o:	options to initialise
 */
void incus_profile_opts_init(struct incus_profile_opts *o)
{
	memset(o, 0, sizeof(*o));
	qconf_opts_init(&o->conf);
	o->monitor.socket = "/run/coldplug/coldplug.sock";
	o->monitor.reconnect_ms = 1000;
	o->frontend = PLAN_FRONTEND_PCI;
	o->timeout_s = 120;
	o->connect_timeout_s = 5;
}

/**
 * subst() - replace every @KEY@ in @text by @value
 * @text:	heap string (freed, replaced)
 * @key:	"@KEY@"
 * @value:	replacement
 *
 * Return: the new string, or NULL when out of memory (@text is freed)
 */
static char *subst(char *text, const char *key, const char *value)
{
	size_t klen = strlen(key), vlen = strlen(value), n = 0;
	const char *p;
	char *out, *o;

	for (p = text; (p = strstr(p, key)); p += klen)
		n++;
	out = malloc(strlen(text) + n * vlen + 1);
	if (!out) {
		free(text);
		return NULL;
	}
	for (p = text, o = out;;) {
		const char *hit = strstr(p, key);
		size_t len = hit ? (size_t)(hit - p) : strlen(p);

		memcpy(o, p, len);
		o += len;
		if (!hit)
			break;
		memcpy(o, value, vlen);
		o += vlen;
		p = hit + klen;
	}
	*o = '\0';
	free(text);
	return out;
}

/**
 * stub_text() - the scriptlet with the settings filled in
 * @o:		options
 * @err:	filled on failure
 *
 * Return: new string, or NULL
 */
static char *stub_text(const struct incus_profile_opts *o, struct cp_error *err)
{
	char timeout[16], connect[16];
	char *t = strdup(incus_stub_star);

	snprintf(timeout, sizeof(timeout), "%u", o->timeout_s);
	snprintf(connect, sizeof(connect), "%u", o->connect_timeout_s);
	t = t ? subst(t, "@VERSION@", COLDPLUG_VERSION) : NULL;
	t = t ? subst(t, "@NIC_FRONTEND@", o->frontend == PLAN_FRONTEND_USB ? "usb" : "pci") : NULL;
	t = t ? subst(t, "@NIC_MODEL@", qconf_nic_model(&o->conf)) : NULL;
	t = t ? subst(t, "@VHOST@", o->conf.vhost ? "on" : "off") : NULL;
	t = t ? subst(t, "@TIMEOUT@", timeout) : NULL;
	t = t ? subst(t, "@CONNECT_TIMEOUT@", connect) : NULL;
	t = t ? subst(t, "@MONITOR@", STUB_MONITOR) : NULL;
	t = t ? subst(t, "@STATUS@", STUB_STATUS_CHARDEV) : NULL;
	t = t ? subst(t, "@REQUEST@", STUB_REQUEST_OBJECT) : NULL;
	t = t ? subst(t, "@SOCKET@", o->monitor.socket) : NULL;
	if (!t)
		cp_error_set(err, CP_ERR_NOMEM, "out of memory");
	return t;
}

/**
 * block() - write "  key: |-" and @text indented by 4 spaces
 * @f:		output
 * @key:	YAML key
 * @text:	block content
 */
static void block(FILE *f, const char *key, const char *text)
{
	const char *p = text;

	fprintf(f, "  %s: |-\n", key);
	while (*p) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);

		if (len)
			fprintf(f, "    %.*s\n", len, p);
		else
			fputs("\n", f);
		p += len + (nl ? 1 : 0);
	}
}

/**
 * incus_profile_generate() - the profile as YAML
 * @o:		options
 * @err:	filled on failure
 *
 * Return: new string (caller frees), or NULL
 */
char *incus_profile_generate(const struct incus_profile_opts *o, struct cp_error *err)
{
	cleanup_free char *conf = NULL, *stub = NULL, *apparmor = NULL;
	struct qconf_opts qo = o->conf;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (o->conf.nic_slots || o->conf.nmacs)
		return cp_error_set(
			       err, CP_ERR_INVALID,
			       "NIC slots in a profile come from its scriptlet, one per NIC with "
			       "the NIC's own MAC: leave out --nic-slots and --nic-mac"),
		       NULL;
	if (strpbrk(o->monitor.socket, " \t\n\"'\\,") || o->monitor.socket[0] != '/')
		return cp_error_set(
			       err, CP_ERR_INVALID,
			       "socket path '%s': use an absolute path without spaces, quotes, "
			       "commas or backslashes (it goes into an AppArmor rule)",
			       o->monitor.socket),
		       NULL;
	qo.monitor = &o->monitor;
	conf = qconf_generate(&qo, QCONF_INCUS, err);
	stub = conf ? stub_text(o, err) : NULL;
	/* QEMU opens Incus's tap by name for a direct NIC slot (TUNSETIFF on
	 * an existing tap needs CAP_NET_ADMIN while QEMU is still root). */
	apparmor = stub ? cp_asprintf(err, "%s rw,\ncapability net_admin,\n", o->monitor.socket)
			: NULL;
	if (!apparmor)
		return NULL;
	f = open_memstream(&text, &len);
	if (!f)
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory"), NULL;
	fprintf(f,
		"description: coldplug %s - disks and NICs re-homed onto frontends a guest "
		"without PCI hotplug (macOS) can use\n"
		"config:\n",
		COLDPLUG_VERSION);
	block(f, "raw.apparmor", apparmor);
	if (o->conf.macos)
		fprintf(f, "  security.secureboot: \"false\"\n");
	block(f, "raw.qemu.conf", conf);
	block(f, "raw.qemu.scriptlet", stub);
	fprintf(f, "devices: {}\n");
	if (fclose(f) != 0 || !text) {
		free(text);
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory"), NULL;
	}
	return text;
}

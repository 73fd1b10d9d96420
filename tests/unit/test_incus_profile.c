/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests for the Incus profile (generation and --check) and for the stub
 * protocol's request parser. The stub's behaviour under Incus's Starlark is
 * tested by test_stub (through the Starlark runner); that the profile's
 * raw.qemu.conf makes a working QEMU is tested in the lab.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coldplug/incus_profile.h"
#include "coldplug/stub.h"
#include "tap.h"
#include "util.h"

/**
 * generate() - a profile with the defaults and @frontend
 * @frontend:	NIC frontend
 *
 * Return: YAML text (caller frees)
 */
static char *generate(enum plan_nic_frontend frontend)
{
	struct incus_profile_opts o;
	struct cp_error err;
	char *t;

	incus_profile_opts_init(&o);
	o.frontend = frontend;
	o.monitor.use_reconnect_ms = true;
	t = incus_profile_generate(&o, &err);
	if (!t)
		bail_out("generate: %s", err.msg);
	return t;
}

/**
 * check() - run the checker on @yaml
 * @yaml:	text
 * @socket:	expected socket, or NULL
 * @rep:	report
 * @err:	error
 *
 * Return: incus_profile_check()'s result
 */
static int check(const char *yaml, const char *socket, struct incus_profile_report *rep,
		 struct cp_error *err)
{
	return incus_profile_check(yaml, strlen(yaml), socket, rep, err);
}

/**
 * replace() - @text with the first @from replaced by @to
 * @text:	original
 * @from:	substring (must be present)
 * @to:		replacement
 *
 * Return: new string (caller frees)
 */
static char *replace(const char *text, const char *from, const char *to)
{
	const char *hit = strstr(text, from);
	size_t size = strlen(text) + strlen(to) + 1;
	char *out;

	if (!hit)
		bail_out("'%s' is not in the profile", from);
	out = malloc(size);
	if (!out)
		bail_out("out of memory");
	snprintf(out, size, "%.*s%s%s", (int)(hit - text), text, to, hit + strlen(from));
	return out;
}

/**
 * test_legacy_cd() - a profile from before the USB CD drives: its ide-cd
 * slot is reported as unused, with the fix
 */
static void test_legacy_cd(void)
{
	static const char legacy[] = "    [device \"coldplug-cd0\"]\n    driver = \"ide-cd\"\n"
				     "    drive = \"coldplug-cd0\"\n    bus = \"ide.2\"\n";
	struct incus_profile_report rep;
	struct cp_error err;
	char *t = generate(PLAN_FRONTEND_PCI);
	char *mon = t ? strstr(t, "    [chardev \"coldplug\"]") : NULL;
	char *edited = mon ? cp_asprintf(NULL, "%.*s%s%s", (int)(mon - t), t, legacy, mon) : NULL;

	if (!edited)
		bail_out("no monitor section in the profile");
	ok(check(edited, NULL, &rep, &err) == 0 && rep.cd_slots == 1,
	   "a legacy ide-cd CD slot is counted");
	like(rep.warnings, "coldplug no longer uses them", "...and warned about");
	like(rep.warnings, "regenerate the profile", "...with the fix");
	free(edited);
	free(t);
}

/**
 * test_too_long() - a section name, key or socket path that does not fit is
 * a problem naming it, never a shorter name
 */
static void test_too_long(void)
{
	char name[101], key[61], path[121], from[160], to[256];
	struct incus_profile_report rep;
	struct cp_error err;
	char *t = generate(PLAN_FRONTEND_PCI);
	char *e;

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	memset(path, 'p', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';

	snprintf(to, sizeof(to), "    [device \"%s\"]\n    driver = \"x\"\n    [mon \"coldplug\"]",
		 name);
	e = replace(t, "    [mon \"coldplug\"]", to);
	ok(check(e, NULL, &rep, &err) < 0 && strstr(err.msg, name) && strstr(err.msg, "95"),
	   "a section name longer than 95 characters is a problem naming it");
	free(e);
	snprintf(to, sizeof(to), "    mode = \"control\"\n    %s = \"x\"", key);
	e = replace(t, "    mode = \"control\"", to);
	ok(check(e, NULL, &rep, &err) < 0 && strstr(err.msg, key) && strstr(err.msg, "47"),
	   "a key longer than 47 characters is a problem naming it");
	free(e);
	for (int quoted = 0; quoted < 2; quoted++) {
		char value[300], line[340];

		memset(value, 'v', sizeof(value) - 1);
		value[sizeof(value) - 1] = '\0';
		snprintf(line, sizeof(line), "    mode = \"control\"\n    x = %s%s%s",
			 quoted ? "\"" : "", value, quoted ? "\"" : "");
		e = replace(t, "    mode = \"control\"", line);
		ok(check(e, NULL, &rep, &err) < 0 && strstr(err.msg, "value of 'x'") &&
			   strstr(err.msg, "255"),
		   "a %s value longer than 255 characters is a problem naming its key",
		   quoted ? "quoted" : "bare");
		free(e);
	}
	snprintf(from, sizeof(from), "path = \"/run/coldplug/coldplug.sock\"");
	snprintf(to, sizeof(to), "path = \"%s\"", path);
	e = replace(t, from, to);
	ok(check(e, NULL, &rep, &err) < 0 && strstr(err.msg, path) && strstr(err.msg, "107"),
	   "a socket path longer than 107 characters is a problem naming it");
	free(e);
	free(t);
}

/**
 * test_generated() - the profile's content, and that it passes its own check
 */
static void test_generated(void)
{
	struct incus_profile_report rep;
	struct cp_error err;
	char *t = generate(PLAN_FRONTEND_PCI);

	like(t, "  raw.apparmor: |-\n    /run/coldplug/coldplug.sock rw,\n", "the AppArmor rule");
	like(t,
	     "    [chardev \"coldplug\"]\n    backend = \"socket\"\n    path = "
	     "\"/run/coldplug/coldplug.sock\"\n    server = \"off\"\n    reconnect-ms = \"1000\"\n",
	     "the monitor dials the daemon, QEMU as client, with reconnect-ms");
	like(t, "    [mon \"coldplug\"]\n    chardev = \"coldplug\"\n    mode = \"control\"\n",
	     "a control monitor on it");
	like(t, "    def qemu_hook(instance, stage):\n", "the stub's hook");
	like(t, "    COLDPLUG_NIC_FRONTEND = \"pci\"\n", "the frontend filled in");
	ok(!strstr(t, "@NIC_") && !strstr(t, "@SOCKET@") && !strstr(t, "@VERSION@"),
	   "no placeholder is left");
	ok(!strstr(t, "\t"), "no tabs (YAML, Starlark)");
	ok(check(t, "/run/coldplug/coldplug.sock", &rep, &err) == 0, "the profile passes --check");
	ok(rep.disk_slots == 8 && rep.cd_slots == 0 && rep.hotplug_global &&
		   !strcmp(rep.frontend, "pci") && !*rep.warnings,
	   "the report: 8 disk slots, no legacy CD slot, the global, pci, no warnings");
	ok(!strstr(t, "ide-cd") && !strstr(t, "coldplug-cd"),
	   "no CD slot on the AHCI: ISOs get a USB CD drive, never a tray");
	free(t);
	t = generate(PLAN_FRONTEND_USB);
	ok(check(t, NULL, &rep, &err) == 0 && !strcmp(rep.frontend, "usb"), "usb frontend");
	free(t);
	test_legacy_cd();
}

/**
 * test_check_problems() - edits a user could make, each caught
 */
static void test_check_problems(void)
{
	static const struct {
		const char *from, *to, *needle;
	} cases[] = {
		{ "    [global][100]\n", "    # my comment\n    [global][100]\n", "no comments" },
		{ "    [drive \"coldplug-disk0\"]\n", "    [drive \"coldplug-disk0\"\n",
		  "square brackets" },
		{ "[device][100]", "[device][x]", "section index is an integer" },
		{ "server = \"off\"", "server = \"on\"", "[chardev \"coldplug\"]" },
		{ "mode = \"control\"", "mode = \"readline\"", "[mon \"coldplug\"]" },
		{ "backend = \"ringbuf\"", "backend = \"memory\"",
		  "[chardev \"coldplug-status\"] with backend = \"ringbuf\"" },
		{ "    /run/coldplug/coldplug.sock rw,\n", "    /tmp/x rw,\n",
		  "raw.apparmor needs" },
		{ "def qemu_hook(instance, stage):", "def qemu_hook(inst, stage):",
		  "not coldplug's stub" },
		{ "serial = \"coldplug-disk0\"", "serial = \"coldplug-disk0",
		  "invalid quoted value" },
		{ "    [device][100]\n", "    [device \"mine\"]\n", "Incus's hot-plug allocator" },
		{ "config:\n", "config: [\n", "not valid YAML" },
	};
	struct incus_profile_report rep;
	struct cp_error err;
	char *t = generate(PLAN_FRONTEND_PCI);
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *bad = replace(t, cases[i].from, cases[i].to);

		ok(check(bad, NULL, &rep, &err) < 0 && strstr(err.msg, cases[i].needle),
		   "--check catches: %s", cases[i].needle);
		free(bad);
	}
	ok(check(t, "/run/other.sock", &rep, &err) < 0 && strstr(err.msg, "the daemon listens"),
	   "a socket that differs from the daemon's is caught");
	{
		char *nog = replace(t, "    value = \"off\"\n", "    value = \"on\"\n");

		ok(check(nog, NULL, &rep, &err) == 0 && strstr(rep.warnings, "cannot be re-homed"),
		   "without the hotplug global: a warning, not a failure");
		free(nog);
	}
	free(t);
}

/**
 * test_refused_options() - options a profile cannot carry
 */
static void test_refused_options(void)
{
	struct incus_profile_opts o;
	struct cp_error err;

	incus_profile_opts_init(&o);
	o.conf.nic_slots = 1;
	ok(!incus_profile_generate(&o, &err) && strstr(err.msg, "come from its scriptlet"),
	   "static NIC slots are refused: the stub makes them per VM");
	incus_profile_opts_init(&o);
	o.monitor.socket = "/run/with space.sock";
	ok(!incus_profile_generate(&o, &err) && strstr(err.msg, "AppArmor"),
	   "a socket path that would break the AppArmor rule is refused");
}

/**
 * test_request() - the stub's request, parsed strictly
 */
static void test_request(void)
{
	static const char good[] = "{\"v\":1,\"instance\":\"vm1\",\"project\":\"p\","
				   "\"nic-frontend\":\"usb\",\"taps\":{\"eth0\":\"tap1a2b3c4d\","
				   "\"eth1\":\"mac0011\"},\"future-key\":7}";
	static const char *const bad[] = {
		"",
		"[]",
		"{\"v\":2}",
		"{\"instance\":\"x\"}",
		"{\"v\":1,\"nic-frontend\":\"pcie\"}",
		"{\"v\":1,\"taps\":{\"eth0\":\"tap 1\"}}",
		"{\"v\":1,\"taps\":{\"eth0\":\"a-name-that-is-too-long\"}}",
		"{\"v\":1,\"taps\":[\"tap0\"]}",
		"{\"v\":1,\"usb-mac-fixed\":\"yes\"}",
	};
	struct stub_request r;
	struct cp_error err;
	size_t i;

	ok(stub_request_parse(good, &r, &err) == 0, "a request from the stub parses");
	ok(!strcmp(r.instance, "vm1") && !strcmp(r.project, "p") && r.has_frontend &&
		   r.frontend == PLAN_FRONTEND_USB,
	   "instance, project and frontend (unknown keys ignored)");
	ok(r.ntaps == 2 && !strcmp(r.taps[0].name, "eth0") &&
		   !strcmp(r.taps[0].ifname, "tap1a2b3c4d"),
	   "taps map NIC names to interfaces");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(stub_request_parse(bad[i], &r, &err) < 0 && strstr(err.msg, "Incus scriptlet"),
		   "bad request %zu is refused with a message", i);
	{
		char req[256], name[129];

		memset(name, 'v', 128);
		name[128] = '\0';
		snprintf(req, sizeof(req), "{\"v\":1,\"instance\":\"%s\"}", name);
		ok(stub_request_parse(req, &r, &err) < 0 && strstr(err.msg, name) &&
			   strstr(err.msg, "longer than 127"),
		   "an instance name longer than 127 characters is refused, named, not cut");
	}
	{
		char buf[64];

		stub_status_failed("a long reason that does not fit", buf, 20);
		is_str(buf, "failed: a long reas", "a failed status is bounded");
		stub_status_failed("line one\ndone: line two\r\t", buf, sizeof(buf));
		is_str(buf, "failed: line one done: line two  ",
		       "a failed status is one line: the stub cannot read a \"done\" in it");
	}
}

/**
 * main() - run the tests
 *
 * Return: TAP exit status
 */
int main(void)
{
	test_generated();
	test_too_long();
	test_check_problems();
	test_refused_options();
	test_request();
	return done_testing();
}

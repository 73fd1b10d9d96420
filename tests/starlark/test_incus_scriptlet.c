/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The incus-scriptlet runner (this folder) is faithful to Incus: the stub's
 * tests (tests/unit/test_stub.c) and the lab's Incus emulator trust it to run
 * a scriptlet as Incus does (README.md here: what is Incus's, from which
 * commit), so what Incus's Starlark refuses, the runner refuses with Incus's
 * words: compile options (the errors are starlark-go's, as Debian's
 * golang-starlark-dev words them: Incus's go.starlark.net snapshot), the
 * instance object Incus's StarlarkMarshal makes, the builtins' stage rules
 * and messages, the log lines, run_qmp / run_command / qom_get on a fake QMP
 * peer standing in for QEMU, and lab_scriptlet_run(), the emulator's entry
 * point.
 *
 * A new starlark-go or Incus release that words an error differently fails
 * here, not in the stub's tests.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coldplug/cleanup.h"
#include "coldplug/qmp.h"
#include "fakepeer.h"
#include "incus_run.h"
#include "scriptlet.h"
#include "tap.h"
#include "util.h"

/**
 * stub_edit() - a copy of @stub with @extra added after "def qemu_hook...:"
 * or, with @at_end, after everything
 * @stub:	the stub
 * @extra:	Starlark text
 * @at_end:	append instead
 *
 * Return: new string
 */
static char *stub_edit(const char *stub, const char *extra, bool at_end)
{
	const char *hook = "def qemu_hook(instance, stage):\n";
	const char *p = strstr(stub, hook);

	if (at_end || !p)
		return cp_asprintf(NULL, "%s\n%s", stub, extra);
	p += strlen(hook);
	return cp_asprintf(NULL, "%.*s%s%s", (int)(p - stub), stub, extra, p);
}

/**
 * test_compile_options() - Incus's compile options are really applied: what
 * they forbid, added to the generated stub, is refused
 */
static void test_compile_options(void)
{
	static const struct {
		const char *name;
		const char *extra;
		bool at_end;
		const char *want;
	} cases[] = {
		{ "a while loop", "    while False:\n        pass\n", false,
		  "does not support while loops" },
		{ "recursion", "    coldplug_r(1)\n", false,
		  "function coldplug_r called recursively" },
		{ "a top-level for", "for x in []:\n    pass\n", true,
		  "for loop not within a function" },
		{ "a global reassigned", "COLDPLUG_TIMEOUT = 1\n", true, "cannot reassign global" },
		{ "load()", "load(\"x.star\", \"y\")\n", true,
		  "load not implemented by this application" },
		{ "a name Incus does not predeclare", "    print(now())\n", false,
		  "undefined: now" },
	};
	cleanup_free char *stub = incus_run_stub_text(&incus_run_stub_default);
	size_t i;

	for (i = 0; i < CP_ARRAY_SIZE(cases); i++) {
		cleanup_free char *out = NULL, *base = NULL, *src = NULL;
		int rc;

		base = strcmp(cases[i].name, "recursion")
			       ? strdup(stub)
			       : cp_asprintf(NULL,
					     "%s\ndef coldplug_r(n):\n    return coldplug_r(n - 1) "
					     "if n else 0\n",
					     stub);
		src = stub_edit(base, cases[i].extra, cases[i].at_end);
		out = incus_run_script(src, "early", &rc);
		ok(rc < 0 && strstr(out, cases[i].want), "compile options: %s is refused",
		   cases[i].name);
		if (!strstr(out, cases[i].want))
			diag("got: %s", out);
	}
}

/**
 * test_instance_object() - the instance is what Incus's StarlarkMarshal
 * makes of api.Instance: an object with attributes, not a dict
 */
static void test_instance_object(void)
{
	cleanup_free char *a = NULL, *b = NULL, *c = NULL, *d = NULL;

	a = incus_run_script(
		"def qemu_hook(instance, stage):\n"
		"    fail(type(instance), instance.name, instance.project, instance.status_code,\n"
		"         instance.created_at, type(instance.expanded_devices),\n"
		"         instance.expanded_config[\"volatile.eth1.host_name\"], stage)\n",
		"early", NULL);
	is_str(a, "Failed to run: fail: Instance mac1 default 102 {} dict tap9c8d7e6f early",
	       "instance: attributes, Go types kept (status_code int, created_at {})");
	b = incus_run_script("def qemu_hook(instance, stage):\n    instance.get(\"name\")\n",
			     "early", NULL);
	is_str(b, "Failed to run: Invalid field \"get\"", "instance.get() fails as in Incus");
	c = incus_run_script("def qemu_hook(instance, stage):\n    instance[\"name\"]\n", "early",
			     NULL);
	is_str(c, "Failed to run: unhandled index operation Instance[string]",
	       "instance[...] fails as in Incus");
	d = incus_run_script("def qemu_hook(instance, stage):\n    \"name\" in instance\n", "early",
			     NULL);
	like(d, "Failed to run: ", "'in instance' fails as in Incus: %s", d);
}

/**
 * test_builtins() - stage rules, return value and logging, as QEMURun
 */
static void test_builtins(void)
{
	static const struct {
		const char *body;
		const char *stage;
		const char *want;
	} cases[] = {
		{ "run_qmp({\"execute\": \"query-status\"})", "config",
		  "Failed to run: run_qmp cannot be called at config stage" },
		{ "qom_list(path=\"/\")", "config",
		  "Failed to run: qom_list cannot be called at config stage" },
		{ "run_command(\"query-status\")", "config",
		  "Failed to run: run_command cannot be called at config stage" },
		{ "set_qemu_conf([])", "pre-start",
		  "Failed to run: set_qemu_conf can only be called at config stage" },
		{ "set_qemu_conf([{\"name\": \"x\", \"comment\": \"\", \"entries\": {\"a\": 1}}])",
		  "config", "Failed to run: set_qemu_conf requires a valid configuration" },
		{ "set_qemu_cmdline([\"-bios\", \"x\"])", "config",
		  "Failed to run: Addition or deletion of -bios or -kernel is unsupported" },
		{ "return 1", "early", "Failed with unexpected return value: 1" },
		{ "get_nvram_var(\"x\", \"y\")", "early",
		  "Failed to run: get_nvram_var: NVRAM is not available in the test runner" },
	};
	size_t i;

	for (i = 0; i < CP_ARRAY_SIZE(cases); i++) {
		cleanup_free char *src = NULL, *out = NULL;

		src = cp_asprintf(NULL, "def qemu_hook(instance, stage):\n    %s\n", cases[i].body);
		out = incus_run_script(src, cases[i].stage, NULL);
		is_str(out, cases[i].want, "builtins: %s at %s", cases[i].body, cases[i].stage);
	}
}

/**
 * test_log() - log_* lines reach the log as Incus's logger words them
 */
static void test_log(void)
{
	cleanup_json cp_json *inst = incus_run_instance();
	struct lab_scriptlet_result res;
	int rc;

	rc = incus_run_stage(NULL,
			     "def qemu_hook(instance, stage):\n    log_info(\"a\", 1, \"b\")\n"
			     "    log_warn(\"w\")\n",
			     "early", inst, NULL, &res);
	ok(rc == 0 && !res.error, "log: the hook returned None, nothing on stderr but log lines");
	like(res.log, "level=info msg=\"QEMU scriptlet (early): a1b\"",
	     "log: log_info concatenates its arguments, stage in the prefix");
	like(res.log, "level=warning msg=\"QEMU scriptlet (early): w\"", "log: log_warn");
	lab_scriptlet_result_clear(&res);
}

/**
 * test_qmp_builtins() - run_qmp returns the whole reply with Incus's id (a
 * float, as JSON numbers reach Starlark), run_command the "return", and the
 * QOM helpers take keywords only
 */
static void test_qmp_builtins(void)
{
	static const char src[] =
		"def qemu_hook(instance, stage):\n"
		"    r = run_qmp({\"execute\": \"query-status\", \"id\": \"mine\"})\n"
		"    s = run_command(\"query-status\")\n"
		"    fail(sorted(r.keys()), type(r[\"id\"]), r[\"return\"][\"status\"], s[\"running\"])\n";
	static const char status[] =
		"{\"return\": {\"status\": \"prelaunch\", \"singlestep\": false, \"running\": false}}";
	cleanup_json cp_json *inst = incus_run_instance();
	struct fakepeer *fp = incus_run_peer_new();
	struct lab_scriptlet_result res;
	struct qmp_client *c;

	fakepeer_expect(fp, "{\"execute\": \"query-status\"}");
	fakepeer_reply(fp, status);
	incus_run_expect(fp, "query-status", NULL, status);
	c = incus_run_peer_connect(fp);
	incus_run_stage(c, src, "pre-start", inst, NULL, &res);
	is_str(res.error, "Failed to run: fail: [\"id\", \"return\"] float prelaunch False",
	       "run_qmp: the whole reply, Incus's id in it; run_command: the return value");
	lab_scriptlet_result_clear(&res);
	incus_run_stage(c, "def qemu_hook(instance, stage):\n    qom_get(\"/machine\")\n",
			"pre-start", inst, NULL, &res);
	is_str(res.error,
	       "Failed to run: qom_get (2:12): Expected only keyword arguments, got 1 positional "
	       "argument(s)",
	       "qom_get: keyword arguments only, Incus's message with the caller's position");
	lab_scriptlet_result_clear(&res);
	qmp_client_free(c);
	fakepeer_finish(fp, "run_qmp and run_command: the commands as Incus sends them");
}

/**
 * test_run_wrapper() - lab_scriptlet_run(), the emulator's entry point:
 * the sections replaced in place, the call count returned, the error as
 * Incus words it
 */
static void test_run_wrapper(void)
{
	cleanup_free char *stub = incus_run_stub_text(&incus_run_stub_default), *log = NULL;
	cleanup_json cp_json *inst = incus_run_instance(), *conf = incus_run_config_conf(),
			     *none = NULL;
	struct cp_error err;
	int rc;

	rc = lab_scriptlet_run(NULL, incus_run_runner(), stub, "config", inst, &conf, &log, &err);
	ok(rc == 0 && cp_json_len(conf) == 6, "lab_scriptlet_run: 0 calls, sections replaced%s%s",
	   rc < 0 ? ": " : "", rc < 0 ? err.msg : "");
	free(steal_pointer(&log));
	rc = lab_scriptlet_run(NULL, incus_run_runner(),
			       "def qemu_hook(instance, stage):\n    fail(\"x\")\n", "config", inst,
			       &none, &log, &err);
	ok(rc < 0 && !strcmp(err.msg, "Failed to run: fail: x") && err.code == CP_ERR_FAILED,
	   "lab_scriptlet_run: -1, Incus's text in err");
	ok(log != NULL && !none, "lab_scriptlet_run: the log returned, the sections left alone");
}

/**
 * main() - run the tests
 *
 * Return: TAP exit status
 */
int main(void)
{
	incus_run_init();
	test_compile_options();
	test_instance_object();
	test_builtins();
	test_log();
	test_qmp_builtins();
	test_run_wrapper();
	return done_testing();
}

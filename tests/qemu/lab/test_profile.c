/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The emulator applies a profile's raw.qemu.conf and raw.qemu.scriptlet as
 * Incus does, on real QEMU:
 * - raw.qemu.conf deletes a section (the virtio tablet) and adds two (a
 *   null chardev, a secret object), in the written qemu.conf and in QEMU;
 * - the scriptlet's "config" stage adds a section (and a command-line
 *   object) that QEMU then has; "early" and "post-start" ask query-status,
 *   "pre-start" runs run_qmp(qom-list) and log_info's what it saw of the
 *   instance Incus renders (volatile hwaddr and tap, the NIC's and the root
 *   disk's keys); those commands are in the QMP trace, on Incus's
 *   connection, at their stage's place in the start sequence, with Incus's
 *   ids;
 * - a scriptlet that fail()s at config, pre-start or post-start fails the
 *   start with Incus's exact message, and QEMU is not started, killed, or
 *   stopped with quit, respectively.
 *
 *   test-lab-profile --qemu 7.2|10.0
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "coldplug/json.h"
#include "incus.h"
#include "proc.h"
#include "run.h"
#include "tap.h"
#include "util.h"

static const char raw_qemu_conf[] = "[device \"qemu_tablet\"]\n"
				    "\n"
				    "[chardev \"cp-conf-null\"]\n"
				    "backend = \"null\"\n"
				    "[object \"cp-conf-secret\"]\n"
				    "qom-type = secret\n"
				    "data = \"from raw.qemu.conf\"\n";

/* The scriptlet; FAIL_AT is replaced by the stage to fail at, or "". */
static const char scriptlet_fmt[] =
	"FAIL_AT = \"%s\"\n"
	"\n"
	"def qemu_hook(instance, stage):\n"
	"    if stage == FAIL_AT:\n"
	"        fail(\"coldplug: refused at \" + stage)\n"
	"    if stage == \"config\":\n"
	"        conf = get_qemu_conf()\n"
	"        conf.append({\"name\": 'object \"cp-scriptlet-config\"', \"comment\": \"scriptlet\",\n"
	"                     \"entries\": {\"qom-type\": \"secret\", \"data\": instance.name}})\n"
	"        set_qemu_conf(conf)\n"
	"        set_qemu_cmdline(get_qemu_cmdline() + [\"-object\", \"secret,id=cp-cmdline,data=x\"])\n"
	"        log_info(\"config: \", len(conf), \" sections\")\n"
	"    elif stage == \"early\" or stage == \"post-start\":\n"
	"        log_info(stage, \": \", run_command(\"query-status\")[\"status\"])\n"
	"    elif stage == \"pre-start\":\n"
	"        r = run_qmp({\"execute\": \"qom-list\", \"arguments\": {\"path\": \"/objects\"}})\n"
	"        names = sorted([o[\"name\"] for o in r[\"return\"] if o[\"name\"].startswith(\"cp-\")])\n"
	"        cfg = instance.expanded_config\n"
	"        nic = instance.expanded_devices[\"eth0\"]\n"
	"        root = instance.expanded_devices[\"root\"]\n"
	"        log_info(\"pre-start: objects \", \",\".join(names))\n"
	"        log_info(\"pre-start: \", instance.name, \"/\", instance.project, \" \", instance.status,\n"
	"                 \" eth0 \", nic[\"type\"], \"/\", nic[\"nictype\"], \"/\", nic[\"parent\"],\n"
	"                 \" mac \", cfg[\"volatile.eth0.hwaddr\"], \" tap \", cfg[\"volatile.eth0.host_name\"],\n"
	"                 \" root \", root[\"path\"], \" \", root[\"pool\"])\n";

/**
 * new_vm() - 2 vCPUs, a root disk and a bridged NIC, with the profile
 * @qemu:	QEMU version
 * @fail_at:	stage the scriptlet fails at, or ""
 * @err:	filled on failure
 *
 * Return: new emulator (not started), or NULL
 */
static struct lab_incus *new_vm(const char *qemu, const char *fail_at, struct cp_error *err)
{
	char script[sizeof(scriptlet_fmt) + 32];
	struct lab_incus_opts o;
	struct lab_incus *vm;

	lab_fmt(script, sizeof(script), scriptlet_fmt, fail_at);
	lab_incus_opts_init(&o);
	o.qemu = qemu;
	o.vcpus = 2;
	o.max_vcpus = 2;
	o.no_vhost = true;
	o.project = "lab";
	o.raw_qemu_conf = raw_qemu_conf;
	o.scriptlet = script;
	vm = lab_incus_new(&o, err);
	if (!vm || lab_incus_add_nic(vm, &(struct lab_nic_spec){ .name = "eth0" }, err) < 0 ||
	    lab_incus_add_disk(
		    vm, &(struct lab_disk_spec){ .name = "root", .root = true, .size = 16 << 20 },
		    err) < 0) {
		lab_incus_free(vm);
		return NULL;
	}
	return vm;
}

/**
 * qmp_names() - the "name"s a command returns, comma-joined
 * @vm:		running emulator
 * @cmd:	"qom-list" or "query-chardev"
 * @path:	qom-list's path, or NULL
 * @key:	member holding the name ("name", "label")
 * @out:	buffer
 * @size:	its size
 *
 * Return: @out ("" on error)
 */
static const char *qmp_names(struct lab_incus *vm, const char *cmd, const char *path,
			     const char *key, char *out, size_t size)
{
	struct cp_error err = { 0 };
	cp_json *a = path ? cp_json_new_object() : NULL;
	cleanup_json cp_json *list = NULL;
	size_t i, off = 0;

	if (a)
		cp_json_set_str(a, "path", path);
	list = lab_incus_call(vm, cmd, a, NULL, 0, &err);
	out[0] = '\0';
	for (i = 0; list && i < cp_json_len(list) && off < size; i++)
		off += (size_t)snprintf(out + off, size - off, ",%s",
					cp_json_get_str(cp_json_at(list, i), key));
	if (off < size)
		snprintf(out + off, size - off, ",");
	return out;
}

/**
 * check_conf() - the written qemu.conf and what QEMU made of it
 * @vm:		started emulator
 * @label:	for messages
 */
static void check_conf(struct lab_incus *vm, const char *label)
{
	cleanup_free char *conf = lab_read_file(lab_incus_conf_path(vm), 1 << 20, NULL);
	const char *c = conf ? conf : "";
	const char *null = strstr(c, "[chardev \"cp-conf-null\"]\nbackend = \"null\"\n\n");
	const char *secret = strstr(c,
				    "[object \"cp-conf-secret\"]\ndata = \"from raw.qemu.conf\"\n"
				    "qom-type = \"secret\"\n\n");
	static const char last[] = "# scriptlet\n[object \"cp-scriptlet-config\"]\ndata = "
				   "\"cplab\"\nqom-type = \"secret\"\n\n";
	const char *added = strstr(c, last);
	char names[4096];

	ok(!strstr(c, "qemu_tablet"), "%s: raw.qemu.conf deleted [device \"qemu_tablet\"]", label);
	ok(null && secret && null < secret && strstr(c, "[device \"vmgenid0\"]") < null,
	   "%s: raw.qemu.conf added its two sections at the end, in its order", label);
	ok(added && secret < added && strlen(added) == strlen(last),
	   "%s: the config stage's section comes last, with its comment", label);
	like(qmp_names(vm, "qom-list", "/machine/peripheral", "name", names, sizeof(names)),
	     ",qemu_keyboard,", "%s: QEMU has the keyboard", label);
	ok(!strstr(names, ",qemu_tablet,"), "%s: QEMU has no tablet", label);
	like(qmp_names(vm, "query-chardev", NULL, "label", names, sizeof(names)), ",cp-conf-null,",
	     "%s: QEMU has raw.qemu.conf's chardev", label);
	qmp_names(vm, "qom-list", "/objects", "name", names, sizeof(names));
	ok(strstr(names, ",cp-conf-secret,") && strstr(names, ",cp-scriptlet-config,") &&
		   strstr(names, ",cp-cmdline,"),
	   "%s: QEMU has the objects of raw.qemu.conf, the config stage and its command line (%s)",
	   label, names);
}

/**
 * find_sent() - the first command @cmd sent at or after record @from
 * @vm:		emulator
 * @cmd:	command
 * @from:	first record to look at
 *
 * Return: its record index, or (size_t)-1
 */
static size_t find_sent(const struct lab_incus *vm, const char *cmd, size_t from)
{
	size_t i;

	for (i = from; i < lab_incus_trace_len(vm); i++) {
		const struct lab_qmp_record *r = lab_incus_trace_at(vm, i);

		if (r->sent && cp_streq(cp_json_get_str(r->msg, "execute"), cmd))
			return i;
	}
	return (size_t)-1;
}

/**
 * last_sent() - the last command @cmd sent before record @before
 * @vm:		emulator
 * @cmd:	command
 * @before:	bound
 *
 * Return: its record index, or (size_t)-1
 */
static size_t last_sent(const struct lab_incus *vm, const char *cmd, size_t before)
{
	size_t i, found = (size_t)-1;

	for (i = 0; i < before && i < lab_incus_trace_len(vm); i++) {
		const struct lab_qmp_record *r = lab_incus_trace_at(vm, i);

		if (r->sent && cp_streq(cp_json_get_str(r->msg, "execute"), cmd))
			found = i;
	}
	return found;
}

/**
 * check_trace() - the scriptlet's commands, where Incus sends them
 * @vm:		started emulator
 * @label:	for messages
 */
static void check_trace(const struct lab_incus *vm, const char *label)
{
	const size_t none = (size_t)-1;
	size_t early = find_sent(vm, "query-status", 0);
	size_t cpus = find_sent(vm, "query-hotpluggable-cpus", 0);
	size_t qom = find_sent(vm, "qom-list", 0);
	size_t last_hook = last_sent(vm, "device_add", qom);
	size_t reset = find_sent(vm, "system_reset", 0), cont = find_sent(vm, "cont", 0);
	size_t post = cont == none ? none : find_sent(vm, "query-status", cont);
	const struct lab_qmp_record *r = qom == none ? NULL : lab_incus_trace_at(vm, qom);
	const struct lab_qmp_record *reply = qom == none ? NULL : lab_incus_trace_at(vm, qom + 1);
	int64_t id = 0, rid = -1;

	ok(early != none && cpus != none && early < cpus &&
		   cp_json_get_int(lab_incus_trace_at(vm, early)->msg, "id", &id) && id == 3,
	   "%s: early: query-status after the handshake and ringbuf-read (id 3), before the "
	   "CPU hotplug",
	   label);
	ok(qom != none && last_hook != none && reset != none && last_hook < qom && qom < reset,
	   "%s: pre-start: run_qmp's qom-list after the device hooks, before system_reset", label);
	ok(r && cp_streq(cp_json_get_str(cp_json_get(r->msg, "arguments"), "path"), "/objects") &&
		   cp_json_get_int(r->msg, "id", &id) && reply && !reply->sent &&
		   cp_json_get(reply->msg, "return") && cp_json_get_int(reply->msg, "id", &rid) &&
		   rid == id,
	   "%s: its arguments, its id and QEMU's reply are in the trace", label);
	ok(post != none, "%s: post-start: query-status after cont", label);
}

/**
 * check_log() - what the scriptlet logged, and the instance it saw
 * @vm:		started emulator
 * @label:	for messages
 */
static void check_log(struct lab_incus *vm, const char *label)
{
	const char *log = lab_incus_scriptlet_log(vm);
	char want[512];

	like(log, "msg=\"QEMU scriptlet (config): config: ", "%s: config logged", label);
	like(log, "level=info msg=\"QEMU scriptlet (early): early: prelaunch\"",
	     "%s: early ran on the paused VM", label);
	like(log,
	     "msg=\"QEMU scriptlet (pre-start): pre-start: objects "
	     "cp-cmdline,cp-conf-secret,cp-scriptlet-config\"",
	     "%s: pre-start's log_info", label);
	lab_fmt(want, sizeof(want),
		"pre-start: cplab/lab Stopped eth0 nic/bridged/br0 mac %s tap %s root / default",
		lab_incus_nic_mac(vm, "eth0"), lab_incus_nic_tap(vm, "eth0"));
	like(log, want, "%s: the instance as Incus renders it", label);
	like(log, "msg=\"QEMU scriptlet (post-start): post-start: running\"",
	     "%s: post-start ran on the running VM", label);
	like(log, "QUERY: {\"arguments\":{\"path\":\"/objects\"},\"execute\":\"qom-list\"}",
	     "%s: the scriptlet's log has its QMP", label);
}

/**
 * check_instance() - lab_incus_instance() has Incus's fields
 * @vm:		emulator
 * @label:	for messages
 */
static void check_instance(const struct lab_incus *vm, const char *label)
{
	cleanup_json cp_json *inst = lab_incus_instance(vm);
	const cp_json *cfg = cp_json_get(inst, "config");
	const cp_json *exp = cp_json_get(inst, "expanded_config");
	const cp_json *profiles = cp_json_get(inst, "profiles");
	int64_t code = 0;

	ok(cp_streq(cp_json_get_str(inst, "type"), "virtual-machine") &&
		   cp_streq(cp_json_get_str(inst, "project"), "lab") &&
		   cp_json_get_int(inst, "status_code", &code) && code == 102 &&
		   cp_json_len(profiles) == 2,
	   "%s: instance: type, project, status code, profiles", label);
	ok(!cp_json_get(cfg, "raw.qemu.conf") &&
		   cp_streq(cp_json_get_str(exp, "raw.qemu.conf"), raw_qemu_conf) &&
		   cp_json_get_str(exp, "raw.qemu.scriptlet") &&
		   cp_streq(cp_json_get_str(cfg, "volatile.eth0.hwaddr"),
			    lab_incus_nic_mac(vm, "eth0")),
	   "%s: instance: the profile's keys in expanded_config only; volatile keys in both",
	   label);
}

/**
 * run_ok() - the VM starts with the profile; check it all
 * @qemu:	QEMU version
 */
static void run_ok(const char *qemu)
{
	struct cp_error err = { 0 };
	struct lab_incus *vm = new_vm(qemu, "", &err);
	char label[32];
	int rc;

	lab_fmt(label, sizeof(label), "QEMU %s", qemu);
	rc = vm ? lab_incus_start(vm, &err) : -1;
	if (!ok(rc == 0, "%s: the VM starts with raw.qemu.conf and the scriptlet", label)) {
		diag("%s", err.msg);
		if (vm)
			diag("scriptlet log:\n%s", lab_incus_scriptlet_log(vm));
		lab_incus_free(vm);
		return;
	}
	diag("%s: QEMU %s, trace %s", label, lab_incus_qemu_version(vm), lab_incus_trace_path(vm));
	check_conf(vm, label);
	check_trace(vm, label);
	check_log(vm, label);
	check_instance(vm, label);
	rc = lab_incus_quit(vm, 10000, &err);
	ok(rc == 0, "%s: quit", label);
	lab_incus_free(vm);
}

/**
 * run_failing() - a scriptlet that fail()s at @stage
 * @qemu:	QEMU version
 * @stage:	"config", "pre-start" or "post-start"
 */
static void run_failing(const char *qemu, const char *stage)
{
	struct cp_error err = { 0 };
	struct lab_incus *vm = new_vm(qemu, stage, &err);
	char label[64], want[160];
	pid_t pid;
	int rc;

	lab_fmt(label, sizeof(label), "QEMU %s, fail() at %s", qemu, stage);
	lab_fmt(want, sizeof(want),
		"Failed running QEMU scriptlet at %s stage: Failed to run: fail: coldplug: "
		"refused at %s",
		stage, stage);
	rc = vm ? lab_incus_start(vm, &err) : 0;
	ok(vm && rc < 0, "%s: the start fails", label);
	is_str(err.msg, want, "%s: with Incus's message", label);
	pid = vm ? lab_incus_pid(vm) : 0;
	if (!strcmp(stage, "config")) {
		ok(vm && pid <= 0 && lab_incus_trace_len(vm) == 0, "%s: QEMU was never started",
		   label);
	} else {
		ok(vm && pid > 0 && !lab_incus_running(vm) && kill(pid, 0) < 0 && errno == ESRCH,
		   "%s: QEMU (pid %d) is gone", label, (int)pid);
	}
	if (!strcmp(stage, "pre-start"))
		ok(vm && find_sent(vm, "system_reset", 0) == (size_t)-1 &&
			   find_sent(vm, "quit", 0) == (size_t)-1,
		   "%s: killed before system_reset, without quit (Incus's reverter)", label);
	if (!strcmp(stage, "post-start"))
		ok(vm && find_sent(vm, "cont", 0) != (size_t)-1 &&
			   find_sent(vm, "quit", find_sent(vm, "cont", 0)) != (size_t)-1,
		   "%s: stopped with quit after cont (Incus's Stop())", label);
	lab_incus_free(vm);
}

int main(int argc, char **argv)
{
	const char *qemu = argc > 2 && !strcmp(argv[1], "--qemu") ? argv[2] : "7.2";
	cleanup_free char *path = lab_qemu_path(qemu);
	const char *runner = getenv("COLDPLUG_SCRIPTLET_RUNNER");

	if (!path)
		bail_out("QEMU %s is not configured: run tests/qemu/prepare.sh BUILD_DIR", qemu);
	if (runner && access(runner, X_OK) < 0)
		bail_out("%s is not built: needs golang-go and golang-starlark-dev "
			 "(scripts/deps.sh check)",
			 runner);
	run_ok(qemu);
	run_failing(qemu, "config");
	run_failing(qemu, "pre-start");
	run_failing(qemu, "post-start");
	return done_testing();
}

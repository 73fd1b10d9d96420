/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The emulator's QMP traffic is Incus's (issue 3, "Done when"): a VM with a
 * default root disk, a virtio-blk disk, an ISO and a bridged NIC, started as
 * Incus <= 7.2 and as Incus >= 7.3, sends exactly the commands of
 * tests/data/incus-start-<release>.jsonl (from incus-qmp.md): same execute,
 * same arguments, descriptors where Incus attaches them, ids increasing.
 * QEMU accepts all of it, and the data behind the >= 7.3 qcow2 wrapper is
 * the raw volume's. Then Incus's runtime operations that need no guest:
 * block_resize, set_link, the ISO's hot-unplug.
 *
 *   test-lab-transcript --qemu 7.2|10.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coldplug/cleanup.h"
#include "coldplug/json.h"
#include "coldplug/qmp.h"
#include "incus.h"
#include "proc.h"
#include "run.h"
#include "tap.h"
#include "util.h"

#ifndef COLDPLUG_TEST_DATA
#define COLDPLUG_TEST_DATA "tests/data"
#endif

/**
 * pre_start_hook() - the pre-start callback: coldplug's second monitor
 * @vm:		emulator (paused, devices hot-plugged)
 * @arg:	set to true when the checks passed
 * @err:	filled on failure
 *
 * Connects to the second monitor (Incus keeps its own connection) and sees
 * the VM still in prelaunch, with Incus's NIC and disks present.
 *
 * Return: 0, or -1
 */
static int pre_start_hook(struct lab_incus *vm, void *arg, struct cp_error *err)
{
	struct qmp_client *c = qmp_client_connect(lab_incus_coldplug_qmp(vm), 5000, NULL, err);
	cleanup_json cp_json *st = c ? qmp_client_call(c, "query-status", NULL, err) : NULL;
	cleanup_json cp_json *list = NULL;
	cp_json *a = cp_json_new_object();
	size_t i, found = 0;

	cp_json_set_str(a, "path", "/machine/peripheral");
	list = st ? qmp_client_call(c, "qom-list", a, err) : (cp_json_unref(a), NULL);
	for (i = 0; list && i < cp_json_len(list); i++) {
		const char *name = cp_json_get_str(cp_json_at(list, i), "name");

		found += cp_streq(name, "dev-incus_eth0") || cp_streq(name, "dev-incus_root") ||
			 cp_streq(name, "dev-incus_data") || cp_streq(name, "dev-incus_iso");
	}
	*(bool *)arg = st && cp_streq(cp_json_get_str(st, "status"), "prelaunch") && found == 4;
	qmp_client_free(c);
	return list ? 0 : -1;
}

/**
 * new_vm() - the transcripts' VM, not started
 * @qemu:	QEMU version
 * @release:	Incus release
 * @err:	filled on failure
 *
 * Return: new emulator, or NULL
 */
static struct lab_incus *new_vm(const char *qemu, enum lab_incus_release release, bool *hook_ok,
				struct cp_error *err)
{
	struct lab_incus_opts o;
	struct lab_incus *vm;

	lab_incus_opts_init(&o);
	o.qemu = qemu;
	o.release = release;
	o.vcpus = 2;
	o.max_vcpus = 2;
	o.no_vhost = true;
	o.pre_start = pre_start_hook;
	o.pre_start_arg = hook_ok;
	/* Runs in the VM's network namespace (br0 is there), with the second monitor. */
	o.pre_start_cmd = "test -S \"$COLDPLUG_LAB_QMP\" && test -n \"$COLDPLUG_LAB_QEMU_PID\" && "
			  "ip link show br0 >/dev/null";
	vm = lab_incus_new(&o, err);
	if (!vm ||
	    lab_incus_add_nic(
		    vm, &(struct lab_nic_spec){ .name = "eth0", .hwaddr = "10:66:6a:ab:cd:ef" },
		    err) < 0 ||
	    lab_incus_add_disk(
		    vm, &(struct lab_disk_spec){ .name = "root", .root = true, .size = 16 << 20 },
		    err) < 0 ||
	    lab_incus_add_disk(vm,
			       &(struct lab_disk_spec){ .name = "data",
							.bus = LAB_DISK_VIRTIO_BLK,
							.size = 8 << 20 },
			       err) < 0 ||
	    lab_incus_add_disk(
		    vm, &(struct lab_disk_spec){ .name = "iso", .cdrom = true, .size = 2 << 20 },
		    err) < 0) {
		lab_incus_free(vm);
		return NULL;
	}
	return vm;
}

/**
 * load_expected() - the expected commands, one JSON object per line
 * @path:	file ('#' lines are comments)
 * @out:	filled with new references
 * @max:	capacity
 *
 * Return: count, or -1
 */
static int load_expected(const char *path, cp_json **out, size_t max)
{
	struct cp_error err = { 0 };
	cleanup_free char *text = lab_read_file(path, 1 << 20, &err);
	char *line, *save = NULL;
	size_t n = 0;

	if (!text)
		return diag("%s", err.msg), -1;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#' || !line[0])
			continue;
		if (n == max || !(out[n] = cp_json_parse(line, strlen(line), &err)))
			return diag("%s: %s", path, err.msg), -1;
		n++;
	}
	return (int)n;
}

/**
 * as_expected() - a recorded command in the expected files' form
 * @r:	record
 *
 * Return: new object {"execute", ["arguments"], ["fds"]}
 */
static cp_json *as_expected(const struct lab_qmp_record *r)
{
	cp_json *o = cp_json_new_object(), *args = cp_json_get(r->msg, "arguments");

	cp_json_set_str(o, "execute", cp_json_get_str(r->msg, "execute"));
	if (args)
		cp_json_set(o, "arguments", cp_json_ref(args));
	if (r->nfds)
		cp_json_set_int(o, "fds", r->nfds);
	return o;
}

/**
 * check_transcript() - compare the start sequence with the expected file
 * @vm:		started emulator
 * @file:	expected file
 * @label:	for messages
 */
static void check_transcript(const struct lab_incus *vm, const char *file, const char *label)
{
	cp_json *want[64];
	int nwant = load_expected(file, want, 64), i = 0;
	int64_t last_id = 0, id;
	bool ids_ok = true, same = nwant > 0;
	size_t k;

	for (k = 0; k < lab_incus_trace_len(vm) && nwant > 0; k++) {
		const struct lab_qmp_record *r = lab_incus_trace_at(vm, k);
		cleanup_json cp_json *got = NULL;
		cleanup_free char *gs = NULL, *ws = NULL;

		if (!r->sent || cp_streq(cp_json_get_str(r->msg, "execute"), "ringbuf-read"))
			continue;
		if (!cp_json_get_int(r->msg, "id", &id) || id <= last_id)
			ids_ok = false;
		last_id = id;
		if (cp_streq(cp_json_get_str(r->msg, "execute"), "query-cpus-fast"))
			is_int(id, 5, "%s: query-cpus-fast has id 5, as in incus-qmp.md §3", label);
		if (i >= nwant)
			break;
		got = as_expected(r);
		if (same && !cp_json_equal(got, want[i])) {
			gs = cp_json_dump(got, 0);
			ws = cp_json_dump(want[i], 0);
			diag("%s: command %d differs\n#   sent:     %s\n#   expected: %s", label,
			     i + 1, gs, ws);
			same = false;
		}
		i++;
	}
	ok(same && i == nwant, "%s: the %d commands match %s", label, i, file);
	ok(ids_ok, "%s: ids strictly increase", label);
	for (i = 0; i < nwant; i++)
		cp_json_unref(want[i]);
}

/**
 * check_replies() - QEMU accepted every command of the start
 * @vm:		started emulator
 * @label:	for messages
 */
static void check_replies(const struct lab_incus *vm, const char *label)
{
	size_t k, errors = 0;

	for (k = 0; k < lab_incus_trace_len(vm); k++) {
		const struct lab_qmp_record *r = lab_incus_trace_at(vm, k);
		cleanup_free char *text = NULL;

		if (r->sent || !cp_json_get(r->msg, "error"))
			continue;
		text = cp_json_dump(r->msg, 0);
		diag("%s: %s", label, text);
		errors++;
	}
	ok(errors == 0, "%s: QEMU answered every command without error", label);
}

/**
 * check_root_data() - the root node reads the raw volume's bytes
 * @vm:		started emulator
 * @label:	for messages
 *
 * HMP qemu-io on the root frontend (it prints to QEMU's stdout, the log):
 * the first record of the image is the disk pattern, seed 1 ("CP seed=1
 * off=0000..."), also through the >= 7.3 qcow2 wrapper and its data-file.
 */
static void check_root_data(struct lab_incus *vm, const char *label)
{
	struct cp_error err = { 0 };
	cp_json *a = cp_json_new_object();
	cleanup_json cp_json *ret = NULL;
	cleanup_free char *log = NULL;

	cp_json_set_str(a, "command-line", "qemu-io -d dev-incus_root \"read -v 0 32\"");
	ret = lab_incus_call(vm, "human-monitor-command", a, NULL, 0, &err);
	log = lab_read_file(lab_incus_qemu_log(vm), 1 << 20, &err);
	like(ret && log ? log : err.msg, "CP.seed.1.off.00",
	     "%s: the root node reads the image's data (qemu-io)", label);
}

/**
 * check_ops() - Incus's runtime operations that need no guest
 * @vm:		started emulator
 * @label:	for messages
 */
static void check_ops(struct lab_incus *vm, const char *label)
{
	struct cp_error err = { 0 };
	unsigned retries = 0;
	int rc;

	rc = lab_incus_block_resize(vm, "data", 12 << 20, &err);
	ok(rc == 0, "%s: block_resize data%s%s", label, rc ? ": " : "", rc ? err.msg : "");
	rc = lab_incus_nic_set_link(vm, "eth0", false, &err);
	if (rc == 0)
		rc = lab_incus_nic_set_link(vm, "eth0", true, &err);
	ok(rc == 0, "%s: set_link eth0 down and up%s%s", label, rc ? ": " : "", rc ? err.msg : "");
	rc = lab_incus_disk_detach(vm, "iso", 5, &retries, &err);
	ok(rc == 0, "%s: the ISO's hot-unplug completes%s%s", label, rc ? ": " : "",
	   rc ? err.msg : "");
	diag("%s: blockdev-del of incus_iso was retried %u times (\"is in use\")", label, retries);
	rc = lab_incus_quit(vm, 10000, &err);
	ok(rc == 0, "%s: quit: QEMU exits%s%s", label, rc ? ": " : "", rc ? err.msg : "");
}

/**
 * run_release() - one VM as one Incus release
 * @qemu:	QEMU version
 * @release:	Incus release
 */
static void run_release(const char *qemu, enum lab_incus_release release)
{
	const char *rel = release == LAB_INCUS_7_3 ? "7.3" : "7.2";
	struct cp_error err = { 0 };
	bool hook_ok = false;
	struct lab_incus *vm = new_vm(qemu, release, &hook_ok, &err);
	char label[64], file[512];

	lab_fmt(label, sizeof(label), "QEMU %s, Incus %s", qemu, rel);
	lab_fmt(file, sizeof(file), "%s/incus-start-%s.jsonl", COLDPLUG_TEST_DATA, rel);
	if (!ok(vm && lab_incus_start(vm, &err) == 0, "%s: the VM starts", label)) {
		diag("%s", err.msg);
		lab_incus_free(vm);
		return;
	}
	diag("%s: QEMU %s, QMP trace in %s", label, lab_incus_qemu_version(vm),
	     lab_incus_trace_path(vm));
	ok(hook_ok, "%s: at pre-start, the second monitor sees the paused VM with Incus's devices",
	   label);
	check_transcript(vm, file, label);
	check_replies(vm, label);
	check_root_data(vm, label);
	check_ops(vm, label);
	lab_incus_free(vm);
}

int main(int argc, char **argv)
{
	const char *qemu = argc > 2 && !strcmp(argv[1], "--qemu") ? argv[2] : "7.2";
	cleanup_free char *path = lab_qemu_path(qemu);

	if (!path)
		bail_out("QEMU %s is not configured: run tests/qemu/prepare.sh BUILD_DIR", qemu);
	run_release(qemu, LAB_INCUS_7_2);
	run_release(qemu, LAB_INCUS_7_3);
	return done_testing();
}

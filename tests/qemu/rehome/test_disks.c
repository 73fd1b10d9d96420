/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Re-homing Incus's disks on real QEMU (issue 4), as a user runs it:
 * `coldplug qemu-conf` sections loaded after Incus's qemu.conf, and
 * `coldplug rehome --qmp SOCKET --json` run while the VM is paused with
 * every disk hot-plugged (the emulator's pre-start stage).
 *
 *   test-rehome-disks --qemu 7.2|10.0 [--incus 7.2|7.3]
 *
 * 1. Every Incus disk variant in one VM: the root (scsi-hd; under Incus 7.3
 *    a qcow2-wrapped node), virtio-blk, NVMe, usb-bot, and an ISO. The
 *    guest sees each on its coldplug slot (pcie.0 slot 0x10 + N, the ISO on
 *    a USB CD drive coldplug-cd0 on Incus's xHCI), with the image's exact
 *    size and md5, and nothing else behind Incus's root ports, SCSI bus or
 *    USB. The emulator answers every DEVICE_TRAY_MOVED with an eject, as
 *    Incus 6.0.4 does; no tray event and no eject may happen. Then what the
 *    guest writes lands in Incus's image files, and Incus's block_resize
 *    reaches the guest.
 * 2. Refusals change nothing: too few disk slots, and a read-only disk,
 *    each exit 3 with a message that says the fix, and `coldplug inventory
 *    --json` is byte-identical before and after.
 * 3. QEMU killed in the middle of apply (right after coldplug's first
 *    device_del): coldplug exits within 2 s with an error naming the lost
 *    connection.
 */
#include <signal.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "coldplug/json.h"
#include "coldplug/qconf.h"
#include "digest.h"
#include "guest.h"
#include "incus.h"
#include "proc.h"
#include "run.h"
#include "tap.h"
#include "util.h"

#ifndef COLDPLUG_BINARY /* meson passes the built program's path */
#define COLDPLUG_BINARY "build/src/coldplug"
#endif

#define REPORT_TIMEOUT_MS 90000
#define RUN_TIMEOUT_MS	  60000
#define MIB		  ((uint64_t)1 << 20)

/**
 * struct disk_case - one Incus disk and the coldplug slot it must reach
 * @spec:	the disk
 * @slot:	"coldplug-diskN" (the guest sees it as the serial), or
 *		"coldplug-cd0" (the USB CD drive)
 * @path:	a piece of the guest's sysfs path of that slot
 */
struct disk_case {
	struct lab_disk_spec spec;
	const char *slot;
	const char *path;
};

/* Slot order: boot order (root first), then device name. */
static const struct disk_case disks[] = {
	{ { .name = "root", .root = true, .size = 64 * MIB }, "coldplug-disk0", "0000:00:10.0/" },
	{ { .name = "data", .bus = LAB_DISK_VIRTIO_BLK, .size = 32 * MIB },
	  "coldplug-disk1",
	  "0000:00:11.0/" },
	{ { .name = "fast", .bus = LAB_DISK_NVME, .size = 16 * MIB },
	  "coldplug-disk2",
	  "0000:00:12.0/" },
	{ { .name = "iso", .cdrom = true, .size = 4 * MIB }, "coldplug-cd0", "/usb" },
	{ { .name = "stick", .bus = LAB_DISK_USB, .size = 8 * MIB },
	  "coldplug-disk3",
	  "0000:00:13.0/" },
};

static const char *qemu = "7.2";
static enum lab_incus_release release = LAB_INCUS_7_2;

/**
 * write_conf() - `coldplug qemu-conf` (the library's output) into @dir
 * @dir:	directory
 * @slots:	disk slots
 * @path:	set to the file
 * @size:	its size
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int write_conf(const char *dir, unsigned slots, char *path, size_t size,
		      struct cp_error *err)
{
	struct qconf_opts o;
	cleanup_free char *text = NULL;

	qconf_opts_init(&o);
	o.disk_slots = slots;
	text = qconf_generate(&o, QCONF_READCONFIG, err);
	lab_fmt(path, size, "%s/coldplug-%u.conf", dir, slots);
	return text ? lab_write_file(path, text, err) : -1;
}

/**
 * new_vm() - an Incus VM with coldplug's slots and the given disks
 * @slots:	disk slots
 * @d:		disks
 * @n:		their count
 * @guest:	boot the test guest
 * @pre_start:	pre-start command, or NULL
 * @conf_dir:	where to write the coldplug conf (lives as long as the VM)
 * @err:	filled on failure
 *
 * Return: new emulator (not started), or NULL
 */
static struct lab_incus *new_vm(unsigned slots, const struct disk_case *d, size_t n, bool guest,
				const char *pre_start, const char *conf_dir, struct cp_error *err)
{
	static char conf[4][512];
	static unsigned next;
	struct lab_incus_opts o;
	struct lab_incus *vm;
	char *path = conf[next++ % 4];
	size_t i;

	if (write_conf(conf_dir, slots, path, sizeof(conf[0]), err) < 0)
		return NULL;
	lab_incus_opts_init(&o);
	o.qemu = qemu;
	o.release = release;
	o.vcpus = 2;
	o.boot_guest = guest;
	o.extra_conf[0] = path;
	o.pre_start_cmd = pre_start;
	vm = lab_incus_new(&o, err);
	for (i = 0; vm && i < n; i++)
		if (lab_incus_add_disk(vm, &d[i].spec, err) < 0) {
			lab_incus_free(vm);
			vm = NULL;
		}
	return vm;
}

/**
 * coldplug() - run the coldplug program against @vm's second monitor
 * @vm:		paused VM
 * @args:	arguments after "--qmp SOCKET", NULL-terminated (at most 8)
 * @out:	set to its stdout (caller frees)
 * @errout:	set to its stderr (caller frees)
 *
 * Return: its exit status, or -1
 */
static int coldplug(struct lab_incus *vm, const char *const *args, char **out, char **errout)
{
	const char *argv[16] = { COLDPLUG_BINARY };
	char cmd[4096], outp[512], errp[512];
	struct lab_run_opts ro = { .timeout_ms = RUN_TIMEOUT_MS };
	const char *sh[] = { lab_tool("sh"), "-c", cmd, NULL };
	struct cp_error err = { 0 };
	size_t i, n = 1, off;
	int rc;

	argv[n++] = args[0];
	argv[n++] = "--qmp";
	argv[n++] = lab_incus_coldplug_qmp(vm);
	for (i = 1; args[i] && n < 14; i++)
		argv[n++] = args[i];
	lab_fmt(outp, sizeof(outp), "%s/coldplug.out", lab_incus_dir(vm));
	lab_fmt(errp, sizeof(errp), "%s/coldplug.err", lab_incus_dir(vm));
	off = (size_t)snprintf(cmd, sizeof(cmd), "exec");
	for (i = 0; i < n && off < sizeof(cmd); i++)
		off += (size_t)snprintf(cmd + off, sizeof(cmd) - off, " '%s'", argv[i]);
	snprintf(cmd + off, sizeof(cmd) - off, " >'%s' 2>'%s'", outp, errp);
	rc = lab_run(sh, &ro, NULL, &err);
	if (rc < 0)
		diag("coldplug %s: %s", args[0], err.msg);
	*out = lab_read_file(outp, 1 << 20, &err);
	*errout = lab_read_file(errp, 1 << 20, &err);
	if (!*out)
		*out = strdup("");
	if (!*errout)
		*errout = strdup("");
	return rc;
}

/**
 * find_blk() - the report's blk record with @key = @value, NVMe path
 * devices (nvme0c0n1) skipped
 * @rep:	report
 * @key:	key
 * @value:	value
 *
 * Return: the record, or NULL
 */
static const struct lab_guest_record *find_blk(const struct lab_guest_report *rep, const char *key,
					       const char *value)
{
	size_t i;

	for (i = 0; i < lab_report_count(rep, "blk"); i++) {
		const struct lab_guest_record *b = lab_report_at(rep, "blk", i);
		const char *name = lab_record_get(b, "name");

		if (cp_str_has_prefix(name, "nvme") && strchr(name + 4, 'c'))
			continue;
		if (cp_streq(lab_record_get(b, key), value))
			return b;
	}
	return NULL;
}

/**
 * image_md5() - md5 of [@off, @off + @len) of a disk's image on the host
 * @vm:		emulator
 * @disk:	Incus device name
 * @off:	offset
 * @len:	length
 * @out:	hex digest ("" if unreadable)
 */
static void image_md5(const struct lab_incus *vm, const char *disk, uint64_t off, size_t len,
		      char out[40])
{
	struct cp_error err = { 0 };
	cleanup_free char *buf = malloc(len);
	uint8_t dig[LAB_MD5_LEN];
	FILE *f = fopen(lab_incus_disk_image(vm, disk), "rb");

	out[0] = '\0';
	if (f && buf && fseek(f, (long)off, SEEK_SET) == 0 && fread(buf, 1, len, f) == len) {
		lab_md5(buf, len, dig);
		lab_hex(dig, sizeof(dig), out);
	}
	if (f)
		fclose(f);
	(void)err;
}

/**
 * check_report_json() - the rehome --json report: every disk moved, verified
 * @vm:	emulator
 */
static void check_report_json(const struct lab_incus *vm)
{
	struct cp_error err = { 0 };
	char path[512];
	cleanup_free char *text = NULL;
	cleanup_json cp_json *j = NULL;
	const cp_json *devs;
	size_t i, moved = 0;
	int64_t ms = -1;
	bool verified = false;

	lab_fmt(path, sizeof(path), "%s/rehome.json", lab_incus_dir(vm));
	text = lab_read_file(path, 1 << 20, &err);
	j = text ? cp_json_parse(text, strlen(text), &err) : NULL;
	if (!ok(j != NULL, "rehome --json printed a report%s%s", j ? "" : ": ", j ? "" : err.msg))
		return;
	is_str(cp_json_get_str(j, "result"), "ok", "report: result ok");
	ok(cp_json_get_bool(j, "verified", &verified) && verified,
	   "report: verified by a fresh inventory");
	devs = cp_json_get(j, "devices");
	for (i = 0; i < cp_json_len(devs); i++) {
		const cp_json *d = cp_json_at(devs, i);
		size_t k;

		for (k = 0; k < CP_ARRAY_SIZE(disks); k++)
			if (cp_streq(cp_json_get_str(d, "name"), disks[k].spec.name) &&
			    cp_streq(cp_json_get_str(d, "slot"), disks[k].slot) &&
			    cp_streq(cp_json_get_str(d, "status"), "moved"))
				moved++;
	}
	ok(moved == CP_ARRAY_SIZE(disks), "report: %zu of %zu disks moved to their slots", moved,
	   CP_ARRAY_SIZE(disks));
	cp_json_get_int(j, "ms", &ms);
	diag("rehome took %lld ms (QEMU %s)", (long long)ms, cp_json_get_str(j, "qemu"));
}

/**
 * check_disks() - each disk on its slot with its image's size and md5
 * @vm:		emulator
 * @rep:	report
 */
static void check_disks(const struct lab_incus *vm, const struct lab_guest_report *rep)
{
	size_t i, extra = 0;

	for (i = 0; i < CP_ARRAY_SIZE(disks); i++) {
		const struct disk_case *c = &disks[i];
		const struct lab_guest_record *b = c->spec.cdrom ? find_blk(rep, "driver", "sr")
								 : find_blk(rep, "serial", c->slot);
		uint64_t size = lab_incus_disk_size(vm, c->spec.name);
		char md5[40], want[32];

		if (!ok(b != NULL, "%s: the guest sees it on %s", c->spec.name, c->slot))
			continue;
		image_md5(vm, c->spec.name, 0, size < MIB ? size : MIB, md5);
		lab_fmt(want, sizeof(want), "%llu", (unsigned long long)size);
		is_str(lab_record_get(b, "size"), want, "%s: exact size", c->spec.name);
		is_str(lab_record_get(b, "sum"), md5, "%s: md5 of the first MiB is the image's",
		       c->spec.name);
		is_str(lab_record_get(b, "driver"), c->spec.cdrom ? "sr" : "virtio_blk",
		       "%s: guest driver", c->spec.name);
		like(lab_record_get(b, "path"), c->path, "%s: at %s", c->spec.name, c->path);
		is_str(lab_record_get(b, "ro"), c->spec.cdrom ? "1" : "0", "%s: read-only flag",
		       c->spec.name);
	}
	for (i = 0; i < lab_report_count(rep, "blk"); i++) {
		const struct lab_guest_record *b = lab_report_at(rep, "blk", i);
		const char *path = lab_record_get(b, "path");

		if (cp_streq(lab_record_get(b, "driver"), "sr"))
			continue; /* the one CD, checked above on its USB CD drive */
		if (strstr(path, "0000:00:01.") || strstr(path, "/usb") ||
		    !cp_streq(lab_record_get(b, "driver"), "virtio_blk")) {
			diag("left behind: %s %s", lab_record_get(b, "name"), path);
			extra++;
		}
	}
	ok(extra == 0, "no disk left behind Incus's root ports, SCSI bus or USB (%zu)", extra);
	for (i = 0, extra = 0; i < lab_report_count(rep, "blk"); i++)
		extra += cp_streq(lab_record_get(lab_report_at(rep, "blk", i), "driver"), "sr");
	is_int((long long)extra, 1, "exactly one CD-ROM in the guest");
}

/**
 * check_no_tray() - nothing moved a tray, so Incus 6.0.4 ejected nothing
 * @vm:	emulator (every event reaches Incus's monitor too)
 */
static void check_no_tray(const struct lab_incus *vm)
{
	size_t i, tray = 0, eject = 0;

	for (i = 0; i < lab_incus_trace_len(vm); i++) {
		const struct lab_qmp_record *r = lab_incus_trace_at(vm, i);

		tray += !r->sent && cp_streq(cp_json_get_str(r->msg, "event"), "DEVICE_TRAY_MOVED");
		eject += r->sent && cp_streq(cp_json_get_str(r->msg, "execute"), "eject");
	}
	is_int((long long)tray, 0, "no DEVICE_TRAY_MOVED event during the whole start");
	is_int((long long)eject, 0, "so Incus (6.0.4 behaviour) sent no eject");
}

/**
 * check_writes() - what the guest writes is in Incus's image files
 * @vm:		emulator
 * @g:		console
 */
static void check_writes(const struct lab_incus *vm, struct lab_guest *g)
{
	size_t i;

	for (i = 0; i < CP_ARRAY_SIZE(disks); i++) {
		const struct disk_case *c = &disks[i];
		char cmd[128], v[64], md5[40];
		int rc = -1;

		if (c->spec.cdrom)
			continue;
		lab_fmt(cmd, sizeof(cmd), "write %s %zu 1048576 65536", c->slot, 40 + i);
		lab_guest_value(g, cmd, "sum", v, sizeof(v), &rc);
		ok(rc == 0, "%s: the guest writes 64 KiB at 1 MiB through %s", c->spec.name,
		   c->slot);
		image_md5(vm, c->spec.name, MIB, 65536, md5);
		ok(*v && !strcmp(md5, v),
		   "%s: the bytes are in Incus's image on the host (guest %s, host %s)",
		   c->spec.name, v, md5);
	}
}

/**
 * check_resize() - Incus's block_resize reaches the guest on the slot
 * @vm:		emulator
 * @g:		console
 */
static void check_resize(struct lab_incus *vm, struct lab_guest *g)
{
	static const struct {
		const char *disk, *slot;
	} r[] = { { "root", "coldplug-disk0" }, { "data", "coldplug-disk1" } };
	struct cp_error err = { 0 };
	size_t i;

	for (i = 0; i < CP_ARRAY_SIZE(r); i++) {
		uint64_t size = lab_incus_disk_size(vm, r[i].disk) + 16 * MIB;
		char cmd[64], v[64], want[32];
		int rc = lab_incus_block_resize(vm, r[i].disk, size, &err);

		ok(rc == 0, "Incus resizes %s to %llu MiB%s%s", r[i].disk,
		   (unsigned long long)(size >> 20), rc ? ": " : "", rc ? err.msg : "");
		lab_fmt(cmd, sizeof(cmd), "size %s", r[i].slot);
		lab_fmt(want, sizeof(want), "%llu", (unsigned long long)size);
		is_str(lab_guest_value(g, cmd, "size", v, sizeof(v), NULL), want,
		       "the guest sees %s's new size on %s", r[i].disk, r[i].slot);
	}
}

/**
 * test_variants() - every disk variant, through the guest
 *
 * Return: 0; -2 if the guest never reported (TCG abort or boot hang: the
 * caller retries once); -1 on other failures
 */
static int test_variants(void)
{
	struct cp_error err = { 0 };
	cleanup_free char *dir = lab_scratch_dir("rehome-disks", &err);
	char pre[1024];
	struct lab_incus *vm;
	struct lab_guest_report *rep = NULL;
	struct lab_guest *g = NULL;
	int rc = -1;

	lab_fmt(pre, sizeof(pre),
		"exec '%s' rehome --qmp \"$COLDPLUG_LAB_QMP\" --json "
		">\"$COLDPLUG_LAB_DIR/rehome.json\" 2>\"$COLDPLUG_LAB_DIR/rehome.err\"",
		COLDPLUG_BINARY);
	vm = dir ? new_vm(8, disks, CP_ARRAY_SIZE(disks), true, pre, dir, &err) : NULL;
	if (!vm) {
		ok(false, "the VM is set up: %s", err.msg);
		goto out;
	}
	if (lab_incus_start(vm, &err) < 0) {
		char path[512];
		cleanup_free char *e = NULL;

		lab_fmt(path, sizeof(path), "%s/rehome.err", lab_incus_dir(vm));
		e = lab_read_file(path, 1 << 16, NULL);
		ok(false, "start with coldplug rehome at pre-start: %s (coldplug said: %s)",
		   err.msg, e ? e : "-");
		goto out;
	}
	ok(true, "the VM starts with coldplug rehome at pre-start");
	check_report_json(vm);
	if (!(g = lab_guest_new(vm, &err)) ||
	    lab_guest_read_report(g, REPORT_TIMEOUT_MS, &rep, &err) < 0) {
		diag("QEMU %s: the guest did not report: %s%s", qemu, err.msg,
		     lab_incus_tcg_abort(vm) ? " (QEMU aborted under TCG)" : "");
		rc = -2;
		goto out;
	}
	check_disks(vm, rep);
	check_no_tray(vm);
	check_writes(vm, g);
	check_resize(vm, g);
	rc = 0;
out:
	lab_guest_report_free(rep);
	lab_guest_free(g);
	lab_incus_free(vm);
	if (dir)
		lab_remove_tree(dir);
	return rc;
}

/**
 * refused() - rehome refuses; the inventory is unchanged
 * @what:	test name
 * @slots:	disk slots
 * @d:		disks
 * @n:		their count
 * @needle:	what the message must say
 */
static void refused(const char *what, unsigned slots, const struct disk_case *d, size_t n,
		    const char *needle)
{
	static const char *const inv[] = { "inventory", "--json", NULL };
	static const char *const rehome[] = { "rehome", NULL };
	struct cp_error err = { 0 };
	cleanup_free char *dir = lab_scratch_dir("rehome-refused", &err);
	cleanup_free char *before = NULL, *after = NULL, *out = NULL, *msg = NULL, *e1 = NULL,
			  *e2 = NULL;
	struct lab_incus *vm = dir ? new_vm(slots, d, n, false, NULL, dir, &err) : NULL;
	int rc;

	if (!vm || lab_incus_launch(vm, &err) < 0) {
		ok(false, "%s: the paused VM is set up: %s", what, err.msg);
		goto out;
	}
	coldplug(vm, inv, &before, &e1);
	rc = coldplug(vm, rehome, &out, &msg);
	coldplug(vm, inv, &after, &e2);
	ok(rc == 3, "%s: coldplug rehome exits 3, refused (%d)", what, rc);
	like(msg, needle, "%s: the message says '%s'", what, needle);
	diag("%s: %s", what, msg);
	ok(*before && !strcmp(before, after), "%s: coldplug inventory --json is unchanged", what);
out:
	lab_incus_free(vm);
	if (dir)
		lab_remove_tree(dir);
}

/**
 * test_refusals() - too few slots; a read-only disk
 */
static void test_refusals(void)
{
	static const struct disk_case ro[] = {
		{ { .name = "root", .root = true, .size = 16 * MIB }, NULL, NULL },
		{ { .name = "ref", .bus = LAB_DISK_VIRTIO_BLK, .readonly = true, .size = 8 * MIB },
		  NULL,
		  NULL },
	};

	refused("too few slots", 2, disks, CP_ARRAY_SIZE(disks), "--disk-slots");
	refused("read-only disk", 8, ro, CP_ARRAY_SIZE(ro), "read-only");
}

/**
 * wait_for_text() - poll a file until it contains @needle
 * @path:	file
 * @needle:	text
 * @timeout_ms:	deadline
 *
 * Return: true if seen in time
 */
static bool wait_for_text(const char *path, const char *needle, int timeout_ms)
{
	int64_t end = cp_now_ms() + timeout_ms;

	while (cp_now_ms() < end) {
		cleanup_free char *t = lab_read_file(path, 4 << 20, NULL);

		if (t && strstr(t, needle))
			return true;
		usleep(1000);
	}
	return false;
}

/**
 * test_killed() - QEMU dies during apply: coldplug fails fast and says why
 */
static void test_killed(void)
{
	struct cp_error err = { 0 };
	cleanup_free char *dir = lab_scratch_dir("rehome-killed", &err);
	cleanup_free char *log = NULL;
	struct lab_incus *vm = dir ? new_vm(8, disks, 3, false, NULL, dir, &err) : NULL;
	struct lab_proc p = { 0 };
	char log_path[512];
	int64_t t0;
	bool seen;

	if (!vm || lab_incus_launch(vm, &err) < 0) {
		ok(false, "killed: the paused VM is set up: %s", err.msg);
		goto out;
	}
	lab_fmt(log_path, sizeof(log_path), "%s/killed.log", dir);
	{
		const char *argv[] = { COLDPLUG_BINARY,
				       "rehome",
				       "--trace",
				       "--qmp",
				       lab_incus_coldplug_qmp(vm),
				       NULL };

		if (lab_proc_start(&p, argv, log_path, &err) < 0) {
			ok(false, "killed: coldplug starts: %s", err.msg);
			goto out;
		}
	}
	seen = wait_for_text(log_path, "\"device_del\"", 20000);
	ok(seen, "killed: coldplug sent its first device_del");
	kill(lab_incus_pid(vm), SIGKILL);
	t0 = cp_now_ms();
	if (lab_proc_reap(&p, 10000, &err) < 0) {
		ok(false, "killed: coldplug exits after QEMU died: %s", err.msg);
		lab_proc_stop(&p, 1000, &err);
		goto out;
	}
	ok(cp_now_ms() - t0 < 2000, "killed: coldplug exits %lld ms after QEMU died (< 2000)",
	   (long long)(cp_now_ms() - t0));
	ok(WIFEXITED(p.status) && (WEXITSTATUS(p.status) == 1 || WEXITSTATUS(p.status) == 4),
	   "killed: exit status %d (1 error, or 4 partial)",
	   WIFEXITED(p.status) ? WEXITSTATUS(p.status) : -1);
	log = lab_read_file(log_path, 4 << 20, &err);
	{
		const char *e = log ? strstr(log, "coldplug: error: ") : NULL;

		ok(e != NULL, "killed: an error line");
		if (e)
			diag("%.*s", (int)strcspn(e, "\n"), e);
		ok(e && (strstr(e, "closed") || strstr(e, "connection")),
		   "killed: the error names the lost connection");
	}
out:
	lab_incus_free(vm);
	if (dir)
		lab_remove_tree(dir);
}

/**
 * main() - run the tests
 * @argc:	argument count
 * @argv:	--qemu VERSION [--incus 7.2|7.3]
 *
 * Return: TAP exit status
 */
int main(int argc, char **argv)
{
	cleanup_free char *path = NULL;
	int i, attempt;

	for (i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--qemu"))
			qemu = argv[i + 1];
		else if (!strcmp(argv[i], "--incus"))
			release = strcmp(argv[i + 1], "7.3") ? LAB_INCUS_7_2 : LAB_INCUS_7_3;
	}
	path = lab_qemu_path(qemu);
	if (!path)
		bail_out("QEMU %s is not configured: run tests/qemu/prepare.sh BUILD_DIR", qemu);
	for (attempt = 1; test_variants() == -2; attempt++) {
		if (attempt == LAB_BOOT_ATTEMPTS) {
			ok(false, "QEMU %s: the guest did not report in %d boots", qemu, attempt);
			break;
		}
		diag("QEMU %s: boot %d of %d: TCG abort or boot hang (qemu-notes §9), retrying",
		     qemu, attempt, LAB_BOOT_ATTEMPTS);
	}
	test_refusals();
	test_killed();
	return done_testing();
}

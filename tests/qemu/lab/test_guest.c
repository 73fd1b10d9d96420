/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The test guest sees what Incus gave it (issue 3, "Done when"): every disk
 * behind its root port, the SCSI controller or USB, with the image's exact
 * size and md5; the NIC behind its root port with Incus's MAC and a working
 * network. Then, in the same boot, Incus's runtime operations as the guest
 * sees them: block_resize, a write that lands in Incus's image file,
 * set_link, and the hot-unplug of a USB disk, a virtio-blk disk and the NIC.
 *
 *   test-lab-guest --qemu 7.2|10.0 [--incus 7.2|7.3]
 *
 * Layout (driver_qemu_bus.go): qemu_pcieN sits at 00:01.N for N < 8.
 * qemu_pcie0 holds the multi-function group (the xHCI is its function 6),
 * qemu_pcie1 the SCSI controller, qemu_pcie4 the first NIC; the virtio-blk
 * and NVMe disks take the next ports in Incus's device order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "digest.h"
#include "guest.h"
#include "incus.h"
#include "netns.h"
#include "proc.h"
#include "run.h"
#include "tap.h"
#include "util.h"

#define REPORT_TIMEOUT_MS 90000
#define CMD_TIMEOUT_MS	  60000
#define MIB		  ((uint64_t)1 << 20)

/**
 * struct disk_case - one disk and where the guest must find it
 * @spec:	the disk
 * @driver:	the guest driver the report names
 * @path:	a piece of its sysfs path (its root port, or the USB host)
 */
struct disk_case {
	struct lab_disk_spec spec;
	const char *driver;
	const char *path;
};

static const struct disk_case disks[] = {
	{ { .name = "root", .root = true, .size = 64 * MIB }, "sd", "0000:00:01.1/" },
	{ { .name = "data", .bus = LAB_DISK_VIRTIO_BLK, .size = 32 * MIB },
	  "virtio_blk",
	  "0000:00:01.5/" },
	{ { .name = "fast", .bus = LAB_DISK_NVME, .size = 16 * MIB }, "nvme", "0000:00:01.6/" },
	{ { .name = "iso", .cdrom = true, .size = 4 * MIB }, "sr", "0000:00:01.1/" },
	{ { .name = "stick", .bus = LAB_DISK_USB, .size = 8 * MIB }, "sd", "0000:01:00.6/usb" },
};

/**
 * new_vm() - the VM, not started
 * @qemu:	QEMU version
 * @release:	Incus release
 * @err:	filled on failure
 *
 * Return: new emulator, or NULL
 */
static struct lab_incus *new_vm(const char *qemu, enum lab_incus_release release,
				struct cp_error *err)
{
	struct lab_incus_opts o;
	struct lab_incus *vm;
	size_t i;

	lab_incus_opts_init(&o);
	o.qemu = qemu;
	o.release = release;
	o.vcpus = 2;
	o.boot_guest = true;
	vm = lab_incus_new(&o, err);
	if (!vm || lab_incus_add_nic(vm, &(struct lab_nic_spec){ .name = "eth0" }, err) < 0)
		goto fail;
	for (i = 0; i < CP_ARRAY_SIZE(disks); i++)
		if (lab_incus_add_disk(vm, &disks[i].spec, err) < 0)
			goto fail;
	return vm;
fail:
	lab_incus_free(vm);
	return NULL;
}

/**
 * hidden_path() - an NVMe multipath controller node (nvme0c0n1)
 * @b:	blk record
 *
 * With QEMU 10.0's NVMe (multipath capable) Linux shows the namespace as
 * nvme0n1 under virtual/nvme-subsystem and the path device nvme0c0n1 under
 * the controller; the guest reports both. The disk is the first.
 *
 * Return: true for the path device
 */
static bool hidden_path(const struct lab_guest_record *b)
{
	const char *name = lab_record_get(b, "name");
	size_t d1, d2;

	if (!cp_str_has_prefix(name, "nvme"))
		return false;
	d1 = strspn(name + 4, "0123456789");
	if (!d1 || name[4 + d1] != 'c')
		return false;
	d2 = strspn(name + 5 + d1, "0123456789");
	return d2 && name[5 + d1 + d2] == 'n';
}

/**
 * visible_disks() - blk records without NVMe path devices
 * @rep:	report
 *
 * Return: the count
 */
static size_t visible_disks(const struct lab_guest_report *rep)
{
	size_t i, n = 0;

	for (i = 0; i < lab_report_count(rep, "blk"); i++)
		n += !hidden_path(lab_report_at(rep, "blk", i));
	return n;
}

/**
 * disk_path() - where a disk sits: its record's path, or for an NVMe
 * multipath namespace its controller path device's
 * @rep:	report
 * @b:	the disk's record
 *
 * Return: borrowed path
 */
static const char *disk_path(const struct lab_guest_report *rep, const struct lab_guest_record *b)
{
	size_t i;

	if (!cp_str_has_prefix(lab_record_get(b, "path"), "virtual/"))
		return lab_record_get(b, "path");
	for (i = 0; i < lab_report_count(rep, "blk"); i++) {
		const struct lab_guest_record *o = lab_report_at(rep, "blk", i);

		if (hidden_path(o) &&
		    cp_streq(lab_record_get(o, "serial"), lab_record_get(b, "serial")))
			return lab_record_get(o, "path");
	}
	return lab_record_get(b, "path");
}

/**
 * find_disk() - the report's blk record of a disk
 * @vm:		emulator
 * @rep:	report
 * @c:		the disk
 *
 * By serial; the ISO by its driver (sr) and the USB disk by its path (the
 * guest reads the USB device's serial there, not the SCSI one).
 *
 * Return: the record, or NULL
 */
static const struct lab_guest_record *find_disk(const struct lab_incus *vm,
						const struct lab_guest_report *rep,
						const struct disk_case *c)
{
	char serial[64];
	size_t i;

	(void)vm;
	if (c->spec.cdrom)
		return lab_report_find(rep, "blk", "driver", "sr");
	for (i = 0; c->spec.bus == LAB_DISK_USB && i < lab_report_count(rep, "blk"); i++) {
		const struct lab_guest_record *b = lab_report_at(rep, "blk", i);

		if (strstr(lab_record_get(b, "path"), "/usb"))
			return b;
	}
	lab_incus_serial(c->spec.name, c->spec.bus, serial, sizeof(serial));
	for (i = 0; i < lab_report_count(rep, "blk"); i++) {
		const struct lab_guest_record *b = lab_report_at(rep, "blk", i);

		if (!hidden_path(b) && cp_streq(lab_record_get(b, "serial"), serial))
			return b;
	}
	return NULL;
}

/**
 * check_disk() - size, md5, driver, place and read-only flag of one disk
 * @vm:		emulator
 * @rep:	report
 * @c:		the disk
 */
static void check_disk(const struct lab_incus *vm, const struct lab_guest_report *rep,
		       const struct disk_case *c)
{
	const struct lab_guest_record *b = find_disk(vm, rep, c);
	uint64_t size = lab_incus_disk_size(vm, c->spec.name);
	struct cp_error err = { 0 };
	char md5[40] = "", want_size[32];
	const char *drv;

	if (!ok(b != NULL, "disk %s is in the guest's report", c->spec.name))
		return;
	drv = lab_record_get(b, "driver");
	lab_md5_file(lab_incus_disk_image(vm, c->spec.name), size < MIB ? size : MIB, md5, &err);
	lab_fmt(want_size, sizeof(want_size), "%llu", (unsigned long long)size);
	is_str(lab_record_get(b, "size"), want_size, "disk %s: exact size", c->spec.name);
	is_str(lab_record_get(b, "sum"), md5, "disk %s: md5 of the first MiB is the image's",
	       c->spec.name);
	if (cp_streq(drv, "-") && cp_str_has_prefix(lab_record_get(b, "name"), "nvme"))
		drv = "nvme"; /* a multipath namespace head has no driver of its own */
	is_str(drv, c->driver, "disk %s: guest driver", c->spec.name);
	like(disk_path(rep, b), c->path, "disk %s: behind %s", c->spec.name, c->path);
	is_str(lab_record_get(b, "ro"), c->spec.cdrom ? "1" : "0", "disk %s: read-only flag",
	       c->spec.name);
}

/**
 * check_nic() - the NIC: MAC, driver, root port, address, pings
 * @vm:		emulator
 * @rep:	report
 */
static void check_nic(struct lab_incus *vm, const struct lab_guest_report *rep)
{
	const struct lab_guest_record *n = lab_report_find(rep, "net", "mac",
							   lab_incus_nic_mac(vm, "eth0"));
	struct cp_error err = { 0 };
	struct lab_loss l = { 0 };
	char ip[32], cidr[40];
	int rc;

	lab_incus_nic_ip(vm, "eth0", ip, sizeof(ip));
	lab_fmt(cidr, sizeof(cidr), "%s/24", ip);
	if (!ok(n != NULL, "NIC eth0 is in the report with Incus's MAC %s",
		lab_incus_nic_mac(vm, "eth0")))
		return;
	is_str(lab_record_get(n, "driver"), "virtio_net", "NIC eth0: virtio_net");
	like(lab_record_get(n, "path"), "0000:00:01.4/", "NIC eth0: behind qemu_pcie4 (00:01.4)");
	is_str(lab_record_get(n, "ip"), cidr, "NIC eth0: the guest configured %s", cidr);
	lab_net_neigh(lab_incus_net(vm), ip, lab_incus_nic_mac(vm, "eth0"), &err);
	rc = lab_ping(lab_incus_net(vm), ip, 20, 20, &l, &err);
	ok(rc == 0 && l.sent == 20 && l.lost == 0,
	   "NIC eth0: 20 pings from the peer namespace, %llu lost", (unsigned long long)l.lost);
}

/**
 * check_layout() - what sits on qemu_pcie0 and the xHCI
 * @rep:	report
 */
static void check_layout(const struct lab_guest_report *rep)
{
	const struct lab_guest_record *x = lab_report_find(rep, "pci", "driver", "xhci_hcd");
	const struct lab_guest_record *u = lab_report_find(rep, "usb", "vendor", "46f4");

	like(lab_record_get(x, "path"), "0000:00:01.0/0000:01:00.6",
	     "qemu_usb (xHCI) is function 6 behind qemu_pcie0");
	like(lab_record_get(u, "path"), "0000:01:00.6/usb", "the usb-bot disk is on qemu_usb (%s)",
	     lab_record_get(u, "name"));
	ok(visible_disks(rep) == CP_ARRAY_SIZE(disks), "the guest sees %zu disks (%zu)",
	   CP_ARRAY_SIZE(disks), visible_disks(rep));
}

/**
 * check_resize_and_write() - block_resize and a write through virtio-blk
 * @vm:		emulator
 * @g:		console
 */
static void check_resize_and_write(struct lab_incus *vm, struct lab_guest *g)
{
	struct cp_error err = { 0 };
	char v[64], md5[40] = "";
	cleanup_free char *text = NULL;
	int rc = -1;

	ok(lab_incus_block_resize(vm, "data", 48 * MIB, &err) == 0, "block_resize data to 48 MiB");
	is_str(lab_guest_value(g, "size incus_data", "size", v, sizeof(v), NULL), "50331648",
	       "the guest sees the new size of data");
	lab_guest_command(g, "write incus_data 7 1048576 65536", CMD_TIMEOUT_MS, &text, &rc, &err);
	ok(rc == 0, "the guest writes seed 7 at 1 MiB of data");
	lab_guest_value(g, "sum incus_data 1048576 65536", "sum", v, sizeof(v), NULL);
	{
		cleanup_free char *img = lab_read_file(lab_incus_disk_image(vm, "data"), 64 * MIB,
						       &err);
		uint8_t dig[LAB_MD5_LEN];

		if (img) {
			lab_md5(img + MIB, 65536, dig);
			lab_hex(dig, sizeof(dig), md5);
		}
	}
	ok(*v && !strcmp(md5, v),
	   "the bytes are in Incus's image file on the host (guest %s, host %s)", v, md5);
}

/**
 * check_link() - set_link down loses pings, up brings them back
 * @vm:		emulator
 */
static void check_link(struct lab_incus *vm)
{
	struct cp_error err = { 0 };
	struct lab_loss l = { 0 };
	char ip[32];
	int rc;

	lab_incus_nic_ip(vm, "eth0", ip, sizeof(ip));
	rc = lab_incus_nic_set_link(vm, "eth0", false, &err);
	if (rc == 0)
		rc = lab_ping(lab_incus_net(vm), ip, 5, 100, &l, &err);
	ok(rc == 0 && l.received == 0, "set_link eth0 down: no ping answered (%llu of 5)",
	   (unsigned long long)l.received);
	ok(lab_incus_nic_set_link(vm, "eth0", true, &err) == 0, "set_link eth0 up");
	lab_sleep_ms(1000);
	rc = lab_ping(lab_incus_net(vm), ip, 10, 100, &l, &err);
	ok(rc == 0 && l.received == 10, "after set_link up, pings are answered (%llu of 10)",
	   (unsigned long long)l.received);
}

/**
 * check_unplug() - Incus's hot-unplug of a USB disk, a virtio-blk disk, the NIC
 * @vm:		emulator
 * @g:		console
 */
static void check_unplug(struct lab_incus *vm, struct lab_guest *g)
{
	struct cp_error err = { 0 };
	unsigned retries = 0;
	char v[64];
	int rc;

	rc = lab_incus_disk_detach(vm, "stick", 10, &retries, &err);
	ok(rc == 0, "the usb disk is detached (blockdev-del retried %u times)%s%s", retries,
	   rc ? ": " : "", rc ? err.msg : "");
	rc = lab_incus_disk_detach(vm, "data", 10, &retries, &err);
	ok(rc == 0, "the virtio-blk disk is detached, the guest ejecting it (%u retries)%s%s",
	   retries, rc ? ": " : "", rc ? err.msg : "");
	rc = lab_incus_nic_detach(vm, "eth0", &err);
	ok(rc == 0, "the NIC is detached%s%s", rc ? ": " : "", rc ? err.msg : "");
	lab_guest_value(g, "rescan", "settle_ms", v, sizeof(v), NULL);
	{
		cleanup_free char *text = NULL;
		struct lab_guest_report *rep = NULL;

		lab_guest_command(g, "report", CMD_TIMEOUT_MS, &text, NULL, &err);
		if (text && strstr(text, "CP-REPORT-BEGIN\n"))
			lab_guest_report_parse(strstr(text, "CP-REPORT-BEGIN\n") + 16, &rep, &err);
		ok(rep && visible_disks(rep) == 3,
		   "the guest now sees 3 disks (root, fast, iso): %zu",
		   rep ? visible_disks(rep) : 0);
		lab_guest_report_free(rep);
	}
}

/**
 * run() - one VM through report and operations
 * @qemu:	QEMU version
 * @release:	Incus release
 *
 * Return: 0; -2 if QEMU ran but the guest never reported (the known TCG
 * abort, or a boot hang), which the caller retries once; -1 otherwise
 */
static int run(const char *qemu, enum lab_incus_release release)
{
	struct cp_error err = { 0 };
	struct lab_incus *vm = new_vm(qemu, release, &err);
	struct lab_guest_report *rep = NULL;
	struct lab_guest *g = NULL;
	int64_t t0 = 0;
	int rc = -1;
	size_t i;

	if (!vm || lab_incus_start(vm, &err) < 0 || (t0 = cp_now_ms()) == 0 ||
	    !(g = lab_guest_new(vm, &err)) ||
	    lab_guest_read_report(g, REPORT_TIMEOUT_MS, &rep, &err) < 0) {
		rc = vm && lab_incus_pid(vm) ? -2 : -1; /* a TCG abort or boot hang: retried */
		diag("QEMU %s: the guest did not report: %s%s", qemu, err.msg,
		     vm && lab_incus_tcg_abort(vm) ? " (QEMU aborted under TCG: iotlb_to_section)"
						   : "");
		if (rc == -1)
			ok(false, "QEMU %s: the guest boots and reports: %s", qemu, err.msg);
		goto out;
	}
	diag("QEMU %s, Incus %s: the report came %lld ms after cont", lab_incus_qemu_version(vm),
	     release == LAB_INCUS_7_3 ? "7.3 (qcow2 root)" : "7.2", (long long)(cp_now_ms() - t0));
	for (i = 0; i < CP_ARRAY_SIZE(disks); i++)
		check_disk(vm, rep, &disks[i]);
	check_layout(rep);
	check_nic(vm, rep);
	check_resize_and_write(vm, g);
	check_link(vm);
	check_unplug(vm, g);
	rc = 0;
out:
	lab_guest_report_free(rep);
	lab_guest_free(g);
	lab_incus_free(vm);
	return rc;
}

int main(int argc, char **argv)
{
	const char *qemu = "7.2";
	enum lab_incus_release release = LAB_INCUS_7_2;
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
	for (attempt = 1; run(qemu, release) == -2; attempt++) {
		if (attempt == LAB_BOOT_ATTEMPTS) {
			ok(false, "QEMU %s: the guest did not report in %d boots", qemu, attempt);
			break;
		}
		diag("QEMU %s: boot %d of %d: TCG abort or boot hang (qemu-notes §9), retrying",
		     qemu, attempt, LAB_BOOT_ATTEMPTS);
	}
	return done_testing();
}

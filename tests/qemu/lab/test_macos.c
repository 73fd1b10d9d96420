/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Lab test of the macOS pieces on real QEMU (TCG), on QEMU 7.2 and 10.0.
 *
 * Plain QEMU: the sections `coldplug qemu-conf --macos --add-xhci` generates
 * (readconfig format) boot the Linux test guest, and its report shows the
 * macOS frontends: isa-applesmc (ACPI hid APP0001), the USB keyboard and
 * tablet on coldplug's xHCI (pcie.0 slot 0x0e), the display (VGA 1234:1111
 * or vmware-svga 15ad:0405, class 0300) at pcie.0 slot 0x0f. A usb-net on the
 * same xHCI checks the kext's one id table against what Linux reads from
 * QEMU's emulated device (sysfs idVendor, idProduct, bcdDevice, and the
 * configuration it chose: CDC-ECM).
 *
 * Incus's layout: the same sections with --usb-bus qemu_usb.0, loaded after
 * the Incus emulator's qemu.conf, with Incus's root disk and a hot-plugged
 * virtio-blk disk: the keyboard and tablet land on Incus's xHCI, and the
 * display's fixed slot does not collide with Incus's root ports. The
 * emulator has no raw.qemu.conf support yet, so Incus's format itself (the
 * deletions and the append order) is checked against a model of Incus's
 * override rules in tests/unit/test_macos.c.
 *
 * The usb-net is peered with a hub port of an otherwise empty net hub: no
 * host interface, no traffic. Plain QEMU runs under the lab's process
 * helpers (PR_SET_PDEATHSIG, reaped with a deadline, exit status asserted);
 * its console is a unix socket with wait=on, so QEMU starts the guest only
 * once the test is listening.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "coldplug/kext.h"
#include "coldplug/macos.h"
#include "coldplug/qconf.h"
#include "guest.h"
#include "incus.h"
#include "proc.h"
#include "run.h"
#include "tap.h"
#include "util.h"

/* A made-up key: the test checks plumbing, not Apple's OSK. */
#define LAB_OSK "coldplug-lab-osk-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHI"

/**
 * struct run - one boot
 * @version:	"7.2" or "10.0"
 * @display:	display device
 * @incus:	boot under the Incus emulator (Incus's layout, its xHCI)
 * @dir:	scratch directory
 * @qemu:	QEMU binary
 * @proc:	the QEMU process (plain QEMU)
 * @vm:		the Incus emulator (with @incus)
 * @g:		the guest console
 * @r:		the guest's report
 */
struct run {
	const char *version;
	enum macos_display display;
	bool incus;
	char *dir;
	char *qemu;
	struct lab_proc proc;
	struct lab_incus *vm;
	struct lab_guest *g;
	struct lab_guest_report *r;
};

/**
 * write_conf() - generate the macOS sections into DIR/macos.conf
 * @run:	boot
 * @path:	output path
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int write_conf(const struct run *run, const char *path, struct cp_error *err)
{
	cleanup_free char *text = NULL;
	struct macos_opts m;
	struct qconf_opts o;

	qconf_opts_init(&o);
	o.disk_slots = 1;
	macos_opts_init(&m, QCONF_READCONFIG);
	m.add_xhci = !run->incus;
	m.usb_bus = run->incus ? MACOS_INCUS_USB_BUS : NULL;
	m.display = run->display;
	if (macos_set_osk(&m, LAB_OSK, err) < 0 || macos_parse_version("14", &m.version, err) < 0)
		return -1;
	o.macos = &m;
	text = qconf_generate(&o, QCONF_READCONFIG, err);
	macos_opts_wipe(&m);
	return text ? lab_write_file(path, text, err) : -1;
}

/**
 * connect_console() - connect to QEMU's console socket, retrying until it
 *		       exists, QEMU exits, or @timeout_ms passes
 * @proc:	the QEMU process
 * @path:	socket path
 * @timeout_ms:	deadline
 * @err:	filled on failure
 *
 * Return: connected descriptor, or -1
 */
static int connect_console(struct lab_proc *proc, const char *path, int timeout_ms,
			   struct cp_error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int64_t deadline = cp_now_ms() + timeout_ms;
	char how[64];

	cp_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return cp_error_set_errno(err, errno, "socket");
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		close(fd);
		if (lab_proc_reap(proc, 0, NULL) == 0)
			return cp_error_set(err, CP_ERR_FAILED, "QEMU %s before its console was up",
					    lab_proc_describe(proc, how, sizeof(how)));
		if (cp_now_ms() > deadline)
			return cp_error_set(err, CP_ERR_TIMEOUT, "no console socket %s", path);
		lab_sleep_ms(50);
	}
}

/**
 * boot() - start QEMU with the macOS sections and read the guest's report
 * @run:	boot
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int boot(struct run *run, struct cp_error *err)
{
	char conf[256], sock[256], log[256], console[256], chardev[300], usbnet[80];
	cleanup_free char *kernel = lab_env_get("COLDPLUG_GUEST_KERNEL");
	cleanup_free char *initrd = lab_env_get("COLDPLUG_GUEST_INITRD");
	const char *argv[] = { run->qemu,  "-accel",	  "tcg",
			       "-machine", "q35",	  "-m",
			       "512",	   "-nodefaults", "-display",
			       "none",	   "-no-reboot",  "-readconfig",
			       conf,	   "-netdev",	  "hubport,id=cplab-net,hubid=42",
			       "-device",  usbnet,	  "-chardev",
			       chardev,	   "-serial",	  "chardev:ser",
			       "-kernel",  kernel,	  "-initrd",
			       initrd,	   "-append",	  "console=ttyS0 panic=-1 quiet",
			       NULL };
	int fd;

	if (!kernel || !initrd)
		return cp_error_set(
			err, CP_ERR_INVALID,
			"no test guest in $COLDPLUG_LAB_ENV: run tests/qemu/prepare.sh");
	snprintf(usbnet, sizeof(usbnet), "usb-net,netdev=cplab-net,bus=%s.0", MACOS_XHCI_ID);
	snprintf(conf, sizeof(conf), "%s/macos.conf", run->dir);
	snprintf(sock, sizeof(sock), "%s/console.sock", run->dir);
	snprintf(log, sizeof(log), "%s/qemu.log", run->dir);
	snprintf(console, sizeof(console), "%s/console.log", run->dir);
	snprintf(chardev, sizeof(chardev), "socket,id=ser,path=%s,server=on,wait=on", sock);
	if (write_conf(run, conf, err) < 0 || lab_proc_start(&run->proc, argv, log, err) < 0)
		return -1;
	fd = connect_console(&run->proc, sock, 30000, err);
	if (fd < 0)
		return -1;
	run->g = lab_guest_new_fd(fd, console, err);
	if (!run->g)
		return -1;
	return lab_guest_read_report(run->g, 180000, &run->r, err);
}

/**
 * boot_incus() - the same sections under the Incus emulator, on Incus's xHCI
 * @run:	boot
 * @err:	filled on failure
 *
 * The emulator has no raw.qemu.conf yet, so the readconfig sections are
 * loaded after Incus's qemu.conf (-readconfig, as Incus's own file): Incus's
 * virtio keyboard, tablet and GPU stay, and the macOS devices join them.
 *
 * Return: 0, or -1
 */
static int boot_incus(struct run *run, struct cp_error *err)
{
	struct lab_incus_opts o;
	char conf[256];

	snprintf(conf, sizeof(conf), "%s/macos.conf", run->dir);
	if (write_conf(run, conf, err) < 0)
		return -1;
	lab_incus_opts_init(&o);
	o.qemu = run->version;
	o.boot_guest = true;
	o.extra_conf[0] = conf;
	run->vm = lab_incus_new(&o, err);
	if (!run->vm ||
	    lab_incus_add_disk(
		    run->vm,
		    &(struct lab_disk_spec){ .name = "root", .root = true, .size = 64 << 20 },
		    err) < 0 ||
	    lab_incus_add_disk(run->vm,
			       &(struct lab_disk_spec){ .name = "data",
							.bus = LAB_DISK_VIRTIO_BLK,
							.size = 16 << 20 },
			       err) < 0 ||
	    lab_incus_start(run->vm, err) < 0)
		return -1;
	run->g = lab_guest_new(run->vm, err);
	return run->g ? lab_guest_read_report(run->g, 180000, &run->r, err) : -1;
}

/**
 * find_usb() - the report's usb record with product string @name
 * @r:		report
 * @name:	product string as the guest writes it (spaces as '_')
 *
 * Return: the record, or NULL
 */
static const struct lab_guest_record *find_usb(const struct lab_guest_report *r, const char *name)
{
	return lab_report_find(r, "usb", "name", name);
}

/**
 * find_xhci() - the report's xHCI (PCI class 0c0330)
 * @r:	report
 *
 * Return: its record, or NULL
 */
static const struct lab_guest_record *find_xhci(const struct lab_guest_report *r)
{
	return lab_report_find(r, "pci", "class", "0c0330");
}

/**
 * on_bus() - whether a USB record's device sits under the PCI record @hc
 * @usb:	usb record, may be NULL
 * @hc:		the xHCI's pci record, may be NULL
 *
 * Return: true if so
 */
static bool on_bus(const struct lab_guest_record *usb, const struct lab_guest_record *hc)
{
	const char *path = usb ? lab_record_get(usb, "path") : NULL;
	const char *hcpath = hc ? lab_record_get(hc, "path") : NULL;

	return path && hcpath && cp_str_has_prefix(path, hcpath) && path[strlen(hcpath)] == '/';
}

/**
 * check_frontends() - applesmc, keyboard, tablet and display in the report
 * @run:	boot
 */
static void check_frontends(const struct run *run)
{
	const struct lab_guest_record *kbd = find_usb(run->r, "QEMU_USB_Keyboard");
	const struct lab_guest_record *tablet = find_usb(run->r, "QEMU_USB_Tablet");
	const struct lab_guest_record *xhci = find_xhci(run->r);
	const struct lab_guest_record *vga = lab_report_find(run->r, "pci", "slot", "0000:00:0f.0");
	const char *bus = run->incus ? "Incus's qemu_usb" : "coldplug-xhci";
	bool svga = run->display == MACOS_DISPLAY_VMWARE_SVGA;

	ok(lab_report_find(run->r, "acpi", "hid", "APP0001") != NULL,
	   "%s: isa-applesmc is the guest's ACPI device APP0001", run->version);
	if (!run->incus)
		ok(xhci && cp_streq(lab_record_get(xhci, "slot"), "0000:00:0e.0"),
		   "%s: coldplug-xhci is an xHCI at pcie.0 slot 0x0e", run->version);
	ok(on_bus(kbd, xhci) && cp_streq(lab_record_get(kbd, "drivers"), "usbhid"),
	   "%s: the USB keyboard is on %s, driven by usbhid", run->version, bus);
	ok(on_bus(tablet, xhci) && cp_streq(lab_record_get(tablet, "drivers"), "usbhid"),
	   "%s: the USB tablet is on %s, driven by usbhid", run->version, bus);
	ok(vga && cp_streq(lab_record_get(vga, "class"), "030000") &&
		   cp_streq(lab_record_get(vga, "vendor"), svga ? "15ad" : "1234") &&
		   cp_streq(lab_record_get(vga, "device"), svga ? "0405" : "1111"),
	   "%s: the display is %s (class 0300) at pcie.0 slot 0x0f", run->version,
	   macos_display_driver(run->display));
}

/**
 * check_incus() - Incus's own devices are where Incus put them
 * @run:	boot
 */
static void check_incus(const struct run *run)
{
	const struct lab_guest_record *xhci = find_xhci(run->r);
	const struct lab_guest_record *data;
	char serial[64];

	lab_incus_serial("data", LAB_DISK_VIRTIO_BLK, serial, sizeof(serial));
	data = lab_report_find(run->r, "blk", "serial", serial);
	ok(xhci && !cp_str_has_prefix(lab_record_get(xhci, "slot"), "0000:00:"),
	   "%s: the only xHCI is Incus's qemu_usb, behind its root port (%s)", run->version,
	   xhci ? lab_record_get(xhci, "slot") : "-");
	ok(data && !strstr(lab_record_get(data, "path"), "0000:00:0f.0") &&
		   strstr(strchr(lab_record_get(data, "path"), '/') + 1, "/0000:"),
	   "%s: Incus's hot-plugged virtio-blk disk is on a root port, not on the display's "
	   "slot (%s)",
	   run->version, data ? lab_record_get(data, "path") : "-");
}

/**
 * hex4() - a 16-bit id as the guest writes it
 * @v:		value
 * @buf:	output (5 bytes)
 *
 * Return: @buf
 */
static const char *hex4(unsigned v, char buf[5])
{
	snprintf(buf, 5, "%04x", v & 0xffff);
	return buf;
}

/**
 * check_kext_ids() - the kext's id table is what Linux reads from usb-net
 * @run:	boot
 */
static void check_kext_ids(struct run *run)
{
	const struct kext_usb_match *m = &kext_usb_matches[0];
	const struct lab_guest_record *u = find_usb(run->r, "RNDIS/QEMU_USB_Network_Device");
	const struct lab_guest_record *n = lab_report_find(run->r, "net", "driver", "cdc_ether");
	cleanup_free char *out = NULL;
	struct cp_error err = { 0 };
	char cmd[512], v[5], p[5], b[5], want[16];
	int rc = -1;

	hex4(m->id_vendor, v);
	hex4(m->id_product, p);
	hex4(m->bcd_device, b);
	ok(u && cp_streq(lab_record_get(u, "vendor"), v) &&
		   cp_streq(lab_record_get(u, "product"), p) &&
		   cp_streq(lab_record_get(u, "bcd"), b),
	   "%s: kext table %s:%s bcd %s = the guest's sysfs idVendor/idProduct/bcdDevice",
	   run->version, v, p, b);
	ok(n && cp_streq(lab_record_get(n, "usb_vendor"), v) &&
		   cp_streq(lab_record_get(n, "usb_product"), p) &&
		   cp_streq(lab_record_get(n, "usb_bcd"), b),
	   "%s: ...and of the NIC the guest drives with cdc_ether", run->version);
	if (!u) {
		skip(1, "no usb-net in the report");
		return;
	}
	snprintf(cmd, sizeof(cmd), "sh cat /sys/devices/%s/bConfigurationValue",
		 lab_record_get(u, "path"));
	if (lab_guest_command(run->g, cmd, 30000, &out, &rc, &err) < 0)
		diag("%s", err.msg);
	snprintf(want, sizeof(want), "%u", m->configuration);
	if (out)
		out[strcspn(out, "\r\n")] = '\0';
	ok(rc == 0 && out && !strcmp(out, want),
	   "%s: the configuration Linux chose for usb-net (CDC-ECM) is the kext's "
	   "preferred one, %s (got %s)",
	   run->version, want, out ? out : "-");
}

/**
 * show_log() - the end of QEMU's log, after a failure
 * @run:	boot
 */
static void show_log(const struct run *run)
{
	char path[300];
	cleanup_free char *text = NULL;
	size_t len;

	if (run->vm)
		snprintf(path, sizeof(path), "%s", lab_incus_qemu_log(run->vm));
	else
		snprintf(path, sizeof(path), "%s/qemu.log", run->dir);
	text = lab_read_file(path, 1 << 20, NULL);
	len = text ? strlen(text) : 0;
	if (len)
		diag("qemu.log:\n%s", text + (len > 4000 ? len - 4000 : 0));
}

/**
 * finish() - power the guest off, reap QEMU, clean up
 * @run:	boot
 */
static void finish(struct run *run)
{
	struct cp_error err = { 0 };
	char how[64];
	int rc = -1;

	if (run->vm) {
		if (!ok(lab_incus_quit(run->vm, 30000, &err) == 0, "%s: Incus's quit ends QEMU",
			run->version))
			diag("%s", err.msg);
	} else if (run->g && lab_guest_command(run->g, "poweroff", 30000, NULL, NULL, &err) == 0) {
		rc = lab_proc_reap(&run->proc, 60000, &err);
		lab_proc_describe(&run->proc, how, sizeof(how));
		ok(rc == 0 && lab_proc_exited_ok(&run->proc),
		   "%s: QEMU exits with status 0 after poweroff (%s)", run->version, how);
	} else if (run->g) {
		ok(false, "%s: poweroff: %s", run->version, err.msg);
	}
	if (lab_proc_stop(&run->proc, 3000, &err) < 0)
		diag("could not stop QEMU: %s", err.msg);
	if (tap_failures())
		show_log(run);
	lab_guest_report_free(run->r);
	lab_guest_free(run->g);
	lab_incus_free(run->vm);
	if (tap_failures() || getenv("COLDPLUG_LAB_KEEP"))
		diag("kept %s (qemu.log, console.log, macos.conf)", run->dir);
	else
		lab_remove_tree(run->dir);
	free(run->dir);
	free(run->qemu);
}

/**
 * test_boot() - one boot with @display on QEMU @version
 * @version:	"7.2" or "10.0"
 * @display:	display
 * @incus:	under the Incus emulator (else plain QEMU with --add-xhci)
 */
static void test_boot(const char *version, enum macos_display display, bool incus)
{
	struct run run = { .version = version, .display = display, .incus = incus };
	struct cp_error err = { 0 };
	char key[64];
	int rc;

	run.qemu = lab_qemu_path(version);
	if (!ok(run.qemu != NULL, "QEMU %s is configured", version)) {
		diag("neither $%s nor $COLDPLUG_LAB_ENV names one: run tests/qemu/prepare.sh",
		     lab_qemu_key(version, key, sizeof(key)));
		return;
	}
	run.dir = lab_scratch_dir("macos", &err);
	if (!run.dir)
		bail_out("%s", err.msg);
	rc = incus ? boot_incus(&run, &err) : boot(&run, &err);
	if (ok(rc == 0, "%s: the guest boots with the macOS sections (%s%s)", version,
	       macos_display_driver(display), incus ? ", Incus's layout" : "")) {
		check_frontends(&run);
		if (incus)
			check_incus(&run);
		else if (display == MACOS_DISPLAY_VGA)
			check_kext_ids(&run);
	} else {
		diag("%s", err.msg);
	}
	finish(&run);
}

/**
 * main() - the macOS lab test on each QEMU of the lab
 *
 * Return: TAP exit status
 */
int main(void)
{
	test_boot("7.2", MACOS_DISPLAY_VGA, false);
	test_boot("10.0", MACOS_DISPLAY_VGA, false);
	test_boot("10.0", MACOS_DISPLAY_VMWARE_SVGA, false);
	test_boot("7.2", MACOS_DISPLAY_VGA, true);
	test_boot("10.0", MACOS_DISPLAY_VGA, true);
	return done_testing();
}

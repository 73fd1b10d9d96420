/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests for the planner: slot assignment and order on recorded inventories,
 * and every refusal (each with its fix in the message), made by editing the
 * plain-data inventory.
 */
#include <errno.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coldplug/inventory.h"
#include "coldplug/plan.h"
#include "recorded.h"
#include "tap.h"
#include "util.h"

/* The QEMU version whose recordings the current tests read. */
static const char *qemu_ver;

/**
 * load() - build an inventory from a recording of the current QEMU version
 * @name:	recording, without the version and .json
 * @inv:	result
 */
static void load(const char *name, struct inventory *inv)
{
	recorded_inventory(name, qemu_ver, NULL, inv);
}

/**
 * refusal() - plan and expect a refusal mentioning @needle
 * @inv:	inventory
 * @o:		policy
 * @needle:	text the message must contain
 * @what:	test name
 */
static void refusal(const struct inventory *inv, const struct plan_opts *o, const char *needle,
		    const char *what)
{
	struct cp_error err;
	struct plan p;
	int rc = plan_build(inv, o, &p, &err);

	ok(rc < 0 && err.code == CP_ERR_REFUSED, "%s: refused", what);
	like(rc < 0 ? err.msg : "", needle, "%s: the message says '%s'", what, needle);
	if (rc == 0)
		plan_free(&p);
}

/**
 * test_default_plan() - Incus's default layout: order, slots, descriptions
 */
static void test_default_plan(void)
{
	struct plan_opts o;
	struct inventory inv;
	struct cp_error err;
	struct plan p;

	plan_opts_init(&o);
	load("incus-default", &inv);
	if (plan_build(&inv, &o, &p, &err) < 0)
		bail_out("plan: %s", err.msg);
	is_int((long long)p.n, 4, "four steps");
	is_int((long long)plan_todo(&p), 4, "all to do");
	ok(p.steps[0].kind == PLAN_DISK && !strcmp(p.steps[0].name, "root") && p.steps[0].slot == 0,
	   "root first, onto disk slot 0");
	ok(p.steps[1].kind == PLAN_CD && !strcmp(p.steps[1].slot_name, "coldplug-cd0") &&
		   !strcmp(p.steps[1].slot_path, "/machine/peripheral/coldplug-cd0") &&
		   !strcmp(p.steps[1].usb_bus, "qemu_usb.0") &&
		   !strcmp(p.steps[1].dev_id, "dev-incus_iso") &&
		   !strcmp(p.steps[1].node, "incus_iso") && p.steps[1].bootindex == 2,
	   "the ISO onto a new USB CD drive coldplug-cd0 on qemu_usb.0, boot order kept");
	ok(p.steps[2].kind == PLAN_DISK && !strcmp(p.steps[2].name, "data") && p.steps[2].slot == 1,
	   "data onto disk slot 1");
	ok(p.steps[3].kind == PLAN_NIC_PCI && p.steps[3].hubid == 0 &&
		   !strcmp(p.steps[3].ifname, "tapcp0") && p.steps[3].nqueues == 4,
	   "eth0 onto the NIC slot carrying its MAC, from its 4-queue tap");
	is_int(p.steps[0].bootindex, 0, "root keeps boot order 0");
	is_str(p.steps[0].from, "dev-incus_root (scsi-hd on qemu_scsi.0)", "described source");
	is_str(p.steps[2].del_id, "dev-incus_data", "device_del targets the frontend itself");
	plan_free(&p);

	o.nic_frontend = PLAN_FRONTEND_USB;
	o.usb_mac_fixed = true; /* the 0x40 rule has its own tests below */
	if (plan_build(&inv, &o, &p, &err) < 0)
		bail_out("plan: %s", err.msg);
	ok(p.steps[3].kind == PLAN_NIC_USB && !strcmp(p.steps[3].usb_bus, "qemu_usb.0") &&
		   !strcmp(p.steps[3].slot_name, "dev-incus_eth0"),
	   "--nic-frontend usb: a usb-net under Incus's id on qemu_usb.0");
	plan_free(&p);
	inventory_free(&inv);
}

/**
 * test_rehomed_plan() - a second run has nothing to do
 */
static void test_rehomed_plan(void)
{
	struct plan_opts o;
	struct inventory inv;
	struct cp_error err;
	struct plan p;
	size_t i;
	bool all = true;

	plan_opts_init(&o);
	load("incus-default-rehomed", &inv);
	ok(plan_build(&inv, &o, &p, &err) == 0, "a re-homed VM plans without refusal");
	is_int((long long)plan_todo(&p), 0, "nothing to do twice");
	for (i = 0; i < p.n; i++)
		all &= p.steps[i].already;
	ok(p.n == 4 && all, "the four filled slots are reported as already done");
	plan_free(&p);
	inventory_free(&inv);
}

/**
 * test_usb_rehomed_plan() - a second run after the usb path has nothing to do
 *
 * The usb path leaves a usb-net under Incus's id on a single-queue tap: the
 * same managed NIC id as before, which is "already", with either frontend.
 * Incus's own usb-net (on its multi-queue tap) is still re-homed.
 */
static void test_usb_rehomed_plan(void)
{
	struct plan_opts o;
	struct inventory inv;
	struct cp_error err;
	struct plan p;
	size_t i;

	plan_opts_init(&o);
	load("incus-usb-nvme-acpi", &inv);
	for (i = 0; i < inv.ndisks; i++)
		inv.disks[i].managed = false;
	o.nic_frontend = PLAN_FRONTEND_USB;
	o.usb_mac_fixed = true;
	ok(plan_build(&inv, &o, &p, &err) == 0 && plan_todo(&p) == 1,
	   "Incus's usb-net on its %u-queue tap is re-homed", inv.nics[0].nqueues);
	plan_free(&p);
	inv.nics[0].nqueues = 1; /* what the usb path leaves: a single-queue tap */
	ok(plan_build(&inv, &o, &p, &err) == 0 && p.n == 1 && p.steps[0].already &&
		   p.steps[0].kind == PLAN_NIC_USB,
	   "the re-homed usb-net is already done (usb frontend)");
	is_str(p.n ? p.steps[0].to : "",
	       "dev-incus_eth0 (usb-net on qemu_usb.0, mac 10:66:6a:ab:cd:ef)",
	       "described as where it is");
	plan_free(&p);
	plan_opts_init(&o);
	ok(plan_build(&inv, &o, &p, &err) == 0 && plan_todo(&p) == 0,
	   "the re-homed usb-net is already done (default pci frontend, no refusal)");
	plan_free(&p);
	inventory_free(&inv);
}

/**
 * test_disk_refusals() - each disk refusal, and all of them at once
 */
static void test_disk_refusals(void)
{
	struct plan_opts o;
	struct inventory inv;
	struct cp_error err;
	struct plan p;

	plan_opts_init(&o);
	load("incus-usb-nvme-acpi", &inv);
	refusal(&inv, &o, "ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off",
		"NVMe under ACPI hotplug");
	inventory_free(&inv);

	load("incus-default", &inv);
	inv.disks[2].read_only = true;
	refusal(&inv, &o, "dev-incus_data is read-only", "read-only disk for a writable slot");
	inv.disks[2].read_only = false;
	inv.disks[0].users = 2;
	refusal(&inv, &o, "attached to 2 frontends", "node in use elsewhere");
	inv.disks[0].users = 1;
	cp_strlcpy(inv.disks[0].fe.driver, "ide-hd", sizeof(inv.disks[0].fe.driver));
	refusal(&inv, &o, "QEMU cannot unplug IDE", "ide-hd cannot be unplugged");
	cp_strlcpy(inv.disks[0].fe.driver, "vhost-user-blk-pci", sizeof(inv.disks[0].fe.driver));
	refusal(&inv, &o, "coldplug re-homes scsi-hd", "unsupported driver");
	cp_strlcpy(inv.disks[0].fe.driver, "scsi-hd", sizeof(inv.disks[0].fe.driver));
	inv.nslots = 1; /* only coldplug-disk0 is left */
	refusal(&inv, &o, "coldplug qemu-conf --disk-slots 2 --nic-slots 1",
		"too few slots, with the exact qemu-conf line");
	o.incus_profile = true;
	refusal(&inv, &o, "regenerate the profile with 'coldplug incus-profile --disk-slots 2'",
		"too few slots under the Incus profile: the incus-profile line");
	o.incus_profile = false;
	cp_strlcpy(inv.status, "running", sizeof(inv.status));
	ok(plan_build(&inv, &o, &p, &err) < 0 && strstr(err.msg, "3 problems") &&
		   strstr(err.msg, "QEMU is running") && strstr(err.msg, "no free NIC slot") &&
		   strstr(err.msg, "--disk-slots 2"),
	   "every reason is listed at once");
	inventory_free(&inv);
}

/**
 * plan_text() - a plan's steps as "kind:slot kind:slot ..."
 * @p:		plan
 * @out:	buffer
 * @size:	its size
 */
static void plan_text(const struct plan *p, char *out, size_t size)
{
	size_t i, off = 0;

	out[0] = '\0';
	for (i = 0; i < p->n && off < size; i++)
		off += (size_t)snprintf(out + off, size - off, "%s%s:%s", i ? " " : "",
					plan_step_kind_name(p->steps[i].kind),
					p->steps[i].slot_name);
}

/**
 * test_run_state() - a guest that has run ("paused") is refused, with its
 * state and the fix, unless the caller allows it; "running" and anything
 * else is refused even then
 */
static void test_run_state(void)
{
	struct plan_opts o;
	struct inventory inv;
	struct cp_error err;
	struct plan p;

	plan_opts_init(&o);
	load("incus-default", &inv);
	cp_strlcpy(inv.status, "paused", sizeof(inv.status));
	refusal(&inv, &o, "QEMU is paused: its guest has run", "paused");
	refusal(&inv, &o, "restart the VM", "paused: the fix, restart");
	refusal(&inv, &o, "coldplug rehome --force", "paused: the fix, --force");
	o.allow_paused = true;
	ok(plan_build(&inv, &o, &p, &err) == 0 && p.n == 4,
	   "paused, allowed (--force): planned%s%s", p.n ? "" : ": ", p.n ? "" : err.msg);
	plan_free(&p);
	cp_strlcpy(inv.status, "running", sizeof(inv.status));
	refusal(&inv, &o, "QEMU is running: coldplug re-homes devices before the guest starts",
		"running, even with --force");
	cp_strlcpy(inv.status, "inmigrate", sizeof(inv.status));
	refusal(&inv, &o, "QEMU is inmigrate", "inmigrate (a stateful start)");
	o.allow_paused = false;
	cp_strlcpy(inv.status, "prelaunch", sizeof(inv.status));
	ok(plan_build(&inv, &o, &p, &err) == 0, "prelaunch: planned");
	plan_free(&p);
	ok(plan_check_run_state(NULL, true, &err) < 0 && strstr(err.msg, "unknown run state"),
	   "no run state at all: refused");
	inventory_free(&inv);
}

/**
 * test_cd_ports() - an ISO needs a free port of the xHCI, and a CD slot
 * number no device has; a refusal names the fix
 */
static void test_cd_ports(void)
{
	struct plan_opts o;
	struct inventory inv, re;
	struct cp_error err;
	struct plan p;
	char text[512];

	plan_opts_init(&o);
	load("incus-default", &inv);
	inv.usb_used = 8;
	refusal(&inv, &o, "no USB port left on the xHCI (qemu_usb.0) for its USB CD drive",
		"every port taken");
	o.incus_profile = true;
	refusal(&inv, &o, "[device \"qemu_spice-usb3\"]",
		"every port taken, under Incus: SPICE's usb-redir named as the fix");
	o.incus_profile = false;
	inv.usb_used = 3; /* Incus 6.0's three SPICE usb-redir devices */
	ok(plan_build(&inv, &o, &p, &err) == 0, "three usb-redir: 5 of 8 ports free, planned");
	plan_free(&p);
	inv.usb_used = 7;
	o.nic_frontend = PLAN_FRONTEND_USB;
	o.usb_mac_fixed = true;
	refusal(&inv, &o, "dev-incus_eth0: no USB port left",
		"the last port goes to the CD; the usb-net then finds none");
	o.nic_frontend = PLAN_FRONTEND_PCI;
	inv.usb_ports = 0;
	inv.usb_used = 0;
	refusal(&inv, &o, "dev-incus_iso: no USB port left", "an xHCI with no ports");
	inv.usb_ports = 8;
	inv.usb_bus[0] = '\0';
	refusal(&inv, &o, "-device qemu-xhci,id=xhci", "no xHCI: the fix is named");
	inventory_free(&inv);

	/* A legacy ide-cd coldplug-cd0 (older profile) keeps its number. */
	load("incus-default", &inv);
	load("incus-default-rehomed", &re);
	inv.slots = realloc(inv.slots, (inv.nslots + 1) * sizeof(*inv.slots));
	inv.slots[inv.nslots] = *inventory_find_slot(&re, INV_SLOT_CD, 0);
	cp_strlcpy(inv.slots[inv.nslots].driver, "ide-cd", sizeof(inv.slots[0].driver));
	inv.slots[inv.nslots].used = false;
	inv.slots[inv.nslots].node[0] = '\0';
	inv.nslots++;
	ok(plan_build(&inv, &o, &p, &err) == 0, "planned beside a legacy CD slot");
	plan_text(&p, text, sizeof(text));
	like(text, "cd:coldplug-cd1", "the ISO goes to coldplug-cd1: coldplug-cd0 is taken");
	plan_free(&p);
	inventory_free(&inv);
	inventory_free(&re);
}

/**
 * test_cd_release() - releasing a USB CD slot unplugs it, even when empty
 */
static void test_cd_release(void)
{
	struct inventory inv;
	struct inv_slot *s;
	struct cp_error err;
	struct plan p;

	load("incus-default-rehomed", &inv);
	s = (struct inv_slot *)inventory_find_slot(&inv, INV_SLOT_CD, 0);
	ok(s && plan_release(&inv, s, &p, &err) == 0 && p.n == 1 &&
		   p.steps[0].kind == PLAN_RELEASE_CD && !p.steps[0].tray &&
		   !strcmp(p.steps[0].slot_name, "coldplug-cd0"),
	   "a used USB CD slot: release unplugs coldplug-cd0");
	plan_free(&p);
	if (s) {
		s->used = false;
		s->node[0] = '\0';
	}
	ok(s && plan_release(&inv, s, &p, &err) == 0 && !strcmp(p.steps[0].to, "unplugged"),
	   "an empty one too (Incus's device_del took its scsi-cd)");
	plan_free(&p);
	if (s)
		cp_strlcpy(s->driver, "ide-cd", sizeof(s->driver));
	ok(s && plan_release(&inv, s, &p, &err) < 0,
	   "an empty legacy ide-cd has nothing to release");
	inventory_free(&inv);
}

/**
 * test_nic_pci_hotplug() - a PCI NIC is refused up front under ACPI hotplug
 *
 * Its device_del would time out after the disks had moved; a usb-net is not
 * a PCI device and is not refused.
 */
static void test_nic_pci_hotplug(void)
{
	struct plan_opts o;
	struct inventory inv;
	struct cp_error err;
	struct plan p;
	size_t i;

	plan_opts_init(&o);
	load("incus-default", &inv);
	ok(inv.nics[0].pci, "virtio-net-pci on a root port is a PCI NIC");
	for (i = 0; i < inv.ndisks; i++)
		inv.disks[i].managed = false;
	inv.hotplug = INV_HOTPLUG_ACPI;
	refusal(&inv, &o, "dev-incus_eth0 is a PCI device, and with ACPI PCI hotplug",
		"PCI NIC under ACPI hotplug, with the disks' message");
	o.nic_frontend = PLAN_FRONTEND_USB;
	o.usb_mac_fixed = true;
	refusal(&inv, &o, "acpi-pci-hotplug-with-bridge-support=off",
		"PCI NIC under ACPI hotplug, whatever the new frontend");
	inventory_free(&inv);

	load("incus-usb-nvme-acpi", &inv);
	ok(!inv.nics[0].pci, "usb-net is not a PCI NIC");
	for (i = 0; i < inv.ndisks; i++)
		inv.disks[i].managed = false;
	ok(plan_build(&inv, &o, &p, &err) == 0, "usb-net under ACPI hotplug is not refused");
	plan_free(&p);
	inventory_free(&inv);
}

/**
 * test_nic_refusals() - each NIC refusal
 */
static void test_nic_refusals(void)
{
	struct plan_opts o;
	struct inventory inv;
	struct plan_tap tap = { "eth0", "tapX" };
	struct cp_error err;
	struct plan p;

	plan_opts_init(&o);
	load("incus-default", &inv);
	cp_strlcpy(inv.nics[0].mac, "10:66:6a:00:00:01", sizeof(inv.nics[0].mac));
	refusal(&inv, &o, "coldplug qemu-conf --nic-mac eth0=10:66:6a:00:00:01",
		"no NIC slot with the NIC's MAC, with the fix");
	cp_strlcpy(inv.nics[0].mac, "10:66:6a:ab:cd:ef", sizeof(inv.nics[0].mac));
	inv.nics[0].netdev_users = 2;
	refusal(&inv, &o, "shared by 2 devices", "netdev shared by several devices");
	inv.nics[0].netdev_users = 1;
	cp_strlcpy(inv.nics[0].netdev_type, "user", sizeof(inv.nics[0].netdev_type));
	refusal(&inv, &o, "of type 'user'", "a netdev that is not a tap");
	cp_strlcpy(inv.nics[0].netdev_type, "tap", sizeof(inv.nics[0].netdev_type));
	inv.nics[0].ifname[0] = '\0';
	inv.nics[0].probe_errno = EACCES;
	refusal(&inv, &o, "CAP_SYS_PTRACE", "tap unknown: /proc not readable");
	refusal(&inv, &o, "--tap eth0=TAPNAME", "tap unknown: the fix is named");
	o.incus_profile = true;
	refusal(&inv, &o, "takes no tap name from a VM",
		"tap unknown to the daemon: it says why it does not ask the VM");
	refusal(&inv, &o, "Use a virtio-net NIC (the direct path",
		"tap unknown to the daemon: the fixes, direct path or privileges");
	o.incus_profile = false;
	o.taps = &tap;
	o.ntaps = 1;
	ok(plan_build(&inv, &o, &p, &err) == 0 && !strcmp(p.steps[3].ifname, "tapX"),
	   "--tap eth0=tapX names the tap");
	plan_free(&p);
	tap.ifname = "tap0123456789abcd";
	refusal(&inv, &o, "--tap eth0=tap0123456789abcd: the interface name is longer than 15",
		"--tap with a name longer than IFNAMSIZ: refused, not cut");
	tap.ifname = "/dev/tap1234567890123456789012345678901234567890123456789012345678";
	refusal(&inv, &o,
		"/dev/tap1234567890123456789012345678901234567890123456789012345678: "
		"the interface name is longer than 63",
		"--tap with a macvtap path longer than its field: refused, not cut");
	tap.ifname = "tapX";

	o.nic_frontend = PLAN_FRONTEND_USB;
	inv.ver_major = 10;
	inv.ver_minor = 0;
	cp_strlcpy(inv.package, "Debian 1:10.0.2+ds-2+deb13u1~bpo12+1", sizeof(inv.package));
	refusal(&inv, &o, "hwaddr=40:66:6a:ab:cd:ef", "usb-net on QEMU 10.0: the 0x40 MAC");
	o.usb_mac_fixed = true;
	ok(plan_build(&inv, &o, &p, &err) == 0, "--usb-mac-fixed overrides the version check");
	plan_free(&p);
	o.usb_mac_fixed = false;
	cp_strlcpy(inv.nics[0].mac, "40:66:6a:ab:cd:ef", sizeof(inv.nics[0].mac));
	ok(plan_build(&inv, &o, &p, &err) == 0, "a MAC that starts with 40: is fine anywhere");
	plan_free(&p);
	inv.usb_bus[0] = '\0';
	refusal(&inv, &o, "needs an xHCI", "usb-net without a USB bus");
	inventory_free(&inv);
	test_nic_pci_hotplug();
}

/**
 * test_usb_mac_versions() - which builds show the real MAC
 */
static void test_usb_mac_versions(void)
{
	ok(!plan_usb_mac_is_fixed(7, 2, 0, ""), "7.2.0: 0x40");
	ok(!plan_usb_mac_is_fixed(7, 2, 20, "Debian 1:7.2+dfsg-7+deb12u17"), "deb12u17: 0x40");
	ok(plan_usb_mac_is_fixed(7, 2, 22, "Debian 1:7.2+dfsg-7+deb12u18+b3"), "deb12u18: fixed");
	ok(plan_usb_mac_is_fixed(7, 2, 21, ""), "stable 7.2.21: fixed");
	ok(!plan_usb_mac_is_fixed(10, 0, 2, "Debian 1:10.0.2+ds-2+deb13u1~bpo12+1"),
	   "10.0.2 (measured): 0x40");
	ok(!plan_usb_mac_is_fixed(10, 1, 0, ""), "10.1: 0x40");
	ok(plan_usb_mac_is_fixed(10, 2, 0, ""), "10.2: fixed");
	ok(plan_usb_mac_is_fixed(11, 0, 0, NULL), "11.0: fixed");
}

/**
 * test_frontend_parse() - "pci" and "usb", nothing else
 */
static void test_frontend_parse(void)
{
	enum plan_nic_frontend f = PLAN_FRONTEND_PCI;

	ok(plan_frontend_parse("usb", &f) == 0 && f == PLAN_FRONTEND_USB, "usb");
	ok(plan_frontend_parse("pci", &f) == 0 && f == PLAN_FRONTEND_PCI, "pci");
	ok(plan_frontend_parse("USB", &f) < 0 && plan_frontend_parse("", &f) < 0 &&
		   plan_frontend_parse(NULL, &f) < 0 && f == PLAN_FRONTEND_PCI,
	   "anything else is refused, the value untouched");
}

/**
 * make_direct() - turn the recording's hub NIC slot into a direct slot on
 * tapcp0 (2 queues) and give the kernel's view of that tap
 * @inv:	inventory of incus-default
 *
 * Return: the slot
 */
static struct inv_slot *make_direct(struct inventory *inv)
{
	struct inv_slot *s = (struct inv_slot *)inventory_find_slot(inv, INV_SLOT_NIC, 0);

	if (!s)
		bail_out("incus-default has no NIC slot 0");
	s->direct = true;
	s->hubid = -1;
	s->nqueues = 2;
	cp_strlcpy(s->ifname, "tapcp0", sizeof(s->ifname));
	s->tap = (struct inv_tap){ .probed = true,
				   .exists = true,
				   .flags = IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE | IFF_PERSIST,
				   .queues = 3,
				   .disabled = 3,
				   .ifindex = 42,
				   .master = "br0" };
	return s;
}

/**
 * test_direct_plan() - a direct slot on the NIC's tap: the NIC and its
 * netdev go, the slot stays; every tap the kernel does not vouch for is
 * refused
 */
static void test_direct_plan(void)
{
	const struct plan_tap other = { "eth0", "tapother" };
	struct plan_opts o;
	struct inventory inv;
	struct cp_error err;
	struct inv_slot *s;
	struct plan p;

	plan_opts_init(&o);
	load("incus-default", &inv);
	s = make_direct(&inv);
	if (plan_build(&inv, &o, &p, &err) < 0)
		bail_out("plan: %s", err.msg);
	ok(p.steps[3].kind == PLAN_NIC_DIRECT && !strcmp(p.steps[3].slot_name, "coldplug-nic0") &&
		   !strcmp(p.steps[3].netdev, "incus_eth0") &&
		   !strcmp(p.steps[3].del_id, "dev-incus_eth0") &&
		   !strcmp(p.steps[3].ifname, "tapcp0") && p.steps[3].ifindex == 42 &&
		   p.steps[3].nqueues == 2,
	   "eth0 stays on its tap through the direct slot: Incus's NIC and netdev go");
	like(p.steps[3].to, "direct on tapcp0, 2 queues, on br0",
	     "the target names tap and bridge");
	plan_free(&p);
	o.nic_frontend = PLAN_FRONTEND_USB;
	if (plan_build(&inv, &o, &p, &err) < 0)
		bail_out("plan: %s", err.msg);
	ok(p.steps[3].kind == PLAN_NIC_DIRECT, "a direct slot wins over --nic-frontend usb");
	plan_free(&p);
	plan_opts_init(&o);

	s->tap.flags &= ~(unsigned)IFF_PERSIST;
	refusal(&inv, &o, "QEMU created it when it started", "a tap QEMU created");
	s->tap.flags |= IFF_PERSIST;
	s->tap.exists = false;
	s->tap.probe_errno = ENODEV;
	refusal(&inv, &o, "no such tap now", "a tap that is gone");
	s->tap.probe_errno = EPERM;
	refusal(&inv, &o, "cannot look at tap tapcp0 of NIC slot coldplug-nic0 in QEMU's network",
		"a tap in a namespace coldplug may not enter");
	s->tap.exists = true;
	s->tap.disabled = 2;
	refusal(&inv, &o, "tap tapcp0 has 5 queues attached, but NIC slot coldplug-nic0 holds 2",
		"a queue count that does not add up");
	s->tap.disabled = 3;
	o.taps = &other;
	o.ntaps = 1;
	refusal(&inv, &o, "dev-incus_eth0 is on tapother, but NIC slot coldplug-nic0",
		"the NIC's tap is another");
	o.taps = NULL;
	o.ntaps = 0;
	cp_strlcpy(s->mac, "10:66:6a:00:00:99", sizeof(s->mac));
	refusal(&inv, &o, "no free NIC slot carries it", "a direct slot with another MAC");
	inventory_free(&inv);

	load("incus-default", &inv);
	s = make_direct(&inv);
	inv.nnics = 0; /* a second run: Incus's NIC is gone */
	s->tap.disabled = 0;
	s->used = true;
	if (plan_build(&inv, &o, &p, &err) < 0)
		bail_out("plan: %s", err.msg);
	ok(p.n == 4 && p.steps[0].kind == PLAN_NIC_DIRECT && p.steps[0].already &&
		   p.steps[0].ifindex == 42 && !strcmp(p.steps[0].name, "tapcp0"),
	   "a second run reports the direct slot as already done (%zu steps, first %s)", p.n,
	   plan_step_kind_name(p.steps[0].kind));
	plan_free(&p);
	inventory_free(&inv);
}

/**
 * main() - run the tests
 *
 * Return: TAP exit status
 */
int main(void)
{
	static const char *const versions[] = { "7.2", "10.0" };
	size_t i;

	for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		qemu_ver = versions[i];
		diag("recordings of QEMU %s", qemu_ver);
		test_default_plan();
		test_rehomed_plan();
		test_usb_rehomed_plan();
		test_disk_refusals();
		test_run_state();
		test_nic_refusals();
		test_cd_ports();
		test_cd_release();
		test_direct_plan();
	}
	test_usb_mac_versions();
	test_frontend_parse();
	return done_testing();
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The planner: see coldplug/plan.h. Pure: no I/O, no QMP.
 *
 * It walks the managed disks and NICs in inventory order (boot order, then
 * name), checks each against what coldplug can do safely on this QEMU, and
 * hands out free slots in index order. Every problem is collected, so one
 * refusal tells the user everything to fix.
 */
#include <errno.h>
#include <linux/if_tun.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "coldplug/plan.h"
#include "names.h"
#include "util.h"

#define PLAN_REASONS_MAX 6144

/**
 * struct plan_ctx - planner state
 * @inv:	the inventory
 * @o:		the policy
 * @plan:	steps so far
 * @taken:	per inventory slot: assigned by this plan
 * @reasons:	refusal reasons, one "\n  - ..." each
 * @nreasons:	their count
 * @need_disk:	disk slots the plan needs (used + new)
 * @need_nic:	NIC slots it needs
 * @usb_free:	free ports of the xHCI at this point of the plan (steps
 *		before free the ports of the manager's USB devices they
 *		unplug, and take one for each device they add)
 * @cd_taken:	CD slot numbers in use or handed out by this plan
 * @err:	for out-of-memory
 */
struct plan_ctx {
	const struct inventory *inv;
	const struct plan_opts *o;
	struct plan *plan;
	bool *taken;
	char reasons[PLAN_REASONS_MAX];
	unsigned nreasons;
	size_t need_disk, need_nic;
	long usb_free;
	bool cd_taken[NAMES_MAX_CD_SLOTS];
	struct cp_error *err;
};

/**
 * refuse() - record one reason the plan cannot go ahead
 * @ctx:	planner state
 * @fmt:	printf format of the reason and its fix
 */
static void refuse(struct plan_ctx *ctx, const char *fmt, ...) CP_PRINTF(2, 3);
static void refuse(struct plan_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	ctx->nreasons++;
	va_start(ap, fmt);
	cp_reasons_vadd(ctx->reasons, sizeof(ctx->reasons), fmt, ap);
	va_end(ap);
}

/**
 * add_step() - append a zeroed step
 * @ctx:	planner state
 * @kind:	its kind
 *
 * Return: the step, or NULL when out of memory (@ctx->err is set)
 */
static struct plan_step *add_step(struct plan_ctx *ctx, enum plan_step_kind kind)
{
	struct plan *p = ctx->plan;
	struct plan_step *n = realloc(p->steps, (p->n + 1) * sizeof(*n));

	if (!n) {
		cp_error_set(ctx->err, CP_ERR_NOMEM, "out of memory");
		return NULL;
	}
	p->steps = n;
	memset(&n[p->n], 0, sizeof(*n));
	n[p->n].kind = kind;
	n[p->n].bootindex = -1;
	return &p->steps[p->n++];
}

/**
 * plan_usb_mac_is_fixed() - whether QEMU's usb-net shows the guest its MAC
 * @major:	QEMU version
 * @minor:	QEMU version
 * @micro:	QEMU version
 * @package:	QEMU package string from the QMP greeting
 *
 * Before "hw/usb/network: Remove hardcoded 0x40 prefix in STRING_ETHADDR
 * response" (QEMU 10.2; stable 7.2.21; Debian 1:7.2+dfsg-7+deb12u18) a CDC
 * ECM guest such as macOS reads a MAC whose first byte is 0x40.
 *
 * Return: true if this build is known to have the fix
 */
bool plan_usb_mac_is_fixed(int major, int minor, int micro, const char *package)
{
	const char *deb = package ? strstr(package, "+deb12u") : NULL;
	unsigned long debrev = deb ? strtoul(deb + 7, NULL, 10) : 0;

	if (major > 10 || (major == 10 && minor >= 2))
		return true;
	return major == 7 && minor == 2 && (micro >= 21 || debrev >= 18);
}

/**
 * describe_disk() - "dev-incus_root (scsi-hd on qemu_scsi.0)"
 * @d:		disk
 * @out:	buffer
 * @size:	its size
 */
static void describe_disk(const struct inv_disk *d, char *out, size_t size)
{
	if (d->fe.usb_id[0])
		snprintf(out, size, "%s (%s on %s %s on %s)", d->id, d->fe.driver, d->fe.usb_driver,
			 d->fe.usb_id, d->fe.usb_bus);
	else
		snprintf(out, size, "%s (%s on %s)", d->id, d->fe.driver, d->fe.bus);
}

/**
 * add_already() - report slots that an earlier run already filled
 * @ctx:	planner state
 *
 * Return: 0, or -1 when out of memory
 */
static int add_already(struct plan_ctx *ctx)
{
	const struct inventory *inv = ctx->inv;
	size_t i;

	for (i = 0; i < inv->nslots; i++) {
		const struct inv_slot *s = &inv->slots[i];
		struct plan_step *st;

		if (!s->used)
			continue;
		ctx->need_disk += s->kind == INV_SLOT_DISK;
		ctx->need_nic += s->kind == INV_SLOT_NIC;
		st = add_step(ctx, s->kind == INV_SLOT_DISK ? PLAN_DISK
				   : s->kind == INV_SLOT_CD ? PLAN_CD
				   : s->direct		    ? PLAN_NIC_DIRECT
							    : PLAN_NIC_PCI);
		if (!st)
			return -1;
		st->already = true;
		st->slot = s->index;
		CP_FIELD_COPY(st->slot_name, s->name);
		CP_FIELD_COPY(st->slot_path, s->path);
		CP_FIELD_COPY(st->node, s->node);
		CP_FIELD_COPY(st->netdev, s->uplink);
		if (s->direct)
			CP_FIELD_COPY(st->name, s->ifname);
		else if (s->kind == INV_SLOT_NIC)
			CP_FIELD_COPY(st->name, s->uplink);
		else
			CP_FIELD_COPY(st->name, s->node);
		CP_FIELD_COPY(st->ifname, s->ifname);
		st->ifindex = s->tap.ifindex;
		snprintf(st->from, sizeof(st->from), "%s", st->name);
		snprintf(st->to, sizeof(st->to), "%s (%s)", s->name, s->driver);
	}
	return 0;
}

/**
 * disk_driver_ok() - whether coldplug can unplug a disk frontend of @d's kind
 * @ctx:	planner state (a refusal is recorded otherwise)
 * @d:		disk
 *
 * Return: true if supported
 */
static bool disk_driver_ok(struct plan_ctx *ctx, const struct inv_disk *d)
{
	static const char *const ok[] = { "scsi-hd", "scsi-cd", "virtio-blk-pci", "nvme",
					  "usb-storage" };
	size_t i;

	for (i = 0; i < CP_ARRAY_SIZE(ok); i++)
		if (!strcmp(d->fe.driver, ok[i]))
			return true;
	if (!strncmp(d->fe.driver, "ide-", 4))
		refuse(ctx,
		       "%s is an %s: QEMU cannot unplug IDE/SATA devices, so coldplug cannot move "
		       "it (leave it out of the selection)",
		       d->id, d->fe.driver);
	else
		refuse(ctx,
		       "%s is a %s: coldplug re-homes scsi-hd, scsi-cd, virtio-blk-pci, nvme and "
		       "USB storage (usb-bot/usb-storage) frontends",
		       d->id, d->fe.driver);
	return false;
}

/**
 * pci_unplug_ok() - whether device_del of a PCI device completes while paused
 * @ctx:	planner state (a refusal is recorded otherwise)
 * @id:		the device, for the message
 *
 * Return: true under native PCIe hotplug
 */
static bool pci_unplug_ok(struct plan_ctx *ctx, const char *id)
{
	if (ctx->inv->hotplug == INV_HOTPLUG_NATIVE)
		return true;
	refuse(ctx,
	       "%s is a PCI device, and with %s PCI hotplug its device_del would not "
	       "complete before the guest runs; add "
	       "-global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off (coldplug "
	       "qemu-conf writes it)",
	       id, ctx->inv->hotplug == INV_HOTPLUG_ACPI ? "ACPI" : "this machine's");
	return false;
}

/**
 * disk_ok() - every check on one managed disk
 * @ctx:	planner state
 * @d:		disk
 *
 * Return: true if it can be re-homed
 */
static bool disk_ok(struct plan_ctx *ctx, const struct inv_disk *d)
{
	bool ok = disk_driver_ok(ctx, d);

	if (!*d->node) {
		refuse(ctx, "%s has no medium or node attached: nothing to re-home", d->id);
		return false;
	}
	if (d->users > 1) {
		refuse(ctx,
		       "node %s of %s is attached to %u frontends: coldplug moves a node only "
		       "when the manager's frontend is its one user",
		       d->node, d->id, d->users);
		ok = false;
	}
	if (d->read_only && !d->cdrom) {
		refuse(ctx,
		       "%s is read-only, and coldplug's disk slots are writable (QEMU fixes a "
		       "frontend's read-only flag at start); attach it read-write, or as an "
		       "ISO (CD-ROM)",
		       d->id);
		ok = false;
	}
	if (d->pci && !pci_unplug_ok(ctx, d->id))
		ok = false;
	return ok;
}

/**
 * take_slot() - the first free, unassigned slot of a kind
 * @ctx:	planner state
 * @kind:	slot kind
 *
 * Return: the slot's index in the inventory, or -1 if none is left
 */
static long take_slot(struct plan_ctx *ctx, enum inv_slot_kind kind)
{
	size_t i;

	for (i = 0; i < ctx->inv->nslots; i++) {
		const struct inv_slot *s = &ctx->inv->slots[i];

		if (s->kind == kind && !s->used && !ctx->taken[i]) {
			ctx->taken[i] = true;
			return (long)i;
		}
	}
	return -1;
}

/**
 * fill_block_step() - what a disk or CD step takes from the manager's disk
 * @st:	step
 * @d:	disk
 */
static void fill_block_step(struct plan_step *st, const struct inv_disk *d)
{
	CP_FIELD_COPY(st->name, d->name);
	CP_FIELD_COPY(st->dev_id, d->id);
	if (d->fe.usb_id[0])
		CP_FIELD_COPY(st->del_id, d->fe.usb_id);
	else
		CP_FIELD_COPY(st->del_id, d->id);
	st->fe = d->fe;
	describe_disk(d, st->from, sizeof(st->from));
	CP_FIELD_COPY(st->node, d->node);
	st->size = d->size;
	st->bootindex = d->bootindex;
}

/**
 * usb_unplugged() - a step unplugs a device from @bus: if that is the
 * xHCI, its port is free for the steps after it
 * @ctx:	planner state
 * @bus:	the USB bus the manager's device sits on, "" if none
 */
static void usb_unplugged(struct plan_ctx *ctx, const char *bus)
{
	if (*bus && !strcmp(bus, ctx->inv->usb_bus))
		ctx->usb_free++;
}

/**
 * usb_take_port() - a step plugs a device into the xHCI: take a port, or
 * refuse naming the fix
 * @ctx:	planner state
 * @id:		the manager's device, for the message
 * @what:	what needs the port ("its USB CD drive")
 *
 * Return: true if a port is free
 */
static bool usb_take_port(struct plan_ctx *ctx, const char *id, const char *what)
{
	const struct inventory *inv = ctx->inv;

	if (ctx->usb_free > 0) {
		ctx->usb_free--;
		return true;
	}
	refuse(ctx,
	       "%s: no USB port left on the xHCI (%s) for %s: it has %u ports, %u in use, and "
	       "this plan needs more; free one (%s), or give the xHCI more ports (p2/p3 up to "
	       "15)",
	       id, inv->usb_bus, what, inv->usb_ports, inv->usb_used,
	       ctx->o->incus_profile
		       ? "detach a USB device, or delete SPICE's USB redirection "
			 "in the profile's raw.qemu.conf: [device \"qemu_spice-usb3\"] "
			 "and [chardev \"qemu_spice-usb-chardev3\"] with no keys free a "
			 "port each; coldplug incus-profile --macos deletes all three"
		       : "remove a USB device from the VM");
	return false;
}

/**
 * free_cd_index() - the lowest CD slot number no device uses yet
 * @ctx:	planner state (the number is marked taken)
 *
 * Return: the number, or -1 if all are taken
 */
static long free_cd_index(struct plan_ctx *ctx)
{
	size_t i;

	for (i = 0; i < ctx->inv->nslots; i++)
		if (ctx->inv->slots[i].kind == INV_SLOT_CD &&
		    ctx->inv->slots[i].index < NAMES_MAX_CD_SLOTS)
			ctx->cd_taken[ctx->inv->slots[i].index] = true;
	for (i = 0; i < NAMES_MAX_CD_SLOTS; i++)
		if (!ctx->cd_taken[i]) {
			ctx->cd_taken[i] = true;
			return (long)i;
		}
	return -1;
}

/**
 * plan_cd() - the step for one managed CD-ROM: a new USB CD drive
 * @ctx:	planner state
 * @d:		the manager's CD-ROM frontend
 *
 * The ISO's node goes to a scsi-cd coldplug adds on a usb-bot of its own
 * on the xHCI, created with the node (never through a tray: Incus 6.0.0 to
 * 6.0.4 and 6.1 to 6.14 answer every DEVICE_TRAY_MOVED with an eject). The
 * scsi-cd keeps the manager's device id, so the manager's own device_del,
 * block_set_io_throttle and blockstats still find it.
 *
 * Return: 0 (a problem is a refusal), or -1 when out of memory
 */
static int plan_cd(struct plan_ctx *ctx, const struct inv_disk *d)
{
	struct plan_step *st;
	bool ok = disk_ok(ctx, d);
	long idx;

	if (!*ctx->inv->usb_bus) {
		refuse(ctx,
		       "%s is an ISO: coldplug gives it a USB CD drive on the VM's xHCI, and this "
		       "QEMU has no xHCI with an id; add one (-device qemu-xhci,id=xhci,p2=8,p3=8; "
		       "under Incus, keep its qemu_usb)",
		       d->id);
		return 0;
	}
	if (!ok)
		return 0;
	usb_unplugged(ctx, d->fe.usb_id[0] ? d->fe.usb_bus : "");
	if (!usb_take_port(ctx, d->id, "its USB CD drive"))
		return 0;
	idx = free_cd_index(ctx);
	if (idx < 0) {
		refuse(ctx, "%s: coldplug has no CD slot number left (at most %d CDs)", d->id,
		       NAMES_MAX_CD_SLOTS);
		return 0;
	}
	st = add_step(ctx, PLAN_CD);
	if (!st)
		return -1;
	fill_block_step(st, d);
	st->slot = (unsigned)idx;
	snprintf(st->slot_name, sizeof(st->slot_name), NAMES_CD_SLOT "%ld", idx);
	snprintf(st->slot_path, sizeof(st->slot_path), "/machine/peripheral/%s", st->slot_name);
	CP_FIELD_COPY(st->usb_bus, ctx->inv->usb_bus);
	snprintf(st->to, sizeof(st->to), "%s (usb-bot on %s, scsi-cd %s)", st->slot_name,
		 st->usb_bus, st->dev_id);
	return 0;
}

/**
 * plan_disk() - the step for one managed disk
 * @ctx:	planner state
 * @d:		disk
 *
 * Return: 0 (a problem is a refusal), or -1 when out of memory
 */
static int plan_disk(struct plan_ctx *ctx, const struct inv_disk *d)
{
	const struct inv_slot *s;
	struct plan_step *st;
	long si;

	if (d->cdrom)
		return plan_cd(ctx, d);
	ctx->need_disk++;
	if (!disk_ok(ctx, d))
		return 0;
	usb_unplugged(ctx, d->fe.usb_id[0] ? d->fe.usb_bus : "");
	si = take_slot(ctx, INV_SLOT_DISK);
	if (si < 0)
		return 0; /* counted in need_disk; refused with the numbers later */
	s = &ctx->inv->slots[si];
	st = add_step(ctx, PLAN_DISK);
	if (!st)
		return -1;
	fill_block_step(st, d);
	st->slot = s->index;
	CP_FIELD_COPY(st->slot_name, s->name);
	CP_FIELD_COPY(st->slot_path, s->path);
	snprintf(st->to, sizeof(st->to), "%s (%s)", s->name, s->driver);
	return 0;
}

/**
 * tap_hint() - the host interface the user named for a NIC, if any
 * @ctx:	planner state
 * @n:		NIC
 *
 * Return: the interface, or NULL
 */
static const char *tap_hint(const struct plan_ctx *ctx, const struct inv_nic *n)
{
	size_t i;

	for (i = 0; i < ctx->o->ntaps; i++)
		if (!strcmp(ctx->o->taps[i].name, n->name) || !strcmp(ctx->o->taps[i].name, n->id))
			return ctx->o->taps[i].ifname;
	return NULL;
}

/**
 * nic_host_side() - fill a step's host interface, or refuse
 * @ctx:	planner state
 * @n:		NIC
 * @st:		step to complete
 *
 * Return: true if the interface is known
 */
static bool nic_host_side(struct plan_ctx *ctx, const struct inv_nic *n, struct plan_step *st)
{
	const char *hint = tap_hint(ctx, n);
	bool macvtap = hint && cp_str_has_prefix(hint, "/dev/tap");
	char *dst = macvtap ? st->tapdev : st->ifname;
	size_t size = macvtap ? sizeof(st->tapdev) : sizeof(st->ifname);

	if (!hint && n->macvtap)
		CP_FIELD_COPY(st->tapdev, n->tapdev);
	else if (!hint)
		CP_FIELD_COPY(st->ifname, n->ifname);
	else if (cp_strlcpy(dst, hint, size) >= size) {
		*dst = '\0';
		refuse(ctx, "--tap %s=%s: the interface name is longer than %zu characters",
		       n->name, hint, size - 1);
		return false;
	}
	if (*st->ifname || *st->tapdev)
		return true;
	if (ctx->o->incus_profile)
		refuse(ctx,
		       "%s: its %s NIC slot needs a new queue on the NIC's tap, and coldplug serve "
		       "cannot tell which tap that is: it takes no tap name from a VM (a VM could "
		       "name another VM's tap), and reading QEMU's descriptors in /proc/%d/fdinfo "
		       "failed (%s). Use a virtio-net NIC (the direct path, which needs no "
		       "privilege), or run coldplug serve with CAP_SYS_PTRACE and CAP_NET_ADMIN "
		       "(README: Security)",
		       n->id, ctx->o->nic_frontend == PLAN_FRONTEND_USB ? "usb-net" : "hub-fed PCI",
		       (int)ctx->inv->pid, strerror(n->probe_errno ? n->probe_errno : ENOENT));
	else if (n->probe_errno)
		refuse(ctx,
		       "cannot tell which host tap serves %s: reading /proc/%d/fdinfo failed (%s; "
		       "coldplug needs CAP_SYS_PTRACE to read a QEMU that runs as another user); "
		       "name it with --tap %s=TAPNAME",
		       n->id, (int)ctx->inv->pid, strerror(n->probe_errno), n->name);
	else
		refuse(ctx, "cannot tell which host tap serves %s; name it with --tap %s=TAPNAME",
		       n->id, n->name);
	return false;
}

/**
 * nic_ok() - checks on one managed NIC that do not depend on the path
 * @ctx:	planner state
 * @n:		NIC
 *
 * Return: true if it can be re-homed
 */
static bool nic_ok(struct plan_ctx *ctx, const struct inv_nic *n)
{
	if (!*n->netdev) {
		refuse(ctx, "%s has no netdev: nothing to re-home", n->id);
		return false;
	}
	if (strcmp(n->netdev_type, "tap")) {
		refuse(ctx,
		       "netdev %s of %s is of type '%s': coldplug re-homes tap netdevs (Incus's "
		       "bridged, macvlan and physical-tap NICs)",
		       n->netdev, n->id, *n->netdev_type ? n->netdev_type : "unknown");
		return false;
	}
	if (n->netdev_users > 1) {
		refuse(ctx,
		       "netdev %s of %s is shared by %u devices: coldplug replaces a netdev only "
		       "when one NIC uses it",
		       n->netdev, n->id, n->netdev_users);
		return false;
	}
	return !n->pci || pci_unplug_ok(ctx, n->id);
}

/**
 * nic_slot_for_mac() - the free PCI NIC slot that carries MAC @mac
 * @ctx:	planner state
 * @mac:	the manager's MAC
 *
 * Return: index into the inventory's slots, or -1
 */
static long nic_slot_for_mac(struct plan_ctx *ctx, const char *mac)
{
	size_t i;

	for (i = 0; i < ctx->inv->nslots; i++) {
		const struct inv_slot *s = &ctx->inv->slots[i];

		if (s->kind == INV_SLOT_NIC && !s->direct && !s->used && !ctx->taken[i] &&
		    !strcasecmp(s->mac, mac)) {
			ctx->taken[i] = true;
			return (long)i;
		}
	}
	return -1;
}

/**
 * list_nic_slots() - "coldplug-nic0 52:54:.., coldplug-nic1 .." for messages
 * @inv:	inventory
 * @out:	buffer
 * @size:	its size
 */
static void list_nic_slots(const struct inventory *inv, char *out, size_t size)
{
	size_t i, off = 0;

	out[0] = '\0';
	for (i = 0; i < inv->nslots && off < size; i++)
		if (inv->slots[i].kind == INV_SLOT_NIC)
			off += (size_t)snprintf(out + off, size - off, "%s%s %s%s", off ? ", " : "",
						inv->slots[i].name, inv->slots[i].mac,
						inv->slots[i].used ? " (used)" : "");
	if (!off)
		cp_strlcpy(out, "none", size);
}

/**
 * nic_pci_target() - assign the PCI slot whose MAC is the NIC's, or refuse
 * @ctx:	planner state
 * @n:		NIC
 * @st:		step to complete
 *
 * Return: true if a slot was assigned
 */
static bool nic_pci_target(struct plan_ctx *ctx, const struct inv_nic *n, struct plan_step *st)
{
	long si = nic_slot_for_mac(ctx, n->mac);
	const struct inv_slot *s;
	char slots[512];

	if (si < 0) {
		list_nic_slots(ctx->inv, slots, sizeof(slots));
		refuse(ctx,
		       "%s has MAC %s but no free NIC slot carries it (NIC slots: %s); a PCI "
		       "slot's MAC is fixed when QEMU starts, so generate it with "
		       "coldplug qemu-conf --nic-mac %s=%s, or use --nic-frontend usb",
		       n->id, n->mac, slots, n->name, n->mac);
		return false;
	}
	s = &ctx->inv->slots[si];
	if (s->hubid < 0) {
		refuse(ctx,
		       "NIC slot %s is not fed by a net hub port: its netdev must be "
		       "type=hubport (single queue); regenerate it with coldplug qemu-conf",
		       s->name);
		return false;
	}
	st->slot = s->index;
	st->hubid = s->hubid;
	CP_FIELD_COPY(st->slot_name, s->name);
	CP_FIELD_COPY(st->slot_path, s->path);
	snprintf(st->to, sizeof(st->to), "%s (%s, hub %d, mac %s)", s->name, s->driver, s->hubid,
		 s->mac);
	return true;
}

/**
 * direct_slot_for_mac() - the direct NIC slot that carries MAC @mac
 * @ctx:	planner state
 * @mac:	the manager's MAC
 *
 * Return: the slot (now taken), or NULL
 */
static const struct inv_slot *direct_slot_for_mac(struct plan_ctx *ctx, const char *mac)
{
	size_t i;

	for (i = 0; i < ctx->inv->nslots; i++) {
		const struct inv_slot *s = &ctx->inv->slots[i];

		if (s->kind == INV_SLOT_NIC && s->direct && !ctx->taken[i] &&
		    !strcasecmp(s->mac, mac)) {
			ctx->taken[i] = true;
			return s;
		}
	}
	return NULL;
}

/**
 * direct_tap_ok() - the kernel shows the direct slot's tap as the
 * manager's: it exists, it is persistent (QEMU did not create it at start
 * because no tap of that name existed), the queues attached to it are the
 * slot's and the manager's netdev's, no more, no fewer, and it is the tap
 * the manager's NIC uses, where that is known
 * @ctx:	planner state (a refusal is recorded otherwise)
 * @n:		the manager's NIC
 * @s:		the direct slot with its MAC
 *
 * Return: true if the slot may carry the NIC alone
 */
static bool direct_tap_ok(struct plan_ctx *ctx, const struct inv_nic *n, const struct inv_slot *s)
{
	const char *hint = tap_hint(ctx, n);
	const char *theirs = hint ? hint : n->macvtap ? n->tapdev : n->ifname;

	if (!s->tap.exists && s->tap.probe_errno != ENODEV) {
		refuse(ctx,
		       "%s: cannot look at tap %s of NIC slot %s in QEMU's network namespace "
		       "(%s); coldplug needs CAP_SYS_ADMIN when QEMU runs in another namespace "
		       "than coldplug's",
		       n->id, s->ifname, s->name,
		       strerror(s->tap.probe_errno ? s->tap.probe_errno : EIO));
		return false;
	}
	if (!s->tap.exists) {
		refuse(ctx,
		       "%s: NIC slot %s opened tap %s when QEMU started, but the kernel has no "
		       "such tap now; restart the VM",
		       n->id, s->name, s->ifname);
		return false;
	}
	if (!(s->tap.flags & IFF_TAP) || !(s->tap.flags & IFF_PERSIST)) {
		refuse(ctx,
		       "%s: NIC slot %s is on %s, which %s: QEMU created it when it started "
		       "because no tap of that name existed, so it is on no bridge and would "
		       "carry nothing%s%s. The name came from volatile.%s.host_name at Incus's "
		       "config stage; restart the VM, and if it happens again, report it",
		       n->id, s->name, s->ifname,
		       s->tap.flags & IFF_TAP ? "is not persistent" : "is not a tap",
		       *theirs ? "; the NIC's own tap is " : "", theirs, n->name);
		return false;
	}
	if (s->tap.queues + s->tap.disabled != s->nqueues + n->nqueues) {
		refuse(ctx,
		       "%s: tap %s has %u queues attached, but NIC slot %s holds %u and %s's "
		       "netdev %s holds %u: they do not share that tap alone; restart the VM",
		       n->id, s->ifname, s->tap.queues + s->tap.disabled, s->name, s->nqueues,
		       n->id, n->netdev, n->nqueues);
		return false;
	}
	if (*theirs && strcmp(theirs, s->ifname)) {
		refuse(ctx,
		       "%s is on %s, but NIC slot %s (same MAC %s) opened tap %s; coldplug "
		       "removes the NIC only when its slot shares its tap; restart the VM",
		       n->id, theirs, s->name, s->mac, s->ifname);
		return false;
	}
	return true;
}

/**
 * nic_direct_target() - the step for a NIC whose direct slot sits on its tap
 * @ctx:	planner state
 * @n:		the manager's NIC
 * @s:		the slot
 * @st:		step to complete
 *
 * Return: true if the slot can carry it
 */
static bool nic_direct_target(struct plan_ctx *ctx, const struct inv_nic *n,
			      const struct inv_slot *s, struct plan_step *st)
{
	if (!direct_tap_ok(ctx, n, s))
		return false;
	st->kind = PLAN_NIC_DIRECT;
	st->slot = s->index;
	st->nqueues = s->nqueues;
	st->ifindex = s->tap.ifindex;
	CP_FIELD_COPY(st->ifname, s->ifname);
	CP_FIELD_COPY(st->slot_name, s->name);
	CP_FIELD_COPY(st->slot_path, s->path);
	snprintf(st->to, sizeof(st->to), "%s (%s, mac %s, direct on %s, %u queue%s%s%s)", s->name,
		 s->driver, s->mac, s->ifname, s->nqueues, s->nqueues == 1 ? "" : "s",
		 *s->tap.master ? ", on " : "", s->tap.master);
	return true;
}

/**
 * nic_usb_target() - check the usb-net path for one NIC, or refuse
 * @ctx:	planner state
 * @n:		NIC
 * @st:		step to complete
 *
 * Return: true if usb-net can carry it
 */
static bool nic_usb_target(struct plan_ctx *ctx, const struct inv_nic *n, struct plan_step *st)
{
	const struct inventory *inv = ctx->inv;
	bool ok = true;

	if (!*inv->usb_bus) {
		refuse(ctx,
		       "%s: --nic-frontend usb needs an xHCI controller with an id (Incus has "
		       "qemu_usb); this QEMU has none",
		       n->id);
		ok = false;
	}
	if (!ctx->o->usb_mac_fixed &&
	    !plan_usb_mac_is_fixed(inv->ver_major, inv->ver_minor, inv->ver_micro, inv->package) &&
	    strncasecmp(n->mac, "40:", 3)) {
		refuse(ctx,
		       "%s: QEMU %d.%d.%d's usb-net shows a CDC-ECM guest (macOS) the MAC "
		       "40:%s instead of %s (fixed in QEMU 10.2); give the NIC a MAC that "
		       "starts with 40: (incus config device set VM %s hwaddr=40:%s), use "
		       "--nic-frontend pci, or --usb-mac-fixed if this build has the fix",
		       n->id, inv->ver_major, inv->ver_minor, inv->ver_micro,
		       strlen(n->mac) > 3 ? n->mac + 3 : "", n->mac, n->name,
		       strlen(n->mac) > 3 ? n->mac + 3 : "");
		ok = false;
	}
	CP_FIELD_COPY(st->slot_name, n->id);
	CP_FIELD_COPY(st->usb_bus, inv->usb_bus);
	snprintf(st->to, sizeof(st->to), "%s (usb-net on %s, mac %s)", n->id, inv->usb_bus, n->mac);
	return ok;
}

/**
 * nic_rehomed() - whether @n is a usb-net an earlier run put in place
 * @n:	managed NIC
 *
 * The usb path keeps the manager's device and netdev ids, so a second run
 * finds a managed NIC again: a usb-net on a single-queue tap. The
 * manager's own NICs are PCI, or (Incus's usb-net) on a multi-queue tap.
 * (The PCI path leaves no managed NIC: its slot is reported as used.)
 *
 * Return: true if nothing is left to do for it
 */
static bool nic_rehomed(const struct inv_nic *n)
{
	return !strcmp(n->driver, "usb-net") && !strcmp(n->netdev_type, "tap") && n->nqueues == 1 &&
	       n->netdev_users == 1;
}

/**
 * add_nic_already() - report a NIC an earlier run re-homed onto usb-net
 * @ctx:	planner state
 * @n:		the NIC
 *
 * Return: 0, or -1 when out of memory
 */
static int add_nic_already(struct plan_ctx *ctx, const struct inv_nic *n)
{
	struct plan_step *st = add_step(ctx, PLAN_NIC_USB);

	if (!st)
		return -1;
	st->already = true;
	st->bootindex = -1;
	CP_FIELD_COPY(st->name, n->name);
	CP_FIELD_COPY(st->dev_id, n->id);
	CP_FIELD_COPY(st->netdev, n->netdev);
	CP_FIELD_COPY(st->mac, n->mac);
	CP_FIELD_COPY(st->slot_name, n->id);
	CP_FIELD_COPY(st->usb_bus, n->bus);
	snprintf(st->from, sizeof(st->from), "%s", n->id);
	snprintf(st->to, sizeof(st->to), "%s (usb-net on %s, mac %s)", n->id, n->bus, n->mac);
	return 0;
}

/**
 * plan_nic() - the step for one managed NIC
 * @ctx:	planner state
 * @n:		NIC
 *
 * Return: 0 (a problem is a refusal), or -1 when out of memory
 */
static int plan_nic(struct plan_ctx *ctx, const struct inv_nic *n)
{
	bool pci = ctx->o->nic_frontend == PLAN_FRONTEND_PCI;
	const struct inv_slot *direct;
	struct plan_step st;
	struct plan_step *p;
	bool ok;

	if (nic_rehomed(n))
		return add_nic_already(ctx, n);
	memset(&st, 0, sizeof(st));
	st.kind = pci ? PLAN_NIC_PCI : PLAN_NIC_USB;
	st.bootindex = -1;
	direct = direct_slot_for_mac(ctx, n->mac);
	ctx->need_nic += pci || direct;
	if (!nic_ok(ctx, n))
		return 0;
	if (direct)
		ok = nic_direct_target(ctx, n, direct, &st);
	else
		ok = nic_host_side(ctx, n, &st) &&
		     (pci ? nic_pci_target(ctx, n, &st) : nic_usb_target(ctx, n, &st));
	if (!ok)
		return 0;
	usb_unplugged(ctx, n->pci ? "" : n->bus);
	if (st.kind == PLAN_NIC_USB && !usb_take_port(ctx, n->id, "its usb-net"))
		return 0;
	CP_FIELD_COPY(st.name, n->name);
	CP_FIELD_COPY(st.dev_id, n->id);
	CP_FIELD_COPY(st.del_id, n->id);
	CP_FIELD_COPY(st.netdev, n->netdev);
	CP_FIELD_COPY(st.mac, n->mac);
	CP_FIELD_COPY(st.nic_driver, n->driver);
	if (!direct)
		st.nqueues = n->nqueues;
	snprintf(st.from, sizeof(st.from), "%s (%s on %s, netdev %s, %u queue%s on %s)", n->id,
		 n->driver, n->bus, n->netdev, n->nqueues, n->nqueues == 1 ? "" : "s",
		 *st.tapdev   ? st.tapdev
		 : *n->ifname ? n->ifname
			      : st.ifname);
	p = add_step(ctx, st.kind);
	if (!p)
		return -1;
	*p = st;
	return 0;
}

/**
 * refuse_slot_counts() - refuse when the QEMU has too few slots, with the
 * command line that adds them
 * @ctx:	planner state
 */
static void refuse_slot_counts(struct plan_ctx *ctx)
{
	size_t have_d = inventory_count_slots(ctx->inv, INV_SLOT_DISK);
	size_t have_n = inventory_count_slots(ctx->inv, INV_SLOT_NIC);
	bool pci = ctx->o->nic_frontend == PLAN_FRONTEND_PCI;
	size_t want_d = ctx->need_disk > have_d ? ctx->need_disk : have_d;
	size_t want_n = pci && ctx->need_nic > have_n ? ctx->need_nic : have_n;

	if (ctx->need_disk <= have_d && (!pci || ctx->need_nic <= have_n))
		return;
	if (ctx->o->incus_profile) {
		char disks[200] = "";

		if (want_d > have_d)
			snprintf(disks, sizeof(disks),
				 "regenerate the profile with 'coldplug incus-profile --disk-slots "
				 "%zu' (with your other options) and load it with "
				 "'incus profile edit'%s",
				 want_d, want_n > have_n ? "; " : "");
		refuse(ctx, "this VM has %zu disk and %zu NIC slot%s, and needs %zu and %zu; %s%s",
		       have_d, have_n, have_n == 1 ? "" : "s", ctx->need_disk,
		       pci ? ctx->need_nic : 0, disks,
		       want_n > have_n ? "the profile's stub adds one PCI NIC slot per NIC, at "
					 "most 3: for more NICs, regenerate the profile with "
					 "'coldplug incus-profile --nic-frontend usb'"
				       : "");
		return;
	}
	refuse(ctx,
	       "this QEMU has %zu disk and %zu NIC slot%s, and the plan needs %zu and %zu; start "
	       "it with the frontends of coldplug qemu-conf --disk-slots %zu --nic-slots %zu "
	       "(with your other options)",
	       have_d, have_n, have_n == 1 ? "" : "s", ctx->need_disk, pci ? ctx->need_nic : 0,
	       want_d, want_n);
}

/**
 * plan_check_run_state() - whether coldplug may change a QEMU in a run state
 * @status:		query-status "status"
 * @allow_paused:	the caller says a "paused" guest is not using its
 *			devices (rehome --force)
 * @err:		filled on refusal (CP_ERR_REFUSED, with the state and
 *			the fix)
 *
 * QEMU started with -S is "prelaunch" until the first `cont`; `stop` and
 * `system_reset` leave it so, and a reset of a paused VM brings it back
 * (measured on QEMU 7.2 and 10.0). "paused" therefore means the guest has
 * run (or ran elsewhere: an incoming migration ends paused under -S), and
 * its OS may be using the disks and NICs that re-homing would pull. Incus
 * presents "prelaunch" at pre-start (its -S start; a stateful start is
 * "inmigrate").
 *
 * Return: 0, or -1
 */
int plan_check_run_state(const char *status, bool allow_paused, struct cp_error *err)
{
	if (cp_streq(status, "prelaunch") || (allow_paused && cp_streq(status, "paused")))
		return 0;
	if (cp_streq(status, "paused"))
		return cp_error_set(err, CP_ERR_REFUSED,
				    "QEMU is paused: its guest has run (a VM that has not is "
				    "'prelaunch'), and moving its disks and NICs would pull them "
				    "from under it; restart the VM so that coldplug re-homes "
				    "before the guest starts (under Incus, coldplug serve does "
				    "it at pre-start), or, if the guest cannot be using them, run "
				    "'coldplug rehome --force'");
	return cp_error_set(err, CP_ERR_REFUSED,
			    "QEMU is %s: coldplug re-homes devices before the guest starts (start "
			    "QEMU with -S; under Incus, coldplug serve does it at pre-start)",
			    status ? status : "in an unknown run state");
}

/**
 * plan_walk() - plan every managed device
 * @ctx:	planner state
 *
 * Return: 0, or -1 when out of memory
 */
static int plan_walk(struct plan_ctx *ctx)
{
	const struct inventory *inv = ctx->inv;
	struct cp_error rs;
	size_t i;

	if (plan_check_run_state(inv->status, ctx->o->allow_paused, &rs) < 0)
		refuse(ctx, "%s", rs.msg);
	if (add_already(ctx) < 0)
		return -1;
	for (i = 0; i < inv->ndisks; i++)
		if (inv->disks[i].managed && plan_disk(ctx, &inv->disks[i]) < 0)
			return -1;
	for (i = 0; i < inv->nnics; i++)
		if (inv->nics[i].managed && plan_nic(ctx, &inv->nics[i]) < 0)
			return -1;
	refuse_slot_counts(ctx);
	return 0;
}

/**
 * plan_opts_init() - the default policy: NICs onto PCI slots
 * @o:	policy to initialise
 */
void plan_opts_init(struct plan_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->nic_frontend = PLAN_FRONTEND_PCI;
}

/**
 * plan_build() - plan the re-homing of every managed device
 * @inv:	inventory
 * @o:		policy
 * @out:	filled on success; free with plan_free()
 * @err:	filled on failure: CP_ERR_REFUSED lists every reason and fix
 *
 * Return: 0, or -1
 */
int plan_build(const struct inventory *inv, const struct plan_opts *o, struct plan *out,
	       struct cp_error *err)
{
	struct plan_ctx ctx = { .inv = inv, .o = o, .plan = out, .err = err };

	memset(out, 0, sizeof(*out));
	out->before_guest = true;
	out->allow_paused = o->allow_paused;
	ctx.usb_free = (long)inv->usb_ports - (long)inv->usb_used;
	snprintf(out->qemu, sizeof(out->qemu), "%d.%d.%d", inv->ver_major, inv->ver_minor,
		 inv->ver_micro);
	ctx.taken = cp_calloc(inv->nslots, sizeof(*ctx.taken), err);
	if (!ctx.taken)
		return -1;
	if (plan_walk(&ctx) < 0) {
		free(ctx.taken);
		plan_free(out);
		return -1;
	}
	free(ctx.taken);
	if (!ctx.nreasons)
		return 0;
	plan_free(out);
	return cp_error_set(err, CP_ERR_REFUSED, "refusing to change anything (%u problem%s):%s",
			    ctx.nreasons, ctx.nreasons == 1 ? "" : "s", ctx.reasons);
}

/**
 * attach_where() - where a device the manager attached while running sits,
 * as the user should read it
 * @ctx:	planner state (Incus or another manager)
 * @d:		the manager's frontend
 * @out:	the text
 * @size:	its size
 *
 * Return: @out
 */
static const char *attach_where(const struct plan_ctx *ctx, const struct inv_disk *d, char *out,
				size_t size)
{
	const char *who = ctx->o->incus_profile ? "Incus's" : "the manager's";

	if (d->fe.usb_id[0])
		snprintf(out, size, "on %s USB storage", who);
	else if (d->pci)
		snprintf(out, size, "on a PCIe root port, whose hotplug macOS does not do");
	else
		snprintf(out, size, "on %s virtio-scsi controller, which macOS cannot see", who);
	return out;
}

/**
 * attach_refused() - the one reason a device attached while running stays
 * where the manager put it, before any slot is looked at
 * @ctx:	planner state (the reason is recorded)
 * @d:		the manager's frontend
 *
 * Return: true if it must stay
 */
static bool attach_refused(struct plan_ctx *ctx, const struct inv_disk *d)
{
	static const char *const movable[] = { "scsi-hd", "scsi-cd", "virtio-blk-pci", "nvme" };
	const char *kind = d->cdrom ? "ISO" : "disk";
	char where[96];
	size_t i;

	for (i = 0; i < CP_ARRAY_SIZE(movable) && strcmp(d->fe.driver, movable[i]); i++)
		;
	if (d->fe.usb_id[0])
		refuse(ctx,
		       "%s \"%s\" attached while running is USB storage (%s), which macOS "
		       "can use: it stays where it is",
		       kind, d->name, d->fe.driver);
	else if (i == CP_ARRAY_SIZE(movable))
		refuse(ctx,
		       "%s \"%s\" attached while running is a %s, which coldplug cannot move "
		       "while the VM runs (it moves scsi-hd, scsi-cd, virtio-blk and nvme): "
		       "it stays %s",
		       kind, d->name, d->fe.driver, attach_where(ctx, d, where, sizeof(where)));
	else if (!*d->node)
		refuse(ctx, "%s \"%s\" attached while running has no medium: nothing to move", kind,
		       d->name);
	else if (d->users > 1)
		refuse(ctx,
		       "%s \"%s\" attached while running shares node %s with %u frontends: "
		       "it stays %s",
		       kind, d->name, d->node, d->users,
		       attach_where(ctx, d, where, sizeof(where)));
	else if (d->read_only && !d->cdrom)
		refuse(ctx,
		       "%s \"%s\" attached while running is read-only, and coldplug's disk "
		       "slots are writable: it stays %s. Attach it read-write, or as an ISO",
		       kind, d->name, attach_where(ctx, d, where, sizeof(where)));
	return ctx->nreasons > 0;
}

/**
 * attach_no_slot() - the refusal when every disk slot is in use
 * @ctx:	planner state (the reason is recorded)
 * @d:		the manager's frontend
 */
static void attach_no_slot(struct plan_ctx *ctx, const struct inv_disk *d)
{
	size_t have = inventory_count_slots(ctx->inv, INV_SLOT_DISK);
	char where[96];

	refuse(ctx,
	       "disk \"%s\" attached while running stays %s: no free disk slot (%zu of %zu "
	       "used). %s and restart the VM",
	       d->name, attach_where(ctx, d, where, sizeof(where)), have, have,
	       ctx->o->incus_profile
		       ? "Raise --disk-slots in the profile (coldplug incus-profile "
			 "--disk-slots N, then incus profile edit)"
		       : "Start QEMU with more slots (coldplug qemu-conf --disk-slots N)");
}

/**
 * plan_attach() - the one-step plan that moves a disk or ISO the manager
 * attached to a running VM onto coldplug's frontends
 * @inv:	a fresh inventory
 * @o:		policy (@incus_profile words the fixes)
 * @id:		the manager's frontend (qdev id)
 * @out:	filled on success; free with plan_free()
 * @err:	filled on failure: CP_ERR_REFUSED with the one reason it stays
 *		and its fix (for the journal), CP_ERR_INVALID when @id is not a
 *		managed disk of @inv (gone again)
 *
 * A disk goes to the first free disk slot, its step marked @live (the
 * guest is told the capacity); an ISO to a new USB CD drive, as at start.
 * Nothing here depends on the run state: the guest may run.
 *
 * Return: 0, or -1
 */
int plan_attach(const struct inventory *inv, const struct plan_opts *o, const char *id,
		struct plan *out, struct cp_error *err)
{
	struct plan_ctx ctx = { .inv = inv, .o = o, .plan = out, .err = err };
	const struct inv_disk *d = inventory_find_disk(inv, id);
	int rc = -1;

	memset(out, 0, sizeof(*out));
	snprintf(out->qemu, sizeof(out->qemu), "%d.%d.%d", inv->ver_major, inv->ver_minor,
		 inv->ver_micro);
	if (!d || !d->managed)
		return cp_error_set(err, CP_ERR_INVALID, "%s is not a managed disk any more", id);
	ctx.usb_free = (long)inv->usb_ports - (long)inv->usb_used;
	ctx.taken = cp_calloc(inv->nslots, sizeof(*ctx.taken), err);
	if (!ctx.taken)
		return -1;
	if (!attach_refused(&ctx, d) && plan_disk(&ctx, d) < 0)
		goto out;
	if (!ctx.nreasons && !out->n)
		attach_no_slot(&ctx, d);
	rc = 0;
	if (out->n) {
		out->steps[0].live = true;
		out->steps[0].bootindex = -1; /* the boot order stays as it was */
	}
out:
	free(ctx.taken);
	if (rc == 0 && !ctx.nreasons)
		return 0;
	plan_free(out);
	if (rc < 0)
		return -1;
	/* one reason, as one line: skip the list's "\n  - " */
	return cp_error_set(err, CP_ERR_REFUSED, "%s", ctx.reasons + 5);
}

/**
 * plan_release() - the one-step plan that frees a slot's node
 * @inv:	inventory (for the placeholder's existence)
 * @slot:	a used disk or CD slot
 * @out:	filled on success; free with plan_free()
 * @err:	filled on failure
 *
 * When the manager detaches a disk that sits on a slot, its blockdev-del
 * fails while the slot holds the node ("is in use") and Incus retries
 * forever; giving the slot its placeholder back lets the detach finish. A
 * CD slot's usb-bot is unplugged (with the scsi-cd on it, if the manager's
 * device_del has not removed that already), which frees its USB port too.
 *
 * Return: 0, or -1
 */
int plan_release(const struct inventory *inv, const struct inv_slot *slot, struct plan *out,
		 struct cp_error *err)
{
	struct plan_ctx ctx = { .inv = inv, .plan = out, .err = err };
	struct plan_step *st;

	bool usb_cd = slot->kind == INV_SLOT_CD && !strcmp(slot->driver, "usb-bot");

	memset(out, 0, sizeof(*out));
	if (slot->kind == INV_SLOT_NIC || (!slot->used && !usb_cd))
		return cp_error_set(err, CP_ERR_INVALID, "%s holds no node to release", slot->name);
	st = add_step(&ctx, slot->kind == INV_SLOT_CD ? PLAN_RELEASE_CD : PLAN_RELEASE_DISK);
	if (!st)
		return -1;
	st->tray = slot->kind == INV_SLOT_CD && !usb_cd;
	CP_FIELD_COPY(st->name, slot->node);
	CP_FIELD_COPY(st->node, slot->node);
	st->slot = slot->index;
	CP_FIELD_COPY(st->slot_name, slot->name);
	CP_FIELD_COPY(st->slot_path, slot->path);
	if (slot->kind == INV_SLOT_DISK) {
		snprintf(st->placeholder, sizeof(st->placeholder), NAMES_DISK_PLACEHOLDER "%u",
			 slot->index);
		st->placeholder_exists = inventory_has_node(inv, st->placeholder);
	}
	snprintf(st->from, sizeof(st->from), "%s (%s, holds %s)", slot->name, slot->driver,
		 *slot->node ? slot->node : "nothing");
	snprintf(st->to, sizeof(st->to), "%s",
		 *st->placeholder ? st->placeholder
		 : usb_cd	  ? "unplugged"
				  : "no medium");
	return 0;
}

/**
 * plan_free() - free a plan's steps
 * @p:	plan, may be zeroed
 */
void plan_free(struct plan *p)
{
	free(p->steps);
	p->steps = NULL;
	p->n = 0;
}

/**
 * plan_todo() - steps that will change something
 * @p:	plan
 *
 * Return: count of steps that are not "already" done
 */
size_t plan_todo(const struct plan *p)
{
	size_t i, n = 0;

	for (i = 0; i < p->n; i++)
		n += !p->steps[i].already;
	return n;
}

/**
 * plan_frontend_parse() - "pci" or "usb", as given on a command line or in
 * a request
 * @text:	the text, may be NULL
 * @out:	set on success
 *
 * Return: 0, or -1 for anything else (the caller says where it came from)
 */
int plan_frontend_parse(const char *text, enum plan_nic_frontend *out)
{
	if (cp_streq(text, "pci"))
		*out = PLAN_FRONTEND_PCI;
	else if (cp_streq(text, "usb"))
		*out = PLAN_FRONTEND_USB;
	else
		return -1;
	return 0;
}

/**
 * plan_step_kind_name() - short name of a step kind, for reports
 * @kind:	enum plan_step_kind
 *
 * Return: static string
 */
const char *plan_step_kind_name(enum plan_step_kind kind)
{
	switch (kind) {
	case PLAN_DISK:
		return "disk";
	case PLAN_CD:
		return "cd";
	case PLAN_NIC_PCI:
		return "nic-pci";
	case PLAN_NIC_USB:
		return "nic-usb";
	case PLAN_NIC_DIRECT:
		return "nic-direct";
	case PLAN_RELEASE_DISK:
		return "release-disk";
	case PLAN_RELEASE_CD:
		return "release-cd";
	}
	return "?";
}

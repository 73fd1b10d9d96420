/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Plan: a pure function from an inventory and the user's policy to the
 * ordered steps that re-home the manager's devices onto coldplug's slots.
 *
 * Everything that can be checked without touching QEMU is checked here, and
 * a plan that cannot complete is refused as a whole (CP_ERR_REFUSED, with
 * every reason and its fix), so that apply only starts when it can finish.
 */
#ifndef COLDPLUG_PLAN_H
#define COLDPLUG_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "coldplug/error.h"
#include "coldplug/inventory.h"
#include "coldplug/json.h"

/**
 * enum plan_nic_frontend - where re-homed NICs go
 * @PLAN_FRONTEND_PCI:	a cold PCI NIC slot behind a net hub (needs the
 *			slot's MAC to equal the manager's)
 * @PLAN_FRONTEND_USB:	a usb-net device added on the USB bus under the
 *			manager's device id and MAC
 */
enum plan_nic_frontend {
	PLAN_FRONTEND_PCI,
	PLAN_FRONTEND_USB,
};

/**
 * struct plan_tap - the user names the host interface of a NIC
 * @name:	the manager's device name ("eth0") or qdev id
 * @ifname:	host tap ("tap1234abcd") or macvtap device ("/dev/tap42")
 */
struct plan_tap {
	const char *name;
	const char *ifname;
};

/**
 * struct plan_opts - the user's policy
 * @nic_frontend:	enum plan_nic_frontend
 * @taps:		host interfaces named by the user (used when /proc
 *			cannot be read), or NULL
 * @ntaps:		their count
 * @usb_mac_fixed:	trust that this QEMU's usb-net shows the guest the
 *			real MAC even though its version says otherwise
 * @incus_profile:	the slots come from coldplug's Incus profile (disk and
 *			CD slots from its raw.qemu.conf, NIC slots from its
 *			stub): a refusal names `coldplug incus-profile` as the fix
 * @allow_paused:	re-home a QEMU that is "paused", i.e. whose guest has
 *			run (rehome --force: the user says the guest is not
 *			using its devices); never set by the daemon
 */
struct plan_opts {
	enum plan_nic_frontend nic_frontend;
	const struct plan_tap *taps;
	size_t ntaps;
	bool usb_mac_fixed;
	bool incus_profile;
	bool allow_paused;
};

/**
 * enum plan_step_kind - what one step moves
 * @PLAN_DISK:		a disk onto a virtio-blk slot (qom-set drive)
 * @PLAN_CD:		a CD-ROM onto a new USB CD drive: usb-bot + scsi-cd
 *			created on the manager's node (no tray)
 * @PLAN_NIC_PCI:	a NIC onto a PCI NIC slot through its hub
 * @PLAN_NIC_USB:	a NIC onto a new usb-net
 * @PLAN_NIC_DIRECT:	a NIC whose direct slot already sits on its tap: the
 *			manager's NIC and netdev go, the tap keeps the slot's
 *			queues only
 * @PLAN_RELEASE_DISK:	give a disk slot its placeholder back (the manager is
 *			detaching the disk and waits for its node to be free)
 * @PLAN_RELEASE_CD:	unplug a CD slot's usb-bot (a legacy ide-cd slot: take
 *			its medium out), for the same reason
 */
enum plan_step_kind {
	PLAN_DISK,
	PLAN_CD,
	PLAN_NIC_PCI,
	PLAN_NIC_USB,
	PLAN_NIC_DIRECT,
	PLAN_RELEASE_DISK,
	PLAN_RELEASE_CD,
};

/**
 * struct plan_step - one device to re-home
 * @kind:	enum plan_step_kind
 * @already:	found already on its slot by an earlier run: nothing to do
 * @name:	the manager's device name ("root", "eth0")
 * @dev_id:	qdev id of the manager's frontend
 * @del_id:	what device_del removes: @dev_id, or the USB storage device
 *		that holds it (Incus's usb-bot)
 * @fe:		how that frontend was created (to undo a failed step)
 * @from:	human description of the source
 * @to:		human description of the target
 * @slot:	slot number (disk, cd, nic-pci)
 * @slot_name:	coldplug-disk<N>, coldplug-cd<N> (the usb-bot's id),
 *		coldplug-nic<N>; for nic-usb, the usb-net's id (= @dev_id)
 * @slot_path:	QOM path of the slot's frontend (cd: of the usb-bot)
 * @tray:	release-cd: a legacy ide-cd slot, emptied through its tray
 * @live:	disk: the guest is running (plan_attach()): after the slot
 *		takes the node, a block_resize of the node to its own @size
 *		tells the guest the capacity (qom-set alone raises no
 *		virtio-blk config change)
 * @hubid:	nic-pci: the slot's net hub
 * @node:	disk/cd: the manager's node-name
 * @placeholder: release: the node the slot gets back ("" for a CD)
 * @placeholder_exists: release: that node exists already (no blockdev-add)
 * @size:	disk/cd: its size in bytes
 * @bootindex:	boot order to give the slot, -1 for none
 * @netdev:	nic: the manager's netdev id, reused for the new netdev
 * @mac:	nic: the manager's MAC
 * @nqueues:	nic: queues of the manager's netdev (all close at netdev_del);
 *		nic-direct: queues of the slot's netdev
 * @ifname:	nic: host tap to open a fresh queue on ("" with macvtap);
 *		nic-direct: the tap the slot and the manager share
 * @ifindex:	nic-direct: that tap's ifindex (it is watched: when the
 *		manager deletes it, the slot's netdev goes too)
 * @tapdev:	nic: macvtap character device ("/dev/tapN"), or ""
 * @usb_bus:	nic-usb, cd: the xHCI's bus for the usb-net or the
 *		usb-bot ("qemu_usb.0")
 * @nic_driver:	nic: the manager's NIC model
 */
struct plan_step {
	enum plan_step_kind kind;
	bool already;
	char name[INV_NAME_MAX];
	char dev_id[INV_NAME_MAX];
	char del_id[INV_NAME_MAX];
	struct inv_frontend fe;
	char from[640];
	char to[640];
	unsigned slot;
	char slot_name[INV_NAME_MAX];
	char slot_path[INV_PATH_MAX];
	bool tray;
	bool live;
	int hubid;
	char node[INV_NAME_MAX];
	char placeholder[INV_NAME_MAX];
	bool placeholder_exists;
	uint64_t size;
	int64_t bootindex;
	char netdev[INV_NAME_MAX];
	char mac[INV_MAC_MAX];
	unsigned nqueues;
	char ifname[INV_IFNAME_MAX];
	int ifindex;
	char tapdev[64];
	char usb_bus[INV_NAME_MAX];
	char nic_driver[64];
};

/**
 * struct plan - the ordered steps
 * @steps:	disks (boot order, then name), CDs, then NICs
 * @n:		their count
 * @qemu:	"7.2.22", for reports
 * @before_guest: the plan holds only while the guest has not run (a
 *		re-homing plan, not a release): apply re-reads the run state
 *		before its first change and changes nothing if it moved on
 * @allow_paused: with @before_guest, "paused" passes too (the policy's
 *		@allow_paused)
 */
struct plan {
	struct plan_step *steps;
	size_t n;
	char qemu[32];
	bool before_guest;
	bool allow_paused;
};

void plan_opts_init(struct plan_opts *o);
int plan_build(const struct inventory *inv, const struct plan_opts *o, struct plan *out,
	       struct cp_error *err);
int plan_attach(const struct inventory *inv, const struct plan_opts *o, const char *id,
		struct plan *out, struct cp_error *err);
int plan_release(const struct inventory *inv, const struct inv_slot *slot, struct plan *out,
		 struct cp_error *err);
void plan_free(struct plan *p);
int plan_check_run_state(const char *status, bool allow_paused, struct cp_error *err);
size_t plan_todo(const struct plan *p);
const char *plan_step_kind_name(enum plan_step_kind kind);
int plan_frontend_parse(const char *text, enum plan_nic_frontend *out);
bool plan_usb_mac_is_fixed(int major, int minor, int micro, const char *package);

#endif /* COLDPLUG_PLAN_H */

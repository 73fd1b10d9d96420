/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Inventory: what a QEMU holds, read over QMP alone (query-status,
 * query-block, query-named-block-nodes, qom-list / qom-get on
 * /machine/peripheral{,-anon}, query-pci, HMP "info network", query-fdsets),
 * plus /proc/<qemu pid>/fdinfo for the host taps behind NIC queues.
 *
 * The result is plain data (fixed-size strings, no pointers into JSON), so
 * the planner is a pure function of it and tests can build one by hand.
 *
 * Collection is asynchronous (inventory_collect(), for the daemon) or
 * synchronous (inventory_read(), for the command line); both end in
 * inventory_build(), a pure function of the raw replies.
 */
#ifndef COLDPLUG_INVENTORY_H
#define COLDPLUG_INVENTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "coldplug/error.h"
#include "coldplug/json.h"

#define INV_NAME_MAX   128
#define INV_PATH_MAX   256
#define INV_MAC_MAX    18
#define INV_MAX_QUEUES 64
#define INV_IFNAME_MAX 16
#define INV_MAX_FDSETS 8

struct qmp_client;

/**
 * enum inv_hotplug - how PCI unplug works on this q35 while the VM is paused
 * @INV_HOTPLUG_UNKNOWN:	not a q35, or could not tell
 * @INV_HOTPLUG_ACPI:		ACPI PCI hotplug (QEMU >= 6.1 default):
 *				device_del of a PCI device waits for a guest
 * @INV_HOTPLUG_NATIVE:		native PCIe hotplug
 *				(ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off):
 *				device_del of an unpowered slot is immediate
 */
enum inv_hotplug {
	INV_HOTPLUG_UNKNOWN,
	INV_HOTPLUG_ACPI,
	INV_HOTPLUG_NATIVE,
};

/**
 * struct inv_frontend - how a manager's frontend was created, enough to
 * create it again (device_add) if re-homing must be undone
 * @driver:	QOM type, e.g. "scsi-hd"
 * @bus:	name of its parent bus, e.g. "qemu_scsi.0", "qemu_pcie5"
 * @addr:	PCI address on that bus, "" if not PCI
 * @serial:	serial property, "" if none
 * @device_id:	SCSI device_id, "" if none
 * @channel:	SCSI channel, -1 if not SCSI
 * @scsi_id:	SCSI id, -1 if not SCSI
 * @lun:	SCSI lun, -1 if not SCSI
 * @usb_id:	id of the USB device holding it (usb-bot), "" if none
 * @usb_driver:	its type, e.g. "usb-bot"
 * @usb_bus:	its bus, e.g. "qemu_usb.0"
 * @usb_port:	its port, "" if unknown
 */
struct inv_frontend {
	char driver[64];
	char bus[INV_NAME_MAX];
	char addr[16];
	char serial[INV_NAME_MAX];
	char device_id[INV_NAME_MAX];
	int64_t channel;
	int64_t scsi_id;
	int64_t lun;
	char usb_id[INV_NAME_MAX];
	char usb_driver[64];
	char usb_bus[INV_NAME_MAX];
	char usb_port[32];
};

/**
 * struct inv_disk - a block frontend that is not one of coldplug's slots
 * @id:		qdev id, e.g. "dev-incus_root"
 * @path:	QOM path of the frontend
 * @name:	the manager's device name ("root" for Incus's dev-incus_root),
 *		or @id when it does not follow a known naming scheme
 * @node:	node-name attached (the top of the chain), "" if no medium
 * @fe:		how the frontend was created
 * @cdrom:	a CD-ROM frontend (scsi-cd, ide-cd)
 * @read_only:	the attached node is read-only
 * @bootindex:	boot order, -1 when unset
 * @size:	virtual size of the node in bytes
 * @users:	frontends with @node attached (1 normally)
 * @pci:	the frontend itself is a PCI device
 * @managed:	selected for re-homing (by id prefix or by name)
 */
struct inv_disk {
	char id[INV_NAME_MAX];
	char path[INV_PATH_MAX];
	char name[INV_NAME_MAX];
	char node[INV_NAME_MAX];
	struct inv_frontend fe;
	bool cdrom;
	bool read_only;
	int64_t bootindex;
	uint64_t size;
	unsigned users;
	bool pci;
	bool managed;
};

/**
 * enum inv_slot_kind - kinds of coldplug frontend
 * @INV_SLOT_DISK:	writable virtio-blk-pci on pcie.0 (coldplug-disk<N>)
 * @INV_SLOT_CD:	a USB CD drive coldplug added for an ISO: usb-bot
 *			coldplug-cd<N> on the xHCI with a scsi-cd on its bus
 *			(or, from an older profile, an ide-cd coldplug-cd<N>
 *			on the AHCI, which is never used again)
 * @INV_SLOT_NIC:	a PCI NIC on pcie.0 whose netdev is coldplug-nic<N>: a
 *			port of net hub <N>, or (direct) a tap netdev QEMU
 *			opened on the manager's tap by name
 */
enum inv_slot_kind {
	INV_SLOT_DISK,
	INV_SLOT_CD,
	INV_SLOT_NIC,
};

/**
 * struct inv_tap - a host tap as the kernel shows it (rtnetlink), not as
 * QEMU or a peer describes it
 * @probed:	it was looked up
 * @exists:	an interface of that name exists (in QEMU's network namespace)
 * @flags:	IFF_TUN/IFF_TAP, IFF_PERSIST, IFF_MULTI_QUEUE, IFF_VNET_HDR as
 *		the kernel reports them (0 for an interface that is no tun)
 * @queues:	queues attached and enabled
 * @disabled:	queues attached but disabled (virtio-net's unused pairs)
 * @ifindex:	its ifindex
 * @master:	the bridge (or other master) it is enslaved to, "" if none
 * @probe_errno: why it could not be read (0 if it was, ENODEV if absent)
 */
struct inv_tap {
	bool probed;
	bool exists;
	unsigned flags;
	unsigned queues;
	unsigned disabled;
	int ifindex;
	char master[INV_IFNAME_MAX];
	int probe_errno;
};

/**
 * struct inv_slot - one of coldplug's cold-plugged frontends
 * @kind:	enum inv_slot_kind
 * @index:	N in its name
 * @name:	coldplug-disk<N>, coldplug-cd<N>, coldplug-nic<N>
 * @path:	QOM path of the frontend device (cd: of the usb-bot)
 * @driver:	its QOM type ("usb-bot" for a CD slot, "ide-cd" for a legacy one)
 * @node:	disk/cd: node attached now, "" when the CD is empty
 * @used:	disk/cd: holds a node other than its placeholder;
 *		nic: the hub has an uplink
 * @cd_id:	cd: qdev id of the scsi-cd on the usb-bot (the manager's
 *		device id, kept), "" if it has none or there is none
 * @tray_open:	cd: query-block says its tray is open (something ejected it)
 * @bootindex:	disk/cd: boot order, -1 when unset
 * @mac:	nic: the MAC the guest sees
 * @uplink:	nic: id of the netdev plugged into the hub, "" if none
 * @hubid:	nic: the hub's id (-1 for a direct slot)
 * @direct:	nic: its netdev is a tap QEMU opened by name at start (the
 *		direct path), not a hub port
 * @nqueues:	nic, direct: that netdev's queues
 * @ifname:	nic, direct: the tap it names ("ifname=" in "info network")
 * @tap:	nic, direct: that tap as the kernel shows it now
 * @fdsets:	disk/cd: monitor fdsets whose opaque names @node (or a node
 *		of its chain, @node_raw / @node_backingN), as the manager added
 *		them (add-fd); the manager removes them first when it detaches
 * @nfdsets:	their count
 */
struct inv_slot {
	enum inv_slot_kind kind;
	unsigned index;
	char name[INV_NAME_MAX];
	char path[INV_PATH_MAX];
	char driver[64];
	char node[INV_NAME_MAX];
	bool used;
	char cd_id[INV_NAME_MAX];
	bool tray_open;
	int64_t bootindex;
	char mac[INV_MAC_MAX];
	char uplink[INV_NAME_MAX];
	int hubid;
	bool direct;
	unsigned nqueues;
	char ifname[INV_IFNAME_MAX];
	struct inv_tap tap;
	int64_t fdsets[INV_MAX_FDSETS];
	unsigned nfdsets;
};

/**
 * struct inv_nic - a NIC frontend that is not one of coldplug's slots
 * @id:		qdev id, e.g. "dev-incus_eth0"
 * @path:	QOM path
 * @name:	the manager's device name ("eth0"), or @id
 * @driver:	QOM type, e.g. "virtio-net-pci", "usb-net"
 * @bus:	parent bus name
 * @mac:	MAC address
 * @netdev:	id of its netdev ("incus_eth0"), "" if none
 * @netdev_type: type of that netdev ("tap", ...)
 * @nqueues:	queues of the netdev
 * @fds:	the queues' descriptor numbers in QEMU (tap via fds=)
 * @nfds:	how many of @fds are known
 * @vhost:	the netdev uses vhost-net
 * @ifname:	host interface behind the queues (from /proc fdinfo), "" if
 *		not found
 * @macvtap:	the queues are /dev/tapN (macvtap), not /dev/net/tun
 * @tapdev:	for macvtap, the character device ("/dev/tap42")
 * @probe_errno: why @ifname could not be read from /proc (0 if it was, or
 *		was not tried)
 * @netdev_users: NICs and hub ports that use @netdev (1 normally)
 * @pci:	the NIC itself is a PCI device (virtio-net-pci, not usb-net)
 * @managed:	selected for re-homing
 */
struct inv_nic {
	char id[INV_NAME_MAX];
	char path[INV_PATH_MAX];
	char name[INV_NAME_MAX];
	char driver[64];
	char bus[INV_NAME_MAX];
	char mac[INV_MAC_MAX];
	char netdev[INV_NAME_MAX];
	char netdev_type[32];
	unsigned nqueues;
	int fds[INV_MAX_QUEUES];
	unsigned nfds;
	bool vhost;
	char ifname[INV_IFNAME_MAX];
	bool macvtap;
	char tapdev[64];
	int probe_errno;
	unsigned netdev_users;
	bool pci;
	bool managed;
};

/**
 * struct inventory - everything coldplug needs to know about one QEMU
 * @ver_major:		QEMU version
 * @ver_minor:		QEMU version
 * @ver_micro:		QEMU version
 * @package:		QEMU package string ("Debian 1:7.2+dfsg-7+deb12u18")
 * @pid:		QEMU's pid (from the socket's peer credentials), 0 unknown
 * @status:		run state from query-status ("prelaunch", "paused", ...)
 * @hotplug:		enum inv_hotplug
 * @usb_bus:		the xHCI's bus, for usb-net and CD slots ("qemu_usb.0"),
 *			"" if none
 * @usb_ports:		ports of that xHCI (max of its p2 and p3; QEMU's
 *			default 4 when they could not be read)
 * @usb_used:		USB devices plugged into it (each takes a port)
 * @disks:		block frontends that are not slots, sorted: boot order
 *			first, then name
 * @ndisks:		their count
 * @slots:		coldplug's frontends, sorted by kind and index
 * @nslots:		their count
 * @nics:		NIC frontends that are not slots, sorted like @disks
 * @nnics:		their count
 * @nodes:		every named block node (query-named-block-nodes)
 * @nnodes:		their count
 */
struct inventory {
	int ver_major;
	int ver_minor;
	int ver_micro;
	char package[128];
	pid_t pid;
	char status[32];
	enum inv_hotplug hotplug;
	char usb_bus[INV_NAME_MAX];
	unsigned usb_ports;
	unsigned usb_used;
	struct inv_disk *disks;
	size_t ndisks;
	struct inv_slot *slots;
	size_t nslots;
	struct inv_nic *nics;
	size_t nnics;
	char (*nodes)[INV_NAME_MAX];
	size_t nnodes;
};

/**
 * struct inv_select - which devices are the manager's, to be re-homed
 * @id_prefix:	qdev id prefix of managed devices ("dev-incus_" by default)
 * @ids:	further qdev ids to manage, or NULL
 * @nids:	their count
 * @proc_root:	where the host taps behind NIC queues are read: "/proc" when
 *		NULL (tests pass a tree of their own)
 */
struct inv_select {
	const char *id_prefix;
	const char *const *ids;
	size_t nids;
	const char *proc_root;
};

#define INV_INCUS_PREFIX "dev-incus_"

typedef void (*inventory_fn)(struct inventory *inv, const struct cp_error *err, void *userdata);
typedef void (*inventory_probed_fn)(void *userdata);

void inventory_free(struct inventory *inv);
int inventory_read(struct qmp_client *c, const struct inv_select *sel, struct inventory *inv,
		   struct cp_error *err);
int inventory_collect(struct qmp_client *c, const struct inv_select *sel, struct inventory *inv,
		      inventory_fn fn, void *userdata, struct cp_error *err);
int inventory_collect_brief(struct qmp_client *c, const struct inv_select *sel,
			    struct inventory *inv, inventory_fn fn, void *userdata,
			    struct cp_error *err);
int inventory_read_raw(struct qmp_client *c, cp_json **raw, struct cp_error *err);
int inventory_build(const cp_json *raw, const struct inv_select *sel, struct inventory *inv,
		    struct cp_error *err);
int inventory_probe_taps(struct inventory *inv, const char *proc_root, struct cp_error *err);
void inventory_probe_tap(const char *ifname, pid_t pid, const char *proc_root, struct inv_tap *out);
int inventory_probe_slot_taps(struct qmp_client *c, struct inventory *inv, const char *proc_root,
			      inventory_probed_fn fn, void *userdata, struct cp_error *err);

const struct inv_slot *inventory_find_slot(const struct inventory *inv, enum inv_slot_kind kind,
					   unsigned index);
const struct inv_disk *inventory_find_disk(const struct inventory *inv, const char *id);
const struct inv_nic *inventory_find_nic(const struct inventory *inv, const char *id);
size_t inventory_count_slots(const struct inventory *inv, enum inv_slot_kind kind);
cp_json *inventory_to_json(const struct inventory *inv);
bool inventory_has_node(const struct inventory *inv, const char *node);
bool inventory_selects(const struct inv_select *sel, const char *id);
bool inventory_fdset_names_node(const char *opaque, const char *node);

#endif /* COLDPLUG_INVENTORY_H */

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Inventory collection: the QMP side. Three rounds of batched queries fill
 * one raw JSON document, which inventory_build() turns into the inventory:
 *
 *   {"version": {"major":7,"minor":2,"micro":22,"package":"..."}, "pid": N,
 *    "query-status": {...}, "query-block": [...],
 *    "query-named-block-nodes": [...], "query-fdsets": [...],
 *    "peripheral": [qom-list], "peripheral-anon": [qom-list],
 *    "info-network": "text", "acpi-device": "/machine/unattached/device[N]",
 *    "props": {"<QOM path>": {"@type": "scsi-hd", "drive": "incus_root", ...}}}
 *
 * Round 1: the fixed queries. Round 2: for every device, the properties
 * that say what it is (parent_bus, drive, netdev, bootindex; fewer for a
 * type known to be a disk or a NIC, none for one known to be neither; the
 * drive of a frontend query-block lists is taken from there), and the q35
 * hotplug mode. Round 3: for the manager's block, NIC and USB
 * devices, what it takes to describe and re-create them (a NIC slot: its
 * MAC; a disk slot: the boot order of the disk it holds, if any); for the
 * xHCI, its port counts (p2, p3).
 *
 * QEMU reads QMP input one byte per main-loop turn (its monitor_can_read()
 * returns 1), about 15 us a byte on 7.2 under TCG: a command costs what its
 * text costs, whether sent alone or pipelined. Hence no read whose answer
 * is already known, and the brief collection (verify's) below.
 *
 * `coldplug inventory --raw` prints this document: a user can send it with a
 * bug report and the planner can be replayed on it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "coldplug/inventory.h"
#include "coldplug/log.h"
#include "coldplug/qmp.h"
#include "coldplug/qmp_batch.h"
#include "names.h"
#include "util.h"

/* Devices read one by one in round 2, at most: a VM has tens; a peer that
 * lists thousands would have us queue a command per device per property. */
#define COLLECT_MAX_DEVICES 1024

/* Round 1, in order. */
enum {
	R1_STATUS,
	R1_BLOCK,
	R1_NODES,
	R1_FDSETS,
	R1_PERIPHERAL,
	R1_ANON,
	R1_NETWORK,
	R1_ACPI,
	R1_COUNT,
};

static const char *const round2_props[] = { "parent_bus", "drive", "netdev", "bootindex" };
static const char *const scsi2_props[] = { "parent_bus", "drive" };
static const char *const pci_block2_props[] = { "drive" };
static const char *const nic2_props[] = { "netdev" };
static const char *const block_props[] = { "parent_bus", "bootindex", "serial",	 "addr",
					   "device_id",	 "channel",   "scsi-id", "lun" };
static const char *const scsi_props[] = { "parent_bus", "bootindex", "serial", "device_id",
					  "channel",	"scsi-id",   "lun" };
static const char *const pci_block_props[] = { "parent_bus", "bootindex", "serial", "addr" };
static const char *const nic_props[] = { "parent_bus", "bootindex", "mac", "addr" };
static const char *const nic_slot_props[] = { "mac" };
static const char *const slot_props[] = { "bootindex" };
static const char *const usb_props[] = { "port" };
static const char *const xhci_props[] = { "p2", "p3" };

/*
 * A brief collection (verify's, after apply) reads only what tells where each
 * disk and NIC now is: round 2 (what each device is), and a NIC's MAC. No
 * boot order, no addresses, no details to re-create a frontend, no hotplug
 * mode.
 */
static const char *const brief_unknown_props[] = { "parent_bus", "drive", "netdev" };

/*
 * What each round reads depends on the device's type: QEMU answers one
 * qom-get per main-loop turn (about 1.7 ms under TCG), and Incus's layout
 * has two dozen devices that are never a disk, a CD, a NIC or a USB device
 * beside a few that are. A type not listed is read in full (an unknown type
 * may be a frontend).
 */
enum dev_class {
	DEV_UNKNOWN,
	DEV_INERT,
	DEV_SCSI,
	DEV_PCI_BLOCK,
	DEV_NIC,
};

static const struct {
	const char *type;
	enum dev_class cls;
} known_types[] = {
	{ "pcie-root-port", DEV_INERT },
	{ "pci-bridge", DEV_INERT },
	{ "pcie-pci-bridge", DEV_INERT },
	{ "virtio-scsi-pci", DEV_INERT },
	{ "virtio-serial-pci", DEV_INERT },
	{ "virtserialport", DEV_INERT },
	{ "virtconsole", DEV_INERT },
	{ "vmgenid", DEV_INERT },
	{ "vmcoreinfo", DEV_INERT },
	{ "virtio-keyboard-pci", DEV_INERT },
	{ "virtio-tablet-pci", DEV_INERT },
	{ "virtio-mouse-pci", DEV_INERT },
	{ "virtio-rng-pci", DEV_INERT },
	{ "virtio-vga", DEV_INERT },
	{ "virtio-gpu-pci", DEV_INERT },
	{ "VGA", DEV_INERT },
	{ "qxl-vga", DEV_INERT },
	{ "qxl", DEV_INERT },
	{ "intel-hda", DEV_INERT },
	{ "ich9-intel-hda", DEV_INERT },
	{ "hda-duplex", DEV_INERT },
	{ "hda-micro", DEV_INERT },
	{ "hda-output", DEV_INERT },
	{ "virtio-9p-pci", DEV_INERT },
	{ "vhost-vsock-pci", DEV_INERT },
	{ "vhost-user-vsock-pci", DEV_INERT },
	{ "virtio-balloon-pci", DEV_INERT },
	{ "isa-applesmc", DEV_INERT },
	{ "pvpanic", DEV_INERT },
	{ "isa-serial", DEV_INERT },
	{ "ich9-ahci", DEV_INERT },
	{ "qemu-xhci", DEV_INERT },
	{ "nec-usb-xhci", DEV_INERT },
	{ "scsi-hd", DEV_SCSI },
	{ "scsi-cd", DEV_SCSI },
	{ "virtio-blk-pci", DEV_PCI_BLOCK },
	{ "nvme", DEV_PCI_BLOCK },
	{ "virtio-net-pci", DEV_NIC },
	{ "vmxnet3", DEV_NIC },
	{ "e1000", DEV_NIC },
	{ "e1000-82545em", DEV_NIC },
	{ "e1000e", DEV_NIC },
	{ "usb-net", DEV_NIC },
};

/**
 * dev_class() - what kind of device a QOM type is, as far as coldplug cares
 * @type:	QOM type
 *
 * Return: its class, DEV_UNKNOWN if not listed
 */
static enum dev_class dev_class(const char *type)
{
	size_t len = type ? strlen(type) : 0;
	size_t i;

	/* CPUs (Incus hot-plugs them: "cpu010", type <model>-x86_64-cpu) */
	if (len > 4 && !strcmp(type + len - 4, "-cpu"))
		return DEV_INERT;
	for (i = 0; type && i < CP_ARRAY_SIZE(known_types); i++)
		if (!strcmp(type, known_types[i].type))
			return known_types[i].cls;
	return DEV_UNKNOWN;
}

/**
 * struct collect - one inventory collection in progress
 * @c:		client
 * @sel:	device selection (borrowed; must outlive the collection)
 * @inv:	filled at the end
 * @fn:		completion callback
 * @userdata:	passed to @fn
 * @raw:	the raw document being filled
 * @batch:	the round in flight
 * @round:	1, 2 or 3
 * @paths:	for rounds 2 and 3, the QOM path of each batch item
 * @names:	and the property each item reads
 * @nitems:	count of @paths / @names
 * @raw_out:	if set, receives the raw document and no inventory is built
 * @brief:	read only where each device is (see brief_unknown_props)
 */
struct collect {
	struct qmp_client *c;
	const struct inv_select *sel;
	struct inventory *inv;
	inventory_fn fn;
	void *userdata;
	cp_json *raw;
	struct qmp_batch *batch;
	int round;
	char (*paths)[INV_PATH_MAX];
	const char **names;
	size_t nitems;
	cp_json **raw_out;
	bool brief;
};

static void collect_round_done(struct qmp_batch *b, const struct cp_error *e, void *userdata);

/**
 * round1_batch() - the fixed queries
 * @brief:	leave out the hotplug mode (the last one)
 *
 * Return: new batch, or NULL when out of memory
 */
static struct qmp_batch *round1_batch(bool brief)
{
	struct qmp_batch *b = qmp_batch_new();

	if (!b || qmp_batch_add(b, "query-status", NULL) < 0 ||
	    qmp_batch_add(b, "query-block", NULL) < 0 ||
	    qmp_batch_add_args(b, "query-named-block-nodes", cp_json_obj(CP_BOOL("flat", true))) <
		    0 ||
	    qmp_batch_add(b, "query-fdsets", NULL) < 0 ||
	    qmp_batch_add_qom_list(b, "/machine/peripheral") < 0 ||
	    qmp_batch_add_qom_list(b, "/machine/peripheral-anon") < 0 ||
	    qmp_batch_add_args(b, "human-monitor-command",
			       cp_json_obj(CP_STR("command-line", "info network"))) < 0 ||
	    (!brief && qmp_batch_add_qom_get(b, "/machine", "acpi-device") < 0)) {
		qmp_batch_free(b);
		return NULL;
	}
	return b;
}

/**
 * raw_set() - store a round-1 answer in the raw document
 * @col:	collection
 * @key:	document key
 * @i:		batch index
 *
 * Return: 0, or -1 when out of memory
 */
static int raw_set(struct collect *col, const char *key, size_t i)
{
	cp_json *v = qmp_batch_result(col->batch, i);

	if (!v)
		return 0;
	return cp_json_set(col->raw, key, cp_json_ref(v));
}

/**
 * props_of() - the "props" entry of @path, created on first use
 * @col:	collection
 * @path:	QOM path
 *
 * Return: borrowed object, or NULL when out of memory
 */
static cp_json *props_of(struct collect *col, const char *path)
{
	cp_json *all = cp_json_get_object(col->raw, "props");
	cp_json *p;

	if (!all) {
		if (cp_json_set(col->raw, "props", cp_json_new_object()) < 0)
			return NULL;
		all = cp_json_get_object(col->raw, "props");
	}
	p = cp_json_get_object(all, path);
	if (p)
		return p;
	if (cp_json_set(all, path, cp_json_new_object()) < 0)
		return NULL;
	return cp_json_get_object(all, path);
}

/**
 * add_item() - queue a qom-get for round 2 or 3 and remember what it reads
 * @col:	collection
 * @path:	QOM path
 * @name:	property (static string)
 *
 * Return: 0, or -1 when out of memory
 */
static int add_item(struct collect *col, const char *path, const char *name)
{
	char(*np)[INV_PATH_MAX] = realloc(col->paths, (col->nitems + 1) * sizeof(*np));
	const char **nn;

	if (!np)
		return -1;
	col->paths = np;
	nn = realloc(col->names, (col->nitems + 1) * sizeof(*nn));
	if (!nn)
		return -1;
	col->names = nn;
	cp_strlcpy(col->paths[col->nitems], path, INV_PATH_MAX);
	col->names[col->nitems++] = name;
	return qmp_batch_add_qom_get(col->batch, path, name);
}

/**
 * add_missing() - queue the properties of one object not read yet
 * @col:	collection
 * @path:	QOM path
 * @props:	what is known of it
 * @names:	properties
 * @n:		their count
 *
 * Return: 0, or -1 when out of memory
 */
static int add_missing(struct collect *col, const char *path, cp_json *props,
		       const char *const *names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!cp_json_get(props, names[i]) && add_item(col, path, names[i]) < 0)
			return -1;
	return 0;
}

/*
 * What round 2 reads, per class, in a full and in a brief collection: what
 * the device is (a SCSI device's bus says whether it is a CD slot's). Round
 * 3 reads the rest of a disk or NIC that is not a slot.
 */
static const struct {
	const char *const *names;
	size_t n;
} round2_reads[2][DEV_NIC + 1] = {
	{
		[DEV_UNKNOWN] = { round2_props, CP_ARRAY_SIZE(round2_props) },
		[DEV_SCSI] = { scsi2_props, CP_ARRAY_SIZE(scsi2_props) },
		[DEV_PCI_BLOCK] = { pci_block2_props, CP_ARRAY_SIZE(pci_block2_props) },
		[DEV_NIC] = { nic2_props, CP_ARRAY_SIZE(nic2_props) },
	},
	{
		[DEV_UNKNOWN] = { brief_unknown_props, CP_ARRAY_SIZE(brief_unknown_props) },
		[DEV_SCSI] = { scsi2_props, CP_ARRAY_SIZE(scsi2_props) },
		[DEV_PCI_BLOCK] = { pci_block2_props, CP_ARRAY_SIZE(pci_block2_props) },
		[DEV_NIC] = { nic2_props, CP_ARRAY_SIZE(nic2_props) },
	},
};

/**
 * qdev_path() - the device QOM path behind query-block's "qdev"
 * @qdev:	an id ("dev-incus_root") or a path (".../virtio-backend")
 * @out:	the device's QOM path
 * @size:	size of @out
 */
static void qdev_path(const char *qdev, char *out, size_t size)
{
	static const char backend[] = "/virtio-backend";
	size_t len;

	if (qdev[0] == '/')
		cp_strlcpy(out, qdev, size);
	else
		snprintf(out, size, "/machine/peripheral/%s", qdev);
	len = strlen(out);
	if (len > strlen(backend) && !strcmp(out + len - strlen(backend), backend))
		out[len - strlen(backend)] = '\0';
}

/**
 * block_entry() - the query-block entry of a frontend
 * @col:	collection, round 1 stored
 * @path:	the frontend's QOM path
 *
 * Return: borrowed entry, or NULL if query-block does not list @path
 */
static cp_json *block_entry(const struct collect *col, const char *path)
{
	cp_json *block = cp_json_get_array(col->raw, "query-block");
	size_t i;

	for (i = 0; i < cp_json_len(block); i++) {
		cp_json *e = cp_json_at(block, i);
		const char *qdev = cp_json_get_str(e, "qdev");
		char p[INV_PATH_MAX];

		if (!qdev || !*qdev)
			continue;
		qdev_path(qdev, p, sizeof(p));
		if (!strcmp(p, path))
			return e;
	}
	return NULL;
}

/**
 * block_node() - the node a frontend's medium is, per query-block
 * @col:	collection, round 1 stored
 * @path:	the frontend's QOM path
 *
 * Return: borrowed string, NULL without a medium or an entry
 */
static const char *block_node(const struct collect *col, const char *path)
{
	return cp_json_get_str(cp_json_get_object(block_entry(col, path), "inserted"), "node-name");
}

/**
 * block_drive() - a frontend's "drive" property, as round 1 already says it
 * @col:	collection, round 1 stored
 * @path:	the frontend's QOM path
 *
 * qom-get of "drive" answers the BlockBackend's name, or for an anonymous
 * one (Incus's: device_add drive=<node-name>) its root node's name, or ""
 * without a medium: query-block lists every BlockBackend attached to a
 * device with the same three ("device", "inserted"/"node-name", "qdev").
 *
 * Return: borrowed string; NULL if query-block does not list @path (then
 * the property is read with qom-get)
 */
static const char *block_drive(const struct collect *col, const char *path)
{
	cp_json *e = block_entry(col, path);
	const char *bb = cp_json_get_str(e, "device");
	const char *node;

	if (!e)
		return NULL;
	if (bb && *bb)
		return bb;
	node = block_node(col, path);
	return node ? node : "";
}

/**
 * queue_round2() - queue what round 2 reads of one device
 * @col:	collection
 * @path:	the device's QOM path
 * @cls:	its class (DEV_INERT: nothing)
 *
 * The drive of a device query-block lists is stored from there, not read.
 *
 * Return: 0, or -1 when out of memory
 */
static int queue_round2(struct collect *col, const char *path, enum dev_class cls)
{
	const char *const *names = round2_reads[col->brief][cls].names;
	const char *drive = names ? block_drive(col, path) : NULL;
	cp_json *props = props_of(col, path);

	if (!props || (drive && cp_json_set_str(props, "drive", drive) < 0))
		return -1;
	return names ? add_missing(col, path, props, names, round2_reads[col->brief][cls].n) : 0;
}

/**
 * list_devices() - record each listed device's type, queue round-2 reads
 * @col:	collection
 * @key:	"peripheral" or "peripheral-anon"
 * @base:	container QOM path
 *
 * Return: 0, or -1 when out of memory
 */
static int list_devices(struct collect *col, const char *key, const char *base)
{
	cp_json *list = cp_json_get_array(col->raw, key);
	size_t i;

	for (i = 0; i < cp_json_len(list); i++) {
		cp_json *e = cp_json_at(list, i);
		const char *name = cp_json_get_str(e, "name");
		const char *t = cp_json_get_str(e, "type");
		char path[INV_PATH_MAX], type[64];
		cp_json *props;

		if (!name || !names_qom_child_type(t, type, sizeof(type)))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", base, name) >= sizeof(path))
			continue; /* read nothing of it: inventory_build() refuses it */
		props = props_of(col, path);
		if (!props || cp_json_set_str(props, "@type", type) < 0)
			return -1;
		if (queue_round2(col, path, dev_class(type)) < 0)
			return -1;
	}
	return 0;
}

/**
 * start_round2() - store round 1, queue the per-device property reads
 * @col:	collection
 *
 * Return: 0, or -1 when out of memory
 */
static int start_round2(struct collect *col)
{
	static const char *const keys[R1_COUNT] = {
		[R1_STATUS] = "query-status",		[R1_BLOCK] = "query-block",
		[R1_NODES] = "query-named-block-nodes", [R1_FDSETS] = "query-fdsets",
		[R1_PERIPHERAL] = "peripheral",		[R1_ANON] = "peripheral-anon",
		[R1_NETWORK] = "info-network",		[R1_ACPI] = "acpi-device",
	};
	const char *acpi;
	size_t i;

	for (i = 0; i < R1_COUNT; i++)
		if (raw_set(col, keys[i], i) < 0)
			return -1;
	qmp_batch_free(col->batch);
	col->batch = qmp_batch_new();
	if (!col->batch)
		return -1;
	if (list_devices(col, "peripheral", "/machine/peripheral") < 0 ||
	    list_devices(col, "peripheral-anon", "/machine/peripheral-anon") < 0)
		return -1;
	acpi = cp_json_get_str(col->raw, "acpi-device");
	if (acpi && *acpi && add_item(col, acpi, "acpi-pci-hotplug-with-bridge-support") < 0)
		return -1;
	return 0;
}

/**
 * store_props() - store the answers of round 2 or 3 under "props"
 * @col:	collection
 *
 * A property QEMU answered with an error (the device has none) is left out.
 *
 * Return: 0, or -1 when out of memory
 */
static int store_props(struct collect *col)
{
	size_t i;

	for (i = 0; i < col->nitems; i++) {
		cp_json *v = qmp_batch_result(col->batch, i);
		cp_json *props;

		if (!v)
			continue;
		props = props_of(col, col->paths[i]);
		if (!props || cp_json_set(props, col->names[i], cp_json_ref(v)) < 0)
			return -1;
	}
	free(col->paths);
	free(col->names);
	col->paths = NULL;
	col->names = NULL;
	col->nitems = 0;
	return 0;
}

/**
 * queue_round3() - cp_json_object_each callback: detail reads for one device
 * @path:	QOM path
 * @props:	what round 2 found
 * @userdata:	the collection
 *
 * Return: 0, or -1 when out of memory (stops the walk)
 */
static int queue_round3(const char *path, cp_json *props, void *userdata)
{
	struct collect *col = userdata;
	const char *type = cp_json_get_str(props, "@type");
	const char *drive = cp_json_get_str(props, "drive");
	const char *netdev = cp_json_get_str(props, "netdev");
	bool nic = netdev && *netdev;

#define ADD(list) add_missing(col, path, props, list, CP_ARRAY_SIZE(list))
	if (col->brief || (nic && cp_str_has_prefix(netdev, NAMES_NIC_SLOT)))
		return nic ? ADD(nic_slot_props) : 0;
	if (drive && cp_str_has_prefix(drive, NAMES_DISK_SLOT)) {
		const char *node = block_node(col, path);

		/* a slot: only the boot order of a disk it holds is not known */
		return node && !names_is_placeholder(node) ? ADD(slot_props) : 0;
	}
	if (drive && dev_class(type) == DEV_SCSI)
		return ADD(scsi_props);
	if (drive && dev_class(type) == DEV_PCI_BLOCK)
		return ADD(pci_block_props);
	if (drive)
		return ADD(block_props);
	if (nic)
		return ADD(nic_props);
	if (cp_str_has_prefix(type, "usb-"))
		return ADD(usb_props);
	if (type && strstr(type, "xhci"))
		return ADD(xhci_props);
	return 0;
#undef ADD
}

/**
 * start_round3() - store round 2, queue the detail reads
 * @col:	collection
 *
 * Return: 0, or -1 when out of memory
 */
static int start_round3(struct collect *col)
{
	if (store_props(col) < 0)
		return -1;
	qmp_batch_free(col->batch);
	col->batch = qmp_batch_new();
	if (!col->batch)
		return -1;
	return cp_json_object_each(cp_json_get_object(col->raw, "props"), queue_round3, col);
}

/**
 * collect_free() - free a collection's state
 * @col:	collection
 */
static void collect_free(struct collect *col)
{
	qmp_batch_free(col->batch);
	cp_json_unref(col->raw);
	free(col->paths);
	free(col->names);
	free(col);
}

/**
 * collect_report() - report the collection and free it
 * @col:	collection (freed)
 * @e:		error, or NULL
 */
static void collect_report(struct collect *col, const struct cp_error *e)
{
	struct cp_error pe;

	if (e) {
		cp_error_copy(&pe, e);
		cp_error_prefix(&pe, "inventory");
		e = &pe;
	}
	col->fn(col->inv, e, col->userdata);
	collect_free(col);
}

/**
 * on_slot_taps() - inventory_probed_fn: the direct slots' taps are probed
 * @userdata:	the collection
 */
static void on_slot_taps(void *userdata)
{
	collect_report(userdata, NULL);
}

/**
 * collect_finish() - build the inventory (unless only the raw document was
 * asked for), probe its taps, and report
 * @col:	collection (freed, now or once its taps are probed)
 * @e:		error so far, or NULL
 */
static void collect_finish(struct collect *col, const struct cp_error *e)
{
	const char *proc_root = col->sel && col->sel->proc_root ? col->sel->proc_root : "/proc";
	struct cp_error be;
	int rc;

	if (!e && col->raw_out) {
		*col->raw_out = cp_json_ref(col->raw);
	} else if (!e) {
		if (inventory_build(col->raw, col->sel, col->inv, &be) < 0) {
			e = &be;
		} else if (inventory_probe_taps(col->inv, proc_root, &be) < 0) {
			inventory_free(col->inv);
			e = &be;
		} else {
			rc = inventory_probe_slot_taps(col->c, col->inv, proc_root, on_slot_taps,
						       col, &be);
			if (rc == 0)
				return;
			if (rc < 0) {
				inventory_free(col->inv);
				e = &be;
			}
		}
	}
	collect_report(col, e);
}

/**
 * collect_next() - send the round that was just queued
 * @col:	collection
 */
static void collect_next(struct collect *col)
{
	struct cp_error e;

	col->round++;
	if (qmp_batch_send(col->batch, col->c, collect_round_done, col, &e) < 0)
		collect_finish(col, &e);
}

/**
 * too_many_devices() - whether round 1 lists more devices than we read
 * @col:	collection, round 1 answered
 * @err:	filled when it does
 *
 * Return: true if there are too many
 */
static bool too_many_devices(const struct collect *col, struct cp_error *err)
{
	size_t n = cp_json_len(qmp_batch_result(col->batch, R1_PERIPHERAL)) +
		   cp_json_len(qmp_batch_result(col->batch, R1_ANON));

	if (n <= COLLECT_MAX_DEVICES)
		return false;
	cp_error_set(err, CP_ERR_PROTOCOL,
		     "QEMU lists %zu devices under /machine/peripheral and peripheral-anon; "
		     "coldplug reads at most %d",
		     n, COLLECT_MAX_DEVICES);
	return true;
}

/**
 * collect_round_done() - qmp_batch_fn: one round is answered
 * @b:		the batch
 * @e:		connection error, or NULL
 * @userdata:	the collection
 */
static void collect_round_done(struct qmp_batch *b, const struct cp_error *e, void *userdata)
{
	struct collect *col = userdata;
	struct cp_error fail;
	int rc = 0;

	(void)b;
	if (e) {
		collect_finish(col, e);
		return;
	}
	if (col->round == 1 && too_many_devices(col, &fail)) {
		collect_finish(col, &fail);
		return;
	}
	if (col->round == 1)
		rc = start_round2(col);
	else if (col->round == 2)
		rc = start_round3(col);
	else
		rc = store_props(col);
	if (rc < 0) {
		cp_error_set(&fail, CP_ERR_NOMEM, "out of memory");
		collect_finish(col, &fail);
	} else if (col->round < 3) {
		collect_next(col);
	} else {
		collect_finish(col, NULL);
	}
}

/**
 * raw_header() - the raw document with version and pid from the client
 * @c:	client
 *
 * Return: new document, or NULL when out of memory
 */
static cp_json *raw_header(const struct qmp_client *c)
{
	int ma, mi, mc;

	qmp_client_version(c, &ma, &mi, &mc);
	return cp_json_obj(
		CP_JSON("version",
			cp_json_obj(CP_INT("major", ma), CP_INT("minor", mi), CP_INT("micro", mc),
				    CP_STR("package", qmp_client_package(c)))),
		CP_INT("pid", qmp_client_peer_pid(c)));
}

/**
 * collect_start() - start a collection
 * @c:		ready client
 * @sel:	selection (unused with @raw_out)
 * @inv:	inventory to fill (unused with @raw_out)
 * @raw_out:	receives the raw document instead, or NULL
 * @brief:	a brief collection (see inventory_collect_brief())
 * @fn:		completion callback
 * @userdata:	passed to @fn
 * @err:	filled if it could not start
 *
 * Return: 0, or -1
 */
static int collect_start(struct qmp_client *c, const struct inv_select *sel, struct inventory *inv,
			 cp_json **raw_out, bool brief, inventory_fn fn, void *userdata,
			 struct cp_error *err)
{
	struct collect *col = cp_calloc(1, sizeof(*col), err);

	if (!col)
		return -1;
	memset(inv, 0, sizeof(*inv));
	col->c = c;
	col->sel = sel;
	col->inv = inv;
	col->raw_out = raw_out;
	col->brief = brief;
	col->fn = fn;
	col->userdata = userdata;
	col->raw = raw_header(c);
	col->batch = round1_batch(brief);
	if (!col->raw || !col->batch) {
		collect_free(col);
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory");
	}
	collect_next(col);
	return 0;
}

/**
 * inventory_collect() - collect an inventory asynchronously
 * @c:		ready client
 * @sel:	which devices are the manager's (must outlive the collection)
 * @inv:	filled before @fn runs (must outlive the collection); on error
 *		it is empty
 * @fn:		called once, with NULL or the error
 * @userdata:	passed to @fn
 * @err:	filled if the collection could not start (then @fn is not called)
 *
 * Return: 0, or -1
 */
int inventory_collect(struct qmp_client *c, const struct inv_select *sel, struct inventory *inv,
		      inventory_fn fn, void *userdata, struct cp_error *err)
{
	return collect_start(c, sel, inv, NULL, false, fn, userdata, err);
}

/**
 * inventory_collect_brief() - collect where each device is, asynchronously
 * @c:		ready client
 * @sel:	which devices are the manager's (must outlive the collection)
 * @inv:	as for inventory_collect()
 * @fn:		called once, with NULL or the error
 * @userdata:	passed to @fn
 * @err:	filled if the collection could not start (then @fn is not called)
 *
 * What verify_plan() checks, and nothing it does not: the devices, slots and
 * netdevs, each frontend's drive or netdev and a NIC's MAC and queues. Left
 * out (zero, empty or unknown in @inv): boot order, PCI and SCSI addresses,
 * serials, USB ports, the hotplug mode. About a third of the commands of
 * inventory_collect() for Incus's layout.
 *
 * Return: 0, or -1
 */
int inventory_collect_brief(struct qmp_client *c, const struct inv_select *sel,
			    struct inventory *inv, inventory_fn fn, void *userdata,
			    struct cp_error *err)
{
	return collect_start(c, sel, inv, NULL, true, fn, userdata, err);
}

/* The synchronous caller's end of a collection. */
struct read_result {
	bool done;
	struct cp_error err;
};

/**
 * read_done() - inventory_fn for the synchronous calls
 * @inv:	the inventory
 * @e:		error, or NULL
 * @userdata:	struct read_result
 */
static void read_done(struct inventory *inv, const struct cp_error *e, void *userdata)
{
	struct read_result *r = userdata;

	(void)inv;
	r->done = true;
	if (e)
		cp_error_copy(&r->err, e);
}

/**
 * collect_sync() - run a collection to its end on one client
 * @c:		ready client
 * @sel:	selection
 * @inv:	filled unless @raw_out
 * @raw_out:	receives the raw document instead, or NULL
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int collect_sync(struct qmp_client *c, const struct inv_select *sel, struct inventory *inv,
			cp_json **raw_out, struct cp_error *err)
{
	struct read_result r = { 0 };

	if (collect_start(c, sel, inv, raw_out, false, read_done, &r, err) < 0)
		return -1;
	while (!r.done)
		if (qmp_client_dispatch(c, -1, NULL) < 0 && !r.done)
			CP_ASSERT(!"a failed client answers every pending command");
	if (r.err.code != CP_ERR_NONE) {
		cp_error_copy(err, &r.err);
		return -1;
	}
	return 0;
}

/**
 * inventory_read() - collect an inventory, synchronously
 * @c:		ready client
 * @sel:	which devices are the manager's
 * @inv:	filled on success; free with inventory_free()
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
int inventory_read(struct qmp_client *c, const struct inv_select *sel, struct inventory *inv,
		   struct cp_error *err)
{
	return collect_sync(c, sel, inv, NULL, err);
}

/**
 * inventory_read_raw() - collect the raw document only, synchronously
 * @c:		ready client
 * @raw:	set to the document (new reference) on success
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
int inventory_read_raw(struct qmp_client *c, cp_json **raw, struct cp_error *err)
{
	struct inventory unused;

	*raw = NULL;
	return collect_sync(c, NULL, &unused, raw, err);
}

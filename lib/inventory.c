/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Inventory building: a pure function from the raw QMP answers (one JSON
 * document, see inventory_collect.c for its shape) to struct inventory.
 *
 * Devices are found through QOM (qom-list of /machine/peripheral and
 * /machine/peripheral-anon, then qom-get of their properties), not through
 * query-pci: while the VM has not run, the firmware has not numbered the
 * buses behind root ports, so query-pci does not show hot-plugged devices.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coldplug/cleanup.h"
#include "coldplug/inventory.h"
#include "hmp_network.h"
#include "names.h"
#include "util.h"

/**
 * struct build_ctx - what the helpers of inventory_build() share
 * @raw:	the raw document
 * @sel:	which devices are managed
 * @inv:	the inventory being built
 * @net:	parsed "info network"
 * @err:	inventory_build()'s error, filled by the first copy() that fails
 * @failed:	a string QEMU supplied did not fit: the build fails
 */
struct build_ctx {
	const cp_json *raw;
	const struct inv_select *sel;
	struct inventory *inv;
	struct hmp_network net;
	struct cp_error *err;
	bool failed;
};

/**
 * copy() - copy a string QEMU supplied into a fixed field of the inventory
 * @ctx:	build context; the first string that does not fit is recorded
 *		there and fails inventory_build() (a shorter id would name
 *		another device)
 * @dst:	the field
 * @src:	QEMU's string
 * @size:	size of @dst
 */
static void copy(struct build_ctx *ctx, char *dst, const char *src, size_t size)
{
	if (cp_strlcpy_checked(dst, src, size, ctx->failed ? NULL : ctx->err) == 0 || ctx->failed)
		return;
	cp_error_prefix(ctx->err, "inventory: a name QEMU reports");
	ctx->failed = true;
}

/**
 * prop() - a property value read in the collection rounds
 * @ctx:	build context
 * @path:	QOM path of the object
 * @name:	property name
 *
 * Return: borrowed value, or NULL if not read or QEMU had no such property
 */
static cp_json *prop(const struct build_ctx *ctx, const char *path, const char *name)
{
	return cp_json_get(cp_json_get_object(cp_json_get_object(ctx->raw, "props"), path), name);
}

/**
 * prop_str() - a string property, "" when absent
 * @ctx:	build context
 * @path:	QOM path
 * @name:	property name
 *
 * Return: borrowed string
 */
static const char *prop_str(const struct build_ctx *ctx, const char *path, const char *name)
{
	const char *s = cp_json_as_str(prop(ctx, path, name));

	return s ? s : "";
}

/**
 * prop_int() - an integer property
 * @ctx:	build context
 * @path:	QOM path
 * @name:	property name
 * @dflt:	value when absent
 *
 * Return: the value or @dflt
 */
static int64_t prop_int(const struct build_ctx *ctx, const char *path, const char *name,
			int64_t dflt)
{
	int64_t v;

	return cp_json_as_int(prop(ctx, path, name), &v) ? v : dflt;
}

/**
 * last_component() - the part of a QOM path after its last '/'
 * @path:	QOM path
 *
 * Return: pointer into @path
 */
static const char *last_component(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/**
 * qdev_to_path() - normalise query-block's "qdev" to a device QOM path
 * @qdev:	an id ("dev-incus_root") or a path (".../virtio-backend")
 * @out:	the device's QOM path
 * @size:	size of @out
 *
 * Return: false if the path does not fit @out (then it names no device the
 * inventory holds)
 */
static bool qdev_to_path(const char *qdev, char *out, size_t size)
{
	static const char backend[] = "/virtio-backend";
	size_t len;

	if (qdev[0] == '/')
		len = cp_strlcpy(out, qdev, size);
	else
		len = (size_t)snprintf(out, size, "/machine/peripheral/%s", qdev);
	if (len >= size)
		return false;
	if (len > strlen(backend) && !strcmp(out + len - strlen(backend), backend))
		out[len - strlen(backend)] = '\0';
	return true;
}

/**
 * block_entry_for() - the query-block entry of a frontend or BlockBackend
 * @ctx:	build context
 * @path:	frontend QOM path, or NULL
 * @bb:		BlockBackend name, or NULL
 *
 * Return: borrowed entry, or NULL
 */
static cp_json *block_entry_for(const struct build_ctx *ctx, const char *path, const char *bb)
{
	cp_json *block = cp_json_get_array(ctx->raw, "query-block");
	size_t i;

	for (i = 0; i < cp_json_len(block); i++) {
		cp_json *e = cp_json_at(block, i);
		const char *qdev = cp_json_get_str(e, "qdev");
		char p[INV_PATH_MAX];

		if (bb && *bb && cp_streq(cp_json_get_str(e, "device"), bb))
			return e;
		if (!path || !qdev)
			continue;
		if (qdev_to_path(qdev, p, sizeof(p)) && !strcmp(p, path))
			return e;
	}
	return NULL;
}

/**
 * node_users() - how many BlockBackends have @node at their root
 * @ctx:	build context
 * @node:	node-name
 *
 * Return: the count
 */
static unsigned node_users(const struct build_ctx *ctx, const char *node)
{
	cp_json *block = cp_json_get_array(ctx->raw, "query-block");
	unsigned n = 0;
	size_t i;

	for (i = 0; i < cp_json_len(block); i++) {
		cp_json *ins = cp_json_get_object(cp_json_at(block, i), "inserted");

		n += cp_streq(cp_json_get_str(ins, "node-name"), node);
	}
	return n;
}

/**
 * inventory_selects() - whether the selection picks device @id
 * @sel:	selection
 * @id:		qdev id ("" for anonymous devices, never managed)
 *
 * Return: true if managed
 */
bool inventory_selects(const struct inv_select *sel, const char *id)
{
	size_t i;

	if (!*id)
		return false;
	if (sel->id_prefix && *sel->id_prefix && cp_str_has_prefix(id, sel->id_prefix))
		return true;
	for (i = 0; i < sel->nids; i++)
		if (!strcmp(sel->ids[i], id))
			return true;
	return false;
}

/**
 * fill_pci_addr() - PCI address of a device as "SS.F", "" if not PCI
 * @ctx:	build context
 * @path:	device QOM path
 * @out:	address buffer
 * @size:	its size
 *
 * The "addr" property reads as devfn (an integer) on some QEMU versions
 * and as a string on others.
 */
static void fill_pci_addr(struct build_ctx *ctx, const char *path, char *out, size_t size)
{
	cp_json *v = prop(ctx, path, "addr");
	int64_t devfn;

	out[0] = '\0';
	if (cp_json_as_int(v, &devfn) && devfn >= 0 && devfn < 256)
		snprintf(out, size, "%02x.%x", (unsigned)(devfn >> 3), (unsigned)(devfn & 7));
	else if (cp_json_as_str(v))
		copy(ctx, out, cp_json_as_str(v), size);
}

/**
 * fill_usb_parent() - if the frontend sits on a USB storage device's own
 * bus (Incus's usb-bot), record that device
 * @ctx:	build context
 * @bus_path:	the frontend's parent_bus path
 * @fe:		frontend description to complete
 */
static void fill_usb_parent(struct build_ctx *ctx, const char *bus_path, struct inv_frontend *fe)
{
	char parent[INV_PATH_MAX];
	const char *ptype;
	char *slash;

	copy(ctx, parent, bus_path, sizeof(parent));
	slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return;
	*slash = '\0';
	ptype = prop_str(ctx, parent, "@type");
	if (!cp_str_has_prefix(ptype, "usb-"))
		return;
	copy(ctx, fe->usb_id, last_component(parent), sizeof(fe->usb_id));
	copy(ctx, fe->usb_driver, ptype, sizeof(fe->usb_driver));
	copy(ctx, fe->usb_bus, last_component(prop_str(ctx, parent, "parent_bus")),
	     sizeof(fe->usb_bus));
	copy(ctx, fe->usb_port, prop_str(ctx, parent, "port"), sizeof(fe->usb_port));
}

/**
 * fill_frontend() - describe how a frontend was created
 * @ctx:	build context
 * @path:	device QOM path
 * @type:	its QOM type
 * @fe:		filled
 */
static void fill_frontend(struct build_ctx *ctx, const char *path, const char *type,
			  struct inv_frontend *fe)
{
	const char *bus_path = prop_str(ctx, path, "parent_bus");

	memset(fe, 0, sizeof(*fe));
	copy(ctx, fe->driver, type, sizeof(fe->driver));
	copy(ctx, fe->bus, last_component(bus_path), sizeof(fe->bus));
	fill_pci_addr(ctx, path, fe->addr, sizeof(fe->addr));
	copy(ctx, fe->serial, prop_str(ctx, path, "serial"), sizeof(fe->serial));
	copy(ctx, fe->device_id, prop_str(ctx, path, "device_id"), sizeof(fe->device_id));
	fe->channel = prop_int(ctx, path, "channel", -1);
	fe->scsi_id = prop_int(ctx, path, "scsi-id", -1);
	fe->lun = prop_int(ctx, path, "lun", -1);
	fill_usb_parent(ctx, bus_path, fe);
}

/**
 * grow() - make room for one more element
 * @arr:	address of the array pointer
 * @n:		current count
 * @elem:	element size
 * @err:	filled on failure
 *
 * Return: pointer to the new (zeroed) element, or NULL
 */
static void *grow(void *arr, size_t n, size_t elem, struct cp_error *err)
{
	void **pa = arr;
	char *p = realloc(*pa, (n + 1) * elem);

	if (!p)
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory"), NULL;
	*pa = p;
	memset(p + n * elem, 0, elem);
	return p + n * elem;
}

/**
 * inventory_fdset_names_node() - whether an fdset's opaque names @node
 * @opaque:	"rdwr:incus_root", "rdonly:incus_iso", "rdwr:incus_root_raw"
 * @node:	node-name
 *
 * Incus names each fdset after the node it opens, with "_raw" for a qcow2
 * data file and "_backing<N>" / "_overlay<N>" for chain members.
 *
 * Return: true if the part after the colon is @node or @node_...
 */
bool inventory_fdset_names_node(const char *opaque, const char *node)
{
	const char *colon = opaque ? strchr(opaque, ':') : NULL;
	size_t len = strlen(node);

	if (!colon || strncmp(colon + 1, node, len))
		return false;
	return colon[1 + len] == '\0' || colon[1 + len] == '_';
}

/**
 * fill_slot_fdsets() - the fdsets behind the node a slot holds
 * @ctx:	build context
 * @s:		slot with @node set
 */
static void fill_slot_fdsets(const struct build_ctx *ctx, struct inv_slot *s)
{
	cp_json *sets = cp_json_get_array(ctx->raw, "query-fdsets");
	size_t i, j;

	for (i = 0; i < cp_json_len(sets) && s->nfdsets < INV_MAX_FDSETS; i++) {
		cp_json *set = cp_json_at(sets, i);
		cp_json *fds = cp_json_get_array(set, "fds");
		int64_t id;

		if (!cp_json_get_int(set, "fdset-id", &id))
			continue;
		for (j = 0; j < cp_json_len(fds); j++) {
			if (inventory_fdset_names_node(
				    cp_json_get_str(cp_json_at(fds, j), "opaque"), s->node)) {
				s->fdsets[s->nfdsets++] = id;
				break;
			}
		}
	}
}

/**
 * add_block_slot() - record a disk or CD slot
 * @ctx:	build context
 * @path:	frontend QOM path
 * @type:	its QOM type
 * @drive:	its BlockBackend name
 * @kind:	INV_SLOT_DISK or INV_SLOT_CD
 * @index:	slot number
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int add_block_slot(struct build_ctx *ctx, const char *path, const char *type,
			  const char *drive, enum inv_slot_kind kind, unsigned index,
			  struct cp_error *err)
{
	struct inventory *inv = ctx->inv;
	cp_json *ins = cp_json_get_object(block_entry_for(ctx, path, drive), "inserted");
	struct inv_slot *s = grow(&inv->slots, inv->nslots, sizeof(*s), err);
	const char *node = cp_json_get_str(ins, "node-name");

	if (!s)
		return -1;
	inv->nslots++;
	s->kind = kind;
	s->index = index;
	copy(ctx, s->name, drive, sizeof(s->name));
	copy(ctx, s->path, path, sizeof(s->path));
	copy(ctx, s->driver, type, sizeof(s->driver));
	copy(ctx, s->node, node ? node : "", sizeof(s->node));
	s->used = node && !names_is_placeholder(node);
	s->bootindex = prop_int(ctx, path, "bootindex", -1);
	s->hubid = -1;
	if (s->used)
		fill_slot_fdsets(ctx, s);
	return 0;
}

/**
 * cd_slot() - CD slot @index, recorded on first sight
 * @ctx:	build context
 * @index:	N of coldplug-cd<N>
 * @usb_path:	QOM path of its usb-bot
 * @err:	filled when out of memory
 *
 * The usb-bot and the scsi-cd on its bus are listed in either order; the
 * first one seen creates the slot, empty.
 *
 * Return: the slot (valid until the next slot is added), or NULL
 */
static struct inv_slot *cd_slot(struct build_ctx *ctx, unsigned index, const char *usb_path,
				struct cp_error *err)
{
	struct inventory *inv = ctx->inv;
	struct inv_slot *s;
	size_t i;

	for (i = 0; i < inv->nslots; i++)
		if (inv->slots[i].kind == INV_SLOT_CD && inv->slots[i].index == index)
			return &inv->slots[i];
	s = grow(&inv->slots, inv->nslots, sizeof(*s), err);
	if (!s)
		return NULL;
	inv->nslots++;
	s->kind = INV_SLOT_CD;
	s->index = index;
	copy(ctx, s->name, last_component(usb_path), sizeof(s->name));
	copy(ctx, s->path, usb_path, sizeof(s->path));
	copy(ctx, s->driver, "usb-bot", sizeof(s->driver));
	s->bootindex = -1;
	s->hubid = -1;
	return s;
}

/**
 * add_cd_frontend() - the scsi-cd on a CD slot's usb-bot: what it holds
 * @ctx:	build context
 * @path:	the scsi-cd's QOM path
 * @usb_path:	its usb-bot's QOM path
 * @index:	slot number
 * @err:	filled when out of memory
 *
 * Return: 0, or -1
 */
static int add_cd_frontend(struct build_ctx *ctx, const char *path, const char *usb_path,
			   unsigned index, struct cp_error *err)
{
	struct inv_slot *s = cd_slot(ctx, index, usb_path, err);
	cp_json *e = block_entry_for(ctx, path, NULL);
	const char *node = cp_json_get_str(cp_json_get_object(e, "inserted"), "node-name");

	if (!s)
		return -1;
	copy(ctx, s->node, node ? node : "", sizeof(s->node));
	s->used = node && *node;
	copy(ctx, s->cd_id, strncmp(path, "/machine/peripheral/", 20) ? "" : path + 20,
	     sizeof(s->cd_id));
	cp_json_get_bool(e, "tray_open", &s->tray_open);
	s->bootindex = prop_int(ctx, path, "bootindex", -1);
	if (s->used)
		fill_slot_fdsets(ctx, s);
	return 0;
}

/**
 * add_disk() - record a block frontend that is not a slot
 * @ctx:	build context
 * @path:	frontend QOM path
 * @type:	its QOM type
 * @drive:	its "drive" property (node-name for an anonymous BlockBackend)
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int add_disk(struct build_ctx *ctx, const char *path, const char *type, const char *drive,
		    struct cp_error *err)
{
	struct inventory *inv = ctx->inv;
	cp_json *entry = block_entry_for(ctx, path, NULL);
	cp_json *ins = cp_json_get_object(entry, "inserted");
	struct inv_disk *d = grow(&inv->disks, inv->ndisks, sizeof(*d), err);
	const char *node = cp_json_get_str(ins, "node-name");
	int64_t size = 0;
	bool ro = false;

	if (!d)
		return -1;
	inv->ndisks++;
	copy(ctx, d->path, path, sizeof(d->path));
	copy(ctx, d->id, strncmp(path, "/machine/peripheral/", 20) ? "" : path + 20, sizeof(d->id));
	names_manager_name(*d->id ? d->id : path, ctx->sel->id_prefix, d->name, sizeof(d->name));
	copy(ctx, d->node, node ? node : (ins ? drive : ""), sizeof(d->node));
	fill_frontend(ctx, path, type, &d->fe);
	d->cdrom = !strcmp(type, "scsi-cd") || !strcmp(type, "ide-cd");
	cp_json_get_bool(ins, "ro", &ro);
	d->read_only = ro;
	cp_json_get_int(cp_json_get_object(ins, "image"), "virtual-size", &size);
	d->size = size > 0 ? (uint64_t)size : 0;
	d->bootindex = prop_int(ctx, path, "bootindex", -1);
	d->users = *d->node ? node_users(ctx, d->node) : 0;
	d->pci = d->fe.addr[0] != '\0';
	d->managed = inventory_selects(ctx->sel, d->id);
	return 0;
}

/**
 * add_block_device() - sort a device with a "drive" into slot or disk
 * @ctx:	build context
 * @path:	device QOM path
 * @type:	its QOM type
 * @drive:	its "drive" property
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int add_block_device(struct build_ctx *ctx, const char *path, const char *type,
			    const char *drive, struct cp_error *err)
{
	const char *bus_path = prop_str(ctx, path, "parent_bus");
	char usb_path[INV_PATH_MAX];
	char *slash;
	unsigned idx;

	copy(ctx, usb_path, bus_path, sizeof(usb_path));
	slash = strrchr(usb_path, '/');
	if (slash)
		*slash = '\0';
	if (slash && cp_streq(prop_str(ctx, usb_path, "@type"), "usb-bot") &&
	    names_parse_indexed(last_component(usb_path), NAMES_CD_SLOT, "", &idx))
		return add_cd_frontend(ctx, path, usb_path, idx, err);
	if (names_parse_indexed(drive, NAMES_DISK_SLOT, "", &idx))
		return add_block_slot(ctx, path, type, drive, INV_SLOT_DISK, idx, err);
	if (names_parse_indexed(drive, NAMES_CD_SLOT, "", &idx))
		return add_block_slot(ctx, path, type, drive, INV_SLOT_CD, idx, err);
	return add_disk(ctx, path, type, drive, err);
}

/**
 * hub_uplink() - the netdev plugged into hub @hubid through a port other
 * than @own_port
 * @net:	parsed "info network"
 * @hubid:	hub id
 * @own_port:	the port feeding the slot's NIC
 *
 * Return: the uplink netdev id (borrowed from @net), "" if none
 */
static const char *hub_uplink(const struct hmp_network *net, int hubid, const char *own_port)
{
	size_t i;

	for (i = 0; i < net->n; i++) {
		const struct hmp_net_client *cl = &net->clients[i];

		if (cl->hubid != hubid || !strcmp(cl->name, own_port) || !*cl->peer)
			continue;
		return cl->peer;
	}
	return "";
}

/**
 * add_nic_slot() - record a NIC slot (a NIC peered with coldplug-nic<N>)
 * @ctx:	build context
 * @path:	NIC QOM path
 * @type:	its QOM type
 * @netdev:	the hub port it is peered with
 * @index:	slot number
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int add_nic_slot(struct build_ctx *ctx, const char *path, const char *type,
			const char *netdev, unsigned index, struct cp_error *err)
{
	struct inventory *inv = ctx->inv;
	struct inv_slot *s = grow(&inv->slots, inv->nslots, sizeof(*s), err);
	const struct hmp_net_client *port;

	if (!s)
		return -1;
	inv->nslots++;
	s->kind = INV_SLOT_NIC;
	s->index = index;
	copy(ctx, s->name, netdev, sizeof(s->name));
	copy(ctx, s->path, path, sizeof(s->path));
	copy(ctx, s->driver, type, sizeof(s->driver));
	copy(ctx, s->mac, prop_str(ctx, path, "mac"), sizeof(s->mac));
	s->bootindex = prop_int(ctx, path, "bootindex", -1);
	s->hubid = -1;
	s->nqueues = (unsigned)hmp_network_queues(&ctx->net, netdev, &port);
	if (s->nqueues && port->hubid >= 0) {
		s->hubid = port->hubid;
		copy(ctx, s->uplink, hub_uplink(&ctx->net, port->hubid, netdev), sizeof(s->uplink));
	} else if (s->nqueues && !strcmp(port->type, "tap") && *port->ifname) {
		s->direct = true;
		CP_FIELD_COPY(s->ifname, port->ifname);
	}
	s->used = s->uplink[0] != '\0';
	return 0;
}

/**
 * fill_nic_queues() - queues and their fds of a NIC's netdev
 * @ctx:	build context
 * @n:		NIC with @netdev set
 */
static void fill_nic_queues(const struct build_ctx *ctx, struct inv_nic *n)
{
	const struct hmp_network *net = &ctx->net;
	size_t i;

	for (i = 0; i < net->n; i++) {
		const struct hmp_net_client *cl = &net->clients[i];

		if (strcmp(cl->name, n->netdev) || cl->hubid >= 0)
			continue;
		if (!n->nqueues) {
			CP_FIELD_COPY(n->netdev_type, cl->type);
			CP_FIELD_COPY(n->ifname, cl->ifname);
		}
		n->nqueues++;
		if (cl->fd >= 0 && n->nfds < INV_MAX_QUEUES)
			n->fds[n->nfds++] = cl->fd;
	}
}

/* What count_netdev_user() counts. */
struct netdev_count {
	const char *netdev;
	unsigned n;
};

/**
 * count_netdev_user() - cp_json_object_each callback for count_netdev_users()
 * @path:	QOM path of a device
 * @props:	its properties
 * @userdata:	struct netdev_count
 *
 * Return: 0 (never stops)
 */
static int count_netdev_user(const char *path, cp_json *props, void *userdata)
{
	struct netdev_count *nc = userdata;

	(void)path;
	nc->n += cp_streq(cp_json_get_str(props, "netdev"), nc->netdev);
	return 0;
}

/**
 * count_netdev_users() - devices and hub ports that use a netdev
 * @ctx:	build context
 * @netdev:	netdev id
 *
 * Return: NICs whose netdev property names it, plus hub ports peered with it
 */
static unsigned count_netdev_users(const struct build_ctx *ctx, const char *netdev)
{
	struct netdev_count nc = { .netdev = netdev };
	size_t i;

	cp_json_object_each(cp_json_get_object(ctx->raw, "props"), count_netdev_user, &nc);
	for (i = 0; i < ctx->net.n; i++)
		nc.n += ctx->net.clients[i].hubid >= 0 && !strcmp(ctx->net.clients[i].peer, netdev);
	return nc.n;
}

/**
 * mark_direct_slots() - a direct NIC slot is used once no other NIC carries
 * its MAC (the manager's NIC was removed: the tap is the slot's alone)
 * @inv:	inventory with every device added
 */
static void mark_direct_slots(struct inventory *inv)
{
	size_t i, j;

	for (i = 0; i < inv->nslots; i++) {
		struct inv_slot *s = &inv->slots[i];

		if (s->kind != INV_SLOT_NIC || !s->direct)
			continue;
		s->used = true;
		for (j = 0; j < inv->nnics; j++)
			s->used &= !!strcasecmp(inv->nics[j].mac, s->mac);
	}
}

/**
 * add_nic() - record a NIC frontend that is not a slot
 * @ctx:	build context
 * @path:	NIC QOM path
 * @type:	its QOM type
 * @netdev:	its netdev id
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int add_nic(struct build_ctx *ctx, const char *path, const char *type, const char *netdev,
		   struct cp_error *err)
{
	struct inventory *inv = ctx->inv;
	struct inv_nic *n = grow(&inv->nics, inv->nnics, sizeof(*n), err);
	char addr[16];

	if (!n)
		return -1;
	inv->nnics++;
	copy(ctx, n->path, path, sizeof(n->path));
	copy(ctx, n->id, strncmp(path, "/machine/peripheral/", 20) ? "" : path + 20, sizeof(n->id));
	names_manager_name(*n->id ? n->id : path, ctx->sel->id_prefix, n->name, sizeof(n->name));
	copy(ctx, n->driver, type, sizeof(n->driver));
	copy(ctx, n->bus, last_component(prop_str(ctx, path, "parent_bus")), sizeof(n->bus));
	copy(ctx, n->mac, prop_str(ctx, path, "mac"), sizeof(n->mac));
	copy(ctx, n->netdev, netdev, sizeof(n->netdev));
	fill_nic_queues(ctx, n);
	n->netdev_users = count_netdev_users(ctx, netdev);
	fill_pci_addr(ctx, path, addr, sizeof(addr));
	n->pci = addr[0] != '\0';
	n->managed = inventory_selects(ctx->sel, n->id);
	return 0;
}

/**
 * add_device() - classify one device of /machine/peripheral{,-anon}
 * @ctx:	build context
 * @path:	its QOM path
 * @type:	its QOM type
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int add_device(struct build_ctx *ctx, const char *path, const char *type,
		      struct cp_error *err)
{
	const char *drive = prop_str(ctx, path, "drive");
	const char *netdev = prop_str(ctx, path, "netdev");
	unsigned idx;

	if (strstr(type, "xhci") && !ctx->inv->usb_bus[0] &&
	    !strncmp(path, "/machine/peripheral/", 20) && strlen(path + 20) < INV_NAME_MAX - 2) {
		size_t len = cp_strlcpy(ctx->inv->usb_bus, path + 20, sizeof(ctx->inv->usb_bus));
		int64_t p2 = prop_int(ctx, path, "p2", 4), p3 = prop_int(ctx, path, "p3", 4);

		cp_strlcpy(ctx->inv->usb_bus + len, ".0", sizeof(ctx->inv->usb_bus) - len);
		ctx->inv->usb_ports = (unsigned)(p2 > p3 ? p2 : p3);
	}
	if (!strcmp(type, "usb-bot") && !strncmp(path, "/machine/peripheral/", 20) &&
	    names_parse_indexed(path + 20, NAMES_CD_SLOT, "", &idx))
		return cd_slot(ctx, idx, path, err) ? 0 : -1;
	if (*drive || prop(ctx, path, "drive"))
		return add_block_device(ctx, path, type, drive, err);
	if (!*netdev)
		return 0;
	if (names_parse_indexed(netdev, NAMES_NIC_SLOT, "", &idx))
		return add_nic_slot(ctx, path, type, netdev, idx, err);
	return add_nic(ctx, path, type, netdev, err);
}

/**
 * add_devices_under() - classify every device listed under a container
 * @ctx:	build context
 * @key:	"peripheral" or "peripheral-anon" (raw document key)
 * @base:	the container's QOM path
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int add_devices_under(struct build_ctx *ctx, const char *key, const char *base,
			     struct cp_error *err)
{
	cp_json *list = cp_json_get_array(ctx->raw, key);
	size_t i;

	for (i = 0; i < cp_json_len(list); i++) {
		cp_json *e = cp_json_at(list, i);
		const char *name = cp_json_get_str(e, "name");
		char type[64], path[INV_PATH_MAX];

		if (!name || !names_qom_child_type(cp_json_get_str(e, "type"), type, sizeof(type)))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", base, name) >= sizeof(path))
			return cp_error_set(
				err, CP_ERR_INVALID,
				"inventory: QOM path '%s/%s' is longer than %zu characters", base,
				name, sizeof(path) - 1);
		if (add_device(ctx, path, type, err) < 0)
			return -1;
	}
	return 0;
}

/* What count_usb_device() counts. */
struct usb_count {
	const char *bus;
	unsigned n;
};

/**
 * count_usb_device() - cp_json_object_each callback for count_usb()
 * @path:	QOM path of a device
 * @props:	its properties
 * @userdata:	struct usb_count
 *
 * Return: 0 (never stops)
 */
static int count_usb_device(const char *path, cp_json *props, void *userdata)
{
	struct usb_count *uc = userdata;
	const char *bus = cp_json_get_str(props, "parent_bus");

	(void)path;
	uc->n += bus && cp_str_has_prefix(cp_json_get_str(props, "@type"), "usb-") &&
		 cp_streq(last_component(bus), uc->bus);
	return 0;
}

/**
 * count_usb() - how many USB devices take a port of the xHCI
 * @ctx:	build context (after every device was classified)
 */
static void count_usb(struct build_ctx *ctx)
{
	struct usb_count uc = { .bus = ctx->inv->usb_bus };

	if (!*uc.bus)
		return;
	cp_json_object_each(cp_json_get_object(ctx->raw, "props"), count_usb_device, &uc);
	ctx->inv->usb_used = uc.n;
}

/**
 * cmp_boot_then_name() - boot order first (unset last), then name
 * @ba:		bootindex of a
 * @na:		name of a
 * @bb:		bootindex of b
 * @nb:		name of b
 *
 * Return: <0, 0, >0 as for qsort
 */
static int cmp_boot_then_name(int64_t ba, const char *na, int64_t bb, const char *nb)
{
	if ((ba >= 0) != (bb >= 0))
		return ba >= 0 ? -1 : 1;
	if (ba != bb)
		return ba < bb ? -1 : 1;
	return strcmp(na, nb);
}

/**
 * cmp_disk() - qsort comparator for struct inv_disk
 * @a:	disk
 * @b:	disk
 *
 * Return: <0, 0, >0
 */
static int cmp_disk(const void *a, const void *b)
{
	const struct inv_disk *x = a, *y = b;

	return cmp_boot_then_name(x->bootindex, x->name, y->bootindex, y->name);
}

/**
 * cmp_nic() - qsort comparator for struct inv_nic (by name; NICs carry no
 * boot order coldplug keeps)
 * @a:	NIC
 * @b:	NIC
 *
 * Return: <0, 0, >0
 */
static int cmp_nic(const void *a, const void *b)
{
	const struct inv_nic *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/**
 * cmp_slot() - qsort comparator for struct inv_slot: kind, then index
 * @a:	slot
 * @b:	slot
 *
 * Return: <0, 0, >0
 */
static int cmp_slot(const void *a, const void *b)
{
	const struct inv_slot *x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/**
 * fill_machine() - version, pid, run state and hotplug mode
 * @ctx:	build context
 */
static void fill_machine(struct build_ctx *ctx)
{
	struct inventory *inv = ctx->inv;
	cp_json *ver = cp_json_get_object(ctx->raw, "version");
	const char *acpi = cp_json_get_str(ctx->raw, "acpi-device");
	const char *status, *package = cp_json_get_str(ver, "package");
	int64_t v;
	bool on;

	if (cp_json_get_int(ver, "major", &v))
		inv->ver_major = (int)v;
	if (cp_json_get_int(ver, "minor", &v))
		inv->ver_minor = (int)v;
	if (cp_json_get_int(ver, "micro", &v))
		inv->ver_micro = (int)v;
	copy(ctx, inv->package, package ? package : "", sizeof(inv->package));
	if (cp_json_get_int(ctx->raw, "pid", &v))
		inv->pid = (pid_t)v;
	status = cp_json_get_str(cp_json_get_object(ctx->raw, "query-status"), "status");
	copy(ctx, inv->status, status ? status : "unknown", sizeof(inv->status));
	inv->hotplug = INV_HOTPLUG_UNKNOWN;
	if (acpi && cp_json_as_bool(prop(ctx, acpi, "acpi-pci-hotplug-with-bridge-support"), &on))
		inv->hotplug = on ? INV_HOTPLUG_ACPI : INV_HOTPLUG_NATIVE;
}

/**
 * fill_nodes() - the names of every named block node
 * @ctx:	build context
 * @err:	filled when out of memory
 *
 * Return: 0, or -1
 */
static int fill_nodes(struct build_ctx *ctx, struct cp_error *err)
{
	cp_json *nodes = cp_json_get_array(ctx->raw, "query-named-block-nodes");
	struct inventory *inv = ctx->inv;
	size_t i, n = cp_json_len(nodes);

	inv->nodes = n ? calloc(n, sizeof(*inv->nodes)) : NULL;
	if (n && !inv->nodes)
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		const char *name = cp_json_get_str(cp_json_at(nodes, i), "node-name");

		if (name && *name)
			copy(ctx, inv->nodes[inv->nnodes++], name, INV_NAME_MAX);
	}
	return 0;
}

/**
 * inventory_build() - build the inventory from the raw QMP answers
 * @raw:	raw document (see inventory_collect.c)
 * @sel:	which devices are the manager's
 * @inv:	filled on success; free with inventory_free()
 * @err:	filled on failure
 *
 * Pure: no I/O. inventory_probe_taps() adds the host side of NIC queues.
 *
 * Return: 0, or -1
 */
int inventory_build(const cp_json *raw, const struct inv_select *sel, struct inventory *inv,
		    struct cp_error *err)
{
	struct build_ctx ctx = { .raw = raw, .sel = sel, .inv = inv, .err = err };
	const char *net = cp_json_get_str(raw, "info-network");

	memset(inv, 0, sizeof(*inv));
	if (!cp_json_get_array(raw, "query-block") || !cp_json_get_array(raw, "peripheral"))
		return cp_error_set(err, CP_ERR_PROTOCOL,
				    "inventory: QEMU's answers are incomplete");
	if (hmp_network_parse(net ? net : "", &ctx.net, err) < 0)
		return -1;
	fill_machine(&ctx);
	if (fill_nodes(&ctx, err) < 0 ||
	    add_devices_under(&ctx, "peripheral", "/machine/peripheral", err) < 0 ||
	    add_devices_under(&ctx, "peripheral-anon", "/machine/peripheral-anon", err) < 0 ||
	    ctx.failed) {
		hmp_network_free(&ctx.net);
		inventory_free(inv);
		return -1;
	}
	hmp_network_free(&ctx.net);
	count_usb(&ctx);
	mark_direct_slots(inv);
	if (inv->ndisks)
		qsort(inv->disks, inv->ndisks, sizeof(*inv->disks), cmp_disk);
	if (inv->nnics)
		qsort(inv->nics, inv->nnics, sizeof(*inv->nics), cmp_nic);
	if (inv->nslots)
		qsort(inv->slots, inv->nslots, sizeof(*inv->slots), cmp_slot);
	return 0;
}

/**
 * inventory_free() - free what inventory_build() allocated
 * @inv:	inventory, may be zeroed
 */
void inventory_free(struct inventory *inv)
{
	free(inv->disks);
	free(inv->slots);
	free(inv->nics);
	free(inv->nodes);
	memset(inv, 0, sizeof(*inv));
}

/**
 * inventory_find_slot() - a slot by kind and index
 * @inv:	inventory
 * @kind:	slot kind
 * @index:	slot number
 *
 * Return: borrowed slot, or NULL
 */
const struct inv_slot *inventory_find_slot(const struct inventory *inv, enum inv_slot_kind kind,
					   unsigned index)
{
	size_t i;

	for (i = 0; i < inv->nslots; i++)
		if (inv->slots[i].kind == kind && inv->slots[i].index == index)
			return &inv->slots[i];
	return NULL;
}

/**
 * inventory_count_slots() - how many slots of a kind exist
 * @inv:	inventory
 * @kind:	slot kind
 *
 * Return: the count
 */
size_t inventory_count_slots(const struct inventory *inv, enum inv_slot_kind kind)
{
	size_t i, n = 0;

	for (i = 0; i < inv->nslots; i++)
		n += inv->slots[i].kind == kind;
	return n;
}

/**
 * inventory_find_disk() - a disk frontend by qdev id
 * @inv:	inventory
 * @id:		qdev id
 *
 * Return: borrowed disk, or NULL
 */
const struct inv_disk *inventory_find_disk(const struct inventory *inv, const char *id)
{
	size_t i;

	for (i = 0; i < inv->ndisks; i++)
		if (!strcmp(inv->disks[i].id, id))
			return &inv->disks[i];
	return NULL;
}

/**
 * inventory_find_nic() - a NIC frontend by qdev id
 * @inv:	inventory
 * @id:		qdev id
 *
 * Return: borrowed NIC, or NULL
 */
const struct inv_nic *inventory_find_nic(const struct inventory *inv, const char *id)
{
	size_t i;

	for (i = 0; i < inv->nnics; i++)
		if (!strcmp(inv->nics[i].id, id))
			return &inv->nics[i];
	return NULL;
}

/**
 * inventory_has_node() - whether a named block node exists
 * @inv:	inventory
 * @node:	node-name
 *
 * Return: true if query-named-block-nodes listed it
 */
bool inventory_has_node(const struct inventory *inv, const char *node)
{
	size_t i;

	for (i = 0; i < inv->nnodes; i++)
		if (!strcmp(inv->nodes[i], node))
			return true;
	return false;
}

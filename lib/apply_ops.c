/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The operations of each step: see apply_ops.h.
 *
 * Disk:  device_del the manager's frontend, wait for DEVICE_DELETED (its
 *        node is released only then), qom-set the slot's drive to the
 *        manager's own node (no second open, no clone), give the slot the
 *        frontend's boot order, and check with query-block.
 * CD:    device_del and wait as for a disk, then a USB CD drive of
 *        coldplug's own: device_add usb-bot coldplug-cd<N> on the xHCI,
 *        device_add scsi-cd on its bus created on the manager's node and
 *        under the manager's device id, and qom-set its "attached" (a
 *        hot-plugged usb-bot waits for it). No tray ever moves: Incus 6.0.0
 *        to 6.0.4 and 6.1 to 6.14 answer every DEVICE_TRAY_MOVED with an
 *        eject of that device, which would take the medium out again. A
 *        release unplugs the usb-bot.
 * NIC:   device_del, wait, netdev_del (all of the manager's queues close),
 *        one new queue on the same tap, getfd, netdev_add a single-queue
 *        tap under the manager's netdev id, then either a hub port into the
 *        slot's hub or a usb-net under the manager's device id; check with
 *        "info network". Never reuse a netdev virtio-net used (its vnet
 *        header mode sticks) and never give a hub or usb-net more than one
 *        queue (they only ever flush queue 0).
 * Direct NIC: the slot's netdev opened the manager's tap at QEMU's start;
 *        device_del the manager's NIC, wait, netdev_del its netdev (its
 *        queues close; the tap keeps the slot's), and check with "info
 *        network" that the slot's netdev is whole and still peered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply_ops.h"
#include "coldplug/cleanup.h"
#include "hmp_network.h"
#include "names.h"
#include "util.h"

/**
 * add_op() - append an operation
 * @l:		list
 * @kind:	its kind
 * @cmd:	command name (APPLY_OP_CMD), or NULL
 * @args:	arguments, stolen; NULL for none
 * @err:	filled when out of memory
 *
 * Return: the new operation, or NULL
 */
static struct apply_op *add_op(struct apply_op_list *l, enum apply_op_kind kind, const char *cmd,
			       cp_json *args, struct cp_error *err)
{
	struct apply_op *n = realloc(l->ops, (l->n + 1) * sizeof(*n));

	if (!n) {
		cp_json_unref(args);
		cp_error_set(err, CP_ERR_NOMEM, "out of memory");
		return NULL;
	}
	l->ops = n;
	n = &l->ops[l->n++];
	memset(n, 0, sizeof(*n));
	n->kind = kind;
	n->args = args;
	if (cmd)
		cp_strlcpy(n->cmd, cmd, sizeof(n->cmd));
	return n;
}

/**
 * add_cmd() - append a command whose arguments were just built
 * @l:		list
 * @cmd:	command name
 * @args:	arguments, stolen; NULL means building them ran out of memory
 * @err:	filled on failure
 *
 * Return: the operation, or NULL
 */
static struct apply_op *add_cmd(struct apply_op_list *l, const char *cmd, cp_json *args,
				struct cp_error *err)
{
	if (!args) {
		cp_error_set(err, CP_ERR_NOMEM, "out of memory");
		return NULL;
	}
	return add_op(l, APPLY_OP_CMD, cmd, args, err);
}

/**
 * apply_ops_free() - free a list's operations
 * @l:	list
 */
void apply_ops_free(struct apply_op_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		cp_json_unref(l->ops[i].args);
	free(l->ops);
	l->ops = NULL;
	l->n = 0;
}

/**
 * args_id() - {"id": ID}
 * @id:	device id
 *
 * Return: new object, or NULL when out of memory
 */
static cp_json *args_id(const char *id)
{
	return cp_json_obj(CP_STR("id", id));
}

/**
 * args_qom_set() - {"path": P, "property": K, "value": V}
 * @path:	QOM path
 * @prop:	property
 * @value:	value, stolen
 *
 * Return: new object, or NULL when out of memory
 */
static cp_json *args_qom_set(const char *path, const char *prop, cp_json *value)
{
	return cp_json_obj(CP_STR("path", path), CP_STR("property", prop), CP_JSON("value", value));
}

/**
 * add_unplug() - device_del of the manager's frontend, and the waits
 * @l:		list
 * @st:		step
 * @err:	filled when out of memory
 *
 * Waits for the frontend that holds the node or netdev, and for the USB
 * device around it when that is what was deleted.
 *
 * Return: 0, or -1
 */
static int add_unplug(struct apply_op_list *l, const struct plan_step *st, struct cp_error *err)
{
	struct apply_op *o = add_cmd(l, "device_del", args_id(st->del_id), err);

	if (!o)
		return -1;
	o->changes = true;
	o = add_op(l, APPLY_OP_WAIT_DELETED, NULL, NULL, err);
	if (!o)
		return -1;
	CP_FIELD_COPY(o->wait_id, st->dev_id);
	if (!strcmp(st->del_id, st->dev_id))
		return 0;
	o = add_op(l, APPLY_OP_WAIT_DELETED, NULL, NULL, err);
	if (!o)
		return -1;
	CP_FIELD_COPY(o->wait_id, st->del_id);
	return 0;
}

/**
 * add_bootindex() - give the slot the manager's boot order, if it had one
 * @l:		list
 * @st:		step
 * @err:	filled when out of memory
 *
 * The old frontend's bootindex was freed when it was unplugged; the
 * firmware reads the new order at the reset Incus does before cont.
 *
 * Return: 0, or -1
 */
static int add_bootindex(struct apply_op_list *l, const struct plan_step *st, struct cp_error *err)
{
	cp_json *args;

	if (st->bootindex < 0)
		return 0;
	args = args_qom_set(st->slot_path, "bootindex", cp_json_new_int(st->bootindex));
	return add_cmd(l, "qom-set", args, err) ? 0 : -1;
}

/**
 * check_block_slot() - query-block shows the node in the slot
 * @st:		step
 * @ret:	query-block's answer
 * @err:	filled on mismatch
 *
 * Return: 0, or -1
 */
static int check_block_slot(const struct plan_step *st, const cp_json *ret, struct cp_error *err)
{
	size_t i;

	for (i = 0; i < cp_json_len(ret); i++) {
		cp_json *e = cp_json_at(ret, i);
		cp_json *ins = cp_json_get_object(e, "inserted");
		bool open = false;
		int64_t size = 0;

		if (!cp_streq(cp_json_get_str(e, "device"), st->slot_name))
			continue;
		if (!cp_streq(cp_json_get_str(ins, "node-name"), st->node))
			return cp_error_set(err, CP_ERR_FAILED, "%s holds %s, not %s",
					    st->slot_name,
					    cp_json_get_str(ins, "node-name")
						    ? cp_json_get_str(ins, "node-name")
						    : "nothing",
					    st->node);
		if (cp_json_get_bool(e, "tray_open", &open) && open)
			return cp_error_set(err, CP_ERR_FAILED, "%s: the tray is still open",
					    st->slot_name);
		if (st->live &&
		    cp_json_get_int(cp_json_get_object(ins, "image"), "virtual-size", &size) &&
		    (uint64_t)size != st->size)
			return cp_error_set(err, CP_ERR_FAILED,
					    "%s holds %s, of %lld bytes now, not the %llu it had "
					    "(was it resized meanwhile? check the image)",
					    st->slot_name, st->node, (long long)size,
					    (unsigned long long)st->size);
		return 0;
	}
	return cp_error_set(err, CP_ERR_FAILED, "query-block does not list %s", st->slot_name);
}

/**
 * resize_args() - block_resize of a node by its node-name
 * @node:	node-name
 * @size:	new size in bytes
 *
 * Return: new object, or NULL when out of memory
 */
static cp_json *resize_args(const char *node, uint64_t size)
{
	return cp_json_obj(CP_STR("node-name", node), CP_INT("size", (int64_t)size));
}

/**
 * ops_disk() - the operations that re-home a disk
 * @l:		list to fill
 * @st:		step
 * @err:	filled when out of memory
 *
 * A disk moved while the guest runs (@st->live) is resized to its own size
 * once the slot holds it: qom-set of a realized virtio-blk's drive calls no
 * resize callback, so only the block_resize makes virtio-blk raise the
 * config change that tells the guest the capacity (doc/live-attach.md §1).
 *
 * Return: 0, or -1
 */
static int ops_disk(struct apply_op_list *l, const struct plan_step *st, struct cp_error *err)
{
	struct apply_op *o;

	if (add_unplug(l, st, err) < 0)
		return -1;
	o = add_cmd(l, "qom-set",
		    args_qom_set(st->slot_path, "drive", cp_json_new_string(st->node)), err);
	if (!o)
		return -1;
	o->commits = true;
	if (add_bootindex(l, st, err) < 0)
		return -1;
	if (st->live && !add_cmd(l, "block_resize", resize_args(st->node, st->size), err))
		return -1;
	o = add_op(l, APPLY_OP_CMD, "query-block", NULL, err);
	if (!o)
		return -1;
	o->check = check_block_slot;
	return 0;
}

/**
 * tray_args() - {"id": SLOT[, "force": true]} for the tray commands
 * @st:		step
 * @force:	add "force": true
 *
 * Return: new object, or NULL when out of memory
 */
static cp_json *tray_args(const struct plan_step *st, bool force)
{
	return cp_json_obj(CP_STR("id", st->slot_name), CP_BOOL_IF(force, "force", true));
}

/**
 * usb_bot_args() - device_add of the CD slot's usb-bot on the xHCI
 * @st:	step
 *
 * No port: QEMU takes the first free one.
 *
 * Return: new object, or NULL when out of memory
 */
static cp_json *usb_bot_args(const struct plan_step *st)
{
	return cp_json_obj(CP_STR("bus", st->usb_bus), CP_STR("driver", "usb-bot"),
			   CP_STR("id", st->slot_name));
}

/**
 * scsi_cd_args() - device_add of the scsi-cd on the usb-bot's bus, created
 * on the manager's node, under the manager's id, serial and boot order
 * @st:	step
 *
 * Return: new object, or NULL when out of memory
 */
static cp_json *scsi_cd_args(const struct plan_step *st)
{
	char bus[INV_NAME_MAX + 4];

	snprintf(bus, sizeof(bus), "%s.0", st->slot_name);
	return cp_json_obj(CP_STR("bus", bus), CP_STR("drive", st->node),
			   CP_STR("driver", "scsi-cd"), CP_STR("id", st->dev_id), CP_INT("lun", 0),
			   CP_INT_IF(st->bootindex >= 0, "bootindex", st->bootindex),
			   CP_STR_IF(st->fe.serial[0], "serial", st->fe.serial),
			   CP_STR_IF(st->fe.device_id[0], "device_id", st->fe.device_id));
}

/**
 * check_cd_slot() - query-block shows the manager's node on the new scsi-cd,
 * its tray closed (nothing ejected it)
 * @st:		step
 * @ret:	query-block's answer
 * @err:	filled on mismatch
 *
 * Return: 0, or -1
 */
static int check_cd_slot(const struct plan_step *st, const cp_json *ret, struct cp_error *err)
{
	size_t i;

	for (i = 0; i < cp_json_len(ret); i++) {
		cp_json *e = cp_json_at(ret, i);
		const char *node = cp_json_get_str(cp_json_get_object(e, "inserted"), "node-name");
		bool open = false;

		if (!cp_streq(cp_json_get_str(e, "qdev"), st->dev_id))
			continue;
		if (cp_json_get_bool(e, "tray_open", &open) && open)
			return cp_error_set(err, CP_ERR_FAILED,
					    "%s on %s: its tray is open and it holds %s (something "
					    "ejected it)",
					    st->dev_id, st->slot_name, node ? node : "nothing");
		if (!cp_streq(node, st->node))
			return cp_error_set(err, CP_ERR_FAILED, "%s on %s holds %s, not %s",
					    st->dev_id, st->slot_name, node ? node : "nothing",
					    st->node);
		return 0;
	}
	return cp_error_set(err, CP_ERR_FAILED, "query-block does not list %s", st->dev_id);
}

/**
 * ops_cd() - the operations that move a CD-ROM onto a new USB CD drive
 * @l:		list to fill
 * @st:		step
 * @err:	filled when out of memory
 *
 * The scsi-cd is created with the node, so no tray moves; it reaches the
 * guest once the usb-bot is attached, which is the commit point.
 *
 * Return: 0, or -1
 */
static int ops_cd(struct apply_op_list *l, const struct plan_step *st, struct cp_error *err)
{
	char path[INV_PATH_MAX];
	struct apply_op *o;

	snprintf(path, sizeof(path), "/machine/peripheral/%s", st->slot_name);
	if (add_unplug(l, st, err) < 0)
		return -1;
	o = add_cmd(l, "device_add", usb_bot_args(st), err);
	if (!o)
		return -1;
	o->adds_slot = true;
	if (!add_cmd(l, "device_add", scsi_cd_args(st), err))
		return -1;
	o = add_cmd(l, "qom-set", args_qom_set(path, "attached", cp_json_new_bool(true)), err);
	if (!o)
		return -1;
	o->commits = true;
	o = add_op(l, APPLY_OP_CMD, "query-block", NULL, err);
	if (!o)
		return -1;
	o->check = check_cd_slot;
	return 0;
}

/**
 * apply_ops_fdname() - the name the new tap queue is passed under (getfd)
 * @st:		step
 * @out:	buffer
 * @size:	its size
 */
void apply_ops_fdname(const struct plan_step *st, char *out, size_t size)
{
	snprintf(out, size, "coldplug-%s", st->netdev);
}

/**
 * uplink_id() - id of the hub port that plugs the tap into the slot's hub
 * @st:		step
 * @out:	buffer
 * @size:	its size
 */
static void uplink_id(const struct plan_step *st, char *out, size_t size)
{
	snprintf(out, size, "%s%s", st->slot_name, NAMES_NIC_UPLINK_SUFFIX);
}

/**
 * check_network() - "info network" shows the new single-queue netdev in place
 * @st:		step
 * @ret:	the HMP text
 * @err:	filled on mismatch
 *
 * usb-net: the NIC @dev_id is peered with @netdev. PCI: the uplink port of
 * the slot's hub is. Either way @netdev has exactly one queue.
 *
 * Return: 0, or -1
 */
static int check_network(const struct plan_step *st, const cp_json *ret, struct cp_error *err)
{
	const struct hmp_net_client *cl;
	struct hmp_network net;
	char uplink[INV_NAME_MAX + 8];
	size_t queues;
	int rc = 0;

	if (!cp_json_as_str(ret) || hmp_network_parse(cp_json_as_str(ret), &net, err) < 0)
		return cp_error_set(err, CP_ERR_FAILED, "no 'info network' text");
	queues = hmp_network_queues(&net, st->netdev, &cl);
	uplink_id(st, uplink, sizeof(uplink));
	if (queues != 1)
		rc = cp_error_set(err, CP_ERR_FAILED, "netdev %s has %zu queues, not 1", st->netdev,
				  queues);
	else if (strcmp(cl->peer, st->kind == PLAN_NIC_USB ? st->dev_id : uplink))
		rc = cp_error_set(err, CP_ERR_FAILED, "netdev %s is peered with '%s', not %s",
				  st->netdev, cl->peer,
				  st->kind == PLAN_NIC_USB ? st->dev_id : uplink);
	hmp_network_free(&net);
	return rc;
}

/**
 * netdev_tap_args() - {"fd": NAME, "id": NETDEV, "type": "tap", "vhost": false}
 * @st:		step
 *
 * Return: new object, or NULL when out of memory
 */
static cp_json *netdev_tap_args(const struct plan_step *st)
{
	char fdname[INV_NAME_MAX + 16];

	apply_ops_fdname(st, fdname, sizeof(fdname));
	return cp_json_obj(CP_STR("fd", fdname), CP_STR("id", st->netdev), CP_STR("type", "tap"),
			   CP_BOOL("vhost", false));
}

/**
 * frontend_args() - the new frontend: usb-net, or a hub port into the slot
 * @st:		step
 * @cmd:	set to "device_add" or "netdev_add"
 *
 * Return: new object, or NULL when out of memory
 */
static cp_json *frontend_args(const struct plan_step *st, const char **cmd)
{
	char uplink[INV_NAME_MAX + 8];

	if (st->kind == PLAN_NIC_USB) {
		*cmd = "device_add";
		return cp_json_obj(CP_STR("bus", st->usb_bus), CP_STR("driver", "usb-net"),
				   CP_STR("id", st->dev_id), CP_STR("mac", st->mac),
				   CP_STR("netdev", st->netdev));
	}
	*cmd = "netdev_add";
	uplink_id(st, uplink, sizeof(uplink));
	return cp_json_obj(CP_INT("hubid", st->hubid), CP_STR("id", uplink),
			   CP_STR("netdev", st->netdev), CP_STR("type", "hubport"));
}

/**
 * hmp_args() - {"command-line": LINE}
 * @line:	HMP command line
 *
 * Return: new object, or NULL when out of memory
 */
static cp_json *hmp_args(const char *line)
{
	return cp_json_obj(CP_STR("command-line", line));
}

/**
 * getfd_args() - {"fdname": NAME} for the new queue
 * @st:		step
 *
 * Return: new object, or NULL when out of memory
 */
static cp_json *getfd_args(const struct plan_step *st)
{
	char fdname[INV_NAME_MAX + 16];

	apply_ops_fdname(st, fdname, sizeof(fdname));
	return cp_json_obj(CP_STR("fdname", fdname));
}

/**
 * add_network_check() - append "info network", its answer checked by @check
 * @l:		list
 * @check:	what the NIC's step must see there
 * @err:	filled when out of memory
 *
 * Return: 0, or -1
 */
static int add_network_check(struct apply_op_list *l, apply_op_check_fn check, struct cp_error *err)
{
	struct apply_op *o = add_cmd(l, "human-monitor-command", hmp_args("info network"), err);

	if (!o)
		return -1;
	o->check = check;
	return 0;
}

/**
 * ops_nic() - the operations that re-home a NIC (usb-net or PCI slot)
 * @l:		list to fill
 * @st:		step
 * @err:	filled when out of memory
 *
 * Return: 0, or -1
 */
static int ops_nic(struct apply_op_list *l, const struct plan_step *st, struct cp_error *err)
{
	const char *fe_cmd = NULL;
	cp_json *fe_args;
	struct apply_op *o;

	if (add_unplug(l, st, err) < 0)
		return -1;
	o = add_cmd(l, "netdev_del", args_id(st->netdev), err);
	if (!o)
		return -1;
	o->drops_netdev = true;
	if (!add_op(l, APPLY_OP_OPEN_TAP, NULL, NULL, err))
		return -1;
	o = add_cmd(l, "getfd", getfd_args(st), err);
	if (!o)
		return -1;
	o->with_tap = true;
	o = add_cmd(l, "netdev_add", netdev_tap_args(st), err);
	if (!o)
		return -1;
	o->adds_netdev = true;
	fe_args = frontend_args(st, &fe_cmd);
	o = add_cmd(l, fe_cmd ? fe_cmd : "device_add", fe_args, err);
	if (!o)
		return -1;
	o->commits = true;
	return add_network_check(l, check_network, err);
}

/**
 * check_direct() - "info network" shows the manager's netdev gone and the
 * direct slot's netdev on its NIC with all its queues
 * @st:		step
 * @ret:	the HMP text
 * @err:	filled on mismatch
 *
 * Return: 0, or -1
 */
static int check_direct(const struct plan_step *st, const cp_json *ret, struct cp_error *err)
{
	const struct hmp_net_client *cl;
	struct hmp_network net;
	size_t queues;
	int rc = 0;

	if (!cp_json_as_str(ret) || hmp_network_parse(cp_json_as_str(ret), &net, err) < 0)
		return cp_error_set(err, CP_ERR_FAILED, "no 'info network' text");
	queues = hmp_network_queues(&net, st->slot_name, &cl);
	if (hmp_network_queues(&net, st->netdev, NULL))
		rc = cp_error_set(err, CP_ERR_FAILED, "netdev %s is still there", st->netdev);
	else if (queues != st->nqueues)
		rc = cp_error_set(err, CP_ERR_FAILED, "netdev %s has %zu queues, not %u",
				  st->slot_name, queues, st->nqueues);
	else if (!*cl->peer)
		rc = cp_error_set(err, CP_ERR_FAILED, "netdev %s is peered with no NIC",
				  st->slot_name);
	hmp_network_free(&net);
	return rc;
}

/**
 * ops_nic_direct() - the operations that leave a direct slot alone on its tap
 * @l:		list to fill
 * @st:		step
 * @err:	filled when out of memory
 *
 * Return: 0, or -1
 */
static int ops_nic_direct(struct apply_op_list *l, const struct plan_step *st, struct cp_error *err)
{
	struct apply_op *o;

	if (add_unplug(l, st, err) < 0)
		return -1;
	o = add_cmd(l, "netdev_del", args_id(st->netdev), err);
	if (!o)
		return -1;
	o->commits = o->drops_netdev = true;
	return add_network_check(l, check_direct, err);
}

/**
 * check_released() - query-block shows the slot back on its placeholder
 * @st:		release step
 * @ret:	query-block's answer
 * @err:	filled on mismatch
 *
 * Return: 0, or -1
 */
static int check_released(const struct plan_step *st, const cp_json *ret, struct cp_error *err)
{
	size_t i;

	for (i = 0; i < cp_json_len(ret); i++) {
		cp_json *e = cp_json_at(ret, i);
		const char *node = cp_json_get_str(cp_json_get_object(e, "inserted"), "node-name");

		if (!cp_streq(cp_json_get_str(e, "device"), st->slot_name))
			continue;
		if (cp_streq(node ? node : "", st->placeholder))
			return 0;
		return cp_error_set(err, CP_ERR_FAILED, "%s still holds %s", st->slot_name,
				    node ? node : "nothing");
	}
	return cp_error_set(err, CP_ERR_FAILED, "query-block does not list %s", st->slot_name);
}

/**
 * placeholder_args() - blockdev-add of a slot's empty, writable placeholder
 * @st:	release step
 *
 * Return: new object, or NULL when out of memory
 */
static cp_json *placeholder_args(const struct plan_step *st)
{
	return cp_json_obj(CP_STR("driver", "null-co"), CP_STR("node-name", st->placeholder),
			   CP_BOOL("read-zeroes", true), CP_INT("size", 0));
}

/**
 * check_unplugged() - query-block shows no frontend left holding the node
 * @st:		release step
 * @ret:	query-block's answer
 * @err:	filled on mismatch
 *
 * Return: 0, or -1
 */
static int check_unplugged(const struct plan_step *st, const cp_json *ret, struct cp_error *err)
{
	size_t i;

	for (i = 0; *st->node && i < cp_json_len(ret); i++) {
		cp_json *e = cp_json_at(ret, i);
		const char *node = cp_json_get_str(cp_json_get_object(e, "inserted"), "node-name");

		if (cp_streq(node, st->node))
			return cp_error_set(err, CP_ERR_FAILED, "%s is still held by %s", st->node,
					    cp_json_get_str(e, "qdev") ? cp_json_get_str(e, "qdev")
								       : "a frontend");
	}
	return 0;
}

/**
 * ops_release_usb_cd() - unplug a CD slot's usb-bot (and its scsi-cd)
 * @l:		list to fill
 * @st:		release step
 * @err:	filled when out of memory
 *
 * USB unplug completes at once, guest or not.
 *
 * Return: 0, or -1
 */
static int ops_release_usb_cd(struct apply_op_list *l, const struct plan_step *st,
			      struct cp_error *err)
{
	struct apply_op *o = add_cmd(l, "device_del", args_id(st->slot_name), err);

	if (!o)
		return -1;
	o->changes = true;
	o = add_op(l, APPLY_OP_WAIT_DELETED, NULL, NULL, err);
	if (!o)
		return -1;
	CP_FIELD_COPY(o->wait_id, st->slot_name);
	o->commits = true;
	o = add_op(l, APPLY_OP_CMD, "query-block", NULL, err);
	if (!o)
		return -1;
	o->check = check_unplugged;
	return 0;
}

/**
 * zero_names() - disk slot @st->slot's zero node and fdset
 * @st:		release step
 * @node:	the node's name (NAMES_ZERO_NODE<N>)
 * @size:	its size
 *
 * Return: the fdset id
 */
static int64_t zero_names(const struct plan_step *st, char *node, size_t size)
{
	snprintf(node, size, NAMES_ZERO_NODE "%u", st->slot);
	return NAMES_ZERO_FDSET + (int64_t)st->slot;
}

/**
 * ops_zero() - the guest sees the released disk slot empty: the slot moves
 * to a file node on an empty memfd, resized to 0
 * @l:		list to fill
 * @st:		release step
 * @err:	filled when out of memory
 *
 * A null-co node cannot be resized (no truncate), so the placeholder alone
 * leaves the guest with the old capacity and an I/O error on every access
 * (doc/live-attach.md §3); the memfd's file node can, and its block_resize
 * to 0 raises virtio-blk's config change. The qom-set frees the manager's
 * node (the commit point); the placeholder follows (ops_release()), then
 * ops_zero_drop() removes the zero node and its fdset.
 *
 * Return: 0, or -1
 */
static int ops_zero(struct apply_op_list *l, const struct plan_step *st, struct cp_error *err)
{
	char node[INV_NAME_MAX], file[48];
	int64_t set = zero_names(st, node, sizeof(node));
	struct apply_op *o;

	snprintf(file, sizeof(file), "/dev/fdset/%lld", (long long)set);
	if (!add_op(l, APPLY_OP_OPEN_MEMFD, NULL, NULL, err))
		return -1;
	o = add_cmd(l, "add-fd",
		    cp_json_obj(CP_INT("fdset-id", set), CP_STR("opaque", NAMES_ZERO_OPAQUE)), err);
	if (!o)
		return -1;
	o->with_tap = o->changes = true;
	if (!add_cmd(l, "blockdev-add",
		     cp_json_obj(CP_STR("driver", "file"), CP_STR("node-name", node),
				 CP_STR("filename", file)),
		     err))
		return -1;
	o = add_cmd(l, "qom-set", args_qom_set(st->slot_path, "drive", cp_json_new_string(node)),
		    err);
	if (!o)
		return -1;
	o->commits = true;
	return add_cmd(l, "block_resize", resize_args(node, 0), err) ? 0 : -1;
}

/**
 * ops_zero_drop() - remove the zero node and its fdset, once the slot holds
 * its placeholder
 * @l:		list to fill
 * @st:		release step
 * @err:	filled when out of memory
 *
 * Return: 0, or -1
 */
static int ops_zero_drop(struct apply_op_list *l, const struct plan_step *st, struct cp_error *err)
{
	char node[INV_NAME_MAX];
	int64_t set = zero_names(st, node, sizeof(node));

	if (!add_cmd(l, "blockdev-del", cp_json_obj(CP_STR("node-name", node)), err))
		return -1;
	return add_cmd(l, "remove-fd", cp_json_obj(CP_INT("fdset-id", set)), err) ? 0 : -1;
}

/**
 * ops_release() - the operations that free the manager's node from a slot
 * @l:		list to fill
 * @st:		release step
 * @err:	filled when out of memory
 *
 * Disk: the zero node first (ops_zero(): the guest sees size 0), then a
 * fresh placeholder node (the first was freed when it was replaced), then
 * qom-set the slot's drive to it, and the zero node goes. CD: its usb-bot is
 * unplugged; a legacy ide-cd slot's medium comes out through the tray.
 *
 * Return: 0, or -1
 */
static int ops_release(struct apply_op_list *l, const struct plan_step *st, struct cp_error *err)
{
	struct apply_op *o;

	if (st->kind == PLAN_RELEASE_CD && !st->tray)
		return ops_release_usb_cd(l, st, err);
	if (st->kind == PLAN_RELEASE_DISK) {
		if (ops_zero(l, st, err) < 0)
			return -1;
		if (!st->placeholder_exists &&
		    !add_cmd(l, "blockdev-add", placeholder_args(st), err))
			return -1;
		o = add_cmd(
			l, "qom-set",
			args_qom_set(st->slot_path, "drive", cp_json_new_string(st->placeholder)),
			err);
		if (!o)
			return -1;
		o->changes = o->commits = true;
		if (ops_zero_drop(l, st, err) < 0)
			return -1;
		o = add_op(l, APPLY_OP_CMD, "query-block", NULL, err);
		if (!o)
			return -1;
		o->check = check_released;
		return 0;
	} else {
		if (!add_cmd(l, "blockdev-open-tray", tray_args(st, true), err) ||
		    !add_cmd(l, "blockdev-remove-medium", tray_args(st, false), err))
			return -1;
		o = add_cmd(l, "blockdev-close-tray", tray_args(st, false), err);
	}
	if (!o)
		return -1;
	o->changes = o->commits = true;
	o = add_op(l, APPLY_OP_CMD, "query-block", NULL, err);
	if (!o)
		return -1;
	o->check = check_released;
	return 0;
}

/**
 * apply_ops_for_step() - the operations of one plan step
 * @st:		step (not an "already" one)
 * @out:	filled; free with apply_ops_free()
 * @err:	filled when out of memory
 *
 * Return: 0, or -1
 */
int apply_ops_for_step(const struct plan_step *st, struct apply_op_list *out, struct cp_error *err)
{
	int rc = -1;

	memset(out, 0, sizeof(*out));
	switch (st->kind) {
	case PLAN_DISK:
		rc = ops_disk(out, st, err);
		break;
	case PLAN_CD:
		rc = ops_cd(out, st, err);
		break;
	case PLAN_NIC_PCI:
	case PLAN_NIC_USB:
		rc = ops_nic(out, st, err);
		break;
	case PLAN_NIC_DIRECT:
		rc = ops_nic_direct(out, st, err);
		break;
	case PLAN_RELEASE_DISK:
	case PLAN_RELEASE_CD:
		rc = ops_release(out, st, err);
		break;
	default:
		return cp_error_set(err, CP_ERR_INVALID, "unknown step kind %d", (int)st->kind);
	}
	if (rc < 0)
		apply_ops_free(out);
	return rc;
}

/**
 * frontend_readd_args() - device_add arguments that re-create the manager's
 * disk frontend as it was
 * @st:		step
 * @bus:	the bus to put it on
 *
 * Return: new object, or NULL when out of memory
 */
static cp_json *frontend_readd_args(const struct plan_step *st, const char *bus)
{
	const struct inv_frontend *fe = &st->fe;

	return cp_json_obj(CP_STR("bus", bus), CP_STR("drive", st->node),
			   CP_STR("driver", fe->driver), CP_STR("id", st->dev_id),
			   CP_STR_IF(fe->addr[0], "addr", fe->addr),
			   CP_INT_IF(st->bootindex >= 0, "bootindex", st->bootindex),
			   CP_STR_IF(fe->serial[0], "serial", fe->serial),
			   CP_STR_IF(fe->device_id[0], "device_id", fe->device_id),
			   CP_INT_IF(fe->channel >= 0, "channel", fe->channel),
			   CP_INT_IF(fe->scsi_id >= 0, "scsi-id", fe->scsi_id),
			   CP_INT_IF(fe->lun >= 0, "lun", fe->lun));
}

/**
 * usb_readd_args() - device_add arguments for the manager's USB storage
 * device (usb-bot) that held the frontend
 * @st:		step
 *
 * Return: new object, or NULL when out of memory
 */
static cp_json *usb_readd_args(const struct plan_step *st)
{
	return cp_json_obj(CP_STR("bus", st->fe.usb_bus), CP_STR("driver", st->fe.usb_driver),
			   CP_STR("id", st->fe.usb_id),
			   CP_STR_IF(st->fe.usb_port[0], "port", st->fe.usb_port));
}

/**
 * add_slot_unplug() - device_del of the usb-bot a failed CD step added, and
 * the wait (the node is free once it is gone)
 * @l:		list
 * @st:		step
 * @err:	filled when out of memory
 *
 * Return: 0, or -1
 */
static int add_slot_unplug(struct apply_op_list *l, const struct plan_step *st,
			   struct cp_error *err)
{
	struct apply_op *o = add_cmd(l, "device_del", args_id(st->slot_name), err);

	if (!o)
		return -1;
	o = add_op(l, APPLY_OP_WAIT_DELETED, NULL, NULL, err);
	if (!o)
		return -1;
	CP_FIELD_COPY(o->wait_id, st->slot_name);
	return 0;
}

/**
 * apply_ops_for_rollback() - the operations that put the manager's disk frontend
 * back after a failed step
 * @st:		step
 * @slot_added:	the step had added its CD slot's usb-bot: unplug it first
 *		(with the scsi-cd on it, which holds the node)
 * @out:	filled (empty for NICs: they cannot be put back as they were);
 *		free with apply_ops_free()
 * @err:	filled when out of memory
 *
 * Return: 0, or -1
 */
int apply_ops_for_rollback(const struct plan_step *st, bool slot_added, struct apply_op_list *out,
			   struct cp_error *err)
{
	char bus[INV_NAME_MAX + 4], path[INV_PATH_MAX];

	memset(out, 0, sizeof(*out));
	if (st->kind != PLAN_DISK && st->kind != PLAN_CD)
		return 0;
	if (st->kind == PLAN_CD && slot_added && add_slot_unplug(out, st, err) < 0)
		goto fail;
	if (!st->fe.usb_id[0]) {
		if (!add_cmd(out, "device_add", frontend_readd_args(st, st->fe.bus), err))
			goto fail;
		return 0;
	}
	snprintf(bus, sizeof(bus), "%s.0", st->fe.usb_id);
	snprintf(path, sizeof(path), "/machine/peripheral/%s", st->fe.usb_id);
	if (!add_cmd(out, "device_add", usb_readd_args(st), err) ||
	    !add_cmd(out, "device_add", frontend_readd_args(st, bus), err) ||
	    !add_cmd(out, "qom-set", args_qom_set(path, "attached", cp_json_new_bool(true)), err))
		goto fail;
	return 0;
fail:
	apply_ops_free(out);
	return -1;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The attach watch: see coldplug/live.h. Pure functions of query-block's
 * answer and what the watch remembers; no QMP here.
 */
#include <stdio.h>
#include <string.h>

#include "coldplug/live.h"
#include "names.h"
#include "util.h"

#define PERIPHERAL     "/machine/peripheral/"
#define VIRTIO_BACKEND "/virtio-backend"

/**
 * live_frontend_id() - the qdev id query-block's "qdev" names
 * @qdev:	"dev-incus_data", or a QOM path: a virtio-blk's
 *		"/machine/peripheral/dev-incus_vb/virtio-backend"
 * @out:	the id
 * @size:	its size
 *
 * Return: false for an anonymous device (a path outside /machine/peripheral)
 */
bool live_frontend_id(const char *qdev, char *out, size_t size)
{
	size_t n;

	if (!qdev || !*qdev)
		return false;
	if (*qdev != '/') {
		cp_strlcpy(out, qdev, size);
		return true;
	}
	if (!cp_str_has_prefix(qdev, PERIPHERAL))
		return false;
	qdev += strlen(PERIPHERAL);
	n = strcspn(qdev, "/");
	if (qdev[n] && strcmp(qdev + n, VIRTIO_BACKEND))
		return false;
	if (!n || n >= size)
		return false;
	memcpy(out, qdev, n);
	out[n] = '\0';
	return true;
}

/**
 * live_collect() - remember which nodes coldplug's slots hold
 * @lw:		the watch
 * @inv:	a fresh inventory; not kept
 */
void live_collect(struct live_watch *lw, const struct inventory *inv)
{
	size_t i;

	lw->nslot_nodes = 0;
	for (i = 0; i < inv->nslots && lw->nslot_nodes < LIVE_MAX_NODES; i++)
		if (inv->slots[i].kind != INV_SLOT_NIC && *inv->slots[i].node)
			cp_strlcpy(lw->slot_nodes[lw->nslot_nodes++], inv->slots[i].node,
				   sizeof(lw->slot_nodes[0]));
}

/**
 * same() - two candidates are the same frontend on the same node
 * @a:	candidate
 * @b:	candidate
 *
 * Return: true if they are
 */
static bool same(const struct live_candidate *a, const struct live_candidate *b)
{
	return !strcmp(a->id, b->id) && !strcmp(a->node, b->node);
}

/**
 * on_slot() - whether a slot holds @node
 * @lw:		the watch
 * @node:	node-name
 *
 * Return: true if one does
 */
static bool on_slot(const struct live_watch *lw, const char *node)
{
	size_t i;

	for (i = 0; i < lw->nslot_nodes; i++)
		if (!strcmp(lw->slot_nodes[i], node))
			return true;
	return false;
}

/**
 * left_alone() - whether @c was left where the manager put it
 * @lw:	the watch
 * @c:	candidate
 *
 * Return: true if it was
 */
static bool left_alone(const struct live_watch *lw, const struct live_candidate *c)
{
	size_t i;

	for (i = 0; i < lw->nleft; i++)
		if (same(&lw->left[i], c))
			return true;
	return false;
}

/**
 * entry_candidate() - the candidate a query-block entry is, if any
 * @e:		one entry
 * @sel:	which frontends are the manager's
 * @out:	filled when it is one
 *
 * Return: true if @e is a manager frontend holding a node
 */
static bool entry_candidate(const cp_json *e, const struct inv_select *sel,
			    struct live_candidate *out)
{
	const char *node = cp_json_get_str(cp_json_get_object(e, "inserted"), "node-name");

	if (!node || !*node || strlen(node) >= sizeof(out->node))
		return false;
	if (!live_frontend_id(cp_json_get_str(e, "qdev"), out->id, sizeof(out->id)) ||
	    !inventory_selects(sel, out->id))
		return false;
	cp_strlcpy(out->node, node, sizeof(out->node));
	return true;
}

/**
 * prune_left() - forget the devices left alone that query-block no longer
 * lists (detached: if the manager attaches one again, it is new)
 * @lw:		the watch
 * @blocks:	query-block's answer
 * @sel:	which frontends are the manager's
 */
static void prune_left(struct live_watch *lw, const cp_json *blocks, const struct inv_select *sel)
{
	struct live_candidate c;
	size_t i, j, keep = 0;

	for (i = 0; i < lw->nleft; i++) {
		bool present = false;

		for (j = 0; j < cp_json_len(blocks) && !present; j++)
			present = entry_candidate(cp_json_at(blocks, j), sel, &c) &&
				  same(&c, &lw->left[i]);
		if (present)
			lw->left[keep++] = lw->left[i];
	}
	lw->nleft = keep;
}

/**
 * fd_names_any() - whether an fd's opaque names one of @n nodes (or a node
 * of its chain: inventory_fdset_names_node())
 * @opaque:	"rdwr:incus_data"
 * @nodes:	node names
 * @n:		their count
 * @stride:	bytes from one name to the next
 *
 * Return: true if it does
 */
static bool fd_names_any(const char *opaque, const char *nodes, size_t n, size_t stride)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (inventory_fdset_names_node(opaque, nodes + i * stride))
			return true;
	return false;
}

/**
 * left_has_fd() - whether a device left alone still has an fd
 * @c:		the device
 * @fdsets:	query-fdsets' answer
 *
 * Return: true if an fd's opaque names its node
 */
static bool left_has_fd(const struct live_candidate *c, const cp_json *fdsets)
{
	size_t i, j;

	for (i = 0; i < cp_json_len(fdsets); i++) {
		cp_json *fds = cp_json_get_array(cp_json_at(fdsets, i), "fds");

		for (j = 0; j < cp_json_len(fds); j++)
			if (inventory_fdset_names_node(
				    cp_json_get_str(cp_json_at(fds, j), "opaque"), c->node))
				return true;
	}
	return false;
}

/**
 * live_fdsets_new() - whether query-fdsets shows a manager fd that neither a
 * slot's node nor a device left alone accounts for (an attach under way or
 * done): then query-block is worth asking
 * @lw:		the watch (devices left alone whose fds are gone are forgotten:
 *		detached, so attached again they are new)
 * @fdsets:	query-fdsets' answer
 *
 * coldplug's own fdsets have no "<mode>:" in their opaque and never count.
 * A candidate noted on the last tick is always looked at again.
 *
 * Return: true to look at query-block
 */
bool live_fdsets_new(struct live_watch *lw, const cp_json *fdsets)
{
	size_t i, j, keep = 0;

	for (i = 0; i < lw->nleft; i++)
		if (left_has_fd(&lw->left[i], fdsets))
			lw->left[keep++] = lw->left[i];
	lw->nleft = keep;
	if (*lw->seen.id)
		return true;
	for (i = 0; i < cp_json_len(fdsets); i++) {
		cp_json *fds = cp_json_get_array(cp_json_at(fdsets, i), "fds");

		for (j = 0; j < cp_json_len(fds); j++) {
			const char *op = cp_json_get_str(cp_json_at(fds, j), "opaque");

			if (!op || !strchr(op, ':') ||
			    fd_names_any(op, lw->slot_nodes[0], lw->nslot_nodes,
					 sizeof(lw->slot_nodes[0])) ||
			    fd_names_any(op, lw->left[0].node, lw->nleft, sizeof(lw->left[0])))
				continue;
			return true;
		}
	}
	return false;
}

/**
 * live_scan() - one tick of the attach watch
 * @lw:		the watch (its @seen is updated)
 * @blocks:	query-block's answer
 * @sel:	which frontends are the manager's
 * @out:	the candidate to move, when the return is true
 *
 * The first manager frontend (in query-block's order) that holds a node no
 * slot holds and that was not left alone is this tick's candidate; it is
 * returned only when the previous tick saw the same one.
 *
 * Return: true if @out is to be moved now
 */
bool live_scan(struct live_watch *lw, const cp_json *blocks, const struct inv_select *sel,
	       struct live_candidate *out)
{
	struct live_candidate c;
	size_t i;

	prune_left(lw, blocks, sel);
	for (i = 0; i < cp_json_len(blocks); i++) {
		if (!entry_candidate(cp_json_at(blocks, i), sel, &c) || on_slot(lw, c.node) ||
		    left_alone(lw, &c))
			continue;
		if (same(&c, &lw->seen)) {
			*out = c;
			return true;
		}
		lw->seen = c;
		return false;
	}
	memset(&lw->seen, 0, sizeof(lw->seen));
	return false;
}

/**
 * live_leave() - leave a device where the manager put it, from now on
 * @lw:	the watch
 * @c:	the device (said once in the journal by the caller)
 *
 * When the list is full the oldest entry goes: that device is planned
 * again on a later tick (said once more, or moved if it can be by then).
 */
void live_leave(struct live_watch *lw, const struct live_candidate *c)
{
	if (left_alone(lw, c))
		return;
	if (lw->nleft == LIVE_MAX_LEFT) {
		memmove(&lw->left[0], &lw->left[1], (LIVE_MAX_LEFT - 1) * sizeof(lw->left[0]));
		lw->nleft--;
	}
	lw->left[lw->nleft++] = *c;
	memset(&lw->seen, 0, sizeof(lw->seen));
}

/**
 * live_moved_text() - the journal's line for a device moved while running
 * @st:		the plan_attach() step, applied
 * @out:	the line (without the VM's name)
 * @size:	its size
 */
void live_moved_text(const struct plan_step *st, char *out, size_t size)
{
	double mib = (double)st->size / (1024.0 * 1024.0);

	if (st->kind == PLAN_CD)
		snprintf(out, size,
			 "ISO \"%s\" attached while running is now in a USB CD drive (%s); the "
			 "guest sees the drive plugged in with the medium",
			 st->name, st->slot_name);
	else
		snprintf(out, size,
			 "disk \"%s\" attached while running is now on disk slot %u (%s); the "
			 "guest sees a %.*f MiB disk appear on it",
			 st->name, st->slot, st->slot_name, st->size % ((uint64_t)1 << 20) ? 1 : 0,
			 mib);
}

/**
 * live_nic_due() - count a watch tick; whether NICs are to be looked for now
 * @lw:	the watch
 *
 * Return: true every LIVE_NIC_EVERY ticks
 */
bool live_nic_due(struct live_watch *lw)
{
	return ++lw->ticks % LIVE_NIC_EVERY == 0;
}

/**
 * pci_nic_type() - whether a QOM type is a PCI NIC the manager plugs on a
 * root port
 * @type:	QOM type
 *
 * Return: true if it is
 */
static bool pci_nic_type(const char *type)
{
	static const char *const nics[] = {
		"virtio-net-pci", "virtio-net-pci-non-transitional", "e1000", "e1000e", "vmxnet3",
		"rtl8139",
	};
	size_t i;

	for (i = 0; i < CP_ARRAY_SIZE(nics); i++)
		if (!strcmp(type, nics[i]))
			return true;
	return false;
}

/**
 * nic_said() - whether the journal was told about NIC @id
 * @lw:	the watch
 * @id:	qdev id
 *
 * Return: true if it was
 */
static bool nic_said(const struct live_watch *lw, const char *id)
{
	size_t i;

	for (i = 0; i < lw->nnics_said; i++)
		if (!strcmp(lw->nics_said[i], id))
			return true;
	return false;
}

/**
 * prune_nics() - forget the NICs no longer in /machine/peripheral
 * @lw:		the watch
 * @children:	qom-list's answer
 */
static void prune_nics(struct live_watch *lw, const cp_json *children)
{
	size_t i, j, keep = 0;

	for (i = 0; i < lw->nnics_said; i++) {
		bool present = false;

		for (j = 0; j < cp_json_len(children) && !present; j++)
			present = cp_streq(cp_json_get_str(cp_json_at(children, j), "name"),
					   lw->nics_said[i]);
		if (present)
			memmove(lw->nics_said[keep++], lw->nics_said[i], sizeof(lw->nics_said[0]));
	}
	lw->nnics_said = keep;
}

/**
 * live_scan_nics() - the next NIC the manager attached while running to say
 * in the journal (once)
 * @lw:		the watch (the NIC is marked said)
 * @children:	qom-list /machine/peripheral's answer
 * @sel:	which devices are the manager's
 * @out:	the journal's line (without the VM's name)
 * @size:	its size
 *
 * A NIC needs a new tap queue to move (doc/live-attach.md §5), which the
 * daemon may not open: it stays on its PCIe root port. The manager's NICs
 * present when the VM started were moved then (its PCI NIC deleted; a
 * usb-net keeps the manager's id but is no PCI NIC), so a manager PCI NIC
 * here was attached while running. Call again until it returns false.
 *
 * Return: true if @out is a line to log
 */
bool live_scan_nics(struct live_watch *lw, const cp_json *children, const struct inv_select *sel,
		    char *out, size_t size)
{
	char type[64], name[INV_NAME_MAX];
	size_t i;

	prune_nics(lw, children);
	for (i = 0; i < cp_json_len(children); i++) {
		const cp_json *c = cp_json_at(children, i);
		const char *id = cp_json_get_str(c, "name");

		if (!id || strlen(id) >= INV_NAME_MAX || !inventory_selects(sel, id) ||
		    !names_qom_child_type(cp_json_get_str(c, "type"), type, sizeof(type)) ||
		    !pci_nic_type(type) || nic_said(lw, id))
			continue;
		if (lw->nnics_said == LIVE_MAX_LEFT)
			return false;
		cp_strlcpy(lw->nics_said[lw->nnics_said++], id, sizeof(lw->nics_said[0]));
		names_manager_name(id, sel->id_prefix, name, sizeof(name));
		snprintf(
			out, size,
			"NIC \"%s\" attached while running stays on the manager's %s on a PCIe root "
			"port, which macOS cannot see: a NIC needs a new tap queue, which the "
			"daemon may not open. Restart the VM (coldplug gives it a slot at start)",
			name, type);
		return true;
	}
	return false;
}

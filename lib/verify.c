/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The pipeline's last stage: verify. After apply, a fresh inventory is taken
 * and every step that moved a device is checked against it: the device is
 * on its new frontend (its slot holds its block node; its NIC slot is fed by
 * its netdev, or sits alone on its tap with its queues; its usb-net has its
 * MAC and one queue), its old frontend is gone, and no device of the
 * manager is left on a hot-plugged frontend. Nothing here talks to QEMU.
 */
#include <string.h>
#include <strings.h>

#include "coldplug/verify.h"

/**
 * verify_block() - a disk or CD is in its slot and its old frontend is gone
 * @st:		step
 * @after:	fresh inventory
 * @err:	filled on mismatch
 *
 * Return: 0, or -1
 */
static int verify_block(const struct plan_step *st, const struct inventory *after,
			struct cp_error *err)
{
	enum inv_slot_kind kind = st->kind == PLAN_CD ? INV_SLOT_CD : INV_SLOT_DISK;
	const struct inv_slot *s = inventory_find_slot(after, kind, st->slot);

	if (!s || strcmp(s->node, st->node))
		return cp_error_set(err, CP_ERR_FAILED, "%s should hold %s but holds %s",
				    st->slot_name, st->node, s && *s->node ? s->node : "nothing");
	if (inventory_find_disk(after, st->dev_id))
		return cp_error_set(err, CP_ERR_FAILED, "%s is still there", st->dev_id);
	return 0;
}

/**
 * verify_nic() - a NIC is on its new frontend with a single-queue netdev
 * @st:		step
 * @after:	fresh inventory
 * @err:	filled on mismatch
 *
 * Return: 0, or -1
 */
static int verify_nic(const struct plan_step *st, const struct inventory *after,
		      struct cp_error *err)
{
	const struct inv_slot *s;
	const struct inv_nic *n;

	if (st->kind == PLAN_NIC_DIRECT) {
		s = inventory_find_slot(after, INV_SLOT_NIC, st->slot);
		if (!s || !s->direct || !s->used || s->nqueues != st->nqueues ||
		    strcmp(s->ifname, st->ifname))
			return cp_error_set(err, CP_ERR_FAILED,
					    "%s should be alone on tap %s with %u queues",
					    st->slot_name, st->ifname, st->nqueues);
		if (!s->tap.exists || s->tap.ifindex != st->ifindex)
			return cp_error_set(err, CP_ERR_FAILED, "tap %s (ifindex %d) of %s is gone",
					    st->ifname, st->ifindex, st->slot_name);
		if (inventory_find_nic(after, st->dev_id))
			return cp_error_set(err, CP_ERR_FAILED, "%s is still there", st->dev_id);
		return 0;
	}
	if (st->kind == PLAN_NIC_PCI) {
		s = inventory_find_slot(after, INV_SLOT_NIC, st->slot);
		if (!s || strcmp(s->uplink, st->netdev))
			return cp_error_set(
				err, CP_ERR_FAILED, "%s should be fed by %s but is fed by %s",
				st->slot_name, st->netdev, s && *s->uplink ? s->uplink : "nothing");
		if (inventory_find_nic(after, st->dev_id))
			return cp_error_set(err, CP_ERR_FAILED, "%s is still there", st->dev_id);
		return 0;
	}
	n = inventory_find_nic(after, st->dev_id);
	if (!n || strcmp(n->driver, "usb-net") || strcmp(n->netdev, st->netdev) ||
	    strcasecmp(n->mac, st->mac) || n->nqueues != 1)
		return cp_error_set(err, CP_ERR_FAILED,
				    "%s should be a usb-net on a 1-queue %s with MAC %s",
				    st->dev_id, st->netdev, st->mac);
	return 0;
}

/**
 * verify_plan() - check a fresh inventory against what apply did
 * @p:		plan
 * @results:	apply's results
 * @after:	inventory taken after apply
 * @err:	filled on the first mismatch (CP_ERR_FAILED)
 *
 * Every moved device must be on its new frontend, its old frontend gone;
 * and no managed device may be left on a hot-plugged frontend.
 *
 * Return: 0, or -1
 */
int verify_plan(const struct plan *p, const struct apply_result *results,
		const struct inventory *after, struct cp_error *err)
{
	size_t i;
	int rc;

	for (i = 0; i < p->n; i++) {
		const struct plan_step *st = &p->steps[i];

		if (results[i].status != APPLY_MOVED)
			continue;
		rc = st->kind == PLAN_DISK || st->kind == PLAN_CD ? verify_block(st, after, err)
								  : verify_nic(st, after, err);
		if (rc < 0)
			return cp_error_prefix(err, "verify: %s", st->name);
	}
	for (i = 0; i < after->ndisks; i++)
		if (after->disks[i].managed)
			return cp_error_set(err, CP_ERR_FAILED,
					    "verify: %s is still on its hot-plugged frontend",
					    after->disks[i].id);
	for (i = 0; i < after->nnics; i++)
		if (after->nics[i].managed && strcmp(after->nics[i].driver, "usb-net"))
			return cp_error_set(err, CP_ERR_FAILED,
					    "verify: %s is still on its hot-plugged frontend",
					    after->nics[i].id);
	return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * After apply: verification against a fresh inventory, and the report.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "coldplug/rehome.h"
#include "util.h"

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
 * rehome_verify() - check a fresh inventory against what apply did
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
int rehome_verify(const struct plan *p, const struct apply_result *results,
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

/**
 * device_json() - one device of the report
 * @st:			plan step
 * @res:		its result
 * @with_commands:	include the QMP commands of the step (dry runs)
 *
 * Return: new object, or NULL when out of memory
 */
static cp_json *device_json(const struct plan_step *st, const struct apply_result *res,
			    bool with_commands)
{
	cleanup_json cp_json *o = cp_json_new_object();
	int rc;

	if (!o)
		return NULL;
	rc = cp_json_set_str(o, "name", st->name) |
	     cp_json_set_str(o, "kind", plan_step_kind_name(st->kind)) |
	     cp_json_set_str(o, "from", st->from) | cp_json_set_str(o, "to", st->to) |
	     cp_json_set_str(o, "slot", st->slot_name) |
	     cp_json_set_str(o, "status", apply_status_name(res->status));
	if (st->kind == PLAN_DISK || st->kind == PLAN_CD)
		rc |= cp_json_set_str(o, "node", st->node) |
		      cp_json_set_int(o, "size", (int64_t)st->size);
	else
		rc |= cp_json_set_str(o, "netdev", st->netdev) | cp_json_set_str(o, "mac", st->mac);
	if (res->status == APPLY_MOVED)
		rc |= cp_json_set_int(o, "ms", res->ms);
	if (res->err.code != CP_ERR_NONE)
		rc |= cp_json_set_str(o, "error", res->err.msg);
	if (with_commands && !st->already)
		rc |= cp_json_set(o, "commands", apply_step_commands(st));
	return rc ? NULL : steal_pointer(&o);
}

/**
 * stages_json() - {"inventory": µs, "plan": µs, "apply": µs, "verify": µs}
 * @r:	outcome
 *
 * Return: new object, or NULL when out of memory
 */
static cp_json *stages_json(const struct rehome *r)
{
	static const char *const names[REHOME_STAGES] = { "inventory", "plan", "apply", "verify" };
	cleanup_json cp_json *o = cp_json_new_object();
	int rc = 0;
	size_t i;

	if (!o)
		return NULL;
	for (i = 0; i < REHOME_STAGES; i++)
		rc |= cp_json_set_int(o, names[i], r->stage_us[i]);
	return rc ? NULL : steal_pointer(&o);
}

/**
 * rehome_report_json() - the machine-readable report of a run
 * @r:			outcome
 * @with_commands:	list each step's QMP commands (for --dry-run)
 *
 * Return: new object, or NULL when out of memory
 */
cp_json *rehome_report_json(const struct rehome *r, bool with_commands)
{
	cleanup_json cp_json *o = cp_json_new_object();
	cleanup_json cp_json *devs = cp_json_new_array();
	char ver[32];
	size_t i;
	int rc = 0;

	if (!o || !devs)
		return NULL;
	snprintf(ver, sizeof(ver), "%d.%d.%d", r->before.ver_major, r->before.ver_minor,
		 r->before.ver_micro);
	for (i = 0; r->results && i < r->plan.n; i++)
		rc |= cp_json_append(devs,
				     device_json(&r->plan.steps[i], &r->results[i], with_commands));
	rc |= cp_json_set_str(o, "result", rehome_result_name(r->result));
	rc |= cp_json_set_str(o, "qemu", ver);
	rc |= cp_json_set_int(o, "pid", r->before.pid);
	if (r->result == REHOME_REFUSED || r->result == REHOME_FAILED)
		rc |= cp_json_set_str(o, "error", r->err.msg);
	rc |= cp_json_set_bool(o, "verified", r->verified);
	rc |= cp_json_set_int(o, "ms", r->ms);
	rc |= cp_json_set(o, "stage-us", stages_json(r));
	rc |= cp_json_set(o, "devices", steal_pointer(&devs));
	return rc ? NULL : steal_pointer(&o);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The report of a re-homing: what was planned, what each step did, the
 * time per stage, as JSON (coldplug rehome --json, the daemon's log).
 */
#include <stdio.h>

#include "coldplug/cleanup.h"
#include "coldplug/rehome.h"
#include "util.h"

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

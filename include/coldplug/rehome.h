/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Rehome: the whole pipeline on one QEMU, in one direction:
 *
 *   inventory -> plan -> preflight (host taps) -> apply -> inventory -> verify
 *
 * and a report of every device (from, to, node, status). `coldplug rehome`
 * runs it once; `coldplug serve` runs it from its event loop when Incus's
 * scriptlet asks.
 */
#ifndef COLDPLUG_REHOME_H
#define COLDPLUG_REHOME_H

#include <stdbool.h>

#include "coldplug/apply.h"
#include "coldplug/error.h"
#include "coldplug/inventory.h"
#include "coldplug/json.h"
#include "coldplug/plan.h"

struct qmp_client;

/**
 * enum rehome_result - how the pipeline ended
 * @REHOME_OK:		every managed device is on its frontend, verified
 * @REHOME_DRY_RUN:	planned only (--dry-run)
 * @REHOME_REFUSED:	refused before changing anything
 * @REHOME_FAILED:	failed; the report says what moved and what did not
 */
enum rehome_result {
	REHOME_OK,
	REHOME_DRY_RUN,
	REHOME_REFUSED,
	REHOME_FAILED,
};

/**
 * struct rehome_opts - everything the pipeline needs to know
 * @sel:	which devices are the manager's (its proc_root is set from
 *		@apply's)
 * @plan:	policy
 * @apply:	apply options (pid is filled from the client; proc_root serves
 *		the inventory's tap probe too)
 * @dry_run:	stop after planning and preflight
 */
struct rehome_opts {
	struct inv_select sel;
	struct plan_opts plan;
	struct apply_opts apply;
	bool dry_run;
};

/**
 * enum rehome_stage - the pipeline's stages, for timing
 * @REHOME_INVENTORY:	the inventory the plan is made from
 * @REHOME_PLAN:	plan and host preflight
 * @REHOME_APPLY:	the QMP operations
 * @REHOME_VERIFY:	a fresh inventory, checked against the plan
 * @REHOME_STAGES:	their count
 */
enum rehome_stage {
	REHOME_INVENTORY,
	REHOME_PLAN,
	REHOME_APPLY,
	REHOME_VERIFY,
	REHOME_STAGES,
};

/**
 * struct rehome - one run of the pipeline, and its outcome
 * @result:	enum rehome_result
 * @err:	what went wrong (REHOME_REFUSED / REHOME_FAILED)
 * @before:	the inventory the plan was made from
 * @plan:	the plan
 * @results:	per step of @plan
 * @verified:	the fresh inventory after apply matched the plan
 * @ms:		how long it took
 * @stage_us:	µs spent in each stage (enum rehome_stage) of those that ran
 */
struct rehome {
	enum rehome_result result;
	struct cp_error err;
	struct inventory before;
	struct plan plan;
	struct apply_result *results;
	bool verified;
	int64_t ms;
	int64_t stage_us[REHOME_STAGES];
};

typedef void (*rehome_fn)(struct rehome *r, void *userdata);

void rehome_opts_init(struct rehome_opts *o);
int rehome_start(struct qmp_client *c, const struct rehome_opts *o, rehome_fn fn, void *userdata,
		 struct cp_error *err);
struct rehome *rehome_run(struct qmp_client *c, const struct rehome_opts *o, struct cp_error *err);
void rehome_free(struct rehome *r);
cp_json *rehome_report_json(const struct rehome *r, bool with_commands);
const char *rehome_result_name(enum rehome_result r);

#endif /* COLDPLUG_REHOME_H */

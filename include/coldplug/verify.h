/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Verify, the pipeline's last stage: a fresh inventory against what apply
 * did (lib/verify.c).
 */
#ifndef COLDPLUG_VERIFY_H
#define COLDPLUG_VERIFY_H

#include "coldplug/apply.h"
#include "coldplug/error.h"
#include "coldplug/inventory.h"
#include "coldplug/plan.h"

int verify_plan(const struct plan *p, const struct apply_result *results,
		const struct inventory *after, struct cp_error *err);

#endif /* COLDPLUG_VERIFY_H */

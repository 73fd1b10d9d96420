/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz target: the inventory and the planner on a raw document (the
 * answers QEMU gave, or a document a user sent with a bug report). Whatever
 * it holds, the inventory is built or refused, and a plan from it is made
 * or refused, with every string bounded.
 */
#include <string.h>

#include "coldplug/cleanup.h"
#include "coldplug/inventory.h"
#include "coldplug/plan.h"
#include "fuzz.h"

/**
 * LLVMFuzzerTestOneInput() - one input, as a raw inventory document
 * @data:	the bytes
 * @size:	their count
 *
 * Return: 0
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct inv_select sel = { .id_prefix = INV_INCUS_PREFIX };
	cleanup_json cp_json *raw = cp_json_parse((const char *)data, size, NULL);
	struct plan_opts po;
	struct inventory inv;
	struct cp_error err;
	struct plan p;
	size_t i;

	if (!raw || inventory_build(raw, &sel, &inv, &err) < 0)
		return 0;
	for (i = 0; i < inv.nslots; i++)
		FUZZ_CHECK(inv.slots[i].nfdsets <= INV_MAX_FDSETS);
	plan_opts_init(&po);
	if (plan_build(&inv, &po, &p, &err) == 0) {
		for (i = 0; i < p.n; i++)
			FUZZ_CHECK(memchr(p.steps[i].from, '\0', sizeof(p.steps[i].from)) != NULL);
		plan_free(&p);
	} else {
		FUZZ_CHECK(err.code == CP_ERR_REFUSED || err.code == CP_ERR_NOMEM);
	}
	po.nic_frontend = PLAN_FRONTEND_USB;
	if (plan_build(&inv, &po, &p, &err) == 0)
		plan_free(&p);
	inventory_free(&inv);
	return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The raw inventories recorded from real QEMU (tests/data/inventory,
 * record.sh), built into struct inventory for the tests that plan, inspect
 * and verify them.
 */
#ifndef COLDPLUG_TEST_RECORDED_H
#define COLDPLUG_TEST_RECORDED_H

#include "coldplug/inventory.h"
#include "coldplug/json.h"

cp_json *recorded_raw(const char *name, const char *qemu_ver);
void recorded_inventory(const char *name, const char *qemu_ver, const struct inv_select *sel,
			struct inventory *inv);

#endif /* COLDPLUG_TEST_RECORDED_H */

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Devices the manager attaches to a running VM (doc/live-attach.md). QEMU
 * has no event for a hot-add, so the daemon's watch polls query-block, and
 * this module decides from its answer, as plain data, which manager
 * frontend to move: one that is not on a slot, not a device already left
 * alone, and seen the same (frontend and node) on two consecutive ticks,
 * so that the manager's own attach sequence (add-fd, blockdev-add,
 * device_add, block_set_io_throttle) is over before coldplug touches it.
 * query-block is only asked when query-fdsets (which the detach watch reads
 * on every tick anyway) shows a manager fd for a node no slot holds: Incus's
 * hot-add starts with add-fd, and most ticks then cost no more than before.
 * What to do with it is plan_attach()'s, applied with apply_start().
 */
#ifndef COLDPLUG_LIVE_H
#define COLDPLUG_LIVE_H

#include <stdbool.h>
#include <stddef.h>

#include "coldplug/inventory.h"
#include "coldplug/json.h"
#include "coldplug/plan.h"

#define LIVE_MAX_LEFT  32
#define LIVE_MAX_NODES 32
/* NICs are looked for (qom-list /machine/peripheral) every this many ticks:
 * they are only reported, never moved. */
#define LIVE_NIC_EVERY 5

/**
 * struct live_candidate - a manager frontend holding a node not on a slot
 * @id:		its qdev id ("dev-incus_data")
 * @node:	the node it holds
 */
struct live_candidate {
	char id[INV_NAME_MAX];
	char node[INV_NAME_MAX];
};

/**
 * struct live_watch - what the attach watch remembers between ticks
 * @seen:	the candidate of the last tick ("" id: none)
 * @left:	devices left where the manager put them (each said once in the
 *		journal); forgotten when they leave query-block
 * @nleft:	their count
 * @slot_nodes:	nodes coldplug's slots hold (from the last inventory)
 * @nslot_nodes: their count
 * @nics_said:	NICs attached while running that the journal was told about;
 *		forgotten when they leave /machine/peripheral
 * @nnics_said:	their count
 * @ticks:	watch ticks so far (for LIVE_NIC_EVERY)
 */
struct live_watch {
	struct live_candidate seen;
	struct live_candidate left[LIVE_MAX_LEFT];
	size_t nleft;
	char slot_nodes[LIVE_MAX_NODES][INV_NAME_MAX];
	size_t nslot_nodes;
	char nics_said[LIVE_MAX_LEFT][INV_NAME_MAX];
	size_t nnics_said;
	unsigned ticks;
};

void live_collect(struct live_watch *lw, const struct inventory *inv);
bool live_fdsets_new(struct live_watch *lw, const cp_json *fdsets);
bool live_scan(struct live_watch *lw, const cp_json *blocks, const struct inv_select *sel,
	       struct live_candidate *out);
void live_leave(struct live_watch *lw, const struct live_candidate *c);
bool live_frontend_id(const char *qdev, char *out, size_t size);
void live_moved_text(const struct plan_step *st, char *out, size_t size);
bool live_nic_due(struct live_watch *lw);
bool live_scan_nics(struct live_watch *lw, const cp_json *children, const struct inv_select *sel,
		    char *out, size_t size);

#endif /* COLDPLUG_LIVE_H */

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A guest NIC's per-queue packet counters, as `cptraffic queues` prints them
 * in the test guest (tests/qemu/guest/README.md), and what a test or the
 * benchmark concludes from two readings: which queues carried traffic in
 * between, and each queue's share. Plain parsing and arithmetic, no I/O:
 * lab_guest_queues() (guest.h) runs the command.
 */
#ifndef COLDPLUG_LAB_QUEUES_H
#define COLDPLUG_LAB_QUEUES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coldplug/error.h"

#define LAB_QUEUES_MAX 64

/**
 * struct lab_queues - one reading of a NIC's queues in the guest
 * @max:	combined channels (queue pairs) the NIC offers
 * @combined:	those in use
 * @was:	those in use before the reading (it may set them)
 * @n:		queues with counters (the driver's, for the queues in use)
 * @rx:		packets received per queue
 * @tx:		packets sent per queue
 */
struct lab_queues {
	unsigned max;
	unsigned combined;
	unsigned was;
	unsigned n;
	uint64_t rx[LAB_QUEUES_MAX];
	uint64_t tx[LAB_QUEUES_MAX];
};

int lab_queues_parse(const char *text, struct lab_queues *out, struct cp_error *err);
int lab_queues_delta(const struct lab_queues *before, const struct lab_queues *after,
		     struct lab_queues *out, struct cp_error *err);
unsigned lab_queues_carrying(const uint64_t *v, unsigned n, uint64_t min);
size_t lab_queues_split(const uint64_t *v, unsigned n, char *buf, size_t size);
bool lab_queues_all_likely(unsigned queues, unsigned flows);

#endif /* COLDPLUG_LAB_QUEUES_H */

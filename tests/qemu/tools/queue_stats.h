/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Which ethtool statistic is a per-queue packet counter: the one piece of
 * parsing in `cptraffic queues` (tests/qemu/tools/cptraffic.c, in the test
 * guest). Header-only, with no dependency, because cptraffic is one static
 * file built for the guest and tests/unit/test_queues.c checks the same code.
 *
 * The names are virtio_net's in the test guest's Linux 6.1
 * (virtnet_get_strings(): "rx_queue_%u_%s" / "tx_queue_%u_%s" over
 * virtnet_rq_stats_desc / virtnet_sq_stats_desc, whose first entry is
 * "packets"), one pair per queue pair in use. Every other statistic
 * (bytes, drops, kicks, xdp_*) is not a packet count and is ignored.
 */
#ifndef COLDPLUG_QUEUE_STATS_H
#define COLDPLUG_QUEUE_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* Queues counted; virtio-net allows more, the lab's guests use at most 8. */
#define QSTAT_MAX_QUEUES 64

/* What a statistic counts. */
enum qstat_dir {
	QSTAT_NONE = 0, /* not a per-queue packet counter */
	QSTAT_RX,	/* packets received on one queue */
	QSTAT_TX,	/* packets sent on one queue */
};

/**
 * qstat_name_parse() - the direction and queue of a per-queue packet counter
 * @name:	an ethtool statistic name (ETH_SS_STATS string; it need not be
 *		NUL-terminated within @len)
 * @len:	the most bytes of @name to read (ETH_GSTRING_LEN)
 * @queue:	set to the queue's index when the result is not QSTAT_NONE
 *
 * Accepts exactly "rx_queue_<N>_packets" and "tx_queue_<N>_packets", N a
 * decimal below QSTAT_MAX_QUEUES without leading zeros.
 *
 * Return: QSTAT_RX, QSTAT_TX, or QSTAT_NONE (@queue untouched)
 */
static inline enum qstat_dir qstat_name_parse(const char *name, size_t len, unsigned *queue)
{
	static const char mid[] = "x_queue_", tail[] = "_packets";
	enum qstat_dir dir;
	size_t end = 0, i;
	unsigned q = 0;

	while (end < len && name[end])
		end++;
	if (end < 1 + sizeof(mid) - 1 + 1 + sizeof(tail) - 1)
		return QSTAT_NONE;
	if (name[0] == 'r')
		dir = QSTAT_RX;
	else if (name[0] == 't')
		dir = QSTAT_TX;
	else
		return QSTAT_NONE;
	if (memcmp(name + 1, mid, sizeof(mid) - 1) != 0)
		return QSTAT_NONE;
	i = sizeof(mid);
	if (name[i] < '0' || name[i] > '9' || (name[i] == '0' && name[i + 1] != '_'))
		return QSTAT_NONE;
	for (; i < end && name[i] >= '0' && name[i] <= '9'; i++) {
		q = q * 10 + (unsigned)(name[i] - '0');
		if (q >= QSTAT_MAX_QUEUES)
			return QSTAT_NONE;
	}
	if (end - i != sizeof(tail) - 1 || memcmp(name + i, tail, sizeof(tail) - 1) != 0)
		return QSTAT_NONE;
	*queue = q;
	return dir;
}

#endif /* COLDPLUG_QUEUE_STATS_H */

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The per-queue counters of the lab guest's NICs, both ends of their
 * parsing, without QEMU:
 * - in the guest, `cptraffic queues` keeps only virtio_net's per-queue
 *   packet statistics (tests/qemu/tools/queue_stats.h), on the names Linux
 *   6.1's virtio_net gives them and on near misses;
 * - on the host, its line parsed, two readings subtracted, the shares and
 *   the rule for when "every queue carried traffic" may be asserted
 *   (tests/qemu/lab/queues.c).
 */
#include <linux/ethtool.h>
#include <stdio.h>
#include <string.h>

#include "queue_stats.h"
#include "queues.h"
#include "tap.h"

/**
 * name_case() - one statistic name through qstat_name_parse()
 * @name:	the name
 * @want:	the direction expected
 * @want_q:	the queue expected (when @want is not QSTAT_NONE)
 */
static void name_case(const char *name, enum qstat_dir want, unsigned want_q)
{
	unsigned q = 999;
	enum qstat_dir d = qstat_name_parse(name, strlen(name), &q);

	ok(d == want && (want == QSTAT_NONE ? q == 999 : q == want_q), "stat '%s': %d, queue %u",
	   name, (int)d, q);
}

/**
 * test_names() - virtio_net's names (Linux 6.1) and what is not a counter
 */
static void test_names(void)
{
	char padded[ETH_GSTRING_LEN];
	unsigned q = 0;

	name_case("rx_queue_0_packets", QSTAT_RX, 0);
	name_case("tx_queue_1_packets", QSTAT_TX, 1);
	name_case("rx_queue_63_packets", QSTAT_RX, 63);
	name_case("rx_queue_64_packets", QSTAT_NONE, 0);
	name_case("rx_queue_0_bytes", QSTAT_NONE, 0);
	name_case("rx_queue_0_xdp_packets", QSTAT_NONE, 0);
	name_case("tx_queue_0_kicks", QSTAT_NONE, 0);
	name_case("rx_queue__packets", QSTAT_NONE, 0);
	name_case("rx_queue_01_packets", QSTAT_NONE, 0);
	name_case("rx_queue_1_packetsX", QSTAT_NONE, 0);
	name_case("rx_queue_1_packet", QSTAT_NONE, 0);
	name_case("xx_queue_1_packets", QSTAT_NONE, 0);
	name_case("rx_packets", QSTAT_NONE, 0);
	name_case("", QSTAT_NONE, 0);
	/* an ETH_GSTRING_LEN slot filled to the end, no NUL: read no further */
	memset(padded, 'r', sizeof(padded));
	ok(qstat_name_parse(padded, sizeof(padded), &q) == QSTAT_NONE,
	   "a name without NUL is read only within its slot");
	memset(padded, 0, sizeof(padded));
	snprintf(padded, sizeof(padded), "%s", "tx_queue_7_packets");
	ok(qstat_name_parse(padded, sizeof(padded), &q) == QSTAT_TX && q == 7,
	   "a name NUL-padded in its slot");
}

/**
 * test_parse() - the guest's line, with the console's framing around it
 */
static void test_parse(void)
{
	struct lab_queues a, b, d;
	struct cp_error err = { 0 };

	ok(lab_queues_parse("noise\r\nqueues iface=eth0 max=2 combined=2 was=1 rx=10,20 tx=3,4 "
			    "later=x\r\nmore\n",
			    &a, &err) == 0,
	   "a queues line parses among other lines");
	ok(a.max == 2 && a.combined == 2 && a.was == 1 && a.n == 2 && a.rx[0] == 10 &&
		   a.rx[1] == 20 && a.tx[0] == 3 && a.tx[1] == 4,
	   "its fields");
	ok(lab_queues_parse("CP-BEGIN sh\nqueues iface=eth0 max=2 combined=2 was=2 rx=2957,705 "
			    "tx=1000,1\r\nCP-END sh rc=0\n",
			    &b, &err) == 0 &&
		   b.n == 2 && b.rx[1] == 705 && b.tx[1] == 1,
	   "the line as the console gives it: rx=/tx= last, before \\r\\n");
	ok(lab_queues_parse("queues iface=eth0 max=1 combined=1 rx=5 tx=6\n", &b, &err) == 0 &&
		   b.n == 1 && b.tx[0] == 6,
	   "one queue, the line ending in \\n");
	ok(lab_queues_parse("queues iface=lo max=0 combined=0 was=0 rx=- tx=-", &b, &err) == 0 &&
		   b.n == 0,
	   "a NIC without per-queue counters: no queue");
	ok(lab_queues_parse("queues iface=eth0 max=2 combined=2 rx=1,2 tx=1", &b, &err) < 0,
	   "rx and tx of different lengths are refused");
	ok(lab_queues_parse("queues iface=eth0 max=2 rx=1 tx=1", &b, &err) < 0,
	   "a line without combined= is refused");
	ok(lab_queues_parse("queues iface=eth0 max=2 combined=2 rx=1,x tx=1,2", &b, &err) < 0,
	   "a count that is not a number is refused");
	ok(lab_queues_parse("queues iface=eth0 max=2 combined=2 rx=1, tx=1,2", &b, &err) < 0,
	   "a trailing comma is refused");
	ok(lab_queues_parse("error eth9: No such device", &b, &err) < 0 &&
		   strstr(err.msg, "No such device"),
	   "no queues line: the error shows what came instead (%s)", err.msg);
	ok(lab_queues_parse("queues iface=eth0 max=2 combined=2 rx=15,20 tx=3,9", &b, &err) == 0 &&
		   lab_queues_delta(&a, &b, &d, &err) == 0 && d.rx[0] == 5 && d.rx[1] == 0 &&
		   d.tx[0] == 0 && d.tx[1] == 5,
	   "two readings subtract per queue");
	ok(lab_queues_parse("queues iface=eth0 max=2 combined=2 rx=9,20 tx=3,4", &b, &err) == 0 &&
		   lab_queues_delta(&a, &b, &d, &err) < 0,
	   "a counter that went back is refused (%s)", err.msg);
	ok(lab_queues_parse("queues iface=eth0 max=2 combined=1 rx=90 tx=30", &b, &err) == 0 &&
		   lab_queues_delta(&a, &b, &d, &err) < 0,
	   "a change of queues in between is refused (%s)", err.msg);
}

/**
 * test_shares() - carrying queues, the split, when all queues are certain
 */
static void test_shares(void)
{
	const uint64_t even[2] = { 510, 490 }, one[2] = { 1000, 0 }, three[3] = { 1, 1, 1 };
	const uint64_t none[2] = { 0, 0 }, noisy[2] = { 1000, 40 };
	char buf[64];

	ok(lab_queues_carrying(even, 2, 100) == 2, "510/490: both queues carry 100+");
	ok(lab_queues_carrying(noisy, 2, 100) == 1, "1000/40: one queue carries 100+");
	ok(lab_queues_carrying(noisy, 2, 0) == 2, "min 0 counts any packet");
	lab_queues_split(even, 2, buf, sizeof(buf));
	is_str(buf, "51 % / 49 %", "split of 510/490");
	lab_queues_split(one, 2, buf, sizeof(buf));
	is_str(buf, "100 % / 0 %", "split of 1000/0");
	lab_queues_split(three, 3, buf, sizeof(buf));
	is_str(buf, "33 % / 33 % / 33 %", "thirds are rounded each");
	lab_queues_split(none, 2, buf, sizeof(buf));
	is_str(buf, "-", "no packet: -");
	lab_queues_split(even, 0, buf, sizeof(buf));
	is_str(buf, "-", "no queue: -");
	ok(lab_queues_split(even, 2, buf, 6) == 5 && strlen(buf) == 5, "a short buffer: cut (%s)",
	   buf);
	ok(lab_queues_all_likely(1, 1), "one queue: always");
	ok(lab_queues_all_likely(2, 16), "16 flows on 2 queues: every queue (3e-5 to miss one)");
	ok(!lab_queues_all_likely(2, 8), "8 flows on 2 queues: no (8e-3)");
	ok(!lab_queues_all_likely(4, 16), "16 flows on 4 queues: no (0.04)");
	ok(!lab_queues_all_likely(8, 16), "16 flows on 8 queues: no");
	ok(lab_queues_all_likely(4, 40), "40 flows on 4 queues: yes (4e-5)");
}

/**
 * main() - every case
 *
 * Return: TAP exit status
 */
int main(void)
{
	test_names();
	test_parse();
	test_shares();
	return done_testing();
}

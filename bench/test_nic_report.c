/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-nic's per-queue claims, from a run's JSON: the table's cells (how
 * many queues carried a fixed-rate run, each one's share) and the verdict on
 * issue 11's "multi-queue traffic seen on every queue" for direct; which
 * VMs ran side by side, and what the noise finding calls native's second VM.
 * Checked on figures whose answer is known, and on a run from before the
 * counters and the side-by-side VMs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coldplug/cleanup.h"
#include "coldplug/json.h"
#include "nic.h"
#include "tap.h"

/*
 * native: RX 1020/980 of 2000 packets in 16 flows (a flow 125, half 62),
 * TX 2000/40 (the control connection's 40 are below half a flow). direct:
 * RX queues as given, offering @max.
 */
static const char doc_fmt[] =
	"{\"qemu\":\"10.0\",\"params\":{\"udp_count\":2000,\"udp_flows\":16},\"configs\":["
	"{\"key\":\"native\",\"label\":\"native\",\"kind\":\"native\",\"done\":true,"
	"\"udp_in\":{\"ok\":true,\"sent\":2000,\"received\":2000,\"flows\":16},"
	"\"udp_out\":{\"ok\":true,\"sent\":2000,\"received\":2000,\"flows\":16},"
	"\"queues_in\":{\"ok\":true,\"max\":2,\"combined\":2,\"packets\":[1020,980]},"
	"\"queues_out\":{\"ok\":true,\"max\":2,\"combined\":2,\"packets\":[2000,40]}},"
	"{\"key\":\"direct\",\"label\":\"direct\",\"kind\":\"direct\",\"done\":true,"
	"\"udp_in\":{\"ok\":true,\"sent\":2000,\"received\":2000,\"flows\":16},"
	"\"udp_out\":{\"ok\":false,\"error\":\"no way back\"},"
	"\"queues_in\":{\"ok\":true,\"max\":%d,\"combined\":%d,\"packets\":[%s]},"
	"\"queues_out\":{\"ok\":false,\"error\":\"guest gone\"}}"
	"]}";

/* native and native-end side by side, pci-virtio alone. */
static const char side_doc[] =
	"{\"qemu\":\"7.2\",\"configs\":["
	"{\"key\":\"native\",\"label\":\"native\",\"kind\":\"native\",\"done\":true,"
	"\"side_by_side\":true,\"tcp_in\":{\"ok\":true,\"kbit_s\":1000000}},"
	"{\"key\":\"pci-virtio\",\"label\":\"hub\",\"kind\":\"pci\",\"done\":true,"
	"\"side_by_side\":false},"
	"{\"key\":\"native-end\",\"label\":\"native again\",\"kind\":\"native\","
	"\"done\":true,\"side_by_side\":true,\"tcp_in\":{\"ok\":true,\"kbit_s\":900000}}"
	"]}";

/**
 * render() - bench_nic_print() of a document
 * @json:	the run's JSON
 *
 * Return: the markdown (caller frees)
 */
static char *render(const char *json)
{
	struct cp_error err = { 0 };
	cleanup_json cp_json *doc = cp_json_parse(json, strlen(json), &err);
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (!doc)
		bail_out("test JSON: %s", err.msg);
	f = open_memstream(&text, &len);
	if (!f)
		bail_out("open_memstream");
	bench_nic_print(f, doc);
	fclose(f);
	return text;
}

/**
 * direct_case() - the run with direct's RX queues as given
 * @max:	queue pairs offered (and in use)
 * @packets:	the per-queue packets, "a,b"
 *
 * Return: the markdown (caller frees)
 */
static char *direct_case(int max, const char *packets)
{
	char json[sizeof(doc_fmt) + 64];

	snprintf(json, sizeof(json), doc_fmt, max, max, packets);
	return render(json);
}

/**
 * main() - the cells and the verdict
 *
 * Return: TAP exit status
 */
int main(void)
{
	cleanup_free char *even = direct_case(2, "1200,400");
	cleanup_free char *one = direct_case(1, "1600");
	cleanup_free char *half = direct_case(2, "1580,20");
	cleanup_free char *old = render(
		"{\"qemu\":\"7.2\",\"configs\":[{\"key\":\"native\","
		"\"label\":\"native\",\"kind\":\"native\",\"done\":true},{\"key\":"
		"\"native-end\",\"label\":\"native again\",\"kind\":\"native\",\"done\":true}]}");
	cleanup_free char *side = render(side_doc);

	like(even,
	     "| native | 2 / 2 | 2/2 carried traffic (51 % / 49 %) | 1/2 carried traffic "
	     "(98 % / 2 %) |",
	     "native: both RX queues, TX on one (40 packets are not half a flow)");
	like(even, "| direct | 2 / 2 | 2/2 carried traffic (75 % / 25 %) | n/m: guest gone |",
	     "direct: both RX queues; TX not measured, with the reason");
	like(even,
	     "multi-queue traffic seen on every queue: met.** direct's UDP host→guest was "
	     "carried by 2 of the 2 queues in use (2 offered)",
	     "target met when every queue carried the run");
	like(one, "| direct | 1 / 1 | 1/1 carried traffic (100 %) |", "one queue: its cell");
	like(one, "multi-queue traffic seen on every queue: not met.**",
	     "one queue pair offered: not met");
	like(half, "| direct | 2 / 2 | 1/2 carried traffic (99 % / 1 %) |",
	     "20 packets are not half a flow");
	like(half, "every queue: not met.** direct's UDP host→guest was carried by 1 of the 2",
	     "a queue with only stray packets: not met");
	like(old, "Per-queue traffic: not measured", "a run from before the counters says so");
	ok(!strstr(old, "multi-queue traffic seen"), "and claims no verdict");
	like(side,
	     "- **Side by side:** native, native-end ran at once, and their TCP runs took turns",
	     "the side-by-side VMs are named, and only they");
	like(side,
	     "- Noise: native's second VM, running beside the first (TCP in turns), got TCP "
	     "host→guest 0.90×",
	     "the noise finding says native's second VM ran beside the first");
	ok(!strstr(old, "Side by side"), "a run from before the side-by-side VMs names none");
	like(old, "- Noise: native's second VM, measured last, got",
	     "and its native-end was measured last");
	return done_testing();
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The start benchmark (issue 11 item 5): what every part of bench-start
 * shares. For each layout (1, 4, 8 disks x 1, 3 NICs), pairs of VM starts by
 * the lab's Incus emulator over real QEMU (tests/qemu/lab), one with Incus's
 * layout alone and one with coldplug (its qemu-conf at the config stage, its
 * rehome at pre-start), back to back; the raw times go to a JSON file, and
 * RESULTS-start.md is generated from those files (start_report.c), never
 * edited by hand.
 */
#ifndef COLDPLUG_BENCH_START_H
#define COLDPLUG_BENCH_START_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "coldplug/error.h"
#include "coldplug/json.h"

struct lab_net;

#define BENCH_START_ERR_MAX    512
#define BENCH_START_REPEAT_MAX 15
#define BENCH_START_STAGES     4 /* rehome --json's "stage-us" members */

extern const char *const bench_start_stage_names[BENCH_START_STAGES];

/**
 * struct bench_start_params - what one run measures
 * @qemu:	"7.2" or "10.0"
 * @vcpus:	vCPUs of every VM
 * @queues:	each NIC's tap queues: Incus opens max(vCPUs, 2), and each
 *		direct slot gets as many (--nic-queues)
 * @vhost:	/dev/vhost-net is usable: Incus's NICs and the direct slots
 *		then use vhost-net (Incus's own test)
 * @memory_mb:	guest memory
 * @disk_size:	size of every disk image (root and data), bytes
 * @repeat:	pairs per layout (the medians are over these)
 * @quick:	the short variant (--quick): one pair per layout
 */
struct bench_start_params {
	const char *qemu;
	unsigned vcpus;
	unsigned queues;
	bool vhost;
	unsigned memory_mb;
	uint64_t disk_size;
	unsigned repeat;
	bool quick;
};

/**
 * struct bench_start_vm - one VM start, launch to `cont`
 * @ok:		it started (and with coldplug, rehome re-homed everything)
 * @coldplug:	started with coldplug
 * @error:	why not, or ""
 * @launch_us:	lab_incus_launch(): taps and images, the config stage
 *		(coldplug qemu-conf), QEMU started paused, QMP, CPU and
 *		device hotplug
 * @pre_start_us: lab_incus_pre_start(): coldplug rehome, if any
 * @resume_us:	lab_incus_resume(): system_reset, set-action, cont
 * @start_us:	the three together
 * @conf_us:	the config-stage hook: `coldplug qemu-conf` run (fork to
 *		exit) and its output written
 * @rehome_us:	`coldplug rehome`, fork to exit (process start, connect,
 *		handshake, the pipeline, exit)
 * @rehome_ms:	rehome's own "ms" (the pipeline, as --json reports it)
 * @stage_us:	rehome's "stage-us", in bench_start_stage_names order
 * @moved:	devices rehome reports "moved"
 * @verified:	rehome's "verified"
 */
struct bench_start_vm {
	bool ok;
	bool coldplug;
	char error[BENCH_START_ERR_MAX];
	int64_t launch_us;
	int64_t pre_start_us;
	int64_t resume_us;
	int64_t start_us;
	int64_t conf_us;
	int64_t rehome_us;
	int64_t rehome_ms;
	int64_t stage_us[BENCH_START_STAGES];
	unsigned moved;
	bool verified;
};

/**
 * struct bench_start_pair - the two starts of one repetition, back to back
 * @coldplug_first:	the coldplug start ran first (the order alternates)
 * @plain:		Incus's layout alone
 * @with:		with coldplug
 */
struct bench_start_pair {
	bool coldplug_first;
	struct bench_start_vm plain;
	struct bench_start_vm with;
};

/**
 * struct bench_start_result - one layout's pairs
 * @disks:		disks (the root disk and disks - 1 data disks)
 * @nics:		bridged NICs
 * @npairs:		pairs run
 * @pairs:		their figures
 * @conf_cmd:		the `coldplug qemu-conf` command line (MACs and taps as
 *			MAC0.., TAP0..)
 * @rehome_cmd:		the `coldplug rehome` command line (socket as SOCKET)
 * @qemu_version:	QEMU's version, as the emulator read it
 */
struct bench_start_result {
	unsigned disks;
	unsigned nics;
	size_t npairs;
	struct bench_start_pair pairs[BENCH_START_REPEAT_MAX];
	char conf_cmd[1024];
	char rehome_cmd[256];
	char qemu_version[64];
};

/**
 * struct bench_start_run - one run of bench-start (one QEMU version)
 * @started:		when it started, UTC, ISO 8601
 * @load_start:		/proc/loadavg then (the machine is shared)
 * @seconds:		how long it took
 * @qemu_binary:	the QEMU it ran
 * @warmup:		the unrecorded first start (8 disks, 3 NICs, with
 *			coldplug: binaries and images into the page cache)
 */
struct bench_start_run {
	char started[32];
	char load_start[64];
	int64_t seconds;
	const char *qemu_binary;
	struct bench_start_vm warmup;
};

/* start_vm.c */
void bench_start_vm_run(const struct bench_start_params *p, unsigned disks, unsigned nics,
			bool coldplug, struct lab_net *net, struct bench_start_vm *r, char *version,
			size_t size);
void bench_start_commands(const struct bench_start_params *p, struct bench_start_result *res);

/* start_report.c */
void bench_start_run_begin(struct bench_start_run *run);
cp_json *bench_start_to_json(const struct bench_start_params *p,
			     const struct bench_start_result *res, size_t n,
			     const struct bench_start_run *run);
int bench_start_markdown(const char *out, char *const *inputs, size_t n, struct cp_error *err);
void bench_start_print(FILE *f, const cp_json *doc);

#endif /* COLDPLUG_BENCH_START_H */

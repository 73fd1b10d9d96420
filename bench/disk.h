/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The disk benchmark (issue 11 item 6): what every part of bench-disk
 * shares. One VM per frontend, started by the lab's Incus emulator over real
 * QEMU (tests/qemu/lab), all on the same image file and running side by
 * side; the lab's test guests run O_DIRECT sequential reads and writes on
 * the disk, taking turns, and the
 * figures go to a JSON file; RESULTS-disk.md is generated from those files
 * (disk_report.c), never edited by hand.
 */
#ifndef COLDPLUG_BENCH_DISK_H
#define COLDPLUG_BENCH_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "coldplug/error.h"
#include "coldplug/json.h"
#include "incus.h"

struct lab_guest;

#define BENCH_DISK_ERR_MAX 512
#define BENCH_DISK_PASSES  4 /* read and write, at 1 MiB and 4 KiB */
#define BENCH_DISK_ROUNDS  4 /* at most, per pass */

/* Issue 11's target: the re-homed disk at least this share of the best native frontend. */
#define BENCH_DISK_TARGET 0.98

/* How a configuration's disk reaches the guest. */
enum bench_disk_kind {
	BENCH_DISK_NATIVE = 0, /* Incus's own frontend, left alone */
	BENCH_DISK_REHOMED,    /* coldplug rehome: a virtio-blk slot on Incus's node */
};

/**
 * struct bench_disk_config - one configuration: a VM with the bench disk,
 * or a repeat measured on an earlier configuration's VM
 * @key:	short name (JSON)
 * @label:	what the tables call it
 * @kind:	how the disk reaches the guest
 * @bus:	the io.bus Incus gives the disk (for rehomed: before coldplug
 *		moves it)
 * @first:	for a repeat (the run's noise), the key of the configuration
 *		whose VM it measures again; else NULL
 */
struct bench_disk_config {
	const char *key;
	const char *label;
	enum bench_disk_kind kind;
	enum lab_disk_bus bus;
	const char *first;
};

/**
 * struct bench_disk_pass_def - one kind of pass
 * @key:	JSON member ("read_1m")
 * @name:	what the tables call it ("read 1 MiB")
 * @write:	a write pass (else a read)
 * @large:	1 MiB blocks (else 4 KiB)
 */
struct bench_disk_pass_def {
	const char *key;
	const char *name;
	bool write;
	bool large;
};

extern const struct bench_disk_pass_def bench_disk_passes[BENCH_DISK_PASSES];

/**
 * struct bench_disk_params - what one run measures
 * @qemu:		"7.2" or "10.0"
 * @vcpus:		guest vCPUs
 * @memory_mb:		guest memory
 * @image_dir:		where the image is made: a tmpfs, so the host's disk
 *			(shared, virtual) adds none of its noise; Incus opens
 *			it with O_DIRECT where the kernel's tmpfs takes it
 *			(Linux 6.6+), else with cache writeback, as on zfs
 *			(each result records which)
 * @image_size:		the bench disk's image, bytes (filled before the
 *			first VM, so no pass reads a hole)
 * @large_bs:		the large block size (1 MiB)
 * @small_bs:		the small block size (4 KiB)
 * @large_bytes:	bytes each 1 MiB pass moves
 * @small_bytes:	bytes each 4 KiB pass moves
 * @rounds:		times each pass runs in a VM, the passes taking turns
 *			(the figure is the best round)
 * @quick:		the short variant (--quick)
 */
struct bench_disk_params {
	const char *qemu;
	unsigned vcpus;
	unsigned memory_mb;
	const char *image_dir;
	uint64_t image_size;
	unsigned large_bs;
	unsigned small_bs;
	uint64_t large_bytes;
	uint64_t small_bytes;
	unsigned rounds;
	bool quick;
};

/**
 * struct bench_disk_pass - one pass's rounds, as the guest timed them
 * @ok:		every round ran (else see @error)
 * @bs:		block size
 * @bytes:	bytes each round moved
 * @cmd:	the guest command of a round
 * @n:		rounds run
 * @us:		each round's time, microseconds (the guest's clock)
 * @error:	why it failed
 */
struct bench_disk_pass {
	bool ok;
	unsigned bs;
	uint64_t bytes;
	char cmd[128];
	size_t n;
	int64_t us[BENCH_DISK_ROUNDS];
	char error[BENCH_DISK_ERR_MAX];
};

/**
 * struct bench_disk_result - one configuration's figures
 * @cfg:		the configuration (borrowed, static)
 * @done:		its VM started and the passes ran on it
 * @attempts:		VMs started (2 after the one retry; 0 for a repeat)
 * @retry_note:		why the first VM was retried, or ""
 * @error:		why the configuration has no figures, or ""
 * @seconds:		the time its VM took to start and report (0 for a
 *			repeat)
 * @qemu_version:	QEMU's query-version
 * @guest_kernel:	the guest's kernel release
 * @dev:		the guest's block device (sdb, vda)
 * @driver:		the guest driver bound to it
 * @path:		its place in the guest (sysfs, below /sys/devices)
 * @host_direct:	QEMU opened the image with O_DIRECT (the node's
 *			cache.direct, from query-named-block-nodes)
 * @conf_cmd:		the `coldplug qemu-conf` command line, or ""
 * @rehome_cmd:		the `coldplug rehome` command line (socket as SOCKET),
 *			or ""
 * @pass:		the passes, in bench_disk_passes order
 */
struct bench_disk_result {
	const struct bench_disk_config *cfg;
	bool done;
	unsigned attempts;
	char retry_note[BENCH_DISK_ERR_MAX];
	char error[BENCH_DISK_ERR_MAX];
	int64_t seconds;
	char qemu_version[64];
	char guest_kernel[64];
	char dev[32];
	char driver[32];
	char path[192];
	bool host_direct;
	char conf_cmd[256];
	char rehome_cmd[256];
	struct bench_disk_pass pass[BENCH_DISK_PASSES];
};

/**
 * struct bench_disk_run - one run of bench-disk (one QEMU version)
 * @started:		when it started, UTC, ISO 8601
 * @load_start:		/proc/loadavg then (the machine is shared)
 * @seconds:		how long it took
 * @qemu_binary:	the QEMU it ran
 */
struct bench_disk_run {
	char started[32];
	char load_start[64];
	int64_t seconds;
	const char *qemu_binary;
};

/**
 * struct bench_disk_figure - one pass of the re-homed disk against native,
 * computed from a run's JSON (bench_disk_figure())
 * @native:	the best native frontend's MiB/s (its first measurement),
 *		<= 0 if none was measured
 * @native_key:	which configuration that was, or NULL
 * @rehomed:	the re-homed disk's MiB/s, <= 0 if not measured
 * @ratio:	@rehomed / @native, or 0
 * @band:	the noise band: the largest |last / first - 1| over the native
 *		frontends measured twice, or -1 if none was
 * @verdict:	"met", "met within the noise band", "not met", or
 *		"not measured"
 */
struct bench_disk_figure {
	double native;
	const char *native_key;
	double rehomed;
	double ratio;
	double band;
	const char *verdict;
};

/* disk_measure.c */
int bench_disk_dio_parse(const char *text, uint64_t *bytes, int64_t *ns);
void bench_disk_pass_init(const struct bench_disk_params *p, struct bench_disk_result *r);
void bench_disk_round(struct lab_guest *g, struct bench_disk_result *r, size_t i);
void bench_disk_pass_done(struct bench_disk_result *r);

/* disk_report.c */
void bench_disk_run_begin(struct bench_disk_run *run);
cp_json *bench_disk_to_json(const struct bench_disk_params *p, const struct bench_disk_result *res,
			    size_t n, const struct bench_disk_run *run);
double bench_disk_mib_s(const cp_json *cfg, const char *pass);
void bench_disk_figure(const cp_json *configs, const char *pass, struct bench_disk_figure *out);
int bench_disk_markdown(const char *out, char *const *inputs, size_t n, struct cp_error *err);
void bench_disk_print(FILE *f, const cp_json *doc);

#endif /* COLDPLUG_BENCH_DISK_H */

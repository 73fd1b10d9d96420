/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The passes of one configuration, inside the lab's test guest: `cptraffic
 * dio` (tests/qemu/tools/cptraffic.c; the guest's busybox dd has
 * iflag=direct but prints no timing) reads or writes the bench disk with
 * O_DIRECT (no guest page cache: every block goes through the frontend),
 * sequentially from its first byte, timed on the guest's monotonic clock,
 * so the console's round trips are not in the figures. Writes end with
 * fdatasync() (a flush through the frontend), so a frontend cannot look
 * faster by holding data back.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "disk.h"
#include "guest.h"
#include "run.h"
#include "util.h"

#define PASS_TIMEOUT_MS 240000

const struct bench_disk_pass_def bench_disk_passes[BENCH_DISK_PASSES] = {
	{ "read_1m", "read 1 MiB", false, true },
	{ "write_1m", "write 1 MiB", true, true },
	{ "read_4k", "read 4 KiB", false, false },
	{ "write_4k", "write 4 KiB", true, false },
};

/**
 * bench_disk_dio_parse() - `cptraffic dio`'s result line
 * @text:	its output ("dio dir=read bs=1048576 count=128 bytes=134217728
 *		ns=1250000000")
 * @bytes:	set to the bytes moved
 * @ns:		set to the time they took, nanoseconds
 *
 * Return: 0, or -1 if @text has no such line
 */
int bench_disk_dio_parse(const char *text, uint64_t *bytes, int64_t *ns)
{
	const char *line = strstr(text, "dio dir=");
	const char *b = line ? strstr(line, " bytes=") : NULL;
	const char *t = line ? strstr(line, " ns=") : NULL;
	unsigned long long vb;
	long long vt;

	if (!b || !t || sscanf(b, " bytes=%llu", &vb) != 1 || sscanf(t, " ns=%lld", &vt) != 1 ||
	    vt <= 0)
		return -1;
	*bytes = vb;
	*ns = vt;
	return 0;
}

/**
 * pass_cmd() - the guest command of one pass
 * @def:	the pass
 * @p:		parameters
 * @dev:	the guest's block device ("sdb")
 * @buf:	output
 * @size:	its size
 */
static void pass_cmd(const struct bench_disk_pass_def *def, const struct bench_disk_params *p,
		     const char *dev, char *buf, size_t size)
{
	unsigned bs = def->large ? p->large_bs : p->small_bs;
	uint64_t count = (def->large ? p->large_bytes : p->small_bytes) / bs;

	lab_fmt(buf, size, "sh cptraffic dio %s /dev/%s --bs %u --count %" PRIu64,
		def->write ? "write" : "read", dev, bs, count);
}

/**
 * one_round() - run a pass once
 * @g:		the guest
 * @cmd:	its command
 * @want:	the bytes it must move
 * @us:		set to the time it took in the guest, microseconds
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int one_round(struct lab_guest *g, const char *cmd, uint64_t want, int64_t *us,
		     struct cp_error *err)
{
	cleanup_free char *out = NULL;
	uint64_t bytes = 0;
	int64_t ns = 0;
	int rc = 0;

	if (lab_guest_command(g, cmd, PASS_TIMEOUT_MS, &out, &rc, err) < 0)
		return -1;
	if (rc != 0 || !out || bench_disk_dio_parse(out, &bytes, &ns) < 0)
		return cp_error_set(err, CP_ERR_FAILED, "'%s' exited %d: %s", cmd, rc,
				    out ? out : "");
	if (bytes != want)
		return cp_error_set(err, CP_ERR_FAILED,
				    "'%s' moved %" PRIu64 " bytes, not %" PRIu64, cmd, bytes, want);
	*us = (ns + 500) / 1000;
	return 0;
}

/**
 * log_pass() - one pass's rounds on stderr
 * @r:		the configuration's result
 * @i:		the pass
 */
static void log_pass(const struct bench_disk_result *r, size_t i)
{
	const struct bench_disk_pass *x = &r->pass[i];
	size_t k;

	fprintf(stderr, "bench-disk: %s: %s:", r->cfg->key, bench_disk_passes[i].name);
	for (k = 0; k < x->n; k++)
		fprintf(stderr, " %.1f MiB/s",
			(double)x->bytes / 1048576.0 / ((double)x->us[k] / 1e6));
	fprintf(stderr, "%s%s\n", x->ok ? "" : " failed: ", x->ok ? "" : x->error);
}

/**
 * bench_disk_measure() - every pass, @p->rounds times, on @r->dev: round
 * by round, the passes taking turns, so a spell of load on the shared
 * machine spreads over all of them rather than sinking one
 * @g:		the guest, after its report
 * @p:		parameters
 * @r:		its passes filled; a pass that fails keeps its error, runs no
 *		more rounds, and the others go on
 */
void bench_disk_measure(struct lab_guest *g, const struct bench_disk_params *p,
			struct bench_disk_result *r)
{
	char cmd[BENCH_DISK_PASSES][256];
	bool failed[BENCH_DISK_PASSES] = { false };
	size_t i, k;

	for (i = 0; i < BENCH_DISK_PASSES; i++) {
		const struct bench_disk_pass_def *def = &bench_disk_passes[i];

		r->pass[i].bs = def->large ? p->large_bs : p->small_bs;
		r->pass[i].bytes = (def->large ? p->large_bytes : p->small_bytes) / r->pass[i].bs *
				   r->pass[i].bs;
		pass_cmd(def, p, r->dev, cmd[i], sizeof(cmd[i]));
	}
	for (k = 0; k < p->rounds && k < BENCH_DISK_ROUNDS; k++)
		for (i = 0; i < BENCH_DISK_PASSES; i++) {
			struct bench_disk_pass *x = &r->pass[i];
			struct cp_error err = { 0 };

			if (failed[i])
				continue;
			if (one_round(g, cmd[i], x->bytes, &x->us[x->n], &err) < 0) {
				failed[i] = true;
				lab_fmt(x->error, sizeof(x->error), "%s", err.msg);
				continue;
			}
			x->n++;
		}
	for (i = 0; i < BENCH_DISK_PASSES; i++) {
		r->pass[i].ok = !failed[i] && r->pass[i].n > 0;
		log_pass(r, i);
	}
}

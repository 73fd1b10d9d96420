/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The passes, inside the lab's test guest, one round at a time (disk.c
 * decides the order): `cptraffic
 * dio` (tests/qemu/tools/cptraffic.c; the guest's busybox dd has
 * iflag=direct but prints no timing) reads or writes the bench disk with
 * O_DIRECT (no guest page cache: every block goes through the frontend),
 * sequentially from its first byte, timed on the guest's monotonic clock,
 * so the console's round trips are not in the figures. Writes end with
 * fdatasync() (a flush through the frontend), so a frontend cannot look
 * faster by holding data back.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coldplug/cleanup.h"
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
	char *end;

	if (!b || !t)
		return -1;
	errno = 0;
	vb = strtoull(b + strlen(" bytes="), &end, 10);
	if (errno || end == b + strlen(" bytes="))
		return -1;
	vt = strtoll(t + strlen(" ns="), &end, 10);
	if (errno || end == t + strlen(" ns=") || vt <= 0)
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
 * bench_disk_pass_init() - the passes of @r: block sizes, byte counts,
 * guest commands (on @r->dev)
 * @p:		parameters
 * @r:		the configuration's result, its guest disk known
 */
void bench_disk_pass_init(const struct bench_disk_params *p, struct bench_disk_result *r)
{
	size_t i;

	for (i = 0; i < BENCH_DISK_PASSES; i++) {
		const struct bench_disk_pass_def *def = &bench_disk_passes[i];
		struct bench_disk_pass *x = &r->pass[i];

		x->bs = def->large ? p->large_bs : p->small_bs;
		x->bytes = (def->large ? p->large_bytes : p->small_bytes) / x->bs * x->bs;
		pass_cmd(def, p, r->dev, x->cmd, sizeof(x->cmd));
	}
}

/**
 * bench_disk_round() - one more round of pass @i of @r, unless it failed
 * before (then it keeps its first error and runs no more)
 * @g:		the guest holding @r's disk
 * @r:		the configuration's result (bench_disk_pass_init() done)
 * @i:		the pass
 */
void bench_disk_round(struct lab_guest *g, struct bench_disk_result *r, size_t i)
{
	struct bench_disk_pass *x = &r->pass[i];
	struct cp_error err = { 0 };

	if (x->error[0] || x->n == BENCH_DISK_ROUNDS)
		return;
	if (one_round(g, x->cmd, x->bytes, &x->us[x->n], &err) < 0)
		lab_fmt(x->error, sizeof(x->error), "%s", err.msg);
	else
		x->n++;
}

/**
 * bench_disk_pass_done() - settle and log @r's passes: a pass counts if
 * none of its rounds failed
 * @r:		the configuration's result
 */
void bench_disk_pass_done(struct bench_disk_result *r)
{
	size_t i, k;

	for (i = 0; i < BENCH_DISK_PASSES; i++) {
		struct bench_disk_pass *x = &r->pass[i];

		x->ok = r->done && !x->error[0] && x->n > 0;
		fprintf(stderr, "bench-disk: %s: %s:", r->cfg->key, bench_disk_passes[i].name);
		for (k = 0; k < x->n; k++)
			fprintf(stderr, " %.1f MiB/s",
				(double)x->bytes / 1048576.0 / ((double)x->us[k] / 1e6));
		fprintf(stderr, "%s%s\n", x->error[0] ? " failed: " : "", x->error);
	}
}

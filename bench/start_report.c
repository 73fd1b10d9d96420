/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-start's figures as JSON (one file per QEMU version: every start's
 * raw times, in µs) and as markdown, rendered from that JSON only, so
 * RESULTS-start.md is always what the files say. Every median is over the
 * complete pairs of a layout (both starts succeeded), the ratio is taken
 * per pair and then its median; a failed start is listed with its error,
 * never dropped silently.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "start.h"
#include "util.h"

#define FORMAT_VER 1

/* Issue 11's target for coldplug's own time at 8 disks + 3 NICs, ms. */
#define TARGET_MS	   50
#define TARGET_DISKS	   8
#define TARGET_NICS	   3
#define FAILURES_SHOWN_MAX 12
#define LAYOUTS_MAX	   16

/* What a table cell can show of a pair (both starts succeeded). */
enum metric {
	M_PLAIN_START,
	M_WITH_START,
	M_RATIO,
	M_ADDED,
	M_PLAIN_LAUNCH,
	M_WITH_LAUNCH,
	M_QEMU_SLOTS, /* launch with - launch without - the config-stage hook */
	M_PLAIN_PRE_START,
	M_WITH_PRE_START,
	M_PLAIN_RESUME,
	M_WITH_RESUME,
	M_CONF,
	M_REHOME_WALL,
	M_PIPELINE,
	M_OUTSIDE, /* rehome's wall time outside its four stages */
	M_STAGE0,  /* M_STAGE0 + i: stage i of bench_start_stage_names */
};

/**
 * struct spread - a metric over a layout's complete pairs
 * @n:		pairs that have it
 * @median:	their median (µs, or the ratio)
 * @min:	the smallest
 * @max:	the largest
 */
struct spread {
	size_t n;
	double median;
	double min;
	double max;
};

/* ---- the JSON ---- */

/**
 * bench_start_run_begin() - note the start: UTC time and load
 * @run:	filled (the rest is the caller's)
 */
void bench_start_run_begin(struct bench_start_run *run)
{
	bench_run_begin(run->started, sizeof(run->started), run->load_start,
			sizeof(run->load_start));
}

/**
 * params_json() - the parameters
 * @p:	parameters
 *
 * Return: new object
 */
static cp_json *params_json(const struct bench_start_params *p)
{
	cp_json *o = cp_json_new_object();

	cp_json_set_int(o, "vcpus", p->vcpus);
	cp_json_set_int(o, "tap_queues", p->queues);
	cp_json_set_bool(o, "vhost_net", p->vhost);
	cp_json_set_int(o, "memory_mb", p->memory_mb);
	cp_json_set_int(o, "disk_size", (int64_t)p->disk_size);
	cp_json_set_int(o, "repeat", p->repeat);
	cp_json_set_bool(o, "quick", p->quick);
	return o;
}

/**
 * vm_json() - one start
 * @r:	its figures
 *
 * Return: new object
 */
static cp_json *vm_json(const struct bench_start_vm *r)
{
	cp_json *o = cp_json_new_object(), *stages;
	size_t i;

	cp_json_set_bool(o, "ok", r->ok);
	if (r->error[0])
		cp_json_set_str(o, "error", r->error);
	cp_json_set_int(o, "launch_us", r->launch_us);
	cp_json_set_int(o, "pre_start_us", r->pre_start_us);
	cp_json_set_int(o, "resume_us", r->resume_us);
	cp_json_set_int(o, "start_us", r->start_us);
	if (!r->coldplug)
		return o;
	cp_json_set_int(o, "conf_us", r->conf_us);
	cp_json_set_int(o, "rehome_us", r->rehome_us);
	cp_json_set_int(o, "rehome_ms", r->rehome_ms);
	stages = cp_json_new_object();
	for (i = 0; i < BENCH_START_STAGES; i++)
		cp_json_set_int(stages, bench_start_stage_names[i], r->stage_us[i]);
	cp_json_set(o, "stage_us", stages);
	cp_json_set_int(o, "moved", r->moved);
	cp_json_set_bool(o, "verified", r->verified);
	return o;
}

/**
 * layout_json() - one layout and its pairs
 * @res:	its figures
 *
 * Return: new object
 */
static cp_json *layout_json(const struct bench_start_result *res)
{
	cp_json *o = cp_json_new_object(), *pairs = cp_json_new_array();
	size_t k;

	cp_json_set_int(o, "disks", res->disks);
	cp_json_set_int(o, "nics", res->nics);
	cp_json_set_str(o, "conf_cmd", res->conf_cmd);
	cp_json_set_str(o, "rehome_cmd", res->rehome_cmd);
	for (k = 0; k < res->npairs; k++) {
		cp_json *pair = cp_json_new_object();

		cp_json_set_bool(pair, "coldplug_first", res->pairs[k].coldplug_first);
		cp_json_set(pair, "without", vm_json(&res->pairs[k].plain));
		cp_json_set(pair, "with", vm_json(&res->pairs[k].with));
		cp_json_append(pairs, pair);
	}
	cp_json_set(o, "pairs", pairs);
	return o;
}

/**
 * bench_start_to_json() - the whole run as one document
 * @p:		parameters
 * @res:	layouts
 * @n:		their count
 * @run:	start, duration, QEMU binary, warm-up
 *
 * Return: new object
 */
cp_json *bench_start_to_json(const struct bench_start_params *p,
			     const struct bench_start_result *res, size_t n,
			     const struct bench_start_run *run)
{
	cp_json *doc = cp_json_new_object(), *list = cp_json_new_array();
	const char *version = "-";
	size_t i;

	for (i = 0; i < n; i++) {
		if (res[i].qemu_version[0] && !strcmp(version, "-"))
			version = res[i].qemu_version;
		cp_json_append(list, layout_json(&res[i]));
	}
	cp_json_set_str(doc, "benchmark", "coldplug bench-start");
	cp_json_set_int(doc, "format", FORMAT_VER);
	cp_json_set_str(doc, "qemu", p->qemu);
	cp_json_set_str(doc, "qemu_version", version);
	cp_json_set_str(doc, "qemu_binary", run->qemu_binary);
	cp_json_set_str(doc, "accel", "tcg");
	cp_json_set_str(doc, "started", run->started);
	cp_json_set_int(doc, "seconds", run->seconds);
	cp_json_set(doc, "machine", bench_machine_json(run->load_start));
	cp_json_set(doc, "params", params_json(p));
	cp_json_set(doc, "warmup", vm_json(&run->warmup));
	cp_json_set(doc, "layouts", list);
	return doc;
}

/* ---- rendering (from the JSON only) ---- */

/**
 * str() - a string member, "-" if absent
 * @o:		object
 * @key:	member
 *
 * Return: borrowed string
 */
static const char *str(const cp_json *o, const char *key)
{
	const char *s = cp_json_get_str(o, key);

	return s ? s : "-";
}

/**
 * side_ok() - whether a start of a pair succeeded
 * @pair:	the pair
 * @side:	"without" or "with"
 *
 * Return: its "ok"
 */
static bool side_ok(const cp_json *pair, const char *side)
{
	bool ok = false;

	cp_json_get_bool(cp_json_get_object(pair, side), "ok", &ok);
	return ok;
}

/**
 * stage_sum() - rehome's four stages of one start, µs
 * @with:	the coldplug start
 *
 * Return: their sum
 */
static double stage_sum(const cp_json *with)
{
	const cp_json *st = cp_json_get_object(with, "stage_us");
	double sum = 0;
	size_t i;

	for (i = 0; i < BENCH_START_STAGES; i++)
		sum += (double)bench_num(st, bench_start_stage_names[i]);
	return sum;
}

/**
 * metric() - one metric of a complete pair
 * @pair:	the pair
 * @m:		which
 * @out:	set to it (µs, or the ratio)
 *
 * Return: false if either start of @pair failed
 */
static bool metric(const cp_json *pair, enum metric m, double *out)
{
	const cp_json *a = cp_json_get_object(pair, "without"),
		      *b = cp_json_get_object(pair, "with");
	double plain = (double)bench_num(a, "start_us"), with = (double)bench_num(b, "start_us");
	const double values[] = {
		[M_PLAIN_START] = plain,
		[M_WITH_START] = with,
		[M_RATIO] = plain > 0 ? with / plain : 0,
		[M_ADDED] = with - plain,
		[M_PLAIN_LAUNCH] = (double)bench_num(a, "launch_us"),
		[M_WITH_LAUNCH] = (double)bench_num(b, "launch_us"),
		[M_QEMU_SLOTS] = (double)(bench_num(b, "launch_us") - bench_num(a, "launch_us") -
					  bench_num(b, "conf_us")),
		[M_PLAIN_PRE_START] = (double)bench_num(a, "pre_start_us"),
		[M_WITH_PRE_START] = (double)bench_num(b, "pre_start_us"),
		[M_PLAIN_RESUME] = (double)bench_num(a, "resume_us"),
		[M_WITH_RESUME] = (double)bench_num(b, "resume_us"),
		[M_CONF] = (double)bench_num(b, "conf_us"),
		[M_REHOME_WALL] = (double)bench_num(b, "rehome_us"),
		[M_PIPELINE] = (double)bench_num(b, "rehome_ms") * 1000,
		[M_OUTSIDE] = (double)bench_num(b, "rehome_us") - stage_sum(b),
	};

	if (!side_ok(pair, "without") || !side_ok(pair, "with"))
		return false;
	if (m >= M_STAGE0)
		*out = (double)bench_num(cp_json_get_object(b, "stage_us"),
					 bench_start_stage_names[m - M_STAGE0]);
	else
		*out = values[m];
	return true;
}

/**
 * cmp_double() - qsort order of doubles
 * @a:	one
 * @b:	another
 *
 * Return: <0, 0, >0
 */
static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/**
 * spread_of() - median, min and max of @n values
 * @v:		the values (sorted in place)
 * @n:		their count
 *
 * Return: n = 0 for no values
 */
static struct spread spread_of(double *v, size_t n)
{
	struct spread s = { .n = n };

	if (!n)
		return s;
	qsort(v, n, sizeof(v[0]), cmp_double);
	s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	s.min = v[0];
	s.max = v[n - 1];
	return s;
}

/**
 * collect() - a metric of every complete pair of a layout
 * @layout:	the layout
 * @m:		which
 * @v:		filled
 * @max:	room in @v
 *
 * Return: the values found
 */
static size_t collect(const cp_json *layout, enum metric m, double *v, size_t max)
{
	const cp_json *pairs = cp_json_get_array(layout, "pairs");
	size_t i, n = 0;

	for (i = 0; i < cp_json_len(pairs) && n < max; i++)
		if (metric(cp_json_at(pairs, i), m, &v[n]))
			n++;
	return n;
}

/**
 * stat_of() - a metric over a layout's complete pairs
 * @layout:	the layout
 * @m:		which
 *
 * Return: n = 0 if no pair is complete
 */
static struct spread stat_of(const cp_json *layout, enum metric m)
{
	double v[BENCH_START_REPEAT_MAX];
	size_t n = collect(layout, m, v, BENCH_START_REPEAT_MAX);

	return spread_of(v, n);
}

/**
 * stat_all() - a metric over the complete pairs of every layout
 * @layouts:	the run's layouts
 * @m:		which
 *
 * Return: n = 0 if no pair is complete
 */
static struct spread stat_all(const cp_json *layouts, enum metric m)
{
	double v[BENCH_START_REPEAT_MAX * LAYOUTS_MAX];
	size_t i, n = 0;

	for (i = 0; i < cp_json_len(layouts) && i < LAYOUTS_MAX; i++)
		n += collect(cp_json_at(layouts, i), m, v + n, BENCH_START_REPEAT_MAX);
	return spread_of(v, n);
}

/**
 * ms() - a metric's median in ms, as a cell
 * @layout:	the layout
 * @m:		which (µs)
 * @buf:	output ("n/m" without a complete pair)
 * @size:	its size
 *
 * Return: @buf
 */
static const char *ms(const cp_json *layout, enum metric m, char *buf, size_t size)
{
	struct spread s = stat_of(layout, m);

	if (!s.n)
		snprintf(buf, size, "n/m");
	else
		snprintf(buf, size, "%.1f ms", s.median / 1000);
	return buf;
}

/**
 * find_layout() - the layout of @disks disks and @nics NICs
 * @layouts:	the run's "layouts"
 * @disks:	disks
 * @nics:	NICs
 *
 * Return: borrowed, or NULL
 */
static const cp_json *find_layout(const cp_json *layouts, int64_t disks, int64_t nics)
{
	size_t i;

	for (i = 0; i < cp_json_len(layouts); i++) {
		const cp_json *l = cp_json_at(layouts, i);

		if (bench_num(l, "disks") == disks && bench_num(l, "nics") == nics)
			return l;
	}
	return NULL;
}

/**
 * complete() - "complete/total" pairs of a layout
 * @layout:	the layout
 * @buf:	output
 * @size:	its size
 *
 * Return: @buf
 */
static const char *complete(const cp_json *layout, char *buf, size_t size)
{
	snprintf(buf, size, "%zu/%zu", stat_of(layout, M_PLAIN_START).n,
		 cp_json_len(cp_json_get_array(layout, "pairs")));
	return buf;
}

/**
 * start_table() - the start times, their ratio and what coldplug adds
 * @f:		output
 * @layouts:	the run's layouts
 */
static void start_table(FILE *f, const cp_json *layouts)
{
	char a[32], b[32], d[16];
	size_t i;

	fprintf(f,
		"| disks | NICs | start without coldplug | start with coldplug | ratio (min–max) "
		"| added by coldplug | complete pairs |\n|---|---|---|---|---|---|---|\n");
	for (i = 0; i < cp_json_len(layouts); i++) {
		const cp_json *l = cp_json_at(layouts, i);
		struct spread r = stat_of(l, M_RATIO);

		fprintf(f, "| %lld | %lld | %s | %s | ", (long long)bench_num(l, "disks"),
			(long long)bench_num(l, "nics"), ms(l, M_PLAIN_START, a, sizeof(a)),
			ms(l, M_WITH_START, b, sizeof(b)));
		if (r.n)
			fprintf(f, "%.2f× (%.2f–%.2f)", r.median, r.min, r.max);
		else
			fprintf(f, "n/m");
		if (r.n)
			fprintf(f, " | %+.1f ms", stat_of(l, M_ADDED).median / 1000);
		else
			fprintf(f, " | n/m");
		fprintf(f, " | %s |\n", complete(l, d, sizeof(d)));
	}
	fputc('\n', f);
}

/**
 * coldplug_table() - coldplug's own time, and rehome's per stage
 * @f:		output
 * @layouts:	the run's layouts
 */
static void coldplug_table(FILE *f, const cp_json *layouts)
{
	char cell[32];
	size_t i, k;

	fprintf(f, "| disks | NICs | `qemu-conf` (config stage) | `rehome`, fork to exit | rehome "
		   "pipeline (its `ms`) |");
	for (k = 0; k < BENCH_START_STAGES; k++)
		fprintf(f, " %s |", bench_start_stage_names[k]);
	fprintf(f, " rehome outside its stages |\n|---|---|---|---|---|");
	for (k = 0; k < BENCH_START_STAGES; k++)
		fprintf(f, "---|");
	fprintf(f, "---|\n");
	for (i = 0; i < cp_json_len(layouts); i++) {
		const cp_json *l = cp_json_at(layouts, i);

		fprintf(f, "| %lld | %lld | %s |", (long long)bench_num(l, "disks"),
			(long long)bench_num(l, "nics"), ms(l, M_CONF, cell, sizeof(cell)));
		fprintf(f, " %s |", ms(l, M_REHOME_WALL, cell, sizeof(cell)));
		fprintf(f, " **%s** |", ms(l, M_PIPELINE, cell, sizeof(cell)));
		for (k = 0; k < BENCH_START_STAGES; k++)
			fprintf(f, " %s |", ms(l, (enum metric)(M_STAGE0 + k), cell, sizeof(cell)));
		fprintf(f, " %s |\n", ms(l, M_OUTSIDE, cell, sizeof(cell)));
	}
	fputc('\n', f);
}

/**
 * phase_table() - where each start's time goes, without -> with
 * @f:		output
 * @layouts:	the run's layouts
 */
static void phase_table(FILE *f, const cp_json *layouts)
{
	char a[32], b[32];
	size_t i;

	fprintf(f, "| disks | NICs | launch | of which QEMU's start with coldplug's slots | "
		   "pre-start | resume |\n|---|---|---|---|---|---|\n");
	for (i = 0; i < cp_json_len(layouts); i++) {
		const cp_json *l = cp_json_at(layouts, i);

		fprintf(f, "| %lld | %lld | %s → ", (long long)bench_num(l, "disks"),
			(long long)bench_num(l, "nics"), ms(l, M_PLAIN_LAUNCH, a, sizeof(a)));
		fprintf(f, "%s | %s | ", ms(l, M_WITH_LAUNCH, a, sizeof(a)),
			ms(l, M_QEMU_SLOTS, b, sizeof(b)));
		fprintf(f, "%s → ", ms(l, M_PLAIN_PRE_START, a, sizeof(a)));
		fprintf(f, "%s | ", ms(l, M_WITH_PRE_START, a, sizeof(a)));
		fprintf(f, "%s → ", ms(l, M_PLAIN_RESUME, a, sizeof(a)));
		fprintf(f, "%s |\n", ms(l, M_WITH_RESUME, a, sizeof(a)));
	}
	fputc('\n', f);
}

/**
 * median_ms() - a metric's median of one layout, ms
 * @layouts:	the run's layouts
 * @disks:	the layout's disks
 * @nics:	its NICs
 * @m:		which (µs)
 * @out:	set to it
 *
 * Return: false if the layout has no complete pair
 */
static bool median_ms(const cp_json *layouts, int64_t disks, int64_t nics, enum metric m,
		      double *out)
{
	const cp_json *l = find_layout(layouts, disks, nics);
	struct spread s = l ? stat_of(l, m) : (struct spread){ 0 };

	*out = s.median / 1000;
	return s.n > 0;
}

/**
 * target() - the target at 8 disks + 3 NICs, and where the time goes
 * @f:		output
 * @layouts:	the run's layouts
 */
static void target(FILE *f, const cp_json *layouts)
{
	const cp_json *l = find_layout(layouts, TARGET_DISKS, TARGET_NICS);
	double pipe, wall, conf, added, slots, st[BENCH_START_STAGES];
	struct spread ratio = l ? stat_of(l, M_RATIO) : (struct spread){ 0 };
	size_t k;

	if (!l || !ratio.n || !median_ms(layouts, TARGET_DISKS, TARGET_NICS, M_PIPELINE, &pipe)) {
		fprintf(f,
			"- **Target (issue 11): coldplug's own time ≤ %d ms at %d disks + %d "
			"NICs: not measured** (no complete pair of that layout).\n",
			TARGET_MS, TARGET_DISKS, TARGET_NICS);
		return;
	}
	median_ms(layouts, TARGET_DISKS, TARGET_NICS, M_REHOME_WALL, &wall);
	median_ms(layouts, TARGET_DISKS, TARGET_NICS, M_CONF, &conf);
	median_ms(layouts, TARGET_DISKS, TARGET_NICS, M_ADDED, &added);
	for (k = 0; k < BENCH_START_STAGES; k++)
		median_ms(layouts, TARGET_DISKS, TARGET_NICS, (enum metric)(M_STAGE0 + k), &st[k]);
	fprintf(f,
		"- **Target (issue 11): coldplug's own time ≤ %d ms at %d disks + %d NICs: %s.** "
		"rehome's pipeline took %.0f ms (%.1f× the target): ",
		TARGET_MS, TARGET_DISKS, TARGET_NICS, pipe <= TARGET_MS ? "met" : "not met", pipe,
		pipe / TARGET_MS);
	for (k = 0; k < BENCH_START_STAGES; k++)
		fprintf(f, "%s%s %.1f ms (%.0f %%)", k ? ", " : "", bench_start_stage_names[k],
			st[k], pipe > 0 ? 100 * st[k] / pipe : 0);
	fprintf(f,
		". The whole `coldplug rehome` command, fork to exit, took %.1f ms (%s). The "
		"start grew by %.0f ms, %.2f× Incus's alone: ",
		wall, wall <= TARGET_MS ? "within the target" : "over the target", added,
		ratio.median);
	median_ms(layouts, TARGET_DISKS, TARGET_NICS, M_QEMU_SLOTS, &slots);
	fprintf(f,
		"`qemu-conf` at the config stage %.1f ms, QEMU's start with coldplug's slots "
		"%.1f ms, `rehome` %.1f ms (medians each, so they need not add up exactly).\n",
		conf, slots, wall);
}

/**
 * slopes() - what one more disk or NIC costs rehome's pipeline
 * @f:		output
 * @layouts:	the run's layouts
 */
static void slopes(FILE *f, const cp_json *layouts)
{
	double a, b, c, d, base;

	if (!median_ms(layouts, 1, 1, M_PIPELINE, &a) ||
	    !median_ms(layouts, 8, 1, M_PIPELINE, &b) ||
	    !median_ms(layouts, 1, 3, M_PIPELINE, &c) || !median_ms(layouts, 8, 3, M_PIPELINE, &d))
		return;
	base = a;
	fprintf(f,
		"- Scaling of rehome's pipeline (medians): %.0f ms for the smallest layout (1 disk, "
		"1 NIC); each disk beyond the first adds %.1f ms with 1 NIC and %.1f ms with 3 "
		"NICs ((8 disks − 1 disk) / 7); each NIC beyond the first adds %.1f ms with 1 disk "
		"and %.1f ms with 8 disks ((3 NICs − 1 NIC) / 2).\n",
		base, (b - a) / 7, (d - c) / 7, (c - a) / 2, (d - b) / 2);
}

/**
 * biggest_stage() - the stage that costs most, per layout
 * @f:		output
 * @layouts:	the run's layouts
 */
static void biggest_stage(FILE *f, const cp_json *layouts)
{
	size_t i, k;

	fprintf(f, "- The costliest stage per layout (median, share of the pipeline):");
	for (i = 0; i < cp_json_len(layouts); i++) {
		const cp_json *l = cp_json_at(layouts, i);
		struct spread pipe = stat_of(l, M_PIPELINE), best = { 0 };
		size_t arg = 0;

		for (k = 0; k < BENCH_START_STAGES; k++) {
			struct spread s = stat_of(l, (enum metric)(M_STAGE0 + k));

			if (s.n && s.median > best.median) {
				best = s;
				arg = k;
			}
		}
		if (!best.n || !pipe.n || pipe.median <= 0)
			continue;
		fprintf(f, "%s %lld+%lld: %s %.0f ms (%.0f %%)", i ? ";" : "",
			(long long)bench_num(l, "disks"), (long long)bench_num(l, "nics"),
			bench_start_stage_names[arg], best.median / 1000,
			100 * best.median / pipe.median);
	}
	fprintf(f, ".\n");
}

/**
 * variation() - how much the figures move between starts: Incus's launch
 * alone, rehome's apply, rehome outside its stages
 * @f:		output
 * @layouts:	the run's layouts
 */
static void variation(FILE *f, const cp_json *layouts)
{
	struct spread apply = stat_all(layouts, (enum metric)(M_STAGE0 + 2));
	struct spread out = stat_all(layouts, M_OUTSIDE);
	double widest = 0, launch = 0;
	size_t i;

	for (i = 0; i < cp_json_len(layouts); i++) {
		struct spread s = stat_of(cp_json_at(layouts, i), M_PLAIN_LAUNCH);

		if (s.n && s.max - s.min > widest) {
			widest = s.max - s.min;
			launch = s.median;
		}
	}
	if (!apply.n)
		return;
	fprintf(f,
		"- Noise: between the pairs of one layout, Incus's launch alone moved by up to "
		"%.0f ms (max − min, around a median of %.0f ms), so \"QEMU's start with "
		"coldplug's slots\", a difference of two launches, means something only beyond "
		"that (a negative value there is noise).\n",
		widest / 1000, launch / 1000);
	fprintf(f,
		"- apply took %.1f to %.1f ms over all %zu coldplug starts (median %.1f ms); it "
		"includes one wait for the `DEVICE_DELETED` events, which QEMU sends from its "
		"RCU thread's batches (up to ~50 ms late, see the context above). rehome outside "
		"its stages (process start, connect, negotiation, report, exit): median %.1f ms, "
		"%.1f to %.1f ms.\n",
		apply.min / 1000, apply.max / 1000, apply.n, apply.median / 1000, out.median / 1000,
		out.min / 1000, out.max / 1000);
}

/**
 * failures() - every start that failed, with its error; starts that
 * re-homed without verifying
 * @f:		output
 * @doc:	the run
 */
static void failures(FILE *f, const cp_json *doc)
{
	const cp_json *layouts = cp_json_get_array(doc, "layouts");
	size_t i, k, failed = 0, unverified = 0;

	for (i = 0; i < cp_json_len(layouts); i++) {
		const cp_json *l = cp_json_at(layouts, i), *pairs = cp_json_get_array(l, "pairs");

		for (k = 0; k < cp_json_len(pairs); k++) {
			const cp_json *pair = cp_json_at(pairs, k);
			bool verified = true;

			cp_json_get_bool(cp_json_get_object(pair, "with"), "verified", &verified);
			unverified += side_ok(pair, "with") && !verified;
			for (int s = 0; s < 2; s++) {
				const char *side = s ? "with" : "without";

				if (side_ok(pair, side) || ++failed > FAILURES_SHOWN_MAX)
					continue;
				fprintf(f,
					"- Failed: %lld disks, %lld NICs, pair %zu, %s coldplug: %s\n",
					(long long)bench_num(l, "disks"),
					(long long)bench_num(l, "nics"), k + 1, side,
					str(cp_json_get_object(pair, side), "error"));
			}
		}
	}
	if (failed > FAILURES_SHOWN_MAX)
		fprintf(f, "- … %zu failed starts in all (the JSON has every error).\n", failed);
	if (!failed)
		fprintf(f,
			"- Every start succeeded; with coldplug, rehome moved every disk and NIC "
			"of the layout%s.\n",
			unverified ? "" : " and verified the result");
	if (unverified)
		fprintf(f,
			"- %zu coldplug starts re-homed every device but rehome did not verify "
			"the result.\n",
			unverified);
}

/**
 * print_facts() - machine, QEMU, date, parameters, commands, warm-up
 * @f:		output
 * @doc:	the run
 */
static void print_facts(FILE *f, const cp_json *doc)
{
	const cp_json *m = cp_json_get_object(doc, "machine");
	const cp_json *p = cp_json_get_object(doc, "params");
	const cp_json *w = cp_json_get_object(doc, "warmup");
	const cp_json *big = find_layout(cp_json_get_array(doc, "layouts"), TARGET_DISKS,
					 TARGET_NICS);
	bool vhost = false, warm = false;

	cp_json_get_bool(p, "vhost_net", &vhost);
	cp_json_get_bool(w, "ok", &warm);
	fprintf(f,
		"- **Machine:** %s, %lld cores; %s; load average %s at the start, %s at the end.\n",
		str(m, "cpu"), (long long)bench_num(m, "cores"), str(m, "kernel"),
		str(m, "load_start"), str(m, "load_end"));
	fprintf(f, "- **QEMU:** %s (`%s`), accel tcg. **Date:** %s; the run took %lld s.\n",
		str(doc, "qemu_version"), str(doc, "qemu_binary"), str(doc, "started"),
		(long long)bench_num(doc, "seconds"));
	fprintf(f,
		"- **VMs:** %lld vCPUs, %lld MiB, no guest (a start is launch → pre-start → "
		"`cont`); disks of %lld MiB each, scsi-hd on virtio-scsi (the root disk and "
		"data disks); bridged virtio NICs on %lld-queue taps; vhost-net %s. %lld pair%s "
		"per layout, the order inside a pair alternating (pair 1 without coldplug first); "
		"a test network per pair, made before its starts. One unrecorded start first "
		"(8 disks, 3 NICs, with coldplug) warms the page cache: %s.\n",
		(long long)bench_num(p, "vcpus"), (long long)bench_num(p, "memory_mb"),
		(long long)(bench_num(p, "disk_size") >> 20), (long long)bench_num(p, "tap_queues"),
		vhost ? "on (/dev/vhost-net), for Incus's NICs and the direct slots"
		      : "off (no /dev/vhost-net)",
		(long long)bench_num(p, "repeat"), bench_num(p, "repeat") == 1 ? "" : "s",
		warm ? "done" : str(w, "error"));
	if (big)
		fprintf(f,
			"- **Commands** (8 disks, 3 NICs): `%s` at Incus's config stage "
			"(MACi, TAPi: eth<i>'s MAC and the tap Incus created at launch), then "
			"at pre-start `%s` (SOCKET: the VM's second QMP monitor).\n",
			str(big, "conf_cmd"), str(big, "rehome_cmd"));
}

/**
 * bench_start_print() - one run as a markdown section
 * @f:		output
 * @doc:	the run's JSON
 */
void bench_start_print(FILE *f, const cp_json *doc)
{
	const cp_json *layouts = cp_json_get_array(doc, "layouts");
	bool quick = false;

	cp_json_get_bool(cp_json_get_object(doc, "params"), "quick", &quick);
	fprintf(f, "## QEMU %s (%s, TCG)%s\n\n", str(doc, "qemu"), str(doc, "qemu_version"),
		quick ? " — quick run, not for comparison" : "");
	fprintf(f, "**The start, launch to `cont`** (medians of the complete pairs; the ratio "
		   "and what coldplug adds are taken per pair, then their median):\n\n");
	start_table(f, layouts);
	fprintf(f, "**coldplug's own time** (medians): `qemu-conf` = the config-stage hook "
		   "(the command, fork to exit, and its output written); `rehome` fork to exit = "
		   "the whole pre-start command; its pipeline = the `ms` it reports, split into "
		   "the `stage-us` it reports; outside its stages = the command's time minus the "
		   "four stages (process start, connect, QMP negotiation, the report, exit):\n\n");
	coldplug_table(f, layouts);
	fprintf(f, "**Where the start's time goes** (medians, without → with coldplug). "
		   "Launch = taps and images, the config stage, QEMU started paused, QMP, CPU "
		   "and device hotplug; QEMU's start with coldplug's slots = launch with − launch "
		   "without − `qemu-conf` (QEMU building the disk slots' placeholders and opening "
		   "the taps for the direct slots); pre-start = `coldplug rehome`; resume = "
		   "`system_reset`, `set-action`, `cont`:\n\n");
	phase_table(f, layouts);
	print_facts(f, doc);
	fprintf(f, "\n**Findings (computed from the figures):**\n\n");
	target(f, layouts);
	slopes(f, layouts);
	biggest_stage(f, layouts);
	variation(f, layouts);
	failures(f, doc);
	fputc('\n', f);
}

/**
 * write_header() - the top of RESULTS-start.md, with the context that is
 * not computed from the files
 * @f:		output
 * @inputs:	the JSON files
 * @n:		their count
 */
static void write_header(FILE *f, char *const *inputs, size_t n)
{
	size_t i;

	fprintf(f, "# Start benchmark: what coldplug adds to a VM's start\n\n");
	fprintf(f, "Generated by `bench-start --markdown` (`make bench`) from");
	for (i = 0; i < n; i++)
		fprintf(f, "%s `%s`", i ? "," : "", inputs[i]);
	fprintf(f, ". Do not edit: run `make bench` again. How to run it and read it: "
		   "[README.md](README.md).\n\n");
	fprintf(f, "> **TCG on a shared machine.** These VMs run under QEMU's TCG (no KVM), on a "
		   "machine other jobs use at the same time: absolute times are slower than on "
		   "KVM and move from run to run. The ratio of a pair is taken with both starts "
		   "back to back, in the same conditions.\n\n");
	fprintf(f,
		"Each layout (1, 4, 8 disks × 1, 3 NICs) is started in pairs by the lab's "
		"Incus emulator: **without coldplug** = Incus's layout alone; **with "
		"coldplug** = `coldplug qemu-conf --disk-slots D --nic-mac ethI=MAC --nic-tap "
		"ethI=TAP --nic-queues N` at Incus's config stage (the direct NIC path: a "
		"virtio-net-pci slot per NIC on Incus's own tap) and `coldplug rehome --json` "
		"at pre-start, which moves every disk onto a virtio-blk slot and every NIC onto "
		"its slot, then verifies. The target of issue 11 is coldplug's own time ≤ "
		"%d ms at %d disks + %d NICs; each section checks it.\n\n",
		TARGET_MS, TARGET_DISKS, TARGET_NICS);
	fprintf(f, "**Context, measured while making rehome faster (commit e2d72e4), not "
		   "computed from these files:** QEMU answers about one QMP command per ~1.5 ms "
		   "under TCG, so the inventory's cost is mostly the number of commands it sends "
		   "(qom-get per property); `device_del` → `DEVICE_DELETED` costs ~50 ms because "
		   "QEMU finishes a deleted device in an RCU callback that its RCU thread runs in "
		   "batches, which is why rehome now sends every `device_del` at once and awaits "
		   "the events together (apply then pays that ~50 ms once, not once per device); "
		   "8 disks went from 1030 ms to 290 ms in all (inventory 332 → 138 ms, apply "
		   "485 → 94 ms, verify 213 → 54 ms) on QEMU 10.0.\n\n");
	fprintf(f, "**Why a command costs ~1.5 ms, and what is left (branch h-start, measured, "
		   "not computed from these files):** QEMU's QMP monitor reads its input one "
		   "byte per main-loop turn (`monitor_can_read()` returns 1), so a command costs "
		   "what its text costs, pipelined or not: 33-, 98- and 233-byte commands took "
		   "0.9, 1.8 and 4.2 ms each on 7.2 (~16 µs a byte) and 0.5, 1.0 and 2.1 ms on "
		   "10.0. rehome at 8 disks + 3 NICs sent 230 commands (23.1 KB) and now sends "
		   "144 (13.8 KB): inventory 133 → 88 (14.1 → 9.2 KB: a frontend's drive from "
		   "query-block, no bus or boot order read for a slot, no CPU read), verify 54 → "
		   "13 (5.5 → 1.1 KB: only where each device now is), apply 42 (3.5 KB) as "
		   "before. What remains: the inventory's 88 are the fixed queries (8), then per "
		   "Incus disk the 6 properties that re-create its frontend when apply rolls back "
		   "or the daemon releases it (bootindex, serial, device_id, channel, scsi-id, "
		   "lun: 48 commands, ~5 KB), per NIC its bus, boot order, MAC and address, a "
		   "NIC slot's netdev and MAC, the xHCI's ports and the hotplug mode; apply is "
		   "the ~50 ms RCU wait plus 31 commands run one after another (each step's "
		   "qom-set of drive and bootindex and its query-block check, the netdev_dels "
		   "and their info network check). At ~12-16 µs a byte that is ~110-150 ms of "
		   "inventory on 7.2 and ~70-90 ms on 10.0 under TCG, so 50 ms is out of reach "
		   "over this monitor: it needs fewer bytes per property than one qom-get each "
		   "(a query that answers many properties in one command, which neither QEMU "
		   "here has) or a cheaper main-loop turn (KVM, an idle host).\n\n");
	fprintf(f, "**Where a byte's cost goes (measured 2026-12-05, not computed from these "
		   "files):** `strace -f -c` on a paused QEMU 7.2 answering 200 `qom-get`s of "
		   "78 bytes counted, per byte of input, one `recvmsg`, one `poll`, one `read` "
		   "and four `write`s (event notifiers waking the main loop): about 7 system "
		   "calls. A system call costs 1.6 µs on this machine (`getppid` in a loop: its "
		   "kernel runs paravirtualized), hence 12-21 µs a byte here. Where a system "
		   "call costs 0.1-0.3 µs (a bare-metal KVM host) the 13.8 KB would cost some "
		   "10-30 ms of system calls, and the wait for a SCSI disk's `DEVICE_DELETED` "
		   "would be most of what is left: 51-62 ms on both QEMUs (10 `device_del`s of a "
		   "scsi-hd on a paused VM; QEMU's RCU thread batches its callbacks), no shorter "
		   "after a failing `device_add` (whose `drain_call_rcu()` does not hurry it), "
		   "while a PCIe-hotplugged NIC's comes after 2-10 ms. So 50 ms at 8 disks + 3 "
		   "NICs stays out of reach with these QEMUs.\n\n");
}

/**
 * bench_start_markdown() - RESULTS-start.md from the JSON files of runs
 * @out:	the markdown file (written via a temporary file)
 * @inputs:	JSON files, one per QEMU version
 * @n:		their count
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
int bench_start_markdown(const char *out, char *const *inputs, size_t n, struct cp_error *err)
{
	return bench_markdown(out, inputs, n, "layouts", "bench-start", write_header,
			      bench_start_print, err);
}

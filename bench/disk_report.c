/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-disk's figures as JSON (one file per QEMU version, the raw data:
 * every round's time) and as markdown, rendered from that JSON only, so
 * RESULTS-disk.md is always what the files say: every cell is a throughput
 * and its ratio to the best native frontend of the same run; the verdict on
 * issue 11's target, and the noise band it is judged with, are computed
 * here too (bench_disk_figure()).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disk.h"
#include "report.h"
#include "run.h"
#include "util.h"

#define CELL_MAX   96
#define NOTES_MAX  32
#define FORMAT_VER 1
#define MIB	   1048576.0

static const char *const kind_names[] = {
	[BENCH_DISK_NATIVE] = "native",
	[BENCH_DISK_REHOMED] = "rehomed",
};

static const char *const bus_names[] = {
	[LAB_DISK_SCSI] = "scsi",
	[LAB_DISK_VIRTIO_BLK] = "virtio-blk",
	[LAB_DISK_NVME] = "nvme",
	[LAB_DISK_USB] = "usb",
};

/**
 * struct notes - footnotes of one table
 * @text:	each note
 * @n:		their count
 */
struct notes {
	char text[NOTES_MAX][BENCH_DISK_ERR_MAX + 64];
	size_t n;
};

/**
 * bench_disk_run_begin() - note the start: UTC time and load
 * @run:	filled (@seconds and @qemu_binary are the caller's)
 */
void bench_disk_run_begin(struct bench_disk_run *run)
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
static cp_json *params_json(const struct bench_disk_params *p)
{
	cp_json *o = cp_json_new_object();

	cp_json_set_int(o, "vcpus", p->vcpus);
	cp_json_set_int(o, "memory_mb", p->memory_mb);
	cp_json_set_str(o, "image_dir", p->image_dir);
	cp_json_set_int(o, "image_size", (int64_t)p->image_size);
	cp_json_set_int(o, "large_bs", p->large_bs);
	cp_json_set_int(o, "small_bs", p->small_bs);
	cp_json_set_int(o, "large_bytes", (int64_t)p->large_bytes);
	cp_json_set_int(o, "small_bytes", (int64_t)p->small_bytes);
	cp_json_set_int(o, "rounds", p->rounds);
	cp_json_set_bool(o, "quick", p->quick);
	return o;
}

/**
 * pass_json() - one pass: every round's time
 * @x:	the pass
 *
 * Return: new object
 */
static cp_json *pass_json(const struct bench_disk_pass *x)
{
	cp_json *o = cp_json_new_object(), *us = cp_json_new_array();
	size_t k;

	cp_json_set_bool(o, "ok", x->ok);
	cp_json_set_int(o, "bs", x->bs);
	cp_json_set_int(o, "bytes", (int64_t)x->bytes);
	for (k = 0; k < x->n; k++)
		cp_json_append(us, cp_json_new_int(x->us[k]));
	cp_json_set(o, "us", us);
	if (!x->ok)
		cp_json_set_str(o, "error", x->error);
	return o;
}

/**
 * result_json() - one configuration
 * @r:	its result
 *
 * Return: new object
 */
static cp_json *result_json(const struct bench_disk_result *r)
{
	cp_json *o = cp_json_new_object(), *passes = cp_json_new_object();
	size_t i;

	cp_json_set_str(o, "key", r->cfg->key);
	cp_json_set_str(o, "label", r->cfg->label);
	cp_json_set_str(o, "kind", kind_names[r->cfg->kind]);
	cp_json_set_str(o, "incus_bus", bus_names[r->cfg->bus]);
	if (r->cfg->first)
		cp_json_set_str(o, "first", r->cfg->first);
	cp_json_set_str(o, "conf_cmd", r->conf_cmd);
	cp_json_set_str(o, "rehome_cmd", r->rehome_cmd);
	cp_json_set_bool(o, "done", r->done);
	cp_json_set_int(o, "attempts", r->attempts);
	cp_json_set_str(o, "retry_note", r->retry_note);
	cp_json_set_str(o, "error", r->error);
	cp_json_set_int(o, "seconds", r->seconds);
	cp_json_set_str(o, "qemu_version", r->qemu_version);
	cp_json_set_str(o, "guest_kernel", r->guest_kernel);
	cp_json_set_str(o, "guest_dev", r->dev);
	cp_json_set_str(o, "driver", r->driver);
	cp_json_set_str(o, "guest_path", r->path);
	cp_json_set_bool(o, "host_direct", r->host_direct);
	for (i = 0; i < BENCH_DISK_PASSES; i++)
		cp_json_set(passes, bench_disk_passes[i].key, pass_json(&r->pass[i]));
	cp_json_set(o, "passes", passes);
	return o;
}

/**
 * bench_disk_to_json() - the whole run as one document
 * @p:		parameters
 * @res:	results, in the order they ran
 * @n:		their count
 * @run:	start, duration, QEMU binary
 *
 * Return: new object
 */
cp_json *bench_disk_to_json(const struct bench_disk_params *p, const struct bench_disk_result *res,
			    size_t n, const struct bench_disk_run *run)
{
	cp_json *doc = cp_json_new_object(), *list = cp_json_new_array();
	const char *version = "-", *kernel = "-";
	cp_json *guest = cp_json_new_object();
	size_t i;

	for (i = 0; i < n; i++) {
		if (res[i].qemu_version[0] && !strcmp(version, "-"))
			version = res[i].qemu_version;
		if (res[i].guest_kernel[0] && !strcmp(kernel, "-"))
			kernel = res[i].guest_kernel;
		cp_json_append(list, result_json(&res[i]));
	}
	cp_json_set_str(doc, "benchmark", "coldplug bench-disk");
	cp_json_set_int(doc, "format", FORMAT_VER);
	cp_json_set_str(doc, "qemu", p->qemu);
	cp_json_set_str(doc, "qemu_version", version);
	cp_json_set_str(doc, "qemu_binary", run->qemu_binary);
	cp_json_set_str(doc, "accel", "tcg");
	cp_json_set_str(doc, "tcg_thread", "single"); /* the lab's [accel] section */
	cp_json_set_str(doc, "started", run->started);
	cp_json_set_int(doc, "seconds", run->seconds);
	cp_json_set(doc, "machine", bench_machine_json(run->load_start));
	cp_json_set_str(guest, "kernel", kernel);
	cp_json_set(doc, "guest", guest);
	cp_json_set(doc, "params", params_json(p));
	cp_json_set(doc, "configs", list);
	return doc;
}

/* ---- figures and rendering (from the JSON only) ---- */

/**
 * str() - a string member, "" if absent
 * @o:		object, may be NULL
 * @key:	member
 *
 * Return: borrowed string
 */
static const char *str(const cp_json *o, const char *key)
{
	const char *s = o ? cp_json_get_str(o, key) : NULL;

	return s ? s : "";
}

/**
 * bench_disk_mib_s() - a configuration's figure for one pass: its best
 * round (the machine is shared: other work only ever slows a round down)
 * @cfg:	configuration object, may be NULL
 * @pass:	"read_1m", ...
 *
 * Return: MiB/s, or 0 if the pass has no figures
 */
double bench_disk_mib_s(const cp_json *cfg, const char *pass)
{
	const cp_json *x = cfg ? cp_json_get_object(cp_json_get_object(cfg, "passes"), pass) : NULL;
	const cp_json *us = x ? cp_json_get_array(x, "us") : NULL;
	int64_t best = 0, v;
	bool ok = false, done = false;
	size_t k;

	if (!x || !cp_json_get_bool(x, "ok", &ok) || !ok || !cp_json_get_bool(cfg, "done", &done) ||
	    !done)
		return 0.0;
	for (k = 0; k < cp_json_len(us); k++)
		if (cp_json_as_int(cp_json_at(us, k), &v) && v > 0 && (!best || v < best))
			best = v;
	return best > 0 ? (double)bench_num(x, "bytes") / MIB / ((double)best / 1e6) : 0.0;
}

/**
 * find_key() - the configuration called @key
 * @configs:	the configurations
 * @key:	its key
 *
 * Return: borrowed from @configs, or NULL
 */
static const cp_json *find_key(const cp_json *configs, const char *key)
{
	size_t i;

	for (i = 0; i < cp_json_len(configs); i++)
		if (!strcmp(str(cp_json_at(configs, i), "key"), key))
			return cp_json_at(configs, i);
	return NULL;
}

/**
 * noise_band() - how far the native frontends measured again land from
 * their first measurement, the largest over them
 * @configs:	the configurations
 * @pass:	the pass
 *
 * Return: the largest |last / first - 1|, or -1 if no frontend has both
 */
static double noise_band(const cp_json *configs, const char *pass)
{
	double band = -1.0;
	size_t i;

	for (i = 0; i < cp_json_len(configs); i++) {
		const cp_json *end = cp_json_at(configs, i);
		const char *first = cp_json_get_str(end, "first");
		double a = first ? bench_disk_mib_s(find_key(configs, first), pass) : 0.0;
		double b = bench_disk_mib_s(end, pass);
		double d = a > 0.0 && b > 0.0 ? b / a - 1.0 : 0.0;

		if (a > 0.0 && b > 0.0 && (d < 0.0 ? -d : d) > band)
			band = d < 0.0 ? -d : d;
	}
	return band;
}

/**
 * bench_disk_figure() - the re-homed disk against the best native frontend
 * in one pass, and the verdict on issue 11's target
 * @configs:	a run's "configs"
 * @pass:	"read_1m", ...
 * @out:	filled
 *
 * Native is the best first measurement of Incus's frontends (the repeats
 * measured last only give the noise band). Below BENCH_DISK_TARGET by less
 * than the band is "met within the noise band".
 */
void bench_disk_figure(const cp_json *configs, const char *pass, struct bench_disk_figure *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < cp_json_len(configs); i++) {
		const cp_json *c = cp_json_at(configs, i);
		double v = bench_disk_mib_s(c, pass);

		if (!strcmp(str(c, "kind"), "rehomed") && out->rehomed <= 0.0)
			out->rehomed = v;
		if (!strcmp(str(c, "kind"), "native") && !cp_json_get_str(c, "first") &&
		    v > out->native) {
			out->native = v;
			out->native_key = str(c, "key");
		}
	}
	out->band = noise_band(configs, pass);
	out->ratio = out->native > 0.0 ? out->rehomed / out->native : 0.0;
	if (out->ratio <= 0.0)
		out->verdict = "not measured";
	else if (out->ratio >= BENCH_DISK_TARGET)
		out->verdict = "met";
	else if (out->band >= 0.0 && out->ratio + out->band >= BENCH_DISK_TARGET)
		out->verdict = "met within the noise band";
	else
		out->verdict = "not met";
}

/**
 * note_ref() - add a footnote for a figure that was not measured
 * @notes:	the table's notes
 * @cfg:	configuration object
 * @what:	the column
 * @why:	the reason
 * @buf:	set to the cell text
 * @size:	its size
 */
static void note_ref(struct notes *notes, const cp_json *cfg, const char *what, const char *why,
		     char *buf, size_t size)
{
	if (notes->n < NOTES_MAX) {
		lab_fmt(notes->text[notes->n], sizeof(notes->text[0]), "%s, %s: %s",
			str(cfg, "key"), what, why[0] ? why : "no figures");
		notes->n++;
	}
	lab_fmt(buf, size, "n/m [%zu]", notes->n);
}

/**
 * table_row() - one configuration's row: each pass's MiB/s and its ratio to
 * that pass's native
 * @f:		output
 * @notes:	footnotes
 * @configs:	the configurations
 * @cfg:	this one
 */
static void table_row(FILE *f, struct notes *notes, const cp_json *configs, const cp_json *cfg)
{
	char cell[CELL_MAX];
	bool done = false;
	size_t i;

	cp_json_get_bool(cfg, "done", &done);
	if (done)
		fprintf(f, "| %s | %s (%s) |", str(cfg, "label"), str(cfg, "guest_dev"),
			str(cfg, "driver"));
	else
		fprintf(f, "| %s | - |", str(cfg, "label"));
	for (i = 0; i < BENCH_DISK_PASSES; i++) {
		const char *key = bench_disk_passes[i].key;
		const cp_json *x = cp_json_get_object(cp_json_get_object(cfg, "passes"), key);
		struct bench_disk_figure fig;
		double v = bench_disk_mib_s(cfg, key);

		bench_disk_figure(configs, key, &fig);
		if (v <= 0.0)
			note_ref(notes, cfg, done ? bench_disk_passes[i].name : "the whole VM",
				 done ? str(x, "error") : str(cfg, "error"), cell, sizeof(cell));
		else if (fig.native > 0.0)
			lab_fmt(cell, sizeof(cell), "%.1f MiB/s (%.2f×)", v, v / fig.native);
		else
			lab_fmt(cell, sizeof(cell), "%.1f MiB/s (n/a)", v);
		fprintf(f, " %s |", cell);
	}
	fputc('\n', f);
}

/**
 * print_table() - the table of one run and its footnotes
 * @f:		output
 * @configs:	the configurations
 */
static void print_table(FILE *f, const cp_json *configs)
{
	struct notes notes = { .n = 0 };
	size_t i;

	fprintf(f, "| configuration | guest disk |");
	for (i = 0; i < BENCH_DISK_PASSES; i++)
		fprintf(f, " %s |", bench_disk_passes[i].name);
	fprintf(f, "\n|---|---|");
	for (i = 0; i < BENCH_DISK_PASSES; i++)
		fprintf(f, "---|");
	fprintf(f, "\n");
	for (i = 0; i < cp_json_len(configs); i++)
		table_row(f, &notes, configs, cp_json_at(configs, i));
	fprintf(f, "\n");
	for (i = 0; i < notes.n; i++)
		fprintf(f, "[%zu] n/m = not measured: %s\n\n", i + 1, notes.text[i]);
}

/**
 * ratio_of() - "0.97×" of two configurations in one pass, or "n/a"
 * @a:		numerator configuration
 * @b:		denominator configuration
 * @pass:	the pass
 * @buf:	output
 * @size:	its size
 *
 * Return: @buf
 */
static const char *ratio_of(const cp_json *a, const cp_json *b, const char *pass, char *buf,
			    size_t size)
{
	double x = bench_disk_mib_s(a, pass), y = bench_disk_mib_s(b, pass);

	if (x > 0.0 && y > 0.0)
		lab_fmt(buf, size, "%.2f×", x / y);
	else
		cp_strlcpy(buf, "n/a", size);
	return buf;
}

/**
 * noise() - each native frontend's second VM against its first, per pass
 * @f:		output
 * @configs:	the configurations
 */
static void noise(FILE *f, const cp_json *configs)
{
	size_t i, k;
	char r[32];

	fprintf(f, "- Noise: each native frontend's VM ran every pass again right after the "
		   "re-homed disk, the repeat's best round / the first's:");
	for (i = 0, k = 0; i < cp_json_len(configs); i++) {
		const cp_json *end = cp_json_at(configs, i);
		const char *first = cp_json_get_str(end, "first");
		size_t j;

		if (!first)
			continue;
		fprintf(f, "%s %s", k++ ? ";" : "", first);
		for (j = 0; j < BENCH_DISK_PASSES; j++)
			fprintf(f, "%s %s %s", j ? "," : "", bench_disk_passes[j].name,
				ratio_of(end, find_key(configs, first), bench_disk_passes[j].key, r,
					 sizeof(r)));
	}
	fprintf(f, ". The band of a pass is the largest distance from 1.00× among these: "
		   "differences within it are noise.\n");
}

/**
 * target() - the re-homed disk against issue 11's target, pass by pass
 * @f:		output
 * @configs:	the configurations
 */
static void target(FILE *f, const cp_json *configs)
{
	bool met = true, within = true;
	double widest = 0.0;
	char text[4][192];
	size_t i;

	for (i = 0; i < BENCH_DISK_PASSES; i++) {
		struct bench_disk_figure fig;
		char band[48] = "no noise band";

		bench_disk_figure(configs, bench_disk_passes[i].key, &fig);
		if (fig.band >= 0.0)
			lab_fmt(band, sizeof(band), "noise band ±%.2f", fig.band);
		widest = fig.band > widest ? fig.band : widest;
		lab_fmt(text[i], sizeof(text[i]), "%s %.2f× of %s (%s): %s",
			bench_disk_passes[i].name, fig.ratio, fig.native_key ? fig.native_key : "-",
			band, fig.verdict);
		met &= !strcmp(fig.verdict, "met");
		within &= !strncmp(fig.verdict, "met", 3);
	}
	fprintf(f,
		"- **Target (issue 11): the re-homed disk ≥ %.2f× the best native frontend on the "
		"same image: %s.** %s; %s; %s; %s.\n",
		BENCH_DISK_TARGET,
		met	 ? "met"
		: within ? "met only within the noise band"
			 : "not met",
		text[0], text[1], text[2], text[3]);
	if (widest > 1.0 - BENCH_DISK_TARGET)
		fprintf(f,
			"- The noise band reaches ±%.2f in this run, wider than the %.0f %% the "
			"target allows: a pass \"met within the noise band\" means this run cannot "
			"tell the re-homed disk from native, not that it matched it.\n",
			widest, 100.0 * (1.0 - BENCH_DISK_TARGET));
}

/**
 * findings() - which native frontend is the best, the noise, the target,
 * and the re-homed disk against Incus's own virtio-blk (the same guest
 * driver)
 * @f:		output
 * @configs:	the configurations
 */
static void findings(FILE *f, const cp_json *configs)
{
	const cp_json *re = find_key(configs, "rehomed"), *blk = find_key(configs, "virtio-blk");
	const cp_json *scsi = find_key(configs, "scsi");
	char r[32];
	size_t i;

	fprintf(f, "- Native (the best of Incus's frontends, first measurements), and virtio-blk "
		   "/ scsi:");
	for (i = 0; i < BENCH_DISK_PASSES; i++) {
		struct bench_disk_figure fig;

		bench_disk_figure(configs, bench_disk_passes[i].key, &fig);
		fprintf(f, "%s %s %s (%s)", i ? ";" : "", bench_disk_passes[i].name,
			fig.native_key ? fig.native_key : "none",
			ratio_of(blk, scsi, bench_disk_passes[i].key, r, sizeof(r)));
	}
	fprintf(f, ".\n");
	noise(f, configs);
	target(f, configs);
	fprintf(f, "- The re-homed disk against Incus's own virtio-blk (the same guest driver, "
		   "first measurement):");
	for (i = 0; i < BENCH_DISK_PASSES; i++)
		fprintf(f, "%s %s %s", i ? "," : "", bench_disk_passes[i].name,
			ratio_of(re, blk, bench_disk_passes[i].key, r, sizeof(r)));
	fprintf(f, ".\n");
}

/**
 * print_facts() - machine, QEMU, date, guest, parameters, per-VM times,
 * commands, how QEMU opened the image
 * @f:		output
 * @doc:	the run's JSON
 */
static void print_facts(FILE *f, const cp_json *doc)
{
	const cp_json *configs = cp_json_get_array(doc, "configs");
	const cp_json *m = cp_json_get_object(doc, "machine");
	const cp_json *p = cp_json_get_object(doc, "params");
	const cp_json *re = find_key(configs, "rehomed");
	size_t i, ndirect = 0, nvms = 0;

	fprintf(f,
		"- **Machine:** %s, %lld cores; %s; load average %s at the start, %s at the "
		"end.\n",
		str(m, "cpu"), (long long)bench_num(m, "cores"), str(m, "kernel"),
		str(m, "load_start"), str(m, "load_end"));
	fprintf(f,
		"- **QEMU:** %s (`%s`), accel tcg, %s-threaded. **Date:** %s; the run took "
		"%lld s.\n",
		str(doc, "qemu_version"), str(doc, "qemu_binary"), str(doc, "tcg_thread"),
		str(doc, "started"), (long long)bench_num(doc, "seconds"));
	fprintf(f,
		"- **Guest:** %lld vCPUs, %lld MiB, Linux %s (the lab's test guest); the passes: `cptraffic dio`.\n",
		(long long)bench_num(p, "vcpus"), (long long)bench_num(p, "memory_mb"),
		str(cp_json_get_object(doc, "guest"), "kernel"));
	fprintf(f,
		"- **Parameters:** one %lld MiB raw image on %s, every byte written before the "
		"first VM; each pass is sequential from the disk's first byte, %lld MiB in 1 MiB blocks "
		"or %lld MiB in 4 KiB blocks; %lld round(s) per pass in each VM, the figure is the "
		"best round.\n",
		(long long)(bench_num(p, "image_size") >> 20), str(p, "image_dir"),
		(long long)(bench_num(p, "large_bytes") >> 20),
		(long long)(bench_num(p, "small_bytes") >> 20), (long long)bench_num(p, "rounds"));
	fprintf(f, "- **One VM per frontend, side by side** (the time each took to start and "
		   "report):");
	for (i = 0; i < cp_json_len(configs); i++) {
		const cp_json *c = cp_json_at(configs, i);
		bool direct = false;

		if (cp_json_get_str(c, "first"))
			continue;
		cp_json_get_bool(c, "host_direct", &direct);
		ndirect += direct;
		nvms++;
		fprintf(f, "%s %s %lld s%s", nvms > 1 ? "," : "", str(c, "key"),
			(long long)bench_num(c, "seconds"),
			bench_num(c, "attempts") > 1 ? " (retried once)" : "");
	}
	fprintf(f,
		". QEMU opened the image with O_DIRECT (the node's cache.direct, as Incus "
		"chose it) in %zu of the %zu VMs.\n",
		ndirect, nvms);
	if (re && str(re, "conf_cmd")[0])
		fprintf(f,
			"- `rehomed`: `%s` given to QEMU with -readconfig, then at pre-start `%s`; "
			"the guest sees the disk at `%s`.\n",
			str(re, "conf_cmd"), str(re, "rehome_cmd"), str(re, "guest_path"));
	for (i = 0; i < cp_json_len(configs); i++)
		if (str(cp_json_at(configs, i), "retry_note")[0])
			fprintf(f, "- %s was retried once: %s\n",
				str(cp_json_at(configs, i), "key"),
				str(cp_json_at(configs, i), "retry_note"));
}

/**
 * bench_disk_print() - one run as a markdown section
 * @f:		output
 * @doc:	the run's JSON
 */
void bench_disk_print(FILE *f, const cp_json *doc)
{
	const cp_json *configs = cp_json_get_array(doc, "configs");
	bool quick = false;

	cp_json_get_bool(cp_json_get_object(doc, "params"), "quick", &quick);
	fprintf(f, "## QEMU %s (%s, TCG)%s\n\n", str(doc, "qemu"), str(doc, "qemu_version"),
		quick ? " — quick run, not for comparison" : "");
	print_table(f, configs);
	print_facts(f, doc);
	fprintf(f, "\n**Findings (computed from the figures):**\n\n");
	findings(f, configs);
	fprintf(f, "\n");
}

/**
 * write_header() - the top of RESULTS-disk.md
 * @f:		output
 * @inputs:	the JSON files
 * @n:		their count
 */
static void write_header(FILE *f, char *const *inputs, size_t n)
{
	size_t i;

	fprintf(f, "# Disk benchmark: a re-homed disk against Incus's own frontends\n\n");
	fprintf(f, "Generated by `bench-disk --markdown` (`make bench`) from");
	for (i = 0; i < n; i++)
		fprintf(f, "%s `%s`", i ? "," : "", inputs[i]);
	fprintf(f, ". Do not edit: run `make bench` again. How to run it and read it: "
		   "[README.md](README.md).\n\n");
	fprintf(f, "> **TCG on a shared machine.** These VMs run under QEMU's TCG (no KVM), on a "
		   "machine other jobs use at the same time. Absolute figures "
		   "say nothing about speed on KVM, and figures from different runs cannot be "
		   "compared: only the ratios taken in the same run mean anything.\n\n");
	fprintf(f,
		"Each cell is the throughput of O_DIRECT sequential reads or writes in the "
		"guest (`cptraffic dio`: one block at a time from offset 0, a write ended by "
		"fdatasync(), timed in the guest) and, in parentheses, its ratio to **native**: the best of Incus's own frontends (its "
		"first measurement) in that column, in the same run, on the same image file. "
		"n/m = not measured, with the reason below the table.\n\n");
	fprintf(f,
		"Configurations (one VM per frontend, Incus's start sequence replayed by the "
		"lab's emulator, the same image file opened by Incus in each): **Incus "
		"virtio-scsi** = Incus's default disk, scsi-hd on Incus's virtio-scsi controller; "
		"**Incus virtio-blk** = `io.bus=virtio-blk`; **re-homed** = the scsi disk, then "
		"at pre-start `coldplug rehome`: Incus's scsi-hd deleted and coldplug's cold "
		"virtio-blk slot given Incus's own block node (no second open). The three VMs "
		"run side by side and each pass takes turns across them, seconds apart, in the "
		"table's order: after the re-homed disk the virtio-blk and scsi VMs run the pass "
		"again, and how far that lands from their first run is the noise band.\n\n");
}

/**
 * bench_disk_markdown() - RESULTS-disk.md from the JSON files of runs
 * @out:	the markdown file (written via a temporary file)
 * @inputs:	JSON files, one per QEMU version
 * @n:		their count
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
int bench_disk_markdown(const char *out, char *const *inputs, size_t n, struct cp_error *err)
{
	return bench_markdown(out, inputs, n, "configs", "bench-disk", write_header,
			      bench_disk_print, err);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-nic's figures as JSON (one file per QEMU version, the raw data)
 * and as markdown, rendered from that JSON only, so RESULTS.md is always
 * what the files say: every cell is a figure and, in parentheses, its ratio
 * to native measured in the same run; figures that could not be measured
 * say why below the table; coldplug paths that lose packets at the fixed
 * rates are flagged, not smoothed over.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "nic.h"
#include "queues.h"
#include "run.h"
#include "util.h"

#define CELL_MAX   128
#define NOTES_MAX  32
#define FORMAT_VER 1

/* A step of the UDP ladder loses when more than this share is lost. */
#define LOSS_START_PCT 1.0

/* Issue 11's target for the direct path: TCP both ways at least this share of native's. */
#define DIRECT_TARGET 0.95

static const char *const kind_names[] = {
	[BENCH_NIC_NATIVE] = "native", [BENCH_NIC_PCI] = "pci",
	[BENCH_NIC_USB] = "usb",       [BENCH_NIC_INCUS_USB] = "incus-usb",
	[BENCH_NIC_SEED] = "seed",     [BENCH_NIC_DIRECT] = "direct",
};

/**
 * struct notes - footnotes of one table
 * @text:	each note
 * @n:		their count
 */
struct notes {
	char text[NOTES_MAX][BENCH_NIC_ERR_MAX + 64];
	size_t n;
};

/**
 * bench_nic_run_begin() - note the start: UTC time and load
 * @run:	filled (@seconds and @qemu_binary are the caller's)
 */
void bench_nic_run_begin(struct bench_nic_run *run)
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
static cp_json *params_json(const struct bench_nic_params *p)
{
	cp_json *o = cp_json_new_object();
	size_t i;

	cp_json_set_int(o, "vcpus", p->vcpus);
	cp_json_set_int(o, "tap_queues", p->queues);
	cp_json_set_bool(o, "vhost_net", p->vhost);
	cp_json_set_int(o, "memory_mb", p->memory_mb);
	cp_json_set_int(o, "pings", p->pings);
	cp_json_set_int(o, "ping_interval_ms", p->ping_interval_ms);
	cp_json_set_int(o, "tcp_seconds", p->tcp_seconds);
	cp_json_set_int(o, "tcp_rounds", p->tcp_rounds);
	cp_json_set_int(o, "udp_count", p->udp_count);
	cp_json_set_int(o, "udp_rate", p->udp_rate);
	cp_json_set_int(o, "udp_flows", p->udp_flows);
	cp_json_set_int(o, "udp_payload", 64);
	cp_json_set_int(o, "burst_count", p->burst_count);
	cp_json_set(o, "ladder_rates", cp_json_new_array());
	for (i = 0; i < BENCH_NIC_LADDER; i++)
		cp_json_append(cp_json_get_array(o, "ladder_rates"),
			       cp_json_new_int(p->ladder_rates[i]));
	cp_json_set_int(o, "burst_rate_in", p->burst_rate);
	cp_json_set_int(o, "noise_rate", p->noise_rate);
	cp_json_set_bool(o, "quick", p->quick);
	return o;
}

/**
 * udp_json() - a packet run
 * @u:	figures
 *
 * Return: new object
 */
static cp_json *udp_json(const struct bench_udp *u)
{
	cp_json *o = cp_json_new_object();

	cp_json_set_bool(o, "ok", u->ok);
	cp_json_set_int(o, "rate", u->rate);
	if (!u->ok) {
		cp_json_set_str(o, "error", u->error);
		return o;
	}
	cp_json_set_int(o, "sent", (int64_t)u->sent);
	cp_json_set_int(o, "received", (int64_t)u->received);
	cp_json_set_int(o, "flows", u->flows);
	cp_json_set_int(o, "flows_complete", u->flows_complete);
	return o;
}

/**
 * tcp_json() - a TCP run
 * @t:	figures
 *
 * Return: new object
 */
static cp_json *tcp_json(const struct bench_tcp *t)
{
	cp_json *o = cp_json_new_object(), *rounds = cp_json_new_array();
	unsigned i;

	cp_json_set_bool(o, "ok", t->ok);
	for (i = 0; i < t->rounds; i++)
		cp_json_append(rounds, cp_json_new_int(t->round_kbit_s[i]));
	cp_json_set(o, "round_kbit_s", rounds);
	if (!t->ok) {
		cp_json_set_str(o, "error", t->error);
		return o;
	}
	cp_json_set_int(o, "kbit_s", t->kbit_s);
	cp_json_set_int(o, "bytes", (int64_t)t->bytes);
	return o;
}

/**
 * queues_json() - the queues that carried a run
 * @q:	figures
 *
 * Return: new object
 */
static cp_json *queues_json(const struct bench_queues *q)
{
	cp_json *o = cp_json_new_object(), *a;
	unsigned i;

	cp_json_set_bool(o, "ok", q->ok);
	if (!q->ok) {
		cp_json_set_str(o, "error", q->error);
		return o;
	}
	cp_json_set_int(o, "max", q->max);
	cp_json_set_int(o, "combined", q->combined);
	a = cp_json_new_array();
	for (i = 0; i < q->n; i++)
		cp_json_append(a, cp_json_new_int((int64_t)q->packets[i]));
	cp_json_set(o, "packets", a);
	return o;
}

/**
 * result_json() - one configuration
 * @r:	its result
 *
 * Return: new object
 */
static cp_json *result_json(const struct bench_nic_result *r)
{
	cp_json *o = cp_json_new_object();
	size_t i;

	cp_json_set_str(o, "key", r->cfg->key);
	cp_json_set_str(o, "label", r->cfg->label);
	cp_json_set_str(o, "kind", kind_names[r->cfg->kind]);
	if (r->cfg->model)
		cp_json_set_str(o, "model", r->cfg->model);
	cp_json_set_str(o, "hwaddr", r->cfg->hwaddr);
	cp_json_set_bool(o, "side_by_side", r->cfg->side_by_side);
	cp_json_set_str(o, "conf_cmd", r->conf_cmd);
	cp_json_set_str(o, "rehome_cmd", r->rehome_cmd);
	cp_json_set_bool(o, "done", r->done);
	cp_json_set_int(o, "attempts", r->attempts);
	cp_json_set_str(o, "retry_note", r->retry_note);
	cp_json_set_str(o, "error", r->error);
	cp_json_set_int(o, "seconds", r->seconds);
	cp_json_set_str(o, "qemu_version", r->qemu_version);
	cp_json_set_str(o, "guest_kernel", r->guest_kernel);
	cp_json_set_str(o, "driver", r->driver);
	cp_json_set_str(o, "guest_mac", r->mac);
	cp_json_set_str(o, "guest_path", r->path);
	cp_json_set(o, "ping", udp_json(&r->ping));
	cp_json_set(o, "tcp_in", tcp_json(&r->tcp_in));
	cp_json_set(o, "tcp_out", tcp_json(&r->tcp_out));
	cp_json_set(o, "udp_in", udp_json(&r->udp_in));
	cp_json_set(o, "udp_out", udp_json(&r->udp_out));
	cp_json_set(o, "ladder_in", cp_json_new_array());
	cp_json_set(o, "ladder_out", cp_json_new_array());
	for (i = 0; i < BENCH_NIC_LADDER; i++) {
		cp_json_append(cp_json_get_array(o, "ladder_in"), udp_json(&r->ladder_in[i]));
		cp_json_append(cp_json_get_array(o, "ladder_out"), udp_json(&r->ladder_out[i]));
	}
	cp_json_set(o, "burst_in", udp_json(&r->burst_in));
	cp_json_set(o, "burst_out", udp_json(&r->burst_out));
	cp_json_set(o, "queues_in", queues_json(&r->queues_in));
	cp_json_set(o, "queues_out", queues_json(&r->queues_out));
	return o;
}

/**
 * bench_nic_to_json() - the whole run as one document
 * @p:		parameters
 * @res:	results, native first
 * @n:		their count
 * @run:	start, duration, QEMU binary
 *
 * Return: new object
 */
cp_json *bench_nic_to_json(const struct bench_nic_params *p, const struct bench_nic_result *res,
			   size_t n, const struct bench_nic_run *run)
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
	cp_json_set_str(doc, "benchmark", "coldplug bench-nic");
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

/* ---- rendering (from the JSON only) ---- */

/**
 * str() - a string member, "" if absent
 * @o:		object
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
 * measured() - whether a measurement object has figures
 * @m:	measurement, may be NULL
 *
 * Return: true if "ok"
 */
static bool measured(const cp_json *m)
{
	bool ok = false;

	return m && cp_json_get_bool(m, "ok", &ok) && ok;
}

/**
 * delivered() - the fraction of a packet run that arrived
 * @m:	measured packet run
 *
 * Return: received / sent (0 when nothing was sent)
 */
static double delivered(const cp_json *m)
{
	int64_t sent = bench_num(m, "sent");

	return sent > 0 ? (double)bench_num(m, "received") / (double)sent : 0.0;
}

/**
 * ratio_text() - " (0.95×)", or " (n/a)" without a usable reference
 * @v:		value
 * @ref:	native's value, <= 0 if none
 * @buf:	output
 * @size:	its size
 *
 * Return: @buf
 */
static const char *ratio_text(double v, double ref, char *buf, size_t size)
{
	if (ref > 0.0)
		lab_fmt(buf, size, " (%.2f×)", v / ref);
	else
		cp_strlcpy(buf, " (n/a)", size);
	return buf;
}

/**
 * note_ref() - add a footnote for a figure that was not measured
 * @notes:	the table's notes
 * @cfg:	configuration object
 * @what:	the column
 * @m:		the measurement (its "error"), or NULL for the whole VM
 * @buf:	set to the cell text
 * @size:	its size
 */
static void note_ref(struct notes *notes, const cp_json *cfg, const char *what, const cp_json *m,
		     char *buf, size_t size)
{
	const char *why = m ? str(m, "error") : str(cfg, "error");

	if (notes->n < NOTES_MAX) {
		lab_fmt(notes->text[notes->n], sizeof(notes->text[0]), "%s, %s: %s",
			str(cfg, "key"), what, why[0] ? why : "no figures");
		notes->n++;
	}
	lab_fmt(buf, size, "n/m [%zu]", notes->n);
}

/**
 * cell_tcp() - "1234.5 Mbit/s (0.95×)"
 * @notes:	footnotes
 * @cfg:	configuration
 * @key:	"tcp_in" or "tcp_out"
 * @what:	column name (for the footnote)
 * @native:	native's configuration, or NULL
 * @buf:	output
 * @size:	its size
 */
static void cell_tcp(struct notes *notes, const cp_json *cfg, const char *key, const char *what,
		     const cp_json *native, char *buf, size_t size)
{
	const cp_json *m = cp_json_get_object(cfg, key);
	const cp_json *ref = native ? cp_json_get_object(native, key) : NULL;
	double v = (double)bench_num(m, "kbit_s") / 1000.0;
	char r[32];

	if (!measured(m)) {
		note_ref(notes, cfg, what, m, buf, size);
		return;
	}
	ratio_text(v, measured(ref) ? (double)bench_num(ref, "kbit_s") / 1000.0 : 0.0, r,
		   sizeof(r));
	lab_fmt(buf, size, "%.1f Mbit/s%s", v, r);
}

/**
 * cell_loss() - "0.0 % lost, 16/16 flows (1.00×)": loss, and the delivered
 * fraction as a ratio to native's
 * @notes:	footnotes
 * @cfg:	configuration
 * @key:	"ping", "udp_in", "udp_out"
 * @what:	column name
 * @native:	native's configuration, or NULL
 * @flows:	show the flows that lost nothing
 * @buf:	output
 * @size:	its size
 */
static void cell_loss(struct notes *notes, const cp_json *cfg, const char *key, const char *what,
		      const cp_json *native, bool flows, char *buf, size_t size)
{
	const cp_json *m = cp_json_get_object(cfg, key);
	const cp_json *ref = native ? cp_json_get_object(native, key) : NULL;
	char r[32], f[48] = "";

	if (!measured(m)) {
		note_ref(notes, cfg, what, m, buf, size);
		return;
	}
	if (flows)
		lab_fmt(f, sizeof(f), ", %lld/%lld flows",
			(long long)bench_num(m, "flows_complete"),
			(long long)bench_num(m, "flows"));
	ratio_text(delivered(m), measured(ref) ? delivered(ref) : 0.0, r, sizeof(r));
	lab_fmt(buf, size, "%.1f %% lost%s%s", 100.0 * (1.0 - delivered(m)), f, r);
}

/**
 * loss_start() - the first rate of a direction's runs (fixed, ladder,
 * burst) where more than LOSS_START_PCT % was lost
 * @cfg:	configuration
 * @dir:	"in" or "out"
 * @buf:	output: "loss from 16000/s", "no loss up to max rate", ...
 * @size:	its size
 */
static void loss_start(const cp_json *cfg, const char *dir, char *buf, size_t size)
{
	const cp_json *steps[2 + BENCH_NIC_LADDER + 1];
	const cp_json *ladder;
	size_t n = 0, i;
	char key[16];

	lab_fmt(key, sizeof(key), "udp_%s", dir);
	steps[n++] = cp_json_get_object(cfg, key);
	lab_fmt(key, sizeof(key), "ladder_%s", dir);
	ladder = cp_json_get_array(cfg, key);
	for (i = 0; i < cp_json_len(ladder) && n < CP_ARRAY_SIZE(steps) - 1; i++)
		steps[n++] = cp_json_at(ladder, i);
	lab_fmt(key, sizeof(key), "burst_%s", dir);
	steps[n++] = cp_json_get_object(cfg, key);
	for (i = 0; i < n; i++) {
		if (!measured(steps[i]))
			break;
		if (100.0 * (1.0 - delivered(steps[i])) <= LOSS_START_PCT)
			continue;
		if (bench_num(steps[i], "rate"))
			lab_fmt(buf, size, "loss from %lld/s",
				(long long)bench_num(steps[i], "rate"));
		else
			cp_strlcpy(buf, "loss only unpaced", size);
		return;
	}
	cp_strlcpy(buf, i == n ? "no loss up to the max rate" : "loss start unknown", size);
}

/**
 * cell_burst() - "41.3 % arrived (0.87×); loss from 16000/s"
 * @notes:	footnotes
 * @cfg:	configuration
 * @dir:	"in" or "out"
 * @what:	column name
 * @native:	native's configuration, or NULL
 * @buf:	output
 * @size:	its size
 */
static void cell_burst(struct notes *notes, const cp_json *cfg, const char *dir, const char *what,
		       const cp_json *native, char *buf, size_t size)
{
	const cp_json *m, *ref;
	char r[32], key[16], start[48];

	lab_fmt(key, sizeof(key), "burst_%s", dir);
	m = cp_json_get_object(cfg, key);
	ref = native ? cp_json_get_object(native, key) : NULL;
	if (!measured(m)) {
		note_ref(notes, cfg, what, m, buf, size);
		return;
	}
	ratio_text(delivered(m), measured(ref) ? delivered(ref) : 0.0, r, sizeof(r));
	loss_start(cfg, dir, start, sizeof(start));
	lab_fmt(buf, size, "%.1f %% arrived%s; %s", 100.0 * delivered(m), r, start);
}

/**
 * table_row() - one configuration's row
 * @f:		output
 * @notes:	footnotes
 * @cfg:	configuration
 * @native:	native's configuration, or NULL
 */
static void table_row(FILE *f, struct notes *notes, const cp_json *cfg, const cp_json *native)
{
	char c[7][CELL_MAX];
	bool done = false;
	size_t i;

	cp_json_get_bool(cfg, "done", &done);
	if (!done) {
		note_ref(notes, cfg, "the whole VM", NULL, c[0], sizeof(c[0]));
		fprintf(f, "| %s | - |", str(cfg, "label"));
		for (i = 0; i < 7; i++)
			fprintf(f, " %s |", c[0]);
		fputc('\n', f);
		return;
	}
	cell_loss(notes, cfg, "ping", "ping", native, false, c[0], CELL_MAX);
	cell_tcp(notes, cfg, "tcp_in", "TCP host->guest", native, c[1], CELL_MAX);
	cell_tcp(notes, cfg, "tcp_out", "TCP guest->host", native, c[2], CELL_MAX);
	cell_loss(notes, cfg, "udp_in", "UDP host->guest", native, true, c[3], CELL_MAX);
	cell_loss(notes, cfg, "udp_out", "UDP guest->host", native, true, c[4], CELL_MAX);
	cell_burst(notes, cfg, "in", "UDP burst host->guest", native, c[5], CELL_MAX);
	cell_burst(notes, cfg, "out", "UDP burst guest->host", native, c[6], CELL_MAX);
	fprintf(f, "| %s | %s |", str(cfg, "label"), str(cfg, "driver"));
	for (i = 0; i < 7; i++)
		fprintf(f, " %s |", c[i]);
	fputc('\n', f);
}

/**
 * fixed_rate_losses() - what a configuration lost or could not measure at
 * the fixed rates, as text
 * @c:		configuration
 * @buf:	output ("" if nothing)
 * @size:	its size
 *
 * Return: true if anything was lost or not measured
 */
static bool fixed_rate_losses(const cp_json *c, char *buf, size_t size)
{
	static const char *const keys[] = { "ping", "udp_in", "udp_out", "tcp_in", "tcp_out" };
	static const char *const names[] = { "pings", "UDP host→guest", "UDP guest→host",
					     "TCP host→guest", "TCP guest→host" };
	size_t k, off = 0;

	buf[0] = '\0';
	for (k = 0; k < CP_ARRAY_SIZE(keys) && off < size; k++) {
		const cp_json *m = cp_json_get_object(c, keys[k]);
		const char *sep = off ? "; " : "";
		char flows[48] = "";
		int w = 0;

		if (k == 1 || k == 2)
			lab_fmt(flows, sizeof(flows), ", %lld/%lld flows intact",
				(long long)bench_num(m, "flows_complete"),
				(long long)bench_num(m, "flows"));
		if (!measured(m))
			w = snprintf(buf + off, size - off, "%s%s not measured", sep, names[k]);
		else if (k < 3 && bench_num(m, "received") < bench_num(m, "sent"))
			w = snprintf(buf + off, size - off, "%s%s %.1f %% lost (%lld of %lld%s)",
				     sep, names[k], 100.0 * (1.0 - delivered(m)),
				     (long long)(bench_num(m, "sent") - bench_num(m, "received")),
				     (long long)bench_num(m, "sent"), flows);
		off += w > 0 ? (size_t)w : 0;
	}
	return off > 0;
}

/**
 * find_kind() - the @nth configuration of kind @kind
 * @configs:	the configurations
 * @kind:	"native", "direct", ...
 * @nth:	0 for the first
 *
 * Return: borrowed from @configs, or NULL
 */
static const cp_json *find_kind(const cp_json *configs, const char *kind, size_t nth)
{
	size_t i;

	for (i = 0; i < cp_json_len(configs); i++)
		if (!strcmp(str(cp_json_at(configs, i), "kind"), kind) && nth-- == 0)
			return cp_json_at(configs, i);
	return NULL;
}

/**
 * noise() - native's second VM against its first: how far two measurements
 * of the same thing in this run differ
 * @f:		output
 * @configs:	the configurations (two of kind native, or nothing is said)
 */
static void noise(FILE *f, const cp_json *configs)
{
	static const char *const keys[] = { "tcp_in", "tcp_out", "burst_in", "burst_out" };
	static const char *const names[] = { "TCP host→guest", "TCP guest→host", "burst host→guest",
					     "burst guest→host" };
	const cp_json *a = find_kind(configs, "native", 0), *b = find_kind(configs, "native", 1);
	bool beside = false;
	size_t i;

	if (!a || !b)
		return;
	/* Results from before the side-by-side runs have no side_by_side. */
	cp_json_get_bool(b, "side_by_side", &beside);
	fprintf(f, "- Noise: native's second VM, %s, got",
		beside ? "running beside the first (TCP in turns)" : "measured last");
	for (i = 0; i < CP_ARRAY_SIZE(keys); i++) {
		const cp_json *x = cp_json_get_object(a, keys[i]);
		const cp_json *y = cp_json_get_object(b, keys[i]);
		double vx = i < 2 ? (double)bench_num(x, "kbit_s") : delivered(x);
		double vy = i < 2 ? (double)bench_num(y, "kbit_s") : delivered(y);
		char r[32] = "n/a";

		if (measured(x) && measured(y) && vx > 0.0)
			lab_fmt(r, sizeof(r), "%.2f×", vy / vx);
		fprintf(f, "%s %s %s", i ? "," : "", names[i], r);
	}
	fprintf(f, " of the first: differences between configurations within that band are "
		   "noise.\n");
}

/**
 * tcp_verdict() - one TCP direction of direct against issue 11's target
 * @configs:	the configurations (direct, native, maybe native-end)
 * @key:	"tcp_in" or "tcp_out"
 * @buf:	output: "0.97× (0.99× of native-end; noise band ±0.07): met"
 * @size:	its size
 *
 * The noise band is how far native-end's figure is from native's. Below
 * DIRECT_TARGET by less than that band is "met within the noise band".
 *
 * Return: true if met (outright or within the band)
 */
static bool tcp_verdict(const cp_json *configs, const char *key, char *buf, size_t size)
{
	const cp_json *d = cp_json_get_object(find_kind(configs, "direct", 0), key);
	const cp_json *a = cp_json_get_object(find_kind(configs, "native", 0), key);
	const cp_json *b = cp_json_get_object(find_kind(configs, "native", 1), key);
	double r, band = 0.0;
	char end[96] = "no native-end, no noise band";

	if (!measured(d) || !measured(a) || bench_num(a, "kbit_s") <= 0) {
		cp_strlcpy(buf, "not measured: not met", size);
		return false;
	}
	r = (double)bench_num(d, "kbit_s") / (double)bench_num(a, "kbit_s");
	if (measured(b) && bench_num(b, "kbit_s") > 0) {
		band = (double)bench_num(b, "kbit_s") / (double)bench_num(a, "kbit_s") - 1.0;
		band = band < 0.0 ? -band : band;
		lab_fmt(end, sizeof(end), "%.2f× of native-end; noise band ±%.2f",
			(double)bench_num(d, "kbit_s") / (double)bench_num(b, "kbit_s"), band);
	}
	lab_fmt(buf, size, "%.2f× (%s): %s", r, end,
		r >= DIRECT_TARGET	    ? "met"
		: r + band >= DIRECT_TARGET ? "met within the noise band"
					    : "not met");
	return r + band >= DIRECT_TARGET;
}

/**
 * queues_of() - a run's per-queue packets, and how many queues carried it
 * @cfg:	configuration
 * @dir:	"in" or "out": queues_in with udp_in, or queues_out with udp_out
 * @v:		filled, BENCH_NIC_QUEUES entries
 * @n:		set to the queue count
 *
 * A queue carried the run from half a flow's packets (sent / flows / 2):
 * less is what other traffic (the control connection of guest -> host
 * runs) puts on a queue the run's flows missed.
 *
 * Return: the queues that carried it
 */
static unsigned queues_of(const cp_json *cfg, const char *dir, uint64_t *v, unsigned *n)
{
	char qk[16], uk[16];
	const cp_json *q, *u, *a;
	int64_t flows;
	uint64_t min = 1;

	lab_fmt(qk, sizeof(qk), "queues_%s", dir);
	lab_fmt(uk, sizeof(uk), "udp_%s", dir);
	q = cp_json_get_object(cfg, qk);
	u = cp_json_get_object(cfg, uk);
	a = cp_json_get_array(q, "packets");
	flows = bench_num(u, "flows");
	if (measured(u) && flows > 0 && bench_num(u, "sent") / flows / 2 > 1)
		min = (uint64_t)(bench_num(u, "sent") / flows / 2);
	for (*n = 0; *n < cp_json_len(a) && *n < BENCH_NIC_QUEUES; (*n)++) {
		int64_t x = 0;

		cp_json_as_int(cp_json_at(a, *n), &x);
		v[*n] = x > 0 ? (uint64_t)x : 0;
	}
	return lab_queues_carrying(v, *n, min);
}

/**
 * queues_verdict() - direct against issue 11's "multi-queue traffic seen on
 * every queue": its host->guest fixed-rate run on every queue it offers
 * @f:		output
 * @d:		direct's configuration
 *
 * Host -> guest only: the tap spreads flows over its queues by hash, but the
 * guest's TX queue is its sending CPU's (print_queues() says why). The
 * tests (rehome-nics) check TX by sending from every CPU.
 */
static void queues_verdict(FILE *f, const cp_json *d)
{
	const cp_json *q = cp_json_get_object(d, "queues_in");
	uint64_t v[BENCH_NIC_QUEUES] = { 0 };
	unsigned n = 0, used;

	if (!q)
		return;
	used = queues_of(d, "in", v, &n);
	fprintf(f,
		"- **Target (issue 11): multi-queue traffic seen on every queue: %s.** direct's "
		"UDP host→guest was carried by %u of the %u queues in use (%lld offered).\n",
		measured(q) && n >= 2 && used == n && bench_num(q, "max") == (int64_t)n ? "met"
											: "not met",
		used, n, (long long)bench_num(q, "max"));
}

/**
 * target() - the direct path against issue 11's target: TCP both ways at
 * least DIRECT_TARGET of native's within the noise band, and nothing lost
 * at the fixed rates
 * @f:		output
 * @configs:	the configurations (nothing is said without a direct one)
 */
static void target(FILE *f, const cp_json *configs)
{
	const cp_json *d = find_kind(configs, "direct", 0);
	char in[160], out[160], lost[1024];
	bool done = false, lossless, tcp_in, tcp_out;

	if (!d)
		return;
	cp_json_get_bool(d, "done", &done);
	tcp_in = tcp_verdict(configs, "tcp_in", in, sizeof(in));
	tcp_out = tcp_verdict(configs, "tcp_out", out, sizeof(out));
	lossless = done && !fixed_rate_losses(d, lost, sizeof(lost));
	if (!done)
		cp_strlcpy(lost, "no figures", sizeof(lost));
	else if (lossless)
		cp_strlcpy(lost, "nothing lost (pings, UDP both ways)", sizeof(lost));
	queues_verdict(f, d);
	fprintf(f,
		"- **Target (issue 11): direct's TCP both ways ≥ %.2f× native within the noise "
		"band, nothing lost at the fixed rates: %s.** TCP host→guest %s; TCP guest→host "
		"%s; fixed rates: %s: %s.\n",
		DIRECT_TARGET, tcp_in && tcp_out && lossless ? "met" : "not met", in, out, lost,
		lossless ? "met" : "not met");
}

/**
 * findings() - what the figures say about each configuration's fixed-rate
 * runs: coldplug paths must lose nothing (a loss is flagged as a bug to
 * look at), native must lose nothing (else the run is suspect)
 * @f:		output
 * @configs:	the configurations
 */
static void findings(FILE *f, const cp_json *configs)
{
	size_t i, flagged = 0;
	char text[1024];

	for (i = 0; i < cp_json_len(configs); i++) {
		const cp_json *c = cp_json_at(configs, i);
		const char *kind = str(c, "kind");
		bool coldplug = !strcmp(kind, "pci") || !strcmp(kind, "usb") ||
				!strcmp(kind, "direct");
		bool native = !strcmp(kind, "native");

		if (!fixed_rate_losses(c, text, sizeof(text)))
			continue;
		if (coldplug || native)
			flagged++;
		fprintf(f, "- %s%s%s: %s.%s\n", coldplug || native ? "**" : "", str(c, "label"),
			coldplug || native ? "**" : "", text,
			coldplug ? " **coldplug's paths must lose nothing below their capacity: "
				   "a bug to look at.**"
			: native
				? " **The reference itself lost or went unmeasured: this run's ratios are suspect.**"
				: "");
	}
	noise(f, configs);
	target(f, configs);
	if (!flagged)
		fprintf(f,
			"- Native and every coldplug path lost nothing at the fixed rates (pings, "
			"UDP both ways), and all their TCP runs completed.\n");
}

/**
 * print_table() - the table of one run and its footnotes
 * @f:		output
 * @configs:	the configurations, native among them
 */
static void print_table(FILE *f, const cp_json *configs)
{
	const cp_json *native = find_kind(configs, "native", 0);
	struct notes notes = { .n = 0 };
	size_t i;

	fprintf(f, "| configuration | guest driver | ping lost | TCP host→guest | TCP guest→host | "
		   "UDP host→guest, fixed rate | UDP guest→host, fixed rate | UDP host→guest, "
		   "max-rate burst | UDP guest→host, max-rate burst |\n");
	fprintf(f, "|---|---|---|---|---|---|---|---|---|\n");
	for (i = 0; i < cp_json_len(configs); i++)
		table_row(f, &notes, cp_json_at(configs, i), native);
	fprintf(f, "\n");
	for (i = 0; i < notes.n; i++)
		fprintf(f, "[%zu] n/m = not measured: %s\n\n", i + 1, notes.text[i]);
}

/**
 * cell_queues() - the queues that carried one fixed-rate run
 * @cfg:	configuration
 * @dir:	"in" or "out"
 * @buf:	"2/2 carried traffic (51 % / 49 %)", or why there is no figure
 * @size:	its size
 */
static void cell_queues(const cp_json *cfg, const char *dir, char *buf, size_t size)
{
	char key[16], split[128];
	const cp_json *q;
	uint64_t v[BENCH_NIC_QUEUES] = { 0 };
	unsigned n = 0, used;

	lab_fmt(key, sizeof(key), "queues_%s", dir);
	q = cp_json_get_object(cfg, key);
	if (!q || !measured(q)) {
		lab_fmt(buf, size, "n/m%s%s", q ? ": " : "", q ? str(q, "error") : "");
		return;
	}
	used = queues_of(cfg, dir, v, &n);
	if (!n) {
		cp_strlcpy(buf, "no per-queue counters", size);
		return;
	}
	lab_queues_split(v, n, split, sizeof(split));
	lab_fmt(buf, size, "%u/%u carried traffic (%s)", used, n, split);
}

/**
 * print_queues() - which queues carried the fixed-rate UDP runs, per
 * configuration that has queue figures
 * @f:		output
 * @doc:	the run's JSON
 */
static void print_queues(FILE *f, const cp_json *doc)
{
	const cp_json *configs = cp_json_get_array(doc, "configs");
	char in[CELL_MAX], out[CELL_MAX];
	bool any = false;
	size_t i;

	for (i = 0; i < cp_json_len(configs); i++)
		any |= cp_json_get_object(cp_json_at(configs, i), "queues_in") != NULL;
	if (!any) {
		fprintf(f, "Per-queue traffic: not measured (these figures predate bench-nic's "
			   "per-queue counters).\n\n");
		return;
	}
	fprintf(f, "Per-queue traffic in the guest, at the fixed rate: the NIC's per-queue packet "
		   "counters (virtio_net's `rx_queue_N_packets` / `tx_queue_N_packets`) read "
		   "before and after each run; a queue carried the run from half a flow's "
		   "packets. The tap spreads host→guest flows over its queues by hash; the "
		   "guest sends each packet on its sending CPU's TX queue (XPS), so guest→host "
		   "traffic from one process is on one queue: only host→guest shows whether every "
		   "queue works.\n\n");
	fprintf(f, "| configuration | queue pairs in use / offered | UDP host→guest: RX queues | "
		   "UDP guest→host: TX queues |\n|---|---|---|---|\n");
	for (i = 0; i < cp_json_len(configs); i++) {
		const cp_json *c = cp_json_at(configs, i);
		const cp_json *q = cp_json_get_object(c, "queues_in");
		char pairs[32] = "n/m";

		if (measured(q) && cp_json_len(cp_json_get_array(q, "packets")))
			lab_fmt(pairs, sizeof(pairs), "%lld / %lld",
				(long long)bench_num(q, "combined"),
				(long long)bench_num(q, "max"));
		else if (measured(q))
			cp_strlcpy(pairs, "-", sizeof(pairs));
		cell_queues(c, "in", in, sizeof(in));
		cell_queues(c, "out", out, sizeof(out));
		fprintf(f, "| %s | %s | %s | %s |\n", str(c, "label"), pairs, in, out);
	}
	fputc('\n', f);
}

/**
 * print_params() - the parameters bullet
 * @f:	output
 * @p:	the run's "params"
 */
static void print_params(FILE *f, const cp_json *p)
{
	const cp_json *ladder = cp_json_get_array(p, "ladder_rates");
	int64_t rounds = bench_num(p, "tcp_rounds");
	size_t i;

	fprintf(f,
		"- **Parameters:** %lld pings %lld ms apart; TCP each way: the best of %lld "
		"run(s) of %lld s, each a new connection (cptraffic); UDP payloads of %lld bytes "
		"in %lld flows (source ports); fixed rate: %lld packets at %lld/s each way; then "
		"%lld packets at each of",
		(long long)bench_num(p, "pings"), (long long)bench_num(p, "ping_interval_ms"),
		(long long)(rounds ? rounds : 1), (long long)bench_num(p, "tcp_seconds"),
		(long long)bench_num(p, "udp_payload"), (long long)bench_num(p, "udp_flows"),
		(long long)bench_num(p, "udp_count"), (long long)bench_num(p, "udp_rate"),
		(long long)bench_num(p, "burst_count"));
	for (i = 0; i < cp_json_len(ladder); i++) {
		int64_t v = 0;

		cp_json_as_int(cp_json_at(ladder, i), &v);
		fprintf(f, " %lld/s,", (long long)v);
	}
	fprintf(f,
		" and the max-rate burst (%lld/s host→guest, the lab sender's cap; unpaced "
		"guest→host); \"loss from\" names the first of these rates where more than "
		"%.0f %% was lost. %lld broadcast frames/s on the bridge from launch until the "
		"guest reports (as on a live Incus bridge; the seed method needs them to fail "
		"as it fails in the field).\n",
		(long long)bench_num(p, "burst_rate_in"), LOSS_START_PCT,
		(long long)bench_num(p, "noise_rate"));
}

/**
 * side_by_side() - the bullet that says which VMs ran side by side, if any
 * @f:		output
 * @configs:	the configurations
 */
static void side_by_side(FILE *f, const cp_json *configs)
{
	size_t i, n = 0;
	bool b;

	for (i = 0; i < cp_json_len(configs); i++) {
		const cp_json *c = cp_json_at(configs, i);

		if (!cp_json_get_bool(c, "side_by_side", &b) || !b)
			continue;
		fprintf(f, "%s%s", n++ ? ", " : "- **Side by side:** ", str(c, "key"));
	}
	if (!n)
		return;
	fprintf(f, " ran at once, and their TCP runs took turns: each round one run "
		   "host→guest on each VM, then one guest→host on each, the VM that goes first "
		   "moving on by one each round; a slow minute of this shared machine so falls on "
		   "all of them. Then each one's other measurements, one VM at a time, all still "
		   "running (their seconds above count each one's boot and its own measurements, "
		   "not the turns). The other configurations ran after them, one VM at a time.\n");
}

/**
 * print_facts() - machine, QEMU, date, guest, per-VM times, commands
 * @f:		output
 * @doc:	the run's JSON
 */
static void print_facts(FILE *f, const cp_json *doc)
{
	const cp_json *configs = cp_json_get_array(doc, "configs");
	const cp_json *m = cp_json_get_object(doc, "machine");
	const cp_json *p = cp_json_get_object(doc, "params");
	bool vhost = false;
	size_t i;

	fprintf(f,
		"- **Machine:** %s, %lld cores; %s; load average %s at the start, %s at the "
		"end.\n",
		str(m, "cpu"), (long long)bench_num(m, "cores"), str(m, "kernel"),
		str(m, "load_start"), str(m, "load_end"));
	/* Results from before the lab went single-threaded have no tcg_thread. */
	fprintf(f,
		"- **QEMU:** %s (`%s`), accel tcg, %s-threaded. **Date:** %s; the run took "
		"%lld s.\n",
		str(doc, "qemu_version"), str(doc, "qemu_binary"),
		cp_json_get_str(doc, "tcg_thread") ? str(doc, "tcg_thread") : "multi",
		str(doc, "started"), (long long)bench_num(doc, "seconds"));
	fprintf(f,
		"- **Guest:** %lld vCPUs (Incus gives each NIC a %lld-queue tap), %lld MiB, "
		"Linux %s (the lab's test guest).",
		(long long)bench_num(p, "vcpus"), (long long)bench_num(p, "tap_queues"),
		(long long)bench_num(p, "memory_mb"),
		str(cp_json_get_object(doc, "guest"), "kernel"));
	/* Results from before the direct path have no vhost_net. */
	if (cp_json_get_bool(p, "vhost_net", &vhost))
		fprintf(f, " vhost: %s.",
			vhost ? "on (/dev/vhost-net), for Incus's NICs and direct"
			      : "not measured, no /dev/vhost-net (Incus's NICs and direct run "
				"without it)");
	fputc('\n', f);
	print_params(f, p);
	fprintf(f, "- **One VM per configuration** (seconds, boot included):");
	for (i = 0; i < cp_json_len(configs); i++) {
		const cp_json *c = cp_json_at(configs, i);

		fprintf(f, "%s %s %lld s%s", i ? "," : "", str(c, "key"),
			(long long)bench_num(c, "seconds"),
			bench_num(c, "attempts") > 1 ? " (retried once)" : "");
	}
	fprintf(f, ".\n");
	side_by_side(f, configs);
	for (i = 0; i < cp_json_len(configs); i++) {
		const cp_json *c = cp_json_at(configs, i);

		if (str(c, "conf_cmd")[0])
			fprintf(f, "- `%s`: `%s`%s, then at pre-start `%s`\n", str(c, "key"),
				str(c, "conf_cmd"),
				strcmp(str(c, "kind"), "direct")
					? ""
					: " at Incus's config stage (TAP: the tap Incus created at "
					  "launch)",
				str(c, "rehome_cmd"));
		if (str(c, "retry_note")[0])
			fprintf(f, "- %s was retried once: %s\n", str(c, "key"),
				str(c, "retry_note"));
	}
}

/**
 * bench_nic_print() - one run as a markdown section
 * @f:		output
 * @doc:	the run's JSON
 */
void bench_nic_print(FILE *f, const cp_json *doc)
{
	const cp_json *configs = cp_json_get_array(doc, "configs");
	bool quick = false;

	cp_json_get_bool(cp_json_get_object(doc, "params"), "quick", &quick);
	fprintf(f, "## QEMU %s (%s, TCG)%s\n\n", str(doc, "qemu"), str(doc, "qemu_version"),
		quick ? " — quick run, not for comparison" : "");
	print_table(f, configs);
	print_queues(f, doc);
	print_facts(f, doc);
	fprintf(f, "\n**Findings (computed from the figures):**\n\n");
	findings(f, configs);
	fprintf(f, "\n");
}

/**
 * write_header() - the top of RESULTS.md
 * @f:		output
 * @inputs:	the JSON files
 * @n:		their count
 */
static void write_header(FILE *f, char *const *inputs, size_t n)
{
	size_t i;

	fprintf(f, "# NIC benchmark: coldplug's NIC paths against Incus's own NIC\n\n");
	fprintf(f, "Generated by `bench-nic --markdown` (`make bench`) from");
	for (i = 0; i < n; i++)
		fprintf(f, "%s `%s`", i ? "," : "", inputs[i]);
	fprintf(f, ". Do not edit: run `make bench` again. How to run it and read it: "
		   "[README.md](README.md).\n\n");
	fprintf(f, "> **TCG on a shared machine.** These VMs run under QEMU's TCG (no KVM), on a "
		   "machine other jobs use at the same time. Absolute figures say nothing about "
		   "speed on KVM, and figures from different runs cannot be compared: only the "
		   "ratios to native taken in the same run mean anything.\n\n");
	fprintf(f, "Each cell is the figure and, in parentheses, its ratio to **native** (Incus's "
		   "untouched virtio-net NIC) in the same run. Loss cells give the share of "
		   "packets lost, and the ratio of the share that arrived to native's (1.00× = as "
		   "good as native, 0.00× = nothing arrived). Fixed rate: loss below capacity, "
		   "which must be zero; max-rate burst: how much of an overload gets through "
		   "(where loss starts). n/m = not measured, with the reason below the table.\n\n");
	fprintf(f, "Configurations (one VM each, one NIC, Incus's start sequence replayed by the "
		   "lab's emulator): **native** = Incus's virtio-net NIC left alone (the upper "
		   "bound); **coldplug direct** = `coldplug qemu-conf --nic-tap` at Incus's config "
		   "stage, then `coldplug rehome --nic-frontend pci`: a multi-queue virtio-net-pci "
		   "slot whose tap netdev opened Incus's own tap when QEMU started, Incus's NIC "
		   "and netdev removed at pre-start (no hub, the vnet header and offloads kept); "
		   "**coldplug pci: MODEL** = `coldplug rehome --nic-frontend pci`: a PCI NIC "
		   "slot of that model behind a net hub, on one fresh queue of Incus's tap (for "
		   "virtio-net-pci, the hub path direct replaces); "
		   "**coldplug usb** = `--nic-frontend usb`: usb-net on the xHCI, on one fresh "
		   "queue; **Incus io.bus=usb** = Incus's own usb-net NIC on its multi-queue tap; "
		   "**seed method** = the original write-up's scriptlet (a second tap netdev on "
		   "Incus's fd numbers, usb-net on it).\n\n");
}

/**
 * bench_nic_markdown() - RESULTS.md from the JSON files of runs
 * @out:	the markdown file (written via a temporary file)
 * @inputs:	JSON files, one per QEMU version
 * @n:		their count
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
int bench_nic_markdown(const char *out, char *const *inputs, size_t n, struct cp_error *err)
{
	return bench_markdown(out, inputs, n, "configs", "bench-nic", write_header, bench_nic_print,
			      err);
}

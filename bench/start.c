/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-start: what coldplug adds to a VM's start (issue 11 item 5).
 *
 *   bench-start --qemu 7.2|10.0 [--out FILE] [--repeat N] [--quick]
 *   bench-start --markdown RESULTS-start.md FILE.json...
 *
 * For every layout of 1, 4 and 8 disks (the root disk and data disks,
 * Incus's scsi-hd on virtio-scsi, 8 MiB images) and 1 and 3 bridged virtio
 * NICs (Incus's multi-queue taps), R pairs of starts (default 3), each pair
 * back to back on a test network of its own: one VM with Incus's layout
 * alone, one with coldplug (qemu-conf at the config stage, rehome at
 * pre-start: start_vm.c). The order inside a pair alternates, so neither
 * side always runs on a warmer machine; one unrecorded start first warms
 * the page cache. No guest boots: a start is launch -> pre-start -> `cont`,
 * as the emulator replays Incus's. The raw times go to the JSON file; the
 * medians, ratios and where coldplug's time goes are computed from it
 * (start_report.c), for stdout and for RESULTS-start.md.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "netns.h"
#include "proc.h"
#include "run.h"
#include "start.h"
#include "util.h"

#define DISK_SIZE      (8 << 20)
#define DEFAULT_REPEAT 3

static const unsigned disk_counts[] = { 1, 4, 8 };
static const unsigned nic_counts[] = { 1, 3 };

#define NLAYOUTS (CP_ARRAY_SIZE(disk_counts) * CP_ARRAY_SIZE(nic_counts))

/**
 * struct options - the command line
 * @p:		what to measure
 * @out:	JSON file to write, or NULL
 * @markdown:	--markdown: the RESULTS-start.md to write from the JSON files
 */
struct options {
	struct bench_start_params p;
	const char *out;
	const char *markdown;
};

/**
 * run_side() - one start of a pair, logged on stderr
 * @p:		parameters
 * @res:	the layout (its QEMU version noted)
 * @coldplug:	with coldplug
 * @net:	the pair's test network
 * @r:		filled
 */
static void run_side(const struct bench_start_params *p, struct bench_start_result *res,
		     bool coldplug, struct lab_net *net, struct bench_start_vm *r)
{
	bench_start_vm_run(p, res->disks, res->nics, coldplug, net, r, res->qemu_version,
			   sizeof(res->qemu_version));
	if (!r->ok) {
		fprintf(stderr, "bench-start: %u disks, %u NICs, %s: failed: %s\n", res->disks,
			res->nics, coldplug ? "with coldplug" : "without", r->error);
		return;
	}
	fprintf(stderr, "bench-start: %u disks, %u NICs, %s: start %.1f ms", res->disks, res->nics,
		coldplug ? "with coldplug" : "without", (double)r->start_us / 1000);
	if (coldplug)
		fprintf(stderr, " (qemu-conf %.1f ms, rehome %.1f ms: pipeline %lld ms)",
			(double)r->conf_us / 1000, (double)r->rehome_us / 1000,
			(long long)r->rehome_ms);
	fputc('\n', stderr);
}

/**
 * run_pair() - the two starts of repetition @k, back to back, on a test
 * network made for them (its namespaces are not part of any start, as an
 * Incus host's bridge already exists)
 * @p:		parameters
 * @res:	the layout; pair @k filled
 * @k:		repetition (odd ones start with coldplug)
 */
static void run_pair(const struct bench_start_params *p, struct bench_start_result *res, size_t k)
{
	struct bench_start_pair *pair = &res->pairs[k];
	struct cp_error err = { 0 };
	struct lab_net *net = lab_net_new(&err);

	pair->coldplug_first = k % 2 == 1;
	if (!net) {
		lab_fmt(pair->plain.error, sizeof(pair->plain.error), "test network: %s", err.msg);
		lab_fmt(pair->with.error, sizeof(pair->with.error), "test network: %s", err.msg);
		pair->with.coldplug = true;
		return;
	}
	if (pair->coldplug_first)
		run_side(p, res, true, net, &pair->with);
	run_side(p, res, false, net, &pair->plain);
	if (!pair->coldplug_first)
		run_side(p, res, true, net, &pair->with);
	lab_net_free(net);
}

/**
 * warm_up() - one unrecorded start of the largest layout, with coldplug
 * @p:		parameters
 * @r:		its outcome (reported, not measured)
 */
static void warm_up(const struct bench_start_params *p, struct bench_start_vm *r)
{
	struct cp_error err = { 0 };
	struct lab_net *net = lab_net_new(&err);
	char version[64];

	if (!net) {
		lab_fmt(r->error, sizeof(r->error), "test network: %s", err.msg);
		return;
	}
	bench_start_vm_run(p, disk_counts[CP_ARRAY_SIZE(disk_counts) - 1],
			   nic_counts[CP_ARRAY_SIZE(nic_counts) - 1], true, net, r, version,
			   sizeof(version));
	lab_net_free(net);
	fprintf(stderr, "bench-start: warm-up start %s%s\n",
		r->ok ? "done" : "failed: ", r->ok ? "" : r->error);
}

/**
 * params_init() - the standard run, or the --quick one
 * @p:		filled
 * @qemu:	"7.2" or "10.0"
 * @quick:	one pair per layout
 * @repeat:	pairs per layout, or 0 for the default
 */
static void params_init(struct bench_start_params *p, const char *qemu, bool quick, unsigned repeat)
{
	*p = (struct bench_start_params){
		.qemu = qemu,
		.vcpus = 2,
		.vhost = access("/dev/vhost-net", R_OK | W_OK) == 0,
		.memory_mb = 512,
		.disk_size = DISK_SIZE,
		.repeat = repeat,
		.quick = quick,
	};
	if (!p->repeat)
		p->repeat = quick ? 1 : DEFAULT_REPEAT;
	p->queues = p->vcpus > 2 ? p->vcpus : 2; /* as Incus */
}

static const char usage[] =
	"usage: bench-start --qemu 7.2|10.0 [--out FILE] [--repeat N] [--quick]\n"
	"       bench-start --markdown RESULTS-start.md FILE.json...\n"
	"  Times VM starts by the lab's Incus emulator, 1/4/8 disks x 1/3 NICs, each\n"
	"  without and with coldplug (qemu-conf at the config stage, rehome at\n"
	"  pre-start), in pairs back to back; reports medians, ratios and rehome's\n"
	"  time per stage.\n"
	"  --out FILE     write the raw times as JSON (RESULTS-start.md is made from such\n"
	"                 files)\n"
	"  --repeat N     pairs per layout (default 3, at most 15)\n"
	"  --quick        one pair per layout (for trying it out; not for RESULTS-start.md)\n"
	"  --markdown F   write F from the JSON files of earlier runs, and exit\n"
	"Needs root and $COLDPLUG_LAB_ENV (tests/qemu/prepare.sh BUILD_DIR).\n";

/**
 * parse_options() - the command line
 * @argc:	count
 * @argv:	words
 * @o:		filled
 *
 * Return: 0, or -1 (usage printed)
 */
static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option opts[] = {
		{ "qemu", required_argument, NULL, 'q' },
		{ "out", required_argument, NULL, 'o' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "quick", no_argument, NULL, 'k' },
		{ "markdown", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *qemu = NULL;
	unsigned long repeat = 0;
	bool quick = false, bad = false;
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'q')
			qemu = optarg;
		else if (c == 'o')
			o->out = optarg;
		else if (c == 'r')
			bad |= (repeat = lab_num(optarg)) < 1 || repeat > BENCH_START_REPEAT_MAX;
		else if (c == 'k')
			quick = true;
		else if (c == 'm')
			o->markdown = optarg;
		else if (c == 'h') {
			fputs(usage, stdout);
			exit(0);
		} else
			bad = true;
	}
	if (bad || (o->markdown ? optind >= argc : (!qemu || optind != argc))) {
		fputs(usage, stderr);
		return -1;
	}
	params_init(&o->p, qemu, quick, (unsigned)repeat);
	return 0;
}

/**
 * write_json() - the run's figures to @path (via a temporary file)
 * @doc:	the document
 * @path:	file
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int write_json(const cp_json *doc, const char *path, struct cp_error *err)
{
	cleanup_free char *text = cp_json_dump(doc, CP_JSON_PRETTY);
	cleanup_free char *line = NULL, *tmp = NULL;

	if (!text)
		return cp_error_set(err, CP_ERR_NOMEM, "dumping the JSON");
	if (!(line = cp_asprintf(err, "%s\n", text)) || !(tmp = cp_asprintf(err, "%s.tmp", path)) ||
	    lab_write_file(tmp, line, err) < 0)
		return -1;
	if (rename(tmp, path) < 0)
		return cp_error_set_errno(err, errno, "rename %s", tmp);
	return 0;
}

/**
 * all_failed() - whether no start of the run succeeded
 * @res:	layouts
 * @n:		their count
 *
 * Return: true if not one pair has both starts
 */
static bool all_failed(const struct bench_start_result *res, size_t n)
{
	size_t i, k;

	for (i = 0; i < n; i++)
		for (k = 0; k < res[i].npairs; k++)
			if (res[i].pairs[k].plain.ok && res[i].pairs[k].with.ok)
				return false;
	return true;
}

/**
 * run_all() - every layout on one QEMU
 * @o:		options
 *
 * Return: exit status
 */
static int run_all(const struct options *o)
{
	cleanup_free struct bench_start_result *res = calloc(NLAYOUTS, sizeof(*res));
	cleanup_free char *qemu = lab_qemu_path(o->p.qemu);
	cleanup_json cp_json *doc = NULL;
	struct bench_start_run run = { 0 };
	struct cp_error err = { 0 };
	int64_t t0 = cp_now_ms();
	size_t i, k;

	if (!qemu || !res) {
		fprintf(stderr, "bench-start: %s\n",
			res ? "QEMU is not configured: run tests/qemu/prepare.sh BUILD_DIR and set "
			      "COLDPLUG_LAB_ENV"
			    : "out of memory");
		return 1;
	}
	bench_start_run_begin(&run);
	run.qemu_binary = qemu;
	warm_up(&o->p, &run.warmup);
	for (i = 0; i < NLAYOUTS; i++) {
		res[i].disks = disk_counts[i / CP_ARRAY_SIZE(nic_counts)];
		res[i].nics = nic_counts[i % CP_ARRAY_SIZE(nic_counts)];
		bench_start_commands(&o->p, &res[i]);
		for (k = 0; k < o->p.repeat; k++, res[i].npairs++)
			run_pair(&o->p, &res[i], k);
	}
	run.seconds = (cp_now_ms() - t0) / 1000;
	doc = bench_start_to_json(&o->p, res, NLAYOUTS, &run);
	bench_start_print(stdout, doc);
	if (o->out && write_json(doc, o->out, &err) < 0) {
		fprintf(stderr, "bench-start: %s\n", err.msg);
		return 1;
	}
	return all_failed(res, NLAYOUTS) ? 1 : 0;
}

/**
 * main() - run one QEMU's layouts, or write RESULTS-start.md
 * @argc:	argument count
 * @argv:	see usage
 *
 * Return: 0 if at least one pair was measured, else 1; 2 for a bad command
 * line
 */
int main(int argc, char **argv)
{
	struct cp_error err = { 0 };
	struct options o;

	if (parse_options(argc, argv, &o) < 0)
		return 2;
	if (o.markdown) {
		if (bench_start_markdown(o.markdown, argv + optind, (size_t)(argc - optind),
					 &err) == 0)
			return 0;
		fprintf(stderr, "bench-start: %s\n", err.msg);
		return 1;
	}
	return run_all(&o);
}

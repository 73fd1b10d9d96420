/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-disk: a disk coldplug re-homed against Incus's own frontends on the
 * same image (issue 11 item 6).
 *
 *   bench-disk --qemu 7.2|10.0 [--out FILE] [--quick]
 *   bench-disk --markdown RESULTS-disk.md FILE.json...
 *
 * One VM per frontend, started by the lab's Incus emulator exactly as Incus
 * starts it (tests/qemu/lab/incus.h), 2 vCPUs, a root disk and the bench
 * disk, whose image is one file made and filled once per run (Incus opens
 * it: add-fd, blockdev-add with cache.direct where the file system takes
 * O_DIRECT, and locking off, so the three VMs can hold it at once). The
 * three VMs run side by side, and the passes take turns across them, a
 * few seconds apart, so load from other jobs on this shared machine falls
 * on all of them alike instead of on whichever VM ran during a busy minute.
 * The configurations, in the order each pass runs on them:
 *   scsi            Incus's default: scsi-hd on Incus's virtio-scsi
 *   virtio-blk      Incus's io.bus=virtio-blk
 *   rehomed         the scsi disk, then at pre-start `coldplug rehome`:
 *                   coldplug's cold virtio-blk slot (`coldplug qemu-conf`)
 *                   holds Incus's block node, Incus's scsi-hd deleted
 *   virtio-blk-end  virtio-blk's VM again
 *   scsi-end        scsi's VM again, last
 * "Native" is the better of scsi and virtio-blk in each pass; the -end
 * measurements repeat each native frontend right after the re-homed disk,
 * and how far they land from the first is the run's noise band. The passes
 * are in disk_measure.c, the JSON and RESULTS-disk.md in disk_report.c. A
 * VM whose guest never reports (a known TCG abort, qemu-notes §9) is
 * started once more, and the result says so.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "disk.h"
#include "guest.h"
#include "incus.h"
#include "proc.h"
#include "report.h"
#include "run.h"
#include "util.h"
#include "vm.h"

#ifndef COLDPLUG_BINARY /* meson passes the built program's path */
#define COLDPLUG_BINARY "build/src/coldplug"
#endif

#define DISK_NAME      "bench"
#define ROOT_SIZE      (16 << 20)
#define IMAGE_DIR      "/dev/shm"
#define IMAGE_SIZE     (1ULL << 30)
#define FILL_CHUNK     (1 << 20)
#define CMD_TIMEOUT_MS 60000
#define ARGV_MAX       16

static const struct bench_disk_config configs[] = {
	{ "scsi", "Incus virtio-scsi (scsi-hd), untouched", BENCH_DISK_NATIVE, LAB_DISK_SCSI,
	  NULL },
	{ "virtio-blk", "Incus virtio-blk, untouched", BENCH_DISK_NATIVE, LAB_DISK_VIRTIO_BLK,
	  NULL },
	{ "rehomed", "coldplug: Incus's scsi disk re-homed onto a virtio-blk slot",
	  BENCH_DISK_REHOMED, LAB_DISK_SCSI, NULL },
	{ "virtio-blk-end", "Incus virtio-blk again (the run's noise)", BENCH_DISK_NATIVE,
	  LAB_DISK_VIRTIO_BLK, "virtio-blk" },
	{ "scsi-end", "Incus virtio-scsi again, last (the run's noise)", BENCH_DISK_NATIVE,
	  LAB_DISK_SCSI, "scsi" },
};

#define NCONFIGS CP_ARRAY_SIZE(configs)

/**
 * struct options - the command line
 * @p:		what to measure
 * @out:	JSON file to write, or NULL
 * @markdown:	--markdown: the RESULTS-disk.md to write from the JSON files
 */
struct options {
	struct bench_disk_params p;
	const char *out;
	const char *markdown;
};

/**
 * conf_argv() - the `coldplug qemu-conf` words: one disk slot per disk
 * (the root disk and the bench disk), no NIC or CD slots
 * @argv:	filled (NULL-terminated)
 */
static void conf_argv(const char *argv[ARGV_MAX])
{
	size_t n = 0;

	argv[n++] = COLDPLUG_BINARY;
	argv[n++] = "qemu-conf";
	argv[n++] = "--quiet";
	argv[n++] = "--disk-slots";
	argv[n++] = "2";
	argv[n] = NULL;
}

/**
 * rehome_argv() - the `coldplug rehome` words: the default selection, every
 * device of Incus's (both disks), as a coldplug user's Incus start does
 * @qmp:	the second monitor's socket
 * @argv:	filled (NULL-terminated)
 */
static void rehome_argv(const char *qmp, const char *argv[ARGV_MAX])
{
	size_t n = 0;

	argv[n++] = COLDPLUG_BINARY;
	argv[n++] = "rehome";
	argv[n++] = "--quiet";
	argv[n++] = "--qmp";
	argv[n++] = qmp;
	argv[n] = NULL;
}

/**
 * argv_text() - a command line as a shell would take it (the program as
 * "coldplug")
 * @argv:	words
 * @buf:	output
 * @size:	its size
 */
static void argv_text(const char *const *argv, char *buf, size_t size)
{
	size_t off = 0, i;

	buf[0] = '\0';
	for (i = 0; argv[i] && off < size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%s%s", i ? " " : "",
					i == 0 ? "coldplug" : argv[i]);
}

/**
 * pre_start() - the emulator's pre-start hook (rehomed): `coldplug rehome`
 * @vm:		paused VM, both disks hot-plugged
 * @arg:	unused
 * @err:	filled on failure (the start then fails, as in Incus)
 *
 * Return: 0, or -1
 */
static int pre_start(struct lab_incus *vm, void *arg, struct cp_error *err)
{
	struct lab_run_opts ro = { .timeout_ms = CMD_TIMEOUT_MS, .log_dir = lab_incus_dir(vm) };
	cleanup_free char *out = NULL;
	const char *argv[ARGV_MAX];
	int rc;

	(void)arg;
	rehome_argv(lab_incus_coldplug_qmp(vm), argv);
	rc = lab_run(argv, &ro, &out, err);
	if (rc == 0)
		return 0;
	if (rc > 0)
		cp_error_set(err, CP_ERR_FAILED, "coldplug rehome exited %d: %s", rc,
			     out ? out : "");
	return -1;
}

/**
 * write_conf() - `coldplug qemu-conf` into @path (rehomed), and the
 * command lines into @r
 * @dir:	directory for the command's log
 * @path:	the -readconfig file
 * @r:		@r->conf_cmd, @r->rehome_cmd filled
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int write_conf(const char *dir, const char *path, struct bench_disk_result *r,
		      struct cp_error *err)
{
	struct lab_run_opts ro = { .timeout_ms = CMD_TIMEOUT_MS, .log_dir = dir };
	cleanup_free char *text = NULL;
	const char *argv[ARGV_MAX];
	int rc;

	rehome_argv("SOCKET", argv);
	argv_text(argv, r->rehome_cmd, sizeof(r->rehome_cmd));
	conf_argv(argv);
	argv_text(argv, r->conf_cmd, sizeof(r->conf_cmd));
	rc = lab_run(argv, &ro, &text, err);
	if (rc != 0)
		return rc < 0 ? -1
			      : cp_error_set(err, CP_ERR_FAILED, "coldplug qemu-conf exited %d: %s",
					     rc, text ? text : "");
	return lab_write_file(path, text ? text : "", err);
}

/**
 * new_vm() - the VM of @cfg, not started
 * @cfg:	configuration
 * @p:		parameters
 * @image:	the bench disk's image (shared by every VM of the run)
 * @conf:	coldplug's -readconfig file, or NULL
 * @err:	filled on failure
 *
 * Return: new emulator, or NULL
 */
static struct lab_incus *new_vm(const struct bench_disk_config *cfg,
				const struct bench_disk_params *p, const char *image,
				const char *conf, struct cp_error *err)
{
	struct lab_disk_spec root = { .name = "root", .root = true, .size = ROOT_SIZE };
	struct lab_disk_spec disk = { .name = DISK_NAME, .bus = cfg->bus, .image = image };
	struct lab_incus_opts o;
	struct lab_incus *vm;

	lab_incus_opts_init(&o);
	o.qemu = p->qemu;
	o.vcpus = p->vcpus;
	o.memory_mb = p->memory_mb;
	o.boot_guest = true;
	o.extra_conf[0] = conf;
	if (cfg->kind == BENCH_DISK_REHOMED)
		o.pre_start = pre_start;
	vm = lab_incus_new(&o, err);
	if (vm &&
	    (lab_incus_add_disk(vm, &root, err) < 0 || lab_incus_add_disk(vm, &disk, err) < 0)) {
		lab_incus_free(vm);
		vm = NULL;
	}
	return vm;
}

/**
 * host_direct() - whether QEMU opened the bench disk's node with O_DIRECT
 * @vm:		the running VM
 *
 * The node keeps Incus's node-name on whichever frontend holds it.
 *
 * Return: its cache.direct, false if it cannot be read
 */
static bool host_direct(struct lab_incus *vm)
{
	struct cp_error err = { 0 };
	cleanup_json cp_json *nodes = lab_incus_call(vm, "query-named-block-nodes", NULL, NULL, 0,
						     &err);
	char node[96];
	bool direct = false;
	size_t i;

	lab_incus_node_name(DISK_NAME, node, sizeof(node));
	for (i = 0; nodes && i < cp_json_len(nodes); i++) {
		const cp_json *n = cp_json_at(nodes, i);

		if (cp_streq(cp_json_get_str(n, "node-name"), node))
			cp_json_get_bool(cp_json_get_object(n, "cache"), "direct", &direct);
	}
	return direct;
}

/**
 * guest_disk() - the bench disk in the guest's report (the only disk of
 * its size)
 * @rep:	the report
 * @p:		parameters (the image's size)
 * @r:		dev, driver, path and guest kernel filled
 * @err:	filled if the guest has no such disk
 *
 * Return: 0, or -1
 */
static int guest_disk(const struct lab_guest_report *rep, const struct bench_disk_params *p,
		      struct bench_disk_result *r, struct cp_error *err)
{
	const struct lab_guest_record *g = lab_report_at(rep, "guest", 0);
	const struct lab_guest_record *d;
	char size[32];

	cp_strlcpy(r->guest_kernel,
		   g && lab_record_get(g, "kernel") ? lab_record_get(g, "kernel") : "-",
		   sizeof(r->guest_kernel));
	lab_fmt(size, sizeof(size), "%llu", (unsigned long long)p->image_size);
	d = lab_report_find(rep, "blk", "size", size);
	if (!d || !lab_record_get(d, "name"))
		return cp_error_set(err, CP_ERR_FAILED, "the guest has no disk of %s bytes:\n%s",
				    size, rep->text);
	cp_strlcpy(r->dev, lab_record_get(d, "name"), sizeof(r->dev));
	cp_strlcpy(r->driver, lab_record_get(d, "driver") ? lab_record_get(d, "driver") : "-",
		   sizeof(r->driver));
	cp_strlcpy(r->path, lab_record_get(d, "path") ? lab_record_get(d, "path") : "-",
		   sizeof(r->path));
	return 0;
}

/**
 * start_vm() - one VM: start it and wait for its guest's report
 * @cfg:	configuration
 * @p:		parameters
 * @image:	the bench disk's image
 * @s:		filled with the running VM (stopped on failure)
 * @r:		facts filled (or @r->error)
 * @why:	set to why the guest never reported (for the retry note)
 * @size:	its size
 *
 * Return: 0, BENCH_VM_NO_REPORT if the guest never reported (retried once by the
 * caller), -1 otherwise
 */
static int start_vm(const struct bench_disk_config *cfg, const struct bench_disk_params *p,
		    const char *image, struct bench_vm *s, struct bench_disk_result *r, char *why,
		    size_t size)
{
	struct cp_error err = { 0 };
	char conf[4096] = "";

	s->dir = lab_scratch_dir("bench-disk", &err);
	if (s->dir && cfg->kind == BENCH_DISK_REHOMED)
		lab_fmt(conf, sizeof(conf), "%s/coldplug.conf", s->dir);
	if (!s->dir || (conf[0] && write_conf(s->dir, conf, r, &err) < 0) ||
	    !(s->vm = new_vm(cfg, p, image, conf[0] ? conf : NULL, &err)) ||
	    lab_incus_start(s->vm, &err) < 0)
		goto fail;
	cp_strlcpy(r->qemu_version, lab_incus_qemu_version(s->vm), sizeof(r->qemu_version));
	r->host_direct = host_direct(s->vm);
	if (bench_vm_report(s, why, size) < 0)
		return BENCH_VM_NO_REPORT;
	if (guest_disk(s->rep, p, r, &err) == 0)
		return 0;
fail:
	lab_fmt(r->error, sizeof(r->error), "%s", err.msg);
	bench_vm_stop(s);
	return -1;
}

/**
 * start_config() - one configuration's VM, retried once if the guest never
 * reports; it keeps running for the passes
 * @cfg:	configuration
 * @p:		parameters
 * @image:	the bench disk's image
 * @s:		filled with the running VM, or empty
 * @r:		facts filled
 */
static void start_config(const struct bench_disk_config *cfg, const struct bench_disk_params *p,
			 const char *image, struct bench_vm *s, struct bench_disk_result *r)
{
	int64_t t0 = cp_now_ms();
	char why[BENCH_DISK_ERR_MAX] = "";
	int rc;

	fprintf(stderr, "bench-disk: QEMU %s: starting %s\n", p->qemu, cfg->label);
	r->attempts = 1;
	rc = start_vm(cfg, p, image, s, r, why, sizeof(why));
	if (rc == BENCH_VM_NO_REPORT) {
		fprintf(stderr, "bench-disk: %s; retrying once\n", why);
		r->attempts = 2;
		lab_fmt(r->retry_note, sizeof(r->retry_note), "first VM: %s", why);
		rc = start_vm(cfg, p, image, s, r, why, sizeof(why));
		if (rc == BENCH_VM_NO_REPORT)
			lab_fmt(r->error, sizeof(r->error), "twice: %s", why);
	}
	r->seconds = (cp_now_ms() - t0) / 1000;
	if (r->error[0])
		fprintf(stderr, "bench-disk: %s: no figures: %s\n", cfg->key, r->error);
	else
		fprintf(stderr, "bench-disk: %s: up in %lld s, the disk is %s (%s)\n", cfg->key,
			(long long)r->seconds, r->dev, r->driver);
}

/**
 * vm_of() - which VM a configuration is measured on: its own, or for a
 * repeat (@cfg->first) its first measurement's
 * @cfg:	configuration
 *
 * Return: index into configs
 */
static size_t vm_of(const struct bench_disk_config *cfg)
{
	size_t i;

	for (i = 0; cfg->first && i < NCONFIGS; i++)
		if (!strcmp(configs[i].key, cfg->first))
			return i;
	return (size_t)(cfg - configs);
}

/**
 * measure_all() - every round of every pass, each pass measured on every
 * configuration in configs order before the next pass
 * @p:		parameters
 * @slots:	the running VMs, by configuration index (repeats unused)
 * @res:	results, in configs order (a repeat takes its VM's facts)
 */
static void measure_all(const struct bench_disk_params *p, struct bench_vm *slots,
			struct bench_disk_result *res)
{
	size_t c, i, k;

	for (c = 0; c < NCONFIGS; c++) {
		struct bench_disk_result *first = &res[vm_of(&configs[c])];

		if (first != &res[c]) {
			memcpy(res[c].qemu_version, first->qemu_version,
			       sizeof(first->qemu_version));
			memcpy(res[c].guest_kernel, first->guest_kernel,
			       sizeof(first->guest_kernel));
			memcpy(res[c].dev, first->dev, sizeof(first->dev));
			memcpy(res[c].driver, first->driver, sizeof(first->driver));
			memcpy(res[c].path, first->path, sizeof(first->path));
			memcpy(res[c].error, first->error, sizeof(first->error));
			res[c].host_direct = first->host_direct;
		}
		res[c].done = slots[vm_of(&configs[c])].g != NULL;
		bench_disk_pass_init(p, &res[c]);
	}
	for (k = 0; k < p->rounds && k < BENCH_DISK_ROUNDS; k++)
		for (i = 0; i < BENCH_DISK_PASSES; i++)
			for (c = 0; c < NCONFIGS; c++)
				if (res[c].done)
					bench_disk_round(slots[vm_of(&configs[c])].g, &res[c], i);
	for (c = 0; c < NCONFIGS; c++)
		bench_disk_pass_done(&res[c]);
}

/**
 * make_image() - the bench disk's image, every byte written (a hole would
 * read without touching the host's disk)
 * @path:	the file to create
 * @size:	its size, a multiple of FILL_CHUNK
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int make_image(const char *path, uint64_t size, struct cp_error *err)
{
	cleanup_close int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	cleanup_free char *buf = malloc(FILL_CHUNK);
	uint64_t off;

	if (fd < 0)
		return cp_error_set_errno(err, errno, "create %s", path);
	if (!buf)
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory");
	memset(buf, 0x5a, FILL_CHUNK);
	for (off = 0; off < size; off += FILL_CHUNK)
		if (write(fd, buf, FILL_CHUNK) != FILL_CHUNK)
			return cp_error_set_errno(err, errno, "write %s", path);
	if (fsync(fd) < 0)
		return cp_error_set_errno(err, errno, "fsync %s", path);
	return 0;
}

/**
 * params_init() - the standard run, or the --quick one
 * @p:		filled
 * @qemu:	"7.2" or "10.0"
 * @quick:	shorter passes, one round
 */
static void params_init(struct bench_disk_params *p, const char *qemu, bool quick)
{
	*p = (struct bench_disk_params){
		.qemu = qemu,
		.vcpus = 2,
		.memory_mb = 512,
		.image_dir = IMAGE_DIR,
		.image_size = IMAGE_SIZE,
		.large_bs = 1 << 20,
		.small_bs = 4 << 10,
		.large_bytes = quick ? 128 << 20 : IMAGE_SIZE,
		.small_bytes = quick ? 4 << 20 : 12 << 20,
		.rounds = quick ? 1 : BENCH_DISK_ROUNDS,
		.quick = quick,
	};
}

static const char usage[] =
	"usage: bench-disk --qemu 7.2|10.0 [--out FILE] [--quick]\n"
	"       bench-disk --markdown RESULTS-disk.md FILE.json...\n"
	"  O_DIRECT sequential reads and writes, 1 MiB and 4 KiB blocks, in the lab's\n"
	"  guest, on a disk coldplug re-homed onto a virtio-blk slot and on Incus's own\n"
	"  virtio-scsi and virtio-blk frontends, one VM each, all on the same image;\n"
	"  ratios to the best native frontend, with the noise band (each native\n"
	"  frontend measured again last).\n"
	"  --out FILE     write the figures as JSON (RESULTS-disk.md is made from such\n"
	"                 files)\n"
	"  --quick        shorter passes, one round (for trying it out; not for\n"
	"                 RESULTS-disk.md)\n"
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
		{ "quick", no_argument, NULL, 'k' },
		{ "markdown", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *qemu = NULL;
	bool quick = false, bad = false;
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'q')
			qemu = optarg;
		else if (c == 'o')
			o->out = optarg;
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
	params_init(&o->p, qemu, quick);
	return 0;
}

/**
 * run_configs() - every configuration, on a fresh image: the VMs started
 * one after another and left running, then the passes taking turns
 * across them (measure_all()), then the VMs stopped
 * @p:		parameters
 * @res:	filled, in configs order
 * @err:	filled if the image cannot be made
 *
 * Return: 0, or -1
 */
static int run_configs(const struct bench_disk_params *p, struct bench_disk_result *res,
		       struct cp_error *err)
{
	struct bench_vm slots[NCONFIGS];
	char dir[256], image[300];
	size_t i;
	int rc = -1;

	memset(slots, 0, sizeof(slots));
	memset(res, 0, NCONFIGS * sizeof(*res));
	for (i = 0; i < NCONFIGS; i++)
		res[i].cfg = &configs[i];
	lab_fmt(dir, sizeof(dir), "%s/cplab-bench-disk.XXXXXX", p->image_dir);
	if (!mkdtemp(dir))
		return cp_error_set_errno(err, errno, "mkdtemp %s", dir);
	lab_fmt(image, sizeof(image), "%s/bench.img", dir);
	if (make_image(image, p->image_size, err) == 0) {
		for (i = 0; i < NCONFIGS; i++)
			if (!configs[i].first)
				start_config(&configs[i], p, image, &slots[i], &res[i]);
		measure_all(p, slots, res);
		for (i = 0; i < NCONFIGS; i++)
			bench_vm_stop(&slots[i]);
		rc = 0;
	}
	/* lab_remove_tree() only removes under /tmp/cplab-: this is on the tmpfs */
	unlink(image);
	rmdir(dir);
	return rc;
}

/**
 * run_all() - every configuration on one QEMU
 * @o:		options
 *
 * Return: exit status
 */
static int run_all(const struct options *o)
{
	struct bench_disk_result res[NCONFIGS];
	cleanup_free char *qemu = lab_qemu_path(o->p.qemu);
	cleanup_json cp_json *doc = NULL;
	struct bench_disk_run run = { 0 };
	struct cp_error err = { 0 };
	int64_t t0 = cp_now_ms();

	if (!qemu) {
		fprintf(stderr,
			"bench-disk: QEMU %s is not configured: run tests/qemu/prepare.sh "
			"BUILD_DIR and set COLDPLUG_LAB_ENV\n",
			o->p.qemu);
		return 1;
	}
	bench_disk_run_begin(&run);
	run.qemu_binary = qemu;
	if (run_configs(&o->p, res, &err) < 0) {
		fprintf(stderr, "bench-disk: %s\n", err.msg);
		return 1;
	}
	run.seconds = (cp_now_ms() - t0) / 1000;
	doc = bench_disk_to_json(&o->p, res, NCONFIGS, &run);
	bench_disk_print(stdout, doc);
	if (o->out && bench_write_json(doc, o->out, &err) < 0) {
		fprintf(stderr, "bench-disk: %s\n", err.msg);
		return 1;
	}
	return res[0].done || res[1].done ? 0 : 1;
}

/**
 * main() - run one QEMU's configurations, or write RESULTS-disk.md
 * @argc:	argument count
 * @argv:	see usage
 *
 * Return: 0 if a native frontend was measured, else 1; 2 for a bad command
 * line
 */
int main(int argc, char **argv)
{
	struct cp_error err = { 0 };
	struct options o;

	if (parse_options(argc, argv, &o) < 0)
		return 2;
	if (o.markdown) {
		if (bench_disk_markdown(o.markdown, argv + optind, (size_t)(argc - optind), &err) ==
		    0)
			return 0;
		fprintf(stderr, "bench-disk: %s\n", err.msg);
		return 1;
	}
	return run_all(&o);
}

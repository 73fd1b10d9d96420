/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-nic: loss and throughput of every way a paused Incus VM's NIC can
 * reach its guest, each as a ratio to Incus's own virtio-net NIC measured
 * in the same run (issue 5).
 *
 *   bench-nic --qemu 7.2|10.0 [--out FILE] [--quick] [--configs a,b]
 *   bench-nic --markdown RESULTS.md FILE.json...
 *
 * One VM per configuration, started exactly as Incus starts it by the lab's
 * emulator (tests/qemu/lab/incus.h), 2 vCPUs (Incus then gives the NIC a
 * 2-queue tap), broadcast frames on the bridge from launch until the guest
 * reports (as on a live Incus bridge). native, direct and native-end run
 * side by side: their TCP runs take turns across the three VMs, so a slow
 * minute of this shared machine falls on all of them instead of on whichever
 * VM ran then (one such minute once read as direct at 0.75× of native); then
 * each one's other measurements, one VM at a time. The other configurations
 * follow, one VM at a time, each measured alone. The configurations:
 *   native       Incus's virtio-net NIC, left alone (the upper bound)
 *   direct       `coldplug qemu-conf --nic-mac --nic-tap --nic-queues N
 *                [--vhost]`, written at Incus's config stage (the tap is named
 *                at launch), + `coldplug rehome --nic-frontend pci`: a
 *                multi-queue virtio-net-pci slot whose netdev opened Incus's
 *                own tap when QEMU started; Incus's NIC and netdev removed
 *   pci-*        `coldplug qemu-conf --nic-mac --nic-model M` + `coldplug
 *                rehome --nic-frontend pci`: a PCI NIC slot behind a net hub,
 *                on one fresh queue of Incus's tap (M = virtio-net-pci, the
 *                hub path direct replaces, vmxnet3, e1000-82545em)
 *   usb          `coldplug rehome --nic-frontend usb`: usb-net on the xHCI
 *   incus-usb    Incus's io.bus=usb NIC (usb-net on the 2-queue tap)
 *   seed         the original write-up's method (tests/qemu/lab/seed.h)
 *   native-end   native once more, a second VM beside the first: how far
 *                the run's noise goes
 * The measurements are in nic_measure.c, the JSON and RESULTS.md in
 * nic_report.c. A VM whose guest never reports (a known TCG abort,
 * qemu-notes §9) is started once more, and the result says so.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "guest.h"
#include "incus.h"
#include "netns.h"
#include "nic.h"
#include "proc.h"
#include "report.h"
#include "run.h"
#include "seed.h"
#include "util.h"
#include "vm.h"

#ifndef COLDPLUG_BINARY /* meson passes the built program's path */
#define COLDPLUG_BINARY "build/src/coldplug"
#endif

#define NIC_NAME       "eth0"
#define NIC_DEVICE     "dev-incus_eth0"
#define ROOT_SIZE      (16 << 20)
#define NOISE_MAX_S    600
#define CMD_TIMEOUT_MS 60000
#define SEED_QUIET_MS  500
#define ARGV_MAX       16

static const struct bench_nic_config configs[] = {
	{ "native", "native (Incus virtio-net, untouched)", BENCH_NIC_NATIVE, NULL,
	  "10:66:6a:be:0c:00", true },
	{ "direct", "coldplug direct: virtio-net-pci on Incus's tap", BENCH_NIC_DIRECT,
	  "virtio-net-pci", "10:66:6a:be:0c:08", true },
	{ "pci-virtio", "coldplug pci: virtio-net-pci (the hub path direct replaces)",
	  BENCH_NIC_PCI, "virtio-net-pci", "10:66:6a:be:0c:01", false },
	{ "pci-vmxnet3", "coldplug pci: vmxnet3", BENCH_NIC_PCI, "vmxnet3", "10:66:6a:be:0c:02",
	  false },
	{ "pci-e1000", "coldplug pci: e1000-82545em", BENCH_NIC_PCI, "e1000-82545em",
	  "10:66:6a:be:0c:03", false },
	{ "usb", "coldplug usb: usb-net", BENCH_NIC_USB, NULL, "40:66:6a:be:0c:04", false },
	{ "incus-usb", "Incus io.bus=usb (no coldplug)", BENCH_NIC_INCUS_USB, NULL,
	  "40:66:6a:be:0c:05", false },
	{ "seed", "seed method (original write-up)", BENCH_NIC_SEED, NULL, "40:66:6a:be:0c:06",
	  false },
	{ "native-end", "native again, a second VM (the run's noise)", BENCH_NIC_NATIVE, NULL,
	  "10:66:6a:be:0c:07", true },
};

#define NCONFIGS CP_ARRAY_SIZE(configs)

/**
 * struct options - the command line
 * @p:		what to measure
 * @out:	JSON file to write, or NULL
 * @only:	configurations to run ("a,b"), or NULL for all
 * @markdown:	--markdown: the RESULTS.md to write from the JSON files
 */
struct options {
	struct bench_nic_params p;
	const char *out;
	const char *only;
	const char *markdown;
};

/**
 * struct hook_ctx - the hooks' input (their errors go to the start's)
 * @cfg:	the configuration
 * @p:		parameters (the direct slot's queues, vhost)
 * @conf:	the -readconfig file the config-stage hook writes (direct)
 */
struct hook_ctx {
	const struct bench_nic_config *cfg;
	const struct bench_nic_params *p;
	const char *conf;
};

/**
 * struct conf_words - the words conf_argv() formats (they outlive argv)
 * @mac:	NAME=MAC
 * @tap:	NAME=TAP
 * @queues:	the direct slot's queue count
 */
struct conf_words {
	char mac[64];
	char tap[64];
	char queues[16];
};

/**
 * runs_coldplug() - whether @cfg's NIC goes through coldplug (qemu-conf at
 * the start, rehome at pre-start)
 * @cfg:	configuration
 *
 * Return: true for pci-*, usb and direct
 */
static bool runs_coldplug(const struct bench_nic_config *cfg)
{
	return cfg->kind == BENCH_NIC_PCI || cfg->kind == BENCH_NIC_USB ||
	       cfg->kind == BENCH_NIC_DIRECT;
}

/**
 * conf_argv() - the `coldplug qemu-conf` words of @cfg
 * @cfg:	configuration
 * @p:		parameters (direct: the queues, vhost)
 * @tap:	Incus's tap for direct (known from the config stage on)
 * @w:		buffers for the formatted words
 * @argv:	filled (NULL-terminated); borrows from @w and @cfg
 *
 * Return: false if @cfg needs no coldplug configuration
 */
static bool conf_argv(const struct bench_nic_config *cfg, const struct bench_nic_params *p,
		      const char *tap, struct conf_words *w, const char *argv[ARGV_MAX])
{
	size_t n = 0;

	if (!runs_coldplug(cfg))
		return false;
	argv[n++] = COLDPLUG_BINARY;
	argv[n++] = "qemu-conf";
	argv[n++] = "--quiet";
	argv[n++] = "--disk-slots";
	argv[n++] = "0";
	argv[n++] = "--cd-slots";
	argv[n++] = "0";
	if (cfg->kind == BENCH_NIC_PCI || cfg->kind == BENCH_NIC_DIRECT) {
		lab_fmt(w->mac, sizeof(w->mac), "%s=%s", NIC_NAME, cfg->hwaddr);
		argv[n++] = "--nic-mac";
		argv[n++] = w->mac;
	}
	if (cfg->kind == BENCH_NIC_PCI) {
		argv[n++] = "--nic-model";
		argv[n++] = cfg->model;
	}
	if (cfg->kind == BENCH_NIC_DIRECT) {
		lab_fmt(w->tap, sizeof(w->tap), "%s=%s", NIC_NAME, tap);
		lab_fmt(w->queues, sizeof(w->queues), "%u", p->queues);
		argv[n++] = "--nic-tap";
		argv[n++] = w->tap;
		argv[n++] = "--nic-queues";
		argv[n++] = w->queues;
		if (p->vhost)
			argv[n++] = "--vhost";
	}
	argv[n] = NULL;
	return true;
}

/**
 * rehome_argv() - the `coldplug rehome` words of @cfg
 * @cfg:	configuration
 * @qmp:	the second monitor's socket
 * @argv:	filled (NULL-terminated)
 *
 * --id-prefix '' --device selects Incus's NIC only (the root disk stays
 * where Incus put it: this benchmark has no disk slots). The direct path is
 * --nic-frontend pci too: rehome finds the slot carrying the NIC's MAC on
 * Incus's tap, and only removes Incus's NIC and netdev.
 *
 * Return: false if @cfg does not run coldplug
 */
static bool rehome_argv(const struct bench_nic_config *cfg, const char *qmp,
			const char *argv[ARGV_MAX])
{
	size_t n = 0;

	if (!runs_coldplug(cfg))
		return false;
	argv[n++] = COLDPLUG_BINARY;
	argv[n++] = "rehome";
	argv[n++] = "--qmp";
	argv[n++] = qmp;
	argv[n++] = "--nic-frontend";
	argv[n++] = cfg->kind == BENCH_NIC_USB ? "usb" : "pci";
	argv[n++] = "--id-prefix";
	argv[n++] = "";
	argv[n++] = "--device";
	argv[n++] = NIC_DEVICE;
	argv[n] = NULL;
	return true;
}

/**
 * argv_text() - a command line as a shell would take it ('' for empty
 * words, the program as "coldplug")
 * @argv:	words
 * @buf:	output
 * @size:	its size
 */
static void argv_text(const char *const *argv, char *buf, size_t size)
{
	size_t off = 0, i;

	buf[0] = '\0';
	for (i = 0; argv[i] && off < size; i++) {
		const char *w = i == 0 ? "coldplug" : argv[i];

		off += (size_t)snprintf(buf + off, size - off, "%s%s", i ? " " : "",
					w[0] ? w : "''");
	}
}

/**
 * pre_start() - the emulator's pre-start hook: coldplug, or the seed
 * @vm:		paused VM, every device hot-plugged
 * @arg:	struct hook_ctx
 * @err:	filled on failure (the start then fails, as in Incus)
 *
 * Runs on a thread in the VM's network namespace, as coldplug runs on an
 * Incus host. The seed method starts right after a broadcast frame, as in
 * tests/qemu/rehome/test_nics.c (qemu-notes §9: with a frame in the few
 * milliseconds before `cont` it happens to work).
 *
 * Return: 0, or -1
 */
static int pre_start(struct lab_incus *vm, void *arg, struct cp_error *err)
{
	struct hook_ctx *h = arg;
	struct lab_run_opts ro = { .timeout_ms = CMD_TIMEOUT_MS, .log_dir = lab_incus_dir(vm) };
	cleanup_free char *out = NULL;
	const char *argv[ARGV_MAX];
	int rc;

	if (h->cfg->kind == BENCH_NIC_SEED) {
		lab_sleep_ms(SEED_QUIET_MS); /* broadcast frames reach the paused VM's taps */
		lab_net_noise_sync(lab_incus_net(vm));
		return lab_seed_remap(vm, NIC_DEVICE, 0, err);
	}
	if (!rehome_argv(h->cfg, lab_incus_coldplug_qmp(vm), argv))
		return 0;
	rc = lab_run(argv, &ro, &out, err);
	if (rc == 0)
		return 0;
	if (rc > 0)
		cp_error_set(err, CP_ERR_FAILED, "coldplug rehome exited %d: %s", rc,
			     out ? out : "");
	return -1;
}

/**
 * run_conf() - run `coldplug qemu-conf` for @cfg into @path
 * @cfg:	configuration (one that runs coldplug)
 * @p:		parameters
 * @tap:	Incus's tap (direct), or NULL
 * @dir:	directory for the command's log
 * @path:	the -readconfig file to write
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int run_conf(const struct bench_nic_config *cfg, const struct bench_nic_params *p,
		    const char *tap, const char *dir, const char *path, struct cp_error *err)
{
	struct lab_run_opts ro = { .timeout_ms = CMD_TIMEOUT_MS, .log_dir = dir };
	cleanup_free char *text = NULL;
	struct conf_words w;
	const char *argv[ARGV_MAX];
	int rc;

	conf_argv(cfg, p, tap, &w, argv);
	rc = lab_run(argv, &ro, &text, err);
	if (rc != 0)
		return rc < 0 ? -1
			      : cp_error_set(err, CP_ERR_FAILED, "coldplug qemu-conf exited %d: %s",
					     rc, text ? text : "");
	return lab_write_file(path, text ? text : "", err);
}

/**
 * config_stage() - the emulator's config-stage hook (direct): `coldplug
 * qemu-conf --nic-tap` with the tap Incus just created, before QEMU starts
 * @vm:		emulator, its devices started (the taps have their names)
 * @arg:	struct hook_ctx
 * @err:	filled on failure (the start then fails)
 *
 * Return: 0, or -1
 */
static int config_stage(struct lab_incus *vm, void *arg, struct cp_error *err)
{
	const struct hook_ctx *h = arg;
	const char *tap = lab_incus_nic_tap(vm, NIC_NAME);

	if (!tap)
		return cp_error_set(err, CP_ERR_FAILED, "%s has no tap at the config stage",
				    NIC_NAME);
	return run_conf(h->cfg, h->p, tap, lab_incus_dir(vm), h->conf, err);
}

/**
 * write_conf() - @cfg's coldplug command lines, and DIR/coldplug.conf: now,
 * or for direct at the config stage (config_stage())
 * @cfg:	configuration
 * @p:		parameters
 * @dir:	scratch directory
 * @path:	set to the file, or "" if @cfg needs none
 * @size:	its size
 * @r:		the command lines go to @r->conf_cmd, @r->rehome_cmd
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int write_conf(const struct bench_nic_config *cfg, const struct bench_nic_params *p,
		      const char *dir, char *path, size_t size, struct bench_nic_result *r,
		      struct cp_error *err)
{
	struct conf_words w;
	const char *argv[ARGV_MAX];

	path[0] = '\0';
	if (!runs_coldplug(cfg))
		return 0;
	rehome_argv(cfg, "SOCKET", argv);
	argv_text(argv, r->rehome_cmd, sizeof(r->rehome_cmd));
	conf_argv(cfg, p, "TAP", &w, argv);
	argv_text(argv, r->conf_cmd, sizeof(r->conf_cmd));
	lab_fmt(path, size, "%s/coldplug.conf", dir);
	if (cfg->kind == BENCH_NIC_DIRECT)
		return 0;
	return run_conf(cfg, p, NULL, dir, path, err);
}

/**
 * new_vm() - the VM of @cfg, not started
 * @cfg:	configuration
 * @p:		parameters
 * @conf:	coldplug's -readconfig file, or ""
 * @h:		the hooks' context
 * @err:	filled on failure
 *
 * Return: new emulator, or NULL
 */
static struct lab_incus *new_vm(const struct bench_nic_config *cfg,
				const struct bench_nic_params *p, const char *conf,
				struct hook_ctx *h, struct cp_error *err)
{
	struct lab_disk_spec root = { .name = "root", .root = true, .size = ROOT_SIZE };
	struct lab_nic_spec nic = { .name = NIC_NAME,
				    .bus = LAB_NIC_VIRTIO,
				    .hwaddr = cfg->hwaddr };
	struct lab_incus_opts o;
	struct lab_incus *vm;

	lab_incus_opts_init(&o);
	o.qemu = p->qemu;
	o.vcpus = p->vcpus;
	o.memory_mb = p->memory_mb;
	o.boot_guest = true;
	o.extra_conf[0] = conf[0] ? conf : NULL;
	if (runs_coldplug(cfg) || cfg->kind == BENCH_NIC_SEED) {
		o.pre_start = pre_start;
		o.pre_start_arg = h;
	}
	if (cfg->kind == BENCH_NIC_DIRECT) {
		o.config = config_stage;
		o.config_arg = h;
	}
	if (cfg->kind == BENCH_NIC_INCUS_USB)
		nic.bus = LAB_NIC_USB;
	vm = lab_incus_new(&o, err);
	if (vm &&
	    (lab_incus_add_disk(vm, &root, err) < 0 || lab_incus_add_nic(vm, &nic, err) < 0)) {
		lab_incus_free(vm);
		vm = NULL;
	}
	return vm;
}

/**
 * start_vm() - launch, noise on the bridge, pre-start, cont
 * @vm:		emulator
 * @p:		parameters
 * @err:	filled on failure (a failed pre-start hook says why)
 *
 * Return: 0, or -1
 */
static int start_vm(struct lab_incus *vm, const struct bench_nic_params *p, struct cp_error *err)
{
	if (lab_incus_launch(vm, err) < 0 ||
	    lab_net_noise_start(lab_incus_net(vm), p->noise_rate, NOISE_MAX_S, err) < 0 ||
	    lab_incus_pre_start(vm, err) < 0)
		return -1;
	return lab_incus_resume(vm, err);
}

/**
 * guest_nic() - what the guest's report says of eth0
 * @rep:	the report
 * @cfg:	configuration
 * @r:		driver, mac, path, name and guest kernel filled
 * @err:	filled if the guest has no NIC with that MAC and address
 *
 * Return: 0, or -1
 */
static int guest_nic(const struct lab_guest_report *rep, const struct bench_nic_config *cfg,
		     struct bench_nic_result *r, struct cp_error *err)
{
	const struct lab_guest_record *g = lab_report_at(rep, "guest", 0);
	const struct lab_guest_record *n = lab_report_find(rep, "net", "mac", cfg->hwaddr);
	const char *ip = n ? lab_record_get(n, "ip") : NULL;

	cp_strlcpy(r->guest_kernel,
		   g && lab_record_get(g, "kernel") ? lab_record_get(g, "kernel") : "-",
		   sizeof(r->guest_kernel));
	if (!n)
		return cp_error_set(err, CP_ERR_FAILED, "the guest has no NIC with MAC %s:\n%s",
				    cfg->hwaddr, rep->text);
	cp_strlcpy(r->driver, lab_record_get(n, "driver") ? lab_record_get(n, "driver") : "-",
		   sizeof(r->driver));
	cp_strlcpy(r->mac, cfg->hwaddr, sizeof(r->mac));
	cp_strlcpy(r->path, lab_record_get(n, "path") ? lab_record_get(n, "path") : "-",
		   sizeof(r->path));
	cp_strlcpy(r->iface, lab_record_get(n, "name") ? lab_record_get(n, "name") : "-",
		   sizeof(r->iface));
	if (!ip || !strcmp(ip, "-"))
		return cp_error_set(err, CP_ERR_FAILED, "the guest's %s has no address", r->driver);
	return 0;
}

/**
 * struct vm_slot - one running VM and its hooks' input
 * @b:		the VM
 * @h:		its hooks' context (the emulator keeps a pointer to it)
 * @conf:	coldplug's -readconfig file, or ""
 */
struct vm_slot {
	struct bench_vm b;
	struct hook_ctx h;
	char conf[4096];
};

/**
 * vm_up() - one VM: start it and wait for its guest's report
 * @cfg:	configuration
 * @p:		parameters
 * @s:		filled with the running VM (stopped on failure)
 * @r:		the guest's NIC filled (or @r->error)
 * @why:	set to why the guest never reported (for the retry note)
 * @size:	its size
 *
 * Return: 0, BENCH_VM_NO_REPORT if the guest never reported (retried once by the
 * caller), -1 otherwise
 */
static int vm_up(const struct bench_nic_config *cfg, const struct bench_nic_params *p,
		 struct vm_slot *s, struct bench_nic_result *r, char *why, size_t size)
{
	struct bench_vm *b = &s->b;
	struct cp_error err = { 0 };

	s->h = (struct hook_ctx){ .cfg = cfg, .p = p, .conf = s->conf };
	if (!(b->dir = lab_scratch_dir("bench-nic", &err)) ||
	    write_conf(cfg, p, b->dir, s->conf, sizeof(s->conf), r, &err) < 0 ||
	    !(b->vm = new_vm(cfg, p, s->conf, &s->h, &err)) || start_vm(b->vm, p, &err) < 0)
		goto fail;
	cp_strlcpy(r->qemu_version, lab_incus_qemu_version(b->vm), sizeof(r->qemu_version));
	if (bench_vm_report(b, why, size) < 0)
		return BENCH_VM_NO_REPORT;
	lab_net_noise_stop(lab_incus_net(b->vm));
	if (guest_nic(b->rep, cfg, r, &err) == 0) {
		bench_nic_ready(b->vm, r);
		return 0;
	}
fail:
	lab_fmt(r->error, sizeof(r->error), "%s", err.msg);
	bench_vm_stop(b);
	return -1;
}

/**
 * config_up() - one configuration's VM, retried once if the guest never
 * reports
 * @cfg:	configuration
 * @p:		parameters
 * @s:		filled with the running VM, or left empty (@r->error says why)
 * @r:		reset, then filled (@r->seconds: so far, boot included)
 */
static void config_up(const struct bench_nic_config *cfg, const struct bench_nic_params *p,
		      struct vm_slot *s, struct bench_nic_result *r)
{
	int64_t t0 = cp_now_ms();
	char why[BENCH_NIC_ERR_MAX] = "";
	int rc;

	memset(r, 0, sizeof(*r));
	r->cfg = cfg;
	fprintf(stderr, "bench-nic: QEMU %s: starting %s\n", p->qemu, cfg->label);
	r->attempts = 1;
	rc = vm_up(cfg, p, s, r, why, sizeof(why));
	if (rc == BENCH_VM_NO_REPORT) {
		fprintf(stderr, "bench-nic: %s; retrying once\n", why);
		memset(r, 0, sizeof(*r));
		r->cfg = cfg;
		r->attempts = 2;
		lab_fmt(r->retry_note, sizeof(r->retry_note), "first VM: %s", why);
		rc = vm_up(cfg, p, s, r, why, sizeof(why));
		if (rc == BENCH_VM_NO_REPORT)
			lab_fmt(r->error, sizeof(r->error), "twice: %s", why);
	}
	r->seconds = (cp_now_ms() - t0) / 1000;
	if (r->error[0])
		fprintf(stderr, "bench-nic: %s: no figures: %s\n", cfg->key, r->error);
}

/**
 * measure() - the measurements @r does not have yet, then the VM stopped
 * @p:		parameters
 * @s:		the running VM (emptied), or an empty slot (no figures)
 * @r:		filled; @r->seconds gains the time taken
 */
static void measure(const struct bench_nic_params *p, struct vm_slot *s, struct bench_nic_result *r)
{
	int64_t t0 = cp_now_ms();

	if (s->b.vm) {
		fprintf(stderr, "bench-nic: QEMU %s: measuring %s\n", p->qemu, r->cfg->label);
		bench_nic_measure(s->b.vm, s->b.g, p, r);
		r->done = true;
	}
	bench_vm_stop(&s->b);
	r->seconds += (cp_now_ms() - t0) / 1000;
	fprintf(stderr, "bench-nic: %s: %lld s\n", r->cfg->key, (long long)r->seconds);
}

/**
 * tcp_turns() - the TCP runs of the side-by-side VMs, taking turns: each
 * round one run host -> guest on every VM, then one guest -> host on every
 * VM, the VM that goes first moving on by one each round
 * @p:		parameters
 * @slots:	the VMs (an empty slot is skipped)
 * @res:	their results
 * @n:		slots
 *
 * One VM measured during a slow minute of this shared machine reads as a
 * slower path; in turns, a slow minute falls on every VM alike.
 */
static void tcp_turns(const struct bench_nic_params *p, struct vm_slot *slots,
		      struct bench_nic_result *res, size_t n)
{
	unsigned k;
	size_t i, v;
	int rx;

	for (k = 0; k < p->tcp_rounds && k < BENCH_NIC_TCP_ROUNDS; k++)
		for (rx = 0; rx < 2; rx++)
			for (i = 0; i < n; i++) {
				v = (i + k) % n;
				if (slots[v].b.vm)
					bench_nic_tcp_turn(slots[v].b.vm, p, rx, &res[v]);
			}
}

/**
 * selected() - whether --configs names @key
 * @only:	"a,b", or NULL for all
 * @key:	configuration key
 *
 * Return: true to run it
 */
static bool selected(const char *only, const char *key)
{
	size_t len = strlen(key);
	const char *s;

	if (!only)
		return true;
	for (s = only; (s = strstr(s, key)); s += len)
		if ((s == only || s[-1] == ',') && (s[len] == ',' || s[len] == '\0'))
			return true;
	return false;
}

/**
 * params_init() - the standard run, or the --quick one
 * @p:		filled
 * @qemu:	"7.2" or "10.0"
 * @quick:	shorter runs
 */
static void params_init(struct bench_nic_params *p, const char *qemu, bool quick)
{
	*p = (struct bench_nic_params){
		.qemu = qemu,
		.vcpus = 2,
		.vhost = access("/dev/vhost-net", R_OK | W_OK) == 0,
		.memory_mb = 512,
		.pings = quick ? 50 : 200,
		.ping_interval_ms = 2,
		.tcp_seconds = quick ? 2 : 4,
		.tcp_rounds = quick ? 2 : 3,
		.udp_count = quick ? 500 : 2000,
		.udp_rate = 1000,
		.udp_flows = 16,
		.burst_count = quick ? 4000 : 10000,
		.ladder_rates = { 4000, 16000 },
		.burst_rate = 100000,
		.noise_rate = 20,
		.quick = quick,
	};
	p->queues = p->vcpus > 2 ? p->vcpus : 2; /* as Incus */
}

static const char usage[] =
	"usage: bench-nic --qemu 7.2|10.0 [--out FILE] [--quick] [--configs a,b,...]\n"
	"       bench-nic --markdown RESULTS.md FILE.json...\n"
	"  Measures ping, TCP and UDP loss and throughput both ways for each NIC\n"
	"  configuration (one VM each), as ratios to Incus's untouched virtio-net NIC.\n"
	"  --out FILE     write the figures as JSON (RESULTS.md is made from such files)\n"
	"  --quick        shorter runs (for trying it out; not for RESULTS.md)\n"
	"  --configs      only these: native, direct, pci-virtio, pci-vmxnet3, pci-e1000,\n"
	"                 usb, incus-usb, seed, native-end (native is always run first:\n"
	"                 it is the reference)\n"
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
		{ "configs", required_argument, NULL, 'c' },
		{ "markdown", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *qemu = NULL;
	bool quick = false;
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			qemu = optarg;
			break;
		case 'o':
			o->out = optarg;
			break;
		case 'k':
			quick = true;
			break;
		case 'c':
			o->only = optarg;
			break;
		case 'm':
			o->markdown = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			fputs(usage, stderr);
			return -1;
		}
	}
	if (o->markdown ? optind >= argc : (!qemu || optind != argc)) {
		fputs(usage, stderr);
		return -1;
	}
	params_init(&o->p, qemu, quick);
	return 0;
}

/**
 * run_all() - every selected configuration on one QEMU: first those that
 * run side by side (their TCP runs in turns, then the rest of their
 * measurements one VM after another, all of them still running), then the
 * others, one VM at a time
 * @o:		options
 *
 * Return: exit status
 */
static int run_all(const struct options *o)
{
	struct bench_nic_result res[NCONFIGS];
	struct vm_slot slots[NCONFIGS];
	cleanup_free char *qemu = lab_qemu_path(o->p.qemu);
	cleanup_json cp_json *doc = NULL;
	struct bench_nic_run run = { 0 };
	struct cp_error err = { 0 };
	int64_t t0 = cp_now_ms();
	const struct bench_nic_config *cfg[NCONFIGS];
	size_t i, n = 0;

	if (!qemu) {
		fprintf(stderr,
			"bench-nic: QEMU %s is not configured: run tests/qemu/prepare.sh "
			"BUILD_DIR and set COLDPLUG_LAB_ENV\n",
			o->p.qemu);
		return 1;
	}
	bench_nic_run_begin(&run);
	run.qemu_binary = qemu;
	memset(slots, 0, sizeof(slots));
	for (i = 0; i < NCONFIGS; i++)
		if (i == 0 || selected(o->only, configs[i].key))
			cfg[n++] = &configs[i];
	for (i = 0; i < n; i++)
		if (cfg[i]->side_by_side)
			config_up(cfg[i], &o->p, &slots[i], &res[i]);
	tcp_turns(&o->p, slots, res, n);
	for (i = 0; i < n; i++)
		if (cfg[i]->side_by_side)
			measure(&o->p, &slots[i], &res[i]);
	for (i = 0; i < n; i++)
		if (!cfg[i]->side_by_side) {
			config_up(cfg[i], &o->p, &slots[i], &res[i]);
			measure(&o->p, &slots[i], &res[i]);
		}
	run.seconds = (cp_now_ms() - t0) / 1000;
	doc = bench_nic_to_json(&o->p, res, n, &run);
	bench_nic_print(stdout, doc);
	if (o->out && bench_write_json(doc, o->out, &err) < 0) {
		fprintf(stderr, "bench-nic: %s\n", err.msg);
		return 1;
	}
	return res[0].done ? 0 : 1;
}

/**
 * main() - run one QEMU's configurations, or write RESULTS.md
 * @argc:	argument count
 * @argv:	see usage
 *
 * Return: 0 if the reference (native) was measured, else 1; 2 for a bad
 * command line
 */
int main(int argc, char **argv)
{
	struct cp_error err = { 0 };
	struct options o;

	if (parse_options(argc, argv, &o) < 0)
		return 2;
	if (o.markdown) {
		if (bench_nic_markdown(o.markdown, argv + optind, (size_t)(argc - optind), &err) ==
		    0)
			return 0;
		fprintf(stderr, "bench-nic: %s\n", err.msg);
		return 1;
	}
	return run_all(&o);
}

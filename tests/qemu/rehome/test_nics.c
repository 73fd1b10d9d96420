/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Re-homing Incus's NICs on real QEMU with zero loss (issue 5), both paths
 * in one VM, beside the original write-up's method.
 *
 *   test-rehome-nics --qemu 7.2|10.0 [--vcpus 1,2,4,8] [--pings N] [--udp N]
 *
 * One VM per vCPU count, started as Incus starts it, with four bridged NICs
 * on multi-queue taps (max(vCPUs, 2) queues) and broadcast frames on the
 * bridge from launch on. At pre-start, with the VM paused:
 *   eth0, eth1  `coldplug rehome --nic-frontend pci` (two NICs in one run):
 *               eth0 on the direct path (`coldplug qemu-conf --nic-tap`: its
 *               slot's netdev opened eth0's tap at QEMU's start, multi-queue;
 *               coldplug removes Incus's NIC and netdev), eth1 on a PCI NIC
 *               slot behind a net hub fed one fresh queue; the slots' MACs
 *               written by `--nic-mac`;
 *   eth2        `coldplug rehome --nic-frontend usb`: usb-net under Incus's
 *               device id (its MAC starts with 40:, which usb-net before
 *               QEMU 10.2 forces; first a dry run shows the refusal of a MAC
 *               that does not on 10.0, and its absence on Debian's 7.2);
 *   eth3        the write-up's method (seed.h), right after a broadcast
 *               frame, as in most real starts.
 * After `cont`, each NIC: the guest sees Incus's MAC; pings and a 16-flow
 * UDP stream from the peer namespace; coldplug's NICs lose nothing. The
 * direct NIC carries traffic on every queue, both ways. Then
 * Incus's later operations on the usb path: set_link down/up on Incus's
 * device id, and Incus's NIC detach, which removes what coldplug built.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coldplug/cleanup.h"
#include "coldplug/json.h"
#include "coldplug/qconf.h"
#include "guest.h"
#include "hmp_network.h"
#include "incus.h"
#include "netns.h"
#include "proc.h"
#include "queues.h"
#include "run.h"
#include "seed.h"
#include "tap.h"
#include "util.h"

#ifndef COLDPLUG_BINARY /* meson passes the built program's path */
#define COLDPLUG_BINARY "build/src/coldplug"
#endif

#define NICS		  4
#define MAX_RUNS	  8
#define NOISE_RATE	  20
#define NOISE_MAX_S	  600
#define REPORT_TIMEOUT_MS 120000
#define PING_INTERVAL_MS  2
#define UDP_FLOWS	  16
#define UDP_RATE	  800
#define RUN_TIMEOUT_MS	  60000
#define CPUSEND_COUNT	  20

/**
 * struct nic_case - one NIC of the VM
 * @name:	Incus device name
 * @bus:	io.bus
 * @hwaddr:	its MAC
 * @role:	how it is re-homed (for the table)
 * @path:	a piece of the guest's sysfs path it must end up at
 * @coldplug:	re-homed by coldplug (must lose nothing)
 */
struct nic_case {
	const char *name;
	enum lab_nic_bus bus;
	const char *hwaddr;
	const char *role;
	const char *path;
	bool coldplug;
};

static const struct nic_case nics[NICS] = {
	{ "eth0", LAB_NIC_VIRTIO, "10:66:6a:c0:1d:00", "coldplug direct", "0000:00:1c.0/", true },
	{ "eth1", LAB_NIC_VIRTIO, "10:66:6a:c0:1d:01", "coldplug hub", "0000:00:1d.0/", true },
	{ "eth2", LAB_NIC_VIRTIO, "40:66:6a:c0:1d:02", "coldplug usb", "0000:01:00.6/usb", true },
	{ "eth3", LAB_NIC_VIRTIO, "10:66:6a:c0:1d:03", "seed method", "0000:01:00.6/usb", false },
};

/**
 * struct params - what to run
 * @qemu:	"7.2" or "10.0"
 * @vcpus:	vCPU counts, one VM each
 * @nvcpus:	their count
 * @pings:	pings per NIC
 * @udp:	UDP packets per NIC
 */
struct params {
	const char *qemu;
	unsigned vcpus[MAX_RUNS];
	size_t nvcpus;
	unsigned pings;
	unsigned udp;
};

/**
 * struct hook_result - what happened at pre-start (checked on the main thread)
 * @pci_rc:	exit status of the pci rehome
 * @usb_dry_rc:	exit status of the usb dry run on eth3 (10: MAC)
 * @usb_rc:	exit status of the usb rehome
 * @seed_rc:	0 if the seed method ran
 * @pci_out:	the pci rehome's stdout + stderr
 * @usb_dry_out: the dry run's
 * @usb_out:	the usb rehome's
 * @seed_err:	the seed method's error
 * @ms:		how long coldplug took, both runs
 */
struct hook_result {
	int pci_rc, usb_dry_rc, usb_rc, seed_rc;
	char *pci_out, *usb_dry_out, *usb_out;
	struct cp_error seed_err;
	int64_t ms;
};

/**
 * struct result - one VM's figures
 * @vcpus:	vCPU count
 * @ping:	per NIC
 * @udp:	per NIC
 * @found:	the guest reported the NIC with its MAC and address
 */
struct result {
	unsigned vcpus;
	struct lab_loss ping[NICS];
	struct lab_loss udp[NICS];
	bool found[NICS];
};

static struct params par;

/**
 * rehome() - run `coldplug rehome` on the second monitor
 * @vm:		paused VM
 * @frontend:	"pci" or "usb"
 * @dry_run:	--dry-run
 * @dev1:	a device to select (Incus's qdev id)
 * @dev2:	another, or NULL
 * @out:	set to stdout + stderr (caller frees)
 *
 * Return: the exit status, or -1
 */
static int rehome(struct lab_incus *vm, const char *frontend, bool dry_run, const char *dev1,
		  const char *dev2, char **out)
{
	const char *argv[16] = { COLDPLUG_BINARY,  "rehome",
				 "--qmp",	   lab_incus_coldplug_qmp(vm),
				 "--nic-frontend", frontend,
				 "--id-prefix",	   "",
				 "--device",	   dev1 };
	struct lab_run_opts ro = { .timeout_ms = RUN_TIMEOUT_MS, .log_dir = lab_incus_dir(vm) };
	struct cp_error err = { 0 };
	size_t n = 10;
	int rc;

	if (dev2) {
		argv[n++] = "--device";
		argv[n++] = dev2;
	}
	if (dry_run)
		argv[n++] = "--dry-run";
	rc = lab_run(argv, &ro, out, &err);
	if (rc < 0 && !*out)
		*out = strdup(err.msg);
	return rc;
}

/**
 * pre_start() - the emulator's pre-start hook: coldplug, then the seed
 * @vm:		paused VM, every device hot-plugged
 * @arg:	struct hook_result
 * @err:	filled when the seed method cannot run
 *
 * Runs on a thread in the VM's network namespace, as coldplug runs on an
 * Incus host. The outcomes are checked by the caller.
 *
 * Return: 0 (the VM starts whatever coldplug said, so the losses show), or -1
 */
static int pre_start(struct lab_incus *vm, void *arg, struct cp_error *err)
{
	struct hook_result *h = arg;
	int64_t t0 = cp_now_ms();

	h->pci_rc = rehome(vm, "pci", false, "dev-incus_eth0", "dev-incus_eth1", &h->pci_out);
	h->usb_dry_rc = rehome(vm, "usb", true, "dev-incus_eth3", NULL, &h->usb_dry_out);
	h->usb_rc = rehome(vm, "usb", false, "dev-incus_eth2", NULL, &h->usb_out);
	h->ms = cp_now_ms() - t0;
	lab_sleep_ms(500); /* broadcast frames reach the paused VM's taps */
	lab_net_noise_sync(lab_incus_net(vm));
	h->seed_rc = lab_seed_remap(vm, "dev-incus_eth3", 0, &h->seed_err);
	(void)err;
	return 0;
}

/**
 * struct conf_arg - what write_conf() writes
 * @vcpus:	the VM's vCPUs
 * @path:	the file (read when QEMU starts)
 */
struct conf_arg {
	unsigned vcpus;
	const char *path;
};

/**
 * write_conf() - the emulator's config-stage hook: `coldplug qemu-conf`
 * with the PCI NICs' MACs, eth0 direct on its tap with Incus's queue count
 * @vm:		emulator, its devices started (the taps exist, as Incus makes
 *		them before its config stage)
 * @arg:	struct conf_arg
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int write_conf(struct lab_incus *vm, void *arg, struct cp_error *err)
{
	const struct conf_arg *c = arg;
	unsigned vcpus = c->vcpus;
	const char *path = c->path;
	struct qconf_opts o;
	cleanup_free char *text = NULL;

	qconf_opts_init(&o);
	o.disk_slots = 0;
	o.nic_slots = 2;
	o.nic_queues = vcpus > 2 ? vcpus : 2;
	o.nmacs = 2;
	o.macs[0] = (struct qconf_nic_mac){ nics[0].name, nics[0].hwaddr,
					    lab_incus_nic_tap(vm, nics[0].name) };
	o.macs[1] = (struct qconf_nic_mac){ nics[1].name, nics[1].hwaddr, NULL };
	text = qconf_generate(&o, QCONF_READCONFIG, err);
	return text ? lab_write_file(path, text, err) : -1;
}

/**
 * check_hook() - what coldplug said at pre-start
 * @r:	result
 * @h:	hook outcome
 */
static void check_hook(const struct result *r, const struct hook_result *h)
{
	bool v10 = !strcmp(par.qemu, "10.0");

	ok(h->pci_rc == 0, "%u vCPUs: coldplug rehome --nic-frontend pci moves eth0, eth1 (%d)",
	   r->vcpus, h->pci_rc);
	if (h->pci_rc)
		diag("%s", h->pci_out ? h->pci_out : "");
	ok(h->usb_rc == 0, "%u vCPUs: coldplug rehome --nic-frontend usb moves eth2 (%d)", r->vcpus,
	   h->usb_rc);
	if (h->usb_rc)
		diag("%s", h->usb_out ? h->usb_out : "");
	if (v10) {
		ok(h->usb_dry_rc == 3 && h->usb_dry_out && strstr(h->usb_dry_out, "40:"),
		   "%u vCPUs: QEMU 10.0's usb-net would show eth3 another MAC: refused, with the "
		   "fix (%d)",
		   r->vcpus, h->usb_dry_rc);
	} else {
		ok(h->usb_dry_rc == 0,
		   "%u vCPUs: Debian's QEMU 7.2 has the usb-net MAC fix: eth3 would be allowed (%d)",
		   r->vcpus, h->usb_dry_rc);
	}
	if (h->usb_dry_out && r->vcpus == par.vcpus[0])
		diag("usb dry run on eth3: %.*s", (int)strcspn(h->usb_dry_out, "\n"),
		     h->usb_dry_out);
	ok(h->seed_rc == 0, "%u vCPUs: the seed method ran on eth3%s%s", r->vcpus,
	   h->seed_rc ? ": " : "", h->seed_rc ? h->seed_err.msg : "");
	diag("%u vCPUs: coldplug took %lld ms for three NICs (two runs)", r->vcpus,
	     (long long)h->ms);
}

/**
 * check_queues() - each fresh-queue NIC's tap now has exactly one queue,
 * the direct NIC's tap its slot's queues
 * @vm:	emulator
 * @r:	result
 */
static void check_queues(struct lab_incus *vm, const struct result *r)
{
	size_t i;

	for (i = 0; i < NICS; i++) {
		struct cp_error err = { 0 };
		int q = -1, dis = -1;

		if (!nics[i].coldplug)
			continue;
		lab_net_tap_queues(lab_incus_net(vm), lab_incus_nic_tap(vm, nics[i].name), &q, &dis,
				   &err);
		if (i == 0) {
			ok(q + dis == (int)(r->vcpus > 2 ? r->vcpus : 2),
			   "%u vCPUs: eth0's tap has the direct slot's queues only (%d queues, %d "
			   "disabled until the guest enables them)",
			   r->vcpus, q, dis);
			continue;
		}
		ok(q == 1 && dis == 0,
		   "%u vCPUs: %s's tap has one queue, in use (%d queues, %d disabled; Incus "
		   "opened %u)",
		   r->vcpus, nics[i].name, q, dis, r->vcpus > 2 ? r->vcpus : 2);
	}
}

/**
 * measure() - MAC, place, pings and UDP for every NIC
 * @vm:		running VM
 * @g:		console
 * @rep:	report
 * @r:		filled
 */
static void measure(struct lab_incus *vm, struct lab_guest *g, const struct lab_guest_report *rep,
		    struct result *r)
{
	size_t i;

	for (i = 0; i < NICS; i++) {
		const struct lab_guest_record *rec = lab_report_find(rep, "net", "mac",
								     nics[i].hwaddr);
		const struct lab_guest_record *by_ip;
		struct cp_error err = { 0 };
		char ip[32], cidr[40];

		lab_incus_nic_ip(vm, nics[i].name, ip, sizeof(ip));
		lab_fmt(cidr, sizeof(cidr), "%s/24", ip);
		by_ip = lab_report_find(rep, "net", "ip", cidr);
		r->ping[i] = (struct lab_loss){
			.sent = par.pings, .lost = par.pings, .flows = 1, .loss_pct = 100
		};
		r->udp[i] = (struct lab_loss){
			.sent = par.udp, .lost = par.udp, .flows = UDP_FLOWS, .loss_pct = 100
		};
		if (nics[i].coldplug) {
			ok(rec != NULL, "%u vCPUs: %s: the guest sees Incus's MAC %s", r->vcpus,
			   nics[i].name, nics[i].hwaddr);
			like(rec ? lab_record_get(rec, "path") : "-", nics[i].path,
			     "%u vCPUs: %s at %s", r->vcpus, nics[i].name, nics[i].path);
		}
		r->found[i] = by_ip != NULL;
		if (!r->found[i]) {
			/* no address, no traffic: a coldplug NIC fails here, not silently */
			ok(!nics[i].coldplug, "%u vCPUs: %s (%s): the guest has its address %s",
			   r->vcpus, nics[i].name, nics[i].role, cidr);
			continue;
		}
		if (!nics[i].coldplug && !rec)
			diag("%u vCPUs: %s (%s): the guest sees MAC %s, not Incus's %s", r->vcpus,
			     nics[i].name, nics[i].role, lab_record_get(by_ip, "mac"),
			     nics[i].hwaddr);
		if (lab_net_neigh(lab_incus_net(vm), ip, lab_record_get(by_ip, "mac"), &err) < 0 ||
		    lab_ping(lab_incus_net(vm), ip, par.pings, PING_INTERVAL_MS, &r->ping[i],
			     &err) < 0 ||
		    lab_udp(lab_incus_net(vm), g, ip, UDP_FLOWS, par.udp, UDP_RATE, &r->udp[i],
			    &err) < 0)
			diag("%s: traffic: %s", nics[i].name, err.msg);
		if (!nics[i].coldplug)
			continue;
		ok(r->ping[i].sent >= par.pings && r->ping[i].lost == 0,
		   "%u vCPUs: %s (%s): %llu pings, %llu lost", r->vcpus, nics[i].name, nics[i].role,
		   (unsigned long long)r->ping[i].sent, (unsigned long long)r->ping[i].lost);
		ok(r->udp[i].sent >= par.udp && r->udp[i].lost == 0 &&
			   r->udp[i].flows_complete == UDP_FLOWS,
		   "%u vCPUs: %s (%s): %llu UDP packets in %u flows, %llu lost", r->vcpus,
		   nics[i].name, nics[i].role, (unsigned long long)r->udp[i].sent, r->udp[i].flows,
		   (unsigned long long)r->udp[i].lost);
	}
	ok(r->found[3] && r->ping[3].loss_pct + r->udp[3].loss_pct > 100.0,
	   "%u vCPUs: the seed method, beside them, loses (ping %.1f%%, UDP %.1f%%; its NIC %s "
	   "in the guest)",
	   r->vcpus, r->ping[3].loss_pct, r->udp[3].loss_pct, r->found[3] ? "is" : "is NOT");
}

/**
 * queues_read() - one reading of eth0's queues in the guest, as a test
 * @g:		console
 * @iface:	eth0's name in the guest
 * @r:		result (for the vCPUs)
 * @what:	when (for the message)
 * @q:		filled
 *
 * Return: true if read
 */
static bool queues_read(struct lab_guest *g, const char *iface, const struct result *r,
			const char *what, struct lab_queues *q)
{
	struct cp_error err = { 0 };
	bool read = lab_guest_queues(g, iface, true, q, &err) == 0;

	ok(read, "%u vCPUs: eth0 (coldplug direct): the guest's per-queue counters %s%s%s",
	   r->vcpus, what, read ? "" : ": ", read ? "" : err.msg);
	return read;
}

/**
 * queues_carried() - assert which queues carried packets between readings
 * @r:		result (for the vCPUs)
 * @dir:	"RX" or "TX"
 * @v:		per-queue packets carried (a delta)
 * @n:		queues
 * @min:	packets that make a queue count as carrying
 * @all:	every queue must (else at least two)
 */
static void queues_carried(const struct result *r, const char *dir, const uint64_t *v, unsigned n,
			   uint64_t min, bool all)
{
	unsigned c = lab_queues_carrying(v, n, min), q;
	char split[128], counts[256] = "";
	size_t len = 0;

	lab_queues_split(v, n, split, sizeof(split));
	for (q = 0; q < n && len < sizeof(counts); q++)
		len += (size_t)snprintf(counts + len, sizeof(counts) - len, "%s%llu", q ? "/" : "",
					(unsigned long long)v[q]);
	ok(all ? c == n && n >= 2 : c >= 2,
	   "%u vCPUs: eth0 (coldplug direct): %s on %s queues: %u/%u carried %llu+ packets (%s: "
	   "%s)",
	   r->vcpus, dir, all ? "every one of its" : "at least two of its", c, n,
	   (unsigned long long)min, counts, split);
}

/**
 * check_direct_queues() - the direct NIC carries traffic on every queue
 * @vm:		running VM, the broadcast noise stopped (so nothing but what
 *		this sends reaches the guest's queues)
 * @g:		console
 * @rep:	the guest's report
 * @r:		result
 *
 * The direct slot's netdev must open the tap with Incus's queue count, and
 * the guest must see them all: a slot with fewer queues, or a guest on
 * queue 0 alone, passes every loss check and fails here.
 *
 * RX: a multi-queue tap puts each flow on a queue by its hash, so UDP_FLOWS
 * flows reach every queue with near certainty where
 * lab_queues_all_likely() says so (2 queues: 2 vCPUs, or 1); on more
 * queues (4, 8 vCPUs) some queue gets no flow by chance, and only "at
 * least two" is guaranteed. A queue carries at least half a flow's packets
 * (the ICMP and ARP the TX step brings are later, and fewer).
 *
 * TX: the guest picks a packet's TX queue by the sending CPU (the XPS map
 * virtio_net sets: with as many queue pairs as CPUs, CPU k sends on queue
 * k; with more queues than CPUs a CPU's map holds several and the flow hash
 * picks), so `cptraffic cpusend` sends from each CPU in turn. Every queue
 * is guaranteed only when queues == vCPUs; with 1 vCPU on 2 queues nothing
 * is asserted about TX. The peer answers those packets with (rate-limited)
 * ICMP port unreachable; nothing listens.
 */
static void check_direct_queues(struct lab_incus *vm, struct lab_guest *g,
				const struct lab_guest_report *rep, const struct result *r)
{
	const struct lab_guest_record *rec = lab_report_find(rep, "net", "mac", nics[0].hwaddr);
	unsigned want = r->vcpus > 2 ? r->vcpus : 2;
	struct lab_queues q0, q1, q2, d;
	struct cp_error err = { 0 };
	struct lab_loss l;
	char ip[32], peer[32];
	const char *iface = rec ? lab_record_get(rec, "name") : NULL;

	if (!iface) {
		ok(false, "%u vCPUs: eth0's queues: no such NIC in the guest", r->vcpus);
		return;
	}
	if (!queues_read(g, iface, r, "before", &q0))
		return;
	ok(q0.max == want && q0.combined == want && q0.n == want,
	   "%u vCPUs: eth0 (coldplug direct): the guest's virtio_net has %u queue pairs, all in "
	   "use (max %u, in use %u, %u counted)",
	   r->vcpus, want, q0.max, q0.combined, q0.n);
	/* Linux's own choice, before queues_read() set them all: min(vCPUs, max) */
	ok(q0.was == (r->vcpus < q0.max ? r->vcpus : q0.max),
	   "%u vCPUs: eth0: the guest itself had used min(vCPUs, %u) = %u queue pairs (%u)",
	   r->vcpus, q0.max, r->vcpus < q0.max ? r->vcpus : q0.max, q0.was);
	lab_incus_nic_ip(vm, nics[0].name, ip, sizeof(ip));
	lab_net_host_ip_for(lab_incus_net(vm), 0, peer, sizeof(peer));
	if (lab_udp(lab_incus_net(vm), g, ip, UDP_FLOWS, par.udp, UDP_RATE, &l, &err) < 0)
		diag("eth0: UDP for the queues: %s", err.msg);
	if (!queues_read(g, iface, r, "after UDP host->guest", &q1))
		return;
	if (lab_queues_delta(&q0, &q1, &d, &err) < 0) {
		ok(false, "%u vCPUs: eth0: RX per queue: %s", r->vcpus, err.msg);
		return;
	}
	queues_carried(r, "RX", d.rx, d.n, par.udp / UDP_FLOWS / 2,
		       lab_queues_all_likely(d.n, UDP_FLOWS));
	if (lab_guest_cpusend(g, peer, CPUSEND_COUNT, &err) < 0)
		diag("eth0: cpusend: %s", err.msg);
	if (!queues_read(g, iface, r, "after cpusend", &q2))
		return;
	if (lab_queues_delta(&q1, &q2, &d, &err) < 0) {
		ok(false, "%u vCPUs: eth0: TX per queue: %s", r->vcpus, err.msg);
		return;
	}
	if (r->vcpus == d.n) {
		queues_carried(r, "TX", d.tx, d.n, CPUSEND_COUNT / 2, true);
	} else {
		char split[128];

		lab_queues_split(d.tx, d.n, split, sizeof(split));
		diag("%u vCPUs: eth0: TX per queue from each CPU (not asserted: %u vCPUs on %u "
		     "queues): %s",
		     r->vcpus, r->vcpus, d.n, split);
	}
}

/**
 * netdev_listed() - whether `info network` names @id
 * @vm:	emulator
 * @id:	netdev or NIC id
 *
 * Return: true if listed (or unknown)
 */
static bool netdev_listed(struct lab_incus *vm, const char *id)
{
	struct cp_error err = { 0 };
	cp_json *a = cp_json_new_object();
	cleanup_json cp_json *ret = NULL;
	struct hmp_network net = { 0 };
	bool found = true;
	size_t i;

	cp_json_set_str(a, "command-line", "info network");
	ret = lab_incus_call(vm, "human-monitor-command", a, NULL, 0, &err);
	if (ret && cp_json_as_str(ret) && hmp_network_parse(cp_json_as_str(ret), &net, &err) == 0) {
		found = false;
		for (i = 0; i < net.n; i++)
			found |= cp_streq(net.clients[i].name, id);
		hmp_network_free(&net);
	}
	return found;
}

/**
 * check_incus_ops() - set_link and detach on the usb path, as Incus does them
 * @vm:		running VM
 * @g:		console
 * @r:		result
 */
static void check_incus_ops(struct lab_incus *vm, struct lab_guest *g, const struct result *r)
{
	struct cp_error err = { 0 };
	struct lab_loss l = { 0 };
	cleanup_free char *text = NULL;
	char ip[32];
	int rc;

	lab_incus_nic_ip(vm, "eth2", ip, sizeof(ip));
	rc = lab_incus_nic_set_link(vm, "eth2", false, &err);
	ok(rc == 0, "%u vCPUs: Incus's set_link dev-incus_eth2 down works%s%s", r->vcpus,
	   rc ? ": " : "", rc ? err.msg : "");
	lab_ping(lab_incus_net(vm), ip, 5, 100, &l, &err);
	ok(l.sent == 5 && l.received == 0, "%u vCPUs: link down: no ping answered (%llu of %llu)",
	   r->vcpus, (unsigned long long)l.received, (unsigned long long)l.sent);
	rc = lab_incus_nic_set_link(vm, "eth2", true, &err);
	ok(rc == 0, "%u vCPUs: set_link up", r->vcpus);
	lab_sleep_ms(1000);
	lab_ping(lab_incus_net(vm), ip, 10, 100, &l, &err);
	ok(l.received == 10, "%u vCPUs: link up: pings answered again (%llu of 10)", r->vcpus,
	   (unsigned long long)l.received);
	rc = lab_incus_nic_detach(vm, "eth2", &err);
	ok(rc == 0, "%u vCPUs: Incus's NIC detach of eth2 completes%s%s", r->vcpus, rc ? ": " : "",
	   rc ? err.msg : "");
	ok(!netdev_listed(vm, "incus_eth2") && !netdev_listed(vm, "dev-incus_eth2"),
	   "%u vCPUs: nothing of eth2 is left in QEMU (info network)", r->vcpus);
	lab_sleep_ms(1000);
	lab_guest_command(g, "net", 60000, &text, NULL, &err);
	ok(text && !strstr(text, nics[2].hwaddr), "%u vCPUs: the guest no longer has eth2",
	   r->vcpus);
}

/**
 * run_vm() - one VM: start, check, measure, operate
 * @vcpus:	vCPU count
 * @r:		filled
 *
 * Return: 0; -2 if the guest never reported (TCG abort or boot hang: the
 * caller retries once); -1 otherwise
 */
static int run_vm(unsigned vcpus, struct result *r)
{
	struct cp_error err = { 0 };
	cleanup_free char *dir = lab_scratch_dir("rehome-nics", &err);
	struct hook_result h = { .pci_rc = -1, .usb_dry_rc = -1, .usb_rc = -1, .seed_rc = -1 };
	struct lab_guest_report *rep = NULL;
	struct lab_guest *g = NULL;
	struct lab_incus *vm = NULL;
	struct lab_incus_opts o;
	struct conf_arg ca;
	char conf[512];
	int rc = -1;
	size_t i;

	memset(r, 0, sizeof(*r));
	r->vcpus = vcpus;
	if (!dir)
		goto fail;
	lab_fmt(conf, sizeof(conf), "%s/coldplug.conf", dir);
	ca.vcpus = vcpus;
	ca.path = conf;
	lab_incus_opts_init(&o);
	o.qemu = par.qemu;
	o.vcpus = vcpus;
	o.boot_guest = true;
	o.extra_conf[0] = conf;
	o.pre_start = pre_start;
	o.pre_start_arg = &h;
	o.config = write_conf;
	o.config_arg = &ca;
	vm = lab_incus_new(&o, &err);
	if (!vm ||
	    lab_incus_add_disk(
		    vm, &(struct lab_disk_spec){ .name = "root", .root = true, .size = 16 << 20 },
		    &err) < 0)
		goto fail;
	for (i = 0; i < NICS; i++)
		if (lab_incus_add_nic(vm,
				      &(struct lab_nic_spec){ .name = nics[i].name,
							      .bus = nics[i].bus,
							      .hwaddr = nics[i].hwaddr },
				      &err) < 0)
			goto fail;
	if (lab_incus_launch(vm, &err) < 0 ||
	    lab_net_noise_start(lab_incus_net(vm), NOISE_RATE, NOISE_MAX_S, &err) < 0 ||
	    lab_incus_pre_start(vm, &err) < 0 || lab_incus_resume(vm, &err) < 0)
		goto fail;
	check_hook(r, &h);
	check_queues(vm, r);
	if (!(g = lab_guest_new(vm, &err)) ||
	    lab_guest_read_report(g, REPORT_TIMEOUT_MS, &rep, &err) < 0) {
		diag("QEMU %s, %u vCPUs: the guest did not report: %s%s", par.qemu, vcpus, err.msg,
		     lab_incus_tcg_abort(vm) ? " (QEMU aborted under TCG)" : "");
		rc = -2;
		goto out;
	}
	measure(vm, g, rep, r);
	diag("broadcast frames sent: %llu",
	     (unsigned long long)lab_net_noise_stop(lab_incus_net(vm)));
	check_direct_queues(vm, g, rep, r);
	check_incus_ops(vm, g, r);
	rc = 0;
	goto out;
fail:
	ok(false, "QEMU %s, %u vCPUs: the VM starts: %s", par.qemu, vcpus, err.msg);
out:
	lab_guest_report_free(rep);
	lab_guest_free(g);
	lab_incus_free(vm);
	free(h.pci_out);
	free(h.usb_dry_out);
	free(h.usb_out);
	if (dir)
		lab_remove_tree(dir);
	return rc;
}

/**
 * print_table() - the loss figures
 * @res:	results
 * @n:		their count
 */
static void print_table(const struct result *res, size_t n)
{
	size_t i, k;

	diag("loss on QEMU %s (%u pings %u ms apart, %u UDP packets in %u flows, per NIC):",
	     par.qemu, par.pings, PING_INTERVAL_MS, par.udp, UDP_FLOWS);
	for (i = 0; i < n; i++)
		for (k = 0; k < NICS; k++)
			diag("  vCPUs %u  %s %-13s ping %5.1f%% lost   UDP %5.1f%% lost, %2u/%u flows "
			     "intact%s",
			     res[i].vcpus, nics[k].name, nics[k].role, res[i].ping[k].loss_pct,
			     res[i].udp[k].loss_pct, res[i].udp[k].flows_complete,
			     res[i].udp[k].flows, res[i].found[k] ? "" : " (not in the guest)");
}

/**
 * parse_params() - the command line
 * @argc:	count
 * @argv:	arguments
 *
 * Return: 0, or -1
 */
static int parse_params(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "qemu", required_argument, NULL, 'q' },
		{ "vcpus", required_argument, NULL, 'c' },
		{ "pings", required_argument, NULL, 'p' },
		{ "udp", required_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 },
	};
	int o;

	par = (struct params){
		.qemu = "7.2", .vcpus = { 4 }, .nvcpus = 1, .pings = 1000, .udp = 1600
	};
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'q':
			par.qemu = optarg;
			break;
		case 'p':
			par.pings = (unsigned)lab_num(optarg);
			break;
		case 'u':
			par.udp = (unsigned)lab_num(optarg);
			break;
		case 'c':
			par.nvcpus = lab_num_list(optarg, par.vcpus, MAX_RUNS);
			if (!par.nvcpus)
				return -1;
			break;
		default:
			return -1;
		}
	}
	return par.nvcpus && par.pings && par.udp ? 0 : -1;
}

/**
 * main() - one VM per vCPU count
 * @argc:	argument count
 * @argv:	see parse_params()
 *
 * Return: TAP exit status
 */
int main(int argc, char **argv)
{
	struct result res[MAX_RUNS];
	cleanup_free char *qemu = NULL;
	size_t i;
	int attempt;

	if (parse_params(argc, argv) < 0)
		bail_out(
			"usage: test-rehome-nics --qemu V [--vcpus 1,2,4,8] [--pings N] [--udp N]");
	qemu = lab_qemu_path(par.qemu);
	if (!qemu)
		bail_out("QEMU %s is not configured: run tests/qemu/prepare.sh BUILD_DIR",
			 par.qemu);
	for (i = 0; i < par.nvcpus; i++) {
		int64_t t0 = cp_now_ms();

		for (attempt = 1; run_vm(par.vcpus[i], &res[i]) == -2; attempt++) {
			if (attempt == LAB_BOOT_ATTEMPTS) {
				ok(false, "QEMU %s, %u vCPUs: the guest did not report in %d boots",
				   par.qemu, par.vcpus[i], attempt);
				break;
			}
			diag("QEMU %s, %u vCPUs: boot %d of %d: TCG abort or boot hang "
			     "(qemu-notes §9), retrying",
			     par.qemu, par.vcpus[i], attempt, LAB_BOOT_ATTEMPTS);
		}
		diag("QEMU %s, %u vCPUs: %lld s", par.qemu, par.vcpus[i],
		     (long long)(cp_now_ms() - t0) / 1000);
	}
	print_table(res, par.nvcpus);
	return done_testing();
}

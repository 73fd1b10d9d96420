/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The lab must see the bug before it can prove the fix (issue 3).
 *
 * One VM per vCPU count, started exactly as Incus starts it, with three
 * bridged NICs on the test bridge:
 *   eth0  virtio-net, re-homed at pre-start with the original write-up's
 *         method (seed-forum-post.txt): `info network` fd numbers, a second
 *         tap netdev on those numbers, usb-net, set_link down, device_del;
 *   eth1  Incus's own io.bus=usb NIC (usb-net on max(vCPUs, 2) queues);
 *   eth2  an untouched virtio-net NIC: the control, which must not lose.
 * The bridge carries ~20 broadcast frames/s from launch on, so traffic
 * reaches the taps while the VM is paused, as on a live Incus host
 * (qemu-notes §9). After `cont` each NIC gets pings and a 16-flow UDP
 * stream from the peer namespace; the loss figures are printed as a table,
 * and at the asserted vCPU count the seed method must lose well over half,
 * and Incus's usb NIC must lose whole flows.
 *
 *   test-lab-loss --qemu 7.2|10.0 [--vcpus 1,2,4,8] [--assert 4] [--pings N]
 *                 [--assert-pings 1000] [--udp N]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coldplug/cleanup.h"
#include "coldplug/qmp.h"
#include "guest.h"
#include "incus.h"
#include "netns.h"
#include "proc.h"
#include "run.h"
#include "seed.h"
#include "tap.h"
#include "util.h"

#define MAX_RUNS	  8
#define NICS		  3
#define NOISE_RATE	  20
#define NOISE_MAX_S	  600
#define REPORT_TIMEOUT_MS 90000
#define PING_INTERVAL_MS  5
#define UDP_FLOWS	  16
#define UDP_RATE	  800

static const char *const nic_names[NICS] = { "eth0", "eth1", "eth2" };
static const char *const nic_roles[NICS] = { "seed method", "Incus io.bus=usb", "control virtio" };

/**
 * struct params - what to run
 * @qemu:	"7.2" or "10.0"
 * @vcpus:	vCPU counts, one VM each
 * @nvcpus:	their count
 * @assert_at:	vCPU count whose figures are asserted (0: none)
 * @pings:	pings per NIC
 * @assert_pings: pings per NIC in the asserted run
 * @udp:	UDP packets per NIC
 */
struct params {
	const char *qemu;
	unsigned vcpus[MAX_RUNS];
	size_t nvcpus;
	unsigned assert_at;
	unsigned pings;
	unsigned assert_pings;
	unsigned udp;
};

/**
 * struct result - one VM's figures
 * @vcpus:	its vCPU count
 * @ping:	per NIC
 * @udp:	per NIC
 * @have_ip:	the guest configured the NIC's address
 * @reported:	the guest booted and printed its report
 * @done:	the run completed
 */
struct result {
	unsigned vcpus;
	struct lab_loss ping[NICS];
	struct lab_loss udp[NICS];
	bool have_ip[NICS];
	bool reported;
	bool done;
};

/**
 * seed_hook() - pre-start: the write-up's NIC loop, on Incus's connection
 * @vm:		emulator
 * @arg:	unused
 * @err:	filled on failure
 *
 * Every child<virtio-net-pci> in /machine/peripheral except the control
 * NIC (eth2) is re-homed, as the scriptlet would (it knows no control).
 * Broadcast frames reach the paused VM's taps for a second first (a start
 * takes that long on a live bridge); the remap then starts right after a
 * frame, so the few milliseconds until Incus's `cont` are quiet, as they are
 * in about 9 of 10 starts at 20 frames/s. A frame in that window gives the
 * new netdev a queued frame of its own, and the seed method then happens to
 * work (qemu-notes §9: 15 of 16 runs lost everything).
 *
 * Return: 0, or -1
 */
static int seed_hook(struct lab_incus *vm, void *arg, struct cp_error *err)
{
	cp_json *a = cp_json_new_object();
	cleanup_json cp_json *list = NULL;
	size_t i;
	int net_id = 0;

	(void)arg;
	lab_sleep_ms(1000); /* broadcast frames reach the paused VM's taps */
	lab_net_noise_sync(lab_incus_net(vm));
	cp_json_set_str(a, "path", "/machine/peripheral");
	list = lab_incus_call(vm, "qom-list", a, NULL, 0, err);
	for (i = 0; list && i < cp_json_len(list); i++) {
		cp_json *e = cp_json_at(list, i);
		const char *name = cp_json_get_str(e, "name");

		if (!cp_streq(cp_json_get_str(e, "type"), "child<virtio-net-pci>") ||
		    cp_streq(name, "dev-incus_eth2"))
			continue;
		if (lab_seed_remap(vm, name, net_id++, err) < 0)
			return -1;
	}
	return list ? 0 : -1;
}

/**
 * new_vm() - the VM of one run, not started
 * @p:		parameters
 * @vcpus:	vCPU count
 * @err:	filled on failure
 *
 * Return: new emulator, or NULL
 */
static struct lab_incus *new_vm(const struct params *p, unsigned vcpus, struct cp_error *err)
{
	struct lab_incus_opts o;
	struct lab_incus *vm;
	size_t i;

	lab_incus_opts_init(&o);
	o.qemu = p->qemu;
	o.vcpus = vcpus;
	o.boot_guest = true;
	o.pre_start = seed_hook;
	vm = lab_incus_new(&o, err);
	if (!vm ||
	    lab_incus_add_disk(
		    vm, &(struct lab_disk_spec){ .name = "root", .root = true, .size = 16 << 20 },
		    err) < 0)
		goto fail;
	for (i = 0; i < NICS; i++)
		if (lab_incus_add_nic(
			    vm,
			    &(struct lab_nic_spec){ .name = nic_names[i],
						    .bus = i == 1 ? LAB_NIC_USB : LAB_NIC_VIRTIO },
			    err) < 0)
			goto fail;
	return vm;
fail:
	lab_incus_free(vm);
	return NULL;
}

/**
 * measure_nic() - static ARP entry, pings and a UDP stream for one NIC
 * @vm:		running emulator
 * @g:		guest console
 * @rep:	the guest's report
 * @p:		parameters
 * @i:		NIC number
 * @r:		filled
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int measure_nic(struct lab_incus *vm, struct lab_guest *g,
		       const struct lab_guest_report *rep, const struct params *p, size_t i,
		       struct result *r, struct cp_error *err)
{
	char ip[32], cidr[40];
	const struct lab_guest_record *rec;

	lab_incus_nic_ip(vm, nic_names[i], ip, sizeof(ip));
	lab_fmt(cidr, sizeof(cidr), "%s/24", ip);
	rec = lab_report_find(rep, "net", "ip", cidr);
	r->have_ip[i] = rec != NULL;
	if (!rec) {
		/* No address: nothing can arrive. Count it as total loss. */
		unsigned pings = r->vcpus == p->assert_at ? p->assert_pings : p->pings;

		r->ping[i] = (struct lab_loss){
			.sent = pings, .lost = pings, .flows = 1, .loss_pct = 100
		};
		r->udp[i] = (struct lab_loss){
			.sent = p->udp, .lost = p->udp, .flows = UDP_FLOWS, .loss_pct = 100
		};
		return 0;
	}
	if (lab_net_neigh(lab_incus_net(vm), ip, lab_record_get(rec, "mac"), err) < 0 ||
	    lab_ping(lab_incus_net(vm), ip, r->vcpus == p->assert_at ? p->assert_pings : p->pings,
		     PING_INTERVAL_MS, &r->ping[i], err) < 0)
		return -1;
	return lab_udp(lab_incus_net(vm), g, ip, UDP_FLOWS, p->udp, UDP_RATE, &r->udp[i], err);
}

/**
 * run_vm() - start, boot, measure every NIC
 * @vm:		emulator
 * @p:		parameters
 * @r:		filled
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int run_vm(struct lab_incus *vm, const struct params *p, struct result *r,
		  struct cp_error *err)
{
	struct lab_guest_report *rep = NULL;
	struct lab_guest *g = NULL;
	size_t i;
	int rc = -1;

	if (lab_incus_launch(vm, err) < 0 ||
	    lab_net_noise_start(lab_incus_net(vm), NOISE_RATE, NOISE_MAX_S, err) < 0 ||
	    lab_incus_pre_start(vm, err) < 0 || lab_incus_resume(vm, err) < 0)
		return -1;
	g = lab_guest_new(vm, err);
	if (!g || lab_guest_read_report(g, REPORT_TIMEOUT_MS, &rep, err) < 0)
		goto out;
	r->reported = true;
	for (i = 0; i < NICS; i++)
		if (measure_nic(vm, g, rep, p, i, r, err) < 0)
			goto out;
	r->done = true;
	rc = 0;
out:
	diag("broadcast frames sent: %llu",
	     (unsigned long long)lab_net_noise_stop(lab_incus_net(vm)));
	lab_guest_report_free(rep);
	lab_guest_free(g);
	return rc;
}

/**
 * run_once() - one VM, with the known QEMU 10.0 TCG abort retried
 * @p:		parameters
 * @vcpus:	vCPU count
 * @r:		filled
 *
 * Return: 0, or -1 (reported)
 */
static int run_once(const struct params *p, unsigned vcpus, struct result *r)
{
	struct cp_error err = { 0 };
	const char *why = NULL;
	int attempt;

	for (attempt = 1; attempt <= LAB_BOOT_ATTEMPTS; attempt++) {
		struct lab_incus *vm = new_vm(p, vcpus, &err);
		int rc;

		memset(r, 0, sizeof(*r));
		r->vcpus = vcpus;
		rc = vm ? run_vm(vm, p, r, &err) : -1;
		if (rc < 0 && vm && lab_incus_tcg_abort(vm))
			why = "QEMU aborted under TCG (iotlb_to_section, qemu-notes §9)";
		else if (rc < 0 && vm && lab_incus_pid(vm) && !r->reported)
			why = "the guest never reached its report (a TCG boot hang)";
		else
			why = NULL;
		lab_incus_free(vm);
		if (rc == 0)
			return 0;
		if (!why || attempt == LAB_BOOT_ATTEMPTS)
			break;
		diag("QEMU %s, %u vCPUs: %s: %s; boot %d of %d failed, retrying", p->qemu, vcpus,
		     why, err.msg, attempt, LAB_BOOT_ATTEMPTS);
	}
	return ok(false, "QEMU %s, %u vCPUs: run completed: %s", p->qemu, vcpus, err.msg), -1;
}

/**
 * print_table() - the loss figures, one line per vCPU count
 * @p:		parameters
 * @res:	results
 * @n:		their count
 */
static void print_table(const struct params *p, const struct result *res, size_t n)
{
	size_t i, k;

	diag("loss on QEMU %s (%u pings %u ms apart, %u at %u vCPUs; %u UDP packets in %u flows; "
	     "per NIC):",
	     p->qemu, p->pings, PING_INTERVAL_MS, p->assert_pings, p->assert_at, p->udp, UDP_FLOWS);
	for (i = 0; i < n; i++)
		for (k = 0; res[i].done && k < NICS; k++)
			diag("  vCPUs %u  %-17s ping %5.1f%% lost   UDP %5.1f%% lost, %2u/%u flows "
			     "intact%s",
			     res[i].vcpus, nic_roles[k], res[i].ping[k].loss_pct,
			     res[i].udp[k].loss_pct, res[i].udp[k].flows_complete,
			     res[i].udp[k].flows, res[i].have_ip[k] ? "" : " (no address)");
}

/**
 * check_result() - the assertions for one run
 * @p:	parameters
 * @r:	result
 */
static void check_result(const struct params *p, const struct result *r)
{
	if (!r->done)
		return;
	ok(r->ping[2].loss_pct <= 1.0 && r->udp[2].loss_pct <= 1.0,
	   "QEMU %s, %u vCPUs: the control virtio NIC loses nothing (ping %.1f%%, UDP %.1f%%)",
	   p->qemu, r->vcpus, r->ping[2].loss_pct, r->udp[2].loss_pct);
	/* A NIC the guest never configured loses everything: it proves no bug. */
	ok(r->have_ip[1] && (r->udp[1].flows_complete < r->udp[1].flows),
	   "QEMU %s, %u vCPUs (%u queues): Incus's io.bus=usb NIC, configured in the guest, loses "
	   "whole flows (%u/%u intact)",
	   p->qemu, r->vcpus, (r->vcpus > 2) ? r->vcpus : 2, r->udp[1].flows_complete,
	   r->udp[1].flows);
	if (r->vcpus != p->assert_at)
		return;
	ok(r->have_ip[0] && r->ping[0].loss_pct > 75.0,
	   "QEMU %s, %u vCPUs: the seed method, configured in the guest, loses pings: %.1f%%",
	   p->qemu, r->vcpus, r->ping[0].loss_pct);
	ok(r->have_ip[0] && r->udp[0].loss_pct > 75.0,
	   "QEMU %s, %u vCPUs: the seed method, configured in the guest, loses UDP: %.1f%%",
	   p->qemu, r->vcpus, r->udp[0].loss_pct);
}

/**
 * parse_params() - the command line
 * @p:		filled
 * @argc:	count
 * @argv:	arguments
 *
 * Return: 0, or -1
 */
static int parse_params(struct params *p, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "qemu", required_argument, NULL, 'q' },
		{ "vcpus", required_argument, NULL, 'c' },
		{ "assert", required_argument, NULL, 'a' },
		{ "pings", required_argument, NULL, 'p' },
		{ "udp", required_argument, NULL, 'u' },
		{ "assert-pings", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	int o;

	*p = (struct params){ .qemu = "7.2",
			      .vcpus = { 4 },
			      .nvcpus = 1,
			      .assert_at = 4,
			      .pings = 1000,
			      .assert_pings = 1000,
			      .udp = 1600 };
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'q':
			p->qemu = optarg;
			break;
		case 'a':
			p->assert_at = (unsigned)lab_num(optarg);
			break;
		case 'p':
			p->pings = (unsigned)lab_num(optarg);
			break;
		case 'u':
			p->udp = (unsigned)lab_num(optarg);
			break;
		case 'P':
			p->assert_pings = (unsigned)lab_num(optarg);
			break;
		case 'c':
			p->nvcpus = lab_num_list(optarg, p->vcpus, MAX_RUNS);
			if (!p->nvcpus)
				return -1;
			break;
		default:
			return -1;
		}
	}
	return p->nvcpus && p->pings && p->udp ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct result res[MAX_RUNS];
	struct params p;
	cleanup_free char *qemu = NULL;
	size_t i;

	if (parse_params(&p, argc, argv) < 0)
		bail_out("usage: test-lab-loss --qemu V [--vcpus 1,2,4,8] [--assert N] "
			 "[--pings N] [--udp N]");
	qemu = lab_qemu_path(p.qemu);
	if (!qemu)
		bail_out("QEMU %s is not configured: run tests/qemu/prepare.sh BUILD_DIR", p.qemu);
	for (i = 0; i < p.nvcpus; i++)
		if (run_once(&p, p.vcpus[i], &res[i]) == 0)
			check_result(&p, &res[i]);
	print_table(&p, res, p.nvcpus);
	return done_testing();
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The NIC benchmark (issue 5): what every part of bench-nic shares. One VM
 * per configuration, started by the lab's Incus emulator over real QEMU
 * (tests/qemu/lab), measured from the test network's peer namespace; the
 * figures go to a JSON file, and RESULTS.md is generated from those files
 * (nic_report.c), never edited by hand.
 */
#ifndef COLDPLUG_BENCH_NIC_H
#define COLDPLUG_BENCH_NIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "coldplug/error.h"
#include "coldplug/json.h"

struct lab_incus;
struct lab_guest;

#define BENCH_NIC_ERR_MAX 512
#define BENCH_NIC_LADDER  2
#define BENCH_NIC_QUEUES  16

/* The most TCP runs one direction may make (bench_nic_params.tcp_rounds). */
#define BENCH_NIC_TCP_ROUNDS 8

/* How a configuration gets its NIC to the guest. */
enum bench_nic_kind {
	BENCH_NIC_NATIVE = 0, /* Incus's virtio-net NIC, left alone */
	BENCH_NIC_PCI,	      /* coldplug rehome --nic-frontend pci, behind a net hub */
	BENCH_NIC_USB,	      /* coldplug rehome --nic-frontend usb */
	BENCH_NIC_INCUS_USB,  /* Incus's io.bus=usb NIC */
	BENCH_NIC_SEED,	      /* the original write-up's method (tests/qemu/lab/seed.h) */
	BENCH_NIC_DIRECT,     /* coldplug qemu-conf --nic-tap: a slot on Incus's own tap */
};

/**
 * struct bench_nic_config - one configuration: one VM with one NIC, eth0
 * @key:	short name (JSON, --configs)
 * @label:	what the tables call it
 * @kind:	how the NIC is set up
 * @model:	the PCI NIC slot's model (BENCH_NIC_PCI, BENCH_NIC_DIRECT),
 *		else NULL
 * @hwaddr:	the NIC's MAC (40: for the usb-net cases: usb-net before QEMU
 *		10.2 forces that first byte on some builds)
 * @side_by_side: its VM runs beside the others that have this, and their
 *		TCP runs take turns (the configurations the direct path's
 *		target compares: native, direct, native-end)
 */
struct bench_nic_config {
	const char *key;
	const char *label;
	enum bench_nic_kind kind;
	const char *model;
	const char *hwaddr;
	bool side_by_side;
};

/**
 * struct bench_nic_params - what one run measures, and how long
 * @qemu:		"7.2" or "10.0"
 * @vcpus:		guest vCPUs
 * @queues:		the tap's queues: Incus opens max(vCPUs, 2), and the
 *			direct slot gets as many (--nic-queues)
 * @vhost:		/dev/vhost-net is usable: Incus's NIC and the direct
 *			slot then use vhost-net (Incus's own test)
 * @memory_mb:		guest memory
 * @pings:		pings host -> guest
 * @ping_interval_ms:	their spacing
 * @tcp_seconds:	each TCP run
 * @tcp_rounds:		TCP runs each way, each a new connection; the best is
 *			the figure (one 5 s run moved by up to 1.6× between
 *			two runs on the same VM, on either queue)
 * @udp_count:		UDP packets at the fixed rate, each direction
 * @udp_rate:		that rate (packets/s)
 * @udp_flows:		UDP flows (source ports), so a multi-queue tap hashes
 *			them apart
 * @burst_count:	UDP packets of each step above the fixed rate, each
 *			direction
 * @ladder_rates:	the steps between the fixed rate and the burst
 *			(packets/s), to find where loss starts
 * @burst_rate:		the max-rate burst host -> guest (the lab's sender
 *			caps at 100000/s); guest -> host it is unpaced
 * @noise_rate:		broadcast frames/s on the bridge from launch until the
 *			guest reports (as on a live Incus bridge)
 * @quick:		the short variant (--quick)
 */
struct bench_nic_params {
	const char *qemu;
	unsigned vcpus;
	unsigned queues;
	bool vhost;
	unsigned memory_mb;
	unsigned pings;
	unsigned ping_interval_ms;
	unsigned tcp_seconds;
	unsigned tcp_rounds;
	unsigned udp_count;
	unsigned udp_rate;
	unsigned udp_flows;
	unsigned burst_count;
	unsigned ladder_rates[BENCH_NIC_LADDER];
	unsigned burst_rate;
	unsigned noise_rate;
	bool quick;
};

/**
 * struct bench_udp - a bounded packet run (ping or UDP) and its delivery
 * @ok:		it ran and was counted (else see @error)
 * @rate:	packets/s asked for (0: unpaced)
 * @sent:	packets sent
 * @received:	packets counted at the receiver
 * @flows:	flows used
 * @flows_complete: flows that lost nothing
 * @error:	why it could not be counted
 */
struct bench_udp {
	bool ok;
	unsigned rate;
	uint64_t sent;
	uint64_t received;
	unsigned flows;
	unsigned flows_complete;
	char error[BENCH_NIC_ERR_MAX];
};

/**
 * struct bench_tcp - the TCP runs of one direction
 * @ok:		every run completed (else see @error)
 * @kbit_s:	the best run's rate: the figure
 * @bytes:	the bytes that run moved
 * @rounds:	runs made
 * @round_kbit_s: each run's rate, in order
 * @error:	why a run failed (a connection that never came up)
 */
struct bench_tcp {
	bool ok;
	int64_t kbit_s;
	uint64_t bytes;
	unsigned rounds;
	int64_t round_kbit_s[BENCH_NIC_TCP_ROUNDS];
	char error[BENCH_NIC_ERR_MAX];
};

/**
 * struct bench_queues - which of the NIC's queues carried one fixed-rate UDP
 * run, from the guest's per-queue counters (`cptraffic queues`, read before
 * and after; the bench leaves the queues in use as the guest chose them)
 * @ok:		read both times (else see @error)
 * @max:	queue pairs the NIC offers the guest
 * @combined:	those the guest uses
 * @n:		queues counted (0: the driver has no per-queue counters)
 * @packets:	packets per queue during the run: RX for host -> guest, TX
 *		for guest -> host
 * @error:	why not read
 */
struct bench_queues {
	bool ok;
	unsigned max;
	unsigned combined;
	unsigned n;
	uint64_t packets[BENCH_NIC_QUEUES];
	char error[BENCH_NIC_ERR_MAX];
};

/**
 * struct bench_nic_result - one configuration's figures
 * @cfg:		the configuration (borrowed, static)
 * @done:		the VM started and was measured
 * @attempts:		VMs started (2 after the one retry)
 * @retry_note:		why the first VM was retried, or ""
 * @error:		why the configuration has no figures, or ""
 * @seconds:		wall time, boots included
 * @qemu_version:	QEMU's query-version
 * @guest_kernel:	the guest's kernel release
 * @driver:		the guest driver bound to the NIC
 * @mac:		the MAC the guest sees
 * @path:		the NIC's place in the guest (sysfs, below /sys/devices)
 * @iface:		its name in the guest
 * @conf_cmd:		the `coldplug qemu-conf` command line (Incus's tap, named
 *			at launch, shown as TAP), or ""
 * @rehome_cmd:		the `coldplug rehome` command line (its socket
 *			shown as SOCKET), or "" (a hook of its own for the seed)
 * @ping:		pings host -> guest
 * @tcp_in:		TCP host -> guest
 * @tcp_out:		TCP guest -> host
 * @udp_in:		UDP host -> guest at the fixed rate
 * @ladder_in:		UDP host -> guest at the ladder's rates
 * @burst_in:		UDP host -> guest, max-rate burst
 * @udp_out:		UDP guest -> host at the fixed rate
 * @ladder_out:		UDP guest -> host at the ladder's rates
 * @burst_out:		UDP guest -> host, max-rate burst
 * @queues_in:		the queues that carried @udp_in (RX)
 * @queues_out:		the queues that carried @udp_out (TX)
 */
struct bench_nic_result {
	const struct bench_nic_config *cfg;
	bool done;
	unsigned attempts;
	char retry_note[BENCH_NIC_ERR_MAX];
	char error[BENCH_NIC_ERR_MAX];
	int64_t seconds;
	char qemu_version[64];
	char guest_kernel[64];
	char driver[32];
	char mac[32];
	char path[192];
	char iface[16];
	char conf_cmd[512];
	char rehome_cmd[512];
	struct bench_udp ping;
	struct bench_tcp tcp_in;
	struct bench_tcp tcp_out;
	struct bench_udp udp_in;
	struct bench_udp ladder_in[BENCH_NIC_LADDER];
	struct bench_udp burst_in;
	struct bench_udp udp_out;
	struct bench_udp ladder_out[BENCH_NIC_LADDER];
	struct bench_udp burst_out;
	struct bench_queues queues_in;
	struct bench_queues queues_out;
};

/**
 * struct bench_nic_run - one run of bench-nic (one QEMU version)
 * @started:		when it started, UTC, ISO 8601
 * @load_start:		/proc/loadavg then (the machine is shared)
 * @seconds:		how long it took
 * @qemu_binary:	the QEMU it ran
 */
struct bench_nic_run {
	char started[32];
	char load_start[64];
	int64_t seconds;
	const char *qemu_binary;
};

/* nic_measure.c */
void bench_nic_ready(struct lab_incus *vm, const struct bench_nic_result *r);
void bench_nic_tcp_turn(struct lab_incus *vm, const struct bench_nic_params *p, bool rx,
			struct bench_nic_result *r);
void bench_nic_measure(struct lab_incus *vm, struct lab_guest *g, const struct bench_nic_params *p,
		       struct bench_nic_result *r);

/* nic_report.c */
void bench_nic_run_begin(struct bench_nic_run *run);
cp_json *bench_nic_to_json(const struct bench_nic_params *p, const struct bench_nic_result *res,
			   size_t n, const struct bench_nic_run *run);
int bench_nic_markdown(const char *out, char *const *inputs, size_t n, struct cp_error *err);
void bench_nic_print(FILE *f, const cp_json *doc);

#endif /* COLDPLUG_BENCH_NIC_H */

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The lab's test network on its own, without QEMU: two namespaces, the
 * bridge and the veth, an Incus-style tap with queues opened the way
 * Incus's NIC hook opens them, the bounded broadcast generator, and the
 * cleanup that leaves nothing behind.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "netns.h"
#include "run.h"
#include "tap.h"

/**
 * check_tap() - a new tap and two queues as Incus opens them
 * @net:	network
 */
static void check_tap(struct lab_net *net)
{
	char tap[LAB_NET_IFNAMSIZ], want[64];
	cleanup_free char *out = NULL;
	struct cp_error err = { 0 };
	const char *argv[] = { lab_tool("ip"), "-d", "link", "show", "dev", tap, NULL };
	int q0, q1, nq = -1, nd = -1;

	if (!ok(lab_net_tap_add(net, tap, &err) == 0, "Incus-style tap created: %s", err.msg))
		return;
	ok(strlen(tap) == 11 && !strncmp(tap, "tap", 3), "tap name %s is tap + 8 hex digits", tap);
	ok(lab_net_run(net, LAB_NET_VM, argv, 5000, &out, &err) == 0, "ip -d link show %s", tap);
	snprintf(want, sizeof(want), "master %s", lab_net_bridge(net));
	like(out, want, "the tap is on the bridge");
	like(out, "persist on", "the tap is persistent");
	like(out, "multi_queue", "the tap is multi-queue");
	like(out, "vnet_hdr off", "no vnet header at creation");
	q0 = lab_net_tap_open_queue(net, tap, &err);
	q1 = lab_net_tap_open_queue(net, tap, &err);
	ok(q0 >= 0 && q1 >= 0, "two queues opened inside the VM namespace: %s", err.msg);
	ok(lab_net_tap_queues(net, tap, &nq, &nd, &err) == 0, "queue counts read: %s", err.msg);
	is_int(nq, 2, "numqueues");
	is_int(nd, 0, "numdisabled");
	close(q0);
	close(q1);
}

/**
 * check_peer() - the peer holds the host address; the host has none of it
 * @net:	network
 */
static void check_peer(struct lab_net *net)
{
	const char *argv[] = { lab_tool("ip"), "-4", "addr", "show", NULL };
	cleanup_free char *peer = NULL, *host = NULL;
	struct lab_run_opts o = { .timeout_ms = 5000 };
	struct cp_error err = { 0 };

	ok(lab_net_run(net, LAB_NET_PEER, argv, 5000, &peer, &err) == 0, "ip addr in the peer");
	like(peer, lab_net_host_ip(net), "the peer namespace holds %s", lab_net_host_ip(net));
	ok(lab_run(argv, &o, &host, &err) == 0, "ip addr on the host");
	ok(host && !strstr(host, lab_net_host_ip(net)), "the host namespace does not");
}

/**
 * check_noise() - the broadcast generator is paced and stops
 * @net:	network
 */
static void check_noise(struct lab_net *net)
{
	struct cp_error err = { 0 };
	uint64_t sent;

	ok(lab_net_noise_start(net, 50, 10, &err) == 0, "noise started: %s", err.msg);
	lab_sleep_ms(1000);
	sent = lab_net_noise_stop(net);
	ok(sent >= 20 && sent <= 60, "about 50 frames in a second (%llu)",
	   (unsigned long long)sent);
}

int main(void)
{
	struct cp_error err = { 0 };
	struct lab_net *net;
	char vm[128], peer[128];

	if (geteuid() != 0) {
		printf("1..0 # SKIP the lab network needs root\n");
		return 0;
	}
	net = lab_net_new(&err);
	if (!net)
		bail_out("%s", err.msg);
	snprintf(vm, sizeof(vm), "%s", lab_net_ns_path(net, LAB_NET_VM));
	snprintf(peer, sizeof(peer), "%s", lab_net_ns_path(net, LAB_NET_PEER));
	ok(access(vm, F_OK) == 0 && access(peer, F_OK) == 0, "namespaces %s and %s exist", vm,
	   peer);
	check_tap(net);
	check_peer(net);
	check_noise(net);
	lab_net_free(net);
	ok(access(vm, F_OK) < 0 && access(peer, F_OK) < 0, "both namespaces deleted");
	return done_testing();
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The lab's test network, in network namespaces the test creates and
 * deletes; nothing ever touches the host's own interfaces.
 *
 *   "vm" namespace   (QEMU runs here, as QEMU and Incus's taps share the
 *                     host namespace on a real host)
 *       br0 (bridge, no address) --- tapXXXXXXXX ... (Incus-style taps)
 *        |
 *       veth-br
 *        | (veth pair)
 *   "peer" namespace
 *       veth-peer  10.77.<k>.1/24 ... 10.80.<k>.1/24  (the host side: ping,
 *                  cptraffic; one subnet per guest NIC, on the one bridge)
 *
 * Guest NIC i gets 10.(77 + i).<k>.10 (lab_net_guest_ip()). Namespace names
 * are cplab-<pid>-<k>-vm / -peer. They are deleted by lab_net_free(), at
 * exit, and on SIGTERM/SIGINT/SIGHUP (best effort); namespaces left by a
 * test that died harder are swept by the next lab_net_new() once their pid
 * is gone. IPv6 is off in both namespaces, so the bridge carries only the
 * test's traffic.
 */
#ifndef COLDPLUG_LAB_NETNS_H
#define COLDPLUG_LAB_NETNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coldplug/error.h"

#define LAB_NET_IFNAMSIZ 16

struct lab_net;

/* Which namespace of the pair. */
enum lab_net_side {
	LAB_NET_VM,
	LAB_NET_PEER,
};

typedef int (*lab_net_fn)(void *arg, struct cp_error *err);

struct lab_net *lab_net_new(struct cp_error *err);
void lab_net_free(struct lab_net *net);

const char *lab_net_ns_path(const struct lab_net *net, enum lab_net_side side);
const char *lab_net_ns_name(const struct lab_net *net, enum lab_net_side side);
const char *lab_net_bridge(const struct lab_net *net);
const char *lab_net_host_ip(const struct lab_net *net);
void lab_net_host_ip_for(const struct lab_net *net, unsigned index, char *buf, size_t size);
void lab_net_guest_ip(const struct lab_net *net, unsigned index, char *buf, size_t size);

int lab_net_call(const struct lab_net *net, enum lab_net_side side, lab_net_fn fn, void *arg,
		 struct cp_error *err);
int lab_net_run(const struct lab_net *net, enum lab_net_side side, const char *const argv[],
		int timeout_ms, char **output, struct cp_error *err);

int lab_net_tap_add(struct lab_net *net, char name[LAB_NET_IFNAMSIZ], struct cp_error *err);
int lab_net_tap_open_queue(const struct lab_net *net, const char *ifname, struct cp_error *err);
int lab_net_tap_queues(const struct lab_net *net, const char *ifname, int *numqueues,
		       int *numdisabled, struct cp_error *err);

int lab_net_neigh(const struct lab_net *net, const char *ip, const char *mac, struct cp_error *err);
int lab_net_udp_send(const struct lab_net *net, const char *ip, uint16_t port, unsigned flows,
		     unsigned count, unsigned rate, uint64_t *sent, struct cp_error *err);

int lab_net_noise_start(struct lab_net *net, unsigned per_second, unsigned max_seconds,
			struct cp_error *err);
uint64_t lab_net_noise_stop(struct lab_net *net);
void lab_net_noise_sync(struct lab_net *net);

#endif /* COLDPLUG_LAB_NETNS_H */

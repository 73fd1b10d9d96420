/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Parser for HMP "info network": the only listing of netdevs QEMU has (the
 * QMP query-netdev was reverted before 6.0). The text is meant for humans, so
 * the parser is defensive: it understands the shapes QEMU 7.2 to 10.x print
 * (net/net.c print_net_client, net/hub.c net_hub_info) and skips what it does
 * not know rather than failing:
 *
 *   hub 0
 *    \ coldplug-hp0: incus_eth2: index=0,type=tap,fd=19        (hub port: peer)
 *   dev-incus_eth0: index=0,type=nic,model=virtio-net-pci,macaddr=10:66:6a:..
 *    \ incus_eth0: index=0,type=tap,fd=11                      (the NIC's peer)
 *   dev-incus_eth0: index=1,type=nic,
 *   incus_eth1: index=0,type=tap,fd=11                         (no peer)
 *   filters:
 *     - f0: type=filter-dump,...
 */
#ifndef COLDPLUG_HMP_NETWORK_H
#define COLDPLUG_HMP_NETWORK_H

#include <stdbool.h>
#include <stddef.h>

#include "coldplug/error.h"

#define HMP_NET_NAME_MAX 128

/**
 * struct hmp_net_client - one NetClientState (one queue of a netdev or NIC)
 * @name:	client name: netdev id, NIC qdev id, or "model.N" for a NIC
 *		without an id
 * @index:	queue index
 * @type:	"tap", "nic", "hubport", "user", ...
 * @model:	NIC model, "" if not printed (queues >= 1 print none)
 * @mac:	NIC MAC, "" if not printed
 * @fd:		descriptor for fd-based taps, -1 otherwise
 * @ifname:	host interface for taps opened by name (ifname=), else ""
 * @peer:	name of the peer client, "" if none
 * @hubid:	for a hub port, the hub's id; -1 otherwise
 * @filters:	the client has net filters attached
 */
struct hmp_net_client {
	char name[HMP_NET_NAME_MAX];
	int index;
	char type[32];
	char model[64];
	char mac[18];
	int fd;
	char ifname[16];
	char peer[HMP_NET_NAME_MAX];
	int hubid;
	bool filters;
};

/**
 * struct hmp_network - parsed "info network"
 * @clients:	every client printed, in output order
 * @n:		their count
 * @skipped:	lines the parser did not understand (ignored)
 */
struct hmp_network {
	struct hmp_net_client *clients;
	size_t n;
	size_t skipped;
};

int hmp_network_parse(const char *text, struct hmp_network *out, struct cp_error *err);
void hmp_network_free(struct hmp_network *net);
size_t hmp_network_queues(const struct hmp_network *net, const char *name,
			  const struct hmp_net_client **first);

#endif /* COLDPLUG_HMP_NETWORK_H */

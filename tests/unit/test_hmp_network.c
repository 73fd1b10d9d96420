/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests for the HMP "info network" parser, on outputs recorded from QEMU
 * 7.2.22 and 10.0.2 (tests/data/hmp) and on malformed text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmp_network.h"
#include "tap.h"

/**
 * slurp() - read a file from tests/data
 * @name:	path below tests/data
 *
 * Return: its text (caller frees); bails out if unreadable
 */
static char *slurp(const char *name)
{
	char path[512], *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s", COLDPLUG_TEST_DATA, name);
	f = fopen(path, "r");
	if (!f)
		bail_out("cannot read %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
		bail_out("cannot read %s", path);
	fclose(f);
	return buf;
}

/**
 * parse_file() - parse a recorded sample
 * @name:	file below tests/data/hmp
 * @net:	result
 */
static void parse_file(const char *name, struct hmp_network *net)
{
	char path[128];
	char *text;
	struct cp_error err;

	snprintf(path, sizeof(path), "hmp/%s", name);
	text = slurp(path);
	if (hmp_network_parse(text, net, &err) < 0)
		bail_out("parse %s: %s", name, err.msg);
	free(text);
}

/**
 * find() - the client with a name and queue index
 * @net:	parse result
 * @name:	client name
 * @index:	queue index
 *
 * Return: the client, or NULL
 */
static const struct hmp_net_client *find(const struct hmp_network *net, const char *name, int index)
{
	size_t i;

	for (i = 0; i < net->n; i++)
		if (!strcmp(net->clients[i].name, name) && net->clients[i].index == index)
			return &net->clients[i];
	return NULL;
}

/**
 * test_hub_and_multiqueue() - hub with an uplink, two 4-queue Incus NICs
 */
static void test_hub_and_multiqueue(void)
{
	const struct hmp_net_client *c, *first;
	struct hmp_network net;
	int i;

	parse_file("hub-uplink-virtio-usb-4q.txt", &net);
	is_int((long long)net.skipped, 0, "every line understood");
	c = find(&net, "coldplug-hp0", 0);
	ok(c && c->hubid == 0 && !strcmp(c->type, "hubport") && !strcmp(c->peer, "incus_eth2"),
	   "hub port coldplug-hp0 in hub 0, peered with incus_eth2");
	c = find(&net, "incus_eth2", 0);
	ok(c && c->fd == 19 && !strcmp(c->peer, "coldplug-hp0") && !strcmp(c->type, "tap"),
	   "the uplink tap has fd 19 and points back at its port");
	c = find(&net, "virtio-net-pci.0", 0);
	ok(c && !strcmp(c->mac, "52:54:00:c0:1d:00") && !strcmp(c->peer, "coldplug-nic0"),
	   "the slot's NIC (no id) is named by its model and peered with coldplug-nic0");
	is_int((long long)hmp_network_queues(&net, "incus_eth0", &first), 4,
	       "incus_eth0 has four queues");
	ok(first && first->fd == 11, "queue 0 of incus_eth0 is fd 11");
	for (i = 0; i < 4; i++) {
		c = find(&net, "incus_eth0", i);
		ok(c && c->fd == 11 + i && !strcmp(c->peer, "dev-incus_eth0"),
		   "incus_eth0 queue %d: fd %d, peer dev-incus_eth0", i, 11 + i);
	}
	c = find(&net, "dev-incus_eth0", 1);
	ok(c && !*c->model && !*c->mac && !strcmp(c->peer, "incus_eth0"),
	   "NIC queues >= 1 print no model or MAC, and still get their peer");
	c = find(&net, "dev-incus_eth1", 0);
	ok(c && !strcmp(c->model, "usb-net") && !strcmp(c->mac, "10:66:6a:01:02:04"),
	   "the usb-net NIC's model and MAC");
	is_int((long long)hmp_network_queues(&net, "incus_eth1", NULL), 4,
	       "incus_eth1: four queues");
	hmp_network_free(&net);
}

/**
 * test_states() - hub without uplink, never-peered, orphaned, empty
 */
static void test_states(void)
{
	const struct hmp_net_client *c;
	struct hmp_network net;
	size_t i;
	bool all_zero = true;

	parse_file("hub-no-uplink.txt", &net);
	is_int((long long)net.n, 2, "hub without uplink: the port and its NIC");
	c = find(&net, "coldplug-nic0", 0);
	ok(c && c->hubid == 0, "coldplug-nic0 is a port of hub 0");
	hmp_network_free(&net);

	parse_file("never-peered-4q.txt", &net);
	is_int((long long)hmp_network_queues(&net, "incus_eth0", NULL), 4,
	       "a never-peered netdev still counts four queues");
	for (i = 0; i < net.n; i++)
		all_zero &= net.clients[i].index == 0 && !*net.clients[i].peer;
	ok(all_zero, "...all printed as index=0, without peers");
	hmp_network_free(&net);

	parse_file("orphan-2q.txt", &net);
	c = find(&net, "incus_eth1", 1);
	ok(c && c->fd == 12 && !*c->peer, "orphaned netdev: queue 1 keeps fd 12, no peer");
	hmp_network_free(&net);

	parse_file("empty.txt", &net);
	is_int((long long)net.n, 0, "empty output: no clients");
	hmp_network_free(&net);

	parse_file("usbnet-1q.txt", &net);
	is_int((long long)hmp_network_queues(&net, "incus_eth1", NULL), 1,
	       "re-homed usb-net: one queue");
	hmp_network_free(&net);
}

/**
 * test_defensive() - lines the parser does not know are skipped, not fatal
 */
static void test_defensive(void)
{
	static const char text[] =
		"garbage without a colon\r\n"
		"dev-x: index=0,type=nic,model=e1000,macaddr=52:54:00:00:00:01\r\n"
		" \\ net0: index=0,type=tap,ifname=tap0,script=no,downscript=no\r\n"
		"filters:\r\n"
		"  - f0: type=filter-dump,file=x\r\n"
		" \\ stray peer line after a non-NIC: ignored\r\n"
		"hub 7\r\n"
		" \\ lonely\r\n"
		": index=0,type=tap\r\n"
		"name with space: index=0,type=tap\r\n"
		"n1: type=tap\r\n";
	const struct hmp_net_client *c;
	struct hmp_network net;
	struct cp_error err;

	ok(hmp_network_parse(text, &net, &err) == 0, "malformed text parses without error");
	c = find(&net, "net0", 0);
	ok(c && !strcmp(c->ifname, "tap0") && c->fd == -1 && c->filters,
	   "a tap opened by name: ifname recorded, no fd, filters noted");
	c = find(&net, "lonely", 0);
	ok(c && c->hubid == 7 && !*c->peer, "a hub port without a peer is recorded");
	ok(!find(&net, "n1", 0), "a client line without index= is not a client");
	ok(net.skipped >= 4, "unknown lines are counted as skipped (%zu)", net.skipped);
	hmp_network_free(&net);
}

/**
 * main() - run the tests
 *
 * Return: TAP exit status
 */
int main(void)
{
	test_hub_and_multiqueue();
	test_states();
	test_defensive();
	return done_testing();
}

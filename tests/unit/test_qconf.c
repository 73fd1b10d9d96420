/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests for the QEMU configuration generator: the -readconfig file, Incus's
 * override syntax, and validation. (That QEMU accepts the file is checked
 * by the real-QEMU tests.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coldplug/qconf.h"
#include "tap.h"

/**
 * count() - occurrences of @needle in @hay
 * @hay:	text
 * @needle:	substring
 *
 * Return: the count
 */
static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (; (hay = strstr(hay, needle)); hay += strlen(needle))
		n++;
	return n;
}

/**
 * test_readconfig() - the default file
 */
static void test_readconfig(void)
{
	struct qconf_opts o;
	struct cp_error err;
	char *t;

	qconf_opts_init(&o);
	t = qconf_generate(&o, QCONF_READCONFIG, &err);
	if (!t)
		bail_out("%s", err.msg);
	is_int(count(t, "driver = \"virtio-blk-pci\""), 8, "eight disk slots by default");
	is_int(count(t, "ide-cd"), 0,
	       "no CD slot on the AHCI: an ISO gets a USB CD drive coldplug adds, no tray");
	is_int(count(t, "coldplug-cd"), 0, "nothing named coldplug-cd<N> is cold-plugged");
	is_int(count(t, "type = \"hubport\""), 0, "no NIC slot without --nic-mac");
	like(t, "property = \"acpi-pci-hotplug-with-bridge-support\"", "the hotplug global");
	like(t, "[drive \"coldplug-disk7\"]", "placeholder BlockBackend of slot 7");
	like(t, "node-name = \"coldplug-ph-disk7\"", "...with its placeholder node name");
	like(t, "addr = \"17.0\"", "slot 7 at PCI slot 0x17");
	ok(!strstr(t, "[device \"coldplug-disk"), "no PCI frontend carries an id");
	ok(t[0] == '#', "the file starts with an explanation");
	free(t);
}

/**
 * test_incus() - Incus's raw.qemu.conf override syntax
 */
static void test_incus(void)
{
	struct qconf_opts o;
	struct cp_error err;
	char *t;

	qconf_opts_init(&o);
	o.disk_slots = 2;
	o.nic_slots = 1;
	o.macs[0] = (struct qconf_nic_mac){ "eth0", "10:66:6a:ab:cd:ef", NULL };
	o.nmacs = 1;
	t = qconf_generate(&o, QCONF_INCUS, &err);
	if (!t)
		bail_out("%s", err.msg);
	ok(!strchr(t, '#'), "no comments (Incus's override syntax has none)");
	like(t, "[global][100]\n", "the global is appended, never overwriting Incus's [global]");
	like(t, "[device][100]\ndriver = \"virtio-blk-pci\"", "anonymous devices get new indexes");
	like(t, "[device][101]\ndriver = \"virtio-blk-pci\"", "...one per section");
	like(t, "[device][102]\ndriver = \"virtio-net-pci\"", "the NIC slot follows");
	like(t, "mac = \"10:66:6a:ab:cd:ef\"", "with Incus's MAC");
	like(t, "[netdev \"coldplug-nic0\"]\ntype = \"hubport\"\nhubid = \"0\"",
	     "hub port of hub 0");
	ok(!strstr(t, "  "), "no indentation");
	free(t);
}

/**
 * test_monitor() - the daemon's monitor, spelled for old and new QEMU
 */
static void test_monitor(void)
{
	struct qconf_monitor m = { "/run/coldplug/coldplug.sock", 1000, false };
	struct qconf_opts o;
	struct cp_error err;
	char *t;

	qconf_opts_init(&o);
	o.disk_slots = 0;
	o.monitor = &m;
	t = qconf_generate(&o, QCONF_INCUS, &err);
	like(t,
	     "[chardev \"coldplug\"]\nbackend = \"socket\"\npath = \"/run/coldplug/coldplug.sock\"\n"
	     "server = \"off\"\nreconnect = \"1\"",
	     "QEMU < 9.2: reconnect in seconds");
	like(t, "[mon \"coldplug\"]\nchardev = \"coldplug\"\nmode = \"control\"",
	     "a control monitor");
	like(t, "[chardev \"coldplug-status\"]\nbackend = \"ringbuf\"\nsize = \"65536\"",
	     "the ringbuf the daemon writes its status lines to");
	free(t);
	m.use_reconnect_ms = true;
	t = qconf_generate(&o, QCONF_INCUS, &err);
	like(t, "reconnect-ms = \"1000\"", "QEMU >= 9.2: reconnect-ms");
	free(t);
}

/**
 * test_invalid() - options that cannot be generated are refused
 */
static void test_invalid(void)
{
	struct qconf_opts o;
	struct cp_error err;

	qconf_opts_init(&o);
	o.disk_slots = 13;
	ok(!qconf_generate(&o, QCONF_READCONFIG, &err) && strstr(err.msg, "at most 12"),
	   "13 disk slots: %s", err.msg);
	qconf_opts_init(&o);
	o.nic_model = "rtl8139";
	ok(!qconf_generate(&o, QCONF_READCONFIG, &err) && strstr(err.msg, "vmxnet3"),
	   "unknown NIC model names the choices");
	qconf_opts_init(&o);
	o.nic_slots = 1;
	o.macs[0] = (struct qconf_nic_mac){ "eth0", "11:66:6a:ab:cd:ef", NULL };
	o.nmacs = 1;
	ok(!qconf_generate(&o, QCONF_READCONFIG, &err) && strstr(err.msg, "unicast"),
	   "a multicast MAC is refused");
	o.macs[0].mac = "10:66:6a:ab:cd";
	ok(!qconf_generate(&o, QCONF_READCONFIG, &err), "a short MAC is refused");
	ok(qconf_mac_valid("10:66:6A:ab:CD:ef"), "MACs in any case are valid");
	o.macs[0].mac = "10:66:6a:ab:cd:ef";
	o.nmacs = 1;
	o.nic_slots = 0;
	ok(!qconf_generate(&o, QCONF_READCONFIG, &err), "more MACs than NIC slots is refused");
}

/**
 * test_direct() - a --nic-tap slot opens the manager's tap by name, with
 * its queues, and only as virtio-net-pci
 */
static void test_direct(void)
{
	struct qconf_opts o;
	struct cp_error err;
	char *t;

	qconf_opts_init(&o);
	o.disk_slots = 0;
	o.nic_slots = 2;
	o.nic_queues = 4;
	o.macs[0] = (struct qconf_nic_mac){ "eth0", "10:66:6a:ab:cd:ef", "tapc17ee93a" };
	o.macs[1] = (struct qconf_nic_mac){ "eth1", "10:66:6a:ab:cd:f0", NULL };
	o.nmacs = 2;
	t = qconf_generate(&o, QCONF_READCONFIG, &err);
	if (!t)
		bail_out("%s", err.msg);
	like(t,
	     "[netdev \"coldplug-nic0\"]\n  type = \"tap\"\n  ifname = \"tapc17ee93a\"\n"
	     "  script = \"no\"\n  downscript = \"no\"\n  queues = \"4\"\n  vhost = \"off\"\n",
	     "slot 0's netdev opens the manager's tap by name, with 4 queues, no vhost");
	like(t, "  addr = \"1c.0\"\n  mq = \"on\"\n  vectors = \"10\"\n",
	     "slot 0's virtio-net-pci is multi-queue with 2N+2 vectors");
	like(t, "[netdev \"coldplug-nic1\"]\n  type = \"hubport\"\n  hubid = \"1\"\n",
	     "a NIC without a tap keeps its hub");
	ok(!strstr(strstr(t, "coldplug-nic1\"]"), "mq ="), "the hub slot is not multi-queue");
	like(t, "# Its MAC must be the manager's (10:66:6a:ab:cd:ef).\n[netdev \"coldplug-nic0\"]",
	     "the direct slot's comment is whole, down to its MAC (it was cut at 400 bytes)");
	free(t);
	o.vhost = true;
	o.nic_queues = 1;
	t = qconf_generate(&o, QCONF_INCUS, &err);
	if (!t)
		bail_out("%s", err.msg);
	like(t, "queues = \"1\"\nvhost = \"on\"\n", "one queue, vhost on");
	ok(!strstr(t, "mq ="), "a one-queue slot is not multi-queue");
	free(t);
	o.nic_model = "vmxnet3";
	ok(!qconf_generate(&o, QCONF_READCONFIG, &err) && strstr(err.msg, "serves only the first"),
	   "a direct vmxnet3 is refused, with the reason");
	o.nic_model = NULL;
	o.macs[0].tap = "tap/../x";
	ok(!qconf_generate(&o, QCONF_READCONFIG, &err) && strstr(err.msg, "interface name"),
	   "a tap name with a slash is refused");
	o.macs[0].tap = "tap0";
	o.nic_queues = 0;
	ok(!qconf_generate(&o, QCONF_READCONFIG, &err) && strstr(err.msg, "--nic-queues"),
	   "0 queues is refused");
}

/**
 * main() - run the tests
 *
 * Return: TAP exit status
 */
int main(void)
{
	test_readconfig();
	test_incus();
	test_monitor();
	test_invalid();
	test_direct();
	return done_testing();
}

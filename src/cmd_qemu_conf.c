/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * coldplug qemu-conf: print the -readconfig file with coldplug's frontends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "coldplug/macos.h"
#include "coldplug/qconf.h"

static const char qemu_conf_help[] =
	"Usage: coldplug qemu-conf [OPTIONS] > coldplug.conf\n"
	"       qemu-system-x86_64 -S ... -readconfig coldplug.conf\n"
	"\n"
	"Print the QEMU configuration of the cold-plugged frontends coldplug moves\n"
	"devices onto: disk slots and PCI NIC slots that a guest without\n"
	"PCI hotplug (macOS) sees at boot, plus the setting that lets PCI device_del\n"
	"complete while the VM is paused. For Incus, use 'coldplug incus-profile',\n"
	"which puts the same sections into a profile.\n"
	"\n"
	"Options:\n"
	"  --disk-slots N       virtio-blk disk slots (default 8, at most 12); each\n"
	"                       shows the guest an empty disk until it is used\n"
	"  --cd-slots N         ignored (kept for old command lines): an ISO gets a\n"
	"                       USB CD drive coldplug adds on the VM's xHCI, which\n"
	"                       your QEMU command line must have (-device\n"
	"                       qemu-xhci,id=xhci), or --add-xhci with --macos\n"
	"  --nic-slots N        PCI NIC slots behind net hubs (default: one per\n"
	"                       --nic-mac; at most 3)\n"
	"  --nic-mac NAME=MAC   the MAC of the next NIC slot: the hwaddr of the\n"
	"                       manager's NIC NAME (a slot's MAC is fixed when QEMU\n"
	"                       starts, and the guest must use the manager's MAC)\n"
	"  --nic-tap NAME=TAP   NIC NAME's slot opens the manager's tap TAP itself,\n"
	"                       by name, when QEMU starts (the direct path:\n"
	"                       native speed, no hub, no fd passing; needs QEMU to\n"
	"                       start as root, and TAP to exist then: coldplug\n"
	"                       refuses a tap QEMU created). virtio-net-pci only.\n"
	"                       NAME must also have a --nic-mac\n"
	"  --nic-queues N       queues of each --nic-tap slot (default 2; Incus uses\n"
	"                       one per vCPU, at least 2); more than 1 needs a\n"
	"                       multi_queue tap (ip tuntap add ... multi_queue)\n"
	"  --vhost              --nic-tap slots use vhost-net (/dev/vhost-net must\n"
	"                       exist when QEMU starts)\n"
	"  --nic-model MODEL    virtio-net-pci (default; macOS 11+), vmxnet3 (macOS\n"
	"                       10.11+) or e1000-82545em; with --macos-version the\n"
	"                       default is the model that version drives\n"
	"  --no-hotplug-global  leave out\n"
	"                       -global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off\n"
	"                       (then PCI disks and NICs cannot be re-homed while paused)\n"
	"  --format FORMAT      readconfig (default): a file for -readconfig;\n"
	"                       incus: Incus raw.qemu.conf override lines\n"
	"\n" CLI_MACOS_HELP "\n"
	"Names, as coldplug and QMP see them:\n"
	"  coldplug-disk<N>         BlockBackend of disk slot N: virtio-blk-pci at\n"
	"                           pcie.0 slot 0x10+N (no qdev id, on purpose: Incus\n"
	"                           takes any PCI device with an id for a free port)\n"
	"  coldplug-ph-disk<N>      its placeholder node (null-co, 0 bytes, writable)\n"
	"  coldplug-cd<N>           the USB CD drive (usb-bot) coldplug adds for an\n"
	"                           ISO; the scsi-cd on it keeps the manager's id\n"
	"  coldplug-nic<N>          netdev of NIC slot N (pcie.0 slot 0x1c+N): with\n"
	"                           --nic-tap a tap netdev on the manager's tap, else\n"
	"                           a port of net hub N, into which coldplug plugs\n"
	"                           coldplug-nic<N>-uplink\n"
	"\n"
	"Examples:\n"
	"  coldplug qemu-conf --disk-slots 2 --nic-mac eth0=10:66:6a:12:34:56 > c.conf\n"
	"  coldplug qemu-conf --nic-mac eth0=10:66:6a:12:34:56 --nic-tap eth0=tap0 \\\n"
	"      --nic-queues 4 > direct.conf\n"
	"  coldplug qemu-conf --macos --osk-file osk.txt --macos-version 14 --add-xhci \\\n"
	"      --nic-mac eth0=10:66:6a:12:34:56 > macos.conf\n";

enum {
	OPT_DISK_SLOTS = CLI_OPT_FIRST_PRIVATE,
	OPT_CD_SLOTS,
	OPT_NIC_SLOTS,
	OPT_NIC_MAC,
	OPT_NIC_MODEL,
	OPT_NIC_TAP,
	OPT_NIC_QUEUES,
	OPT_VHOST,
	OPT_NO_HOTPLUG,
	OPT_FORMAT,
};

/**
 * add_mac() - parse --nic-mac NAME=MAC into @o
 * @o:		options
 * @arg:	the value (kept: argv outlives the options)
 *
 * Return: 0, or CLI_USAGE
 */
static int add_mac(struct qconf_opts *o, char *arg)
{
	char *eq = strchr(arg, '=');

	if (!eq || eq == arg || !eq[1])
		return cli_usage("--nic-mac wants NAME=MAC, like eth0=10:66:6a:12:34:56");
	if (o->nmacs == QCONF_MAX_NIC_MACS)
		return cli_usage("at most %d --nic-mac options", QCONF_MAX_NIC_MACS);
	*eq = '\0';
	o->macs[o->nmacs].name = arg;
	o->macs[o->nmacs++].mac = eq + 1;
	return 0;
}

/**
 * set_taps() - give each --nic-tap to the --nic-mac of the same NIC
 * @o:		options
 * @taps:	the --nic-tap values (NAME=TAP, kept: argv outlives @o)
 * @ntaps:	their count
 *
 * Return: 0, or CLI_USAGE
 */
static int set_taps(struct qconf_opts *o, char **taps, size_t ntaps)
{
	size_t i, j;

	for (i = 0; i < ntaps; i++) {
		char *eq = strchr(taps[i], '=');

		if (!eq || eq == taps[i] || !eq[1])
			return cli_usage("--nic-tap wants NAME=TAP, like eth0=tap0");
		*eq = '\0';
		for (j = 0; j < o->nmacs && strcmp(o->macs[j].name, taps[i]); j++)
			;
		if (j == o->nmacs)
			return cli_usage(
				"--nic-tap %s=%s: NIC %s has no --nic-mac %s=MAC (the slot "
				"needs the manager's MAC too)",
				taps[i], eq + 1, taps[i], taps[i]);
		if (o->macs[j].tap)
			return cli_usage("--nic-tap %s given twice", taps[i]);
		o->macs[j].tap = eq + 1;
	}
	return 0;
}

/**
 * qemu_conf_option() - handle one option
 * @o:			options
 * @opt:		the option
 * @fmt:		--format
 * @nic_slots_set:	--nic-slots was given
 *
 * Return: 0, or CLI_USAGE
 */
static int qemu_conf_option(struct qconf_opts *o, int opt, enum qconf_format *fmt,
			    bool *nic_slots_set)
{
	long v;

	switch (opt) {
	case OPT_CD_SLOTS:
		return cli_parse_int("--cd-slots", optarg, 0, 12, &v) ? CLI_USAGE : 0;
	case OPT_DISK_SLOTS:
	case OPT_NIC_SLOTS:
		if (cli_parse_int(opt == OPT_DISK_SLOTS ? "--disk-slots" : "--nic-slots", optarg, 0,
				  12, &v))
			return CLI_USAGE;
		*(opt == OPT_DISK_SLOTS ? &o->disk_slots : &o->nic_slots) = (unsigned)v;
		*nic_slots_set |= opt == OPT_NIC_SLOTS;
		return 0;
	case OPT_NIC_MAC:
		return add_mac(o, optarg);
	case OPT_NIC_MODEL:
		o->nic_model = optarg;
		return 0;
	case OPT_NIC_QUEUES:
		if (cli_parse_int("--nic-queues", optarg, 1, QCONF_MAX_NIC_QUEUES, &v))
			return CLI_USAGE;
		o->nic_queues = (unsigned)v;
		return 0;
	case OPT_VHOST:
		o->vhost = true;
		return 0;
	case OPT_NO_HOTPLUG:
		o->hotplug_global = false;
		return 0;
	case OPT_FORMAT:
		if (strcmp(optarg, "readconfig") && strcmp(optarg, "incus"))
			return cli_usage("--format is readconfig or incus, not '%s'", optarg);
		*fmt = strcmp(optarg, "incus") ? QCONF_READCONFIG : QCONF_INCUS;
		return 0;
	default:
		return cli_usage("unhandled option");
	}
}

/**
 * qemu_conf_main() - coldplug qemu-conf
 * @argc:	argument count
 * @argv:	arguments
 *
 * Return: an enum cli_exit
 */
static int qemu_conf_main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "disk-slots", required_argument, NULL, OPT_DISK_SLOTS },
		{ "cd-slots", required_argument, NULL, OPT_CD_SLOTS },
		{ "nic-slots", required_argument, NULL, OPT_NIC_SLOTS },
		{ "nic-mac", required_argument, NULL, OPT_NIC_MAC },
		{ "nic-model", required_argument, NULL, OPT_NIC_MODEL },
		{ "nic-tap", required_argument, NULL, OPT_NIC_TAP },
		{ "nic-queues", required_argument, NULL, OPT_NIC_QUEUES },
		{ "vhost", no_argument, NULL, OPT_VHOST },
		{ "no-hotplug-global", no_argument, NULL, OPT_NO_HOTPLUG },
		{ "format", required_argument, NULL, OPT_FORMAT },
		CLI_MACOS_OPTIONS,
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	enum qconf_format fmt = QCONF_READCONFIG;
	struct cli_macos mc = { .on = false };
	char *taps[QCONF_MAX_NIC_MACS];
	bool nic_slots_set = false;
	size_t ntaps = 0;
	struct macos_opts m;
	struct qconf_opts o;
	struct cp_error err;
	char *text;
	int opt, rc = 0;

	qconf_opts_init(&o);
	while (!rc && (opt = cli_getopt(argc, argv, "", options, &rc)) != -1) {
		if (opt == CLI_GETOPT_STOP)
			return rc;
		if (opt == OPT_NIC_TAP && ntaps == QCONF_MAX_NIC_MACS)
			rc = cli_usage("at most %d --nic-tap options", QCONF_MAX_NIC_MACS);
		else if (opt == OPT_NIC_TAP)
			taps[ntaps++] = optarg;
		else if (!cli_macos_option(&mc, opt, optarg))
			rc = qemu_conf_option(&o, opt, &fmt, &nic_slots_set);
	}
	if (!rc)
		rc = cli_no_extra_args(argc, argv);
	if (!rc)
		rc = set_taps(&o, taps, ntaps);
	if (!rc)
		rc = cli_macos_apply(&mc, fmt, &m);
	if (rc)
		return rc;
	if (!nic_slots_set)
		o.nic_slots = (unsigned)o.nmacs;
	o.macos = mc.on ? &m : NULL;
	text = qconf_generate(&o, fmt, &err);
	macos_opts_wipe(&m);
	if (!text)
		return err.code == CP_ERR_INVALID ? cli_usage("%s", err.msg) : cli_fail(&err);
	fputs(text, stdout);
	explicit_bzero(text, strlen(text));
	free(text);
	return CLI_OK;
}

const struct cli_command cmd_qemu_conf = {
	.name = "qemu-conf",
	.summary = "print the QEMU config of coldplug's disk, CD and NIC slots",
	.help = qemu_conf_help,
	.run = qemu_conf_main,
};

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * coldplug inventory: what coldplug sees in a QEMU, before it changes
 * anything: the manager's disks and NICs, coldplug's slots, the QEMU version
 * and PCI hotplug mode. --raw prints the QMP answers it is built from, for
 * bug reports.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "coldplug/cleanup.h"
#include "coldplug/inventory.h"
#include "coldplug/json.h"
#include "coldplug/qmp.h"

static const char inventory_help[] =
	"Usage: coldplug inventory --qmp SOCKET [--json | --raw] [SELECTION]\n"
	"\n"
	"Show what coldplug sees in a running or paused QEMU, without changing it:\n"
	"the manager's disks and NICs (those coldplug would re-home are marked\n"
	"'managed'), coldplug's own slots (free or used), the QEMU version and\n"
	"whether PCI device_del completes while the VM is paused.\n"
	"\n"
	"Options:\n"
	"  --qmp SOCKET       QEMU's QMP unix socket\n"
	"  --json             print the inventory as JSON\n"
	"  --raw              print the raw QMP answers it is built from (attach\n"
	"                     this to a bug report)\n"
	"  --timeout MS       deadline to connect and per reply (default 10000)\n" CLI_SELECT_HELP
	"\n"
	"Exit status: 0 shown; 1 connection or QEMU error; 2 bad command line.\n";

enum {
	OPT_QMP = CLI_OPT_FIRST_PRIVATE,
	OPT_JSON,
	OPT_RAW,
	OPT_TIMEOUT,
};

/**
 * print_disks() - the disk section of the human-readable output
 * @inv:	inventory
 */
static void print_disks(const struct inventory *inv)
{
	size_t i;

	printf("Disks:%s\n", inv->ndisks ? "" : " none");
	for (i = 0; i < inv->ndisks; i++) {
		const struct inv_disk *d = &inv->disks[i];

		printf("  %-12s %-22s %s on %s%s%s, node %s, %llu bytes%s%s", d->name,
		       *d->id ? d->id : d->path, d->fe.driver, d->fe.bus,
		       d->fe.usb_id[0] ? " via " : "", d->fe.usb_id, *d->node ? d->node : "(empty)",
		       (unsigned long long)d->size, d->read_only ? ", read-only" : "",
		       d->cdrom ? ", cdrom" : "");
		if (d->bootindex >= 0)
			printf(", boot %lld", (long long)d->bootindex);
		printf("%s\n", d->managed ? "  [managed]" : "");
	}
}

/**
 * print_slots() - the slot section
 * @inv:	inventory
 */
static void print_slots(const struct inventory *inv)
{
	size_t i;

	printf("coldplug slots:%s\n", inv->nslots ? "" : " none (see 'coldplug qemu-conf')");
	for (i = 0; i < inv->nslots; i++) {
		const struct inv_slot *s = &inv->slots[i];

		if (s->kind == INV_SLOT_NIC && s->direct)
			printf("  %-16s %-16s mac %s, direct on tap %s (%u queues%s%s%s)\n",
			       s->name, s->driver, s->mac, s->ifname, s->nqueues,
			       s->tap.exists ? "" : ", no such tap now",
			       *s->tap.master ? ", on " : "", s->tap.master);
		else if (s->kind == INV_SLOT_NIC)
			printf("  %-16s %-16s mac %s, %s%s\n", s->name, s->driver, s->mac,
			       s->used ? "uplink " : "free", s->used ? s->uplink : "");
		else
			printf("  %-16s %-16s %s%s\n", s->name, s->driver,
			       s->used ? "holds " : "free", s->used ? s->node : "");
	}
}

/**
 * print_nics() - the NIC section
 * @inv:	inventory
 */
static void print_nics(const struct inventory *inv)
{
	size_t i;

	printf("NICs:%s\n", inv->nnics ? "" : " none");
	for (i = 0; i < inv->nnics; i++) {
		const struct inv_nic *n = &inv->nics[i];

		printf("  %-12s %-22s %s on %s, mac %s, netdev %s (%u queue%s, %s)%s\n", n->name,
		       *n->id ? n->id : n->path, n->driver, n->bus, n->mac, n->netdev, n->nqueues,
		       n->nqueues == 1 ? "" : "s",
		       n->macvtap ? n->tapdev : (*n->ifname ? n->ifname : "host interface unknown"),
		       n->managed ? "  [managed]" : "");
	}
}

/**
 * print_inventory() - human-readable inventory
 * @inv:	inventory
 */
static void print_inventory(const struct inventory *inv)
{
	static const char *const hp[] = {
		[INV_HOTPLUG_UNKNOWN] = "unknown (not a q35?)",
		[INV_HOTPLUG_ACPI] = "ACPI (PCI device_del waits for a guest)",
		[INV_HOTPLUG_NATIVE] = "native (PCI device_del completes while paused)",
	};

	printf("QEMU %d.%d.%d%s%s, pid %d, %s\nPCI hotplug: %s\nUSB bus for usb-net: %s\n",
	       inv->ver_major, inv->ver_minor, inv->ver_micro, *inv->package ? " " : "",
	       inv->package, (int)inv->pid, inv->status, hp[inv->hotplug],
	       *inv->usb_bus ? inv->usb_bus : "none");
	print_disks(inv);
	print_nics(inv);
	print_slots(inv);
}

/**
 * show() - collect and print
 * @c:		client
 * @sel:	selection
 * @mode:	0 human, OPT_JSON or OPT_RAW
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int show(struct qmp_client *c, const struct inv_select *sel, int mode, struct cp_error *err)
{
	cleanup_json cp_json *j = NULL;
	cleanup_free char *text = NULL;
	struct inventory inv;

	if (mode == OPT_RAW) {
		if (inventory_read_raw(c, &j, err) < 0)
			return -1;
	} else {
		if (inventory_read(c, sel, &inv, err) < 0)
			return -1;
		if (mode != OPT_JSON) {
			print_inventory(&inv);
			inventory_free(&inv);
			return 0;
		}
		j = inventory_to_json(&inv);
		inventory_free(&inv);
	}
	text = j ? cp_json_dump(j, CP_JSON_PRETTY) : NULL;
	if (!text)
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory");
	printf("%s\n", text);
	return 0;
}

/**
 * inventory_main() - coldplug inventory
 * @argc:	argument count
 * @argv:	arguments
 *
 * Return: an enum cli_exit
 */
static int inventory_main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "qmp", required_argument, NULL, OPT_QMP },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "raw", no_argument, NULL, OPT_RAW },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		CLI_SELECT_OPTIONS,
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	struct cli_select sel;
	const char *socket = NULL;
	struct qmp_client *c;
	struct cp_error err;
	long timeout = 10000;
	int opt, rc = 0, mode = 0;

	cli_select_init(&sel);
	while (!rc && (opt = cli_getopt(argc, argv, "", options, &rc)) != -1) {
		switch (opt) {
		case CLI_GETOPT_STOP:
			return rc;
		case OPT_QMP:
			socket = optarg;
			break;
		case OPT_JSON:
		case OPT_RAW:
			mode = opt;
			break;
		case OPT_TIMEOUT:
			rc = cli_parse_int("--timeout", optarg, 1, 3600000, &timeout);
			break;
		default:
			rc = cli_select_option(&sel, opt, optarg);
		}
	}
	if (!rc)
		rc = cli_no_extra_args(argc, argv);
	if (!rc && !socket)
		rc = cli_usage("--qmp SOCKET is required");
	if (rc)
		return rc;
	c = cli_connect(socket, (int)timeout, &err);
	if (!c)
		return cli_fail(&err);
	if (show(c, &sel.sel, mode, &err) < 0)
		rc = cli_fail(&err);
	qmp_client_free(c);
	return rc;
}

const struct cli_command cmd_inventory = {
	.name = "inventory",
	.summary = "show the disks, NICs and coldplug slots of a QEMU",
	.help = inventory_help,
	.run = inventory_main,
};

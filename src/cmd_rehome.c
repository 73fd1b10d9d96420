/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * coldplug rehome: the pipeline once, on a paused QEMU (plain QEMU, or an
 * Incus VM by hand). The daemon does the same for Incus at pre-start.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "coldplug/cleanup.h"
#include "coldplug/json.h"
#include "coldplug/qmp.h"
#include "coldplug/rehome.h"
#include "coldplug/util.h"

#define REHOME_MAX_TAPS 16

static const char rehome_help[] =
	"Usage: coldplug rehome --qmp SOCKET [--dry-run] [--json] [OPTIONS] [SELECTION]\n"
	"\n"
	"Move the disks and NICs that were hot-plugged into a paused QEMU (by Incus,\n"
	"or by hand) onto coldplug's cold-plugged frontends, which a guest without\n"
	"PCI hotplug (macOS) can use:\n"
	"  disks -> virtio-blk slots coldplug-disk<N>, on the same block node (never\n"
	"           a copy or second open of the image)\n"
	"  ISOs  -> a USB CD drive coldplug-cd<N> it adds on the xHCI\n"
	"  NICs  -> a PCI NIC slot coldplug-nic<N> behind a net hub (default), or a\n"
	"           usb-net, each on one fresh queue of the same host tap (no loss)\n"
	"The slots come from 'coldplug qemu-conf'. Everything is checked before the\n"
	"first change; a plan that cannot complete changes nothing.\n"
	"\n"
	"Options:\n"
	"  --qmp SOCKET          a QMP socket of the paused QEMU (not Incus's own:\n"
	"                        Incus keeps that one connected)\n"
	"  --dry-run             print the plan and change nothing; with --verbose,\n"
	"                        also the QMP commands each step would send\n"
	"  --json                print a machine-readable report: every device with\n"
	"                        from, to, slot, node or netdev, and status\n"
	"  --nic-frontend pci|usb  where NICs go (default pci: the slot whose MAC is\n"
	"                        the NIC's; usb: a usb-net on the xHCI bus)\n"
	"  --tap NAME=IFNAME     the host tap behind NIC NAME (eth0 or its qdev id),\n"
	"                        when /proc/<qemu pid>/fdinfo cannot be read\n"
	"  --usb-mac-fixed       this QEMU's usb-net shows the guest the real MAC even\n"
	"                        though its version predates the fix (QEMU 10.2)\n"
	"  --force               re-home a QEMU that is 'paused', i.e. whose guest has\n"
	"                        run (without it, only 'prelaunch', before the first\n"
	"                        cont, is accepted): only when the guest cannot be\n"
	"                        using its disks and NICs; a running QEMU is always\n"
	"                        refused\n"
	"  --event-timeout MS    how long to wait for DEVICE_DELETED (default 5000)\n"
	"  --timeout MS          connect and per-command deadline (default 10000)\n" CLI_SELECT_HELP
	"\n"
	"Exit status:\n"
	"  0  every managed device is on its coldplug frontend (or already was);\n"
	"     with --dry-run, the plan can be carried out\n"
	"  1  failed before changing anything (connection, QEMU error)\n"
	"  2  bad command line\n"
	"  3  refused: nothing was changed; the message lists every reason and fix\n"
	"  4  failed after changing something (or after a change QEMU never answered:\n"
	"     a timeout, or QEMU closed the connection); the report says which devices\n"
	"     moved; a disk that lost its frontend was given it back while QEMU still\n"
	"     answered\n"
	"\n"
	"Needs: CAP_NET_ADMIN to open a queue on a tap; read access to\n"
	"/proc/<qemu pid>/fdinfo (CAP_SYS_PTRACE when QEMU runs as another user) or\n"
	"--tap; CAP_SYS_ADMIN only when QEMU runs in another network namespace.\n";

enum {
	OPT_QMP = CLI_OPT_FIRST_PRIVATE,
	OPT_DRY_RUN,
	OPT_JSON,
	OPT_NIC_FRONTEND,
	OPT_TAP,
	OPT_USB_MAC_FIXED,
	OPT_FORCE,
	OPT_EVENT_TIMEOUT,
	OPT_TIMEOUT,
};

/**
 * struct rehome_args - parsed command line
 * @socket:	--qmp
 * @json:	--json
 * @timeout:	--timeout
 * @sel:	selection
 * @o:		pipeline options
 * @taps:	--tap entries
 * @tapbuf:	storage for their names
 */
struct rehome_args {
	const char *socket;
	bool json;
	long timeout;
	struct cli_select sel;
	struct rehome_opts o;
	struct plan_tap taps[REHOME_MAX_TAPS];
	char tapbuf[REHOME_MAX_TAPS][80];
};

/**
 * add_tap() - parse --tap NAME=IFNAME
 * @a:		arguments
 * @arg:	the value
 *
 * Return: 0, or CLI_USAGE
 */
static int add_tap(struct rehome_args *a, const char *arg)
{
	size_t n = a->o.plan.ntaps;
	char *eq;

	if (n == REHOME_MAX_TAPS)
		return cli_usage("at most %d --tap options", REHOME_MAX_TAPS);
	if (strlen(arg) >= sizeof(a->tapbuf[0]) || !strchr(arg, '=') || arg[0] == '=')
		return cli_usage("--tap wants NAME=IFNAME, like eth0=tap1a2b3c4d");
	cp_strlcpy(a->tapbuf[n], arg, sizeof(a->tapbuf[n]));
	eq = strchr(a->tapbuf[n], '=');
	*eq = '\0';
	if (!eq[1])
		return cli_usage("--tap %s=: the interface name is missing", a->tapbuf[n]);
	a->taps[n].name = a->tapbuf[n];
	a->taps[n].ifname = eq + 1;
	a->o.plan.taps = a->taps;
	a->o.plan.ntaps = n + 1;
	return 0;
}

/**
 * rehome_option() - handle one of rehome's own options
 * @a:		arguments
 * @opt:	the option
 *
 * Return: 0, or an exit code
 */
static int rehome_option(struct rehome_args *a, int opt)
{
	long v;

	switch (opt) {
	case OPT_QMP:
		a->socket = optarg;
		return 0;
	case OPT_DRY_RUN:
		a->o.dry_run = true;
		return 0;
	case OPT_JSON:
		a->json = true;
		return 0;
	case OPT_NIC_FRONTEND:
		if (plan_frontend_parse(optarg, &a->o.plan.nic_frontend) < 0)
			return cli_usage("--nic-frontend is pci or usb, not '%s'", optarg);
		return 0;
	case OPT_TAP:
		return add_tap(a, optarg);
	case OPT_USB_MAC_FIXED:
		a->o.plan.usb_mac_fixed = true;
		return 0;
	case OPT_FORCE:
		a->o.plan.allow_paused = true;
		return 0;
	case OPT_EVENT_TIMEOUT:
		if (cli_parse_int("--event-timeout", optarg, 1, 600000, &v))
			return CLI_USAGE;
		a->o.apply.event_timeout_ms = (int)v;
		return 0;
	case OPT_TIMEOUT:
		return cli_parse_int("--timeout", optarg, 1, 3600000, &a->timeout);
	default:
		return cli_select_option(&a->sel, opt, optarg);
	}
}

/**
 * parse_rehome_args() - parse the command line
 * @argc:	argument count
 * @argv:	arguments
 * @a:		filled
 *
 * Return: 0, or an exit code
 */
static int parse_rehome_args(int argc, char **argv, struct rehome_args *a)
{
	static const struct option options[] = {
		{ "qmp", required_argument, NULL, OPT_QMP },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "nic-frontend", required_argument, NULL, OPT_NIC_FRONTEND },
		{ "tap", required_argument, NULL, OPT_TAP },
		{ "usb-mac-fixed", no_argument, NULL, OPT_USB_MAC_FIXED },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "event-timeout", required_argument, NULL, OPT_EVENT_TIMEOUT },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		CLI_SELECT_OPTIONS,
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int opt, rc = 0;

	rehome_opts_init(&a->o);
	cli_select_init(&a->sel);
	a->timeout = 10000;
	while (!rc && (opt = cli_getopt(argc, argv, "", options, &rc)) != -1) {
		if (opt == CLI_GETOPT_STOP)
			return rc;
		rc = rehome_option(a, opt);
	}
	if (!rc)
		rc = cli_no_extra_args(argc, argv);
	if (!rc && !a->socket)
		rc = cli_usage("--qmp SOCKET is required");
	a->o.sel = a->sel.sel;
	return rc;
}

/**
 * print_human() - the report for people
 * @r:		outcome
 * @commands:	also print each step's QMP commands
 */
static void print_human(const struct rehome *r, bool commands)
{
	size_t i;

	printf("QEMU %d.%d.%d, pid %d\n", r->before.ver_major, r->before.ver_minor,
	       r->before.ver_micro, (int)r->before.pid);
	for (i = 0; r->results && i < r->plan.n; i++) {
		const struct plan_step *st = &r->plan.steps[i];
		const struct apply_result *res = &r->results[i];

		printf("  %-10s %s\n  %-10s -> %s: %s", st->name, st->from, "", st->to,
		       apply_status_name(res->status));
		if (res->status == APPLY_MOVED)
			printf(" (%lld ms)", (long long)res->ms);
		printf("\n");
		if (commands && !st->already) {
			cleanup_json cp_json *cmds = apply_step_commands(st);
			cleanup_free char *text = cmds ? cp_json_dump(cmds, CP_JSON_PRETTY) : NULL;

			printf("%s\n", text ? text : "");
		}
	}
	if (!r->plan.n && (r->result == REHOME_OK || r->result == REHOME_DRY_RUN))
		printf("  nothing to re-home\n");
	printf("result: %s%s (%lld ms)\n", rehome_result_name(r->result),
	       r->verified ? ", verified" : "", (long long)r->ms);
}

/**
 * report() - print the outcome and choose the exit code
 * @r:		outcome
 * @a:		arguments
 *
 * Return: an enum cli_exit
 */
static int report(const struct rehome *r, const struct rehome_args *a)
{
	size_t i;

	if (a->json) {
		cleanup_json cp_json *j = rehome_report_json(r, a->o.dry_run);
		cleanup_free char *text = j ? cp_json_dump(j, CP_JSON_PRETTY) : NULL;

		printf("%s\n", text ? text : "{}");
	} else {
		print_human(r, a->o.dry_run && cli_verbose());
	}
	if (r->result == REHOME_OK || r->result == REHOME_DRY_RUN)
		return CLI_OK;
	if (!a->json || r->result == REHOME_FAILED)
		fprintf(stderr, "coldplug: error: %s\n", r->err.msg);
	if (r->result == REHOME_REFUSED)
		return CLI_REFUSED;
	for (i = 0; r->results && i < r->plan.n; i++)
		if (r->results[i].changed)
			return CLI_PARTIAL;
	return CLI_ERROR;
}

/**
 * rehome_main() - coldplug rehome
 * @argc:	argument count
 * @argv:	arguments
 *
 * Return: an enum cli_exit
 */
static int rehome_main(int argc, char **argv)
{
	struct rehome_args a;
	struct qmp_client *c;
	struct cp_error err;
	struct rehome *r;
	int rc;

	memset(&a, 0, sizeof(a));
	rc = parse_rehome_args(argc, argv, &a);
	if (rc)
		return rc;
	c = cli_connect(a.socket, (int)a.timeout, &err);
	if (!c)
		return cli_fail(&err);
	r = rehome_run(c, &a.o, &err);
	if (!r)
		rc = cli_fail(&err);
	else
		rc = report(r, &a);
	rehome_free(r);
	qmp_client_free(c);
	return rc;
}

const struct cli_command cmd_rehome = {
	.name = "rehome",
	.summary = "move a paused QEMU's hot-plugged disks and NICs onto coldplug's frontends",
	.help = rehome_help,
	.run = rehome_main,
};

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * coldplug incus-profile: print the Incus profile that wires VMs to
 * coldplug serve, or check one a user edited.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "coldplug/cleanup.h"
#include "coldplug/incus_profile.h"
#include "coldplug/macos.h"
#include "coldplug/util.h"

static const char profile_help[] =
	"Usage: coldplug incus-profile [OPTIONS] | incus profile create NAME\n"
	"       coldplug incus-profile --check FILE\n"
	"\n"
	"Print an Incus profile (YAML) that makes every VM using it start with its\n"
	"disks and NICs on coldplug's frontends. It sets three keys:\n"
	"  raw.qemu.conf       coldplug's disk slots, the setting that lets\n"
	"                      PCI device_del complete while the VM is paused, and a\n"
	"                      second QMP monitor that dials coldplug serve, and a\n"
	"                      ring buffer where the daemon writes its answer\n"
	"  raw.apparmor        the rules that let QEMU reach the daemon's socket and\n"
	"                      open Incus's tap (capability net_admin)\n"
	"  raw.qemu.scriptlet  a short stub: when the VM starts it adds one PCI NIC\n"
	"                      slot per NIC (with that NIC's MAC; a virtio-net-pci\n"
	"                      slot opens the NIC's tap itself, with Incus's queue\n"
	"                      count: the direct path, at native speed), and at pre-start\n"
	"                      asks the daemon to re-home the VM and waits; a failure\n"
	"                      fails the start with the daemon's message\n"
	"coldplug serve (coldplug.service) must run on the host.\n"
	"\n"
	"Options:\n"
	"  --disk-slots N        virtio-blk disk slots (default 8, at most 12)\n"
	"  --cd-slots N          ignored (kept for old command lines): an ISO gets a\n"
	"                        USB CD drive coldplug adds on Incus's xHCI\n"
	"  --nic-frontend pci|usb  PCI NIC slots (default) or usb-net\n"
	"  --nic-model MODEL     PCI NIC model: virtio-net-pci (default; macOS 11+):\n"
	"                        direct on Incus's tap for bridged, ovn, routed and\n"
	"                        p2p NICs; vmxnet3 (macOS 10.11+) or e1000-82545em:\n"
	"                        behind a net hub fed one fresh queue (slower)\n"
	"  --vhost auto|on|off   direct NIC slots use vhost-net (default auto: on\n"
	"                        when /dev/vhost-net exists here now; with on, a VM\n"
	"                        fails to start on a host without it)\n"
	"  --socket PATH         the daemon's socket (default /run/coldplug/coldplug.sock)\n"
	"  --qemu-version X.Y    the QEMU Incus runs, to spell the monitor's reconnect\n"
	"                        option (reconnect-ms from 9.2; reconnect was removed in\n"
	"                        10.2); default: asked from /opt/incus/bin or $PATH\n"
	"  --timeout SECONDS     how long a VM start waits for the daemon (default 120)\n"
	"  --no-hotplug-global   leave out the ICH9-LPC global (PCI disks and NICs then\n"
	"                        cannot be re-homed)\n"
	"  --check FILE          check a profile (FILE, or - for stdin) instead: the\n"
	"                        override syntax as Incus parses it, the monitor, the\n"
	"                        AppArmor rule, the stub; exit 1 with every problem\n"
	"\n" CLI_MACOS_HELP
	"  With --macos the profile also sets security.secureboot=false (OpenCore is\n"
	"  not signed for Secure Boot).\n"
	"\n"
	"Example:\n"
	"  coldplug incus-profile | incus profile create coldplug\n"
	"  incus launch IMAGE vm1 --vm -p default -p coldplug\n";

enum {
	OPT_DISK_SLOTS = CLI_OPT_FIRST_PRIVATE,
	OPT_CD_SLOTS,
	OPT_NIC_FRONTEND,
	OPT_NIC_MODEL,
	OPT_VHOST,
	OPT_SOCKET,
	OPT_QEMU_VERSION,
	OPT_TIMEOUT,
	OPT_NO_HOTPLUG,
	OPT_CHECK,
};

/**
 * parse_version() - "X.Y[.Z]" into major and minor
 * @text:	version text
 * @major:	set
 * @minor:	set
 *
 * Return: true if it is one
 */
static bool parse_version(const char *text, int *major, int *minor)
{
	char *end;
	long ma = strtol(text, &end, 10), mi;

	if (end == text || *end != '.')
		return false;
	mi = strtol(end + 1, &end, 10);
	if (ma < 1 || ma > 99 || mi < 0 || mi > 99)
		return false;
	*major = (int)ma;
	*minor = (int)mi;
	return true;
}

/**
 * version_of() - run "@prog --version" and parse QEMU's answer
 * @prog:	program, a path or a name looked up in $PATH
 * @major:	set on success
 * @minor:	set on success
 *
 * Run directly (no shell), with stdout on a pipe and stderr dropped.
 *
 * Return: true if it answered like QEMU
 */
static bool version_of(const char *prog, int *major, int *minor)
{
	char line[256] = "";
	bool found = false;
	int fds[2], st;
	FILE *out;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return false;
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(fds[1], 1);
		dup2(null, 2);
		execlp(prog, prog, "--version", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	out = fdopen(fds[0], "r");
	while (out && fgets(line, sizeof(line), out))
		if (!found && !strncmp(line, "QEMU emulator version ", 22))
			found = parse_version(line + 22, major, minor);
	if (out)
		fclose(out);
	else
		close(fds[0]);
	if (pid > 0)
		waitpid(pid, &st, 0);
	return pid > 0 && found;
}

/**
 * detect_qemu_version() - ask the QEMU Incus would run
 * @major:	set on success
 * @minor:	set on success
 *
 * Zabbly's Incus packages bring their own QEMU in /opt/incus/bin.
 *
 * Return: true if found
 */
static bool detect_qemu_version(int *major, int *minor)
{
	return version_of("/opt/incus/bin/qemu-system-x86_64", major, minor) ||
	       version_of("qemu-system-x86_64", major, minor);
}

/**
 * check_file() - --check FILE
 * @path:	file, or "-"
 * @socket:	--socket, or NULL
 *
 * Return: an enum cli_exit
 */
static int check_file(const char *path, const char *socket)
{
	struct incus_profile_report rep;
	cleanup_free char *text = NULL;
	struct cp_error err;
	size_t len = 0, cap = 0;
	FILE *f = strcmp(path, "-") ? fopen(path, "re") : stdin;
	int c;

	if (!f) {
		fprintf(stderr, "coldplug: error: %s: %s\n", path, strerror(errno));
		return CLI_ERROR;
	}
	while ((c = fgetc(f)) != EOF) {
		if (len + 2 > cap) {
			char *n = realloc(text, cap = cap ? cap * 2 : 4096);

			if (!n) {
				if (f != stdin)
					fclose(f);
				fprintf(stderr, "coldplug: error: %s: out of memory\n", path);
				return CLI_ERROR;
			}
			text = n;
		}
		text[len++] = (char)c;
	}
	if (f != stdin)
		fclose(f);
	if (incus_profile_check(text ? text : "", len, socket, &rep, &err) < 0) {
		fprintf(stderr, "coldplug: error: %s: %s\n", path, err.msg);
		return CLI_ERROR;
	}
	printf("%s: OK: %u disk slot%s, NIC frontend %s, dials %s%s\n", path, rep.disk_slots,
	       rep.disk_slots == 1 ? "" : "s", *rep.frontend ? rep.frontend : "?", rep.socket,
	       *rep.warnings ? "\nwarnings:" : "");
	if (*rep.warnings)
		printf("%s\n", rep.warnings);
	return CLI_OK;
}

/**
 * profile_option() - apply one option
 * @o:		options
 * @opt:	the option
 * @qver:	set by --qemu-version
 * @check:	set by --check
 *
 * Return: 0, or CLI_USAGE
 */
static int profile_option(struct incus_profile_opts *o, int opt, const char **qver,
			  const char **check)
{
	long v;

	switch (opt) {
	case OPT_CD_SLOTS:
		return cli_parse_int("--cd-slots", optarg, 0, 12, &v) ? CLI_USAGE : 0;
	case OPT_DISK_SLOTS:
		if (cli_parse_int("--disk-slots", optarg, 0, 12, &v))
			return CLI_USAGE;
		o->conf.disk_slots = (unsigned)v;
		return 0;
	case OPT_NIC_FRONTEND:
		if (plan_frontend_parse(optarg, &o->frontend) < 0)
			return cli_usage("--nic-frontend is pci or usb, not '%s'", optarg);
		return 0;
	case OPT_NIC_MODEL:
		o->conf.nic_model = optarg;
		return 0;
	case OPT_VHOST:
		if (strcmp(optarg, "auto") && strcmp(optarg, "on") && strcmp(optarg, "off"))
			return cli_usage("--vhost is auto, on or off, not '%s'", optarg);
		o->conf.vhost = !strcmp(optarg, "on") ||
				(!strcmp(optarg, "auto") &&
				 access("/dev/vhost-net", R_OK | W_OK) == 0);
		return 0;
	case OPT_SOCKET:
		o->monitor.socket = optarg;
		return 0;
	case OPT_QEMU_VERSION:
		*qver = optarg;
		return 0;
	case OPT_TIMEOUT:
		if (cli_parse_int("--timeout", optarg, 5, 3600, &v))
			return CLI_USAGE;
		o->timeout_s = (unsigned)v;
		return 0;
	case OPT_NO_HOTPLUG:
		o->conf.hotplug_global = false;
		return 0;
	case OPT_CHECK:
		*check = optarg;
		return 0;
	default:
		return cli_usage("unhandled option");
	}
}

/**
 * choose_reconnect() - reconnect-ms from QEMU 9.2, reconnect before
 * @o:		options
 * @qver:	--qemu-version, or NULL to detect
 *
 * Return: 0, or CLI_USAGE
 */
static int choose_reconnect(struct incus_profile_opts *o, const char *qver)
{
	int major = 0, minor = 0;

	if (qver && !parse_version(qver, &major, &minor))
		return cli_usage("--qemu-version wants X.Y, like 10.0");
	if (!qver && !detect_qemu_version(&major, &minor)) {
		fprintf(stderr,
			"coldplug: warning: could not ask QEMU its version; writing "
			"'reconnect' (QEMU < 10.2). Give --qemu-version for a newer QEMU.\n");
		return 0;
	}
	o->monitor.use_reconnect_ms = major > 9 || (major == 9 && minor >= 2);
	return 0;
}

/**
 * profile_main() - coldplug incus-profile
 * @argc:	argument count
 * @argv:	arguments
 *
 * Return: an enum cli_exit
 */
static int profile_main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "disk-slots", required_argument, NULL, OPT_DISK_SLOTS },
		{ "cd-slots", required_argument, NULL, OPT_CD_SLOTS },
		{ "nic-frontend", required_argument, NULL, OPT_NIC_FRONTEND },
		{ "nic-model", required_argument, NULL, OPT_NIC_MODEL },
		{ "vhost", required_argument, NULL, OPT_VHOST },
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "qemu-version", required_argument, NULL, OPT_QEMU_VERSION },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "no-hotplug-global", no_argument, NULL, OPT_NO_HOTPLUG },
		{ "check", required_argument, NULL, OPT_CHECK },
		CLI_MACOS_OPTIONS,
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	const char *qver = NULL, *check = NULL;
	struct cli_macos mc = { .on = false };
	bool socket_given = false;
	struct incus_profile_opts o;
	struct macos_opts m;
	struct cp_error err;
	char *text;
	int opt, rc = 0;

	incus_profile_opts_init(&o);
	o.conf.vhost = access("/dev/vhost-net", R_OK | W_OK) == 0; /* --vhost auto */
	while (!rc && (opt = cli_getopt(argc, argv, "", options, &rc)) != -1) {
		if (opt == CLI_GETOPT_STOP)
			return rc;
		socket_given |= opt == OPT_SOCKET;
		if (!cli_macos_option(&mc, opt, optarg))
			rc = profile_option(&o, opt, &qver, &check);
	}
	if (!rc)
		rc = cli_no_extra_args(argc, argv);
	if (!rc && !check)
		rc = cli_macos_apply(&mc, QCONF_INCUS, &m);
	if (rc)
		return rc;
	if (check)
		return check_file(check, socket_given ? o.monitor.socket : NULL);
	rc = choose_reconnect(&o, qver);
	if (rc)
		return rc;
	o.conf.macos = mc.on ? &m : NULL;
	text = incus_profile_generate(&o, &err);
	if (mc.on)
		macos_opts_wipe(&m);
	if (!text)
		return err.code == CP_ERR_INVALID ? cli_usage("%s", err.msg) : cli_fail(&err);
	fputs(text, stdout);
	explicit_bzero(text, strlen(text)); /* it may hold the OSK */
	free(text);
	return CLI_OK;
}

const struct cli_command cmd_incus_profile = {
	.name = "incus-profile",
	.summary = "print (or --check) the Incus profile that wires VMs to coldplug serve",
	.help = profile_help,
	.run = profile_main,
};

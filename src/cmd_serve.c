/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * coldplug serve: the host daemon Incus VMs' second QMP monitor dials.
 * Options come from a small config file and the command line (the file's
 * keys are the long options; the command line wins).
 */
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "coldplug/cleanup.h"
#include "coldplug/log.h"
#include "coldplug/util.h"
#include "serve.h"

#define SERVE_DEFAULT_CONFIG "/etc/coldplug/serve.conf"

static const char serve_help[] =
	"Usage: coldplug serve [OPTIONS]\n"
	"\n"
	"Run the coldplug daemon for Incus. Each VM whose profile comes from\n"
	"'coldplug incus-profile' gets a second QMP monitor that dials this daemon's\n"
	"socket when QEMU starts. At Incus's pre-start stage the profile's scriptlet\n"
	"asks the daemon to re-home the VM's disks and NICs (what 'coldplug rehome'\n"
	"does) and waits for the answer, so the VM starts with them on coldplug's\n"
	"frontends, or fails to start with the reason. While the VM runs, the\n"
	"daemon gives a slot its placeholder back when Incus detaches the disk on\n"
	"it, so the detach completes. One event loop serves every VM.\n"
	"\n"
	"Options (also as 'key = value' lines in the config file):\n"
	"  --config FILE        config file (default " SERVE_DEFAULT_CONFIG ", if it\n"
	"                       exists)\n"
	"  --socket PATH        where to listen (default /run/coldplug/coldplug.sock)\n"
	"  --qemu-user NAME     the user QEMU runs as: it and root may connect, nobody\n"
	"                       else (default auto: incus if that user exists, else\n"
	"                       nobody, as Incus chooses; root: root only)\n"
	"  --nic-frontend pci|usb  default for VMs whose scriptlet does not choose\n"
	"  --id-prefix PREFIX   qdev id prefix of the devices to re-home (dev-incus_)\n"
	"  --event-timeout MS   deadline for DEVICE_DELETED (default 5000)\n"
	"  --poll-ms MS         how often to look for a VM's request (default 100)\n"
	"  --watch-ms MS        how often to look for a disk detach (default 1000)\n"
	"  --max-vms N          connections served at once (default 256), one per\n"
	"                       QEMU process\n"
	"  --handshake-timeout MS  how long a new connection may take to greet and\n"
	"                       say which VM it is (default 5000); one that has not\n"
	"                       is closed and gives up its slot\n"
	"\n"
	"Logs go to stderr (the journal under systemd); --verbose for each step,\n"
	"--trace for every QMP message. SIGTERM stops the daemon; QEMUs reconnect\n"
	"to the next one. The daemon never resets a VM.\n"
	"\n"
	"Needs no privilege: coldplug.service runs it as user coldplug with no\n"
	"capability. The socket gets an ACL entry for --qemu-user. NICs on the\n"
	"profile's direct path (virtio-net) need nothing more; a NIC that needs a\n"
	"new queue on its tap (usb-net, a hub-fed PCI slot) needs CAP_NET_ADMIN and,\n"
	"to learn the tap from QEMU's /proc fdinfo, CAP_SYS_PTRACE: the daemon\n"
	"never takes a tap name from a VM, and refuses such a NIC without them.\n";

enum {
	OPT_CONFIG = CLI_OPT_FIRST_PRIVATE,
	OPT_SOCKET,
	OPT_QEMU_USER,
	OPT_NIC_FRONTEND,
	OPT_EVENT_TIMEOUT,
	OPT_POLL_MS,
	OPT_WATCH_MS,
	OPT_MAX_VMS,
	OPT_HANDSHAKE_TIMEOUT,
};

static const struct option serve_options[] = {
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "qemu-user", required_argument, NULL, OPT_QEMU_USER },
	{ "nic-frontend", required_argument, NULL, OPT_NIC_FRONTEND },
	{ "event-timeout", required_argument, NULL, OPT_EVENT_TIMEOUT },
	{ "poll-ms", required_argument, NULL, OPT_POLL_MS },
	{ "watch-ms", required_argument, NULL, OPT_WATCH_MS },
	{ "max-vms", required_argument, NULL, OPT_MAX_VMS },
	{ "handshake-timeout", required_argument, NULL, OPT_HANDSHAKE_TIMEOUT },
	{ "id-prefix", required_argument, NULL, CLI_OPT_ID_PREFIX },
	CLI_COMMON_OPTIONS,
	{ NULL, 0, NULL, 0 },
};

/**
 * struct serve_args - parsed options
 * @o:		daemon options
 * @strings:	copies of values read from the config file (freed at exit)
 * @nstrings:	their count
 */
struct serve_args {
	struct serve_opts o;
	char *strings[64];
	size_t nstrings;
};

/**
 * keep() - a value that must outlive the config file's buffer
 * @a:	arguments
 * @v:	value
 *
 * Return: a stable copy, or NULL when out of memory or too many
 */
static const char *keep(struct serve_args *a, const char *v)
{
	if (a->nstrings == CP_ARRAY_SIZE(a->strings))
		return NULL;
	a->strings[a->nstrings] = strdup(v);
	return a->strings[a->nstrings++];
}

/**
 * set_ms() - a duration option
 * @name:	option name
 * @v:		value
 * @out:	where it goes
 *
 * Return: 0, or CLI_USAGE
 */
static int set_ms(const char *name, const char *v, int *out)
{
	long n;

	if (cli_parse_int(name, v, 1, 3600000, &n))
		return CLI_USAGE;
	*out = (int)n;
	return 0;
}

/**
 * serve_option() - apply one option, from the command line or the file
 * @a:		arguments
 * @opt:	option id
 * @v:		value (stable: argv, or kept)
 *
 * Return: 0, or CLI_USAGE
 */
static int serve_option(struct serve_args *a, int opt, const char *v)
{
	long n;

	switch (opt) {
	case OPT_SOCKET:
		a->o.socket = v;
		return 0;
	case OPT_QEMU_USER:
		a->o.qemu_user = v;
		return 0;
	case OPT_NIC_FRONTEND:
		if (plan_frontend_parse(v, &a->o.rehome.plan.nic_frontend) < 0)
			return cli_usage("nic-frontend is pci or usb, not '%s'", v);
		return 0;
	case CLI_OPT_ID_PREFIX:
		a->o.rehome.sel.id_prefix = v;
		return 0;
	case OPT_EVENT_TIMEOUT:
		return set_ms("event-timeout", v, &a->o.rehome.apply.event_timeout_ms);
	case OPT_POLL_MS:
		return set_ms("poll-ms", v, &a->o.poll_ms);
	case OPT_WATCH_MS:
		return set_ms("watch-ms", v, &a->o.watch_ms);
	case OPT_HANDSHAKE_TIMEOUT:
		return set_ms("handshake-timeout", v, &a->o.identify_ms);
	case OPT_MAX_VMS:
		if (cli_parse_int("max-vms", v, 1, 4096, &n))
			return CLI_USAGE;
		a->o.max_vms = (unsigned)n;
		return 0;
	default:
		return cli_usage("unhandled option");
	}
}

/**
 * option_by_name() - the option id of a config file key
 * @key:	key
 *
 * Return: the id, or -1 (--config and the common options are not keys)
 */
static int option_by_name(const char *key)
{
	size_t i;

	for (i = 0; serve_options[i].name; i++)
		if (!strcmp(serve_options[i].name, key) && serve_options[i].val != OPT_CONFIG &&
		    serve_options[i].has_arg == required_argument)
			return serve_options[i].val;
	return -1;
}

/**
 * config_line() - apply one "key = value" line
 * @a:		arguments
 * @path:	file, for messages
 * @lineno:	line number
 * @line:	the line (modified)
 *
 * Return: 0, or CLI_USAGE
 */
static int config_line(struct serve_args *a, const char *path, int lineno, char *line)
{
	char *eq, *key, *val, *end;
	const char *kept;
	int opt;

	key = line + strspn(line, " \t");
	if (!*key || *key == '#' || *key == '\n')
		return 0;
	eq = strchr(key, '=');
	if (!eq)
		return cli_usage("%s:%d: expected 'key = value'", path, lineno);
	for (end = eq; end > key && strchr(" \t", end[-1]); end--)
		;
	*end = '\0';
	val = eq + 1 + strspn(eq + 1, " \t");
	val[strcspn(val, "\r\n")] = '\0';
	opt = option_by_name(key);
	if (opt < 0)
		return cli_usage("%s:%d: unknown key '%s' (the keys are serve's long options)",
				 path, lineno, key);
	kept = keep(a, val);
	if (!kept)
		return cli_usage("%s: too many keys", path);
	return serve_option(a, opt, kept);
}

/**
 * read_config() - apply a config file
 * @a:		arguments
 * @path:	file
 * @required:	a missing file is an error (given with --config)
 *
 * Return: 0, or an exit code
 */
static int read_config(struct serve_args *a, const char *path, bool required)
{
	FILE *f = fopen(path, "re");
	char line[1024];
	int lineno = 0, rc = 0;

	if (!f) {
		if (!required && errno == ENOENT)
			return 0;
		fprintf(stderr, "coldplug: error: config file %s: %s\n", path, strerror(errno));
		return CLI_ERROR;
	}
	while (!rc && fgets(line, sizeof(line), f))
		rc = config_line(a, path, ++lineno, line);
	fclose(f);
	return rc;
}

/**
 * find_config() - the --config value, looked up before other options
 * @argc:	argument count
 * @argv:	arguments
 *
 * Return: the path, or NULL
 */
static const char *find_config(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			return argv[i + 1];
		if (!strncmp(argv[i], "--config=", 9))
			return argv[i] + 9;
	}
	return NULL;
}

/**
 * serve_main() - coldplug serve
 * @argc:	argument count
 * @argv:	arguments
 *
 * Return: an enum cli_exit
 */
static int serve_main(int argc, char **argv)
{
	const char *config = find_config(argc, argv);
	struct serve_args a = { 0 };
	struct cp_error err;
	size_t i;
	int opt, rc;

	serve_opts_init(&a.o);
	if (!getenv("COLDPLUG_DEBUG"))
		cp_log_set_level(CP_LOG_INFO); /* a daemon's normal log says what it did */
	rc = read_config(&a, config ? config : SERVE_DEFAULT_CONFIG, config != NULL);
	while (!rc && (opt = cli_getopt(argc, argv, "", serve_options, &rc)) != -1) {
		if (opt == CLI_GETOPT_STOP)
			break;
		if (opt != OPT_CONFIG)
			rc = serve_option(&a, opt, optarg);
	}
	if (!rc)
		rc = cli_no_extra_args(argc, argv);
	a.o.trace = cli_trace();
	if (!rc && serve_run(&a.o, &err) < 0)
		rc = cli_fail(&err);
	for (i = 0; i < a.nstrings; i++)
		free(a.strings[i]);
	return rc;
}

const struct cli_command cmd_serve = {
	.name = "serve",
	.summary = "run the daemon Incus VMs' monitors dial (for the Incus profile)",
	.help = serve_help,
	.run = serve_main,
};

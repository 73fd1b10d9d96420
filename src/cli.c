/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shared subcommand helpers: see cli.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "coldplug/log.h"
#include "coldplug/macos.h"
#include "coldplug/qmp.h"

const struct cli_command *cli_current;
static bool trace_on;
static bool verbose_on;

/**
 * log_to_stderr() - the program's log handler
 * @level:	message level
 * @msg:	message
 * @userdata:	unused
 */
static void log_to_stderr(enum cp_log_level level, const char *msg, void *userdata)
{
	(void)userdata;
	if (level == CP_LOG_INFO)
		fprintf(stderr, "coldplug: %s\n", msg);
	else
		fprintf(stderr, "coldplug: %s: %s\n", cp_log_level_name(level), msg);
}

/**
 * cli_setup_logging() - log to stderr; verbosity from $COLDPLUG_DEBUG
 */
void cli_setup_logging(void)
{
	const char *dbg = getenv("COLDPLUG_DEBUG");

	cp_log_set_handler(log_to_stderr, NULL);
	cp_log_set_level(dbg && *dbg && strcmp(dbg, "0") ? CP_LOG_DEBUG : CP_LOG_WARN);
}

/**
 * cli_common_option() - handle an option every subcommand accepts
 * @opt:	getopt_long() result
 *
 * Return: CLI_OPT_DONE if handled, CLI_OPT_EXIT if the program should now
 * exit successfully (--help was printed), CLI_OPT_UNKNOWN otherwise
 */
enum cli_opt_result cli_common_option(int opt)
{
	switch (opt) {
	case 'h':
	case CLI_OPT_HELP:
		cli_help();
		return CLI_OPT_EXIT;
	case 'v':
	case CLI_OPT_VERBOSE:
		verbose_on = true;
		cp_log_set_level(CP_LOG_DEBUG);
		return CLI_OPT_DONE;
	case CLI_OPT_TRACE:
		trace_on = true;
		cp_log_set_level(CP_LOG_DEBUG);
		return CLI_OPT_DONE;
	case 'q':
	case CLI_OPT_QUIET:
		cp_log_set_level(CP_LOG_ERROR);
		return CLI_OPT_DONE;
	default:
		return CLI_OPT_UNKNOWN;
	}
}

/**
 * cli_getopt() - next option that belongs to the subcommand
 * @argc:	argument count
 * @argv:	arguments (argv[0] is the subcommand)
 * @shortopts:	the subcommand's short options ("hvq" are added)
 * @longopts:	its long options, ending with CLI_COMMON_OPTIONS and a zero entry
 * @rc:		exit code when CLI_GETOPT_STOP is returned (CLI_DONE after --help)
 *
 * Handles the common options and reports unknown ones.
 *
 * Return: the option, -1 after the last, or CLI_GETOPT_STOP (return *@rc)
 */
int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts, int *rc)
{
	char all[64];
	int opt;

	snprintf(all, sizeof(all), ":hvq%s", shortopts);
	opterr = 0;
	for (;;) {
		opt = getopt_long(argc, argv, all, longopts, NULL);
		if (opt == -1)
			return -1;
		if (opt == '?' || opt == ':') {
			*rc = cli_usage("%s '%s'",
					opt == '?' ? "unknown option" : "missing value for",
					argv[optind - 1]);
			return CLI_GETOPT_STOP;
		}
		switch (cli_common_option(opt)) {
		case CLI_OPT_DONE:
			continue;
		case CLI_OPT_EXIT:
			*rc = CLI_DONE;
			return CLI_GETOPT_STOP;
		case CLI_OPT_UNKNOWN:
			return opt;
		}
	}
}

/**
 * cli_verbose() - whether --verbose (or --trace) was given
 *
 * Return: true if so
 */
bool cli_verbose(void)
{
	return verbose_on || trace_on;
}

/**
 * cli_trace() - whether --trace was given
 *
 * Return: true if so
 */
bool cli_trace(void)
{
	return trace_on;
}

/**
 * cli_usage() - report a command-line error and point at --help
 * @fmt:	printf format of what is wrong
 *
 * Return: CLI_USAGE
 */
int cli_usage(const char *fmt, ...)
{
	const char *name = cli_current ? cli_current->name : NULL;
	va_list ap;

	fprintf(stderr, "coldplug%s%s: ", name ? " " : "", name ? name : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'coldplug %s%s--help'.\n", name ? name : "", name ? " " : "");
	return CLI_USAGE;
}

/**
 * cli_help() - print the current subcommand's help on stdout
 *
 * Return: CLI_OK
 */
int cli_help(void)
{
	if (cli_current)
		fputs(cli_current->help, stdout);
	fputs("\n" CLI_COMMON_HELP, stdout);
	return CLI_OK;
}

/**
 * cli_fail() - print an error and choose the exit code for it
 * @err:	the error
 *
 * Return: CLI_REFUSED for a refusal, CLI_PARTIAL after partial changes,
 * CLI_ERROR otherwise
 */
int cli_fail(const struct cp_error *err)
{
	if (err->qmp_class[0] && strcmp(err->qmp_class, "GenericError"))
		fprintf(stderr, "coldplug: error: %s [%s]\n", err->msg, err->qmp_class);
	else
		fprintf(stderr, "coldplug: error: %s\n", err->msg);
	if (err->code == CP_ERR_REFUSED)
		return CLI_REFUSED;
	if (err->code == CP_ERR_FAILED)
		return CLI_PARTIAL;
	return CLI_ERROR;
}

/**
 * cli_parse_int() - parse an integer option value in [@min, @max]
 * @opt:	option name, for the message
 * @arg:	its value
 * @min:	smallest accepted
 * @max:	largest accepted
 * @out:	the value
 *
 * Return: 0, or CLI_USAGE (after printing why)
 */
int cli_parse_int(const char *opt, const char *arg, long min, long max, long *out)
{
	char *end;
	long v;

	v = strtol(arg, &end, 10);
	if (!*arg || *end || v < min || v > max)
		return cli_usage("%s wants a whole number from %ld to %ld, not '%s'", opt, min, max,
				 arg);
	*out = v;
	return 0;
}

/**
 * cli_no_extra_args() - refuse positional arguments a command does not take
 * @argc:	argument count
 * @argv:	arguments
 *
 * Return: 0, or CLI_USAGE
 */
int cli_no_extra_args(int argc, char **argv)
{
	if (optind < argc)
		return cli_usage("unexpected argument '%s'", argv[optind]);
	return 0;
}

/**
 * cli_connect() - connect to a QMP socket with the program's options
 * @path:	socket path
 * @timeout_ms:	connect, handshake and per-command deadline
 * @err:	filled on failure
 *
 * Return: ready client, or NULL
 */
struct qmp_client *cli_connect(const char *path, int timeout_ms, struct cp_error *err)
{
	struct qmp_client_opts o;

	qmp_client_opts_init(&o);
	o.cmd_timeout_ms = timeout_ms;
	if (cli_trace())
		o.trace = 1;
	return qmp_client_connect(path, timeout_ms, &o, err);
}

/**
 * cli_select_init() - the default selection: Incus's devices
 * @s:	selection to initialise
 */
void cli_select_init(struct cli_select *s)
{
	memset(s, 0, sizeof(*s));
	s->sel.id_prefix = INV_INCUS_PREFIX;
	s->sel.ids = s->ids;
}

/**
 * cli_select_option() - handle --id-prefix / --device
 * @s:		selection
 * @opt:	the option
 * @arg:	its value
 *
 * Return: 0, or CLI_USAGE
 */
int cli_select_option(struct cli_select *s, int opt, const char *arg)
{
	switch (opt) {
	case CLI_OPT_ID_PREFIX:
		s->sel.id_prefix = arg;
		return 0;
	case CLI_OPT_DEVICE:
		if (s->sel.nids == CLI_MAX_DEVICES)
			return cli_usage("at most %d --device options", CLI_MAX_DEVICES);
		s->ids[s->sel.nids++] = arg;
		return 0;
	default:
		return cli_usage("unhandled option");
	}
}

/**
 * cli_macos_option() - record one macOS option
 * @c:		the options so far
 * @opt:	the option
 * @arg:	its value (NULL for flags)
 *
 * Return: true if @opt was a macOS option
 */
bool cli_macos_option(struct cli_macos *c, int opt, char *arg)
{
	static const char *const names[] = { "--macos",		"--osk",     "--osk-file",
					     "--macos-version", "--display", "--usb-bus",
					     "--add-xhci" };

	if (opt < CLI_OPT_MACOS || opt > CLI_OPT_ADD_XHCI)
		return false;
	if (opt != CLI_OPT_MACOS && !c->given)
		c->given = names[opt - CLI_OPT_MACOS];
	c->on |= opt == CLI_OPT_MACOS;
	c->osk = opt == CLI_OPT_OSK ? arg : c->osk;
	c->osk_file = opt == CLI_OPT_OSK_FILE ? arg : c->osk_file;
	c->version = opt == CLI_OPT_MACOS_VERSION ? arg : c->version;
	c->display = opt == CLI_OPT_DISPLAY ? arg : c->display;
	c->usb_bus = opt == CLI_OPT_USB_BUS ? arg : c->usb_bus;
	c->add_xhci |= opt == CLI_OPT_ADD_XHCI;
	return true;
}

/**
 * cli_macos_apply() - turn the macOS options into @m
 * @c:		the options as typed
 * @fmt:	--format
 * @m:		filled (the OSK included)
 *
 * Return: 0, or CLI_USAGE (the message never contains the OSK)
 */
int cli_macos_apply(struct cli_macos *c, enum qconf_format fmt, struct macos_opts *m)
{
	struct cp_error err;
	int rc = 0;

	if (c->given && !c->on)
		return cli_usage("%s goes with --macos", c->given);
	if (c->osk && c->osk_file)
		return cli_usage("give --osk or --osk-file, not both");
	macos_opts_init(m, fmt);
	m->usb_bus = c->usb_bus;
	m->add_xhci = c->add_xhci;
	if (c->osk) {
		rc = macos_set_osk(m, c->osk, &err);
		explicit_bzero(c->osk, strlen(c->osk));
	} else if (c->osk_file) {
		rc = macos_read_osk_file(m, c->osk_file, &err);
	}
	if (!rc && c->version)
		rc = macos_parse_version(c->version, &m->version, &err);
	if (!rc && c->display)
		rc = macos_parse_display(c->display, &m->display, &err);
	return rc ? cli_usage("%s", err.msg) : 0;
}

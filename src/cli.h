/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the subcommands of the coldplug program share: the command table
 * entry, exit codes, the options every subcommand accepts, logging to
 * stderr, and error reporting.
 */
#ifndef COLDPLUG_CLI_H
#define COLDPLUG_CLI_H

#include <getopt.h>
#include <stdbool.h>

#include "coldplug/error.h"
#include "coldplug/inventory.h"

/**
 * enum cli_exit - exit codes, documented in --help and the README
 * @CLI_OK:		success
 * @CLI_ERROR:		failed (connection, QEMU error, bad input file)
 * @CLI_USAGE:		bad command line
 * @CLI_REFUSED:	refused before changing anything (the VM is untouched)
 * @CLI_PARTIAL:	failed after changing something; the report says what
 */
enum cli_exit {
	CLI_OK = 0,
	CLI_ERROR = 1,
	CLI_USAGE = 2,
	CLI_REFUSED = 3,
	CLI_PARTIAL = 4,
};

/**
 * struct cli_command - one subcommand
 * @name:	as typed after "coldplug"
 * @summary:	one line for the command list
 * @help:	full --help text (usage line first)
 * @run:	entry point; argv[0] is @name; returns an enum cli_exit
 */
struct cli_command {
	const char *name;
	const char *summary;
	const char *help;
	int (*run)(int argc, char **argv);
};

/* Options every subcommand accepts; append to its getopt table. */
enum {
	CLI_OPT_HELP = 0x100,
	CLI_OPT_VERBOSE,
	CLI_OPT_TRACE,
	CLI_OPT_QUIET,
	CLI_OPT_FIRST_PRIVATE = 0x200,
};

#define CLI_COMMON_OPTIONS                                                                         \
	{ "help", no_argument, NULL, CLI_OPT_HELP },                                               \
		{ "verbose", no_argument, NULL, CLI_OPT_VERBOSE },                                 \
		{ "trace", no_argument, NULL, CLI_OPT_TRACE },                                     \
	{                                                                                          \
		"quiet", no_argument, NULL, CLI_OPT_QUIET                                          \
	}

#define CLI_COMMON_HELP                                                                            \
	"Common options:\n"                                                                        \
	"  -h, --help     show this help\n"                                                        \
	"  -v, --verbose  log what coldplug does, step by step\n"                                  \
	"      --trace    also log every QMP message in and out (fds marked);\n"                   \
	"                 same as COLDPLUG_QMP_TRACE=1 with --verbose\n"                           \
	"  -q, --quiet    log errors only\n"

/* What cli_common_option() did with an option. */
enum cli_opt_result {
	CLI_OPT_DONE,
	CLI_OPT_EXIT,
	CLI_OPT_UNKNOWN,
};

extern const struct cli_command *cli_current;

void cli_setup_logging(void);
enum cli_opt_result cli_common_option(int opt);
#define CLI_GETOPT_STOP (-2)
int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts,
	       int *rc);
bool cli_trace(void);
bool cli_verbose(void);
int cli_usage(const char *fmt, ...) CP_PRINTF(1, 2);
int cli_help(void);
int cli_fail(const struct cp_error *err);
int cli_parse_int(const char *opt, const char *arg, long min, long max, long *out);
int cli_no_extra_args(int argc, char **argv);

/* Which devices are the manager's (shared by inventory and rehome). */
#define CLI_MAX_DEVICES 64
struct cli_select {
	struct inv_select sel;
	const char *ids[CLI_MAX_DEVICES];
};

enum {
	CLI_OPT_ID_PREFIX = 0x180,
	CLI_OPT_DEVICE,
};

#define CLI_SELECT_OPTIONS                                                                         \
	{ "id-prefix", required_argument, NULL, CLI_OPT_ID_PREFIX },                               \
	{                                                                                          \
		"device", required_argument, NULL, CLI_OPT_DEVICE                                  \
	}

#define CLI_SELECT_HELP                                                                            \
	"\nWhich devices are the manager's (SELECTION):\n"                                         \
	"  --id-prefix PREFIX qdev id prefix of the devices to re-home (default\n"                 \
	"                     dev-incus_, Incus's; '' for none)\n"                                 \
	"  --device ID        also re-home the device with this qdev id (repeat)\n"

void cli_select_init(struct cli_select *s);
int cli_select_option(struct cli_select *s, int opt, const char *arg);

struct qmp_client;
struct qmp_client *cli_connect(const char *path, int timeout_ms, struct cp_error *err);

#endif /* COLDPLUG_CLI_H */

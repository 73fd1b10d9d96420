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
#include "coldplug/qconf.h"

/**
 * enum cli_exit - exit codes, documented in --help and the README
 * @CLI_OK:		success
 * @CLI_ERROR:		failed (connection, QEMU error, bad input file)
 * @CLI_USAGE:		bad command line
 * @CLI_REFUSED:	refused before changing anything (the VM is untouched)
 * @CLI_PARTIAL:	failed after changing something (or after a change QEMU
 *			never answered); the report says what
 * @CLI_DONE:		not an exit code: --help was printed, stop with CLI_OK
 *			(non-zero, so "if (rc) return rc;" stops every caller;
 *			main() turns it into CLI_OK)
 */
enum cli_exit {
	CLI_DONE = -1,
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

/* A table: clang-format would break up the brace lists of a macro. */
/* clang-format off */
#define CLI_COMMON_OPTIONS                                                                         \
	{ "help",	no_argument,		NULL,	CLI_OPT_HELP },                            \
	{ "verbose",	no_argument,		NULL,	CLI_OPT_VERBOSE },                         \
	{ "trace",	no_argument,		NULL,	CLI_OPT_TRACE },                           \
	{ "quiet",	no_argument,		NULL,	CLI_OPT_QUIET }
/* clang-format on */

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

/* clang-format off */
#define CLI_SELECT_OPTIONS                                                                         \
	{ "id-prefix",	required_argument,	NULL,	CLI_OPT_ID_PREFIX },                       \
	{ "device",	required_argument,	NULL,	CLI_OPT_DEVICE }
/* clang-format on */

#define CLI_SELECT_HELP                                                                            \
	"\nWhich devices are the manager's (SELECTION):\n"                                         \
	"  --id-prefix PREFIX qdev id prefix of the devices to re-home (default\n"                 \
	"                     dev-incus_, Incus's; '' for none)\n"                                 \
	"  --device ID        also re-home the device with this qdev id (repeat)\n"

void cli_select_init(struct cli_select *s);
int cli_select_option(struct cli_select *s, int opt, const char *arg);

/* The macOS options qemu-conf and incus-profile share (CLI_MACOS_OPTIONS). */
enum {
	CLI_OPT_MACOS = 0x1a0,
	CLI_OPT_OSK,
	CLI_OPT_OSK_FILE,
	CLI_OPT_MACOS_VERSION,
	CLI_OPT_DISPLAY,
	CLI_OPT_USB_BUS,
	CLI_OPT_ADD_XHCI,
};

/* clang-format off */
#define CLI_MACOS_OPTIONS                                                                          \
	{ "macos",		no_argument,		NULL,	CLI_OPT_MACOS },                   \
	{ "osk",		required_argument,	NULL,	CLI_OPT_OSK },                     \
	{ "osk-file",		required_argument,	NULL,	CLI_OPT_OSK_FILE },                \
	{ "macos-version",	required_argument,	NULL,	CLI_OPT_MACOS_VERSION },           \
	{ "display",		required_argument,	NULL,	CLI_OPT_DISPLAY },                 \
	{ "usb-bus",		required_argument,	NULL,	CLI_OPT_USB_BUS },                 \
	{ "add-xhci",		no_argument,		NULL,	CLI_OPT_ADD_XHCI }
/* clang-format on */

#define CLI_MACOS_HELP                                                                             \
	"macOS (see doc/macos.md):\n"                                                              \
	"  --macos              add what macOS needs: isa-applesmc with the OSK, a USB\n"          \
	"                       keyboard and tablet on the xHCI, a VGA display (no id,\n"          \
	"                       pcie.0 slot 0x0f); in incus format also delete\n"                  \
	"                       Incus's virtio keyboard, tablet and GPU and SPICE's\n"             \
	"                       USB redirection, which macOS cannot drive\n"                       \
	"  --osk-file FILE      Apple's OSK (64 characters, the SMC keys OSK0+OSK1 of\n"           \
	"                       a Mac), optionally followed by a newline; it goes into\n"          \
	"                       the output only, so keep that private\n"                           \
	"  --osk KEY            the same on the command line (visible to other users\n"            \
	"                       in ps while coldplug runs: prefer --osk-file)\n"                   \
	"  --macos-version V    the macOS to run (10.13 ... 10.15, 11 ... 15, 26):\n"              \
	"                       disk slots (virtio-blk) need 10.15+, virtio-net 11+,\n"            \
	"                       vmxnet3 10.11+; impossible choices are refused\n"                  \
	"  --display vga|vmware-svga  the display (default vga)\n"                                 \
	"  --usb-bus BUS        the xHCI bus for keyboard and tablet (incus format:\n"             \
	"                       default qemu_usb.0, Incus's; readconfig: an xHCI your\n"           \
	"                       command line creates BEFORE -readconfig, e.g. xhci.0)\n"           \
	"  --add-xhci           readconfig only: add a qemu-xhci, coldplug-xhci\n"                 \
	"                       (pcie.0 slot 0x0e), and use it\n"                                  \
	"  The CPU model is not part of a configuration file: Incus passes\n"                      \
	"  -cpu host itself. On Intel hosts that is what quickemu uses for macOS; on\n"            \
	"  AMD hosts, or for an older macOS, give Incus raw.qemu: -cpu with an Intel\n"            \
	"  model (OSX-KVM: Penryn,kvm=on,vendor=GenuineIntel,+invtsc,\n"                           \
	"  vmware-cpuid-freq=on,+ssse3,+sse4.2,+popcnt,+avx,+aes,+xsave,+xsaveopt,check;\n"        \
	"  Haswell-noTSX for macOS 14+). Details in doc/macos.md.\n"

/**
 * struct cli_macos - the macOS options as typed (applied once --format is
 *		      known, by cli_macos_apply())
 * @on:		--macos
 * @osk:	--osk (its argv copy is wiped once read)
 * @osk_file:	--osk-file
 * @version:	--macos-version
 * @display:	--display
 * @usb_bus:	--usb-bus
 * @add_xhci:	--add-xhci
 * @given:	the first macOS option given, for the "needs --macos" message
 */
struct cli_macos {
	bool on;
	char *osk;
	const char *osk_file;
	const char *version;
	const char *display;
	const char *usb_bus;
	bool add_xhci;
	const char *given;
};

struct macos_opts;
bool cli_macos_option(struct cli_macos *c, int opt, char *arg);
int cli_macos_apply(struct cli_macos *c, enum qconf_format fmt, struct macos_opts *m);

struct qmp_client;
struct qmp_client *cli_connect(const char *path, int timeout_ms, struct cp_error *err);

#endif /* COLDPLUG_CLI_H */

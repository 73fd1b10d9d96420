/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * coldplug kext: write the codeless kext that binds QEMU's usb-net to
 * macOS's CDC driver, and print the OpenCore entry that injects it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "coldplug/cleanup.h"
#include "coldplug/kext.h"

static const char kext_help[] =
	"Usage: coldplug kext --out DIR [--name NAME] [--force] [--opencore-snippet]\n"
	"       coldplug kext --opencore-snippet [--name NAME]\n"
	"\n"
	"Write a codeless kext, DIR/NAME.kext/Contents/Info.plist, whose IOKit\n"
	"personality binds QEMU's usb-net (USB 0525:a4a2, bcdDevice 0: the NIC\n"
	"--nic-frontend usb re-homes Incus NICs onto) to macOS's own CDC\n"
	"driver, AppleUSBCDCCompositeDevice in com.apple.driver.usb.cdc. It has no\n"
	"code; OpenCore injects it. Only the usb-net path needs it: the PCI NIC\n"
	"slots (virtio-net-pci, vmxnet3) have drivers in macOS.\n"
	"\n"
	"Options:\n"
	"  --out DIR            write the bundle into DIR (EFI/OC/Kexts on the\n"
	"                       OpenCore volume); DIR is created if missing\n"
	"  --name NAME          bundle name (default " KEXT_DEFAULT_NAME "): letters,\n"
	"                       digits and '-'; CFBundleIdentifier is\n"
	"                       " KEXT_ID_PREFIX "NAME\n"
	"  --force              replace the Info.plist of an existing NAME.kext\n"
	"  --opencore-snippet   print the <dict> to add to config.plist under\n"
	"                       Kernel -> Add (ExecutablePath empty: codeless)\n"
	"  --no-preferred-config  leave out kUSBPreferredConfiguration = 1 (the\n"
	"                       CDC-ECM configuration; the key is unverified on\n"
	"                       current macOS, see doc/macos.md)\n"
	"\n"
	"Before relying on it, check on your macOS that usb-net needs it at all\n"
	"(System Information -> USB, and ifconfig, without the kext) and that it\n"
	"binds with it: no macOS runs in coldplug's own tests. Exit status 3 means\n"
	"the bundle exists and nothing was written.\n"
	"\n"
	"Example:\n"
	"  coldplug kext --out /mnt/EFI/OC/Kexts --opencore-snippet\n";

enum {
	OPT_OUT = CLI_OPT_FIRST_PRIVATE,
	OPT_NAME,
	OPT_FORCE,
	OPT_SNIPPET,
	OPT_NO_PREFERRED,
};

/**
 * struct kext_cli - what the command line asked for
 * @o:		the bundle
 * @out:	--out, or NULL
 * @force:	--force
 * @snippet:	--opencore-snippet
 */
struct kext_cli {
	struct kext_opts o;
	const char *out;
	bool force;
	bool snippet;
};

/**
 * kext_option() - handle one option
 * @c:		what the command line asked for
 * @opt:	the option
 *
 * Return: 0, or CLI_USAGE
 */
static int kext_option(struct kext_cli *c, int opt)
{
	switch (opt) {
	case OPT_OUT:
		c->out = optarg;
		return 0;
	case OPT_NAME:
		c->o.name = optarg;
		return 0;
	case OPT_FORCE:
		c->force = true;
		return 0;
	case OPT_SNIPPET:
		c->snippet = true;
		return 0;
	case OPT_NO_PREFERRED:
		c->o.preferred_config = false;
		return 0;
	default:
		return cli_usage("unhandled option");
	}
}

/**
 * kext_run() - write the bundle and/or print the snippet
 * @c:	what the command line asked for
 *
 * Return: an enum cli_exit
 */
static int kext_run(const struct kext_cli *c)
{
	cleanup_free char *path = NULL, *snippet = NULL;
	struct cp_error err;

	if (kext_name_check(c->o.name, &err) < 0)
		return cli_usage("%s", err.msg);
	if (c->out) {
		path = kext_write_bundle(&c->o, c->out, c->force, &err);
		if (!path)
			return cli_fail(&err);
		fprintf(stderr, "coldplug: wrote %s\n", path);
	}
	if (c->snippet) {
		snippet = kext_opencore_entry(&c->o, &err);
		if (!snippet)
			return cli_fail(&err);
		fputs(snippet, stdout);
	}
	return CLI_OK;
}

/**
 * kext_main() - coldplug kext
 * @argc:	argument count
 * @argv:	arguments
 *
 * Return: an enum cli_exit
 */
static int kext_main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "out", required_argument, NULL, OPT_OUT },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "opencore-snippet", no_argument, NULL, OPT_SNIPPET },
		{ "no-preferred-config", no_argument, NULL, OPT_NO_PREFERRED },
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	struct kext_cli c = { .out = NULL };
	int opt, rc = 0;

	kext_opts_init(&c.o);
	while (!rc && (opt = cli_getopt(argc, argv, "", options, &rc)) != -1) {
		if (opt == CLI_GETOPT_STOP)
			return rc;
		rc = kext_option(&c, opt);
	}
	if (!rc)
		rc = cli_no_extra_args(argc, argv);
	if (rc)
		return rc;
	if (!c.out && !c.snippet)
		return cli_usage("give --out DIR, --opencore-snippet, or both");
	if (c.force && !c.out)
		return cli_usage("--force goes with --out");
	return kext_run(&c);
}

const struct cli_command cmd_kext = {
	.name = "kext",
	.summary = "write the codeless kext that binds usb-net on macOS",
	.help = kext_help,
	.run = kext_main,
};

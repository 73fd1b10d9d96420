/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * coldplug: the program. Dispatches to a subcommand from a table; each
 * subcommand lives in its own cmd_*.c with its own options and --help.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config.h"

extern const struct cli_command cmd_incus_profile;
extern const struct cli_command cmd_inventory;
extern const struct cli_command cmd_kext;
extern const struct cli_command cmd_qemu_conf;
extern const struct cli_command cmd_qmp;
extern const struct cli_command cmd_rehome;
extern const struct cli_command cmd_serve;

static const struct cli_command *const commands[] = {
	&cmd_incus_profile, &cmd_inventory, &cmd_kext,	&cmd_qemu_conf,
	&cmd_qmp,	    &cmd_rehome,    &cmd_serve,
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/**
 * main_usage() - print the program's overview
 * @out:	stdout for --help, stderr after a mistake
 */
static void main_usage(FILE *out)
{
	size_t i;

	fputs("Usage: coldplug COMMAND [OPTIONS]\n"
	      "\n"
	      "coldplug moves the disks and NICs that Incus (or anyone) hot-plugs into a\n"
	      "paused QEMU onto cold-plugged frontends that a guest without PCI hotplug\n"
	      "(macOS) can use, over QMP, with no packet loss and no cloned block nodes.\n"
	      "\n"
	      "Commands:\n",
	      out);
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %-14s %s\n", commands[i]->name, commands[i]->summary);
	fputs("\n"
	      "Run 'coldplug COMMAND --help' for a command's options, and\n"
	      "'coldplug --version' for the version.\n",
	      out);
}

/**
 * find_command() - look a subcommand up by name
 * @name:	as typed
 *
 * Return: the command, or NULL
 */
static const struct cli_command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

/**
 * main() - dispatch to the subcommand
 * @argc:	argument count
 * @argv:	arguments
 *
 * Return: an enum cli_exit
 */
int main(int argc, char **argv)
{
	const struct cli_command *cmd;
	int rc;

	cli_setup_logging();
	if (argc < 2) {
		main_usage(stderr);
		return CLI_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		main_usage(stdout);
		return CLI_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("coldplug %s\n", COLDPLUG_VERSION);
		return CLI_OK;
	}
	if (!strcmp(argv[1], "help")) {
		if (argc < 3) {
			main_usage(stdout);
			return CLI_OK;
		}
		cli_current = find_command(argv[2]);
		if (!cli_current)
			return cli_usage("no command '%s'", argv[2]);
		return cli_help();
	}
	cmd = find_command(argv[1]);
	if (!cmd)
		return cli_usage("no command '%s' (see 'coldplug --help')", argv[1]);
	cli_current = cmd;
	rc = cmd->run(argc - 1, argv + 1);
	return rc == CLI_DONE ? CLI_OK : rc;
}

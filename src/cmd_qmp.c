/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * coldplug qmp: send one QMP (or HMP) command and print the reply. The tool
 * to reach for when looking at what QEMU has, or trying one step by hand.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "coldplug/cleanup.h"
#include "coldplug/json.h"
#include "coldplug/qmp.h"

#define QMP_MAX_PASS_FDS 8

static const char qmp_help[] =
	"Usage: coldplug qmp --qmp SOCKET COMMAND [JSON-ARGUMENTS]\n"
	"       coldplug qmp --qmp SOCKET --hmp 'HMP COMMAND'\n"
	"\n"
	"Send one command to a running QEMU over QMP and print the reply as JSON\n"
	"(for --hmp, the command's text output).\n"
	"\n"
	"Options:\n"
	"  --qmp SOCKET      QEMU's QMP unix socket, as given by\n"
	"                    -qmp unix:SOCKET,server=on,wait=off\n"
	"  --hmp LINE        run an HMP command through human-monitor-command\n"
	"  --fd PATH[:ro]    open PATH (read-write, or read-only with :ro) and pass\n"
	"                    the descriptor with the command, as getfd and add-fd\n"
	"                    expect (SCM_RIGHTS); may be repeated\n"
	"  --timeout MS      deadline to connect and for the reply (default 10000)\n"
	"  --compact         print the reply on one line\n"
	"\n"
	"A QMP socket serves one client at a time: Incus keeps its own monitor\n"
	"connected, so point this at a second monitor (see 'coldplug qemu-conf').\n"
	"\n"
	"Examples:\n"
	"  coldplug qmp --qmp /tmp/vm.qmp query-block\n"
	"  coldplug qmp --qmp /tmp/vm.qmp qom-list '{\"path\":\"/machine/peripheral\"}'\n"
	"  coldplug qmp --qmp /tmp/vm.qmp --hmp 'info network'\n"
	"  coldplug qmp --qmp /tmp/vm.qmp --fd disk.img add-fd '{\"opaque\":\"rdwr:x\"}'\n"
	"\n"
	"Exit status: 0 reply printed; 1 QEMU answered with an error, or the\n"
	"connection failed; 2 bad command line.\n";

enum {
	OPT_QMP = CLI_OPT_FIRST_PRIVATE,
	OPT_HMP,
	OPT_FD,
	OPT_TIMEOUT,
	OPT_COMPACT,
};

/**
 * struct qmp_args - parsed command line
 * @socket:	--qmp
 * @hmp:	--hmp, or NULL
 * @fds:	descriptors opened for --fd
 * @nfds:	their count
 * @timeout_ms:	--timeout
 * @compact:	--compact
 */
struct qmp_args {
	const char *socket;
	const char *hmp;
	int fds[QMP_MAX_PASS_FDS];
	size_t nfds;
	long timeout_ms;
	bool compact;
};

/**
 * open_pass_fd() - open a file named by --fd
 * @a:		parsed arguments; the descriptor is added to it
 * @spec:	PATH or PATH:ro
 *
 * Return: 0, or an exit code
 */
static int open_pass_fd(struct qmp_args *a, const char *spec)
{
	cleanup_free char *path = strdup(spec);
	size_t len = path ? strlen(path) : 0;
	int flags = O_RDWR | O_CLOEXEC, fd;

	if (!path)
		return CLI_ERROR;
	if (a->nfds == QMP_MAX_PASS_FDS)
		return cli_usage("at most %d --fd options", QMP_MAX_PASS_FDS);
	if (len > 3 && !strcmp(path + len - 3, ":ro")) {
		path[len - 3] = '\0';
		flags = O_RDONLY | O_CLOEXEC;
	}
	fd = open(path, flags);
	if (fd < 0) {
		fprintf(stderr, "coldplug: error: --fd %s: %m\n", path);
		return CLI_ERROR;
	}
	a->fds[a->nfds++] = fd;
	return 0;
}

/**
 * parse_qmp_args() - parse the command line
 * @argc:	argument count
 * @argv:	arguments
 * @a:		filled
 *
 * Return: 0, or an exit code
 */
static int parse_qmp_args(int argc, char **argv, struct qmp_args *a)
{
	static const struct option options[] = {
		{ "qmp", required_argument, NULL, OPT_QMP },
		{ "hmp", required_argument, NULL, OPT_HMP },
		{ "fd", required_argument, NULL, OPT_FD },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "compact", no_argument, NULL, OPT_COMPACT },
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int opt, rc = 0;

	a->timeout_ms = 10000;
	while (!rc && (opt = cli_getopt(argc, argv, "", options, &rc)) != -1) {
		switch (opt) {
		case CLI_GETOPT_STOP:
			return rc;
		case OPT_QMP:
			a->socket = optarg;
			break;
		case OPT_HMP:
			a->hmp = optarg;
			break;
		case OPT_FD:
			rc = open_pass_fd(a, optarg);
			break;
		case OPT_TIMEOUT:
			rc = cli_parse_int("--timeout", optarg, 1, 3600000, &a->timeout_ms);
			break;
		case OPT_COMPACT:
			a->compact = true;
			break;
		default:
			return cli_usage("unhandled option");
		}
	}
	if (rc)
		return rc;
	if (!a->socket)
		return cli_usage("--qmp SOCKET is required");
	if (a->hmp ? optind != argc : (optind == argc || argc - optind > 2))
		return cli_usage(a->hmp ? "--hmp takes no COMMAND"
					: "give one COMMAND and at most one JSON-ARGUMENTS");
	return 0;
}

/**
 * parse_arguments() - the JSON-ARGUMENTS operand, which must be an object
 * @text:	operand, or NULL
 * @out:	parsed object (new reference), NULL without operand
 *
 * Return: 0, or an exit code
 */
static int parse_arguments(const char *text, cp_json **out)
{
	struct cp_error err;

	*out = NULL;
	if (!text)
		return 0;
	*out = cp_json_parse(text, strlen(text), &err);
	if (!*out)
		return cli_usage("JSON-ARGUMENTS: %s", err.msg);
	if (!cp_json_is_object(*out)) {
		cp_json_unref(*out);
		*out = NULL;
		return cli_usage("JSON-ARGUMENTS must be a JSON object, like '{\"id\":\"x\"}'");
	}
	return 0;
}

/**
 * run_command() - send the command (or HMP line) and print the result
 * @c:		connected client
 * @a:		parsed arguments
 * @cmd:	QMP command, or NULL with --hmp
 * @args:	its arguments, stolen
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int run_command(struct qmp_client *c, const struct qmp_args *a, const char *cmd,
		       cp_json *args, struct cp_error *err)
{
	cleanup_json cp_json *ret = NULL;
	cleanup_free char *text = NULL;

	if (a->hmp) {
		text = qmp_client_hmp(c, a->hmp, err);
		if (!text)
			return -1;
		fputs(text, stdout);
		return 0;
	}
	ret = qmp_client_call_fds(c, cmd, args, a->fds, a->nfds, err);
	if (!ret)
		return -1;
	text = cp_json_dump(ret, a->compact ? 0 : CP_JSON_PRETTY);
	if (!text)
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory");
	printf("%s\n", text);
	return 0;
}

/**
 * qmp_main() - coldplug qmp
 * @argc:	argument count
 * @argv:	arguments
 *
 * Return: an enum cli_exit
 */
static int qmp_main(int argc, char **argv)
{
	struct qmp_args a = { 0 };
	struct qmp_client *c;
	struct cp_error err;
	cp_json *args = NULL;
	size_t i;
	int rc;

	rc = parse_qmp_args(argc, argv, &a);
	if (!rc && !a.hmp)
		rc = parse_arguments(optind + 1 < argc ? argv[optind + 1] : NULL, &args);
	if (!rc) {
		c = cli_connect(a.socket, (int)a.timeout_ms, &err);
		if (!c) {
			rc = cli_fail(&err);
		} else {
			if (run_command(c, &a, a.hmp ? NULL : argv[optind], steal_pointer(&args),
					&err) < 0)
				rc = cli_fail(&err);
			qmp_client_free(c);
		}
	}
	cp_json_unref(args);
	for (i = 0; i < a.nfds; i++)
		close(a.fds[i]);
	return rc;
}

const struct cli_command cmd_qmp = {
	.name = "qmp",
	.summary = "send one QMP or HMP command to QEMU and print the reply",
	.help = qmp_help,
	.run = qmp_main,
};

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qmp-record: drive a real QEMU through a script of QMP commands over one
 * connection and write what went over the wire as a transcript
 * (tests/data/README.md has the format). The transcript is taken from the
 * client library's own trace (COLDPLUG_QMP_TRACE), so it is byte for byte
 * what the client sent and what it parsed.
 *
 * Usage: qmp-record SOCKET SCRIPT OUTPUT
 * Script lines:
 *   # text                         copied to the transcript
 *   COMMAND [JSON] [+fd PATH]...   run a command, passing an fd to each PATH
 *   !wait EVENT [KEY=VALUE]        wait (5 s) for an event since the last command
 *   !sleep MS                      keep reading for MS ms (late events)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "coldplug/log.h"
#include "coldplug/qmp.h"
#include "util.h"

#define REC_MAX_FDS 8

/**
 * struct recorder - the run's state
 * @c:		the client
 * @out:	the transcript being written
 * @mark:	event mark taken before the last command
 */
struct recorder {
	struct qmp_client *c;
	FILE *out;
	uint64_t mark;
};

/**
 * rec_log() - cp_log_fn: trace lines become transcript lines, others stderr
 * @level:	level
 * @msg:	"qmp rec > {...} [+fd 5,6]" for a traced message
 * @userdata:	the struct recorder
 */
static void rec_log(enum cp_log_level level, const char *msg, void *userdata)
{
	struct recorder *r = userdata;
	const char *note;
	size_t len, nfds = 0;

	if (!cp_str_has_prefix(msg, "qmp rec > ") && !cp_str_has_prefix(msg, "qmp rec < ")) {
		if (level <= CP_LOG_WARN)
			fprintf(stderr, "qmp-record: %s\n", msg);
		return;
	}
	msg += strlen("qmp rec ");
	note = strstr(msg, "} [+fd ");
	len = note ? (size_t)(note - msg) + 1 : strlen(msg);
	if (note)
		for (nfds = 1, note += 7; *note; note++)
			nfds += *note == ',';
	fprintf(r->out, "%.*s", (int)len, msg);
	if (nfds)
		fprintf(r->out, " +fds %zu", nfds);
	fputc('\n', r->out);
}

/**
 * take_fd_paths() - cut " +fd PATH" words off @line and open each PATH
 * @line:	script line (modified)
 * @fds:	opened descriptors
 * @nfds:	their count
 *
 * Return: 0, or -1 if a file cannot be opened
 */
static int take_fd_paths(char *line, int *fds, size_t *nfds)
{
	char *p = strstr(line, " +fd "), *tok, *save = NULL;

	*nfds = 0;
	if (!p)
		return 0;
	*p = '\0';
	for (tok = strtok_r(p + 1, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		if (!strcmp(tok, "+fd"))
			continue;
		if (*nfds == REC_MAX_FDS)
			return -1;
		fds[*nfds] = open(tok, O_RDWR | O_CLOEXEC);
		if (fds[*nfds] < 0) {
			perror(tok);
			return -1;
		}
		(*nfds)++;
	}
	return 0;
}

/**
 * run_command() - "COMMAND [JSON] [+fd PATH]...": a QMP error is recorded, not fatal
 * @r:		recorder
 * @line:	the script line (modified)
 *
 * Return: 0, or -1 if the connection failed
 */
static int run_command(struct recorder *r, char *line)
{
	int fds[REC_MAX_FDS];
	cleanup_json cp_json *args = NULL, *ret = NULL;
	struct cp_error err;
	size_t nfds = 0, i;
	char *json;

	if (take_fd_paths(line, fds, &nfds) < 0)
		return -1;
	json = strchr(line, ' ');
	if (json) {
		*json++ = '\0';
		args = cp_json_parse(json, strlen(json), &err);
		if (!args) {
			fprintf(stderr, "qmp-record: %s: %s\n", line, err.msg);
			return -1;
		}
	}
	r->mark = qmp_client_event_mark(r->c);
	ret = qmp_client_call_fds(r->c, line, steal_pointer(&args), fds, nfds, &err);
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	if (!ret && err.code != CP_ERR_QMP) {
		fprintf(stderr, "qmp-record: %s\n", err.msg);
		return -1;
	}
	return 0;
}

/**
 * run_wait() - "!wait EVENT [KEY=VALUE]"
 * @r:		recorder
 * @arg:	the text after "!wait " (modified)
 *
 * Return: 0, or -1 if the event did not come
 */
static int run_wait(struct recorder *r, char *arg)
{
	struct qmp_event_match m = { .event = arg };
	cleanup_json cp_json *ev = NULL;
	struct cp_error err;
	char *kv = strchr(arg, ' ');

	if (kv) {
		*kv++ = '\0';
		m.key = kv;
		m.value = strchr(kv, '=');
		if (!m.value)
			return -1;
		*(char *)m.value++ = '\0';
	}
	ev = qmp_client_wait_event(r->c, &m, r->mark, 5000, &err);
	if (!ev)
		fprintf(stderr, "qmp-record: %s\n", err.msg);
	return ev ? 0 : -1;
}

/**
 * run_sleep() - "!sleep MS": keep reading, so late events are recorded
 * @r:		recorder
 * @arg:	milliseconds
 *
 * Return: 0, or -1 if the connection failed
 */
static int run_sleep(struct recorder *r, const char *arg)
{
	unsigned long long ms = 0;
	int64_t until;
	struct cp_error err;

	if (cp_parse_uint(arg, 60000, &ms, &err) < 0) {
		fprintf(stderr, "qmp-record: !sleep %s\n", err.msg);
		return -1;
	}
	until = cp_now_ms() + (int64_t)ms;
	while (cp_now_ms() < until)
		if (qmp_client_dispatch(r->c, cp_deadline_left(until), &err) < 0)
			return cp_error_is(&err, CP_ERR_EOF) ? 0 : -1;
	return 0;
}

/**
 * run_line() - one script line
 * @r:		recorder
 * @line:	the line, without newline (modified)
 *
 * Return: 0, or -1
 */
static int run_line(struct recorder *r, char *line)
{
	if (!line[0])
		return 0;
	if (line[0] == '#') {
		fprintf(r->out, "%s\n", line);
		return 0;
	}
	if (cp_str_has_prefix(line, "!wait "))
		return run_wait(r, line + 6);
	if (cp_str_has_prefix(line, "!sleep "))
		return run_sleep(r, line + 7);
	return run_command(r, line);
}

/**
 * main() - record one transcript
 * @argc:	argument count
 * @argv:	SOCKET SCRIPT OUTPUT
 *
 * Return: 0, or 1
 */
int main(int argc, char **argv)
{
	struct recorder r = { 0 };
	struct qmp_client_opts o;
	cleanup_free char *line = NULL;
	struct cp_error err;
	size_t cap = 0;
	ssize_t n;
	FILE *script;
	int rc = 0;

	if (argc != 4) {
		fprintf(stderr, "usage: qmp-record SOCKET SCRIPT OUTPUT\n");
		return 2;
	}
	script = fopen(argv[2], "re");
	if (!script) {
		perror(argv[2]);
		return 1;
	}
	r.out = fopen(argv[3], "we");
	if (!r.out) {
		perror(argv[3]);
		fclose(script);
		return 1;
	}
	cp_log_set_handler(rec_log, &r);
	cp_log_set_level(CP_LOG_DEBUG);
	qmp_client_opts_init(&o);
	o.label = "rec";
	o.trace = 1;
	while (rc == 0 && (n = getline(&line, &cap, script)) >= 0) {
		if (n > 0 && line[n - 1] == '\n')
			line[n - 1] = '\0';
		if (!r.c && line[0] != '#') {
			r.c = qmp_client_connect(argv[1], 10000, &o, &err);
			if (!r.c) {
				fprintf(stderr, "qmp-record: %s\n", err.msg);
				rc = -1;
				break;
			}
		}
		rc = run_line(&r, line);
	}
	qmp_client_free(r.c);
	fclose(script);
	fclose(r.out);
	return rc ? 1 : 0;
}

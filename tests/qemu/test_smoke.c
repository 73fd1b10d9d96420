/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Real-QEMU smoke test: start a paused q35 under TCG with a QMP socket,
 * connect with qmp_client_connect(), check the greeting and the peer pid,
 * pass a real descriptor with getfd (closefd then succeeds for its name and
 * fails for a name QEMU does not have), quit, reap QEMU and assert that it
 * exited with status 0 and that the client then reports end of stream.
 *
 * Usage: test_smoke VERSION   (7.2 or 10.0; the binary comes from
 * lab_qemu_path(), and a missing one is a failure, never a skip).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "coldplug/qmp.h"
#include "proc.h"
#include "tap.h"

/**
 * struct smoke - one run's resources
 * @dir:	temporary directory (socket, log, fd file)
 * @qemu:	the QEMU binary
 * @proc:	the QEMU process
 * @c:		the QMP client
 */
struct smoke {
	char dir[64];
	char *qemu;
	struct lab_proc proc;
	struct qmp_client *c;
};

/**
 * smoke_path() - a file in the run's directory
 * @s:		run
 * @name:	file name
 * @buf:	output
 * @size:	its size
 *
 * Return: @buf
 */
static char *smoke_path(const struct smoke *s, const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", s->dir, name);
	return buf;
}

/**
 * start_qemu() - start QEMU paused with a QMP socket and connect to it
 * @s:	run
 *
 * Return: true if connected
 */
static bool start_qemu(struct smoke *s)
{
	char sock[128], qmparg[160], log[128];
	const char *argv[] = { s->qemu, "-S",	  "-machine", "q35",  "-nodefaults", "-display",
			       "none",	"-accel", "tcg",      "-qmp", qmparg,	     NULL };
	struct cp_error err = { 0 };

	smoke_path(s, "qmp", sock, sizeof(sock));
	snprintf(qmparg, sizeof(qmparg), "unix:%s,server=on,wait=off", sock);
	if (!ok(lab_proc_start(&s->proc, argv, smoke_path(s, "qemu.log", log, sizeof(log)), &err) ==
			0,
		"start %s", s->qemu)) {
		diag("%s", err.msg);
		return false;
	}
	s->c = qmp_client_connect(sock, 30000, NULL, &err);
	if (!ok(s->c != NULL, "qmp_client_connect")) {
		diag("%s", err.msg);
		return false;
	}
	return true;
}

/**
 * check_greeting() - version, capability and peer pid
 * @s:		run
 * @version:	"7.2" or "10.0"
 */
static void check_greeting(struct smoke *s, const char *version)
{
	int major = -1, minor = -1;
	char *dot = NULL;
	long want_major = strtol(version, &dot, 10);
	long want_minor = dot && *dot == '.' ? strtol(dot + 1, NULL, 10) : -1;

	qmp_client_version(s->c, &major, &minor, NULL);
	ok(major == want_major && minor == want_minor, "greeting: QEMU %d.%d (expected %s)", major,
	   minor, version);
	diag("package: %s", qmp_client_package(s->c));
	ok(qmp_client_has_capability(s->c, "oob"), "greeting: oob capability");
	is_int(qmp_client_peer_pid(s->c), s->proc.pid, "peer pid is the QEMU child's pid");
}

/**
 * check_getfd() - pass a real descriptor; closefd knows its name only
 * @s:	run
 */
static void check_getfd(struct smoke *s)
{
	char path[128];
	cleanup_close int fd = open(smoke_path(s, "passed", path, sizeof(path)),
				    O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	cleanup_json cp_json *ret = NULL;
	struct cp_error err = { 0 };

	ret = qmp_client_call_fds(s->c, "getfd", cp_json_parse("{\"fdname\":\"smoke\"}", 18, NULL),
				  &fd, 1, &err);
	if (!ok(ret != NULL, "getfd with a real descriptor"))
		diag("%s", err.msg);
	cp_json_unref(steal_pointer(&ret));
	ret = qmp_client_call(s->c, "closefd", cp_json_parse("{\"fdname\":\"smoke\"}", 18, NULL),
			      &err);
	if (!ok(ret != NULL, "closefd of that name succeeds (QEMU had received it)"))
		diag("%s", err.msg);
	cp_json_unref(steal_pointer(&ret));
	ret = qmp_client_call(s->c, "closefd", cp_json_parse("{\"fdname\":\"nope\"}", 17, NULL),
			      &err);
	ok(!ret && err.code == CP_ERR_QMP && !strcmp(err.command, "closefd"),
	   "closefd of an unknown name fails with QEMU's error");
	diag("%s (%s)", err.msg, err.qmp_class);
	unlink(path);
}

/**
 * check_quit() - quit; QEMU exits 0 and the client sees end of stream
 * @s:	run
 */
static void check_quit(struct smoke *s)
{
	cleanup_json cp_json *ret = NULL;
	struct cp_error err = { 0 };
	char how[64];

	ret = qmp_client_call(s->c, "quit", NULL, &err);
	if (!ok(ret != NULL, "quit"))
		diag("%s", err.msg);
	if (!ok(lab_proc_reap(&s->proc, 20000, &err) == 0, "QEMU exits after quit"))
		diag("%s", err.msg);
	if (!ok(lab_proc_exited_ok(&s->proc), "QEMU's exit status is 0"))
		diag("QEMU %s", lab_proc_describe(&s->proc, how, sizeof(how)));
	ok(qmp_client_dispatch(s->c, 5000, &err) < 0 && err.code == CP_ERR_EOF,
	   "the client then reports end of stream");
	diag("%s", err.msg);
}

/**
 * cleanup_run() - stop QEMU if still running, show its log on failure, clean up
 * @s:	run
 */
static void cleanup_run(struct smoke *s)
{
	char path[128], line[512];
	struct cp_error err;
	FILE *f;

	qmp_client_free(s->c);
	if (lab_proc_stop(&s->proc, 3000, &err) < 0)
		diag("could not stop QEMU: %s", err.msg);
	f = fopen(smoke_path(s, "qemu.log", path, sizeof(path)), "re");
	while (f && tap_failures() && fgets(line, sizeof(line), f))
		diag("qemu.log: %s", line);
	if (f)
		fclose(f);
	unlink(path);
	unlink(smoke_path(s, "qmp", path, sizeof(path)));
	rmdir(s->dir);
	free(s->qemu);
}

/**
 * main() - the smoke test for one QEMU version
 * @argc:	argument count
 * @argv:	VERSION
 *
 * Return: TAP exit status
 */
int main(int argc, char **argv)
{
	struct smoke s = { .dir = "/tmp/coldplug-smoke.XXXXXX" };
	const char *version = argc > 1 ? argv[1] : "7.2";
	char key[64];

	s.qemu = lab_qemu_path(version);
	if (!s.qemu) {
		ok(false, "QEMU %s is configured", version);
		diag("no QEMU %s: neither $%s nor the lab file $COLDPLUG_LAB_ENV (%s) names one. "
		     "Run `make check`, which prepares the lab (tests/qemu/prepare.sh BUILD "
		     "writes BUILD/lab.env).",
		     version, lab_qemu_key(version, key, sizeof(key)),
		     getenv("COLDPLUG_LAB_ENV") ? getenv("COLDPLUG_LAB_ENV") : "unset");
		return done_testing();
	}
	if (!mkdtemp(s.dir))
		bail_out("mkdtemp: %s", strerror(errno));
	if (start_qemu(&s)) {
		check_greeting(&s, version);
		check_getfd(&s);
		check_quit(&s);
	}
	cleanup_run(&s);
	return done_testing();
}

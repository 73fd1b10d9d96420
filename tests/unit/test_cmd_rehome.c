/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * coldplug rehome, the real program, against the fake QMP peer: what it
 * prints when the run fails before anything was planned (QEMU closes the
 * connection at the inventory's first command). It must report the failure, not
 * "nothing to re-home".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fakepeer.h"
#include "proc.h"
#include "tap.h"

/* meson passes the built program's path; analysers see the fallback. */
#ifndef COLDPLUG_BINARY
#define COLDPLUG_BINARY "build/src/coldplug"
#endif

/**
 * read_log() - the whole of a log file
 * @path:	file
 * @buf:	buffer
 * @size:	its size
 */
static void read_log(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, size - 1, f) : 0;

	buf[n] = '\0';
	if (f)
		fclose(f);
}

/**
 * test_failed_before_plan() - QEMU gone before planning: a failure, not
 * "nothing to re-home"
 * @dir:	private directory for the socket and the log
 */
static void test_failed_before_plan(const char *dir)
{
	char sock[128], log[128], out[8192];
	struct fakepeer *fp;
	struct lab_proc proc;
	struct cp_error err;

	snprintf(sock, sizeof(sock), "%s/qmp.sock", dir);
	snprintf(log, sizeof(log), "%s/rehome.log", dir);
	fp = fakepeer_new_listen(sock, 0);
	fakepeer_negotiate(fp);
	fakepeer_expect(fp, "{\"execute\": \"query-status\"}"); /* the inventory's first */
	fakepeer_close(fp);
	fakepeer_start(fp);
	{
		const char *const argv[] = { COLDPLUG_BINARY, "rehome", "--qmp", sock, NULL };

		if (lab_proc_start(&proc, argv, log, &err) < 0)
			bail_out("start coldplug: %s", err.msg);
	}
	if (lab_proc_reap(&proc, 10000, &err) < 0)
		bail_out("coldplug rehome: %s", err.msg);
	read_log(log, out, sizeof(out));
	ok(WIFEXITED(proc.status) && WEXITSTATUS(proc.status) == 1, "exit status 1 (failed)");
	ok(!strstr(out, "nothing to re-home"), "a failed run does not say 'nothing to re-home'");
	like(out, "result: failed", "it says the run failed");
	like(out, "QEMU closed the connection", "and why");
	if (strstr(out, "nothing to re-home") || !strstr(out, "result: failed"))
		diag("output:\n%s", out);
	fakepeer_finish(fp, "the peer's script ran");
	unlink(log);
	unlink(sock);
}

/**
 * main() - run the tests
 *
 * Return: TAP exit status
 */
int main(void)
{
	char dir[] = "/tmp/cp-rehome-XXXXXX";

	if (!mkdtemp(dir))
		bail_out("mkdtemp: %s", strerror(errno));
	test_failed_before_plan(dir);
	rmdir(dir);
	return done_testing();
}

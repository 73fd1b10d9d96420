/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The real-QEMU lab's process helpers (tests/lib/proc.c), without QEMU:
 * exit statuses, the reap deadline, SIGTERM then SIGKILL, output to the log,
 * PR_SET_PDEATHSIG (a child whose parent dies is killed), and where the QEMU
 * binaries are looked up.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"
#include "tap.h"
#include "util.h"

/**
 * run_sh() - start /bin/sh -c @script
 * @p:		filled
 * @script:	shell script
 * @log:	log file
 *
 * Return: lab_proc_start()'s value
 */
static int run_sh(struct lab_proc *p, const char *script, const char *log)
{
	const char *argv[] = { "/bin/sh", "-c", script, NULL };
	struct cp_error err;

	return lab_proc_start(p, argv, log, &err);
}

/**
 * read_file() - the first line of a file
 * @path:	file
 * @buf:	output ("" if unreadable)
 * @size:	its size
 *
 * Return: @buf
 */
static char *read_file(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");

	buf[0] = '\0';
	if (f) {
		if (!fgets(buf, (int)size, f))
			buf[0] = '\0';
		fclose(f);
	}
	return buf;
}

/**
 * test_exit() - statuses, the log, the reap deadline, stop
 * @log:	a log file path
 */
static void test_exit(const char *log)
{
	struct lab_proc p;
	struct cp_error err = { 0 };
	char how[64], line[128];
	int64_t t0;

	run_sh(&p, "echo to-stdout; echo to-stderr >&2; exit 3", log);
	ok(lab_proc_reap(&p, 5000, &err) == 0, "reap an exiting child");
	is_str(lab_proc_describe(&p, how, sizeof(how)), "exited with status 3", "its status");
	ok(!lab_proc_exited_ok(&p), "status 3 is not ok");
	is_str(read_file(log, line, sizeof(line)), "to-stdout\n", "stdout goes to the log");

	run_sh(&p, "exit 0", log);
	lab_proc_reap(&p, 5000, &err);
	ok(lab_proc_exited_ok(&p), "status 0 is ok");
	ok(lab_proc_stop(&p, 100, &err) == 0, "stop after reaping is harmless");

	run_sh(&p, "exec sleep 30", log);
	t0 = cp_now_ms();
	ok(lab_proc_reap(&p, 100, &err) < 0 && err.code == CP_ERR_TIMEOUT,
	   "reap of a running child times out");
	ok(cp_now_ms() - t0 < 2000, "...after its deadline");
	ok(lab_proc_stop(&p, 2000, &err) == 0, "stop: SIGTERM");
	is_str(lab_proc_describe(&p, how, sizeof(how)), "killed by signal 15",
	       "stopped by SIGTERM within the grace period");

	run_sh(&p, "trap '' TERM; while :; do sleep 0.05; done", log);
	usleep(200 * 1000);
	t0 = cp_now_ms();
	ok(lab_proc_stop(&p, 200, &err) == 0, "stop: a child ignoring SIGTERM");
	is_str(lab_proc_describe(&p, how, sizeof(how)), "killed by signal 9",
	       "is killed with SIGKILL after the grace period");
	ok(cp_now_ms() - t0 < 3000, "...promptly");

	run_sh(&p, "/nonexistent", log);
	lab_proc_reap(&p, 5000, &err);
	is_str(lab_proc_describe(&p, how, sizeof(how)), "exited with status 127",
	       "a program that cannot run exits 127");
}

/**
 * test_pdeathsig() - a child whose parent dies is killed (PR_SET_PDEATHSIG)
 * @log:	a log file path
 */
static void test_pdeathsig(const char *log)
{
	int pfd[2], status = 0;
	pid_t mid, grandchild = 0;
	int64_t t0;

	if (pipe(pfd) < 0)
		bail_out("pipe: %s", strerror(errno));
	mid = fork();
	if (mid == 0) {
		struct lab_proc p;

		close(pfd[0]);
		run_sh(&p, "exec sleep 30", log);
		if (write(pfd[1], &p.pid, sizeof(p.pid)) < 0)
			_exit(1);
		_exit(0); /* dies without reaping or stopping its child */
	}
	close(pfd[1]);
	if (read(pfd[0], &grandchild, sizeof(grandchild)) != sizeof(grandchild))
		grandchild = 0;
	close(pfd[0]);
	waitpid(mid, &status, 0);
	ok(grandchild > 0, "the intermediate process started a child");
	t0 = cp_now_ms();
	while (grandchild > 0 && kill(grandchild, 0) == 0 && cp_now_ms() - t0 < 5000)
		usleep(10 * 1000);
	ok(grandchild > 0 && kill(grandchild, 0) < 0 && errno == ESRCH,
	   "the child died with its parent (PR_SET_PDEATHSIG)");
}

/**
 * test_qemu_path() - the environment first, then the $COLDPLUG_LAB_ENV file
 * @envfile:	a scratch file path
 */
static void test_qemu_path(const char *envfile)
{
	char key[64];
	char *p;
	FILE *f = fopen(envfile, "we");

	if (!f)
		bail_out("%s: %s", envfile, strerror(errno));
	fputs("# lab\nCOLDPLUG_QEMU_7_2=/usr/bin/qemu-7.2\nCOLDPLUG_QEMU_10_0=/x/qemu-10\n", f);
	fclose(f);
	is_str(lab_qemu_key("10.0", key, sizeof(key)), "COLDPLUG_QEMU_10_0", "key for 10.0");
	unsetenv("COLDPLUG_QEMU_7_2");
	unsetenv("COLDPLUG_QEMU_10_0");
	unsetenv("COLDPLUG_LAB_ENV");
	p = lab_qemu_path("7.2");
	ok(p == NULL, "nothing configured: NULL");
	free(p);
	setenv("COLDPLUG_LAB_ENV", envfile, 1);
	p = lab_qemu_path("10.0");
	is_str(p, "/x/qemu-10", "from the lab file");
	free(p);
	setenv("COLDPLUG_QEMU_10_0", "/env/qemu", 1);
	p = lab_qemu_path("10.0");
	is_str(p, "/env/qemu", "the environment wins");
	free(p);
	p = lab_qemu_path("9.9");
	ok(p == NULL, "an unknown version: NULL");
	free(p);
	unsetenv("COLDPLUG_QEMU_10_0");
	unsetenv("COLDPLUG_LAB_ENV");
}

/**
 * main() - run the checks
 *
 * Return: TAP exit status
 */
int main(void)
{
	char dir[] = "/tmp/coldplug-test-proc.XXXXXX";
	char log[128], envfile[128];

	if (!mkdtemp(dir))
		bail_out("mkdtemp: %s", strerror(errno));
	snprintf(log, sizeof(log), "%s/log", dir);
	snprintf(envfile, sizeof(envfile), "%s/lab.env", dir);
	test_exit(log);
	test_pdeathsig(log);
	test_qemu_path(envfile);
	unlink(log);
	unlink(envfile);
	rmdir(dir);
	return done_testing();
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The lab's child processes and its environment: see proc.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "proc.h"
#include "util.h"

#define LAB_REAP_POLL_MS 10

/**
 * child_exec() - in the child: die with the parent, redirect output, exec
 * @argv:	program and arguments
 * @log_path:	file for stdout and stderr
 * @parent:	the parent's pid before fork()
 *
 * Never returns: exits 127 if anything fails (the reason goes to the log).
 */
static _Noreturn void child_exec(const char *const argv[], const char *log_path, pid_t parent)
{
	int log, null;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(127); /* the parent is already gone: do not outlive it */
	log = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (log < 0 || null < 0 || dup2(null, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
		_exit(127);
	/* execv() takes char *const[] for historical reasons; it does not write */
	execv(argv[0], (char *const *)argv);
	dprintf(2, "lab: exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/**
 * lab_proc_start() - start a child process
 * @p:		filled; stop it with lab_proc_stop() (also after it exited)
 * @argv:	absolute program path, arguments, NULL
 * @log_path:	file for its stdout and stderr (truncated)
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
int lab_proc_start(struct lab_proc *p, const char *const argv[], const char *log_path,
		   struct cp_error *err)
{
	pid_t parent = getpid();

	memset(p, 0, sizeof(*p));
	cp_strlcpy(p->log_path, log_path, sizeof(p->log_path));
	fflush(NULL);
	p->pid = fork();
	if (p->pid < 0) {
		p->pid = 0;
		return cp_error_set_errno(err, errno, "fork for %s", argv[0]);
	}
	if (p->pid == 0)
		child_exec(argv, log_path, parent);
	return 0;
}

/**
 * lab_proc_reap() - wait for the child to exit, at most @timeout_ms
 * @p:		started child
 * @timeout_ms:	deadline
 * @err:	filled on failure
 *
 * Polls waitpid(WNOHANG) on our own child's pid only.
 *
 * Return: 0 once reaped (see @p->status), or -1 (CP_ERR_TIMEOUT if still
 * running)
 */
int lab_proc_reap(struct lab_proc *p, int timeout_ms, struct cp_error *err)
{
	int64_t deadline = cp_now_ms() + timeout_ms;

	if (p->pid <= 0)
		return cp_error_set(err, CP_ERR_INVALID, "no child process");
	while (!p->reaped) {
		pid_t r = waitpid(p->pid, &p->status, WNOHANG);

		if (r == p->pid) {
			p->reaped = true;
			break;
		}
		if (r < 0 && errno != EINTR)
			return cp_error_set_errno(err, errno, "waitpid %d", (int)p->pid);
		if (cp_now_ms() >= deadline)
			return cp_error_set(err, CP_ERR_TIMEOUT, "pid %d still running after %d ms",
					    (int)p->pid, timeout_ms);
		poll(NULL, 0, LAB_REAP_POLL_MS);
	}
	return 0;
}

/**
 * lab_proc_stop() - make sure the child is gone: SIGTERM, then SIGKILL
 * @p:		child (already reaped, never started, or running)
 * @grace_ms:	how long SIGTERM has before SIGKILL
 * @err:	filled on failure
 *
 * Return: 0 once reaped, or -1
 */
int lab_proc_stop(struct lab_proc *p, int grace_ms, struct cp_error *err)
{
	if (p->pid <= 0 || p->reaped)
		return 0;
	if (lab_proc_reap(p, 0, NULL) == 0)
		return 0;
	kill(p->pid, SIGTERM);
	if (lab_proc_reap(p, grace_ms, NULL) == 0)
		return 0;
	kill(p->pid, SIGKILL);
	return lab_proc_reap(p, 5000, err);
}

/**
 * lab_proc_describe() - how the child ended, for messages
 * @p:		child
 * @buf:	output
 * @size:	its size
 *
 * Return: @buf ("running", "exited with status N", "killed by signal N")
 */
const char *lab_proc_describe(const struct lab_proc *p, char *buf, size_t size)
{
	if (!p->reaped)
		snprintf(buf, size, "running");
	else if (WIFEXITED(p->status))
		snprintf(buf, size, "exited with status %d", WEXITSTATUS(p->status));
	else if (WIFSIGNALED(p->status))
		snprintf(buf, size, "killed by signal %d", WTERMSIG(p->status));
	else
		snprintf(buf, size, "wait status 0x%x", (unsigned)p->status);
	return buf;
}

/**
 * lab_proc_exited_ok() - whether the child exited by itself with status 0
 * @p:	child
 *
 * Return: true if so
 */
bool lab_proc_exited_ok(const struct lab_proc *p)
{
	return p->reaped && WIFEXITED(p->status) && WEXITSTATUS(p->status) == 0;
}

/**
 * env_file_get() - look @key up in the KEY=VALUE file named by $COLDPLUG_LAB_ENV
 * @key:	the key
 *
 * Return: new string (caller frees), or NULL if there is no file or no key
 */
static char *env_file_get(const char *key)
{
	const char *path = getenv("COLDPLUG_LAB_ENV");
	cleanup_free char *line = NULL;
	size_t cap = 0, klen = strlen(key);
	char *value = NULL;
	ssize_t n;
	FILE *f;

	if (!path || !*path || !(f = fopen(path, "re")))
		return NULL;
	while (!value && (n = getline(&line, &cap, f)) >= 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (!strncmp(line, key, klen) && line[klen] == '=' && line[klen + 1])
			value = strdup(line + klen + 1);
	}
	fclose(f);
	return value;
}

/**
 * lab_env_get() - a lab setting: the environment first, then $COLDPLUG_LAB_ENV
 * @key:	e.g. "COLDPLUG_GUEST_KERNEL"
 *
 * Return: new string (caller frees), or NULL if neither has it
 */
char *lab_env_get(const char *key)
{
	const char *v = getenv(key);

	if (v && *v)
		return strdup(v);
	return env_file_get(key);
}

/**
 * lab_qemu_key() - the setting that names the QEMU of a version
 * @version:	"7.2", "10.0"
 * @buf:	output
 * @size:	its size
 *
 * Return: @buf, e.g. "COLDPLUG_QEMU_10_0"
 */
const char *lab_qemu_key(const char *version, char *buf, size_t size)
{
	size_t i;

	snprintf(buf, size, "COLDPLUG_QEMU_%s", version);
	for (i = 0; buf[i]; i++)
		if (buf[i] == '.')
			buf[i] = '_';
	return buf;
}

/**
 * lab_qemu_path() - the QEMU binary of a version the lab tests run
 * @version:	"7.2" or "10.0"; read from $COLDPLUG_QEMU_7_2 /
 *		$COLDPLUG_QEMU_10_0, else from the file $COLDPLUG_LAB_ENV
 *		(written by tests/qemu/prepare.sh, which make check runs)
 *
 * Return: new string (caller frees), or NULL if not configured
 */
char *lab_qemu_path(const char *version)
{
	char key[64];

	return lab_env_get(lab_qemu_key(version, key, sizeof(key)));
}

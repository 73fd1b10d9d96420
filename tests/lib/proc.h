/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Child processes of the real-QEMU tests, after QEMU's libqtest hygiene: a
 * child dies with the test (PR_SET_PDEATHSIG, checked against a parent that
 * already left), writes its stdout and stderr to a log file, and is reaped
 * with a deadline; stopping it sends SIGTERM to its pid only, then SIGKILL
 * after a grace period. Also where the tests find their QEMU binaries.
 *
 * PR_SET_PDEATHSIG fires when the *thread* that forked the child exits: a
 * thread that starts a child must live as long as the child should.
 */
#ifndef COLDPLUG_LAB_PROC_H
#define COLDPLUG_LAB_PROC_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "coldplug/error.h"

/**
 * struct lab_proc - one child process
 * @pid:	its pid (0 before start)
 * @reaped:	whether waitpid() collected it
 * @status:	its wait status, once reaped
 * @log_path:	where its stdout and stderr go
 */
struct lab_proc {
	pid_t pid;
	bool reaped;
	int status;
	char log_path[PATH_MAX];
};

int lab_proc_start(struct lab_proc *p, const char *const argv[], const char *log_path,
		   struct cp_error *err);
int lab_proc_reap(struct lab_proc *p, int timeout_ms, struct cp_error *err);
int lab_proc_stop(struct lab_proc *p, int grace_ms, struct cp_error *err);
const char *lab_proc_describe(const struct lab_proc *p, char *buf, size_t size);
bool lab_proc_exited_ok(const struct lab_proc *p);

char *lab_env_get(const char *key);
const char *lab_qemu_key(const char *version, char *buf, size_t size);
char *lab_qemu_path(const char *version);

#endif /* COLDPLUG_LAB_PROC_H */

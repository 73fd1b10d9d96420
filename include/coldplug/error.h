/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The library's error convention, after crun: a function that can fail takes
 * a struct cp_error * as its last argument, returns a negative value (or NULL,
 * or false) on failure and fills the struct, and never touches it on success.
 * As an error travels up, callers prepend context with cp_error_prefix(), so
 * the final message reads from the outermost operation to the root cause.
 */
#ifndef COLDPLUG_ERROR_H
#define COLDPLUG_ERROR_H

#include <stdbool.h>

#define CP_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

/**
 * enum cp_error_code - what kind of failure
 * @CP_ERR_NONE:	no error (an initialised, unused struct)
 * @CP_ERR_INVALID:	bad input: arguments, configuration, a user's file
 * @CP_ERR_SYSTEM:	a system call failed; @sys_errno holds errno
 * @CP_ERR_TIMEOUT:	a deadline passed
 * @CP_ERR_EOF:		the peer closed the connection
 * @CP_ERR_PROTOCOL:	the peer sent something that is not valid QMP
 * @CP_ERR_QMP:		QEMU answered a command with an error; see @qmp_class
 * @CP_ERR_REFUSED:	a plan was refused before anything was changed
 * @CP_ERR_FAILED:	an operation failed after it changed something
 * @CP_ERR_NOMEM:	out of memory
 */
enum cp_error_code {
	CP_ERR_NONE = 0,
	CP_ERR_INVALID,
	CP_ERR_SYSTEM,
	CP_ERR_TIMEOUT,
	CP_ERR_EOF,
	CP_ERR_PROTOCOL,
	CP_ERR_QMP,
	CP_ERR_REFUSED,
	CP_ERR_FAILED,
	CP_ERR_NOMEM,
};

#define CP_ERROR_MSG_MAX 2048

/**
 * struct cp_error - one failure, with enough context to act on it
 * @code:	enum cp_error_code
 * @sys_errno:	errno for CP_ERR_SYSTEM, else 0
 * @qmp_class:	QMP error class ("GenericError", "DeviceNotFound", ...) for
 *		CP_ERR_QMP, else empty
 * @command:	the QMP command that caused it, if any, else empty
 * @msg:	human-readable message, outermost context first
 */
struct cp_error {
	enum cp_error_code code;
	int sys_errno;
	char qmp_class[48];
	char command[64];
	char msg[CP_ERROR_MSG_MAX];
};

int cp_error_set(struct cp_error *err, enum cp_error_code code, const char *fmt, ...)
	CP_PRINTF(3, 4);
int cp_error_set_errno(struct cp_error *err, int errnum, const char *fmt, ...) CP_PRINTF(3, 4);
int cp_error_prefix(struct cp_error *err, const char *fmt, ...) CP_PRINTF(2, 3);
void cp_error_set_qmp(struct cp_error *err, const char *command, const char *qmp_class);
void cp_error_clear(struct cp_error *err);
void cp_error_copy(struct cp_error *dst, const struct cp_error *src);
bool cp_error_is(const struct cp_error *err, enum cp_error_code code);
const char *cp_error_code_name(enum cp_error_code code);

#endif /* COLDPLUG_ERROR_H */

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * struct cp_error helpers. Messages are bounded and truncated, never
 * allocated: an error path must not itself fail. The bottom of the library:
 * it uses libc only (util.c and everything else report through it).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "coldplug/error.h"

/**
 * copy_str() - bounded copy that always terminates @dst, truncating
 * @dst:	destination
 * @src:	source string
 * @size:	size of @dst, at least 1
 *
 * Here rather than cp_strlcpy() (util.c) so that the error module, which
 * util.c reports through, depends on libc alone.
 */
static void copy_str(char *dst, const char *src, size_t size)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/**
 * error_vprefix() - prepend "<formatted>: " to @err's message, truncating
 * @err:	error with a message
 * @fmt:	printf format of the context
 * @ap:		its arguments
 */
static void CP_PRINTF(2, 0) error_vprefix(struct cp_error *err, const char *fmt, va_list ap)
{
	char msg[CP_ERROR_MSG_MAX];
	size_t off;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	off = strlen(msg);
	if (off < sizeof(msg) - 2) {
		memcpy(msg + off, ": ", 3);
		off += 2;
		copy_str(msg + off, err->msg, sizeof(msg) - off);
	}
	memcpy(err->msg, msg, sizeof(msg));
}

/**
 * cp_error_set() - fill @err with a new error
 * @err:	error to fill, may be NULL (the error is then dropped)
 * @code:	enum cp_error_code
 * @fmt:	printf format of the message
 *
 * Return: -1, so that callers can write `return cp_error_set(err, ...);`
 */
int cp_error_set(struct cp_error *err, enum cp_error_code code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	cp_error_clear(err);
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

/**
 * cp_error_set_errno() - fill @err with a system error, appending strerror
 * @err:	error to fill, may be NULL
 * @errnum:	the errno value
 * @fmt:	printf format of what was being done
 *
 * Return: -1
 */
int cp_error_set_errno(struct cp_error *err, int errnum, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	cp_error_set(err, CP_ERR_SYSTEM, "%s", strerror(errnum));
	err->sys_errno = errnum;
	va_start(ap, fmt);
	error_vprefix(err, fmt, ap);
	va_end(ap);
	return -1;
}

/**
 * cp_error_prefix() - prepend context to an error already set
 * @err:	error to extend, may be NULL
 * @fmt:	printf format of the context; ": " separates it from the rest
 *
 * Return: -1
 */
int cp_error_prefix(struct cp_error *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	va_start(ap, fmt);
	error_vprefix(err, fmt, ap);
	va_end(ap);
	return -1;
}

/**
 * cp_error_set_qmp() - record which QMP command and error class caused @err
 * @err:	error already filled, may be NULL
 * @command:	QMP command name, or NULL to leave unchanged
 * @qmp_class:	QMP error class, or NULL to leave unchanged
 */
void cp_error_set_qmp(struct cp_error *err, const char *command, const char *qmp_class)
{
	if (!err)
		return;
	if (command)
		copy_str(err->command, command, sizeof(err->command));
	if (qmp_class)
		copy_str(err->qmp_class, qmp_class, sizeof(err->qmp_class));
}

/**
 * cp_error_clear() - reset @err to "no error"
 * @err:	error to reset, may be NULL
 */
void cp_error_clear(struct cp_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
}

/**
 * cp_error_copy() - copy @src into @dst
 * @dst:	destination, may be NULL
 * @src:	source
 */
void cp_error_copy(struct cp_error *dst, const struct cp_error *src)
{
	if (dst && dst != src)
		memcpy(dst, src, sizeof(*dst));
}

/**
 * cp_error_is() - whether @err holds an error of kind @code
 * @err:	error, may be NULL
 * @code:	kind to test
 *
 * Return: true if @err is set and of kind @code
 */
bool cp_error_is(const struct cp_error *err, enum cp_error_code code)
{
	return err && err->code == code;
}

/**
 * cp_error_code_name() - short name of an error kind, for reports
 * @code:	enum cp_error_code
 *
 * Return: static string
 */
const char *cp_error_code_name(enum cp_error_code code)
{
	switch (code) {
	case CP_ERR_NONE:
		return "none";
	case CP_ERR_INVALID:
		return "invalid";
	case CP_ERR_SYSTEM:
		return "system";
	case CP_ERR_TIMEOUT:
		return "timeout";
	case CP_ERR_EOF:
		return "eof";
	case CP_ERR_PROTOCOL:
		return "protocol";
	case CP_ERR_QMP:
		return "qmp";
	case CP_ERR_REFUSED:
		return "refused";
	case CP_ERR_FAILED:
		return "failed";
	case CP_ERR_NOMEM:
		return "nomem";
	}
	return "unknown";
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Small helpers: see util.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "coldplug/log.h"
#include "util.h"

/**
 * cp_assert_fail() - report a broken invariant of our own code and abort
 * @expr:	the expression that was false
 * @file:	source file
 * @line:	source line
 *
 * Only for bugs: input, however bad, never reaches this.
 */
void cp_assert_fail(const char *expr, const char *file, int line)
{
	cp_log(CP_LOG_ERROR, "internal error: assertion '%s' failed at %s:%d", expr, file, line);
	abort();
}

/**
 * cp_strlcpy() - bounded copy that always terminates @dst
 * @dst:	destination buffer
 * @src:	source string
 * @size:	size of @dst, at least 1
 *
 * Return: strlen(@src); a result >= @size means it was truncated
 */
size_t cp_strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);
	size_t n = len < size - 1 ? len : size - 1;

	memcpy(dst, src, n);
	dst[n] = '\0';
	return len;
}

/**
 * cp_strlcpy_checked() - copy a string from outside (QEMU, a request) into a
 * fixed buffer, or fail: a shorter id would name another object
 * @dst:	destination buffer, left holding "" on failure
 * @src:	source string
 * @size:	size of @dst, at least 1
 * @err:	filled when @src does not fit, naming it and the limit
 *
 * Return: 0, or -1
 */
int cp_strlcpy_checked(char *dst, const char *src, size_t size, struct cp_error *err)
{
	if (cp_strlcpy(dst, src, size) < size)
		return 0;
	dst[0] = '\0';
	return cp_error_set(err, CP_ERR_INVALID, "'%s' is longer than %zu characters", src,
			    size - 1);
}

/**
 * cp_reasons_vadd() - append "\n  - <reason>" to a bounded list of reasons
 * @buf:	the list, a terminated string ("" when empty)
 * @size:	size of @buf
 * @fmt:	printf format of the reason
 * @ap:		its arguments
 *
 * For checks that collect every reason before they fail (the planner's
 * refusals, the profile checker's problems): the list is cut, never
 * overrun, when it is full; the caller counts the reasons itself.
 */
void cp_reasons_vadd(char *buf, size_t size, const char *fmt, va_list ap)
{
	size_t off = strlen(buf);

	if (off + 8 >= size)
		return;
	memcpy(buf + off, "\n  - ", 6);
	off += 5;
	vsnprintf(buf + off, size - off, fmt, ap);
}

/**
 * cp_str_has_prefix() - whether @s starts with @prefix
 * @s:		string, may be NULL
 * @prefix:	prefix
 *
 * Return: true if it does
 */
bool cp_str_has_prefix(const char *s, const char *prefix)
{
	return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

/**
 * cp_streq() - string equality that accepts NULL on either side
 * @a:	string or NULL
 * @b:	string or NULL
 *
 * Return: true if both are NULL or both equal
 */
bool cp_streq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

/* The time cp_now_ms() reports while a fuzz target runs the clock by hand
 * (cp_clock_set_fake()), -1 while the real clock runs. */
static int64_t fake_now_ms = -1;

/**
 * cp_clock_set_fake() - stop the clock at @now_ms, or start it again
 * @now_ms:	what cp_now_ms() reports from now on (cp_now_us() the same in
 *		µs), or -1 for the real monotonic clock
 *
 * For fuzz targets and tests that drive timers on a synthetic clock, so
 * that a deadline fires exactly when the input says and a run can be
 * reproduced: nothing else sets it.
 */
void cp_clock_set_fake(int64_t now_ms)
{
	fake_now_ms = now_ms < 0 ? -1 : now_ms;
}

/**
 * cp_now_us() - microseconds on the monotonic clock
 *
 * Return: current CLOCK_MONOTONIC time in µs (or the fake clock's)
 */
int64_t cp_now_us(void)
{
	struct timespec ts;

	if (fake_now_ms >= 0)
		return fake_now_ms * 1000;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/**
 * cp_now_ms() - milliseconds on the monotonic clock
 *
 * Return: current CLOCK_MONOTONIC time in ms (or the fake clock's)
 */
int64_t cp_now_ms(void)
{
	struct timespec ts;

	if (fake_now_ms >= 0)
		return fake_now_ms;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/**
 * cp_deadline_left() - milliseconds until @deadline_ms, for poll()
 * @deadline_ms:	absolute cp_now_ms() time, or -1 for "no deadline"
 *
 * Return: -1 for no deadline, else remaining ms clamped to [0, INT_MAX]
 */
int cp_deadline_left(int64_t deadline_ms)
{
	int64_t left;

	if (deadline_ms < 0)
		return -1;
	left = deadline_ms - cp_now_ms();
	if (left < 0)
		return 0;
	return left > 0x7fffffff ? 0x7fffffff : (int)left;
}

/**
 * cp_strdup() - strdup() that reports failure through @err
 * @s:		string to copy
 * @err:	filled on failure
 *
 * Return: new string (caller frees), or NULL
 */
char *cp_strdup(const char *s, struct cp_error *err)
{
	char *r = strdup(s);

	if (!r)
		cp_error_set(err, CP_ERR_NOMEM, "out of memory");
	return r;
}

/**
 * cp_calloc() - calloc() that reports failure through @err
 * @n:		element count
 * @size:	element size
 * @err:	filled on failure
 *
 * Return: zeroed memory (caller frees), or NULL
 */
void *cp_calloc(size_t n, size_t size, struct cp_error *err)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		cp_error_set(err, CP_ERR_NOMEM, "out of memory");
	return p;
}

/**
 * cp_asprintf() - formatted allocation that reports failure through @err
 * @err:	filled on failure
 * @fmt:	printf format
 *
 * Return: new string (caller frees), or NULL
 */
char *cp_asprintf(struct cp_error *err, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		cp_error_set(err, CP_ERR_NOMEM, "out of memory");
		return NULL;
	}
	return s;
}

/**
 * cp_parse_uint() - parse a whole decimal string as an unsigned integer
 * @s:		text; no sign, no spaces, no suffix
 * @max:	largest accepted value
 * @out:	result
 * @err:	filled on failure
 *
 * Return: 0, or -1 if @s is not a number in [0, @max]
 */
int cp_parse_uint(const char *s, unsigned long long max, unsigned long long *out,
		  struct cp_error *err)
{
	unsigned long long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return cp_error_set(err, CP_ERR_INVALID, "'%s' is not a number", s ? s : "");
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return cp_error_set(err, CP_ERR_INVALID, "'%s' is not a number", s);
	if (v > max)
		return cp_error_set(err, CP_ERR_INVALID, "%s is larger than %llu", s, max);
	*out = v;
	return 0;
}

/**
 * cap_sets() - this thread's capability sets (capget(2), no libcap)
 * @data:	filled: two 32-bit words per set
 *
 * Return: 0, or -1 with errno
 */
static int cap_sets(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };

	return (int)syscall(SYS_capget, &hdr, data);
}

/**
 * cp_cap_effective() - whether this process holds capability @cap now
 * @cap:	CAP_SYS_ADMIN, ...
 *
 * Return: true if it is in the effective set
 */
bool cp_cap_effective(int cap)
{
	struct __user_cap_data_struct data[2] = { 0 };

	if (cap < 0 || cap > 63 || cap_sets(data) < 0)
		return false;
	return data[CAP_TO_INDEX(cap)].effective & CAP_TO_MASK(cap);
}

/**
 * cp_cap_drop() - give up capability @cap for good
 * @cap:	CAP_SYS_ADMIN, ...
 * @err:	filled on failure
 *
 * Removes it from the effective, permitted and inheritable sets (so it
 * cannot be taken back), and from the bounding set where the process may
 * change that (so an exec cannot regain it). Nothing to do without it.
 *
 * Return: 0, or -1
 */
int cp_cap_drop(int cap, struct cp_error *err)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { 0 };
	uint32_t mask;
	int i;

	if (cap < 0 || cap > 63)
		return cp_error_set(err, CP_ERR_INVALID, "no capability %d", cap);
	if (cap_sets(data) < 0)
		return cp_error_set_errno(err, errno, "capget");
	if (prctl(PR_CAPBSET_READ, cap) == 1)
		prctl(PR_CAPBSET_DROP, cap); /* needs CAP_SETPCAP; the sets below suffice */
	i = CAP_TO_INDEX(cap);
	mask = CAP_TO_MASK(cap);
	if (!((data[i].effective | data[i].permitted | data[i].inheritable) & mask))
		return 0;
	data[i].effective &= ~mask;
	data[i].permitted &= ~mask;
	data[i].inheritable &= ~mask;
	if (syscall(SYS_capset, &hdr, data) < 0)
		return cp_error_set_errno(err, errno, "give up capability %d", cap);
	return 0;
}

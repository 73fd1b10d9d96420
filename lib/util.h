/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Small helpers with no better home: bounded string copies, the monotonic
 * clock every deadline is measured on, checked allocation, and this
 * process's capabilities.
 */
#ifndef COLDPLUG_UTIL_H
#define COLDPLUG_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coldplug/error.h"

#define CP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Invariants of our own code (never input): a broken one is a bug. */
#define CP_ASSERT(expr)                                                                            \
	do {                                                                                       \
		if (!(expr))                                                                       \
			cp_assert_fail(#expr, __FILE__, __LINE__);                                 \
	} while (0)

_Noreturn void cp_assert_fail(const char *expr, const char *file, int line);

size_t cp_strlcpy(char *dst, const char *src, size_t size);
int cp_strlcpy_checked(char *dst, const char *src, size_t size, struct cp_error *err);

/*
 * Copy one fixed string field into another at least as large (both arrays,
 * checked at compile time): what fitted the first fits the second, so the
 * copy cannot truncate. Input from outside goes through cp_strlcpy_checked().
 */
#define CP_FIELD_COPY(dst, src)                                                                    \
	do {                                                                                       \
		_Static_assert(_Generic(&(src), char(*)[sizeof(src)] : 1,                          \
					const char(*)[sizeof(src)] : 1, default : 0),              \
			       "CP_FIELD_COPY: the source must be an array");                      \
		_Static_assert(sizeof(dst) >= sizeof(src), "CP_FIELD_COPY would truncate");        \
		cp_strlcpy((dst), (src), sizeof(dst));                                             \
	} while (0)
void cp_reasons_vadd(char *buf, size_t size, const char *fmt, va_list ap) CP_PRINTF(3, 0);
bool cp_str_has_prefix(const char *s, const char *prefix);
bool cp_streq(const char *a, const char *b);
int64_t cp_now_ms(void);
int64_t cp_now_us(void);
int cp_deadline_left(int64_t deadline_ms);
char *cp_strdup(const char *s, struct cp_error *err);
void *cp_calloc(size_t n, size_t size, struct cp_error *err);
char *cp_asprintf(struct cp_error *err, const char *fmt, ...) CP_PRINTF(2, 3);
bool cp_cap_effective(int cap);
int cp_cap_drop(int cap, struct cp_error *err);
int cp_parse_uint(const char *s, unsigned long long max, unsigned long long *out,
		  struct cp_error *err);

#endif /* COLDPLUG_UTIL_H */

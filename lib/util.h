/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The library's own helpers: the public ones (coldplug/util.h), the
 * invariant check, this process's capabilities, and the checked copies of
 * fixed fields, which are for the library's code only.
 */
#ifndef COLDPLUG_LIB_UTIL_H
#define COLDPLUG_LIB_UTIL_H

#include <stdarg.h>

#include "coldplug/util.h"

/* Invariants of our own code (never input): a broken one is a bug. */
#define CP_ASSERT(expr)                                                                            \
	do {                                                                                       \
		if (!(expr))                                                                       \
			cp_assert_fail(#expr, __FILE__, __LINE__);                                 \
	} while (0)

_Noreturn void cp_assert_fail(const char *expr, const char *file, int line);

bool cp_cap_effective(int cap);
int cp_cap_drop(int cap, struct cp_error *err);
int cp_strlcpy_checked(char *dst, const char *src, size_t size, struct cp_error *err);
/* Fuzz targets only: a clock run by hand (see util.c). */
void cp_clock_set_fake(int64_t now_ms);

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

#endif /* COLDPLUG_LIB_UTIL_H */

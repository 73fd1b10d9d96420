/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The library's own helpers: the public ones (coldplug/util.h) and the
 * invariant check, which is for the library's code only.
 */
#ifndef COLDPLUG_LIB_UTIL_H
#define COLDPLUG_LIB_UTIL_H

#include "coldplug/util.h"

/* Invariants of our own code (never input): a broken one is a bug. */
#define CP_ASSERT(expr)                                                                            \
	do {                                                                                       \
		if (!(expr))                                                                       \
			cp_assert_fail(#expr, __FILE__, __LINE__);                                 \
	} while (0)

_Noreturn void cp_assert_fail(const char *expr, const char *file, int line);

#endif /* COLDPLUG_LIB_UTIL_H */

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A small TAP producer for the unit tests, after bubblewrap's: each check
 * prints "ok N - name" or "not ok N - name" (with the values that differed
 * as "# " diagnostics), the plan comes first (plan()) or last
 * (done_testing()), and the exit status is non-zero if any check failed or
 * the count did not match the plan. Thread-safe, so that the fake QMP peer
 * may report from its own thread.
 */
#ifndef COLDPLUG_TAP_H
#define COLDPLUG_TAP_H

#include <stdbool.h>

#include "coldplug/error.h"

void plan(int n);
int done_testing(void);
bool ok(bool cond, const char *fmt, ...) CP_PRINTF(2, 3);
bool is_int(long long got, long long want, const char *fmt, ...) CP_PRINTF(3, 4);
bool is_str(const char *got, const char *want, const char *fmt, ...) CP_PRINTF(3, 4);
bool like(const char *got, const char *needle, const char *fmt, ...) CP_PRINTF(3, 4);
void skip(int n, const char *fmt, ...) CP_PRINTF(2, 3);
void diag(const char *fmt, ...) CP_PRINTF(1, 2);
/* noreturn as an attribute: cppcheck understands it, not _Noreturn */
__attribute__((noreturn)) void bail_out(const char *fmt, ...) CP_PRINTF(1, 2);
int tap_failures(void);

#endif /* COLDPLUG_TAP_H */

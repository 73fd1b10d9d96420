/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Small helpers with no better home: bounded string copies, the monotonic
 * clock every deadline is measured on, and checked allocation. Public: the
 * programs measure their deadlines on the same clock as the library.
 */
#ifndef COLDPLUG_UTIL_H
#define COLDPLUG_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coldplug/error.h"

#define CP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

size_t cp_strlcpy(char *dst, const char *src, size_t size);
bool cp_str_has_prefix(const char *s, const char *prefix);
bool cp_streq(const char *a, const char *b);
int64_t cp_now_ms(void);
int64_t cp_now_us(void);
int cp_deadline_left(int64_t deadline_ms);
char *cp_strdup(const char *s, struct cp_error *err);
void *cp_calloc(size_t n, size_t size, struct cp_error *err);
char *cp_asprintf(struct cp_error *err, const char *fmt, ...) CP_PRINTF(2, 3);
int cp_parse_uint(const char *s, unsigned long long max, unsigned long long *out,
		  struct cp_error *err);

#endif /* COLDPLUG_UTIL_H */

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Logging: the library never prints. It formats a message and hands it to
 * the handler the program installed (stderr, the journal, a test buffer);
 * with no handler, messages are dropped.
 */
#ifndef COLDPLUG_LOG_H
#define COLDPLUG_LOG_H

#include <stdbool.h>

#include "coldplug/error.h"

enum cp_log_level {
	CP_LOG_ERROR = 0,
	CP_LOG_WARN,
	CP_LOG_INFO,
	CP_LOG_DEBUG,
};

typedef void (*cp_log_fn)(enum cp_log_level level, const char *msg, void *userdata);

void cp_log_set_handler(cp_log_fn fn, void *userdata);
void cp_log_set_level(enum cp_log_level level);
bool cp_log_enabled(enum cp_log_level level);
void cp_log(enum cp_log_level level, const char *fmt, ...) CP_PRINTF(2, 3);
const char *cp_log_level_name(enum cp_log_level level);

/* Statement-safe: each expands to one expression or one do-while. */
#define cp_log_err(...)	 cp_log(CP_LOG_ERROR, __VA_ARGS__)
#define cp_log_warn(...) cp_log(CP_LOG_WARN, __VA_ARGS__)
#define cp_log_info(...) cp_log(CP_LOG_INFO, __VA_ARGS__)
#define cp_log_debug(...)                                                                          \
	do {                                                                                       \
		if (cp_log_enabled(CP_LOG_DEBUG))                                                  \
			cp_log(CP_LOG_DEBUG, __VA_ARGS__);                                         \
	} while (0)

#endif /* COLDPLUG_LOG_H */

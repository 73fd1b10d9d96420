/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The log sink: one process-wide handler and level. Set once by the program
 * at start-up; the library only reads them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "coldplug/log.h"

static cp_log_fn log_handler;
static void *log_userdata;
static enum cp_log_level log_level = CP_LOG_INFO;

/**
 * cp_log_set_handler() - install the function that receives every message
 * @fn:		handler, or NULL to drop messages
 * @userdata:	passed to @fn
 */
void cp_log_set_handler(cp_log_fn fn, void *userdata)
{
	log_handler = fn;
	log_userdata = userdata;
}

/**
 * cp_log_set_level() - set the most verbose level that is delivered
 * @level:	enum cp_log_level
 */
void cp_log_set_level(enum cp_log_level level)
{
	log_level = level;
}

/**
 * cp_log_enabled() - whether a message at @level would be delivered
 * @level:	enum cp_log_level
 *
 * Return: true if a handler is installed and @level is enabled
 */
bool cp_log_enabled(enum cp_log_level level)
{
	return log_handler && level <= log_level;
}

/**
 * cp_log() - format a message and deliver it to the handler
 * @level:	enum cp_log_level
 * @fmt:	printf format
 */
void cp_log(enum cp_log_level level, const char *fmt, ...)
{
	char msg[4096];
	char *big = NULL;
	va_list ap;
	int n;

	if (!cp_log_enabled(level))
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* A QMP trace line can be large (query-block): deliver it whole, and
	 * only fall back to the truncated copy when memory is short. */
	if (n >= (int)sizeof(msg)) {
		va_start(ap, fmt);
		if (vasprintf(&big, fmt, ap) < 0)
			big = NULL;
		va_end(ap);
	}
	log_handler(level, big ? big : msg, log_userdata);
	free(big);
}

/**
 * cp_log_level_name() - name of a level, for prefixes
 * @level:	enum cp_log_level
 *
 * Return: static string
 */
const char *cp_log_level_name(enum cp_log_level level)
{
	switch (level) {
	case CP_LOG_ERROR:
		return "error";
	case CP_LOG_WARN:
		return "warning";
	case CP_LOG_INFO:
		return "info";
	case CP_LOG_DEBUG:
		return "debug";
	}
	return "?";
}

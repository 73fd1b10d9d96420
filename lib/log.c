/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The log sink: one process-wide handler and level. Set once by the program
 * at start-up; the library only reads them.
 *
 * Messages carry strings a peer chose (a VM's name, a device id, QEMU's
 * error text), and a log line is a line: a newline in one would start a
 * line of the peer's making in the journal, an ESC would drive the
 * terminal. So every message is made one line here, where no caller can
 * forget it: control characters are escaped (\n, \r, \t, other bytes
 * below 0x20 and 0x7f as \xNN), and error, warning and info lines are cut
 * at LOG_LINE_MAX bytes. Debug lines (the QMP trace, which the
 * transcript recorder reads back whole) keep their length; they are JSON,
 * whose strings hold no raw control characters anyway.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coldplug/log.h"

/* Longest error, warning or info line handed to the handler, cut marker
 * aside: room for a refusal listing many reasons with its VM's name. */
#define LOG_LINE_MAX 8192

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
 * escaped_len() - how many bytes @c takes in a log line
 * @c:	byte of a message
 *
 * Return: 1, 2 (\n, \r, \t) or 4 (\xNN)
 */
static size_t escaped_len(unsigned char c)
{
	if (c == '\n' || c == '\r' || c == '\t')
		return 2;
	return c < 0x20 || c == 0x7f ? 4 : 1;
}

/**
 * escape_to() - write @c as it appears in a log line
 * @c:		byte of a message
 * @out:	room for escaped_len(@c) bytes
 *
 * Return: bytes written
 */
static size_t escape_to(unsigned char c, char *out)
{
	static const char hex[] = "0123456789abcdef";

	if (escaped_len(c) == 1) {
		out[0] = (char)c;
		return 1;
	}
	out[0] = '\\';
	if (c == '\n' || c == '\r' || c == '\t') {
		out[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
		return 2;
	}
	out[1] = 'x';
	out[2] = hex[c >> 4];
	out[3] = hex[c & 0xf];
	return 4;
}

/**
 * one_line() - @msg as one log line: control characters escaped, at most
 * @max bytes of it kept
 * @msg:	message
 * @max:	bound on the escaped text (SIZE_MAX for none)
 *
 * Return: new string (caller frees), or NULL when out of memory
 */
static char *one_line(const char *msg, size_t max)
{
	size_t len = 0, i, off = 0;
	char *out;

	for (i = 0; msg[i] && len + escaped_len((unsigned char)msg[i]) <= max; i++)
		len += escaped_len((unsigned char)msg[i]);
	out = malloc(len + 64);
	if (!out)
		return NULL;
	for (off = 0; off < len; msg++)
		off += escape_to((unsigned char)*msg, out + off);
	out[off] = '\0';
	if (*msg)
		snprintf(out + off, 64, " [... %zu more bytes cut]", strlen(msg));
	return out;
}

/**
 * deliver() - hand @msg to the handler as one line
 * @level:	enum cp_log_level
 * @msg:	the formatted message (the caller's buffer; changed in place
 *		when memory is short)
 */
static void deliver(enum cp_log_level level, char *msg)
{
	size_t max = level == CP_LOG_DEBUG ? SIZE_MAX : LOG_LINE_MAX;
	bool plain = true;
	char *line, *p;

	for (p = msg; *p && plain; p++)
		plain = escaped_len((unsigned char)*p) == 1;
	if (plain && (max == SIZE_MAX || strlen(msg) <= max)) {
		log_handler(level, msg, log_userdata);
		return;
	}
	line = one_line(msg, max);
	if (line) {
		log_handler(level, line, log_userdata);
		free(line);
		return;
	}
	for (p = msg; *p; p++) /* no memory: blank them, still one line */
		if (escaped_len((unsigned char)*p) > 1)
			*p = ' ';
	if (max != SIZE_MAX && strlen(msg) > max)
		msg[max] = '\0';
	log_handler(level, msg, log_userdata);
}

/**
 * cp_log() - format a message and deliver it to the handler, on one line
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
	deliver(level, big ? big : msg);
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

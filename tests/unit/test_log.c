/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests for the log sink: whatever a message holds (a peer's newline, ESC,
 * DEL), the handler gets exactly one line with those bytes escaped; error,
 * warning and info lines are bounded, debug lines (the QMP trace) are not;
 * an ordinary message passes unchanged.
 */
#include <stdlib.h>
#include <string.h>

#include "coldplug/log.h"
#include "tap.h"

/**
 * struct capture - what the handler received
 * @calls:	how many messages
 * @level:	the last one's level
 * @msg:	the last one (owned)
 */
static struct capture {
	unsigned calls;
	enum cp_log_level level;
	char *msg;
} got;

/**
 * capture() - cp_log_fn keeping the last message
 * @level:	its level
 * @msg:	the message
 * @userdata:	unused
 */
static void capture(enum cp_log_level level, const char *msg, void *userdata)
{
	(void)userdata;
	got.calls++;
	got.level = level;
	free(got.msg);
	got.msg = strdup(msg);
}

/**
 * has_control() - whether @s holds a byte below 0x20 or 0x7f
 * @s:	string
 *
 * Return: true if so
 */
static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/**
 * test_escaped() - a forged journal line arrives as one escaped line
 */
static void test_escaped(void)
{
	const char *name =
		"evil\ncoldplug: vm other (pid 1): re-homed and verified\r\x1b[2J\x7f\t!";

	got.calls = 0;
	cp_log_info("vm %s: connected", name);
	is_int(got.calls, 1, "one message, one call");
	is_str(got.msg,
	       "vm evil\\ncoldplug: vm other (pid 1): re-homed and verified\\r\\x1b[2J\\x7f\\t!: "
	       "connected",
	       "newline, CR, ESC, DEL and tab escaped");
	ok(got.msg && !has_control(got.msg), "no control character reaches the handler");
	cp_log_err("%s", "\x01\x1f");
	is_str(got.msg, "\\x01\\x1f", "other control bytes as \\xNN");
	cp_log_warn("%s", "plain text, unchanged: \\n stays as typed, caf\xc3\xa9");
	is_str(got.msg, "plain text, unchanged: \\n stays as typed, caf\xc3\xa9",
	       "an ordinary message (a backslash, UTF-8) passes unchanged");
}

/**
 * test_bounded() - a peer's huge string does not make a huge info line;
 * the QMP trace (debug) stays whole
 */
static void test_bounded(void)
{
	size_t n = 100000;
	char *big = malloc(n + 1);

	if (!big)
		bail_out("out of memory");
	memset(big, 'x', n);
	big[n] = '\0';
	big[50] = '\n';
	cp_log_info("vm %s", big);
	ok(got.msg && strlen(got.msg) < 8300, "an info line is cut (%zu bytes)",
	   got.msg ? strlen(got.msg) : 0);
	like(got.msg ? got.msg : "", " more bytes cut]", "and says how much was cut");
	ok(got.msg && !has_control(got.msg), "the cut line is escaped too");
	big[50] = 'x';
	cp_log_debug("qmp < %s", big);
	ok(got.level == CP_LOG_DEBUG && got.msg && strlen(got.msg) == n + 6,
	   "a debug line (the QMP trace) is whole");
	free(big);
}

/**
 * main() - run the tests
 *
 * Return: TAP exit status
 */
int main(void)
{
	cp_log_set_handler(capture, NULL);
	cp_log_set_level(CP_LOG_DEBUG);
	test_escaped();
	test_bounded();
	cp_log_set_handler(NULL, NULL);
	free(got.msg);
	return done_testing();
}

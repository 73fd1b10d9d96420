/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * QMP framing and classification (lib/qmp_stream.c) on plain bytes: a
 * stream split at every byte boundary yields the same messages, several
 * messages in one read and any whitespace between them are fine, and every
 * kind of malformed input is a clean error that latches the stream. Then
 * classification of every message kind, well-formed and not.
 */
#include <json-c/json.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coldplug/cleanup.h"
#include "qmp_stream.h"
#include "tap.h"

#define MAX_MSGS 16

/**
 * struct collect - messages delivered by the framer, as compact JSON
 * @n:		how many
 * @text:	each one serialised (owned)
 * @stop_at:	return -1 from the callback for message number @stop_at (1-based), 0: never
 */
struct collect {
	size_t n;
	char *text[MAX_MSGS];
	size_t stop_at;
};

/**
 * collect_msg() - qmp_stream_msg_fn storing each message in a struct collect
 * @msg:	the message
 * @userdata:	the struct collect
 * @err:	filled when asked to stop
 *
 * Return: 0, or -1 at @stop_at
 */
static int collect_msg(cp_json *msg, void *userdata, struct cp_error *err)
{
	struct collect *c = userdata;

	if (c->n < MAX_MSGS)
		c->text[c->n] = cp_json_dump(msg, 0);
	c->n++;
	if (c->stop_at && c->n == c->stop_at)
		return cp_error_set(err, CP_ERR_INVALID, "stopped by the callback");
	return 0;
}

/**
 * collect_reset() - free the collected messages
 * @c:	collector
 */
static void collect_reset(struct collect *c)
{
	size_t i;

	for (i = 0; i < MAX_MSGS; i++)
		free(c->text[i]);
	memset(c, 0, sizeof(*c));
}

/**
 * feed_split() - feed @text to a new framer, split at the given offsets
 * @text:	the bytes
 * @len:	their count
 * @cuts:	increasing offsets at which to split, each in (0, @len)
 * @ncuts:	their count
 * @max_msg:	size cap (0: default)
 * @depth:	depth cap (0: default)
 * @c:		collector for the messages
 * @err:	filled on failure
 *
 * Return: 0, or -1 if a feed failed
 */
static int feed_split(const char *text, size_t len, const size_t *cuts, size_t ncuts,
		      size_t max_msg, int depth, struct collect *c, struct cp_error *err)
{
	struct qmp_stream *s = qmp_stream_new(max_msg, depth);
	size_t off = 0, i;
	int rc = 0;

	for (i = 0; i <= ncuts && rc == 0; i++) {
		size_t end = (cuts && i < ncuts) ? cuts[i] : len;

		rc = qmp_stream_feed(s, text + off, end - off, collect_msg, c, err);
		off = end;
	}
	qmp_stream_free(s);
	return rc;
}

/**
 * feed_all() - feed a NUL-terminated text in one piece
 * @text:	the bytes
 * @max_msg:	size cap (0: default)
 * @depth:	depth cap (0: default)
 * @c:		collector
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int feed_all(const char *text, size_t max_msg, int depth, struct collect *c,
		    struct cp_error *err)
{
	return feed_split(text, strlen(text), NULL, 0, max_msg, depth, c, err);
}

static const char stream3[] =
	"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, "
	"\"package\": \"Debian\"}, \"capabilities\": [\"oob\"]}}\r\n"
	"{\"return\": {\"name\": \"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x92\xbe \\u00e9\\\"}\"}, "
	"\"id\": 1}\r\n"
	"{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"STOP\", "
	"\"data\": {\"n\": [-12, 1e-5, 1.5E+10, -0.25, 9223372036854775807, -1, 0, true, null]}}"
	"\r\n";

/**
 * test_splits() - every split of a 3-message stream gives the same messages
 */
static void test_splits(void)
{
	struct collect whole = { 0 }, c = { 0 };
	size_t len = strlen(stream3), cut, cuts[2], bad2 = 0, bad1 = 0, i;
	size_t *bytes = calloc(len, sizeof(*bytes));
	struct cp_error err;

	is_int(feed_all(stream3, 0, 0, &whole, &err), 0, "stream of 3 messages in one read");
	is_int((long long)whole.n, 3, "3 messages delivered");
	like(whole.text[1], "caf\xc3\xa9", "UTF-8 in a string survives");
	for (cut = 1; cut < len; cut++) {
		bool same;

		cuts[0] = cut;
		if (feed_split(stream3, len, cuts, 1, 0, 0, &c, &err) < 0 && !bad1)
			diag("split at %zu: %s", cut, err.msg);
		same = c.n == 3;
		for (i = 0; same && i < 3; i++)
			same = !strcmp(c.text[i], whole.text[i]);
		bad1 += !same;
		collect_reset(&c);
	}
	is_int((long long)bad1, 0, "split in two at each of %zu byte boundaries: same messages",
	       len - 1);
	for (cut = 1; cut + 7 < len; cut += 3) {
		cuts[0] = cut;
		cuts[1] = cut + 7;
		feed_split(stream3, len, cuts, 2, 0, 0, &c, &err);
		bad2 += c.n != 3 || strcmp(c.text[1], whole.text[1]) != 0;
		collect_reset(&c);
	}
	is_int((long long)bad2, 0, "split in three at sliding boundaries: same messages");
	for (i = 0; i + 1 < len; i++)
		bytes[i] = i + 1;
	ok(feed_split(stream3, len, bytes, len - 1, 0, 0, &c, &err) == 0 && c.n == 3 &&
		   !strcmp(c.text[1], whole.text[1]),
	   "one byte at a time: same messages");
	collect_reset(&c);
	collect_reset(&whole);
	free(bytes);
}

/**
 * test_pending() - qmp_stream_pending() tracks an incomplete message only
 */
static void test_pending(void)
{
	struct qmp_stream *s = qmp_stream_new(0, 0);
	struct collect c = { 0 };
	struct cp_error err;

	qmp_stream_feed(s, "  \r\n", 4, collect_msg, &c, &err);
	is_int((long long)qmp_stream_pending(s), 0, "pending: whitespace is not a message");
	qmp_stream_feed(s, "{\"return\"", 9, collect_msg, &c, &err);
	is_int((long long)qmp_stream_pending(s), 9, "pending: bytes of a partial message");
	qmp_stream_feed(s, ": {}}\n{", 7, collect_msg, &c, &err);
	ok(c.n == 1 && qmp_stream_pending(s) == 1, "pending: the next message's first byte");
	qmp_stream_feed(s, "}", 1, collect_msg, &c, &err);
	ok(c.n == 2 && qmp_stream_pending(s) == 0, "pending: 0 between messages");
	qmp_stream_free(s);
	collect_reset(&c);
}

/**
 * test_whitespace() - whitespace, CRLF, no separator at all
 */
static void test_whitespace(void)
{
	struct collect c = { 0 };
	struct cp_error err;

	is_int(feed_all("{\"a\":1}{\"b\":2}", 0, 0, &c, &err), 0, "no separator between messages");
	is_int((long long)c.n, 2, "two messages back to back");
	collect_reset(&c);
	feed_all("\r\n\t  {\"a\":1}\r\n\r\n \t{\"b\":2}\n\n", 0, 0, &c, &err);
	is_int((long long)c.n, 2, "CRLF, tabs and blank lines between messages");
	collect_reset(&c);
	feed_all("{\"a\":\r\n[1,\r\n2]}", 0, 0, &c, &err);
	ok(c.n == 1 && !strcmp(c.text[0], "{\"a\":[1,2]}"), "newlines inside a message");
	collect_reset(&c);
	ok(feed_all("", 0, 0, &c, &err) == 0 && c.n == 0, "empty feed");
}

/**
 * expect_fail() - feed @text, expect a framing error mentioning @what
 * @name:	check name
 * @text:	NUL-terminated input (or use feed_split directly for NULs)
 * @max_msg:	size cap
 * @depth:	depth cap
 * @what:	substring of the expected message
 * @ndeliver:	messages expected before the error
 */
static void expect_fail(const char *name, const char *text, size_t max_msg, int depth,
			const char *what, size_t ndeliver)
{
	struct collect c = { 0 };
	struct cp_error err = { 0 };
	int rc = feed_all(text, max_msg, depth, &c, &err);

	ok(rc < 0 && err.code == CP_ERR_PROTOCOL && strstr(err.msg, what) && c.n == ndeliver,
	   "%s: error", name);
	if (rc == 0 || !strstr(err.msg, what) || c.n != ndeliver)
		diag("rc %d, %zu messages, error '%s', wanted '%s'", rc, c.n, err.msg, what);
	collect_reset(&c);
}

/**
 * nested_obj() - {"a":{"a":...{}}} nested @depth levels
 * @depth:	levels
 *
 * Return: new string, caller frees
 */
static char *nested_obj(int depth)
{
	size_t len = (size_t)depth * 6 + 1, off = 0;
	char *s = calloc(1, len);
	int i;

	if (!s)
		bail_out("out of memory");
	for (i = 0; i < depth - 1; i++)
		off += (size_t)snprintf(s + off, len - off, "{\"a\":");
	off += (size_t)snprintf(s + off, len - off, "{}");
	for (i = 0; i < depth - 1; i++)
		off += (size_t)snprintf(s + off, len - off, "}");
	return s;
}

/**
 * test_caps() - size and depth caps, exactly at and just over the limit
 */
static void test_caps(void)
{
	cleanup_free char *at_depth = nested_obj(8);
	cleanup_free char *over_depth = nested_obj(9);
	cleanup_free char *deep_default = nested_obj(CP_JSON_MAX_DEPTH + 1);
	char big[200];
	struct collect c = { 0 };
	struct cp_error err;
	size_t *cuts, i;

	/* {"return": "xxx..."} of exactly 64 bytes */
	snprintf(big, sizeof(big), "{\"return\": \"%0*d\"}", 64 - 14, 0);
	is_int((long long)strlen(big), 64, "(64-byte message)");
	ok(feed_all(big, 64, 0, &c, &err) == 0 && c.n == 1, "size cap: exactly at the cap passes");
	collect_reset(&c);
	expect_fail("size cap: one byte over", big, 63, 0, "size cap", 0);
	cuts = calloc(64, sizeof(*cuts));
	for (i = 0; i < 63; i++)
		cuts[i] = i + 1;
	ok(feed_split(big, 64, cuts, 63, 63, 0, &c, &err) < 0 && strstr(err.msg, "size cap") &&
		   c.n == 0,
	   "size cap: one byte over, fed bytewise");
	free(cuts);
	collect_reset(&c);
	snprintf(big, sizeof(big), "  \r\n {\"return\": \"%0*d\"}", 64 - 14, 0);
	ok(feed_all(big, 64, 0, &c, &err) == 0 && c.n == 1,
	   "size cap: whitespace before a message does not count");
	collect_reset(&c);

	ok(feed_all(at_depth, 0, 8, &c, &err) == 0 && c.n == 1, "depth cap 8: 8 levels pass");
	collect_reset(&c);
	expect_fail("depth cap 8: 9 levels", over_depth, 0, 8, "nested too deeply", 0);
	expect_fail("default depth cap", deep_default, 0, 0, "nested too deeply", 0);
}

/**
 * repeated() - a message {"return": [UNIT,UNIT,...]} of at least @size bytes
 * @unit:	one element
 * @size:	least length
 *
 * Return: new string (bails out when out of memory)
 */
static char *repeated(const char *unit, size_t size)
{
	size_t ul = strlen(unit), n = size / (ul + 1) + 1, i;
	char *text = malloc(n * (ul + 1) + 32), *p = text;

	if (!text)
		bail_out("out of memory");
	p += sprintf(p, "{\"return\": [");
	for (i = 0; i < n; i++)
		p += sprintf(p, "%s%s", i ? "," : "", unit);
	sprintf(p, "]}");
	return text;
}

/**
 * parse_cost() - cost of one message, fed whole to a new framer
 * @text:	the message
 *
 * Return: qmp_stream_last_cost(), or 0 if it failed
 */
static size_t parse_cost(const char *text)
{
	struct qmp_stream *s = qmp_stream_new(0, 0);
	struct collect c = { 0 };
	struct cp_error err;
	size_t cost = 0;

	if (qmp_stream_feed(s, text, strlen(text), collect_msg, &c, &err) == 0 && c.n == 1)
		cost = qmp_stream_last_cost(s);
	collect_reset(&c);
	qmp_stream_free(s);
	return cost;
}

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/**
 * test_cost_covers_jsonc() - the estimate is at least what json-c allocates
 *
 * Measured with mallinfo2(), so not under ASan (its allocator is not
 * glibc's and mallinfo2() reports nothing there).
 */
static void test_cost_covers_jsonc(void)
{
	static const char *const units[] = { "[]",
					     "{}",
					     "1",
					     "\"\"",
					     "[1]",
					     "{\"a\":1}",
					     "true",
					     "1.5",
					     "{\"a\":[{},{}]}",
					     "\"xxxxxxxxxxxxxxxx\"" };
	size_t i;

#ifdef UNDER_ASAN
	skip(10, "json-c's allocation is measured with mallinfo2(), which ASan's allocator "
		 "does not fill; the gcc build runs these");
	(void)units;
	(void)i;
#else
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		cleanup_free char *text = repeated(units[i], 200000);
		struct mallinfo2 before = mallinfo2(), after;
		json_object *v = json_tokener_parse(text);

		after = mallinfo2();
		ok(v && parse_cost(text) >= after.uordblks - before.uordblks,
		   "cost: [%s,...] (%zu bytes) is estimated at %zu, json-c took %zu", units[i],
		   strlen(text), parse_cost(text), after.uordblks - before.uordblks);
		json_object_put(v);
	}
#endif
}

/**
 * struct costs - each message's cost as the framer saw it while delivering it
 * @s:		the framer
 * @cost:	per message
 * @n:		messages
 */
struct costs {
	struct qmp_stream *s;
	size_t cost[4];
	size_t n;
};

/**
 * note_cost() - qmp_stream_msg_fn recording qmp_stream_last_cost()
 * @msg:	the message (unused)
 * @userdata:	struct costs
 * @err:	unused
 *
 * Return: 0
 */
static int note_cost(cp_json *msg, void *userdata, struct cp_error *err)
{
	struct costs *c = userdata;

	(void)msg;
	(void)err;
	if (c->n < 4)
		c->cost[c->n++] = qmp_stream_last_cost(c->s);
	return 0;
}

/**
 * test_cost() - the parse-memory cap stops a message whose parsed form would
 * be far larger than its bytes, before json-c has allocated it; structure
 * inside strings costs nothing; each message is costed on its own
 */
static void test_cost(void)
{
	cleanup_free char *arrays = repeated("[]", 8u << 20);
	cleanup_free char *one = repeated("{}", 1000);
	cleanup_free char *two = NULL;
	const char *str = "{\"return\": \"[[,\\\"{:\"}";
	struct qmp_stream *s = qmp_stream_new(16u << 20, 0);
	struct costs costs = { 0 };
	struct collect c = { 0 };
	struct cp_error err;
	size_t fed = 0, cost;
	int rc = 0;

	qmp_stream_set_max_cost(s, 2u << 20);
	while (rc == 0 && arrays[fed]) {
		size_t n = strnlen(arrays + fed, 65536);

		rc = qmp_stream_feed(s, arrays + fed, n, collect_msg, &c, &err);
		fed += n;
	}
	ok(rc < 0 && strstr(err.msg, "more memory to parse than the cap"),
	   "cost: 8 MiB of [[],[],...] passes a 2 MiB cap (%s)", err.msg);
	ok(fed <= 65536, "cost: ... in its first 64 KiB (%zu bytes fed)", fed);
	qmp_stream_free(s);
	collect_reset(&c);

	/* {"return": "[[,\"{:"}: 21 bytes, an object, two strings, one ":" */
	is_int((long long)parse_cost(str), 21 + 800 + 96 + 112 + 96,
	       "cost: brackets, commas and an escaped quote inside a string cost a byte each");

	cost = parse_cost(one);
	ok(cost > 0, "cost: a message of 1000 bytes of objects costs %zu", cost);
	if (asprintf(&two, "%s%s", one, one) < 0)
		bail_out("out of memory");
	s = qmp_stream_new(0, 0);
	qmp_stream_set_max_cost(s, cost + cost / 2);
	costs.s = s;
	rc = qmp_stream_feed(s, two, strlen(two), note_cost, &costs, &err);
	ok(rc == 0 && costs.n == 2,
	   "cost: two such messages in one read pass a cap of 1.5 times one (%s)",
	   rc == 0 ? "" : err.msg);
	ok(costs.cost[0] == cost && costs.cost[1] == cost,
	   "cost: each is costed alone (%zu and %zu)", costs.cost[0], costs.cost[1]);
	qmp_stream_free(s);
}

/**
 * test_scan_once() - a read of 64 KiB holding some 750 events is scanned
 * for its parse cost once, not once per message (42.8 ms a read before)
 */
static void test_scan_once(void)
{
	static const char ev[] = "{\"event\": \"RTC_CHANGE\", \"data\": {\"offset\": 1}, "
				 "\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}\r\n";
	struct qmp_stream *s = qmp_stream_new(0, 0);
	cleanup_free char *buf = malloc(65536);
	struct collect c = { 0 };
	struct cp_error err;
	size_t len = 0, n;
	int rc;

	if (!s || !buf)
		bail_out("out of memory");
	while (len + sizeof(ev) - 1 <= 65536) {
		memcpy(buf + len, ev, sizeof(ev) - 1);
		len += sizeof(ev) - 1;
	}
	n = len / (sizeof(ev) - 1);
	rc = qmp_stream_feed(s, buf, len, collect_msg, &c, &err);
	ok(rc == 0 && c.n == n, "scan: %zu events in one read, %zu delivered", n, c.n);
	/* The "\r\n" between messages is skipped, not scanned. */
	is_int((long long)qmp_stream_scanned(s), (long long)(len - 2 * n),
	       "scan: the cost scanner read each byte of each message once");
	qmp_stream_free(s);
	collect_reset(&c);
}

/**
 * test_malformed() - every malformed input is an error, and the stream stays failed
 */
static void test_malformed(void)
{
	struct qmp_stream *s = qmp_stream_new(0, 0);
	struct collect c = { 0 };
	struct cp_error err = { 0 };
	static const char nul[] = "{\"return\": {}}\n{\"ret\0urn\": {}}";

	expect_fail("invalid UTF-8 (lone continuation byte)", "{\"return\": \"\x80\"}", 0, 0,
		    "invalid UTF-8", 0);
	expect_fail("invalid UTF-8 (overlong)", "{\"return\": \"\xc0\xaf\"}", 0, 0, "UTF-8", 0);
	expect_fail("invalid UTF-8 (surrogate)", "{\"return\": \"\xed\xa0\x80\"}", 0, 0, "UTF-8",
		    0);
	expect_fail("invalid UTF-8 (above U+10FFFF)", "{\"return\": \"\xf4\x90\x80\x80\"}", 0, 0,
		    "UTF-8", 0);
	expect_fail("invalid UTF-8 (truncated sequence)", "{\"return\": \"\xe2\x82\"}", 0, 0,
		    "UTF-8", 0);
	expect_fail("top-level array", "{\"return\": {}}[1, 2]", 0, 0, "not an object", 1);
	expect_fail("top-level string", "\"hello\"", 0, 0, "not an object", 0);
	expect_fail("top-level number", "42 ", 0, 0, "not an object", 0);
	expect_fail("top-level true", "true ", 0, 0, "not an object", 0);
	expect_fail("syntax error", "{\"return\" {}}", 0, 0, "malformed QMP stream", 0);
	expect_fail("single quotes (not strict JSON)", "{\"return\": 'x'}", 0, 0,
		    "malformed QMP stream", 0);
	expect_fail("stray closing brace", "}", 0, 0, "malformed QMP stream", 0);

	ok(feed_split(nul, sizeof(nul) - 1, NULL, 0, 0, 0, &c, &err) < 0 &&
		   strstr(err.msg, "NUL byte"),
	   "NUL byte: error");
	collect_reset(&c);
	{
		/* Each message's own bytes are checked, not the whole read for each. */
		static const char after[] = "{\"return\": {}}\n{\"return\": \"a\0b\"}";

		ok(feed_split(after, sizeof(after) - 1, NULL, 0, 0, 0, &c, &err) < 0 &&
			   strstr(err.msg, "NUL byte") && c.n == 1,
		   "NUL byte in the second message of a read: the first is delivered, then the "
		   "error");
		collect_reset(&c);
	}

	ok(qmp_stream_feed(s, "[]", 2, collect_msg, &c, &err) < 0, "a failed stream...");
	ok(qmp_stream_feed(s, "{}", 2, collect_msg, &c, &err) < 0 && c.n == 0 &&
		   strstr(err.msg, "earlier error"),
	   "...stays failed: valid input is refused");
	qmp_stream_free(s);
	collect_reset(&c);

	c.stop_at = 2;
	ok(feed_all("{\"a\":1}{\"b\":2}{\"c\":3}", 0, 0, &c, &err) < 0 && c.n == 2 &&
		   !strcmp(err.msg, "stopped by the callback"),
	   "a failing callback stops the feed with its own error");
	collect_reset(&c);
}

/**
 * classify() - parse @text and classify it
 * @text:	one JSON document
 * @m:		filled
 * @err:	filled on failure
 * @keep:	set to the parsed JSON (the caller drops it; @m points into it)
 *
 * Return: qmp_msg_classify()'s value
 */
static int classify(const char *text, struct qmp_msg *m, struct cp_error *err, cp_json **keep)
{
	struct cp_error perr;

	*keep = cp_json_parse(text, strlen(text), &perr);
	if (!*keep)
		bail_out("test input does not parse: %s: %s", text, perr.msg);
	return qmp_msg_classify(*keep, m, err);
}

/**
 * expect_class_fail() - a message classify must reject
 * @text:	the message
 * @what:	substring of the expected error
 */
static void expect_class_fail(const char *text, const char *what)
{
	cleanup_json cp_json *j = NULL;
	struct cp_error err = { 0 };
	struct qmp_msg m;
	int rc = classify(text, &m, &err, &j);

	ok(rc < 0 && err.code == CP_ERR_PROTOCOL && strstr(err.msg, what), "rejected: %s", text);
	if (rc == 0 || !strstr(err.msg, what))
		diag("error was '%s', wanted '%s'", err.msg, what);
}

/**
 * test_classify_good() - each kind, with the fields the client needs
 */
static void test_classify_good(void)
{
	cleanup_json cp_json *g = NULL, *g2 = NULL, *ev = NULL, *ev2 = NULL, *r = NULL, *e = NULL;
	cleanup_json cp_json *r2 = NULL, *r3 = NULL;
	struct cp_error err;
	struct qmp_msg m;

	ok(classify("{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, "
		    "\"major\": 7}, \"package\": \"Debian\"}, \"capabilities\": [\"oob\"]}}",
		    &m, &err, &g) == 0 &&
		   m.kind == QMP_MSG_GREETING,
	   "greeting");
	ok(m.ver_major == 7 && m.ver_minor == 2 && m.ver_micro == 0, "greeting: version");
	is_str(m.package, "Debian", "greeting: package");
	ok(cp_json_len(m.caps) == 1, "greeting: capabilities");
	ok(classify("{\"QMP\":{\"version\":{\"qemu\":{\"micro\":2,\"minor\":0,\"major\":10}},"
		    "\"capabilities\":[]}}",
		    &m, &err, &g2) == 0 &&
		   m.ver_major == 10 && !strcmp(m.package, ""),
	   "greeting without package: package is \"\"");
	ok(classify("{\"event\":\"DEVICE_DELETED\",\"data\":{\"device\":\"d1\"},"
		    "\"timestamp\":{\"seconds\":1,\"microseconds\":2}}",
		    &m, &err, &ev) == 0 &&
		   m.kind == QMP_MSG_EVENT && !strcmp(m.event, "DEVICE_DELETED") &&
		   !strcmp(cp_json_get_str(m.data, "device"), "d1"),
	   "event with data");
	ok(classify("{\"event\":\"STOP\"}", &m, &err, &ev2) == 0 && m.kind == QMP_MSG_EVENT &&
		   !m.data,
	   "event without data");
	ok(classify("{\"return\":{\"a\":1},\"id\":42}", &m, &err, &r) == 0 &&
		   m.kind == QMP_MSG_RETURN && m.has_id && m.id == 42 && cp_json_is_object(m.data),
	   "return with id");
	ok(classify("{\"error\":{\"class\":\"DeviceNotFound\",\"desc\":\"Device 'x' not found\"},"
		    "\"id\":7}",
		    &m, &err, &e) == 0 &&
		   m.kind == QMP_MSG_ERROR && m.id == 7 && !strcmp(m.err_class, "DeviceNotFound") &&
		   !strcmp(m.err_desc, "Device 'x' not found"),
	   "error reply: class, desc, id");
	ok(classify("{\"return\":[]}", &m, &err, &r2) == 0 && !m.has_id, "return without id");
	ok(classify("{\"return\":{},\"id\":\"abc\"}", &m, &err, &r3) == 0 && !m.has_id,
	   "return with a string id: not ours, has_id false");
	is_str(qmp_msg_kind_name(QMP_MSG_GREETING), "greeting", "kind name greeting");
	is_str(qmp_msg_kind_name(QMP_MSG_EVENT), "event", "kind name event");
	is_str(qmp_msg_kind_name(QMP_MSG_RETURN), "return", "kind name return");
	is_str(qmp_msg_kind_name(QMP_MSG_ERROR), "error", "kind name error");
}

/**
 * test_classify_bad() - malformed greetings, events, replies
 */
static void test_classify_bad(void)
{
	cleanup_json cp_json *arr = cp_json_new_array();
	cleanup_json cp_json *neg = NULL;
	struct cp_error err;
	struct qmp_msg m;

	ok(qmp_msg_classify(arr, &m, &err) < 0 && strstr(err.msg, "not an object"),
	   "rejected: an array");
	expect_class_fail("{\"QMP\": 1}", "greeting is not an object");
	expect_class_fail("{\"QMP\": {\"capabilities\": []}}", "without a valid version");
	expect_class_fail("{\"QMP\": {\"version\": {\"qemu\": {\"major\": \"7\", \"minor\": 2, "
			  "\"micro\": 0}}, \"capabilities\": []}}",
			  "without a valid version");
	expect_class_fail("{\"QMP\": {\"version\": {\"qemu\": {\"major\": -1, \"minor\": 2, "
			  "\"micro\": 0}}, \"capabilities\": []}}",
			  "without a valid version");
	expect_class_fail("{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7, \"minor\": 99999, "
			  "\"micro\": 0}}, \"capabilities\": []}}",
			  "without a valid version");
	expect_class_fail("{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7, \"minor\": 2, "
			  "\"micro\": 0}}}}",
			  "without capabilities");
	expect_class_fail("{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7, \"minor\": 2, "
			  "\"micro\": 0}}, \"capabilities\": {}}}",
			  "without capabilities");
	expect_class_fail("{\"event\": 5}", "event without a name");
	expect_class_fail("{\"event\": \"\"}", "event without a name");
	expect_class_fail("{\"event\": \"X\", \"data\": [1]}", "data is not an object");
	expect_class_fail("{\"return\": {}, \"error\": {\"class\": \"a\", \"desc\": \"b\"}}",
			  "both return and error");
	expect_class_fail("{\"error\": {\"class\": \"GenericError\"}}", "without class or desc");
	expect_class_fail("{\"error\": {\"desc\": \"x\"}, \"id\": 1}", "without class or desc");
	expect_class_fail("{\"error\": \"boom\"}", "without class or desc");
	expect_class_fail("{\"hello\": 1}", "unrecognised");
	expect_class_fail("{}", "unrecognised");
	ok(classify("{\"return\": {}, \"id\": -3}", &m, &err, &neg) == 0 && !m.has_id,
	   "negative id: not ours, has_id false");
}

/**
 * main() - run the checks
 *
 * Return: TAP exit status
 */
int main(void)
{
	test_splits();
	test_pending();
	test_whitespace();
	test_caps();
	test_cost();
	test_cost_covers_jsonc();
	test_scan_once();
	test_malformed();
	test_classify_good();
	test_classify_bad();
	return done_testing();
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * QMP framing and classification: see qmp_stream.h.
 */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "coldplug/cleanup.h"
#include "qmp_stream.h"
#include "util.h"

/**
 * struct qmp_stream - incremental framer state
 * @tok:		json-c's incremental tokener, reset after each message
 * @max_message:	largest accepted message, in bytes
 * @cur:		bytes of the current, incomplete message seen so far
 * @in_message:		whether a message has started (non-whitespace seen)
 * @failed:		set after a framing error: the stream cannot resync
 * @u8_need:		continuation bytes still due in the current UTF-8 sequence
 * @u8_lo:		smallest byte accepted as the next continuation byte
 * @u8_hi:		largest byte accepted as the next continuation byte
 * @max_cost:		largest accepted parse cost of one message (see
 *			cost_scan())
 * @cost:		parse cost of the current message so far
 * @last_cost:		parse cost of the last complete message
 * @in_str:		the cost scanner is inside a string
 * @esc:		... right after its backslash
 * @depth:		... this many objects and arrays deep
 * @scanned:		bytes the cost scanner has read, in all
 *
 * UTF-8 is validated here, not by json-c: json-c 0.16's
 * JSON_TOKENER_VALIDATE_UTF8 keeps its sequence state in a local variable of
 * json_tokener_parse_ex(), so a multi-byte character split across two reads
 * is reported as invalid UTF-8. Our state survives between feeds.
 */
struct qmp_stream {
	struct json_tokener *tok;
	size_t max_message;
	size_t cur;
	bool in_message;
	bool failed;
	unsigned char u8_need;
	unsigned char u8_lo;
	unsigned char u8_hi;
	size_t max_cost;
	size_t cost;
	size_t last_cost;
	bool in_str;
	bool esc;
	unsigned depth;
	size_t scanned;
};

/*
 * What json-c 0.16 allocates per parsed value, rounded up (measured with
 * mallinfo2() over 200,000 of each on amd64): an object 784 bytes (its hash
 * table starts with 16 entries), an array 144, a scalar 72-104, a string 88
 * plus its text. "[[],[],...]" thus costs 48 times its size, "[{},{},...]"
 * 261 times: a size cap alone does not bound memory.
 */
#define COST_OBJECT 800
#define COST_ARRAY  160
#define COST_VALUE  112
#define COST_STRING 96

/**
 * qmp_stream_new() - create a framer
 * @max_message:	cap on one message's size in bytes (0: default)
 * @max_depth:		cap on nesting depth (<= 0: CP_JSON_MAX_DEPTH)
 *
 * Return: new framer (free with qmp_stream_free()), or NULL when out of memory
 */
struct qmp_stream *qmp_stream_new(size_t max_message, int max_depth)
{
	struct qmp_stream *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->tok = json_tokener_new_ex(max_depth > 0 ? max_depth : CP_JSON_MAX_DEPTH);
	if (!s->tok) {
		free(s);
		return NULL;
	}
	json_tokener_set_flags(s->tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);
	s->max_message = max_message ? max_message : QMP_STREAM_DEFAULT_MAX_MESSAGE;
	s->max_cost = QMP_STREAM_DEFAULT_MAX_COST;
	return s;
}

/**
 * qmp_stream_free() - destroy a framer
 * @s:	framer, may be NULL
 */
void qmp_stream_free(struct qmp_stream *s)
{
	if (!s)
		return;
	json_tokener_free(s->tok);
	free(s);
}

/**
 * qmp_stream_set_max_cost() - cap the memory one message may take to parse
 * @s:		framer
 * @max_cost:	bytes, as estimated (0: the default); an over-estimate of
 *		what json-c allocates, so the cap holds
 */
void qmp_stream_set_max_cost(struct qmp_stream *s, size_t max_cost)
{
	s->max_cost = max_cost ? max_cost : QMP_STREAM_DEFAULT_MAX_COST;
}

/**
 * qmp_stream_last_cost() - the estimated memory of the last complete message
 * @s:	framer
 *
 * Return: bytes; an upper bound of what its parsed form holds
 */
size_t qmp_stream_last_cost(const struct qmp_stream *s)
{
	return s->last_cost;
}

/**
 * qmp_stream_scanned() - bytes the parse-cost scanner has read
 * @s:	framer
 *
 * Return: their count, in all; a read that holds many messages is scanned
 * once (a top-level value that is no object or array: twice)
 */
size_t qmp_stream_scanned(const struct qmp_stream *s)
{
	return s->scanned;
}

/**
 * qmp_stream_pending() - bytes of an incomplete message held by the framer
 * @s:	framer
 *
 * Return: 0 when the stream is between messages
 */
size_t qmp_stream_pending(const struct qmp_stream *s)
{
	return s->in_message ? s->cur : 0;
}

/**
 * stream_fail() - latch a framing error
 * @s:		framer
 * @err:	filled with the message
 * @what:	what was wrong
 *
 * Return: -1
 */
static int stream_fail(struct qmp_stream *s, struct cp_error *err, const char *what)
{
	s->failed = true;
	return cp_error_set(err, CP_ERR_PROTOCOL, "malformed QMP stream: %s", what);
}

/**
 * utf8_lead() - start a UTF-8 sequence at lead byte @c
 * @s:	framer, between sequences
 * @c:	a byte >= 0x80
 *
 * Strict RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF.
 *
 * Return: true if @c may start a sequence
 */
static bool utf8_lead(struct qmp_stream *s, unsigned char c)
{
	s->u8_lo = 0x80;
	s->u8_hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf) {
		s->u8_need = 1;
	} else if (c >= 0xe0 && c <= 0xef) {
		s->u8_need = 2;
		s->u8_lo = c == 0xe0 ? 0xa0 : 0x80;
		s->u8_hi = c == 0xed ? 0x9f : 0xbf;
	} else if (c >= 0xf0 && c <= 0xf4) {
		s->u8_need = 3;
		s->u8_lo = c == 0xf0 ? 0x90 : 0x80;
		s->u8_hi = c == 0xf4 ? 0x8f : 0xbf;
	} else {
		return false;
	}
	return true;
}

/**
 * utf8_valid() - check bytes of the stream, continuing the previous state
 * @s:		framer
 * @buf:	bytes, in stream order right after those checked before
 * @len:	their count
 *
 * Return: true if no byte so far breaks UTF-8 (a sequence may be left open)
 */
static bool utf8_valid(struct qmp_stream *s, const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (s->u8_need) {
			if (c < s->u8_lo || c > s->u8_hi)
				return false;
			s->u8_need--;
			s->u8_lo = 0x80;
			s->u8_hi = 0xbf;
		} else if (c >= 0x80 && !utf8_lead(s, c)) {
			return false;
		}
	}
	return true;
}

/**
 * cost_scan() - the parse cost of bytes that continue the current message
 * @s:		framer; its scanner state (@in_str, @esc, @depth) moves on
 * @buf:	bytes
 * @len:	their count
 * @cost:	cost so far, increased
 * @max:	stop before the byte that would take @cost past this
 *
 * A byte costs one; outside strings, each "{" COST_OBJECT, "[" COST_ARRAY,
 * "," or ":" COST_VALUE, each string COST_STRING. The scan ends with the
 * bracket that closes the message's outermost object or array, so that a
 * read holding many messages is scanned once, not once per message.
 *
 * Return: bytes scanned (< @len when @max stopped it or the message ended)
 */
static size_t cost_scan(struct qmp_stream *s, const char *buf, size_t len, size_t *cost, size_t max)
{
	size_t i;

	for (i = 0; i < len; i++) {
		size_t c = 1;
		bool end = false;

		if (s->in_str) {
			s->in_str = s->esc || buf[i] != '"';
			s->esc = !s->esc && buf[i] == '\\';
		} else if (buf[i] == '"') {
			s->in_str = true;
			c += COST_STRING;
		} else if (buf[i] == '{' || buf[i] == '[') {
			c += buf[i] == '{' ? COST_OBJECT : COST_ARRAY;
			s->depth++;
		} else if (buf[i] == '}' || buf[i] == ']') {
			end = s->depth > 0 && --s->depth == 0;
		} else if (buf[i] == ',' || buf[i] == ':') {
			c += COST_VALUE;
		}
		if (c > max - *cost)
			break;
		*cost += c;
		if (end) {
			i++;
			break;
		}
	}
	s->scanned += i;
	return i;
}

/**
 * skip_space() - skip inter-message whitespace
 * @buf:	bytes
 * @len:	their count
 *
 * Return: index of the first non-whitespace byte, or @len
 */
static size_t skip_space(const char *buf, size_t len)
{
	size_t i = 0;

	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
		i++;
	return i;
}

/**
 * stream_parse() - feed bytes that continue or start a message
 * @s:		framer
 * @buf:	bytes, inside a message
 * @len:	their count (> 0)
 * @msg:	set to the completed message (new reference), or NULL
 * @err:	filled on failure
 *
 * Return: bytes consumed, or -1 on a framing error
 */
static long stream_parse(struct qmp_stream *s, const char *buf, size_t len, cp_json **msg,
			 struct cp_error *err)
{
	bool in_str = s->in_str, esc = s->esc;
	unsigned depth = s->depth;
	size_t used, cost = s->cost, fits;
	enum json_tokener_error jerr;
	cp_json *v;

	*msg = NULL;
	if (len > 0x7fffffff)
		len = 0x7fffffff;
	/* Feed json-c only what fits the cost cap: it allocates as it goes. */
	fits = cost_scan(s, buf, len, &cost, s->max_cost);
	/* Only what json-c is given: the rest of the read is the next call's. */
	if (memchr(buf, '\0', fits))
		return stream_fail(s, err, "NUL byte");
	v = fits ? json_tokener_parse_ex(s->tok, buf, (int)fits) : NULL;
	jerr = fits ? json_tokener_get_error(s->tok) : json_tokener_continue;
	if (!v && jerr == json_tokener_continue && fits < len)
		return stream_fail(s, err, "message would take more memory to parse than the cap");
	if (!v && jerr == json_tokener_continue)
		used = len;
	else if (!v && jerr == json_tokener_error_depth)
		return stream_fail(s, err, "message nested too deeply");
	else if (!v)
		return stream_fail(s, err, json_tokener_error_desc(jerr));
	else
		used = json_tokener_get_parse_end(s->tok);
	if (!utf8_valid(s, buf, used)) {
		cp_json_unref(v);
		return stream_fail(s, err, "invalid UTF-8");
	}
	s->cur += used;
	if (s->cur > s->max_message) {
		cp_json_unref(v);
		return stream_fail(s, err, "message larger than the size cap");
	}
	if (v && used < fits) {
		/* The message ended early: only its own bytes count. */
		s->in_str = in_str;
		s->esc = esc;
		s->depth = depth;
		cost = s->cost;
		cost_scan(s, buf, used, &cost, SIZE_MAX);
	}
	s->cost = cost;
	*msg = v;
	return (long)used;
}

/**
 * qmp_stream_feed() - feed received bytes; deliver each complete message
 * @s:		framer
 * @buf:	bytes as received, split anywhere
 * @len:	their count
 * @fn:		called once per complete JSON object, in order
 * @userdata:	passed to @fn
 * @err:	filled on failure
 *
 * After a framing error (invalid JSON or UTF-8, NUL byte, a message over the
 * size or depth cap, a top-level value that is not an object) the stream is
 * unusable and every later call fails.
 *
 * Return: 0, or -1 on a framing error or when @fn failed
 */
int qmp_stream_feed(struct qmp_stream *s, const char *buf, size_t len, qmp_stream_msg_fn fn,
		    void *userdata, struct cp_error *err)
{
	size_t off = 0;

	if (s->failed)
		return cp_error_set(err, CP_ERR_PROTOCOL, "malformed QMP stream (earlier error)");
	while (off < len) {
		cleanup_json cp_json *msg = NULL;
		long used;

		if (!s->in_message) {
			off += skip_space(buf + off, len - off);
			if (off == len)
				break;
			s->in_message = true;
			s->cur = 0;
		}
		used = stream_parse(s, buf + off, len - off, &msg, err);
		if (used < 0)
			return -1;
		off += (size_t)used;
		if (!msg)
			continue;
		json_tokener_reset(s->tok);
		s->in_message = false;
		s->last_cost = s->cost;
		s->cost = 0;
		s->in_str = s->esc = false;
		s->depth = 0;
		if (!cp_json_is_object(msg))
			return stream_fail(s, err, "top-level value is not an object");
		if (fn(msg, userdata, err) < 0)
			return -1;
	}
	return 0;
}

/**
 * classify_greeting() - fill @out from a {"QMP": {...}} greeting
 * @qmp:	the "QMP" member
 * @out:	message to fill
 * @err:	filled on failure
 *
 * Return: 0, or -1 if a required field is missing
 */
static int classify_greeting(cp_json *qmp, struct qmp_msg *out, struct cp_error *err)
{
	cp_json *version = cp_json_get_object(qmp, "version");
	cp_json *qemu = cp_json_get_object(version, "qemu");
	int64_t major, minor, micro;

	if (!cp_json_get_int(qemu, "major", &major) || !cp_json_get_int(qemu, "minor", &minor) ||
	    !cp_json_get_int(qemu, "micro", &micro) || major < 0 || major > 1000 || minor < 0 ||
	    minor > 1000 || micro < 0 || micro > 1000)
		return cp_error_set(err, CP_ERR_PROTOCOL, "QMP greeting without a valid version");
	out->caps = cp_json_get_array(qmp, "capabilities");
	if (!out->caps)
		return cp_error_set(err, CP_ERR_PROTOCOL, "QMP greeting without capabilities");
	out->kind = QMP_MSG_GREETING;
	out->ver_major = (int)major;
	out->ver_minor = (int)minor;
	out->ver_micro = (int)micro;
	out->package = cp_json_get_str(version, "package");
	if (!out->package)
		out->package = "";
	return 0;
}

/**
 * classify_reply() - fill @out from a return or error reply
 * @json:	the message
 * @out:	message to fill
 * @err:	filled on failure
 *
 * Return: 0, or -1 if it is neither a well-formed return nor error
 */
static int classify_reply(cp_json *json, struct qmp_msg *out, struct cp_error *err)
{
	cp_json *ret = cp_json_get(json, "return");
	cp_json *error = cp_json_get(json, "error");
	int64_t id;

	if (ret && error)
		return cp_error_set(err, CP_ERR_PROTOCOL, "QMP reply with both return and error");
	if (error) {
		out->err_class = cp_json_get_str(error, "class");
		out->err_desc = cp_json_get_str(error, "desc");
		if (!out->err_class || !out->err_desc)
			return cp_error_set(err, CP_ERR_PROTOCOL,
					    "QMP error reply without class or desc");
		out->kind = QMP_MSG_ERROR;
	} else {
		out->kind = QMP_MSG_RETURN;
		out->data = ret;
	}
	if (cp_json_get_int(json, "id", &id) && id >= 0) {
		out->has_id = true;
		out->id = (uint64_t)id;
	}
	return 0;
}

/**
 * qmp_msg_classify() - sort a message from QEMU and extract its fields
 * @json:	a complete message (borrowed; @out points into it)
 * @out:	filled on success
 * @err:	filled on failure
 *
 * Return: 0, or -1 (CP_ERR_PROTOCOL) for anything that is not a greeting,
 * an event or a reply
 */
int qmp_msg_classify(cp_json *json, struct qmp_msg *out, struct cp_error *err)
{
	cp_json *qmp;

	memset(out, 0, sizeof(*out));
	out->json = json;
	if (!cp_json_is_object(json))
		return cp_error_set(err, CP_ERR_PROTOCOL, "QMP message is not an object");
	qmp = cp_json_get(json, "QMP");
	if (qmp) {
		if (!cp_json_is_object(qmp))
			return cp_error_set(err, CP_ERR_PROTOCOL, "QMP greeting is not an object");
		return classify_greeting(qmp, out, err);
	}
	if (cp_json_get(json, "event")) {
		out->event = cp_json_get_str(json, "event");
		if (!out->event || !*out->event)
			return cp_error_set(err, CP_ERR_PROTOCOL, "QMP event without a name");
		out->data = cp_json_get(json, "data");
		if (out->data && !cp_json_is_object(out->data))
			return cp_error_set(err, CP_ERR_PROTOCOL,
					    "QMP event %s: data is not an object", out->event);
		out->kind = QMP_MSG_EVENT;
		return 0;
	}
	if (cp_json_get(json, "return") || cp_json_get(json, "error"))
		return classify_reply(json, out, err);
	return cp_error_set(err, CP_ERR_PROTOCOL, "unrecognised QMP message");
}

/**
 * qmp_msg_kind_name() - name of a message kind, for traces
 * @kind:	enum qmp_msg_kind
 *
 * Return: static string
 */
const char *qmp_msg_kind_name(enum qmp_msg_kind kind)
{
	switch (kind) {
	case QMP_MSG_GREETING:
		return "greeting";
	case QMP_MSG_EVENT:
		return "event";
	case QMP_MSG_RETURN:
		return "return";
	case QMP_MSG_ERROR:
		return "error";
	}
	return "?";
}

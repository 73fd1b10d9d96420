/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz target: the QMP stream framer. The input is fed twice, once whole and
 * once in chunks whose sizes derive from the input itself, and every message
 * delivered is classified. Splitting must never break a valid stream: when
 * the whole feed succeeds, the chunked feed must succeed too, deliver the
 * same messages and leave the same partial message pending.
 *
 * The converse is not checked: json-c 0.16 accepts some invalid numbers when
 * a chunk boundary falls inside them ({"a":2-} split after the 2 parses as
 * {"a":2}), so a malformed stream may pass chunked and fail whole. Valid
 * numbers parse the same however they are split (tests/unit/test_qmp_stream).
 */
#include <stdlib.h>
#include <string.h>

#include "coldplug/cleanup.h"
#include "fuzz.h"
#include "fuzz_common.h"
#include "qmp_stream.h"

#define FUZZ_MAX_MESSAGE 16384
#define FUZZ_MAX_DEPTH	 16

/**
 * struct seen - the messages a feed delivered, serialised back to back
 * @text:	every message's compact JSON, each followed by '\n'
 * @len:	bytes used
 * @n:		message count
 */
struct seen {
	char *text;
	size_t len;
	size_t n;
};

/**
 * on_msg() - qmp_stream_msg_fn: record and classify one message
 * @msg:	the message
 * @userdata:	struct seen
 * @err:	unused (never fails)
 *
 * Return: 0
 */
static int on_msg(cp_json *msg, void *userdata, struct cp_error *err)
{
	struct seen *s = userdata;
	cleanup_free char *t = cp_json_dump(msg, 0);
	size_t tl = t ? strlen(t) : 0;
	char *n;

	(void)err;
	FUZZ_CHECK(cp_json_is_object(msg));
	fuzz_check_classified(msg);
	n = realloc(s->text, s->len + tl + 2);
	FUZZ_CHECK(n != NULL);
	s->text = n;
	memcpy(s->text + s->len, t ? t : "", tl);
	s->len += tl;
	s->text[s->len++] = '\n';
	s->text[s->len] = '\0';
	s->n++;
	return 0;
}

/**
 * feed() - feed @data to a new framer in chunks
 * @data:	bytes
 * @size:	count
 * @chunked:	false: one call; true: chunk sizes 1..16 taken from the data
 * @out:	messages delivered
 * @pending:	set to qmp_stream_pending() at the end
 *
 * Return: 0, or -1 if a feed failed
 */
static int feed(const uint8_t *data, size_t size, bool chunked, struct seen *out, size_t *pending)
{
	struct qmp_stream *s = qmp_stream_new(FUZZ_MAX_MESSAGE, FUZZ_MAX_DEPTH);
	struct cp_error err = { 0 };
	size_t off = 0, i = 0;
	int rc = 0;

	FUZZ_CHECK(s != NULL);
	while (off < size && rc == 0) {
		size_t n = chunked ? 1 + (size_t)(data[i++ % size] & 0x0f) : size;

		if (n > size - off)
			n = size - off;
		rc = qmp_stream_feed(s, (const char *)data + off, n, on_msg, out, &err);
		off += n;
	}
	if (rc < 0) {
		FUZZ_CHECK(err.code == CP_ERR_PROTOCOL && err.msg[0]);
		FUZZ_CHECK(qmp_stream_feed(s, "{}", 2, on_msg, out, &err) < 0);
	}
	*pending = qmp_stream_pending(s);
	qmp_stream_free(s);
	return rc;
}

/**
 * LLVMFuzzerTestOneInput() - one input
 * @data:	the bytes
 * @size:	their count
 *
 * Return: 0 (libFuzzer's convention)
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen whole = { 0 }, parts = { 0 };
	size_t pw = 0, pp = 0;
	int rw = feed(data, size, false, &whole, &pw);
	int rp = feed(data, size, true, &parts, &pp);

	if (rw == 0) {
		FUZZ_CHECK(rp == 0);
		FUZZ_CHECK(whole.n == parts.n && pw == pp);
		FUZZ_CHECK(whole.len == parts.len &&
			   (!whole.len || !memcmp(whole.text, parts.text, whole.len)));
	}
	free(whole.text);
	free(parts.text);
	return 0;
}

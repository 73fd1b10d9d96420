/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * QMP framing and message classification, apart from any socket so that the
 * fuzzers and unit tests drive them with plain bytes.
 *
 * Framing follows QEMU's own libqtest: an incremental JSON parser decides
 * where a message ends (QMP promises no newline discipline), with caps on
 * message size and nesting depth. Classification, after libvirt's monitor
 * client, sorts each message into greeting, event, or reply (return / error)
 * and extracts the fields the client needs, rejecting anything else.
 */
#ifndef COLDPLUG_QMP_STREAM_H
#define COLDPLUG_QMP_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coldplug/error.h"
#include "coldplug/json.h"

#define QMP_STREAM_DEFAULT_MAX_MESSAGE (8u << 20)
/* Estimated parse memory of one message: see qmp_stream_set_max_cost(). */
#define QMP_STREAM_DEFAULT_MAX_COST (64u << 20)

struct qmp_stream;

/*
 * Called for each complete message. @msg is borrowed for the duration of the
 * call (take a reference to keep it). A negative return stops feeding and is
 * returned by qmp_stream_feed() with @err as the callback filled it.
 */
typedef int (*qmp_stream_msg_fn)(cp_json *msg, void *userdata, struct cp_error *err);

struct qmp_stream *qmp_stream_new(size_t max_message, int max_depth);
void qmp_stream_free(struct qmp_stream *s);
int qmp_stream_feed(struct qmp_stream *s, const char *buf, size_t len, qmp_stream_msg_fn fn,
		    void *userdata, struct cp_error *err);
size_t qmp_stream_pending(const struct qmp_stream *s);
void qmp_stream_set_max_cost(struct qmp_stream *s, size_t max_cost);
size_t qmp_stream_last_cost(const struct qmp_stream *s);
size_t qmp_stream_scanned(const struct qmp_stream *s);

/**
 * enum qmp_msg_kind - what a message from QEMU is
 * @QMP_MSG_GREETING:	{"QMP": {"version": ..., "capabilities": [...]}}
 * @QMP_MSG_EVENT:	{"event": NAME, "data": {...}, "timestamp": {...}}
 * @QMP_MSG_RETURN:	{"return": VALUE, "id": ID}
 * @QMP_MSG_ERROR:	{"error": {"class": C, "desc": D}, "id": ID}
 */
enum qmp_msg_kind {
	QMP_MSG_GREETING,
	QMP_MSG_EVENT,
	QMP_MSG_RETURN,
	QMP_MSG_ERROR,
};

/**
 * struct qmp_msg - a classified message; every pointer borrows from @json
 * @kind:	enum qmp_msg_kind
 * @json:	the whole message
 * @has_id:	whether a reply carried an id we can match (a non-negative
 *		integer; coldplug only sends those)
 * @id:		that id
 * @event:	event name (QMP_MSG_EVENT)
 * @data:	event data (may be NULL), or the reply's return value
 * @err_class:	error class (QMP_MSG_ERROR)
 * @err_desc:	error description (QMP_MSG_ERROR)
 * @ver_major:	QEMU version (QMP_MSG_GREETING)
 * @ver_minor:	QEMU version
 * @ver_micro:	QEMU version
 * @package:	QEMU package string, "" if none (QMP_MSG_GREETING)
 * @caps:	capabilities array (QMP_MSG_GREETING)
 */
struct qmp_msg {
	enum qmp_msg_kind kind;
	cp_json *json;
	bool has_id;
	uint64_t id;
	const char *event;
	cp_json *data;
	const char *err_class;
	const char *err_desc;
	int ver_major;
	int ver_minor;
	int ver_micro;
	const char *package;
	cp_json *caps;
};

int qmp_msg_classify(cp_json *json, struct qmp_msg *out, struct cp_error *err);
const char *qmp_msg_kind_name(enum qmp_msg_kind kind);

#endif /* COLDPLUG_QMP_STREAM_H */

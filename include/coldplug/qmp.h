/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The QMP client every part of coldplug stands on.
 *
 * Modelled on libvirt's monitor client and QEMU's libqtest: every command
 * carries an id and its reply is matched by id; events that arrive meanwhile
 * are queued (bounded) and can be awaited with a predicate and a deadline;
 * descriptors travel with the command in one sendmsg(); framing uses an
 * incremental JSON parser with size and depth caps; and after end of stream,
 * an I/O or protocol error, or a command that got no reply in time, the error
 * is latched and every later call fails fast with it.
 *
 * The core is asynchronous (callbacks, driven by qmp_client_process() when
 * the socket is readable and qmp_client_expire() at deadlines) so a daemon
 * can serve many QEMUs from one event loop; the synchronous calls are the
 * same machinery driven by qmp_client_dispatch() until their answer is in.
 *
 * Callbacks must not free the client; they may send further commands.
 */
#ifndef COLDPLUG_QMP_H
#define COLDPLUG_QMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "coldplug/error.h"
#include "coldplug/json.h"

struct qmp_client;

/**
 * struct qmp_client_opts - tunables; start from qmp_client_opts_init()
 * @label:		name used in logs and error messages (default: the
 *			socket path, or "qmp")
 * @cmd_timeout_ms:	deadline of a command's reply (default 10000)
 * @max_message:	largest accepted message in bytes (default 8 MiB)
 * @max_depth:		deepest accepted nesting (default 64)
 * @max_events:		events kept for qmp_client_wait_event() (default 256;
 *			the oldest are dropped, and counted, beyond that)
 * @max_cost:		largest accepted memory to parse one message, as
 *			estimated before parsing (default 64 MiB): what json-c
 *			allocates grows up to 261 times a message's size
 * @max_event_bytes:	bound on that memory for the events kept, together
 *			(default 4 MiB; the oldest are dropped, and counted)
 * @max_output:		bytes of commands that may wait for QEMU to read them
 *			(default 1 MiB); a command beyond that fails the
 *			connection: QEMU is not reading
 * @trace:		log every message in and out at debug level; -1 (the
 *			default) takes it from $COLDPLUG_QMP_TRACE
 */
struct qmp_client_opts {
	const char *label;
	int cmd_timeout_ms;
	size_t max_message;
	int max_depth;
	size_t max_events;
	size_t max_cost;
	size_t max_event_bytes;
	size_t max_output;
	int trace;
};

/**
 * struct qmp_event_match - which event to wait for
 * @event:	event name, e.g. "DEVICE_DELETED"
 * @key:	member of the event's data to compare, or NULL for any event
 *		of that name
 * @value:	required string value of @key
 */
struct qmp_event_match {
	const char *event;
	const char *key;
	const char *value;
};

typedef void (*qmp_reply_fn)(struct qmp_client *c, cp_json *ret, const struct cp_error *err,
			     void *userdata);
typedef void (*qmp_event_fn)(struct qmp_client *c, cp_json *event, void *userdata);
typedef void (*qmp_await_fn)(struct qmp_client *c, cp_json *event, const struct cp_error *err,
			     void *userdata);
typedef void (*qmp_ready_fn)(struct qmp_client *c, const struct cp_error *err, void *userdata);
typedef void (*qmp_watch_fn)(struct qmp_client *c, const struct cp_error *err, void *userdata);

void qmp_client_opts_init(struct qmp_client_opts *o);
void qmp_client_opts_init_peer(struct qmp_client_opts *o);

struct qmp_client *qmp_client_connect(const char *path, int timeout_ms,
				      const struct qmp_client_opts *o, struct cp_error *err);
struct qmp_client *qmp_client_new(int fd, const struct qmp_client_opts *o, struct cp_error *err);
void qmp_client_free(struct qmp_client *c);
int qmp_client_handshake(struct qmp_client *c, int timeout_ms, struct cp_error *err);
int qmp_client_handshake_async(struct qmp_client *c, int timeout_ms, qmp_ready_fn fn,
			       void *userdata, struct cp_error *err);

int qmp_client_fd(const struct qmp_client *c);
const char *qmp_client_label(const struct qmp_client *c);
bool qmp_client_is_ready(const struct qmp_client *c);
void qmp_client_version(const struct qmp_client *c, int *major, int *minor, int *micro);
bool qmp_client_version_at_least(const struct qmp_client *c, int major, int minor, int micro);
const char *qmp_client_package(const struct qmp_client *c);
bool qmp_client_has_capability(const struct qmp_client *c, const char *cap);
pid_t qmp_client_peer_pid(const struct qmp_client *c);
uid_t qmp_client_peer_uid(const struct qmp_client *c);
const struct cp_error *qmp_client_error(const struct qmp_client *c);
uint64_t qmp_client_events_dropped(const struct qmp_client *c);

cp_json *qmp_client_call(struct qmp_client *c, const char *cmd, cp_json *args,
			 struct cp_error *err);
cp_json *qmp_client_call_fds(struct qmp_client *c, const char *cmd, cp_json *args, const int *fds,
			     size_t nfds, struct cp_error *err);
char *qmp_client_hmp(struct qmp_client *c, const char *cmdline, struct cp_error *err);
uint64_t qmp_client_event_mark(const struct qmp_client *c);
cp_json *qmp_client_wait_event(struct qmp_client *c, const struct qmp_event_match *m,
			       uint64_t since, int timeout_ms, struct cp_error *err);

int qmp_client_send(struct qmp_client *c, const char *cmd, cp_json *args, const int *fds,
		    size_t nfds, int timeout_ms, qmp_reply_fn fn, void *userdata,
		    struct cp_error *err);
int qmp_client_await_event(struct qmp_client *c, const struct qmp_event_match *m, uint64_t since,
			   int timeout_ms, qmp_await_fn fn, void *userdata, struct cp_error *err);
void qmp_client_set_event_handler(struct qmp_client *c, qmp_event_fn fn, void *userdata);
int qmp_client_process(struct qmp_client *c, struct cp_error *err);
bool qmp_client_wants_write(const struct qmp_client *c);
int qmp_client_flush(struct qmp_client *c, struct cp_error *err);
void qmp_client_expire(struct qmp_client *c);
void qmp_client_fail(struct qmp_client *c, const struct cp_error *e);
int64_t qmp_client_next_deadline(const struct qmp_client *c);
int qmp_client_dispatch(struct qmp_client *c, int max_wait_ms, struct cp_error *err);

int qmp_client_watch_fd(struct qmp_client *c, int fd, int timeout_ms, qmp_watch_fn fn,
			void *userdata, struct cp_error *err);
int qmp_client_watched_fd(const struct qmp_client *c, uint64_t *gen);
void qmp_client_watched_ready(struct qmp_client *c);

bool qmp_event_matches(const cp_json *event, const struct qmp_event_match *m);

#endif /* COLDPLUG_QMP_H */

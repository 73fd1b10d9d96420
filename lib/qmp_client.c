/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The asynchronous core of the QMP client: see coldplug/qmp.h. The
 * synchronous calls built on it are in qmp_sync.c.
 *
 * One connection, one state machine: GREETING (waiting for QEMU's hello),
 * NEGOTIATING (qmp_capabilities sent), READY, FAILED. Entering FAILED latches
 * the error, fails every pending command and event wait with it, and makes
 * every later call fail fast.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "coldplug/log.h"
#include "coldplug/qmp.h"
#include "coldplug/fdpass.h"
#include "qmp_outq.h"
#include "qmp_stream.h"
#include "util.h"

#define QMP_DEFAULT_CMD_TIMEOUT_MS 10000
#define QMP_DEFAULT_MAX_EVENTS	   256
#define QMP_READ_CHUNK		   65536
/* Reads per qmp_client_process() call: a peer that floods its socket gets
 * this much of the event loop's time (one chunk, about 600 events), then
 * the others get theirs. */
#define QMP_READ_BUDGET 1
/* A peer that has sent this many events in a row, with no reply between
 * them, is read in QMP_READ_CHUNK_FLOOD bytes a turn until it replies
 * again: QEMU's events are rare (a watched VM gets a reply every poll),
 * so only a flood reaches it, and a flood then costs the loop a sixteenth of
 * the time per turn (tests/security/test_hostile.c). */
#define QMP_FLOOD_EVENTS	    256
#define QMP_READ_CHUNK_FLOOD	    4096
#define QMP_DEFAULT_MAX_OUTPUT	    (1u << 20)
#define QMP_DEFAULT_MAX_EVENT_BYTES (4u << 20)
/* qmp_client_opts_init_peer() */
#define QMP_PEER_MAX_MESSAGE	 (256u << 10)
#define QMP_PEER_MAX_COST	 (2u << 20)
#define QMP_PEER_MAX_EVENTS	 64
#define QMP_PEER_MAX_EVENT_BYTES (128u << 10)
#define QMP_PEER_MAX_OUTPUT	 (256u << 10)
#define QMP_NAME_MAX		 128

enum qmp_state {
	QMP_STATE_GREETING,
	QMP_STATE_NEGOTIATING,
	QMP_STATE_READY,
	QMP_STATE_FAILED,
};

/* A command whose reply has not arrived yet. */
struct qmp_pending {
	uint64_t id;
	char cmd[64];
	int64_t deadline;
	int timeout_ms;
	qmp_reply_fn fn;
	void *userdata;
};

/* An asynchronous wait for an event. */
struct qmp_waiter {
	char event[QMP_NAME_MAX];
	char key[QMP_NAME_MAX];
	char value[QMP_NAME_MAX];
	bool has_key;
	uint64_t since;
	int64_t deadline;
	int timeout_ms;
	qmp_await_fn fn;
	void *userdata;
};

struct qmp_client {
	int fd;
	char label[256];
	struct qmp_client_opts opts;
	bool trace;
	enum qmp_state state;
	struct cp_error latched;
	struct qmp_stream *stream;
	struct qmp_outq *out;
	struct fdpass_cred peer;

	int ver_major, ver_minor, ver_micro;
	char package[128];
	cp_json *caps;

	int64_t handshake_deadline;
	qmp_ready_fn ready_fn;
	void *ready_userdata;

	uint64_t next_id;
	struct qmp_pending *pending;
	size_t npending, cap_pending;

	struct qmp_waiter *waiters;
	size_t nwaiters, cap_waiters;

	cp_json **events;
	size_t *event_cost;
	size_t event_bytes;
	uint64_t last_seq;
	uint64_t dropped;
	unsigned events_in_a_row;
	qmp_event_fn event_fn;
	void *event_userdata;

	int watch_fd;
	uint64_t watch_gen;
	int64_t watch_deadline;
	int watch_timeout_ms;
	qmp_watch_fn watch_fn;
	void *watch_userdata;
};

static void client_latch(struct qmp_client *c, const struct cp_error *e);

/**
 * qmp_client_opts_init() - fill @o with the defaults
 * @o:	options to initialise
 */
void qmp_client_opts_init(struct qmp_client_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->cmd_timeout_ms = QMP_DEFAULT_CMD_TIMEOUT_MS;
	o->max_message = QMP_STREAM_DEFAULT_MAX_MESSAGE;
	o->max_depth = CP_JSON_MAX_DEPTH;
	o->max_events = QMP_DEFAULT_MAX_EVENTS;
	o->max_output = QMP_DEFAULT_MAX_OUTPUT;
	o->max_event_bytes = QMP_DEFAULT_MAX_EVENT_BYTES;
	o->trace = -1;
}

/**
 * qmp_client_opts_init_peer() - the defaults, tightened for a peer the
 * caller does not trust (the daemon's connections from QEMU): every bound
 * still leaves room for the largest message recorded from real QEMU and
 * Incus (4.3 KB: query-block of 8 disks) many times over, and one
 * connection costs at most about 2.5 MiB however it behaves
 * @o:	options to initialise
 */
void qmp_client_opts_init_peer(struct qmp_client_opts *o)
{
	qmp_client_opts_init(o);
	o->max_message = QMP_PEER_MAX_MESSAGE;
	o->max_cost = QMP_PEER_MAX_COST;
	o->max_events = QMP_PEER_MAX_EVENTS;
	o->max_event_bytes = QMP_PEER_MAX_EVENT_BYTES;
	o->max_output = QMP_PEER_MAX_OUTPUT;
}

/**
 * trace_from_env() - whether $COLDPLUG_QMP_TRACE asks for a trace
 *
 * Return: true if it is set to anything but "" or "0"
 */
static bool trace_from_env(void)
{
	const char *v = getenv("COLDPLUG_QMP_TRACE");

	return v && *v && strcmp(v, "0") != 0;
}

/**
 * qmp_client_new() - wrap a connected stream socket to a QMP monitor
 * @fd:		the socket; owned by the client from now on, even on failure
 * @o:		options, or NULL for the defaults
 * @err:	filled on failure
 *
 * The handshake is not done yet: call qmp_client_handshake() or
 * qmp_client_handshake_async().
 *
 * Return: new client (free with qmp_client_free()), or NULL
 */
struct qmp_client *qmp_client_new(int fd, const struct qmp_client_opts *o, struct cp_error *err)
{
	struct qmp_client *c;
	int fl;

	c = cp_calloc(1, sizeof(*c), err);
	if (!c) {
		close(fd);
		return NULL;
	}
	c->fd = fd;
	if (o)
		c->opts = *o;
	else
		qmp_client_opts_init(&c->opts);
	if (c->opts.cmd_timeout_ms <= 0)
		c->opts.cmd_timeout_ms = QMP_DEFAULT_CMD_TIMEOUT_MS;
	if (!c->opts.max_events)
		c->opts.max_events = QMP_DEFAULT_MAX_EVENTS;
	if (!c->opts.max_output)
		c->opts.max_output = QMP_DEFAULT_MAX_OUTPUT;
	if (!c->opts.max_event_bytes)
		c->opts.max_event_bytes = QMP_DEFAULT_MAX_EVENT_BYTES;
	cp_strlcpy(c->label, c->opts.label ? c->opts.label : "qmp", sizeof(c->label));
	c->opts.label = NULL;
	c->trace = c->opts.trace < 0 ? trace_from_env() : c->opts.trace > 0;
	c->handshake_deadline = -1;
	c->watch_fd = -1;
	c->next_id = 1;
	c->stream = qmp_stream_new(c->opts.max_message, c->opts.max_depth);
	c->events = calloc(c->opts.max_events, sizeof(*c->events));
	c->event_cost = calloc(c->opts.max_events, sizeof(*c->event_cost));
	c->out = qmp_outq_new(c->opts.max_output);
	fl = fcntl(fd, F_GETFL);
	if (!c->stream || !c->events || !c->event_cost || !c->out || fl < 0 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		cp_error_set(err, CP_ERR_SYSTEM, "%s: cannot set up the QMP client", c->label);
		qmp_client_free(c);
		return NULL;
	}
	qmp_stream_set_max_cost(c->stream, c->opts.max_cost);
	if (fdpass_peer_cred(fd, &c->peer, NULL) < 0)
		c->peer.pid = 0;
	return c;
}

/**
 * qmp_client_free() - close the connection and free the client
 * @c:	client, may be NULL
 *
 * Pending callbacks are not called, unless an fd watch is pending: then
 * the client fails first (as qmp_client_fail()), so that the watch's owner
 * ends what it waits for (a helper process is killed and reaped).
 */
void qmp_client_free(struct qmp_client *c)
{
	struct cp_error e;
	size_t i;

	if (!c)
		return;
	if (c->watch_fn) {
		cp_error_set(&e, CP_ERR_EOF, "the client was freed");
		client_latch(c, &e);
	}
	if (c->fd >= 0)
		close(c->fd);
	qmp_stream_free(c->stream);
	qmp_outq_free(c->out);
	cp_json_unref(c->caps);
	for (i = 0; c->events && i < c->opts.max_events; i++)
		cp_json_unref(c->events[i]);
	free(c->events);
	free(c->event_cost);
	free(c->pending);
	free(c->waiters);
	free(c);
}

/**
 * connect_once() - one attempt to connect to a unix socket
 * @path:	socket path
 * @fd:		set to the connected socket on success
 * @err:	filled on failure
 *
 * Return: 0; 1 if the socket is not there or not listening yet (retry);
 * or -1 on any other failure
 */
static int connect_once(const char *path, int *fd, struct cp_error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	cleanup_close int s = -1;

	if (strlen(path) >= sizeof(sa.sun_path))
		return cp_error_set(err, CP_ERR_INVALID,
				    "QMP socket path is too long (%zu bytes, at most %zu): %s",
				    strlen(path), sizeof(sa.sun_path) - 1, path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return cp_error_set_errno(err, errno, "socket");
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		*fd = steal_fd(&s);
		return 0;
	}
	if (errno == ENOENT || errno == ECONNREFUSED)
		return 1;
	return cp_error_set_errno(err, errno, "connect to %s", path);
}

/**
 * qmp_client_connect() - connect to a QMP socket and do the handshake
 * @path:	unix socket QEMU listens on (-qmp unix:PATH,server=on)
 * @timeout_ms:	deadline for the whole operation; retries only while the
 *		socket does not exist yet or refuses connections
 * @o:		options, or NULL for the defaults
 * @err:	filled on failure
 *
 * Return: ready client, or NULL
 */
struct qmp_client *qmp_client_connect(const char *path, int timeout_ms,
				      const struct qmp_client_opts *o, struct cp_error *err)
{
	int64_t deadline = cp_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	struct qmp_client_opts opts;
	struct qmp_client *c;
	int fd = -1, rc;

	while ((rc = connect_once(path, &fd, err)) == 1) {
		if (cp_now_ms() >= deadline)
			return cp_error_set(err, CP_ERR_TIMEOUT,
					    "no QMP socket at %s within %d ms (is QEMU running "
					    "with -qmp unix:%s,server=on?)",
					    path, timeout_ms, path),
			       NULL;
		poll(NULL, 0, 20);
	}
	if (rc < 0)
		return NULL;
	if (o)
		opts = *o;
	else
		qmp_client_opts_init(&opts);
	if (!opts.label)
		opts.label = path;
	c = qmp_client_new(fd, &opts, err);
	if (!c)
		return NULL;
	if (qmp_client_handshake(c, cp_deadline_left(deadline), err) < 0) {
		qmp_client_free(c);
		return NULL;
	}
	return c;
}

/**
 * trace_msg() - log one message in or out when tracing
 * @c:		client
 * @dir:	">" for sent, "<" for received
 * @text:	the message
 * @fds:	descriptors sent with it, or NULL
 * @nfds:	their count
 */
static void trace_msg(const struct qmp_client *c, const char *dir, const char *text, const int *fds,
		      size_t nfds)
{
	char fdnote[128] = "";
	size_t i, off = 0;

	if (!c->trace)
		return;
	for (i = 0; i < nfds && off < sizeof(fdnote) - 16; i++)
		off += (size_t)snprintf(fdnote + off, sizeof(fdnote) - off, "%s%d",
					i ? "," : " [+fd ", fds[i]);
	if (nfds && off < sizeof(fdnote) - 1)
		cp_strlcpy(fdnote + off, "]", sizeof(fdnote) - off);
	cp_log(CP_LOG_DEBUG, "qmp %s %s %s%s", c->label, dir, text, fdnote);
}

/**
 * watch_end() - end the fd watch, if there is one: its callback gets @e
 * @c:	client
 * @e:	NULL when the descriptor is readable, else why the watch ended
 */
static void watch_end(struct qmp_client *c, const struct cp_error *e)
{
	qmp_watch_fn fn = c->watch_fn;

	if (!fn)
		return;
	c->watch_fn = NULL;
	c->watch_fd = -1;
	fn(c, e, c->watch_userdata);
}

/**
 * fail_callbacks() - fail every pending command and event wait with @e
 * @c:	client
 * @e:	the latched error
 *
 * The lists are detached first, so callbacks may safely call back in.
 */
static void fail_callbacks(struct qmp_client *c, const struct cp_error *e)
{
	struct qmp_pending *pend = c->pending;
	struct qmp_waiter *wait = c->waiters;
	size_t np = c->npending, nw = c->nwaiters, i;
	struct cp_error ce;

	c->pending = NULL;
	c->waiters = NULL;
	c->npending = c->cap_pending = 0;
	c->nwaiters = c->cap_waiters = 0;
	for (i = 0; i < np; i++) {
		cp_error_copy(&ce, e);
		cp_error_prefix(&ce, "%s", pend[i].cmd);
		cp_error_set_qmp(&ce, pend[i].cmd, NULL);
		pend[i].fn(c, NULL, &ce, pend[i].userdata);
	}
	for (i = 0; i < nw; i++)
		wait[i].fn(c, NULL, e, wait[i].userdata);
	free(pend);
	free(wait);
	watch_end(c, e);
}

/**
 * client_latch() - enter FAILED with the error in @e; fail everything waiting
 * @c:	client
 * @e:	the error (copied); its message is prefixed with the client's label
 */
static void client_latch(struct qmp_client *c, const struct cp_error *e)
{
	qmp_ready_fn ready = c->ready_fn;

	if (c->state == QMP_STATE_FAILED)
		return;
	c->state = QMP_STATE_FAILED;
	cp_error_copy(&c->latched, e);
	cp_error_prefix(&c->latched, "QMP %s", c->label);
	cp_log_debug("qmp %s: failed: %s", c->label, c->latched.msg);
	c->ready_fn = NULL;
	if (c->out)
		qmp_outq_clear(c->out);
	fail_callbacks(c, &c->latched);
	if (ready)
		ready(c, &c->latched, c->ready_userdata);
}

/**
 * latched_error() - fail a call fast with the latched error
 * @c:		client in FAILED state
 * @cmd:	what was attempted, for the message
 * @err:	filled
 *
 * Return: -1
 */
static int latched_error(const struct qmp_client *c, const char *cmd, struct cp_error *err)
{
	cp_error_copy(err, &c->latched);
	cp_error_prefix(err, "%s", cmd);
	cp_error_set_qmp(err, cmd, NULL);
	return -1;
}

/**
 * peer_gone() - report a write or read error caused by QEMU closing as EOF
 * @e:	error from fdpass_send() / fdpass_recv()
 *
 * A unix socket closed by QEMU fails a write with EPIPE, and a read with
 * ECONNRESET when QEMU closed with our last command still unread (it quit or
 * crashed meanwhile). Both mean "QEMU closed the connection": callers that
 * test for CP_ERR_EOF must see them as such, not as a system error.
 *
 * Return: -1
 */
static int peer_gone(struct cp_error *e)
{
	if (e && e->code == CP_ERR_SYSTEM && (e->sys_errno == EPIPE || e->sys_errno == ECONNRESET))
		cp_error_set(e, CP_ERR_EOF, "QEMU closed the connection (%s)",
			     e->sys_errno == EPIPE ? "on a write" : "with our command unread");
	return -1;
}

/**
 * flush_out() - write what the socket takes now; latch the client if the
 * peer is gone
 * @c:	client
 */
static void flush_out(struct qmp_client *c)
{
	struct cp_error e;

	if (c->state != QMP_STATE_FAILED && qmp_outq_flush(c->out, c->fd, &e) < 0) {
		peer_gone(&e);
		client_latch(c, &e);
	}
}

/**
 * reserve_pending() - room for one more command whose reply is awaited, so
 * that remembering it after it was queued cannot fail
 * @c:		client
 * @err:	filled on failure
 *
 * Return: 0, or -1 when out of memory
 */
static int reserve_pending(struct qmp_client *c, struct cp_error *err)
{
	size_t cap = c->cap_pending ? c->cap_pending * 2 : 8;
	struct qmp_pending *n;

	if (c->npending < c->cap_pending)
		return 0;
	n = realloc(c->pending, cap * sizeof(*n));
	if (!n)
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory");
	c->pending = n;
	c->cap_pending = cap;
	return 0;
}

/**
 * build_command() - serialise {"execute": cmd, "arguments": args, "id": id}
 * @cmd:	command name
 * @args:	arguments, stolen; NULL for none
 * @id:		the id
 *
 * Key order follows Incus (execute, arguments, id), so transcripts compare.
 *
 * Return: new string (caller frees), or NULL when out of memory
 */
static char *build_command(const char *cmd, cp_json *args, uint64_t id)
{
	cleanup_json cp_json *msg = cp_json_new_object();

	if (!msg || cp_json_set_str(msg, "execute", cmd) < 0) {
		cp_json_unref(args);
		return NULL;
	}
	if (args && cp_json_set(msg, "arguments", args) < 0)
		return NULL;
	if (cp_json_set_int(msg, "id", (int64_t)id) < 0)
		return NULL;
	return cp_json_dump(msg, 0);
}

/**
 * send_command() - send a command and register its reply callback
 * @c:		client
 * @cmd:	command name
 * @args:	arguments, stolen (dropped on failure too); NULL for none
 * @fds:	descriptors to pass with it, or NULL; the caller keeps its own
 * @nfds:	their count
 * @timeout_ms:	reply deadline; <= 0 for the client's default
 * @fn:		called exactly once with the reply or an error
 * @userdata:	passed to @fn
 * @err:	filled on failure (then @fn is never called)
 *
 * Return: 0, or -1
 */
static int send_command(struct qmp_client *c, const char *cmd, cp_json *args, const int *fds,
			size_t nfds, int timeout_ms, qmp_reply_fn fn, void *userdata,
			struct cp_error *err)
{
	struct qmp_pending p = { .fn = fn, .userdata = userdata };
	struct cp_error we;
	char *text;

	if (strlen(cmd) >= sizeof(p.cmd)) {
		cp_json_unref(args);
		return cp_error_set(err, CP_ERR_INVALID, "QMP command name too long: %s", cmd);
	}
	cp_strlcpy(p.cmd, cmd, sizeof(p.cmd));
	p.id = c->next_id++;
	p.timeout_ms = timeout_ms > 0 ? timeout_ms : c->opts.cmd_timeout_ms;
	p.deadline = cp_now_ms() + p.timeout_ms;
	if (reserve_pending(c, err) < 0) {
		cp_json_unref(args);
		return -1;
	}
	text = build_command(cmd, args, p.id);
	if (!text)
		return cp_error_set(err, CP_ERR_NOMEM, "%s: out of memory", cmd);
	trace_msg(c, ">", text, fds, nfds);
	if (qmp_outq_push(c->out, text, fds, nfds, &we) < 0) {
		if (we.code != CP_ERR_PROTOCOL) {
			cp_error_copy(err, &we);
			cp_error_prefix(err, "%s", cmd);
			return -1;
		}
		client_latch(c, &we);
		return latched_error(c, cmd, err);
	}
	flush_out(c);
	if (c->state == QMP_STATE_FAILED)
		return latched_error(c, cmd, err);
	c->pending[c->npending++] = p;
	return 0;
}

/**
 * qmp_client_send() - send a command; its reply arrives through @fn
 * @c:		client, ready
 * @cmd:	command name, e.g. "device_del"
 * @args:	arguments object, stolen (also on failure); NULL for none
 * @fds:	descriptors to pass in the same sendmsg() (getfd, add-fd), or
 *		NULL; the caller keeps its own and may close them on return
 * @nfds:	their count
 * @timeout_ms:	reply deadline; <= 0 for the client's default. No reply by
 *		then latches the client: the stream is out of step.
 * @fn:		called once, with the "return" value (borrowed) or an error
 *		that names @cmd and carries QEMU's class and description
 * @userdata:	passed to @fn
 * @err:	filled on failure, when @fn will not be called
 *
 * Return: 0, or -1
 */
int qmp_client_send(struct qmp_client *c, const char *cmd, cp_json *args, const int *fds,
		    size_t nfds, int timeout_ms, qmp_reply_fn fn, void *userdata,
		    struct cp_error *err)
{
	if (c->state != QMP_STATE_READY) {
		cp_json_unref(args);
		if (c->state == QMP_STATE_FAILED)
			return latched_error(c, cmd, err);
		cp_error_set(err, CP_ERR_INVALID, "%s: QMP %s: handshake not done", cmd, c->label);
		cp_error_set_qmp(err, cmd, NULL);
		return -1;
	}
	return send_command(c, cmd, args, fds, nfds, timeout_ms, fn, userdata, err);
}

/**
 * capabilities_done() - reply to qmp_capabilities: the handshake is over
 * @c:		client
 * @ret:	reply value
 * @e:		error, or NULL
 * @userdata:	unused
 */
static void capabilities_done(struct qmp_client *c, cp_json *ret, const struct cp_error *e,
			      void *userdata)
{
	qmp_ready_fn ready = c->ready_fn;
	struct cp_error le;

	(void)ret;
	(void)userdata;
	if (c->state == QMP_STATE_FAILED)
		return;
	if (e) {
		cp_error_copy(&le, e);
		client_latch(c, &le);
		return;
	}
	c->state = QMP_STATE_READY;
	c->handshake_deadline = -1;
	c->ready_fn = NULL;
	cp_log_debug("qmp %s: ready, QEMU %d.%d.%d %s", c->label, c->ver_major, c->ver_minor,
		     c->ver_micro, c->package);
	if (ready)
		ready(c, NULL, c->ready_userdata);
}

/**
 * on_greeting() - record QEMU's greeting and negotiate capabilities
 * @c:		client
 * @m:		the greeting
 * @err:	filled on failure
 *
 * Return: 0, or -1 (the client is then latched by the caller)
 */
static int on_greeting(struct qmp_client *c, const struct qmp_msg *m, struct cp_error *err)
{
	int left;

	if (c->state != QMP_STATE_GREETING)
		return cp_error_set(err, CP_ERR_PROTOCOL, "unexpected second QMP greeting");
	c->ver_major = m->ver_major;
	c->ver_minor = m->ver_minor;
	c->ver_micro = m->ver_micro;
	cp_strlcpy(c->package, m->package, sizeof(c->package));
	c->caps = cp_json_ref(m->caps);
	c->state = QMP_STATE_NEGOTIATING;
	/* The handshake's deadline covers the negotiation too (0 ms left must
	 * not mean the default timeout). */
	left = cp_deadline_left(c->handshake_deadline);
	return send_command(c, "qmp_capabilities", NULL, NULL, 0, left == 0 ? 1 : left,
			    capabilities_done, NULL, err);
}

/**
 * waiter_match() - whether a waiter is satisfied by event @ev
 * @w:		waiter
 * @ev:		event message
 * @seq:	its sequence number
 *
 * Return: true if it matches and is recent enough
 */
static bool waiter_match(const struct qmp_waiter *w, const cp_json *ev, uint64_t seq)
{
	struct qmp_event_match m = {
		.event = w->event,
		.key = w->has_key ? w->key : NULL,
		.value = w->value,
	};

	return seq > w->since && qmp_event_matches(ev, &m);
}

/**
 * take_waiter() - remove waiter @i, returning it by value
 * @c:	client
 * @i:	index
 *
 * Return: the removed waiter
 */
static struct qmp_waiter take_waiter(struct qmp_client *c, size_t i)
{
	struct qmp_waiter w = c->waiters[i];

	memmove(&c->waiters[i], &c->waiters[i + 1], (c->nwaiters - i - 1) * sizeof(w));
	c->nwaiters--;
	return w;
}

/**
 * forget_event() - drop the retained event of sequence number @seq, if any
 * @c:		client
 * @seq:	its sequence number
 */
static void forget_event(struct qmp_client *c, uint64_t seq)
{
	size_t slot = seq % c->opts.max_events;

	if (!c->events[slot])
		return;
	c->dropped++;
	cp_json_unref(c->events[slot]);
	c->events[slot] = NULL;
	c->event_bytes -= c->event_cost[slot];
	c->event_cost[slot] = 0;
}

/**
 * retain_event() - keep @ev for later waits, within the count and byte
 * bounds: the oldest go first, and an event larger than the byte bound on
 * its own is not kept
 * @c:		client
 * @ev:		the event (a reference is taken)
 * @cost:	its parse cost (qmp_stream_last_cost())
 */
static void retain_event(struct qmp_client *c, cp_json *ev, size_t cost)
{
	size_t slot = c->last_seq % c->opts.max_events;
	uint64_t seq = c->last_seq >= c->opts.max_events ? c->last_seq - c->opts.max_events : 0;

	forget_event(c, c->last_seq);
	for (; seq < c->last_seq && c->event_bytes > c->opts.max_event_bytes - cost; seq++)
		forget_event(c, seq);
	if (cost > c->opts.max_event_bytes) {
		c->dropped++;
		return;
	}
	c->events[slot] = cp_json_ref(ev);
	c->event_cost[slot] = cost;
	c->event_bytes += cost;
}

/**
 * on_event() - queue an event, hand it to the handler and to waiters
 * @c:	client
 * @ev:	the event message (borrowed)
 */
static void on_event(struct qmp_client *c, cp_json *ev)
{
	size_t i;

	c->last_seq++;
	retain_event(c, ev, qmp_stream_last_cost(c->stream));
	if (c->event_fn)
		c->event_fn(c, ev, c->event_userdata);
	for (i = 0; i < c->nwaiters;) {
		struct qmp_waiter w;

		if (!waiter_match(&c->waiters[i], ev, c->last_seq)) {
			i++;
			continue;
		}
		w = take_waiter(c, i);
		w.fn(c, ev, NULL, w.userdata);
		if (c->state == QMP_STATE_FAILED)
			return;
	}
}

/**
 * on_reply() - hand a reply to the command it answers
 * @c:		client
 * @m:		classified reply
 * @err:	filled on failure
 *
 * Return: 0, or -1 for a reply no pending command owns (protocol error)
 */
static int on_reply(struct qmp_client *c, const struct qmp_msg *m, struct cp_error *err)
{
	struct qmp_pending p;
	struct cp_error qe;
	size_t i;

	for (i = 0; m->has_id && i < c->npending; i++)
		if (c->pending[i].id == m->id)
			break;
	if (!m->has_id || i == c->npending)
		return cp_error_set(err, CP_ERR_PROTOCOL,
				    "reply with an unknown id (no command with it is pending)");
	p = c->pending[i];
	memmove(&c->pending[i], &c->pending[i + 1], (c->npending - i - 1) * sizeof(p));
	c->npending--;
	if (m->kind == QMP_MSG_RETURN) {
		p.fn(c, m->data, NULL, p.userdata);
		return 0;
	}
	cp_error_set(&qe, CP_ERR_QMP, "%s: %s", p.cmd, m->err_desc);
	cp_error_set_qmp(&qe, p.cmd, m->err_class);
	p.fn(c, NULL, &qe, p.userdata);
	return 0;
}

/**
 * on_message() - qmp_stream callback: classify and dispatch one message
 * @msg:	the message (borrowed)
 * @userdata:	the client
 * @err:	filled on failure
 *
 * Return: 0, or -1 on a protocol error
 */
static int on_message(cp_json *msg, void *userdata, struct cp_error *err)
{
	struct qmp_client *c = userdata;
	struct qmp_msg m;

	if (c->trace) {
		cleanup_free char *text = cp_json_dump(msg, 0);

		trace_msg(c, "<", text ? text : "(out of memory)", NULL, 0);
	}
	if (qmp_msg_classify(msg, &m, err) < 0)
		return -1;
	if (c->state == QMP_STATE_GREETING && m.kind != QMP_MSG_GREETING)
		return cp_error_set(err, CP_ERR_PROTOCOL, "expected the QMP greeting, got a %s",
				    qmp_msg_kind_name(m.kind));
	switch (m.kind) {
	case QMP_MSG_GREETING:
		return on_greeting(c, &m, err);
	case QMP_MSG_EVENT:
		if (c->events_in_a_row < QMP_FLOOD_EVENTS)
			c->events_in_a_row++;
		on_event(c, msg);
		return 0;
	case QMP_MSG_RETURN:
	case QMP_MSG_ERROR:
		c->events_in_a_row = 0;
		return on_reply(c, &m, err);
	}
	return 0;
}

/**
 * qmp_client_process() - read what the socket holds and dispatch it
 * @c:		client
 * @err:	filled if the client is (or becomes) failed
 *
 * Call when the socket is readable. Never blocks, and reads at most
 * QMP_READ_BUDGET chunks: a peer that floods its socket leaves the rest for
 * the next call (the socket stays readable). The chunk is smaller while the
 * peer floods events (QMP_FLOOD_EVENTS).
 *
 * Return: 0, or -1 with the latched error
 */
int qmp_client_process(struct qmp_client *c, struct cp_error *err)
{
	char buf[QMP_READ_CHUNK];
	struct cp_error e;
	int reads;

	for (reads = 0; c->state != QMP_STATE_FAILED && reads < QMP_READ_BUDGET; reads++) {
		size_t want = c->events_in_a_row >= QMP_FLOOD_EVENTS ? QMP_READ_CHUNK_FLOOD
								     : sizeof(buf);
		long n = fdpass_recv(c->fd, buf, want, NULL, NULL, &e);

		if (n == -2)
			return 0;
		if (n == -1)
			peer_gone(&e);
		if (n == 0 && qmp_stream_pending(c->stream))
			cp_error_set(&e, CP_ERR_EOF,
				     "QEMU closed the connection in the middle of a message "
				     "(%zu bytes received)",
				     qmp_stream_pending(c->stream));
		else if (n == 0)
			cp_error_set(&e, CP_ERR_EOF, "QEMU closed the connection");
		if (n <= 0 || qmp_stream_feed(c->stream, buf, (size_t)n, on_message, c, &e) < 0)
			client_latch(c, &e);
	}
	if (c->state != QMP_STATE_FAILED)
		return 0;
	return latched_error(c, "read", err);
}

/**
 * expire_pending() - latch the client if a command's reply is overdue
 * @c:		client
 * @now:	cp_now_ms()
 */
static void expire_pending(struct qmp_client *c, int64_t now)
{
	struct cp_error e;
	size_t i;

	for (i = 0; i < c->npending; i++) {
		if (c->pending[i].deadline > now)
			continue;
		cp_error_set(&e, CP_ERR_TIMEOUT, "no reply to %s within %d ms", c->pending[i].cmd,
			     c->pending[i].timeout_ms);
		client_latch(c, &e);
		return;
	}
}

/**
 * qmp_client_expire() - act on every deadline that has passed
 * @c:	client
 *
 * An overdue reply or handshake latches the client; an overdue event wait
 * only fails that wait (CP_ERR_TIMEOUT).
 */
void qmp_client_expire(struct qmp_client *c)
{
	int64_t now = cp_now_ms();
	struct cp_error e;
	size_t i;

	if (c->state == QMP_STATE_FAILED)
		return;
	if (c->handshake_deadline >= 0 && c->handshake_deadline <= now &&
	    c->state == QMP_STATE_GREETING) {
		cp_error_set(&e, CP_ERR_TIMEOUT,
			     "no QMP greeting in time (a QMP socket serves one client at a "
			     "time: is another client connected?)");
		client_latch(c, &e);
		return;
	}
	expire_pending(c, now);
	for (i = 0; i < c->nwaiters && c->state != QMP_STATE_FAILED;) {
		struct qmp_waiter w;

		if (c->waiters[i].deadline > now) {
			i++;
			continue;
		}
		w = take_waiter(c, i);
		cp_error_set(&e, CP_ERR_TIMEOUT, "no %s event%s%s%s%s within %d ms", w.event,
			     w.has_key ? " with " : "", w.has_key ? w.key : "",
			     w.has_key ? "=" : "", w.has_key ? w.value : "", w.timeout_ms);
		w.fn(c, NULL, &e, w.userdata);
	}
	if (c->watch_fn && c->watch_deadline <= now && c->state != QMP_STATE_FAILED) {
		cp_error_set(&e, CP_ERR_TIMEOUT, "not ready within %d ms", c->watch_timeout_ms);
		watch_end(c, &e);
	}
}

/**
 * qmp_client_fail() - give up on the connection, as if it had failed
 * @c:	client
 * @e:	why: its code and message are latched
 *
 * For a deadline the caller keeps itself (coldplug serve closes a
 * connection that does not say which VM it is in time): every pending
 * reply, event wait and handshake callback gets @e, and every later call
 * fails fast with it. A client that has failed already keeps its first
 * error. The socket stays open until qmp_client_free().
 */
void qmp_client_fail(struct qmp_client *c, const struct cp_error *e)
{
	client_latch(c, e);
}

/**
 * qmp_client_next_deadline() - the earliest deadline the client waits for
 * @c:	client
 *
 * Return: cp_now_ms() time, or -1 if nothing is waiting
 */
int64_t qmp_client_next_deadline(const struct qmp_client *c)
{
	int64_t d = -1;
	size_t i;

	if (c->state == QMP_STATE_FAILED)
		return -1;
	if (c->state == QMP_STATE_GREETING)
		d = c->handshake_deadline;
	for (i = 0; i < c->npending; i++)
		if (d < 0 || c->pending[i].deadline < d)
			d = c->pending[i].deadline;
	for (i = 0; i < c->nwaiters; i++)
		if (d < 0 || c->waiters[i].deadline < d)
			d = c->waiters[i].deadline;
	if (c->watch_fn && (d < 0 || c->watch_deadline < d))
		d = c->watch_deadline;
	return d;
}

/**
 * qmp_client_dispatch() - wait for input or a deadline, then dispatch
 * @c:			client
 * @max_wait_ms:	longest wait, or -1 for "until the next deadline"
 * @err:		filled if the client is (or becomes) failed
 *
 * Return: 0, or -1 with the latched error
 */
int qmp_client_dispatch(struct qmp_client *c, int max_wait_ms, struct cp_error *err)
{
	struct pollfd pfd[2] = { { .fd = c->fd, .events = POLLIN },
				 { .fd = c->watch_fd, .events = POLLIN } };
	int wait = cp_deadline_left(qmp_client_next_deadline(c));

	if (c->state == QMP_STATE_FAILED)
		return latched_error(c, "dispatch", err);
	if (max_wait_ms >= 0 && (wait < 0 || max_wait_ms < wait))
		wait = max_wait_ms;
	if (qmp_client_wants_write(c))
		pfd[0].events |= POLLOUT;
	if (poll(pfd, c->watch_fn ? 2 : 1, wait) > 0) {
		if (pfd[0].revents & POLLOUT)
			flush_out(c);
		if ((pfd[0].revents & ~POLLOUT) && qmp_client_process(c, err) < 0)
			return -1;
		if (pfd[1].revents)
			qmp_client_watched_ready(c);
	}
	qmp_client_expire(c);
	if (c->state == QMP_STATE_FAILED)
		return latched_error(c, "dispatch", err);
	return 0;
}

/**
 * qmp_client_watch_fd() - wait for @fd to be readable, on the client's loop
 * @c:		client
 * @fd:		descriptor (borrowed: the caller keeps it open until @fn,
 *		and closes it then: an event loop that added it to an epoll
 *		set relies on that to drop it there)
 * @timeout_ms:	deadline
 * @fn:		called once: with NULL when @fd is readable, CP_ERR_TIMEOUT
 *		at the deadline, or the client's error when it fails (or is
 *		freed)
 * @userdata:	for @fn
 * @err:	filled on failure
 *
 * For work a pipeline hands to another process (the tap helper): the
 * client is the one loop every stage of a VM runs on, so qmp_client_dispatch()
 * polls @fd too, and an event loop that serves many clients watches
 * qmp_client_watched_fd() and calls qmp_client_watched_ready(). One watch
 * at a time; it does not count as a command (the client is not failed at
 * its deadline).
 *
 * Return: 0, or -1 (the client failed, or a watch is pending already)
 */
int qmp_client_watch_fd(struct qmp_client *c, int fd, int timeout_ms, qmp_watch_fn fn,
			void *userdata, struct cp_error *err)
{
	if (c->state == QMP_STATE_FAILED)
		return latched_error(c, "watch", err);
	if (c->watch_fn)
		return cp_error_set(err, CP_ERR_SYSTEM, "QMP %s: a descriptor is watched already",
				    c->label);
	c->watch_fd = fd;
	c->watch_gen++;
	c->watch_timeout_ms = timeout_ms;
	c->watch_deadline = cp_now_ms() + timeout_ms;
	c->watch_fn = fn;
	c->watch_userdata = userdata;
	return 0;
}

/**
 * qmp_client_watched_fd() - the descriptor qmp_client_watch_fd() waits for
 * @c:		client
 * @gen:	set to a number that changes with every new watch (a
 *		descriptor number can come back for the next one)
 *
 * Return: the descriptor, or -1 when none is watched
 */
int qmp_client_watched_fd(const struct qmp_client *c, uint64_t *gen)
{
	*gen = c->watch_gen;
	return c->watch_fn ? c->watch_fd : -1;
}

/**
 * qmp_client_watched_ready() - the watched descriptor is readable: end the
 * watch (its callback runs now; nothing happens if it is not readable)
 * @c:	client
 */
void qmp_client_watched_ready(struct qmp_client *c)
{
	struct pollfd p = { .fd = c->watch_fd, .events = POLLIN };

	/* a wake-up meant for an earlier watch is not this one's */
	if (c->watch_fn && poll(&p, 1, 0) > 0)
		watch_end(c, NULL);
}

/**
 * qmp_client_wants_write() - whether messages wait for the socket to take
 * them (an event loop then watches it for output too)
 * @c:	client
 *
 * Return: true if qmp_client_flush() has work when the socket is writable
 */
bool qmp_client_wants_write(const struct qmp_client *c)
{
	return c->state != QMP_STATE_FAILED && qmp_outq_bytes(c->out) > 0;
}

/**
 * qmp_client_flush() - the socket is writable: write what it takes
 * @c:		client
 * @err:	filled if the client is (or becomes) failed
 *
 * Never blocks.
 *
 * Return: 0, or -1 with the latched error
 */
int qmp_client_flush(struct qmp_client *c, struct cp_error *err)
{
	flush_out(c);
	if (c->state == QMP_STATE_FAILED)
		return latched_error(c, "write", err);
	return 0;
}

/**
 * qmp_client_handshake_async() - start waiting for the greeting
 * @c:		new client
 * @timeout_ms:	deadline for greeting and negotiation
 * @fn:		called once when ready, or with the error
 * @userdata:	passed to @fn
 * @err:	filled on failure (then @fn is not called)
 *
 * Return: 0, or -1
 */
int qmp_client_handshake_async(struct qmp_client *c, int timeout_ms, qmp_ready_fn fn,
			       void *userdata, struct cp_error *err)
{
	if (c->state != QMP_STATE_GREETING || c->ready_fn)
		return cp_error_set(err, CP_ERR_INVALID, "QMP %s: handshake already started",
				    c->label);
	c->handshake_deadline = cp_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	c->ready_fn = fn;
	c->ready_userdata = userdata;
	return 0;
}

/**
 * qmp_client_handshake() - read the greeting and negotiate, synchronously
 * @c:		new client
 * @timeout_ms:	deadline
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
int qmp_client_handshake(struct qmp_client *c, int timeout_ms, struct cp_error *err)
{
	if (qmp_client_handshake_async(c, timeout_ms, NULL, NULL, err) < 0)
		return -1;
	while (c->state != QMP_STATE_READY)
		if (qmp_client_dispatch(c, -1, err) < 0)
			return cp_error_prefix(err, "QMP handshake");
	return 0;
}

/**
 * qmp_client_await_event() - wait asynchronously for a matching event
 * @c:		client
 * @m:		what to match (strings copied)
 * @since:	only events received after this qmp_client_event_mark()
 * @timeout_ms:	deadline; expiry fails only this wait
 * @fn:		called once with the event (borrowed) or an error; already
 *		queued events are checked first, and may satisfy it at once
 * @userdata:	passed to @fn
 * @err:	filled on failure (then @fn is not called)
 *
 * Return: 0, or -1
 */
int qmp_client_await_event(struct qmp_client *c, const struct qmp_event_match *m, uint64_t since,
			   int timeout_ms, qmp_await_fn fn, void *userdata, struct cp_error *err)
{
	struct qmp_waiter w = { .since = since, .fn = fn, .userdata = userdata };
	uint64_t seq, first;

	if (c->state == QMP_STATE_FAILED)
		return latched_error(c, m->event, err);
	if (cp_strlcpy(w.event, m->event, sizeof(w.event)) >= sizeof(w.event) ||
	    (m->key && cp_strlcpy(w.key, m->key, sizeof(w.key)) >= sizeof(w.key)) ||
	    (m->key && cp_strlcpy(w.value, m->value, sizeof(w.value)) >= sizeof(w.value)))
		return cp_error_set(err, CP_ERR_INVALID, "event match too long");
	w.has_key = m->key != NULL;
	w.timeout_ms = timeout_ms;
	w.deadline = cp_now_ms() + timeout_ms;
	first = c->last_seq >= c->opts.max_events ? c->last_seq - c->opts.max_events + 1 : 1;
	for (seq = first > since ? first : since + 1; seq <= c->last_seq; seq++) {
		cp_json *ev = c->events[seq % c->opts.max_events];

		if (ev && waiter_match(&w, ev, seq)) {
			fn(c, ev, NULL, userdata);
			return 0;
		}
	}
	if (c->nwaiters == c->cap_waiters) {
		size_t cap = c->cap_waiters ? c->cap_waiters * 2 : 4;
		struct qmp_waiter *n = realloc(c->waiters, cap * sizeof(*n));

		if (!n)
			return cp_error_set(err, CP_ERR_NOMEM, "out of memory");
		c->waiters = n;
		c->cap_waiters = cap;
	}
	c->waiters[c->nwaiters++] = w;
	return 0;
}

/**
 * qmp_event_matches() - whether @event satisfies @m
 * @event:	event message
 * @m:		match
 *
 * Return: true if the name matches and, with a key, data.key == value
 */
bool qmp_event_matches(const cp_json *event, const struct qmp_event_match *m)
{
	if (!cp_streq(cp_json_get_str(event, "event"), m->event))
		return false;
	if (!m->key)
		return true;
	return cp_streq(cp_json_get_str(cp_json_get_object(event, "data"), m->key), m->value);
}

/**
 * qmp_client_set_event_handler() - receive every event as it arrives
 * @c:		client
 * @fn:		handler (the event is borrowed), or NULL
 * @userdata:	passed to @fn
 */
void qmp_client_set_event_handler(struct qmp_client *c, qmp_event_fn fn, void *userdata)
{
	c->event_fn = fn;
	c->event_userdata = userdata;
}

/**
 * qmp_client_event_mark() - sequence number of the newest event received
 *
 * @c:	client
 *
 * Take it before a command whose event you will wait for: QEMU may send the
 * event before the command's reply.
 *
 * Return: the mark
 */
uint64_t qmp_client_event_mark(const struct qmp_client *c)
{
	return c->last_seq;
}

/**
 * qmp_client_fd() - the socket, for an event loop
 * @c:	client
 *
 * Return: descriptor (owned by the client)
 */
int qmp_client_fd(const struct qmp_client *c)
{
	return c->fd;
}

/**
 * qmp_client_label() - the name used in logs and errors
 * @c:	client
 *
 * Return: borrowed string
 */
const char *qmp_client_label(const struct qmp_client *c)
{
	return c->label;
}

/**
 * qmp_client_is_ready() - whether the handshake is done and nothing failed
 * @c:	client
 *
 * Return: true if commands can be sent
 */
bool qmp_client_is_ready(const struct qmp_client *c)
{
	return c->state == QMP_STATE_READY;
}

/**
 * qmp_client_version() - QEMU's version from the greeting
 * @c:		client past the greeting
 * @major:	set, may be NULL
 * @minor:	set, may be NULL
 * @micro:	set, may be NULL
 */
void qmp_client_version(const struct qmp_client *c, int *major, int *minor, int *micro)
{
	if (major)
		*major = c->ver_major;
	if (minor)
		*minor = c->ver_minor;
	if (micro)
		*micro = c->ver_micro;
}

/**
 * qmp_client_version_at_least() - compare QEMU's version
 * @c:		client past the greeting
 * @major:	version to compare with
 * @minor:	version to compare with
 * @micro:	version to compare with
 *
 * Return: true if QEMU's version >= major.minor.micro
 */
bool qmp_client_version_at_least(const struct qmp_client *c, int major, int minor, int micro)
{
	if (c->ver_major != major)
		return c->ver_major > major;
	if (c->ver_minor != minor)
		return c->ver_minor > minor;
	return c->ver_micro >= micro;
}

/**
 * qmp_client_package() - the package string from the greeting
 * @c:	client past the greeting
 *
 * Return: borrowed string, "" if QEMU sent none (e.g. "Debian 1:7.2+dfsg-7+deb12u18")
 */
const char *qmp_client_package(const struct qmp_client *c)
{
	return c->package;
}

/**
 * qmp_client_has_capability() - whether the greeting listed @cap
 * @c:		client past the greeting
 * @cap:	capability name, e.g. "oob"
 *
 * Return: true if listed
 */
bool qmp_client_has_capability(const struct qmp_client *c, const char *cap)
{
	size_t i;

	for (i = 0; i < cp_json_len(c->caps); i++)
		if (cp_streq(cp_json_as_str(cp_json_at(c->caps, i)), cap))
			return true;
	return false;
}

/**
 * qmp_client_peer_pid() - pid of the process at the other end (QEMU)
 * @c:	client
 *
 * Return: pid, or 0 if the kernel did not say
 */
pid_t qmp_client_peer_pid(const struct qmp_client *c)
{
	return c->peer.pid;
}

/**
 * qmp_client_peer_uid() - uid of the process at the other end
 * @c:	client
 *
 * Return: uid
 */
uid_t qmp_client_peer_uid(const struct qmp_client *c)
{
	return c->peer.uid;
}

/**
 * qmp_client_error() - the latched error, if any
 * @c:	client
 *
 * Return: borrowed error, or NULL while the client works
 */
const struct cp_error *qmp_client_error(const struct qmp_client *c)
{
	return c->state == QMP_STATE_FAILED ? &c->latched : NULL;
}

/**
 * qmp_client_events_dropped() - events dropped from the full queue
 * @c:	client
 *
 * Return: count since the connection started
 */
uint64_t qmp_client_events_dropped(const struct qmp_client *c)
{
	return c->dropped;
}

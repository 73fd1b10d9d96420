/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The QMP client (lib/qmp_client.c, lib/qmp_sync.c) against the fake QMP
 * peer: every transcript recorded from real QEMU replayed command by
 * command, then the cases a real QEMU rarely shows on demand: events
 * before and between replies, deadlines, end of stream in a message,
 * oversized, over-nested and invalid input, unknown ids, descriptors, the
 * event queue cap, connecting before the socket exists, the asynchronous
 * API, and the trace.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "coldplug/log.h"
#include "coldplug/qmp.h"
#include "coldplug/qmp_batch.h"
#include "fakepeer.h"
#include "qmp_stream.h"
#include "tap.h"
#include "util.h"

#ifndef COLDPLUG_TEST_DATA
#error "COLDPLUG_TEST_DATA must name tests/data"
#endif

#define HANDSHAKE_MS 5000

/**
 * test_opts() - client options for the tests: no trace unless asked
 * @o:	filled
 */
static void test_opts(struct qmp_client_opts *o)
{
	qmp_client_opts_init(o);
	o->label = "fake";
	o->trace = 0;
}

/**
 * start_client() - start the peer's script and connect a client to it
 * @fp:		peer from fakepeer_new(), script written
 * @o:		options, or NULL for test_opts()
 * @err:	filled on failure
 *
 * Return: a client past the handshake, or NULL
 */
static struct qmp_client *start_client(struct fakepeer *fp, const struct qmp_client_opts *o,
				       struct cp_error *err)
{
	struct qmp_client_opts def;
	struct qmp_client *c;

	test_opts(&def);
	fakepeer_start(fp);
	c = qmp_client_new(fakepeer_client_fd(fp), o ? o : &def, err);
	if (c && qmp_client_handshake(c, HANDSHAKE_MS, err) < 0) {
		qmp_client_free(c);
		return NULL;
	}
	return c;
}

/**
 * data_path() - path of a file in tests/data
 * @name:	file name
 *
 * Return: static buffer (overwritten by the next call)
 */
static const char *data_path(const char *name)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf), "%s/%s", COLDPLUG_TEST_DATA, name);
	return buf;
}

/**
 * elapsed_since() - milliseconds since @t0
 * @t0:	cp_now_ms() value
 *
 * Return: the difference
 */
static int64_t elapsed_since(int64_t t0)
{
	return cp_now_ms() - t0;
}

/* ---- transcripts replayed ---- */

#define MAX_LINES 256

/**
 * struct transcript - a transcript's messages, in order
 * @n:		count
 * @dir:	direction of each
 * @msg:	each message (owned)
 * @nfds:	descriptors of each "> " line
 */
struct transcript {
	size_t n;
	enum transcript_dir dir[MAX_LINES];
	cp_json *msg[MAX_LINES];
	size_t nfds[MAX_LINES];
};

/**
 * keep_line() - transcript_fn storing each message in a struct transcript
 * @dir:	direction
 * @msg:	message
 * @nfds:	descriptors
 * @line:	line number (unused)
 * @userdata:	the struct transcript
 *
 * Return: 0, or -1 when full
 */
static int keep_line(enum transcript_dir dir, cp_json *msg, size_t nfds, int line, void *userdata)
{
	struct transcript *t = userdata;

	(void)line;
	if (t->n == MAX_LINES)
		return -1;
	t->dir[t->n] = dir;
	t->msg[t->n] = cp_json_ref(msg);
	t->nfds[t->n++] = nfds;
	return 0;
}

/**
 * transcript_free() - drop the messages of @t
 * @t:	transcript
 */
static void transcript_free(struct transcript *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		cp_json_unref(t->msg[i]);
	t->n = 0;
}

/**
 * struct event_log - names of the events a client received, in order
 * @n:		count
 * @names:	"A,B,C"
 */
struct event_log {
	size_t n;
	char names[4096];
};

/**
 * log_event() - qmp_event_fn appending the event's name to a struct event_log
 * @c:		client
 * @event:	the event
 * @userdata:	the struct event_log
 */
static void log_event(struct qmp_client *c, cp_json *event, void *userdata)
{
	struct event_log *l = userdata;
	size_t len = strlen(l->names);

	(void)c;
	snprintf(l->names + len, sizeof(l->names) - len, "%s%s", l->n ? "," : "",
		 cp_json_get_str(event, "event"));
	l->n++;
}

/**
 * next_reply() - the first reply in @t at or after index @i
 * @t:	transcript
 * @i:	start index
 *
 * Return: the reply, or NULL
 */
static cp_json *next_reply(const struct transcript *t, size_t i)
{
	for (; i < t->n; i++)
		if (t->dir[i] == TRANSCRIPT_FROM_QEMU &&
		    (cp_json_get(t->msg[i], "return") || cp_json_get(t->msg[i], "error")))
			return t->msg[i];
	return NULL;
}

/**
 * replay_command() - run one recorded command; compare with the recorded reply
 * @c:		client
 * @cmd:	the recorded command
 * @nfds:	descriptors it carried (fresh /dev/null descriptors are passed)
 * @want:	the recorded reply
 *
 * Return: true if the client's result matches the reply
 */
static bool replay_command(struct qmp_client *c, cp_json *cmd, size_t nfds, cp_json *want)
{
	cleanup_json cp_json *ret = NULL;
	const char *name = cp_json_get_str(cmd, "execute");
	cp_json *args = cp_json_get(cmd, "arguments");
	cp_json *werr = cp_json_get_object(want, "error");
	struct cp_error err = { 0 };
	int fds[8];
	size_t i;

	for (i = 0; i < nfds && i < 8; i++)
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ret = qmp_client_call_fds(c, name, args ? cp_json_copy(args) : NULL, fds, nfds, &err);
	for (i = 0; i < nfds && i < 8; i++)
		close(fds[i]);
	if (werr)
		return !ret && err.code == CP_ERR_QMP && !strcmp(err.command, name) &&
		       cp_streq(err.qmp_class, cp_json_get_str(werr, "class")) &&
		       strstr(err.msg, cp_json_get_str(werr, "desc"));
	if (!ret)
		diag("%s: %s", name, err.msg);
	return ret && cp_json_equal(ret, cp_json_get(want, "return"));
}

/**
 * recorded_events() - the event names in @t, as "A,B,C"
 * @t:		transcript
 * @buf:	output
 * @size:	its size
 */
static void recorded_events(const struct transcript *t, char *buf, size_t size)
{
	size_t i, len = 0;

	buf[0] = '\0';
	for (i = 0; i < t->n && len < size; i++) {
		const char *ev = cp_json_get_str(t->msg[i], "event");

		if (t->dir[i] == TRANSCRIPT_FROM_QEMU && ev)
			len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? "," : "", ev);
	}
}

/**
 * replay_transcript() - a client runs every command of a recorded session
 * @name:	transcript file in tests/data
 *
 * The fake peer plays QEMU's side; the test plays the client's side from the
 * same file, so every reply is compared with the recording and every event
 * must reach the client, in order. The client has the daemon's bounds
 * (qmp_client_opts_init_peer()): real QEMU's messages must pass them.
 */
static void replay_transcript(const char *name)
{
	struct qmp_client_opts o;
	struct transcript t = { 0 };
	struct event_log events = { 0 };
	struct fakepeer *fp = fakepeer_new();
	struct qmp_client *c = NULL;
	struct cp_error err;
	char want_events[4096];
	size_t i, bad = 0, ncmd = 0;

	if (transcript_each(data_path(name), keep_line, &t, &err) < 0 ||
	    fakepeer_load(fp, data_path(name), &err) < 0) {
		ok(false, "%s: load: %s", name, err.msg);
		fakepeer_free(fp);
		transcript_free(&t);
		return;
	}
	qmp_client_opts_init_peer(&o);
	o.label = "fake";
	o.trace = 0;
	c = start_client(fp, &o, &err);
	if (!ok(c != NULL, "%s: handshake", name))
		diag("%s", err.msg);
	for (i = 0; c && i < t.n; i++) {
		const char *cmd = cp_json_get_str(t.msg[i], "execute");

		if (t.dir[i] != TRANSCRIPT_TO_QEMU || cp_streq(cmd, "qmp_capabilities"))
			continue;
		if (ncmd++ == 0)
			qmp_client_set_event_handler(c, log_event, &events);
		if (!replay_command(c, t.msg[i], t.nfds[i], next_reply(&t, i + 1))) {
			diag("%s: command %s: reply differs from the recording", name, cmd);
			bad++;
		}
	}
	recorded_events(&t, want_events, sizeof(want_events));
	/* events after the last reply are read while waiting for them */
	for (i = 0; c && i < 50 && strcmp(events.names, want_events) != 0; i++)
		qmp_client_dispatch(c, 20, NULL);
	is_int((long long)bad, 0, "%s: %zu commands replayed, each reply as recorded", name, ncmd);
	is_str(events.names, want_events, "%s: every recorded event reached the client", name);
	qmp_client_free(c);
	fakepeer_finish(fp, "%s: the client sent exactly the recorded commands", name);
	transcript_free(&t);
}

/**
 * test_transcripts() - replay every transcript in tests/data
 */
static void test_transcripts(void)
{
	struct dirent **list = NULL;
	int n, i, count = 0;

	n = scandir(COLDPLUG_TEST_DATA, &list, NULL, alphasort);
	for (i = 0; i < n; i++) {
		size_t len = strlen(list[i]->d_name);

		if (len > 4 && !strcmp(list[i]->d_name + len - 4, ".qmp")) {
			replay_transcript(list[i]->d_name);
			count++;
		}
		free(list[i]);
	}
	free(list);
	ok(count >= 6, "%d recorded transcripts replayed", count);
}

/* ---- handshake ---- */

/**
 * test_greeting() - the real 7.2 greeting: version, package, capabilities, peer
 */
static void test_greeting(void)
{
	struct fakepeer *fp = fakepeer_new();
	cleanup_json cp_json *ret = NULL, *ev = NULL;
	struct qmp_event_match shutdown = { .event = "SHUTDOWN",
					    .key = "reason",
					    .value = "host-qmp-quit" };
	struct qmp_client *c;
	struct cp_error err;
	int major = 0, minor = 0, micro = 0;
	uint64_t mark;

	fakepeer_load(fp, data_path("basic.qmp"), &err);
	c = start_client(fp, NULL, &err);
	if (!ok(c != NULL, "greeting: handshake with the recorded 7.2 greeting")) {
		diag("%s", err.msg);
		fakepeer_free(fp);
		return;
	}
	ok(qmp_client_is_ready(c) && !qmp_client_error(c), "ready, no error");
	qmp_client_version(c, &major, &minor, &micro);
	ok(major == 7 && minor == 2 && micro == 22, "version 7.2.22 from the greeting");
	ok(qmp_client_version_at_least(c, 7, 2, 22) && qmp_client_version_at_least(c, 6, 9, 99) &&
		   qmp_client_version_at_least(c, 7, 1, 50),
	   "version_at_least: lower versions");
	ok(!qmp_client_version_at_least(c, 7, 2, 23) && !qmp_client_version_at_least(c, 7, 3, 0) &&
		   !qmp_client_version_at_least(c, 8, 0, 0),
	   "version_at_least: higher versions");
	like(qmp_client_package(c), "Debian 1:7.2", "package string");
	ok(qmp_client_has_capability(c, "oob") && !qmp_client_has_capability(c, "nope"),
	   "capabilities");
	is_int(qmp_client_peer_pid(c), getpid(), "peer pid (SO_PEERCRED of a socketpair: us)");
	is_int(qmp_client_peer_uid(c), getuid(), "peer uid");
	is_str(qmp_client_label(c), "fake", "label from the options");
	ret = qmp_client_call(c, "query-version", NULL, &err);
	ok(ret && cp_json_get_object(ret, "qemu"), "query-version");
	cp_json_unref(steal_pointer(&ret));
	ret = qmp_client_call(c, "query-status", NULL, &err);
	is_str(cp_json_get_str(ret, "status"), "prelaunch", "query-status: prelaunch (-S)");
	cp_json_unref(steal_pointer(&ret));
	mark = qmp_client_event_mark(c);
	ret = qmp_client_call(c, "quit", NULL, &err);
	ok(ret != NULL, "quit");
	ev = qmp_client_wait_event(c, &shutdown, mark, 0, &err);
	ok(ev != NULL, "SHUTDOWN, sent by QEMU before quit's reply, is found with a 0 ms wait");
	qmp_client_free(c);
	fakepeer_finish(fp, "greeting");
}

/**
 * handshake_fails() - run a handshake script that must fail
 * @fp:		peer with the script
 * @code:	expected error code
 * @what:	expected substring of the message
 * @name:	check name
 */
static void handshake_fails(struct fakepeer *fp, enum cp_error_code code, const char *what,
			    const char *name)
{
	struct cp_error err = { 0 };
	struct qmp_client *c = start_client(fp, NULL, &err);

	ok(!c && err.code == code && strstr(err.msg, what), "handshake: %s", name);
	if (c || err.code != code || !strstr(err.msg, what))
		diag("code %s, message '%s', wanted '%s'", cp_error_code_name(err.code), err.msg,
		     what);
	qmp_client_free(c);
	fakepeer_finish(fp, "handshake: %s", name);
}

/**
 * test_handshake_errors() - bad greetings and a refused negotiation
 */
static void test_handshake_errors(void)
{
	struct fakepeer *fp = fakepeer_new();

	fakepeer_event(fp, "STOP", NULL);
	handshake_fails(fp, CP_ERR_PROTOCOL, "expected the QMP greeting, got a event",
			"an event before the greeting");

	fp = fakepeer_new();
	fakepeer_send(fp, "{\"QMP\": {\"version\": {}, \"capabilities\": []}}");
	handshake_fails(fp, CP_ERR_PROTOCOL, "without a valid version", "greeting without version");

	fp = fakepeer_new();
	fakepeer_greeting(fp, 7, 2, 0);
	fakepeer_expect(fp, "{\"execute\": \"qmp_capabilities\"}");
	fakepeer_reply(fp, "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"nope\"}}");
	handshake_fails(fp, CP_ERR_QMP, "qmp_capabilities: nope", "qmp_capabilities refused");

	fp = fakepeer_new();
	fakepeer_greeting(fp, 7, 2, 0);
	fakepeer_expect(fp, "{\"execute\": \"qmp_capabilities\"}");
	fakepeer_greeting(fp, 7, 2, 0);
	handshake_fails(fp, CP_ERR_PROTOCOL, "unexpected second QMP greeting", "second greeting");

	fp = fakepeer_new();
	fakepeer_greeting(fp, 7, 2, 0);
	fakepeer_close(fp);
	handshake_fails(fp, CP_ERR_EOF, "closed the connection", "EOF during negotiation");
}

/* ---- ids, events ---- */

/**
 * test_events_around_reply() - events before and between replies
 *
 * QEMU may send the event a command causes before that command's reply; a
 * mark taken before the command still finds it.
 */
static void test_events_around_reply(void)
{
	struct qmp_event_match dev1 = { "DEVICE_DELETED", "device", "dev1" };
	struct qmp_event_match dev2 = { "DEVICE_DELETED", "device", "dev2" };
	struct fakepeer *fp = fakepeer_new();
	cleanup_json cp_json *ret = NULL, *ev = NULL, *ev2 = NULL;
	struct qmp_client *c;
	struct cp_error err = { 0 };
	uint64_t mark;
	int64_t t0;

	fakepeer_negotiate(fp);
	fakepeer_expect(fp, "{\"execute\": \"device_del\", \"arguments\": {\"id\": \"dev1\"}}");
	fakepeer_event(fp, "RTC_CHANGE", "{\"offset\": 1}");
	fakepeer_event(fp, "DEVICE_DELETED", "{\"device\": \"dev1\", \"path\": \"/m/p/dev1\"}");
	fakepeer_reply(fp, "{\"return\": {}}");
	fakepeer_event(fp, "DEVICE_DELETED", "{\"path\": \"/m/p/dev1/virtio-backend\"}");
	fakepeer_expect(fp, "{\"execute\": \"query-status\"}");
	fakepeer_reply(fp, "{\"return\": {\"status\": \"prelaunch\"}}");
	c = start_client(fp, NULL, &err);
	mark = qmp_client_event_mark(c);
	ret = qmp_client_call(c, "device_del", cp_json_parse("{\"id\":\"dev1\"}", 13, NULL), &err);
	ok(ret && cp_json_is_object(ret), "device_del: reply matched after two events");
	ok(qmp_client_event_mark(c) - mark >= 2, "both events queued meanwhile");
	t0 = cp_now_ms();
	ev = qmp_client_wait_event(c, &dev1, mark, 1000, &err);
	ok(ev && elapsed_since(t0) < 100, "the event that came before the reply is found at once");
	is_str(cp_json_get_str(cp_json_get_object(ev, "data"), "path"), "/m/p/dev1",
	       "it is the whole event message");
	ev2 = qmp_client_wait_event(c, &dev1, qmp_client_event_mark(c), 100, &err);
	ok(!ev2 && err.code == CP_ERR_TIMEOUT, "a mark after it does not find it again");
	ev2 = qmp_client_wait_event(c, &dev2, mark, 100, &err);
	ok(!ev2 && err.code == CP_ERR_TIMEOUT, "key=value must match (dev2 never came)");
	cp_json_unref(steal_pointer(&ret));
	ret = qmp_client_call(c, "query-status", NULL, &err);
	is_str(cp_json_get_str(ret, "status"), "prelaunch",
	       "the event after the reply did not disturb the next command");
	ok(qmp_client_events_dropped(c) == 0, "nothing dropped");
	qmp_client_free(c);
	fakepeer_finish(fp, "events around a reply");
}

/**
 * struct got - what an asynchronous reply callback saw
 * @calls:	how many times it ran
 * @value:	compact JSON of the value, or "" on error
 * @err:	the error, if any
 * @order:	a shared counter, to check callback order
 * @seq:	value of *@order when this callback ran
 */
struct got {
	int calls;
	char value[256];
	struct cp_error err;
	int *order;
	int seq;
};

/**
 * got_reply() - qmp_reply_fn / qmp_await_fn filling a struct got
 * @c:		client
 * @value:	reply value or event, NULL on error
 * @e:		error or NULL
 * @userdata:	the struct got
 */
static void got_reply(struct qmp_client *c, cp_json *value, const struct cp_error *e,
		      void *userdata)
{
	struct got *g = userdata;
	cleanup_free char *text = value ? cp_json_dump(value, 0) : NULL;

	(void)c;
	g->calls++;
	if (g->order)
		g->seq = ++*g->order;
	cp_strlcpy(g->value, text ? text : "", sizeof(g->value));
	if (e)
		cp_error_copy(&g->err, e);
}

/**
 * pump() - dispatch until @done is non-zero or @ms pass
 * @c:		client
 * @done:	flag to wait for
 * @ms:		limit
 */
static void pump(struct qmp_client *c, const int *done, int ms)
{
	int64_t end = cp_now_ms() + ms;

	while (!*done && cp_now_ms() < end)
		if (qmp_client_dispatch(c, 20, NULL) < 0)
			break;
}

/**
 * test_out_of_order() - two commands in flight, replies in the other order
 */
static void test_out_of_order(void)
{
	struct fakepeer *fp = fakepeer_new();
	struct got a = { 0 }, b = { 0 };
	struct qmp_client *c;
	struct cp_error err;
	int order = 0;

	a.order = b.order = &order;
	fakepeer_negotiate(fp);
	fakepeer_expect(fp, "{\"execute\": \"cmd-a\"}");
	fakepeer_expect(fp, "{\"execute\": \"cmd-b\"}");
	fakepeer_send(fp, "{\"return\": \"b\", \"id\": 3}");
	fakepeer_event(fp, "X", NULL);
	fakepeer_send(fp, "{\"return\": \"a\", \"id\": 2}");
	c = start_client(fp, NULL, &err);
	qmp_client_send(c, "cmd-a", NULL, NULL, 0, 0, got_reply, &a, &err);
	qmp_client_send(c, "cmd-b", NULL, NULL, 0, 0, got_reply, &b, &err);
	pump(c, &a.calls, 2000);
	ok(a.calls == 1 && !strcmp(a.value, "\"a\""), "cmd-a got the reply with its id (2)");
	ok(b.calls == 1 && !strcmp(b.value, "\"b\""), "cmd-b got the reply with its id (3)");
	ok(b.seq == 1 && a.seq == 2, "in the order the replies came");
	qmp_client_free(c);
	fakepeer_finish(fp, "replies out of order");
}

/**
 * test_event_deadline() - an event wait times out; the client stays usable
 */
static void test_event_deadline(void)
{
	struct qmp_event_match never = { "DEVICE_DELETED", "device", "ghost" };
	struct qmp_event_match late = { "DEVICE_DELETED", "device", "late" };
	struct fakepeer *fp = fakepeer_new();
	cleanup_json cp_json *ev = NULL, *ret = NULL;
	struct qmp_client *c;
	struct cp_error err = { 0 };
	int64_t t0, dt;

	fakepeer_negotiate(fp);
	fakepeer_delay(fp, 300);
	fakepeer_event(fp, "DEVICE_DELETED", "{\"device\": \"late\"}");
	fakepeer_expect(fp, "{\"execute\": \"query-status\"}");
	fakepeer_reply(fp, "{\"return\": {\"status\": \"prelaunch\"}}");
	c = start_client(fp, NULL, &err);
	t0 = cp_now_ms();
	ev = qmp_client_wait_event(c, &never, qmp_client_event_mark(c), 150, &err);
	dt = elapsed_since(t0);
	ok(!ev && err.code == CP_ERR_TIMEOUT, "wait for an event that never comes: CP_ERR_TIMEOUT");
	ok(dt >= 150 && dt < 3000, "after its deadline (%lld ms)", (long long)dt);
	like(err.msg, "no DEVICE_DELETED event with device=ghost within 150 ms",
	     "the message names the event and the match");
	ok(!qmp_client_error(c) && qmp_client_is_ready(c), "an event timeout does not latch");
	ev = qmp_client_wait_event(c, &late, 0, 3000, &err);
	ok(ev != NULL, "an event that comes later is waited for");
	ret = qmp_client_call(c, "query-status", NULL, &err);
	ok(ret != NULL, "the client is still usable");
	qmp_client_free(c);
	fakepeer_finish(fp, "event deadline");
}

/**
 * test_reply_deadline() - no reply in time latches; later calls fail fast
 */
static void test_reply_deadline(void)
{
	struct qmp_event_match any = { .event = "X" };
	struct fakepeer *fp = fakepeer_new();
	cleanup_json cp_json *ret = NULL;
	struct qmp_client_opts o;
	struct qmp_client *c;
	struct cp_error err = { 0 };
	int64_t t0, dt;

	test_opts(&o);
	o.cmd_timeout_ms = 200;
	fakepeer_negotiate(fp);
	fakepeer_expect(fp, "{\"execute\": \"query-status\"}");
	fakepeer_delay(fp, 10000); /* and never answers */
	c = start_client(fp, &o, &err);
	t0 = cp_now_ms();
	ret = qmp_client_call(c, "query-status", NULL, &err);
	dt = elapsed_since(t0);
	ok(!ret && err.code == CP_ERR_TIMEOUT, "no reply: CP_ERR_TIMEOUT");
	ok(dt >= 200 && dt < 5000, "after the command deadline (%lld ms)", (long long)dt);
	like(err.msg, "no reply to query-status within 200 ms", "the message says which command");
	is_str(err.command, "query-status", "err.command");
	ok(qmp_client_error(c) && !qmp_client_is_ready(c), "the client is latched");
	t0 = cp_now_ms();
	ret = qmp_client_call(c, "query-version", NULL, &err);
	ok(!ret && err.code == CP_ERR_TIMEOUT && elapsed_since(t0) < 500,
	   "a later call fails at once with the latched error");
	like(err.msg, "no reply to query-status", "the latched error names the first cause");
	is_str(err.command, "query-version", "and err.command is the new call");
	ok(!qmp_client_wait_event(c, &any, 0, 1000, &err) && err.code == CP_ERR_TIMEOUT &&
		   elapsed_since(t0) < 500,
	   "an event wait fails at once too");
	ok(qmp_client_dispatch(c, 1000, &err) < 0 && elapsed_since(t0) < 500,
	   "dispatch fails at once");
	ok(qmp_client_send(c, "x", NULL, NULL, 0, 0, got_reply, NULL, &err) < 0,
	   "send fails at once");
	qmp_client_free(c);
	fakepeer_finish(fp, "reply deadline (query-version never reached the socket)");
}

/**
 * test_negotiation_deadline() - the handshake deadline covers qmp_capabilities
 *
 * A peer that greets but never answers the negotiation fails the handshake
 * at the handshake's deadline, not at the (longer) command timeout.
 */
static void test_negotiation_deadline(void)
{
	struct fakepeer *fp = fakepeer_new();
	struct qmp_client_opts o;
	struct qmp_client *c;
	struct cp_error err = { 0 };
	int64_t t0, dt;

	test_opts(&o);
	o.cmd_timeout_ms = 8000;
	fakepeer_greeting(fp, 7, 2, 0);
	fakepeer_expect(fp, "{\"execute\": \"qmp_capabilities\"}");
	fakepeer_delay(fp, 10000); /* and never answers */
	fakepeer_start(fp);
	c = qmp_client_new(fakepeer_client_fd(fp), &o, &err);
	t0 = cp_now_ms();
	ok(c && qmp_client_handshake(c, 300, &err) < 0 && err.code == CP_ERR_TIMEOUT,
	   "no answer to qmp_capabilities: CP_ERR_TIMEOUT");
	dt = elapsed_since(t0);
	ok(dt >= 250 && dt < 3000, "at the handshake deadline, not the command timeout (%lld ms)",
	   (long long)dt);
	like(err.msg, "no reply to qmp_capabilities", "the message says which command");
	qmp_client_free(c);
	fakepeer_finish(fp, "negotiation deadline");
}

/**
 * call_fails() - run a script where one command's reply goes wrong
 * @fp:		peer with the script after the negotiation
 * @o:		options or NULL
 * @code:	expected error code
 * @what:	expected substring of the message
 * @name:	check name
 */
static void call_fails(struct fakepeer *fp, const struct qmp_client_opts *o,
		       enum cp_error_code code, const char *what, const char *name)
{
	cleanup_json cp_json *ret = NULL;
	struct cp_error err = { 0 };
	struct qmp_client *c = start_client(fp, o, &err);

	if (c)
		ret = qmp_client_call(c, "query-status", NULL, &err);
	ok(c && !ret && err.code == code && strstr(err.msg, what), "%s: the call fails", name);
	if (!c || ret || err.code != code || !strstr(err.msg, what))
		diag("code %s, message '%s', wanted '%s'", cp_error_code_name(err.code), err.msg,
		     what);
	ok(c && qmp_client_error(c) && qmp_client_error(c)->code == code,
	   "%s: the client is latched", name);
	qmp_client_free(c);
	fakepeer_finish(fp, "%s", name);
}

/**
 * peer_for_status() - a peer that negotiates and expects query-status
 *
 * Return: the peer, script to be continued by the caller
 */
static struct fakepeer *peer_for_status(void)
{
	struct fakepeer *fp = fakepeer_new();

	fakepeer_negotiate(fp);
	fakepeer_expect(fp, "{\"execute\": \"query-status\"}");
	return fp;
}

/**
 * test_eof() - end of stream inside a reply, and between messages
 */
static void test_eof(void)
{
	struct fakepeer *fp = peer_for_status();
	static const char part[] = "{\"return\": {\"status\": \"prel";
	cleanup_json cp_json *ret = NULL;
	struct cp_error err = { 0 };
	struct qmp_client *c;

	fakepeer_raw(fp, part, sizeof(part) - 1);
	fakepeer_close(fp);
	call_fails(fp, NULL, CP_ERR_EOF,
		   "QEMU closed the connection in the middle of a message (27 bytes received)",
		   "EOF mid-reply");

	fp = peer_for_status();
	fakepeer_close(fp);
	call_fails(fp, NULL, CP_ERR_EOF, "QMP fake: QEMU closed the connection",
		   "EOF before the reply");

	fp = fakepeer_new();
	fakepeer_negotiate(fp);
	fakepeer_close(fp);
	c = start_client(fp, NULL, &err);
	usleep(100 * 1000);
	ret = c ? qmp_client_call(c, "query-status", NULL, &err) : NULL;
	ok(!ret && err.code == CP_ERR_EOF && strstr(err.msg, "closed the connection"),
	   "a command written after QEMU closed: CP_ERR_EOF, not a system error");
	if (err.code != CP_ERR_EOF)
		diag("%s", err.msg);
	qmp_client_free(c);
	fakepeer_finish(fp, "write after close");
}

/**
 * test_bad_input() - oversized, over-nested, invalid UTF-8, unknown ids
 */
static void test_bad_input(void)
{
	static const char bad_utf8[] = "{\"return\": \"\xc3\x28\", \"id\": 2}\r\n";
	char big[9000], deep[512];
	struct qmp_client_opts o;
	struct fakepeer *fp;

	test_opts(&o);
	o.max_message = 4096;
	snprintf(big, sizeof(big), "{\"return\": \"%0*d\"}", 8000, 0);
	fp = peer_for_status();
	fakepeer_reply(fp, big);
	call_fails(fp, &o, CP_ERR_PROTOCOL, "larger than the size cap", "oversized reply");

	test_opts(&o);
	o.max_depth = 8;
	snprintf(deep, sizeof(deep), "{\"return\": %.10s%.10s}", "[[[[[[[[[[", "]]]]]]]]]]");
	fp = peer_for_status();
	fakepeer_reply(fp, deep);
	call_fails(fp, &o, CP_ERR_PROTOCOL, "nested too deeply", "over-nested reply");

	fp = peer_for_status();
	fakepeer_raw(fp, bad_utf8, sizeof(bad_utf8) - 1);
	call_fails(fp, NULL, CP_ERR_PROTOCOL, "invalid UTF-8", "invalid UTF-8");

	fp = peer_for_status();
	fakepeer_send(fp, "{\"return\": {}, \"id\": 999}");
	call_fails(fp, NULL, CP_ERR_PROTOCOL, "reply with an unknown id", "reply with unknown id");

	fp = peer_for_status();
	fakepeer_send(fp, "{\"return\": {}}");
	call_fails(fp, NULL, CP_ERR_PROTOCOL, "reply with an unknown id", "reply without id");

	fp = peer_for_status();
	fakepeer_raw(fp, "[1, 2]\r\n", 8);
	call_fails(fp, NULL, CP_ERR_PROTOCOL, "not an object", "top-level array");

	fp = peer_for_status();
	fakepeer_raw(fp, "{\"return\": {\0}, \"id\": 2}\r\n", 26);
	call_fails(fp, NULL, CP_ERR_PROTOCOL, "NUL byte", "NUL byte");

	fp = peer_for_status();
	fakepeer_send(fp, "{\"hello\": \"world\"}");
	call_fails(fp, NULL, CP_ERR_PROTOCOL, "unrecognised QMP message", "unknown message");
}

/**
 * test_split_reply() - a reply written in pieces, split inside a UTF-8 character
 */
static void test_split_reply(void)
{
	struct fakepeer *fp = peer_for_status();
	cleanup_json cp_json *ret = NULL;
	struct qmp_client *c;
	struct cp_error err = { 0 };

	/* {"return":{"status":"caf\xc3\xa9"},"id":2}: split between \xc3 and \xa9 */
	fakepeer_reply_split(fp, "{\"return\": {\"status\": \"caf\xc3\xa9\"}}", 24, 100);
	fakepeer_expect(fp, "{\"execute\": \"query-version\"}");
	fakepeer_reply_split(fp, "{\"return\": {}}", 1, 50);
	c = start_client(fp, NULL, &err);
	ret = qmp_client_call(c, "query-status", NULL, &err);
	if (!is_str(cp_json_get_str(ret, "status"), "caf\xc3\xa9",
		    "a reply split inside a UTF-8 character is reassembled"))
		diag("%s", err.msg);
	cp_json_unref(steal_pointer(&ret));
	ret = qmp_client_call(c, "query-version", NULL, &err);
	ok(ret != NULL, "a reply split after its first byte is reassembled");
	qmp_client_free(c);
	fakepeer_finish(fp, "split replies");
}

/**
 * test_qmp_error() - an error reply: class, description, command; not latched
 */
static void test_qmp_error(void)
{
	struct fakepeer *fp = fakepeer_new();
	cleanup_json cp_json *ret = NULL;
	struct qmp_client *c;
	struct cp_error err = { 0 };
	char *text;

	fakepeer_negotiate(fp);
	fakepeer_expect(fp, "{\"execute\": \"device_del\", \"arguments\": {\"id\": \"nope\"}}");
	fakepeer_reply(fp, "{\"error\": {\"class\": \"DeviceNotFound\", "
			   "\"desc\": \"Device 'nope' not found\"}}");
	fakepeer_expect(fp, "{\"execute\": \"human-monitor-command\", "
			    "\"arguments\": {\"command-line\": \"info network\"}}");
	fakepeer_reply(fp, "{\"return\": {}}");
	c = start_client(fp, NULL, &err);
	ret = qmp_client_call(c, "device_del", cp_json_parse("{\"id\":\"nope\"}", 13, NULL), &err);
	ok(!ret && err.code == CP_ERR_QMP, "error reply: CP_ERR_QMP");
	is_str(err.qmp_class, "DeviceNotFound", "error reply: class");
	is_str(err.command, "device_del", "error reply: command");
	is_str(err.msg, "device_del: Device 'nope' not found", "error reply: message");
	ok(qmp_client_is_ready(c) && !qmp_client_error(c), "an error reply does not latch");
	text = qmp_client_hmp(c, "info network", &err);
	ok(!text && err.code == CP_ERR_PROTOCOL && strstr(err.msg, "returned no text"),
	   "hmp: a non-string return is an error");
	free(text);
	qmp_client_free(c);
	fakepeer_finish(fp, "QMP error reply");
}

/**
 * test_hmp() - human-monitor-command with the recorded "info network"
 */
static void test_hmp(void)
{
	struct fakepeer *fp = fakepeer_new();
	cleanup_free char *text = NULL;
	struct qmp_client *c;
	struct cp_error err = { 0 };

	fakepeer_negotiate(fp);
	fakepeer_expect(fp, "{\"execute\": \"human-monitor-command\", "
			    "\"arguments\": {\"command-line\": \"info network\"}}");
	fakepeer_reply(fp, "{\"return\": \"nic0: index=0,type=nic,model=virtio-net-pci,"
			   "macaddr=52:54:00:12:34:56\\r\\n \\\\ net0: index=0,type=user,"
			   "net=10.0.2.0,restrict=off\\r\\n\"}");
	c = start_client(fp, NULL, &err);
	text = qmp_client_hmp(c, "info network", &err);
	like(text, "\\ net0: index=0,type=user", "hmp: the command's text");
	qmp_client_free(c);
	fakepeer_finish(fp, "hmp");
}

/* ---- descriptors ---- */

/**
 * test_fds() - descriptors reach the peer with their command, same files
 */
static void test_fds(void)
{
	char path[] = "/tmp/coldplug-test-fd.XXXXXX";
	char path2[] = "/tmp/coldplug-test-fd2.XXXXXX";
	struct fakepeer *fp = fakepeer_new();
	cleanup_json cp_json *ret = NULL;
	cleanup_close int fd = mkstemp(path), fd2 = mkstemp(path2);
	struct qmp_client *c;
	struct cp_error err = { 0 };
	int both[2] = { fd, fd2 };

	fakepeer_negotiate(fp);
	fakepeer_expect_fds(fp, "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"fd0\"}}", 1,
			    path);
	fakepeer_reply(fp, "{\"return\": {}}");
	fakepeer_expect_fds(fp, "{\"execute\": \"add-fd\", \"arguments\": {\"fdset-id\": 1}}", 1,
			    path2);
	fakepeer_reply(fp, "{\"return\": {\"fd\": 12, \"fdset-id\": 1}}");
	fakepeer_expect_fds(fp, "{\"execute\": \"add-fd\", \"arguments\": {\"fdset-id\": 2}}", 2,
			    NULL);
	fakepeer_reply(fp, "{\"return\": {\"fd\": 13, \"fdset-id\": 2}}");
	c = start_client(fp, NULL, &err);
	ret = qmp_client_call_fds(c, "getfd", cp_json_parse("{\"fdname\":\"fd0\"}", 16, NULL), &fd,
				  1, &err);
	ok(ret != NULL, "getfd with a descriptor");
	cp_json_unref(steal_pointer(&ret));
	ret = qmp_client_call_fds(c, "add-fd", cp_json_parse("{\"fdset-id\":1}", 14, NULL), &fd2, 1,
				  &err);
	ok(ret && cp_json_get_int(ret, "fd", &(int64_t){ 0 }), "add-fd with a descriptor");
	cp_json_unref(steal_pointer(&ret));
	ret = qmp_client_call_fds(c, "add-fd", cp_json_parse("{\"fdset-id\":2}", 14, NULL), both, 2,
				  &err);
	ok(ret != NULL, "add-fd with two descriptors");
	ok(fcntl(fd, F_GETFD) >= 0 && fcntl(fd2, F_GETFD) >= 0, "the caller keeps its descriptors");
	qmp_client_free(c);
	fakepeer_finish(fp, "each descriptor arrived with its command, same file");
	unlink(path);
	unlink(path2);
}

/* ---- event queue ---- */

/**
 * test_event_cap() - beyond max_events the oldest are dropped and counted
 */
static void test_event_cap(void)
{
	struct qmp_event_match first = { "EV", "n", "1" }, third = { "EV", "n", "3" };
	struct qmp_event_match last = { "EV", "n", "6" };
	struct fakepeer *fp = fakepeer_new();
	cleanup_json cp_json *ret = NULL, *e1 = NULL, *e3 = NULL, *e6 = NULL;
	struct qmp_client_opts o;
	struct qmp_client *c;
	struct cp_error err = { 0 };
	char data[32];
	uint64_t mark;
	int i;

	test_opts(&o);
	o.max_events = 4;
	fakepeer_negotiate(fp);
	fakepeer_expect(fp, "{\"execute\": \"query-status\"}");
	for (i = 1; i <= 6; i++) {
		snprintf(data, sizeof(data), "{\"n\": \"%d\"}", i);
		fakepeer_event(fp, "EV", data);
	}
	fakepeer_reply(fp, "{\"return\": {}}");
	c = start_client(fp, &o, &err);
	mark = qmp_client_event_mark(c);
	ret = qmp_client_call(c, "query-status", NULL, &err);
	ok(ret != NULL, "the reply after 6 events");
	is_int((long long)qmp_client_event_mark(c), (long long)mark + 6, "6 events received");
	is_int((long long)qmp_client_events_dropped(c), 2, "2 dropped from a queue of 4");
	e1 = qmp_client_wait_event(c, &first, mark, 50, &err);
	ok(!e1 && err.code == CP_ERR_TIMEOUT, "the oldest (n=1) is gone");
	e3 = qmp_client_wait_event(c, &third, mark, 0, &err);
	e6 = qmp_client_wait_event(c, &last, mark, 0, &err);
	ok(e3 && e6, "the 4 newest (n=3, n=6) are kept");
	qmp_client_free(c);
	fakepeer_finish(fp, "event queue cap");
}

/**
 * ignore_msg() - qmp_stream_msg_fn that takes every message
 * @msg:	unused
 * @userdata:	unused
 * @err:	unused
 *
 * Return: 0
 */
static int ignore_msg(cp_json *msg, void *userdata, struct cp_error *err)
{
	(void)msg;
	(void)userdata;
	(void)err;
	return 0;
}

/**
 * event_cost() - what the framer estimates for the event fakepeer_event()
 * sends as EV with data {"n": "1"}
 *
 * Return: the cost
 */
static size_t event_cost(void)
{
	const char *text = "{\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 1}, "
			   "\"event\": \"EV\", \"data\": {\"n\": \"1\"}}";
	struct qmp_stream *s = qmp_stream_new(0, 0);
	struct cp_error err;
	size_t cost;

	if (!s || qmp_stream_feed(s, text, strlen(text), ignore_msg, NULL, &err) < 0)
		bail_out("cannot cost the event");
	cost = qmp_stream_last_cost(s);
	qmp_stream_free(s);
	return cost;
}

/**
 * test_event_bytes_cap() - beyond max_event_bytes the oldest events are
 * dropped and counted, though the count allows more
 */
static void test_event_bytes_cap(void)
{
	struct qmp_event_match fourth = { "EV", "n", "4" }, fifth = { "EV", "n", "5" };
	struct qmp_event_match last = { "EV", "n", "6" };
	struct fakepeer *fp = fakepeer_new();
	cleanup_json cp_json *ret = NULL, *e4 = NULL, *e5 = NULL, *e6 = NULL;
	struct qmp_client_opts o;
	struct qmp_client *c;
	struct cp_error err = { 0 };
	char data[32];
	uint64_t mark;
	int i;

	test_opts(&o);
	o.max_events = 64;
	o.max_event_bytes = 2 * event_cost() + event_cost() / 2;
	fakepeer_negotiate(fp);
	fakepeer_expect(fp, "{\"execute\": \"query-status\"}");
	for (i = 1; i <= 6; i++) {
		snprintf(data, sizeof(data), "{\"n\": \"%d\"}", i);
		fakepeer_event(fp, "EV", data);
	}
	fakepeer_reply(fp, "{\"return\": {}}");
	c = start_client(fp, &o, &err);
	mark = qmp_client_event_mark(c);
	ret = qmp_client_call(c, "query-status", NULL, &err);
	ok(ret != NULL, "event bytes: the reply after 6 events");
	is_int((long long)qmp_client_events_dropped(c), 4,
	       "event bytes: 4 dropped, 2 kept within %zu bytes", o.max_event_bytes);
	e4 = qmp_client_wait_event(c, &fourth, mark, 50, &err);
	ok(!e4 && err.code == CP_ERR_TIMEOUT, "event bytes: n=4 is gone");
	e5 = qmp_client_wait_event(c, &fifth, mark, 0, &err);
	e6 = qmp_client_wait_event(c, &last, mark, 0, &err);
	ok(e5 && e6, "event bytes: the 2 newest (n=5, n=6) are kept");
	qmp_client_free(c);
	fakepeer_finish(fp, "event bytes cap");
}

/* ---- connect ---- */

/**
 * test_connect() - retries until the socket appears; times out clearly
 */
static void test_connect(void)
{
	char dir[] = "/tmp/coldplug-test-sock.XXXXXX";
	char path[256], longpath[200];
	struct fakepeer *fp;
	struct qmp_client *c;
	struct cp_error err = { 0 };
	int64_t t0, dt;

	if (!mkdtemp(dir))
		bail_out("mkdtemp: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/qmp", dir);
	fp = fakepeer_new_listen(path, 300);
	fakepeer_negotiate(fp);
	fakepeer_start(fp);
	t0 = cp_now_ms();
	c = qmp_client_connect(path, 5000, NULL, &err);
	dt = elapsed_since(t0);
	if (!ok(c != NULL, "connect: retried until the socket appeared"))
		diag("%s", err.msg);
	ok(dt >= 250, "connect: waited for it (%lld ms)", (long long)dt);
	ok(c && qmp_client_is_ready(c), "connect: handshake done");
	is_str(c ? qmp_client_label(c) : NULL, path, "connect: the label is the path");
	qmp_client_free(c);
	fakepeer_finish(fp, "connect");

	t0 = cp_now_ms();
	c = qmp_client_connect(path, 200, NULL, &err);
	dt = elapsed_since(t0);
	ok(!c && err.code == CP_ERR_TIMEOUT, "connect: no socket: CP_ERR_TIMEOUT");
	ok(dt >= 200 && dt < 5000, "connect: after the deadline (%lld ms)", (long long)dt);
	like(err.msg, "no QMP socket at", "connect: the message says what is missing");
	like(err.msg, path, "connect: ...and where");

	fp = fakepeer_new_listen(path, 0); /* accepts, never greets */
	fakepeer_start(fp);
	c = qmp_client_connect(path, 300, NULL, &err);
	ok(!c && err.code == CP_ERR_TIMEOUT && strstr(err.msg, "no QMP greeting"),
	   "connect: a silent peer is a greeting timeout");
	fakepeer_finish(fp, "silent peer");

	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	c = qmp_client_connect(longpath, 5000, NULL, &err);
	ok(!c && err.code == CP_ERR_INVALID && strstr(err.msg, "too long"),
	   "connect: a path too long fails at once");
	rmdir(dir);
}

/* ---- asynchronous API ---- */

/**
 * struct chain - a reply callback that sends a second command
 * @first:	the first reply
 * @second:	the second reply (sent from inside the first callback)
 * @send_rc:	qmp_client_send()'s value inside the callback
 */
struct chain {
	struct got first;
	struct got second;
	int send_rc;
};

/**
 * chain_first() - qmp_reply_fn: record, then send "second" from the callback
 * @c:		client
 * @value:	reply value
 * @e:		error or NULL
 * @userdata:	the struct chain
 */
static void chain_first(struct qmp_client *c, cp_json *value, const struct cp_error *e,
			void *userdata)
{
	struct chain *ch = userdata;
	struct cp_error err;

	got_reply(c, value, e, &ch->first);
	ch->send_rc = qmp_client_send(c, "second", NULL, NULL, 0, 0, got_reply, &ch->second, &err);
}

/**
 * ready_cb() - qmp_ready_fn recording the handshake's end
 * @c:		client
 * @e:		error or NULL
 * @userdata:	an int set to 1 on success, -1 on error
 */
static void ready_cb(struct qmp_client *c, const struct cp_error *e, void *userdata)
{
	(void)c;
	*(int *)userdata = e ? -1 : 1;
}

/**
 * loop() - a minimal event loop: poll the fd and the next deadline
 * @c:		client
 * @done:	stop when non-zero
 * @ms:		give up after this long
 */
static void loop(struct qmp_client *c, const int *done, int ms)
{
	int64_t end = cp_now_ms() + ms;

	while (!*done && cp_now_ms() < end) {
		struct pollfd pfd = { .fd = qmp_client_fd(c), .events = POLLIN };
		int64_t next = qmp_client_next_deadline(c);
		int wait = next < 0 ? 20 : cp_deadline_left(next);

		if (qmp_client_wants_write(c))
			pfd.events |= POLLOUT;
		if (poll(&pfd, 1, wait > 20 ? 20 : wait) > 0) {
			if ((pfd.revents & POLLOUT) && qmp_client_flush(c, NULL) < 0)
				break;
			if ((pfd.revents & ~POLLOUT) && qmp_client_process(c, NULL) < 0)
				break;
		}
		qmp_client_expire(c);
	}
}

/**
 * test_async() - send / process / expire directly, a callback that sends
 */
static void test_async(void)
{
	struct qmp_event_match ev = { .event = "DONE" };
	struct qmp_event_match never = { .event = "NEVER" };
	struct fakepeer *fp = fakepeer_new();
	struct event_log events = { 0 };
	struct got waited = { 0 }, expired = { 0 };
	struct chain ch = { 0 };
	struct qmp_client_opts o;
	struct qmp_client *c;
	struct cp_error err = { 0 };
	int ready = 0;

	fakepeer_negotiate(fp);
	fakepeer_expect(fp, "{\"execute\": \"first\"}");
	fakepeer_reply(fp, "{\"return\": 1}");
	fakepeer_expect(fp, "{\"execute\": \"second\"}");
	fakepeer_event(fp, "DONE", NULL);
	fakepeer_reply(fp, "{\"return\": 2}");
	test_opts(&o);
	fakepeer_start(fp);
	c = qmp_client_new(fakepeer_client_fd(fp), &o, &err);
	ok(qmp_client_send(c, "early", NULL, NULL, 0, 0, got_reply, NULL, &err) < 0 &&
		   strstr(err.msg, "handshake not done"),
	   "async: send before the handshake is refused");
	is_int(qmp_client_handshake_async(c, HANDSHAKE_MS, ready_cb, &ready, &err), 0,
	       "async: handshake started");
	ok(qmp_client_handshake_async(c, HANDSHAKE_MS, ready_cb, &ready, &err) < 0,
	   "async: a second handshake is refused");
	ok(qmp_client_next_deadline(c) > 0, "async: the handshake has a deadline");
	loop(c, &ready, 3000);
	is_int(ready, 1, "async: ready callback");
	qmp_client_set_event_handler(c, log_event, &events);
	is_int(qmp_client_send(c, "first", NULL, NULL, 0, 0, chain_first, &ch, &err), 0,
	       "async: first sent");
	is_int(qmp_client_await_event(c, &ev, qmp_client_event_mark(c), 3000, got_reply, &waited,
				      &err),
	       0, "async: await DONE");
	is_int(qmp_client_await_event(c, &never, qmp_client_event_mark(c), 100, got_reply, &expired,
				      &err),
	       0, "async: await NEVER (100 ms)");
	loop(c, &ch.second.calls, 3000);
	ok(ch.first.calls == 1 && !strcmp(ch.first.value, "1"), "async: first reply");
	is_int(ch.send_rc, 0, "async: the callback sent a command");
	ok(ch.second.calls == 1 && !strcmp(ch.second.value, "2"), "async: its reply arrived");
	ok(waited.calls == 1 && strstr(waited.value, "\"DONE\""), "async: the event wait ended");
	is_str(events.names, "DONE", "async: the event handler saw it");
	loop(c, &expired.calls, 3000);
	ok(expired.calls == 1 && expired.err.code == CP_ERR_TIMEOUT,
	   "async: qmp_client_expire() ended the other wait with CP_ERR_TIMEOUT");
	is_int(qmp_client_next_deadline(c), -1, "async: nothing left to wait for");
	ok(qmp_client_is_ready(c), "async: still ready");
	qmp_client_free(c);
	fakepeer_finish(fp, "async");
}

/**
 * test_latch_fails_callbacks() - a latched error reaches every pending callback
 */
static void test_latch_fails_callbacks(void)
{
	struct qmp_event_match ev = { .event = "NEVER" };
	struct fakepeer *fp = fakepeer_new();
	struct got a = { 0 }, w = { 0 };
	struct qmp_client *c;
	struct cp_error err = { 0 };

	fakepeer_negotiate(fp);
	fakepeer_expect(fp, "{\"execute\": \"a\"}");
	fakepeer_close(fp);
	c = start_client(fp, NULL, &err);
	qmp_client_send(c, "a", NULL, NULL, 0, 0, got_reply, &a, &err);
	qmp_client_await_event(c, &ev, 0, 5000, got_reply, &w, &err);
	loop(c, &w.calls, 3000);
	ok(a.calls == 1 && a.err.code == CP_ERR_EOF && !strcmp(a.err.command, "a"),
	   "EOF fails the pending command (err.command = a)");
	ok(w.calls == 1 && w.err.code == CP_ERR_EOF, "EOF fails the event wait");
	qmp_client_free(c);
	fakepeer_finish(fp, "latched error reaches callbacks");
}

/**
 * test_caller_fail() - qmp_client_fail() ends the handshake or a pending
 * command with the caller's error, and latches it
 */
static void test_caller_fail(void)
{
	struct fakepeer *fp = fakepeer_new();
	struct got a = { 0 };
	struct qmp_client *c;
	struct cp_error err = { 0 }, why, later;
	struct qmp_client_opts o;
	int ready = 0;

	cp_error_set(&why, CP_ERR_TIMEOUT, "not identified in time");
	cp_error_set(&later, CP_ERR_PROTOCOL, "a second reason");
	fakepeer_negotiate(fp);
	fakepeer_expect(fp, "{\"execute\": \"a\"}");
	fakepeer_delay(fp, 10000); /* and never answers */
	c = start_client(fp, NULL, &err);
	is_int(qmp_client_send(c, "a", NULL, NULL, 0, 0, got_reply, &a, &err), 0, "fail: a sent");
	qmp_client_fail(c, &why);
	ok(a.calls == 1 && a.err.code == CP_ERR_TIMEOUT && strstr(a.err.msg, "not identified"),
	   "fail: the pending command gets the caller's error at once");
	qmp_client_fail(c, &later);
	ok(qmp_client_error(c) && strstr(qmp_client_error(c)->msg, "not identified"),
	   "fail: the client is latched, and keeps its first error");
	ok(qmp_client_send(c, "b", NULL, NULL, 0, 0, got_reply, NULL, &err) < 0 &&
		   err.code == CP_ERR_TIMEOUT,
	   "fail: a later send fails fast");
	is_int(qmp_client_next_deadline(c), -1, "fail: no deadline left");
	qmp_client_free(c);
	fakepeer_finish(fp, "caller's fail (the peer never answered)");

	fp = fakepeer_new();
	fakepeer_delay(fp, 10000); /* no greeting */
	fakepeer_start(fp);
	test_opts(&o);
	c = qmp_client_new(fakepeer_client_fd(fp), &o, &err);
	is_int(qmp_client_handshake_async(c, 60000, ready_cb, &ready, &err), 0,
	       "fail: handshake started");
	qmp_client_fail(c, &why);
	is_int(ready, -1, "fail: the handshake's callback gets the error");
	qmp_client_free(c);
	fakepeer_finish(fp, "caller's fail during the handshake");
}

/* ---- batches ---- */

/**
 * struct batch_end - what a freeing qmp_batch_fn saw
 * @calls:	how many times it ran
 * @err:	the connection error it got, if any
 */
struct batch_end {
	int calls;
	struct cp_error err;
};

/**
 * batch_free_done() - qmp_batch_fn that frees the batch, as every caller does
 * @b:		batch (freed here)
 * @e:		connection error, or NULL
 * @userdata:	the struct batch_end
 */
static void batch_free_done(struct qmp_batch *b, const struct cp_error *e, void *userdata)
{
	struct batch_end *end = userdata;

	end->calls++;
	if (e)
		cp_error_copy(&end->err, e);
	qmp_batch_free(b);
}

/**
 * test_batch_over_bound() - a batch passes the output bound while it is sent
 *
 * The second command is larger than the client's output bound (QEMU could
 * never have read that much): its send latches the client, the latch answers
 * item 0, the batch answers item 1 and its callback frees the batch.
 * qmp_batch_send() must not touch the batch after that (ASan).
 */
static void test_batch_over_bound(void)
{
	const size_t big = 4u << 20;
	struct fakepeer *fp = fakepeer_new();
	struct batch_end end = { 0 };
	cleanup_free char *blob = malloc(big + 1);
	struct qmp_batch *b = qmp_batch_new();
	cp_json *args = cp_json_new_object();
	struct qmp_client *c;
	struct cp_error err = { 0 };

	if (!blob || !b || !args)
		bail_out("out of memory");
	memset(blob, 'x', big);
	blob[big] = '\0';
	cp_json_set_str(args, "blob", blob);
	fakepeer_negotiate(fp);
	fakepeer_expect(fp, "{\"execute\": \"small\"}");
	fakepeer_close(fp);
	c = start_client(fp, NULL, &err);
	ok(qmp_batch_add_args(b, "nothing", NULL) < 0 && qmp_batch_count(b) == 0,
	   "batch: arguments that could not be built fail the add, nothing is queued");
	ok(qmp_batch_add(b, "small", NULL) == 0 && qmp_batch_add(b, "large", args) == 0,
	   "batch: two commands added");
	is_int(qmp_batch_send(b, c, batch_free_done, &end, &err), 0,
	       "batch: the first command went out");
	is_int(end.calls, 1, "batch: the bound passed mid-batch ran the callback once");
	ok(end.err.code == CP_ERR_PROTOCOL && strstr(end.err.msg, "does not read its socket"),
	   "batch: with the connection error (%s: %s)", cp_error_code_name(end.err.code),
	   end.err.msg);
	qmp_client_free(c);
	fakepeer_finish(fp, "batch: bound passed mid-batch");
}

/**
 * test_send_never_blocks() - a command larger than the socket buffer, to a
 * peer that is not reading yet, is queued: the send returns at once with
 * bytes still waiting, and the event loop writes them as the peer reads
 */
static void test_send_never_blocks(void)
{
	const size_t big = 2u << 20;
	struct fakepeer *fp = fakepeer_new();
	cleanup_free char *blob = malloc(big + 1);
	cleanup_free char *expect = NULL;
	cp_json *args = cp_json_new_object();
	struct qmp_client_opts o;
	struct got got = { 0 };
	struct qmp_client *c;
	struct cp_error err = { 0 };

	if (!blob || !args)
		bail_out("out of memory");
	memset(blob, 'x', big);
	blob[big] = '\0';
	cp_json_set_str(args, "blob", blob);
	if (asprintf(&expect, "{\"execute\": \"large\", \"arguments\": {\"blob\": \"%s\"}}", blob) <
	    0)
		bail_out("out of memory");
	fakepeer_negotiate(fp);
	fakepeer_delay(fp, 300);
	fakepeer_expect(fp, expect);
	fakepeer_reply(fp, "{\"return\": 7}");
	test_opts(&o);
	o.max_output = 4u << 20;
	c = start_client(fp, &o, &err);
	is_int(qmp_client_send(c, "large", args, NULL, 0, 0, got_reply, &got, &err), 0,
	       "never blocks: a 2 MiB command is accepted");
	ok(qmp_client_wants_write(c),
	   "never blocks: the send returned with bytes waiting for the peer to read");
	loop(c, &got.calls, 5000);
	ok(got.calls == 1 && !strcmp(got.value, "7"),
	   "never blocks: the loop wrote it as the peer read, and the reply came (%s)",
	   got.err.msg);
	ok(!qmp_client_wants_write(c), "never blocks: nothing is left to write");
	qmp_client_free(c);
	fakepeer_finish(fp, "never blocks");
}

/* ---- trace ---- */

/**
 * struct trace_log - log lines captured by the test's handler
 * @text:	every line, "\n"-separated
 */
struct trace_log {
	char text[16384];
};

/**
 * capture_log() - cp_log_fn appending each message to a struct trace_log
 * @level:	level (unused)
 * @msg:	the message
 * @userdata:	the struct trace_log
 */
static void capture_log(enum cp_log_level level, const char *msg, void *userdata)
{
	struct trace_log *l = userdata;
	size_t len = strlen(l->text);

	(void)level;
	snprintf(l->text + len, sizeof(l->text) - len, "%s\n", msg);
}

/**
 * traced_session() - a short session with an fd, captured in @l
 * @trace:	the trace option (1, 0, or -1 for the environment)
 * @l:		log capture
 * @fdnum:	set to the descriptor number passed
 */
static void traced_session(int trace, struct trace_log *l, int *fdnum)
{
	struct fakepeer *fp = fakepeer_new();
	cleanup_json cp_json *ret = NULL;
	cleanup_close int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	struct qmp_client_opts o;
	struct qmp_client *c;
	struct cp_error err;

	*fdnum = fd;
	memset(l, 0, sizeof(*l));
	test_opts(&o);
	o.trace = trace;
	fakepeer_negotiate(fp);
	fakepeer_expect_fds(fp, "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"t\"}}", 1,
			    "/dev/null");
	fakepeer_reply(fp, "{\"return\": {}}");
	cp_log_set_handler(capture_log, l);
	cp_log_set_level(CP_LOG_DEBUG);
	c = start_client(fp, &o, &err);
	ret = qmp_client_call_fds(c, "getfd", cp_json_parse("{\"fdname\":\"t\"}", 14, NULL), &fd, 1,
				  &err);
	ok(ret != NULL, "trace %d: getfd", trace);
	qmp_client_free(c);
	cp_log_set_handler(NULL, NULL);
	cp_log_set_level(CP_LOG_INFO);
	fakepeer_finish(fp, "trace %d session", trace);
}

/**
 * test_trace() - ">" / "<" lines and the [+fd N] note, only with trace on
 */
static void test_trace(void)
{
	struct trace_log *l = calloc(1, sizeof(*l));
	char note[64];
	int fd;

	traced_session(1, l, &fd);
	snprintf(note, sizeof(note), "\"id\":2} [+fd %d]", fd);
	like(l->text, "qmp fake < {\"QMP\":{", "trace on: the greeting, received");
	like(l->text, "qmp fake > {\"execute\":\"qmp_capabilities\",\"id\":1}",
	     "trace on: qmp_capabilities, sent");
	like(l->text, "qmp fake > {\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"t\"}",
	     "trace on: getfd, sent");
	like(l->text, note, "trace on: the fd is noted");
	like(l->text, "qmp fake < {\"return\":{},\"id\":2}", "trace on: the reply, received");

	traced_session(0, l, &fd);
	ok(!strstr(l->text, "qmp fake >") && !strstr(l->text, "qmp fake <") &&
		   !strstr(l->text, "[+fd"),
	   "trace off: no message lines");
	like(l->text, "qmp fake: ready", "trace off: other debug lines still come");

	setenv("COLDPLUG_QMP_TRACE", "1", 1);
	traced_session(-1, l, &fd);
	like(l->text, "qmp fake > {\"execute\":\"getfd\"", "COLDPLUG_QMP_TRACE=1: on");
	setenv("COLDPLUG_QMP_TRACE", "0", 1);
	traced_session(-1, l, &fd);
	ok(!strstr(l->text, "qmp fake >"), "COLDPLUG_QMP_TRACE=0: off");
	unsetenv("COLDPLUG_QMP_TRACE");
	free(l);
}

/**
 * main() - run the checks
 *
 * Return: TAP exit status
 */
/**
 * write_events() - the peer end writes @n small events
 * @fd:	the peer's end
 * @n:	how many
 *
 * Return: the bytes written
 */
static size_t write_events(int fd, int n)
{
	static const char ev[] = "{\"event\": \"RTC_CHANGE\", \"data\": {\"offset\": 1}, "
				 "\"timestamp\": {\"seconds\": 1, \"microseconds\": 1}}\r\n";
	size_t len = (size_t)n * (sizeof(ev) - 1), off;
	cleanup_free char *buf = malloc(len);

	/* One write: a unix socket charges each write's buffer (about 1 KiB
	 * for a small one) to the sender's 208 KiB, so 300 small writes block. */
	if (!buf)
		bail_out("write_events: out of memory");
	for (off = 0; off < len; off += sizeof(ev) - 1)
		memcpy(buf + off, ev, sizeof(ev) - 1);
	if (write(fd, buf, len) != (ssize_t)len)
		bail_out("write_events: %s", strerror(errno));
	return len;
}

/**
 * unread() - bytes the client has not read from its socket
 * @c:	client
 *
 * Return: bytes
 */
static long unread(struct qmp_client *c)
{
	int n = -1;

	if (ioctl(qmp_client_fd(c), FIONREAD, &n) < 0)
		bail_out("FIONREAD: %s", strerror(errno));
	return n;
}

/**
 * answer_one() - the peer end reads one command and answers it with its id
 * @fd:	the peer's end
 */
static void answer_one(int fd)
{
	char buf[4096], reply[128];
	const char *id;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);

	if (n <= 0)
		bail_out("answer_one: no command");
	buf[n] = '\0';
	id = strstr(buf, "\"id\":");
	snprintf(reply, sizeof(reply), "{\"return\": {}, \"id\": %ld}\r\n",
		 id ? strtol(id + 5, NULL, 10) : -1L);
	if (write(fd, reply, strlen(reply)) != (ssize_t)strlen(reply))
		bail_out("answer_one: %s", strerror(errno));
}

/**
 * test_flood_reads_less() - a peer that sends 256 events in a row with no
 * reply between them is read 4 KiB a turn, not 64 KiB, until it replies
 * again: a flooder costs the daemon's loop little per turn, and every other
 * VM gets its turn sooner (tests/security/test_hostile.c measures that)
 */
static void test_flood_reads_less(void)
{
	static const char greeting[] = "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7, "
				       "\"minor\": 2, \"micro\": 0}, \"package\": \"\"}, "
				       "\"capabilities\": []}}\r\n";
	struct qmp_client_opts o;
	struct qmp_client *c;
	struct cp_error err = { 0 };
	struct got reply = { 0 };
	size_t sent;
	long before;
	int sv[2], ready = 0, i;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		bail_out("socketpair: %s", strerror(errno));
	if (write(sv[1], greeting, sizeof(greeting) - 1) != (ssize_t)(sizeof(greeting) - 1))
		bail_out("greeting: %s", strerror(errno));
	test_opts(&o);
	c = qmp_client_new(sv[0], &o, &err);
	if (!c || qmp_client_handshake_async(c, HANDSHAKE_MS, ready_cb, &ready, &err) < 0)
		bail_out("flood: %s", err.msg);
	qmp_client_process(c, NULL);
	qmp_client_flush(c, NULL);
	answer_one(sv[1]);
	loop(c, &ready, 3000);
	ok(ready, "flood: the peer is negotiated with");

	sent = write_events(sv[1], 256);
	qmp_client_process(c, NULL);
	is_int(unread(c), 0, "flood: 256 events in a row (%zu bytes) are read in one turn", sent);
	write_events(sv[1], 300);
	before = unread(c);
	qmp_client_process(c, NULL);
	ok(before > 0 && before - unread(c) <= 4096,
	   "flood: past 256 events in a row, a turn reads at most 4 KiB (%ld bytes)",
	   before - unread(c));
	for (i = 0; i < 1000 && unread(c) > 0; i++)
		qmp_client_process(c, NULL);
	is_int(unread(c), 0, "flood: the rest is read in later turns");

	if (qmp_client_send(c, "query-status", NULL, NULL, 0, 1000, got_reply, &reply, &err) < 0)
		bail_out("flood: %s", err.msg);
	qmp_client_flush(c, NULL);
	answer_one(sv[1]);
	loop(c, &reply.calls, 3000);
	is_int(reply.calls, 1, "flood: the peer answers a command");
	sent = write_events(sv[1], 200);
	qmp_client_process(c, NULL);
	is_int(unread(c), 0, "flood: after a reply, a turn reads 64 KiB again (%zu bytes at once)",
	       sent);
	qmp_client_free(c);
	close(sv[1]);
}

int main(void)
{
	unsetenv("COLDPLUG_QMP_TRACE");
	test_transcripts();
	test_greeting();
	test_handshake_errors();
	test_events_around_reply();
	test_out_of_order();
	test_event_deadline();
	test_reply_deadline();
	test_negotiation_deadline();
	test_eof();
	test_bad_input();
	test_split_reply();
	test_qmp_error();
	test_hmp();
	test_fds();
	test_event_cap();
	test_event_bytes_cap();
	test_connect();
	test_async();
	test_latch_fails_callbacks();
	test_batch_over_bound();
	test_send_never_blocks();
	test_caller_fail();
	test_trace();
	test_flood_reads_less();
	return done_testing();
}

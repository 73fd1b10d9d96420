/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The fake QMP peer: see fakepeer.h. The peer deliberately frames and
 * compares with json-c directly, not with the library under test.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "coldplug/cleanup.h"
#include "fakepeer.h"
#include "tap.h"
#include "util.h"

#define FP_DEFAULT_TIMEOUT_MS 10000
#define FP_MAX_FDS	      64
#define FP_READ_CHUNK	      65536

enum fp_kind {
	FP_EXPECT,
	FP_SEND,
	FP_REPLY,
	FP_RAW,
	FP_DELAY,
	FP_CLOSE,
	FP_REPEAT,
};

/**
 * struct fp_step - one step of the script
 * @kind:	enum fp_kind
 * @json:	FP_EXPECT / FP_REPEAT: the command; FP_SEND / FP_REPLY: the message
 * @reply:	FP_REPEAT: the reply to each of the commands
 * @count:	FP_REPEAT: how many times the command comes in a row
 * @raw:	FP_RAW: bytes (owned)
 * @rawlen:	their count
 * @split:	FP_REPLY: write the first @split bytes, wait @ms, then the rest
 * @nfds:	FP_EXPECT: descriptors that must arrive with the command
 * @same_as:	FP_EXPECT: path each descriptor must refer to, or NULL
 * @ms:		FP_DELAY: how long; FP_REPLY with @split: the pause
 * @where:	origin, for messages ("transcript x.qmp:12" or "step 3")
 */
struct fp_step {
	enum fp_kind kind;
	cp_json *json;
	cp_json *reply;
	size_t count;
	char *raw;
	size_t rawlen;
	size_t split;
	size_t nfds;
	char *same_as;
	int ms;
	char where[160];
};

struct fakepeer {
	struct fp_step *steps;
	size_t nsteps, cap;
	size_t next;
	pthread_t thread;
	bool started;
	int fd;
	int client_fd;
	int stop[2];
	int done[2];
	char *listen_path;
	int listen_delay;
	int timeout_ms;

	struct json_tokener *tok;
	char rbuf[FP_READ_CHUNK];
	size_t rlen, roff;
	bool partial;
	bool eof;
	bool stopping;
	int rfds[FP_MAX_FDS];
	size_t nrfds;
	cp_json *last_id;

	char *errors;
	size_t nerrors;
};

/**
 * fp_error() - record a failure of the script (reported at the end)
 * @fp:		peer
 * @fmt:	printf format
 */
static void CP_PRINTF(2, 3) fp_error(struct fakepeer *fp, const char *fmt, ...)
{
	size_t old = fp->errors ? strlen(fp->errors) : 0;
	char msg[2048];
	va_list ap;
	char *n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = realloc(fp->errors, old + strlen(msg) + 2);
	if (!n)
		bail_out("out of memory");
	memcpy(n + old, msg, strlen(msg));
	n[old + strlen(msg)] = '\n';
	n[old + strlen(msg) + 1] = '\0';
	fp->errors = n;
	fp->nerrors++;
}

/**
 * fp_alloc() - a peer with no connection yet
 *
 * Return: new peer; aborts the test when out of memory
 */
static struct fakepeer *fp_alloc(void)
{
	struct fakepeer *fp = calloc(1, sizeof(*fp));

	if (!fp)
		bail_out("out of memory");
	fp->fd = fp->client_fd = -1;
	fp->timeout_ms = FP_DEFAULT_TIMEOUT_MS;
	if (pipe2(fp->stop, O_CLOEXEC) < 0)
		bail_out("pipe: %s", strerror(errno));
	if (pipe2(fp->done, O_CLOEXEC) < 0)
		bail_out("pipe2: %s", strerror(errno));
	fp->tok = json_tokener_new_ex(256);
	if (!fp->tok)
		bail_out("out of memory");
	json_tokener_set_flags(fp->tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);
	return fp;
}

/**
 * fakepeer_new() - a peer on a socketpair
 *
 * Return: new peer; take the client's end with fakepeer_client_fd()
 */
struct fakepeer *fakepeer_new(void)
{
	struct fakepeer *fp = fp_alloc();
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		bail_out("socketpair: %s", strerror(errno));
	fp->fd = sv[0];
	fp->client_fd = sv[1];
	return fp;
}

/**
 * fakepeer_new_fd() - a peer on a socket the test already connected
 * @fd:	the peer's end (owned by the peer from now on); e.g. a connection to
 *	coldplug serve, which expects QEMU to dial it
 *
 * Return: new peer
 */
struct fakepeer *fakepeer_new_fd(int fd)
{
	struct fakepeer *fp = fp_alloc();

	fp->fd = fd;
	return fp;
}

/**
 * fakepeer_new_listen() - a peer that listens on a unix socket path
 * @path:	where to listen (created by the peer's thread, removed at the end)
 * @delay_ms:	how long after fakepeer_start() the socket appears
 *
 * Return: new peer; it accepts one connection, then runs its script
 */
struct fakepeer *fakepeer_new_listen(const char *path, int delay_ms)
{
	struct fakepeer *fp = fp_alloc();

	fp->listen_path = strdup(path);
	fp->listen_delay = delay_ms;
	if (!fp->listen_path)
		bail_out("out of memory");
	return fp;
}

/**
 * fakepeer_client_fd() - the client's end of the socketpair
 * @fp:	peer from fakepeer_new()
 *
 * Return: the descriptor; the caller owns it from now on (it may hand it to
 * qmp_client_new())
 */
int fakepeer_client_fd(struct fakepeer *fp)
{
	return steal_fd(&fp->client_fd);
}

/**
 * fakepeer_set_timeout() - how long an expect step waits for its command
 * @fp:	peer
 * @ms:	milliseconds (default 10000)
 */
void fakepeer_set_timeout(struct fakepeer *fp, int ms)
{
	fp->timeout_ms = ms;
}

/**
 * add_step() - append a step to the script
 * @fp:		peer, not started
 * @kind:	enum fp_kind
 *
 * Return: the new step, zeroed but for @kind and a default @where
 */
static struct fp_step *add_step(struct fakepeer *fp, enum fp_kind kind)
{
	struct fp_step *st;

	if (fp->started)
		bail_out("fake peer: step added after fakepeer_start()");
	if (fp->nsteps == fp->cap) {
		fp->cap = fp->cap ? fp->cap * 2 : 16;
		fp->steps = realloc(fp->steps, fp->cap * sizeof(*fp->steps));
		if (!fp->steps)
			bail_out("out of memory");
	}
	st = &fp->steps[fp->nsteps++];
	memset(st, 0, sizeof(*st));
	st->kind = kind;
	snprintf(st->where, sizeof(st->where), "step %zu", fp->nsteps);
	return st;
}

/**
 * parse_script_json() - parse JSON written in a test script
 * @json:	the text; a mistake in it is a bug in the test
 *
 * Return: new reference; bails out on invalid JSON
 */
static cp_json *parse_script_json(const char *json)
{
	struct cp_error err;
	cp_json *v = cp_json_parse(json, strlen(json), &err);

	if (!v)
		bail_out("fake peer script: %s: %s", err.msg, json);
	return v;
}

/**
 * fakepeer_greeting() - send a QMP greeting of the given QEMU version
 * @fp:		peer
 * @major:	version
 * @minor:	version
 * @micro:	version
 */
void fakepeer_greeting(struct fakepeer *fp, int major, int minor, int micro)
{
	char buf[256];

	snprintf(buf, sizeof(buf),
		 "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": %d, \"minor\": %d, \"major\": %d},"
		 " \"package\": \"fakepeer\"}, \"capabilities\": [\"oob\"]}}",
		 micro, minor, major);
	fakepeer_send(fp, buf);
}

/**
 * fakepeer_negotiate() - greeting (QEMU 7.2.0), qmp_capabilities, reply
 * @fp:	peer
 */
void fakepeer_negotiate(struct fakepeer *fp)
{
	fakepeer_greeting(fp, 7, 2, 0);
	fakepeer_expect(fp, "{\"execute\": \"qmp_capabilities\"}");
	fakepeer_reply(fp, "{\"return\": {}}");
}

/**
 * fakepeer_identify() - negotiate, then answer coldplug serve's identify
 * queries (query-name, query-uuid, query-status, qom-list /objects) as a VM
 * with no stub objects
 * @fp:		peer
 * @name:	its VM name
 * @status:	its run state ("running", "paused", ...)
 */
void fakepeer_identify(struct fakepeer *fp, const char *name, const char *status)
{
	char reply[256];

	fakepeer_negotiate(fp);
	fakepeer_expect(fp, "{\"execute\":\"query-name\"}");
	snprintf(reply, sizeof(reply), "{\"return\":{\"name\":\"%s\"}}", name);
	fakepeer_reply(fp, reply);
	fakepeer_expect(fp, "{\"execute\":\"query-uuid\"}");
	fakepeer_reply(fp, "{\"return\":{\"UUID\":\"8e4a0b2c-0000-4000-8000-000000000001\"}}");
	fakepeer_expect(fp, "{\"execute\":\"query-status\"}");
	snprintf(reply, sizeof(reply),
		 "{\"return\":{\"status\":\"%s\",\"running\":%s,\"singlestep\":false}}", status,
		 strcmp(status, "running") ? "false" : "true");
	fakepeer_reply(fp, reply);
	fakepeer_expect(fp, "{\"execute\":\"qom-list\",\"arguments\":{\"path\":\"/objects\"}}");
	fakepeer_reply(fp, "{\"return\":[]}");
}

/**
 * fakepeer_expect() - expect a command (compared ignoring "id")
 * @fp:		peer
 * @json:	the command, e.g. {"execute": "query-block"}
 */
void fakepeer_expect(struct fakepeer *fp, const char *json)
{
	fakepeer_expect_fds(fp, json, 0, NULL);
}

/**
 * fakepeer_expect_fds() - expect a command with descriptors attached
 * @fp:		peer
 * @json:	the command
 * @nfds:	how many descriptors must arrive with it
 * @same_as:	path each must refer to (same st_dev and st_ino), or NULL to
 *		check only that each is a valid descriptor
 */
void fakepeer_expect_fds(struct fakepeer *fp, const char *json, size_t nfds, const char *same_as)
{
	struct fp_step *st = add_step(fp, FP_EXPECT);

	st->json = parse_script_json(json);
	st->nfds = nfds;
	st->same_as = same_as ? strdup(same_as) : NULL;
}

/**
 * fakepeer_send() - send a message as it is
 * @fp:		peer
 * @json:	greeting, event, or a reply whose id must stay as written
 */
void fakepeer_send(struct fakepeer *fp, const char *json)
{
	add_step(fp, FP_SEND)->json = parse_script_json(json);
}

/**
 * fakepeer_reply() - send a reply carrying the last matched command's id
 * @fp:		peer
 * @json:	{"return": ...} or {"error": {...}}
 */
void fakepeer_reply(struct fakepeer *fp, const char *json)
{
	add_step(fp, FP_REPLY)->json = parse_script_json(json);
}

/**
 * fakepeer_reply_split() - a reply written in two parts with a pause
 * @fp:		peer
 * @json:	the reply
 * @at:		bytes in the first write (of the serialised reply, id included)
 * @delay_ms:	pause between the writes
 */
void fakepeer_reply_split(struct fakepeer *fp, const char *json, size_t at, int delay_ms)
{
	struct fp_step *st = add_step(fp, FP_REPLY);

	st->json = parse_script_json(json);
	st->split = at;
	st->ms = delay_ms;
}

/**
 * fakepeer_expect_repeat() - expect the same command @count times in a row,
 * replying @reply (with the command's id) to each
 * @fp:		peer
 * @json:	the command, compared as fakepeer_expect() compares it
 * @reply:	{"return": ...} or {"error": {...}}
 * @count:	how many times, at least 1
 *
 * One step however large @count is: for a client that polls. The first
 * command that differs fails the test and stops the script there (one
 * failure, not one per repetition left).
 */
void fakepeer_expect_repeat(struct fakepeer *fp, const char *json, const char *reply, size_t count)
{
	struct fp_step *st;

	if (!count)
		bail_out("fake peer script: a repeated expectation of 0 commands");
	st = add_step(fp, FP_REPEAT);
	st->json = parse_script_json(json);
	st->reply = parse_script_json(reply);
	st->count = count;
}

/**
 * fakepeer_event() - send an event
 * @fp:		peer
 * @name:	event name
 * @data:	JSON object text of its data, or NULL for none
 */
void fakepeer_event(struct fakepeer *fp, const char *name, const char *data)
{
	char buf[4096];

	snprintf(buf, sizeof(buf),
		 "{\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 1}, "
		 "\"event\": \"%s\"%s%s}",
		 name, data ? ", \"data\": " : "", data ? data : "");
	fakepeer_send(fp, buf);
}

/**
 * fakepeer_raw() - send bytes as they are (malformed input, partial messages)
 * @fp:		peer
 * @bytes:	the bytes, copied
 * @len:	their count
 */
void fakepeer_raw(struct fakepeer *fp, const void *bytes, size_t len)
{
	struct fp_step *st = add_step(fp, FP_RAW);

	st->raw = malloc(len ? len : 1);
	if (!st->raw)
		bail_out("out of memory");
	memcpy(st->raw, bytes, len);
	st->rawlen = len;
}

/**
 * fakepeer_delay() - pause the script
 * @fp:	peer
 * @ms:	milliseconds (cut short when the test finishes)
 */
void fakepeer_delay(struct fakepeer *fp, int ms)
{
	add_step(fp, FP_DELAY)->ms = ms;
}

/**
 * fakepeer_close() - close the connection (the client sees end of stream)
 * @fp:	peer
 */
void fakepeer_close(struct fakepeer *fp)
{
	add_step(fp, FP_CLOSE);
}

/**
 * struct load_ctx - fakepeer_load()'s walk over a transcript
 * @fp:		peer
 * @name:	the transcript's file name, for messages
 */
struct load_ctx {
	struct fakepeer *fp;
	const char *name;
};

/**
 * load_line() - transcript_fn adding one line as a step
 * @dir:	direction
 * @msg:	the message
 * @nfds:	"+fds N" of a "> " line
 * @line:	line number
 * @userdata:	struct load_ctx
 *
 * Return: 0
 */
static int load_line(enum transcript_dir dir, cp_json *msg, size_t nfds, int line, void *userdata)
{
	struct load_ctx *lc = userdata;
	struct fp_step *st;
	enum fp_kind kind = FP_SEND;

	if (dir == TRANSCRIPT_TO_QEMU)
		kind = FP_EXPECT;
	else if (cp_json_get(msg, "return") || cp_json_get(msg, "error"))
		kind = FP_REPLY;
	st = add_step(lc->fp, kind);
	st->json = cp_json_ref(msg);
	st->nfds = nfds;
	snprintf(st->where, sizeof(st->where), "%s:%d", lc->name, line);
	return 0;
}

/**
 * fakepeer_load() - append a transcript's lines to the script
 * @fp:		peer
 * @path:	transcript file
 * @err:	filled on failure
 *
 * "< " replies become reply steps (their id replaced), other "< " lines
 * send steps, "> " lines expect steps.
 *
 * Return: 0, or -1
 */
int fakepeer_load(struct fakepeer *fp, const char *path, struct cp_error *err)
{
	const char *slash = strrchr(path, '/');
	struct load_ctx lc = { .fp = fp, .name = slash ? slash + 1 : path };

	return transcript_each(path, load_line, &lc, err);
}

/**
 * parse_fds_suffix() - split " +fds N" off the end of a "> " line
 * @text:	the line after "> " (modified: the suffix is cut)
 * @nfds:	set to N, or 0
 *
 * Return: 0, or -1 if the suffix is malformed
 */
static int parse_fds_suffix(char *text, size_t *nfds)
{
	char *suffix = strstr(text, " +fds ");
	unsigned long long n;

	*nfds = 0;
	if (!suffix || strchr(suffix, '}'))
		return 0;
	if (cp_parse_uint(suffix + 6, FP_MAX_FDS, &n, NULL) < 0)
		return -1;
	*nfds = (size_t)n;
	*suffix = '\0';
	return 0;
}

/**
 * transcript_line() - parse and hand over one transcript line
 * @line:	the line, without its newline (modified)
 * @lineno:	its number
 * @fn:		callback
 * @userdata:	passed to @fn
 * @err:	filled on failure
 *
 * Return: 0, or -1 (a malformed line, or @fn failed)
 */
static int transcript_line(char *line, int lineno, transcript_fn fn, void *userdata,
			   struct cp_error *err)
{
	cleanup_json cp_json *msg = NULL;
	enum transcript_dir dir;
	size_t nfds = 0;

	if (!line[0] || line[0] == '#')
		return 0;
	if ((line[0] != '>' && line[0] != '<') || line[1] != ' ')
		return cp_error_set(err, CP_ERR_INVALID, "line %d: not '> ', '< ' or '# '", lineno);
	dir = line[0] == '>' ? TRANSCRIPT_TO_QEMU : TRANSCRIPT_FROM_QEMU;
	if (dir == TRANSCRIPT_TO_QEMU && parse_fds_suffix(line + 2, &nfds) < 0)
		return cp_error_set(err, CP_ERR_INVALID, "line %d: bad +fds suffix", lineno);
	msg = cp_json_parse(line + 2, strlen(line + 2), err);
	if (!msg || !cp_json_is_object(msg))
		return cp_error_set(err, CP_ERR_INVALID, "line %d: not a JSON object", lineno);
	if (fn(dir, msg, nfds, lineno, userdata) < 0)
		return cp_error_set(err, CP_ERR_INVALID, "line %d: rejected", lineno);
	return 0;
}

/**
 * transcript_each() - call @fn for each message line of a transcript
 * @path:	the file
 * @fn:		callback
 * @userdata:	passed to @fn
 * @err:	filled on failure (the message names the file and line)
 *
 * Return: 0, or -1
 */
int transcript_each(const char *path, transcript_fn fn, void *userdata, struct cp_error *err)
{
	cleanup_free char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int lineno = 0, rc = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return cp_error_set_errno(err, errno, "%s", path);
	while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		rc = transcript_line(line, lineno, fn, userdata, err);
	}
	fclose(f);
	if (rc < 0)
		cp_error_prefix(err, "%s", path);
	return rc;
}

/**
 * json_text() - compact text of a message, for failure messages
 * @v:		value
 * @buf:	where to put it
 * @size:	its size (the text is truncated to fit)
 *
 * Return: @buf
 */
static const char *json_text(const cp_json *v, char *buf, size_t size)
{
	cleanup_free char *t = cp_json_dump(v, 0);

	cp_strlcpy(buf, t ? t : "(null)", size);
	return buf;
}

/**
 * write_bytes() - write all of @buf to the client
 * @fp:		peer
 * @buf:	bytes
 * @len:	their count
 * @where:	the step, for messages
 *
 * Return: 0, or -1 (recorded)
 */
static int write_bytes(struct fakepeer *fp, const char *buf, size_t len, const char *where)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = send(fp->fd, buf + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fp_error(fp, "%s: write to the client failed: %s", where, strerror(errno));
			return -1;
		}
		off += (size_t)n;
	}
	return 0;
}

/**
 * wait_stop() - sleep @ms unless the test finishes first
 * @fp:	peer
 * @ms:	milliseconds
 *
 * Return: true if the test finished meanwhile
 */
static bool wait_stop(struct fakepeer *fp, int ms)
{
	struct pollfd pfd = { .fd = fp->stop[0], .events = POLLIN };

	if (fp->stopping)
		return true;
	if (poll(&pfd, 1, ms) > 0)
		fp->stopping = true;
	return fp->stopping;
}

/**
 * take_fds() - store descriptors received with a chunk
 * @fp:	peer
 * @mh:	the received message header
 */
static void take_fds(struct fakepeer *fp, struct msghdr *mh)
{
	struct cmsghdr *cm;

	for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		size_t i, n;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (fp->nrfds < FP_MAX_FDS)
				fp->rfds[fp->nrfds++] = fd;
			else
				close(fd);
		}
	}
}

/**
 * read_chunk() - receive what the client sent, with any descriptors
 * @fp:		peer, its buffer fully consumed
 * @wait_ms:	how long to wait for input; 0 to only drain
 *
 * Return: 1 data read; 0 end of stream; -1 timed out or the test finished
 */
static int read_chunk(struct fakepeer *fp, int wait_ms)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * FP_MAX_FDS)];
		struct cmsghdr align;
	} ctrl;
	struct iovec iov = { .iov_base = fp->rbuf, .iov_len = sizeof(fp->rbuf) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct pollfd pfd[2] = { { .fd = fp->fd, .events = POLLIN },
				 { .fd = fp->stop[0], .events = POLLIN } };
	ssize_t n;

	if (poll(pfd, fp->stopping ? 1 : 2, wait_ms) <= 0)
		return -1;
	if (!(pfd[0].revents & (POLLIN | POLLHUP | POLLERR))) {
		fp->stopping = true;
		return -1;
	}
	mh.msg_control = ctrl.buf;
	mh.msg_controllen = sizeof(ctrl.buf);
	do {
		n = recvmsg(fp->fd, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n <= 0) {
		fp->eof = true;
		return 0;
	}
	take_fds(fp, &mh);
	fp->rlen = (size_t)n;
	fp->roff = 0;
	return 1;
}

/**
 * parse_buffered() - parse the next message from the buffer, if complete
 * @fp:		peer
 * @msg:	set to the message (new reference), or NULL
 *
 * Return: 0, or -1 on malformed input (recorded)
 */
static int parse_buffered(struct fakepeer *fp, cp_json **msg)
{
	enum json_tokener_error jerr;

	*msg = NULL;
	while (!fp->partial && fp->roff < fp->rlen && strchr(" \t\r\n", fp->rbuf[fp->roff]))
		fp->roff++;
	if (fp->roff == fp->rlen)
		return 0;
	*msg = json_tokener_parse_ex(fp->tok, fp->rbuf + fp->roff, (int)(fp->rlen - fp->roff));
	jerr = json_tokener_get_error(fp->tok);
	if (!*msg && jerr == json_tokener_continue) {
		fp->roff = fp->rlen;
		fp->partial = true;
		return 0;
	}
	if (!*msg) {
		fp_error(fp, "the client sent malformed JSON: %s", json_tokener_error_desc(jerr));
		return -1;
	}
	fp->roff += json_tokener_get_parse_end(fp->tok);
	fp->partial = false;
	json_tokener_reset(fp->tok);
	return 0;
}

/**
 * read_message() - the next complete message from the client
 * @fp:		peer
 * @wait_ms:	how long to wait in total; 0 to take only what is there
 * @msg:	set to the message (new reference), or NULL
 *
 * Return: 1 with a message; 0 end of stream; -1 timeout or test finished;
 * -2 malformed input (recorded)
 */
static int read_message(struct fakepeer *fp, int wait_ms, cp_json **msg)
{
	int64_t deadline = cp_now_ms() + wait_ms;
	int rc;

	for (;;) {
		if (parse_buffered(fp, msg) < 0)
			return -2;
		if (*msg)
			return 1;
		if (fp->eof)
			return 0;
		rc = read_chunk(fp, cp_deadline_left(deadline));
		if (rc <= 0)
			return rc;
	}
}

/**
 * check_fds() - the descriptors an expect step asked for
 * @fp:	peer
 * @st:	the step
 */
static void check_fds(struct fakepeer *fp, const struct fp_step *st)
{
	struct stat want = { 0 }, got;
	size_t i;

	if (fp->nrfds != st->nfds)
		fp_error(fp, "%s: %zu descriptors received with the command, expected %zu",
			 st->where, fp->nrfds, st->nfds);
	if (st->same_as && stat(st->same_as, &want) < 0)
		fp_error(fp, "%s: stat %s: %s", st->where, st->same_as, strerror(errno));
	for (i = 0; i < fp->nrfds; i++) {
		if (fstat(fp->rfds[i], &got) < 0)
			fp_error(fp, "%s: descriptor %zu is not valid", st->where, i);
		else if (st->same_as && (got.st_dev != want.st_dev || got.st_ino != want.st_ino))
			fp_error(fp, "%s: descriptor %zu is not %s", st->where, i, st->same_as);
		close(fp->rfds[i]);
	}
	fp->nrfds = 0;
}

/**
 * compare_command() - match a received command against the expected one
 * @fp:		peer
 * @st:		the expect or repeat step
 * @got:	the command received
 * @where:	the step (and repetition), for messages
 */
static void compare_command(struct fakepeer *fp, const struct fp_step *st, cp_json *got,
			    const char *where)
{
	cleanup_json cp_json *a = cp_json_copy(got);
	cleanup_json cp_json *b = cp_json_copy(st->json);
	char tg[1024], te[1024];
	cp_json *id = cp_json_get(got, "id");

	cp_json_unref(fp->last_id);
	fp->last_id = cp_json_copy(id);
	if (!id)
		fp_error(fp, "%s: command without an id: %s", where,
			 json_text(got, tg, sizeof(tg)));
	cp_json_del(a, "id");
	cp_json_del(b, "id");
	if (!cp_json_equal(a, b))
		fp_error(fp, "%s: unexpected command\n     got: %s\nexpected: %s", where,
			 json_text(got, tg, sizeof(tg)), json_text(st->json, te, sizeof(te)));
	check_fds(fp, st);
}

/**
 * expect_command() - wait for the command of an expect or repeat step
 * @fp:		peer
 * @st:		the step
 * @where:	the step (and repetition), for messages
 *
 * Return: 0, or -1 when the script cannot go on
 */
static int expect_command(struct fakepeer *fp, const struct fp_step *st, const char *where)
{
	cleanup_json cp_json *got = NULL;
	char te[1024];
	int rc = read_message(fp, fp->timeout_ms, &got);

	if (rc == 1) {
		compare_command(fp, st, got, where);
		return 0;
	}
	json_text(st->json, te, sizeof(te));
	if (rc == 0)
		fp_error(fp, "%s: the client closed the connection; expected %s", where, te);
	else if (rc == -1 && fp->stopping)
		fp_error(fp, "%s: the test finished; the command never came: %s", where, te);
	else if (rc == -1)
		fp_error(fp, "%s: no command within %d ms; expected %s", where, fp->timeout_ms, te);
	return -1;
}

/**
 * step_expect() - wait for the expected command
 * @fp:	peer
 * @st:	the step
 *
 * Return: 0, or -1 when the script cannot go on
 */
static int step_expect(struct fakepeer *fp, const struct fp_step *st)
{
	return expect_command(fp, st, st->where);
}

/**
 * send_message() - send @json; as a reply, with the last command's id
 * @fp:		peer
 * @st:		the step (its split and pause)
 * @json:	the message (borrowed)
 * @reply:	put the last command's id in
 *
 * Return: 0, or -1
 */
static int send_message(struct fakepeer *fp, const struct fp_step *st, const cp_json *json,
			bool reply)
{
	cleanup_json cp_json *msg = cp_json_copy(json);
	cleanup_free char *dump = NULL;
	cleanup_free char *text = NULL;
	size_t len;

	if (reply && fp->last_id)
		cp_json_set(msg, "id", cp_json_copy(fp->last_id));
	dump = cp_json_dump(msg, 0);
	text = dump ? cp_asprintf(NULL, "%s\r\n", dump) : NULL; /* QEMU ends lines with CRLF */
	if (!text)
		bail_out("out of memory");
	len = strlen(text);
	if (st->split && st->split < len) {
		if (write_bytes(fp, text, st->split, st->where) < 0)
			return -1;
		wait_stop(fp, st->ms);
		return write_bytes(fp, text + st->split, len - st->split, st->where);
	}
	return write_bytes(fp, text, len, st->where);
}

/**
 * step_send() - send a message; a reply gets the last command's id
 * @fp:	peer
 * @st:	the step
 *
 * Return: 0, or -1
 */
static int step_send(struct fakepeer *fp, const struct fp_step *st)
{
	return send_message(fp, st, st->json, st->kind == FP_REPLY);
}

/**
 * step_repeat() - the same command @st->count times, each one answered
 * @fp:	peer
 * @st:	the step
 *
 * Return: 0, or -1 when a command was missing or different (recorded once)
 */
static int step_repeat(struct fakepeer *fp, const struct fp_step *st)
{
	char where[sizeof(st->where) + 48];
	size_t i, before;

	for (i = 0; i < st->count; i++) {
		snprintf(where, sizeof(where), "%s (%zu of %zu)", st->where, i + 1, st->count);
		before = fp->nerrors;
		if (expect_command(fp, st, where) < 0 || fp->nerrors != before)
			return -1;
		if (send_message(fp, st, st->reply, true) < 0)
			return -1;
	}
	return 0;
}

/**
 * run_step() - execute one step
 * @fp:	peer
 * @st:	the step
 *
 * Return: 0 to go on, -1 to stop the script
 */
static int run_step(struct fakepeer *fp, const struct fp_step *st)
{
	switch (st->kind) {
	case FP_EXPECT:
		return step_expect(fp, st);
	case FP_SEND:
	case FP_REPLY:
		return step_send(fp, st);
	case FP_RAW:
		return write_bytes(fp, st->raw, st->rawlen, st->where);
	case FP_DELAY:
		wait_stop(fp, st->ms);
		return 0;
	case FP_CLOSE:
		close(fp->fd);
		fp->fd = -1;
		return -1;
	case FP_REPEAT:
		return step_repeat(fp, st);
	}
	return -1;
}

/**
 * check_unexpected() - after the script: anything the client still sends
 * @fp:	peer
 *
 * Waits until the client closes the connection or the test finishes, then
 * takes what is left in the socket; every message is an unexpected command.
 */
static void check_unexpected(struct fakepeer *fp)
{
	char tg[1024];
	int rc;

	for (;;) {
		cleanup_json cp_json *got = NULL;

		rc = read_message(fp, fp->stopping ? 0 : fp->timeout_ms * 6, &got);
		if (rc != 1)
			break;
		fp_error(fp, "unexpected command %s: %s",
			 fp->next < fp->nsteps ? "(the script stopped early)"
					       : "after the end of the script",
			 json_text(got, tg, sizeof(tg)));
	}
	if (rc == -1 && !fp->stopping)
		fp_error(fp, "the test did not finish within %d ms of the script's end",
			 fp->timeout_ms * 6);
	if (fp->nrfds)
		fp_error(fp, "%zu descriptors received that no step asked for", fp->nrfds);
	if (fp->partial)
		fp_error(fp, "an incomplete message from the client was left over");
}

/**
 * listen_accept() - create the listening socket after the delay, accept once
 * @fp:	peer in listen mode
 *
 * Return: 0, or -1 (recorded, or the test finished first)
 */
static int listen_accept(struct fakepeer *fp)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pollfd pfd[2];
	cleanup_close int ls = -1;

	if (wait_stop(fp, fp->listen_delay))
		return -1;
	cp_strlcpy(sa.sun_path, fp->listen_path, sizeof(sa.sun_path));
	ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 1) < 0) {
		fp_error(fp, "listen on %s: %s", fp->listen_path, strerror(errno));
		return -1;
	}
	pfd[0] = (struct pollfd){ .fd = ls, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = fp->stop[0], .events = POLLIN };
	if (poll(pfd, 2, fp->timeout_ms) <= 0 || !(pfd[0].revents & POLLIN)) {
		fp_error(fp, "nobody connected to %s", fp->listen_path);
		return -1;
	}
	fp->fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	if (fp->fd < 0)
		fp_error(fp, "accept: %s", strerror(errno));
	return fp->fd < 0 ? -1 : 0;
}

/**
 * peer_thread() - run the script, then watch for anything unexpected
 * @arg:	the peer
 *
 * Return: NULL
 */
static void *peer_thread(void *arg)
{
	struct fakepeer *fp = arg;
	struct timeval tv = { .tv_sec = 10 };

	if (fp->listen_path && listen_accept(fp) < 0)
		return NULL;
	setsockopt(fp->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (fp->next < fp->nsteps && !fp->stopping) {
		const struct fp_step *st = &fp->steps[fp->next++];

		if (run_step(fp, st) < 0)
			break;
	}
	if (fp->fd >= 0 && !fp->eof)
		check_unexpected(fp);
	if (write(fp->done[1], "x", 1) < 0)
		fp_error(fp, "cannot signal the end of the script");
	return NULL;
}

/**
 * fakepeer_wait() - wait until the script has run to its end (or failed)
 * @fp:		peer, started
 * @timeout_ms:	how long to wait
 *
 * For tests whose client runs elsewhere (another process), so that
 * fakepeer_finish() does not stop the script early.
 *
 * Return: true if it ended in time
 */
bool fakepeer_wait(struct fakepeer *fp, int timeout_ms)
{
	struct pollfd p = { .fd = fp->done[0], .events = POLLIN };

	return poll(&p, 1, timeout_ms) > 0;
}

/**
 * fakepeer_start() - start running the script in a thread
 * @fp:	peer
 */
void fakepeer_start(struct fakepeer *fp)
{
	fp->started = true;
	if (pthread_create(&fp->thread, NULL, peer_thread, fp) != 0)
		bail_out("pthread_create failed");
}

/**
 * report_unused() - record every step the script never reached
 * @fp:	peer, its thread joined
 */
static void report_unused(struct fakepeer *fp)
{
	char te[1024];
	size_t i;

	for (i = fp->next; i < fp->nsteps; i++) {
		const struct fp_step *st = &fp->steps[i];

		if (st->kind == FP_EXPECT || st->kind == FP_SEND || st->kind == FP_REPLY)
			fp_error(fp, "%s: step left unused: %s %s", st->where,
				 st->kind == FP_EXPECT ? "expect" : "send",
				 json_text(st->json, te, sizeof(te)));
		else if (st->kind == FP_REPEAT)
			fp_error(fp, "%s: step left unused: expect %zu times %s", st->where,
				 st->count, json_text(st->json, te, sizeof(te)));
		else
			fp_error(fp, "%s: step left unused (%s)", st->where,
				 st->kind == FP_RAW	? "raw bytes"
				 : st->kind == FP_DELAY ? "delay"
							: "close");
	}
}

/**
 * fakepeer_join() - tell the peer the test is done, wait for it, collect failures
 * @fp:		peer
 * @errors:	set to the failures, one per line (caller frees), or NULL; may be NULL
 *
 * Data the client sent before this call is still examined.
 *
 * Return: the number of failures
 */
size_t fakepeer_join(struct fakepeer *fp, char **errors)
{
	if (fp->started) {
		if (write(fp->stop[1], "x", 1) < 0)
			bail_out("write: %s", strerror(errno));
		pthread_join(fp->thread, NULL);
		fp->started = false;
		report_unused(fp);
	}
	if (errors)
		*errors = fp->errors ? strdup(fp->errors) : NULL;
	return fp->nerrors;
}

/**
 * fakepeer_finish() - join the peer, report it as one TAP check, free it
 * @fp:		peer
 * @fmt:	printf format of the check's name
 *
 * Return: true if the script ran exactly as written
 */
bool fakepeer_finish(struct fakepeer *fp, const char *fmt, ...)
{
	char name[512];
	size_t n = fakepeer_join(fp, NULL);
	va_list ap;
	bool good;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	good = ok(n == 0, "fake peer: %s", name);
	if (!good)
		diag("%s", fp->errors);
	fakepeer_free(fp);
	return good;
}

/**
 * fakepeer_free() - free a peer (joined first, if it still runs)
 * @fp:	peer, may be NULL
 */
void fakepeer_free(struct fakepeer *fp)
{
	size_t i;

	if (!fp)
		return;
	fakepeer_join(fp, NULL);
	for (i = 0; i < fp->nsteps; i++) {
		cp_json_unref(fp->steps[i].json);
		cp_json_unref(fp->steps[i].reply);
		free(fp->steps[i].raw);
		free(fp->steps[i].same_as);
	}
	for (i = 0; i < fp->nrfds; i++)
		close(fp->rfds[i]);
	if (fp->listen_path)
		unlink(fp->listen_path);
	if (fp->fd >= 0)
		close(fp->fd);
	if (fp->client_fd >= 0)
		close(fp->client_fd);
	close(fp->stop[0]);
	close(fp->stop[1]);
	close(fp->done[0]);
	close(fp->done[1]);
	json_tokener_free(fp->tok);
	cp_json_unref(fp->last_id);
	free(fp->listen_path);
	free(fp->steps);
	free(fp->errors);
	free(fp);
}

/**
 * fakepeer_connect() - start @fp and connect a negotiated QMP client to it
 * @fp:		the peer (its script already queued)
 * @peer_bounds:	the daemon's bounds (qmp_client_opts_init_peer()),
 *			else the defaults; replies are awaited 2 s either way
 *
 * Bails out when the handshake fails.
 *
 * Return: ready client (the caller frees it)
 */
struct qmp_client *fakepeer_connect(struct fakepeer *fp, bool peer_bounds)
{
	struct qmp_client_opts o;
	struct qmp_client *c;
	struct cp_error err;

	if (peer_bounds)
		qmp_client_opts_init_peer(&o);
	else
		qmp_client_opts_init(&o);
	o.cmd_timeout_ms = 2000;
	fakepeer_start(fp);
	c = qmp_client_new(fakepeer_client_fd(fp), &o, &err);
	if (!c || qmp_client_handshake(c, 2000, &err) < 0)
		bail_out("handshake: %s", err.msg);
	return c;
}

/**
 * fakepeer_dial() - connect to a unix socket as a QEMU dials a daemon
 * @path:	the socket
 *
 * Return: connected socket, or -1 (errno set)
 */
int fakepeer_dial(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, saved;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/**
 * fakepeer_send_all() - write every byte, or stop at an error
 * @fd:		connection
 * @buf:	bytes
 * @len:	count
 *
 * Return: true if all were written
 */
bool fakepeer_send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Running an Incus scriptlet through the incus-scriptlet runner: see
 * scriptlet.h. The runner's inputs and outputs are memfds it opens as
 * /proc/self/fd/N (no scratch directory to clean up); its stderr is a pipe
 * read together with its QMP socket, so the log keeps the order in which
 * things happened.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "coldplug/qmp.h"
#include "proc.h"
#include "scriptlet.h"
#include "util.h"

#define FD_QMP	      3
#define FD_FIRST_FILE 4
#define FD_PARKING    64	 /* above every target while they are moved */
#define LINE_MAX_LEN  (16 << 20) /* a reply larger than this is not QMP */
#define REAP_MS	      5000
#define STOP_GRACE_MS 1000
#define LOG_PREFIX    "time=\"" /* how the runner's log lines start */

/* The runner's files, in the order of their descriptors from FD_FIRST_FILE. */
enum run_file {
	RUN_SCRIPT,
	RUN_INSTANCE,
	RUN_CONF_IN,
	RUN_CONF_OUT,
	RUN_CMDLINE_IN,
	RUN_CMDLINE_OUT,
	RUN_NFILES,
};

static const char *const run_file_flag[RUN_NFILES] = {
	"--script", "--instance", "--conf-in", "--conf-out", "--cmdline-in", "--cmdline-out",
};

/**
 * struct linebuf - bytes read from a descriptor, split into lines
 * @buf:	data (NUL-terminated)
 * @len:	bytes held
 * @cap:	allocated size
 */
struct linebuf {
	char *buf;
	size_t len;
	size_t cap;
};

/**
 * struct run - one run of the runner
 * @a:		what to run (borrowed)
 * @res:	what it did (filled as it goes)
 * @files:	memfds of the runner's files, -1 where unused
 * @qmp_fd:	our end of its QMP socket, -1 once closed or without QMP
 * @child_qmp:	its end, until it is started
 * @err_fd:	read end of its stderr, -1 once at end of file
 * @err_wr:	write end, until it is started
 * @proc:	the process
 * @qin:	QMP bytes not yet a whole line
 * @ein:	stderr bytes not yet a whole line
 * @log:	the log text (open_memstream over @logbuf)
 * @logbuf:	its buffer
 * @loglen:	its length
 * @errtext:	the stderr lines that are not log lines: the error
 * @errbuf:	its buffer
 * @errlen:	its length
 * @deadline:	cp_now_ms() time by which the run must be over
 */
struct run {
	const struct lab_scriptlet_args *a;
	struct lab_scriptlet_result *res;
	int files[RUN_NFILES];
	int qmp_fd;
	int child_qmp;
	int err_fd;
	int err_wr;
	struct lab_proc proc;
	struct linebuf qin;
	struct linebuf ein;
	FILE *log;
	char *logbuf;
	size_t loglen;
	FILE *errtext;
	char *errbuf;
	size_t errlen;
	int64_t deadline;
};

/* ---- files ---- */

/**
 * memfd_text() - a memfd holding @text
 * @name:	its name (for /proc)
 * @text:	content, or NULL for an empty file
 * @err:	filled on failure
 *
 * Return: descriptor (close-on-exec), or -1
 */
static int memfd_text(const char *name, const char *text, struct cp_error *err)
{
	cleanup_close int fd = memfd_create(name, MFD_CLOEXEC);
	size_t len = text ? strlen(text) : 0, off = 0;

	if (fd < 0)
		return cp_error_set_errno(err, errno, "memfd_create");
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cp_error_set_errno(err, errno, "writing %s", name);
		off += (size_t)n;
	}
	return steal_fd(&fd);
}

/**
 * memfd_json() - a memfd holding @v serialised
 * @name:	its name
 * @v:		value
 * @err:	filled on failure
 *
 * Return: descriptor, or -1
 */
static int memfd_json(const char *name, const cp_json *v, struct cp_error *err)
{
	cleanup_free char *text = cp_json_dump(v, 0);

	if (!text)
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory");
	return memfd_text(name, text, err);
}

/**
 * fd_read_all() - everything in the file @fd refers to, from its start
 * @fd:		descriptor of a regular file
 * @err:	filled on failure
 *
 * Return: new NUL-terminated string (caller frees), or NULL
 */
static char *fd_read_all(int fd, struct cp_error *err)
{
	cleanup_free char *buf = NULL;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&buf, &len);
	if (!f)
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory"), NULL;
	for (;;) {
		char chunk[4096];
		ssize_t n = pread(fd, chunk, sizeof(chunk), (off_t)len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fclose(f);
			if (n < 0)
				return cp_error_set_errno(err, errno, "reading a result"), NULL;
			break;
		}
		fwrite(chunk, 1, (size_t)n, f);
		fflush(f); /* len is the offset of the next read */
	}
	return steal_pointer(&buf);
}

/**
 * run_files() - create the runner's input and output files
 * @r:		run
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int run_files(struct run *r, struct cp_error *err)
{
	const struct lab_scriptlet_args *a = r->a;

	r->files[RUN_SCRIPT] = memfd_text("scriptlet", a->script, err);
	if (r->files[RUN_SCRIPT] < 0)
		return -1;
	r->files[RUN_INSTANCE] = memfd_json("instance", a->instance, err);
	if (r->files[RUN_INSTANCE] < 0)
		return -1;
	if (a->conf && ((r->files[RUN_CONF_IN] = memfd_json("conf-in", a->conf, err)) < 0 ||
			(r->files[RUN_CONF_OUT] = memfd_text("conf-out", NULL, err)) < 0))
		return -1;
	if (a->cmdline &&
	    ((r->files[RUN_CMDLINE_IN] = memfd_json("cmdline-in", a->cmdline, err)) < 0 ||
	     (r->files[RUN_CMDLINE_OUT] = memfd_text("cmdline-out", NULL, err)) < 0))
		return -1;
	return 0;
}

/**
 * read_json_result() - parse an output file of a successful run
 * @fd:		its memfd
 * @what:	"conf" / "cmdline", for messages
 * @out:	set to the value (new reference)
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int read_json_result(int fd, const char *what, cp_json **out, struct cp_error *err)
{
	cleanup_free char *text = fd_read_all(fd, err);

	if (!text)
		return -1;
	*out = cp_json_parse(text, strlen(text), err);
	if (!*out)
		return cp_error_prefix(err, "incus-scriptlet's %s", what);
	return 0;
}

/* ---- the child ---- */

/**
 * child_fail() - in the child: report that exec failed, and exit 127
 * @what:	the step that failed
 *
 * Only async-signal-safe calls: the parent may have threads.
 */
static _Noreturn void child_fail(const char *what)
{
	static const char msg[] = "incus-scriptlet: cannot start the runner: ";

	if (write(2, msg, sizeof(msg) - 1) > 0 && write(2, what, strlen(what)) > 0)
		(void)!write(2, "\n", 1);
	_exit(127);
}

/**
 * struct fd_map - descriptors the child gets, and their numbers there
 * @src:	the parent's descriptors
 * @dst:	their numbers in the child
 * @n:		count
 */
struct fd_map {
	int src[RUN_NFILES + 4];
	int dst[RUN_NFILES + 4];
	size_t n;
};

/**
 * fd_map_add() - pass @src as @dst
 * @m:		map
 * @src:	parent's descriptor
 * @dst:	child's number
 */
static void fd_map_add(struct fd_map *m, int src, int dst)
{
	CP_ASSERT(m->n < CP_ARRAY_SIZE(m->src));
	m->src[m->n] = src;
	m->dst[m->n++] = dst;
}

/**
 * child_exec() - in the child: die with the parent, set up descriptors, exec
 * @argv:	program and arguments
 * @m:		descriptors to pass
 * @parent:	the parent's pid before fork()
 *
 * The sources are first parked above every target and everything below is
 * closed, so that no dup2() overwrites a source still to be moved and the
 * runner holds nothing else of the caller's (an inherited descriptor must
 * not pose as its QMP socket on fd 3).
 */
static _Noreturn void child_exec(const char *const argv[], const struct fd_map *m, pid_t parent)
{
	int parked[CP_ARRAY_SIZE(m->src)];
	sigset_t none;
	size_t i;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(127); /* the parent is already gone: do not outlive it */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (i = 0; i < m->n; i++)
		if ((parked[i] = fcntl(m->src[i], F_DUPFD, FD_PARKING)) < 0)
			child_fail("fcntl");
	close_range(0, FD_PARKING - 1, 0);
	for (i = 0; i < m->n; i++)
		if (dup2(parked[i], m->dst[i]) < 0)
			child_fail("dup2");
	close_range(FD_FIRST_FILE + RUN_NFILES, ~0U, 0);
	execv(argv[0], (char *const *)argv);
	child_fail(argv[0]);
}

/**
 * run_argv() - the runner's command line
 * @r:		run
 * @argv:	filled (strings in @paths)
 * @paths:	storage for the /proc/self/fd/N paths
 *
 * Return: @argv
 */
static const char **run_argv(const struct run *r, const char *argv[2 * RUN_NFILES + 4],
			     char paths[RUN_NFILES][32])
{
	size_t n = 0, i;

	argv[n++] = r->a->runner;
	argv[n++] = "--stage";
	argv[n++] = r->a->stage;
	for (i = 0; i < RUN_NFILES; i++) {
		if (r->files[i] < 0)
			continue;
		snprintf(paths[i], sizeof(paths[i]), "/proc/self/fd/%d", FD_FIRST_FILE + (int)i);
		argv[n++] = run_file_flag[i];
		argv[n++] = paths[i];
	}
	argv[n] = NULL;
	return argv;
}

/**
 * run_spawn() - start the runner
 * @r:		run, files and channels created
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int run_spawn(struct run *r, struct cp_error *err)
{
	cleanup_close int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	const char *argv[2 * RUN_NFILES + 4];
	char paths[RUN_NFILES][32];
	struct fd_map m = { .n = 0 };
	pid_t parent = getpid();
	size_t i;

	if (null < 0)
		return cp_error_set_errno(err, errno, "/dev/null");
	fd_map_add(&m, null, 0);
	fd_map_add(&m, r->err_wr, 1);
	fd_map_add(&m, r->err_wr, 2);
	if (r->child_qmp >= 0)
		fd_map_add(&m, r->child_qmp, FD_QMP);
	for (i = 0; i < RUN_NFILES; i++)
		if (r->files[i] >= 0)
			fd_map_add(&m, r->files[i], FD_FIRST_FILE + (int)i);
	run_argv(r, argv, paths);
	fflush(NULL);
	r->proc.pid = fork();
	if (r->proc.pid == 0)
		child_exec(argv, &m, parent);
	if (r->proc.pid < 0) {
		r->proc.pid = 0;
		return cp_error_set_errno(err, errno, "fork for %s", r->a->runner);
	}
	return 0;
}

/**
 * run_channels() - the QMP socketpair (when there is QMP) and the stderr pipe
 * @r:		run
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int run_channels(struct run *r, struct cp_error *err)
{
	int sv[2], pfd[2];

	if (r->a->qmp) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			return cp_error_set_errno(err, errno, "socketpair");
		r->qmp_fd = sv[0];
		r->child_qmp = sv[1];
	}
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return cp_error_set_errno(err, errno, "pipe");
	r->err_fd = pfd[0];
	r->err_wr = pfd[1];
	return 0;
}

/* ---- lines ---- */

/**
 * linebuf_fill() - read what @fd has into @lb
 * @lb:		buffer
 * @fd:		descriptor (readable)
 * @err:	filled on failure
 *
 * Return: bytes read (0 at end of file), or -1
 */
static ssize_t linebuf_fill(struct linebuf *lb, int fd, struct cp_error *err)
{
	ssize_t n;

	if (lb->cap - lb->len < 4096 + 1) {
		size_t cap = lb->cap ? lb->cap * 2 : 8192;
		char *p;

		if (cap > LINE_MAX_LEN)
			return cp_error_set(err, CP_ERR_PROTOCOL, "runner line over %d bytes",
					    LINE_MAX_LEN);
		p = realloc(lb->buf, cap);
		if (!p)
			return cp_error_set(err, CP_ERR_NOMEM, "out of memory");
		lb->buf = p;
		lb->cap = cap;
	}
	do
		n = read(fd, lb->buf + lb->len, lb->cap - lb->len - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return cp_error_set_errno(err, errno, "reading from the runner");
	lb->len += (size_t)n;
	lb->buf[lb->len] = '\0';
	return n;
}

/**
 * linebuf_take() - remove the first whole line from @lb
 * @lb:		buffer
 * @line:	set to the line, without its newline (caller frees)
 * @final:	at end of file: a last line without newline counts too
 *
 * Return: true if a line was taken
 */
static bool linebuf_take(struct linebuf *lb, char **line, bool final)
{
	char *nl = lb->len ? memchr(lb->buf, '\n', lb->len) : NULL;
	size_t len = nl ? (size_t)(nl - lb->buf) : lb->len;
	size_t used = nl ? len + 1 : len;

	if (!nl && (!final || !lb->len))
		return false;
	*line = strndup(lb->buf, len);
	memmove(lb->buf, lb->buf + used, lb->len - used + 1);
	lb->len -= used;
	return *line != NULL;
}

/* ---- the log ---- */

/**
 * log_stamp() - write "[RFC3339 time] " to the log, as qemu.qmp.log has
 * @r:	run
 */
static void log_stamp(struct run *r)
{
	char buf[32];
	time_t now = time(NULL);
	struct tm tm;

	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	fprintf(r->log, "[%s] ", buf);
}

/**
 * log_json() - one "[time] WHAT: {json}" line
 * @r:		run
 * @what:	"QUERY", "REPLY"
 * @v:		message, or NULL to write @raw
 * @raw:	text used when @v is NULL
 */
static void log_json(struct run *r, const char *what, const cp_json *v, const char *raw)
{
	cleanup_free char *text = v ? cp_json_dump(v, 0) : NULL;

	log_stamp(r);
	fprintf(r->log, "%s: %s\n", what, text ? text : raw);
}

/**
 * stderr_line() - one line of the runner's stderr: log line or error text
 * @r:		run
 * @line:	the line
 */
static void stderr_line(struct run *r, const char *line)
{
	if (cp_str_has_prefix(line, LOG_PREFIX)) {
		fprintf(r->log, "%s\n", line);
		return;
	}
	log_stamp(r);
	fprintf(r->log, "RUNNER: %s\n", line);
	fprintf(r->errtext, "%s%s", ftell(r->errtext) > 0 ? "\n" : "", line);
}

/* ---- QMP ---- */

/**
 * error_reply() - an error reply in QEMU's form
 * @cls:	error class
 * @desc:	description
 *
 * Return: new reference, or NULL when out of memory
 */
static cp_json *error_reply(const char *cls, const char *desc)
{
	cleanup_json cp_json *reply = cp_json_new_object();
	cleanup_json cp_json *e = cp_json_new_object();

	if (!reply || !e || cp_json_set_str(e, "class", cls) < 0 ||
	    cp_json_set_str(e, "desc", desc) < 0 ||
	    cp_json_set(reply, "error", steal_pointer(&e)) < 0)
		return NULL;
	return steal_pointer(&reply);
}

/**
 * qmp_desc() - QEMU's own description out of a CP_ERR_QMP message
 * @e:		the error ("cmd: desc", with any context before it)
 * @cmd:	the command
 *
 * Return: pointer into @e->msg
 */
static const char *qmp_desc(const struct cp_error *e, const char *cmd)
{
	size_t len = strlen(cmd);
	const char *p = strstr(e->msg, cmd);

	if (p && p[len] == ':' && p[len + 1] == ' ')
		return p + len + 2;
	return e->msg;
}

/**
 * forward() - run one of the runner's commands on the caller's client
 * @r:		run
 * @cmd:	the command (NULL if the line was not JSON)
 * @line:	the line as received
 *
 * Return: the reply as QEMU sent it (new reference), or NULL when the
 * connection to QEMU failed (the error is logged)
 */
static cp_json *forward(struct run *r, const cp_json *cmd, const char *line)
{
	const char *name = cmd ? cp_json_get_str(cmd, "execute") : NULL;
	cp_json *args = cmd ? cp_json_get(cmd, "arguments") : NULL;
	cleanup_json cp_json *ret = NULL, *reply = NULL;
	struct cp_error e = { 0 };

	if (!name)
		return error_reply("GenericError",
				   cmd ? "QMP input lacks member 'execute'" : "JSON parse error");
	if (r->a->call)
		ret = r->a->call(r->a->call_arg, name, args ? cp_json_copy(args) : NULL, &e);
	else
		ret = qmp_client_call(r->a->qmp, name, args ? cp_json_copy(args) : NULL, &e);
	if (ret) {
		reply = cp_json_new_object();
		if (reply && cp_json_set(reply, "return", steal_pointer(&ret)) == 0)
			return steal_pointer(&reply);
		return NULL;
	}
	if (!qmp_client_error(r->a->qmp))
		return error_reply(e.code == CP_ERR_QMP ? e.qmp_class : "GenericError",
				   e.code == CP_ERR_QMP ? qmp_desc(&e, name) : e.msg);
	log_stamp(r);
	fprintf(r->log, "CLOSED: %s (after %s)\n", e.msg, line);
	return NULL;
}

/**
 * trace_add() - record a command and its reply in the result
 * @r:		run
 * @cmd:	command (borrowed), or NULL if it was not JSON
 * @reply:	reply (borrowed), or NULL if the connection failed
 */
static void trace_add(struct run *r, const cp_json *cmd, const cp_json *reply)
{
	cleanup_json cp_json *item = cp_json_new_object();

	if (!item || !r->res->trace)
		return;
	cp_json_set(item, "command", cmd ? cp_json_copy(cmd) : NULL);
	cp_json_set(item, "reply", reply ? cp_json_copy(reply) : NULL);
	cp_json_append(r->res->trace, steal_pointer(&item));
}

/**
 * qmp_close() - stop carrying commands: the runner then sees its monitor go
 * @r:	run
 */
static void qmp_close(struct run *r)
{
	if (r->qmp_fd >= 0)
		close(r->qmp_fd);
	r->qmp_fd = -1;
}

/**
 * send_reply() - write one reply line to the runner
 * @r:		run
 * @reply:	the reply
 *
 * A runner that already exited (it gave up waiting) is not an error.
 */
static void send_reply(struct run *r, const cp_json *reply)
{
	cleanup_free char *text = cp_json_dump(reply, 0);
	size_t len, off = 0;

	if (!text) {
		qmp_close(r);
		return;
	}
	len = strlen(text);
	text[len++] = '\n'; /* replaces the NUL: sent by length */
	while (off < len) {
		ssize_t n = send(r->qmp_fd, text + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			qmp_close(r);
			return;
		}
		off += (size_t)n;
	}
}

/**
 * proxy_line() - carry one command line to QEMU and its reply back
 * @r:		run
 * @line:	the runner's line
 */
static void proxy_line(struct run *r, const char *line)
{
	cleanup_json cp_json *cmd = cp_json_parse(line, strlen(line), NULL);
	cleanup_json cp_json *reply = NULL;
	/* Incus's qmp.ExcludedCommands: Monitor.Run logs neither way */
	bool logged = !cp_streq(cp_json_get_str(cmd, "execute"), "ringbuf-read");

	r->res->calls++;
	if (logged)
		log_json(r, "QUERY", cmd, line);
	reply = forward(r, cmd, line);
	trace_add(r, cmd, reply);
	if (!reply) {
		qmp_close(r);
		return;
	}
	if (logged)
		log_json(r, "REPLY", reply, NULL);
	send_reply(r, reply);
}

/* ---- the loop ---- */

/**
 * on_readable() - read from one of the runner's channels and act on lines
 * @r:		run
 * @fdp:	&r->qmp_fd or &r->err_fd; set to -1 at end of file
 * @lb:		its line buffer
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int on_readable(struct run *r, int *fdp, struct linebuf *lb, struct cp_error *err)
{
	ssize_t n = linebuf_fill(lb, *fdp, err);
	bool eof = n == 0, qmp = fdp == &r->qmp_fd;
	char *line;

	if (n < 0)
		return -1;
	while (linebuf_take(lb, &line, eof && !qmp)) {
		if (qmp && r->qmp_fd >= 0)
			proxy_line(r, line);
		else if (!qmp)
			stderr_line(r, line);
		free(line);
	}
	if (eof && *fdp >= 0) {
		close(*fdp);
		*fdp = -1;
	}
	return 0;
}

/**
 * run_loop() - serve the runner until it closes both channels
 * @r:		run, started
 * @err:	filled on failure (CP_ERR_TIMEOUT past the deadline)
 *
 * Return: 0, or -1
 */
static int run_loop(struct run *r, struct cp_error *err)
{
	while (r->qmp_fd >= 0 || r->err_fd >= 0) {
		struct pollfd p[2] = { { .fd = r->qmp_fd, .events = POLLIN },
				       { .fd = r->err_fd, .events = POLLIN } };
		int left = cp_deadline_left(r->deadline), n;

		if (left == 0)
			return cp_error_set(err, CP_ERR_TIMEOUT,
					    "incus-scriptlet still running at stage %s after %d ms",
					    r->a->stage, r->a->timeout_ms);
		n = poll(p, 2, left);
		if (n < 0 && errno != EINTR)
			return cp_error_set_errno(err, errno, "poll");
		if (n > 0 && p[0].revents && on_readable(r, &r->qmp_fd, &r->qin, err) < 0)
			return -1;
		if (n > 0 && p[1].revents && on_readable(r, &r->err_fd, &r->ein, err) < 0)
			return -1;
	}
	return 0;
}

/* ---- the result ---- */

/**
 * run_outcome() - judge the reaped runner and collect its results
 * @r:		run, reaped
 * @err:	filled on failure
 *
 * Return: 0 when the hook returned None, or -1
 */
static int run_outcome(struct run *r, struct cp_error *err)
{
	struct lab_scriptlet_result *res = r->res;
	char how[64];

	fflush(r->errtext);
	if (lab_proc_exited_ok(&r->proc)) {
		if (r->files[RUN_CONF_OUT] >= 0 &&
		    read_json_result(r->files[RUN_CONF_OUT], "conf", &res->conf, err) < 0)
			return -1;
		if (r->files[RUN_CMDLINE_OUT] >= 0 &&
		    read_json_result(r->files[RUN_CMDLINE_OUT], "cmdline", &res->cmdline, err) < 0)
			return -1;
		return 0;
	}
	res->error = strdup(r->errlen ? r->errbuf : "");
	lab_proc_describe(&r->proc, how, sizeof(how));
	if (r->proc.reaped && WIFEXITED(r->proc.status) && WEXITSTATUS(r->proc.status) == 1)
		return cp_error_set(err, CP_ERR_FAILED, "%s",
				    r->errlen ? r->errbuf : "(no message)");
	return cp_error_set(err, CP_ERR_FAILED, "incus-scriptlet %s: %s", how,
			    r->errlen ? r->errbuf : "(no message)");
}

/**
 * run_init() - set up @r for @a
 * @r:		run
 * @a:		arguments
 * @res:	result, zeroed here
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int run_init(struct run *r, const struct lab_scriptlet_args *a,
		    struct lab_scriptlet_result *res, struct cp_error *err)
{
	size_t i;

	memset(r, 0, sizeof(*r));
	memset(res, 0, sizeof(*res));
	r->a = a;
	r->res = res;
	for (i = 0; i < RUN_NFILES; i++)
		r->files[i] = -1;
	r->qmp_fd = r->child_qmp = r->err_fd = r->err_wr = -1;
	r->log = open_memstream(&r->logbuf, &r->loglen);
	r->errtext = open_memstream(&r->errbuf, &r->errlen);
	res->trace = cp_json_new_array();
	if (!r->log || !r->errtext || !res->trace)
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory");
	r->deadline = cp_now_ms() + (a->timeout_ms > 0 ? a->timeout_ms : LAB_SCRIPTLET_TIMEOUT_MS);
	return 0;
}

/**
 * run_release() - close everything @r holds; the log goes to the result
 * @r:	run (the process already reaped or stopped)
 */
static void run_release(struct run *r)
{
	int *fds[] = { &r->qmp_fd, &r->child_qmp, &r->err_fd, &r->err_wr };
	size_t i;

	for (i = 0; i < CP_ARRAY_SIZE(fds); i++)
		if (*fds[i] >= 0)
			close(*fds[i]);
	for (i = 0; i < RUN_NFILES; i++)
		if (r->files[i] >= 0)
			close(r->files[i]);
	if (r->log && fclose(r->log) == 0)
		r->res->log = steal_pointer(&r->logbuf);
	if (r->errtext)
		fclose(r->errtext);
	free(r->logbuf);
	free(r->errbuf);
	free(r->qin.buf);
	free(r->ein.buf);
}

/**
 * run_wait() - serve the runner, then reap it (or stop it when it overstays)
 * @r:		run, started
 * @err:	filled on failure
 *
 * Return: 0 once reaped, or -1 (the process is gone either way)
 */
static int run_wait(struct run *r, struct cp_error *err)
{
	int rc;

	close(r->child_qmp);
	close(r->err_wr);
	r->child_qmp = r->err_wr = -1;
	rc = run_loop(r, err);
	if (rc == 0)
		rc = lab_proc_reap(&r->proc, REAP_MS, err);
	if (rc < 0)
		lab_proc_stop(&r->proc, STOP_GRACE_MS, NULL);
	return rc;
}

/**
 * lab_scriptlet_exec() - run one stage of a scriptlet as Incus does
 * @a:		what to run
 * @res:	filled with what it did, also on failure; release it with
 *		lab_scriptlet_result_clear()
 * @err:	filled on failure: CP_ERR_FAILED with the runner's error text
 *		(res->error) when the scriptlet failed, other codes when it could
 *		not be run
 *
 * Return: 0 when the hook returned None, or -1
 */
int lab_scriptlet_exec(const struct lab_scriptlet_args *a, struct lab_scriptlet_result *res,
		       struct cp_error *err)
{
	int64_t t0 = cp_now_ms();
	struct run r;
	int rc;

	rc = run_init(&r, a, res, err);
	if (rc == 0)
		rc = run_files(&r, err);
	if (rc == 0)
		rc = run_channels(&r, err);
	if (rc == 0)
		rc = run_spawn(&r, err);
	if (rc == 0)
		rc = run_wait(&r, err);
	if (rc == 0)
		rc = run_outcome(&r, err);
	run_release(&r);
	res->elapsed_ms = cp_now_ms() - t0;
	return rc;
}

/**
 * lab_scriptlet_result_clear() - release what a run left
 * @res:	result (zeroed afterwards)
 */
void lab_scriptlet_result_clear(struct lab_scriptlet_result *res)
{
	cp_json_unref(res->trace);
	cp_json_unref(res->conf);
	cp_json_unref(res->cmdline);
	free(res->log);
	free(res->error);
	memset(res, 0, sizeof(*res));
}

/**
 * lab_scriptlet_run() - run one stage of a scriptlet on Incus's monitor
 * @c:		Incus's QMP client (borrowed), or NULL at the config stage
 * @runner:	path of incus-scriptlet
 * @script:	the scriptlet
 * @stage:	the stage
 * @instance:	api.Instance as JSON (borrowed)
 * @conf:	in/out, may be NULL: the qemu.conf sections, replaced by the
 *		scriptlet's on success (the old value is released)
 * @log_out:	if not NULL, set to the run's log (caller frees), also on
 *		failure
 * @err:	filled on failure; for a failing scriptlet its message is
 *		exactly Incus's ("Failed to run: fail: ...")
 *
 * Return: the number of QMP commands the scriptlet caused, or -1
 */
int lab_scriptlet_run(struct qmp_client *c, const char *runner, const char *script,
		      const char *stage, const cp_json *instance, cp_json **conf, char **log_out,
		      struct cp_error *err)
{
	struct lab_scriptlet_args a = {
		.qmp = c,
		.runner = runner,
		.script = script,
		.stage = stage,
		.instance = instance,
		.conf = conf ? *conf : NULL,
	};
	cleanup_json cp_json *empty = cp_json_new_array();
	struct lab_scriptlet_result res;
	int rc;

	if (conf && !*conf)
		a.conf = empty;
	rc = lab_scriptlet_exec(&a, &res, err);
	if (rc == 0 && conf) {
		cp_json_unref(*conf);
		*conf = steal_pointer(&res.conf);
	}
	if (log_out)
		*log_out = steal_pointer(&res.log);
	if (rc == 0)
		rc = (int)res.calls;
	lab_scriptlet_result_clear(&res);
	return rc;
}

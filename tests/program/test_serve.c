/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * coldplug serve against junk on its socket: a table of connections that
 * misbehave (silence, garbage, truncated or oversized JSON, a wrong first
 * message, a peer that vanishes), each of which the daemon must close while
 * it keeps serving; then a well-behaved fake QEMU that it identifies and
 * leaves alone (a VM that runs without asking, or whose guest has run), one
 * whose name would forge a log line, and a peer whose user may not
 * connect; then the slots (--max-vms): connections that never say which
 * VM they are give theirs up. The daemon is the real program, started on a
 * private socket.
 */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fakepeer.h"
#include "proc.h"
#include "tap.h"

/* meson passes the built program's path; analysers see the fallback. */
#ifndef COLDPLUG_BINARY
#define COLDPLUG_BINARY "build/src/coldplug"
#endif

static char sock_path[108];
static char log_path[256];

/**
 * dial() - connect to the daemon's socket
 *
 * Return: connected socket; bails out on failure
 */
static int dial(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		bail_out("connect %s: %s", sock_path, strerror(errno));
	return fd;
}

/**
 * closed_by_daemon() - whether the daemon closes @fd within @ms
 * @fd:	connection
 * @ms:	deadline
 *
 * Return: true on end of stream (bytes the daemon sent are skipped)
 */
static bool closed_by_daemon(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[4096];

	while (poll(&p, 1, ms) > 0) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n <= 0)
			return true;
	}
	return false;
}

/**
 * write_all() - send junk
 * @fd:		connection
 * @buf:	bytes
 * @len:	count
 */
static void write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

/**
 * log_has() - whether the daemon's log contains @text
 * @text:	substring
 *
 * Return: true if found
 */
static bool log_has(const char *text)
{
	char buf[65536];
	FILE *f = fopen(log_path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = '\0';
	return strstr(buf, text) != NULL;
}

/**
 * daemon_runs() - whether the daemon has not exited (a zombie has: kill(0)
 * would not tell)
 * @daemon:	the daemon process
 *
 * Return: true while it runs; it is left to lab_proc_stop() to reap
 */
static bool daemon_runs(const struct lab_proc *daemon)
{
	siginfo_t si = { 0 };

	return waitid(P_PID, (id_t)daemon->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
	       si.si_pid == 0;
}

/* The junk table: what a misbehaving connection sends (sizeof, so that an
 * embedded NUL counts). */
#define JUNK(name, bytes)                                                                          \
	{                                                                                          \
		name, bytes, sizeof(bytes) - 1                                                     \
	}
static const struct {
	const char *name;
	const char *bytes;
	size_t len;
} junk[] = {
	JUNK("silence (no greeting)", ""),
	JUNK("garbage", "\x01\x02not json at all\xff\xfe"),
	JUNK("a JSON array", "[1,2,3]\r\n"),
	JUNK("truncated greeting", "{\"QMP\": {\"version\": {\"qemu\""),
	JUNK("a reply before the greeting", "{\"return\": {}, \"id\": 1}\r\n"),
	JUNK("a greeting without a version", "{\"QMP\": {\"capabilities\": []}}\r\n"),
	JUNK("invalid UTF-8", "{\"QMP\": \"\xc3\x28\"}\r\n"),
	JUNK("NUL in the stream", "{\"QMP\"\0:{}}\r\n"),
	{ "nesting 5000 deep", NULL, 5000 },
};

/**
 * test_junk() - every row of the table is closed, the daemon lives on
 * @daemon:	the daemon process
 */
static void test_junk(const struct lab_proc *daemon)
{
	char deep[5001];
	size_t i;

	memset(deep, '[', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = '\0';
	for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		int fd = dial();

		write_all(fd, junk[i].bytes ? junk[i].bytes : deep, junk[i].len);
		ok(closed_by_daemon(fd, 3000), "%s: the daemon closes the connection",
		   junk[i].name);
		close(fd);
		ok(daemon_runs(daemon), "%s: the daemon still runs", junk[i].name);
	}
}

/**
 * test_vanish() - a peer that greets and vanishes mid-handshake
 * @daemon:	the daemon process
 */
static void test_vanish(const struct lab_proc *daemon)
{
	static const char greeting[] =
		"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2,"
		" \"major\": 7}, \"package\": \"\"}, \"capabilities\": [\"oob\"]}}\r\n";
	int fd = dial();

	write_all(fd, greeting, sizeof(greeting) - 1);
	usleep(100 * 1000);
	close(fd);
	usleep(200 * 1000);
	ok(daemon_runs(daemon), "a peer that vanishes after its greeting: the daemon runs on");
}

/**
 * test_vanish_identify() - a peer that negotiates, then closes while the
 * daemon asks which VM it is
 * @daemon:	the daemon process
 *
 * The identify batch fails with the connection error, which lives in the
 * batch: the daemon must log it before it frees the batch (ASan).
 */
static void test_vanish_identify(const struct lab_proc *daemon)
{
	struct fakepeer *fp = fakepeer_new_fd(dial());

	fakepeer_negotiate(fp);
	fakepeer_expect(fp, "{\"execute\":\"query-name\"}");
	fakepeer_close(fp);
	fakepeer_start(fp);
	ok(fakepeer_wait(fp, 5000), "a peer that closes instead of saying which VM it is");
	fakepeer_finish(fp, "closed during the identify queries");
	usleep(200 * 1000);
	ok(daemon_runs(daemon), "...and the daemon runs on");
}

/**
 * test_running_vm() - a well-behaved QEMU whose guest has run, not asking
 * @status:	its run state ("running", or "paused": the guest has run too)
 */
static void test_running_vm(const char *status)
{
	struct fakepeer *fp = fakepeer_new_fd(dial());

	fakepeer_identify(fp, "junkvm", status);
	fakepeer_delay(fp, 300);
	fakepeer_close(fp);
	fakepeer_start(fp);
	ok(fakepeer_wait(fp, 5000), "%s: the fake QEMU's script ran to its end", status);
	fakepeer_finish(fp, "a %s VM is identified, then left alone (no poll, no change)", status);
}

/**
 * log_lines_start() - whether a line of the daemon's log starts with @text
 * @text:	prefix
 *
 * Return: true if one does
 */
static bool log_lines_start(const char *text)
{
	char buf[65536], *p;
	FILE *f = fopen(log_path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = '\0';
	for (p = buf; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, text, strlen(text)))
			return true;
	return false;
}

/**
 * test_hostile_name() - a peer whose name carries a forged log line and an
 * escape sequence, and whose UUID is 4000 bytes: one escaped, bounded line
 */
static void test_hostile_name(void)
{
	struct fakepeer *fp = fakepeer_new_fd(dial());
	char reply[4200], a[101];
	size_t off;

	fakepeer_negotiate(fp);
	fakepeer_expect(fp, "{\"execute\":\"query-name\"}");
	fakepeer_reply(fp, "{\"return\":{\"name\":\"evil\\ncoldplug: vm forged (pid 1): re-homed "
			   "and verified\\u001b[2J\"}}");
	fakepeer_expect(fp, "{\"execute\":\"query-uuid\"}");
	off = (size_t)snprintf(reply, sizeof(reply), "{\"return\":{\"UUID\":\"");
	memset(reply + off, 'a', 4000);
	snprintf(reply + off + 4000, sizeof(reply) - off - 4000, "\"}}");
	fakepeer_reply(fp, reply);
	fakepeer_expect(fp, "{\"execute\":\"query-status\"}");
	fakepeer_reply(fp, "{\"return\":{\"status\":\"running\",\"running\":true}}");
	fakepeer_expect(fp, "{\"execute\":\"qom-list\",\"arguments\":{\"path\":\"/objects\"}}");
	fakepeer_reply(fp, "{\"return\":[]}");
	fakepeer_delay(fp, 300);
	fakepeer_close(fp);
	fakepeer_start(fp);
	ok(fakepeer_wait(fp, 5000), "hostile name: the fake QEMU's script ran to its end");
	fakepeer_finish(fp, "hostile name: identified, then left alone");
	ok(!log_lines_start("coldplug: vm forged"), "hostile name: no forged line in the log");
	ok(log_has("vm evil\\ncoldplug: vm forged (pid 1): re-homed and verified\\x1b[2J (pid "),
	   "hostile name: its newline and ESC escaped, on the line of the real pid");
	ok(!log_has("\x1b"), "hostile name: no raw ESC in the log");
	memset(a, 'a', 100);
	a[100] = '\0';
	ok(!log_has(a), "hostile name: the 4000-byte UUID is cut in the log");
}

/**
 * test_refused_user() - a process of another user may not connect
 */
static void test_refused_user(void)
{
	int st, fd;
	pid_t pid;

	if (geteuid() != 0) {
		skip(1, "needs root to connect as another user");
		return;
	}
	/* Open the socket's mode, so that the daemon's own check is what
	 * stands in the way. */
	chmod(sock_path, 0666);
	pid = fork();
	if (pid == 0) {
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(2);
		fd = dial();
		_exit(closed_by_daemon(fd, 2000) ? 0 : 1);
	}
	ok(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "a process of another user (nobody) is closed");
	ok(log_has("its user may not use coldplug"),
	   "...by the daemon's peer check, which says so");
	chmod(sock_path, 0600);
}

/**
 * cpu_ticks() - user + system clock ticks a process has used
 * @pid:	process
 *
 * Return: the ticks, or -1
 */
static long cpu_ticks(pid_t pid)
{
	char path[64], buf[1024], *p, *end;
	unsigned long ut, st;
	size_t n;
	int i;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	/* after the name: state ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt, then utime and stime */
	p = strrchr(buf, ')');
	for (i = 0; p && i < 12; i++)
		p = strchr(p + 1, ' ');
	if (!p)
		return -1;
	ut = strtoul(p + 1, &end, 10);
	if (end == p + 1)
		return -1;
	p = end;
	st = strtoul(p, &end, 10);
	if (end == p)
		return -1;
	return (long)(ut + st);
}

/**
 * test_out_of_fds() - a daemon out of descriptors rests instead of spinning
 * @dir:	private directory for its socket and log
 *
 * With a descriptor limit that leaves room for two connections, six
 * processes dial in (one connection per process is served): accept() fails
 * with EMFILE and the rest stay queued. The daemon must not wake up for them
 * again and again (level-triggered epoll).
 */
static void test_out_of_fds(const char *dir)
{
	char sock[128], log[128], cmd[512];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct lab_proc daemon;
	struct cp_error err;
	struct stat st;
	int hold[2], i;
	pid_t kids[6];
	long t0, t1;

	snprintf(sock, sizeof(sock), "%s/fd.sock", dir);
	snprintf(log, sizeof(log), "%s/fd.log", dir);
	snprintf(cmd, sizeof(cmd),
		 "ulimit -n 9 && exec '%s' serve --socket '%s' --handshake-timeout 60000 "
		 "--qemu-user root",
		 COLDPLUG_BINARY, sock);
	{
		const char *const argv[] = { "/bin/sh", "-c", cmd, NULL };

		if (lab_proc_start(&daemon, argv, log, &err) < 0)
			bail_out("start the daemon: %s", err.msg);
	}
	for (i = 0; i < 200 && stat(sock, &st) < 0; i++)
		usleep(10 * 1000);
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	if (pipe(hold) < 0)
		bail_out("pipe: %s", strerror(errno));
	for (i = 0; i < 6; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
			char c;

			close(hold[1]);
			if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
				_exit(1);
			_exit(read(hold[0], &c, 1) == 0 ? 0 : 1); /* until the parent closes */
		}
	}
	close(hold[0]);
	usleep(300 * 1000);
	t0 = cpu_ticks(daemon.pid);
	nanosleep(&(struct timespec){ .tv_sec = 1, .tv_nsec = 500000000L }, NULL);
	t1 = cpu_ticks(daemon.pid);
	ok(t0 >= 0 && t1 - t0 < 30, "out of descriptors, the daemon rests (%ld ticks in 1.5 s)",
	   t1 - t0);
	close(hold[1]);
	for (i = 0; i < 6; i++)
		if (kids[i] > 0)
			waitpid(kids[i], NULL, 0);
	ok(lab_proc_stop(&daemon, 2000, &err) == 0 && lab_proc_exited_ok(&daemon),
	   "...and stops cleanly");
	snprintf(log_path, sizeof(log_path), "%s", log);
	ok(log_has("cannot accept connections: Too many open files"), "it says why");
	unlink(log);
}

/**
 * maps_name() - whether process @pid maps a file whose path holds @what
 * @pid:	process (0: this one)
 * @what:	e.g. "libnss_"
 *
 * Return: true if it does
 */
static bool maps_name(pid_t pid, const char *what)
{
	char path[64], line[512];
	bool found = false;
	FILE *f;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/maps");
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, what) != NULL;
	fclose(f);
	return found;
}

/**
 * lookup_loads_nss() - whether looking incus up loads an NSS module here
 *
 * Return: true if a child that looked it up maps a libnss_* module
 */
static bool lookup_loads_nss(void)
{
	pid_t pid = fork();
	int st = 0;

	if (pid == 0) {
		struct passwd pw, *p = NULL;
		char buf[4096];

		_exit(getpwnam_r("incus", &pw, buf, sizeof(buf), &p) == 0 && !p &&
				      maps_name(0, "libnss_")
			      ? 0
			      : 1);
	}
	return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && !WEXITSTATUS(st);
}

/**
 * test_qemu_user() - the user --qemu-user names may connect, and owns the
 * socket; a member of its group may not
 * @dir:	private directory for the daemon's socket and log
 */
static void test_qemu_user(const char *dir)
{
	char sock[96], log[128];
	struct lab_proc daemon;
	struct cp_error err;
	struct stat sst;
	int st, i;
	pid_t pid;

	if (geteuid() != 0) {
		skip(4, "needs root to connect as another user");
		return;
	}
	snprintf(sock, sizeof(sock), "%s/quser.sock", dir);
	snprintf(log, sizeof(log), "%s/quser.log", dir);
	{
		const char *const argv[] = { COLDPLUG_BINARY, "serve",	"--socket",  sock,
					     "--qemu-user",   "nobody", "--verbose", NULL };

		if (lab_proc_start(&daemon, argv, log, &err) < 0)
			bail_out("start the daemon: %s", err.msg);
	}
	snprintf(log_path, sizeof(log_path), "%s", log);
	for (i = 0; i < 200 && !log_has("listening on"); i++)
		usleep(10 * 1000);
	if (stat(sock, &sst) < 0)
		memset(&sst, 0, sizeof(sst));
	ok(sst.st_uid == 0 && S_ISSOCK(sst.st_mode) && (sst.st_mode & 0777) == 0660,
	   "--qemu-user nobody: the socket is root's, 0600 with an ACL entry for nobody "
	   "(uid %u, mode %o)",
	   (unsigned)sst.st_uid, (unsigned)(sst.st_mode & 0777));
	snprintf(sock_path, sizeof(sock_path), "%s", sock);
	pid = fork();
	if (pid == 0) {
		int fd;

		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(2);
		fd = dial();
		_exit(closed_by_daemon(fd, 1000) ? 1 : 0);
	}
	ok(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "a process of nobody (QEMU after it drops privileges) connects and stays");
	/* Open the socket's mode, so that the daemon's own check is what
	 * stands in the way of a process that only shares QEMU's group. */
	chmod(sock, 0666);
	pid = fork();
	if (pid == 0) {
		gid_t g = 65534;

		if (setgroups(1, &g) < 0 || setgid(65534) < 0 || setuid(1) < 0)
			_exit(2);
		_exit(closed_by_daemon(dial(), 2000) ? 0 : 1);
	}
	ok(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "a process of another user in QEMU's group is closed");
	lab_proc_stop(&daemon, 2000, &err);
	ok(log_has("its user may not use coldplug") && log_has("new connection from"),
	   "...by the daemon's peer check, which let nobody in");
	unlink(log);
}

/**
 * connect_as() - whether a process of @uid can connect to @sock, and stays
 * connected for a while (the daemon's peer check would close it at once)
 * @uid:	user (and group) to connect as
 * @sock:	socket path
 *
 * Return: 0 connected and kept, 1 connect() refused with EACCES, 2 closed
 * by the daemon, 3 anything else
 */
static int connect_as(uid_t uid, const char *sock)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		memcpy(sa.sun_path, sock, strlen(sock) + 1);
		if (setgroups(0, NULL) < 0 || setgid(uid) < 0 || setuid(uid) < 0 || fd < 0)
			_exit(3);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			_exit(errno == EACCES ? 1 : 3);
		_exit(closed_by_daemon(fd, 1000) ? 2 : 0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return 3;
	return WEXITSTATUS(st);
}

/**
 * test_unprivileged() - the daemon as coldplug.service runs it: its own
 * user, no capability at all; the kernel lets in QEMU's user (an ACL on
 * the socket) and refuses every other
 * @dir:	private directory (root's); the daemon gets a subdirectory
 */
static void test_unprivileged(const char *dir)
{
	const uid_t self = 65533, qemu = 65534, other = 65532;
	char sub[96], sock[128], log[128], status[64];
	struct lab_proc daemon;
	struct cp_error err;
	char text[4096];
	struct stat sst;
	size_t n;
	FILE *f;
	int i;

	if (geteuid() != 0) {
		skip(5, "needs root to start the daemon as another user");
		return;
	}
	snprintf(sub, sizeof(sub), "%s/unpriv", dir);
	snprintf(sock, sizeof(sock), "%s/d.sock", sub);
	snprintf(log, sizeof(log), "%s/unpriv.log", dir);
	if (mkdir(sub, 0755) < 0 || chown(sub, self, self) < 0)
		bail_out("%s: %s", sub, strerror(errno));
	{
		char uid[16];
		const char *const argv[] = { "/usr/bin/setpriv",
					     "--reuid",
					     uid,
					     "--regid",
					     uid,
					     "--clear-groups",
					     "--inh-caps=-all",
					     "--bounding-set=-all",
					     "--no-new-privs",
					     COLDPLUG_BINARY,
					     "serve",
					     "--socket",
					     sock,
					     "--qemu-user",
					     "nobody",
					     "--verbose",
					     NULL };

		snprintf(uid, sizeof(uid), "%u", (unsigned)self);
		if (lab_proc_start(&daemon, argv, log, &err) < 0)
			bail_out("start the daemon: %s", err.msg);
	}
	snprintf(log_path, sizeof(log_path), "%s", log);
	for (i = 0; i < 200 && !log_has("listening on"); i++)
		usleep(10 * 1000);
	snprintf(status, sizeof(status), "/proc/%d/status", (int)daemon.pid);
	f = fopen(status, "r");
	n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
	text[n] = '\0';
	if (f)
		fclose(f);
	ok(strstr(text, "CapEff:\t0000000000000000") && strstr(text, "Uid:\t65533"),
	   "unprivileged: the daemon runs as uid %u with no capability", (unsigned)self);
	if (stat(sock, &sst) < 0)
		memset(&sst, 0, sizeof(sst));
	ok(sst.st_uid == self && S_ISSOCK(sst.st_mode) && (sst.st_mode & 0007) == 0,
	   "unprivileged: the socket is the daemon's, closed to others (mode %o)",
	   (unsigned)(sst.st_mode & 0777));
	is_int(connect_as(qemu, sock), 0,
	       "unprivileged: QEMU's user (nobody) connects, through the socket's ACL");
	is_int(connect_as(other, sock), 1,
	       "unprivileged: any other user is refused by the kernel (EACCES)");
	ok(lab_proc_stop(&daemon, 2000, &err) == 0 && lab_proc_exited_ok(&daemon),
	   "unprivileged: the daemon stops cleanly");
	unlink(log);
	rmdir(sub);
}

/**
 * start_daemon() - coldplug serve on @dir/@tag.sock, logging to @tag.log
 * @d:		filled
 * @dir:	private directory
 * @tag:	file name stem
 * @extra:	more arguments, NULL-terminated (at most 8)
 *
 * Sets sock_path and log_path to the daemon's; returns once it listens.
 */
static void start_daemon(struct lab_proc *d, const char *dir, const char *tag,
			 const char *const *extra)
{
	const char *argv[16] = { COLDPLUG_BINARY, "serve", "--socket", sock_path, "--verbose" };
	struct cp_error err;
	size_t n = 5, i;

	snprintf(sock_path, sizeof(sock_path), "%s/%s.sock", dir, tag);
	snprintf(log_path, sizeof(log_path), "%s/%s.log", dir, tag);
	for (i = 0; extra[i] && n < sizeof(argv) / sizeof(argv[0]) - 1; i++)
		argv[n++] = extra[i];
	if (lab_proc_start(d, argv, log_path, &err) < 0)
		bail_out("start the daemon: %s", err.msg);
	for (i = 0; i < 500 && !log_has("listening on"); i++)
		usleep(10 * 1000);
}

/**
 * test_daemon_maps() - what the idle daemon keeps out of its memory: the
 * YAML parser (only incus-profile --check loads it) and the modules NSS
 * loads to look --qemu-user auto up (incus, else nobody: it asks from a
 * child)
 * @dir:	private directory for the daemon's socket and log
 */
static void test_daemon_maps(const char *dir)
{
	static const char *const none[] = { NULL };
	bool nss = lookup_loads_nss();
	struct lab_proc daemon;
	struct cp_error err;

	start_daemon(&daemon, dir, "maps", none);
	ok(log_has("listening on") && !maps_name(daemon.pid, "libyaml"),
	   "the daemon maps no YAML parser (libyaml): incus-profile --check loads it");
	if (!nss)
		skip(1, "looking up incus loads no NSS module on this host (a user incus, or "
			"nsswitch.conf's files only): nothing to keep out of the daemon");
	else
		ok(log_has("listening on") && !maps_name(daemon.pid, "libnss_"),
		   "--qemu-user auto: the NSS modules a lookup of incus loads here (libnss_*) "
		   "are not in the daemon's memory: it asked from a child");
	lab_proc_stop(&daemon, 2000, &err);
	unlink(log_path);
}

/**
 * log_lines() - how many lines of the daemon's log contain @a and @b
 * @a:	substring
 * @b:	another, or NULL
 *
 * Return: the count
 */
static int log_lines(const char *a, const char *b)
{
	FILE *f = fopen(log_path, "r");
	char line[4096];
	int count = 0;

	while (f && fgets(line, sizeof(line), f))
		count += strstr(line, a) && (!b || strstr(line, b));
	if (f)
		fclose(f);
	return count;
}

/**
 * negotiate_raw() - greet and answer qmp_capabilities, with no fake peer
 * (for a child process: no thread, no TAP output)
 * @fd:	connection
 *
 * Return: true once the daemon's qmp_capabilities is answered
 */
static bool negotiate_raw(int fd)
{
	static const char greeting[] =
		"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2,"
		" \"major\": 7}, \"package\": \"\"}, \"capabilities\": [\"oob\"]}}\r\n";
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[4096] = "", reply[64];
	size_t len = 0;
	const char *id;
	ssize_t n;

	write_all(fd, greeting, sizeof(greeting) - 1);
	while (!(id = strstr(buf, "\"id\"")) || !strchr(id, '}')) {
		if (len == sizeof(buf) - 1 || poll(&p, 1, 2000) <= 0 ||
		    (n = read(fd, buf + len, sizeof(buf) - 1 - len)) <= 0)
			return false;
		len += (size_t)n;
		buf[len] = '\0';
	}
	id += strcspn(id, "0123456789");
	snprintf(reply, sizeof(reply), "{\"return\": {}, \"id\": %ld}\r\n", strtol(id, NULL, 10));
	write_all(fd, reply, strlen(reply));
	return strstr(buf, "qmp_capabilities") != NULL;
}

/**
 * idle_child() - a process that dials, negotiates, then answers nothing
 * @ms:	how long it waits to be closed
 *
 * Exits 0 if the daemon closed it within @ms, 1 if not, 2 if it could not
 * negotiate.
 *
 * Return: its pid
 */
static pid_t idle_child(int ms)
{
	pid_t pid = fork();
	int fd;

	if (pid == 0) {
		fd = dial();
		if (!negotiate_raw(fd))
			_exit(2);
		_exit(closed_by_daemon(fd, ms) ? 0 : 1);
	}
	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	return pid;
}

/**
 * running_vm() - a fake QEMU, from this process, that the daemon must
 * identify as a VM that runs without asking
 * @fd:		its connection
 * @name:	its VM name
 * @hold_ms:	how long it stays connected once identified
 *
 * Return: the peer, started; fakepeer_finish() it
 */
static struct fakepeer *running_vm(int fd, const char *name, int hold_ms)
{
	struct fakepeer *fp = fakepeer_new_fd(fd);

	fakepeer_identify(fp, name, "running");
	fakepeer_delay(fp, hold_ms);
	fakepeer_close(fp);
	fakepeer_start(fp);
	return fp;
}

/**
 * child_ok() - reap a child of idle_child()
 * @pid:	the child
 *
 * Return: true if it exited 0
 */
static bool child_ok(pid_t pid)
{
	int st;

	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/**
 * test_idle_slots() - connections that never say which VM they are give
 * their slot up at the deadline, and the next VM is served
 * @dir:	private directory for the daemon's socket and log
 *
 * --max-vms 2, a 1000 ms deadline: two processes greet and negotiate, then
 * answer nothing. A QMP command's own timeout (10 s) would keep them long
 * after that.
 */
static void test_idle_slots(const char *dir)
{
	static const char *const extra[] = { "--max-vms", "2",		 "--handshake-timeout",
					     "1000",	  "--qemu-user", "root",
					     NULL };
	struct lab_proc daemon;
	struct fakepeer *fp;
	struct cp_error err;
	pid_t idle[2];
	int i, fd;

	start_daemon(&daemon, dir, "slots", extra);
	for (i = 0; i < 2; i++)
		idle[i] = idle_child(4000);
	for (i = 0; i < 200 && log_lines("new connection from", NULL) < 2; i++)
		usleep(10 * 1000);
	usleep(200 * 1000);
	fd = dial();
	ok(closed_by_daemon(fd, 500), "both slots held: a third connection is refused");
	close(fd);
	ok(child_ok(idle[0]) && child_ok(idle[1]),
	   "two connections that negotiate and then answer nothing are closed within 4 s");
	is_int(log_lines("warning: ", "did not say which VM it is within 1000 ms"), 2,
	       "...each logged once, at the 1000 ms deadline");
	fp = running_vm(dial(), "slotvm", 300);
	ok(fakepeer_wait(fp, 5000), "the next VM gets a slot and is identified");
	fakepeer_finish(fp, "a VM served once the idle connections are gone");
	ok(lab_proc_stop(&daemon, 2000, &err) == 0 && lab_proc_exited_ok(&daemon),
	   "the daemon stops cleanly");
	unlink(log_path);
}

/**
 * test_one_per_pid() - one connection per process: a second one from the
 * same process is refused while the first lives; once that one is closed,
 * the process is served again (QEMU reconnecting)
 * @daemon:	the daemon process
 *
 * The last case is made deterministic by stopping the daemon: the process
 * dials again and then closes its first connection, so the daemon wakes
 * with the new connection ahead of the hang-up it has not read yet.
 */
static void test_one_per_pid(const struct lab_proc *daemon)
{
	struct fakepeer *fp = running_vm(dial(), "pidvm", 500);
	char refused[64];
	int fd, i;

	snprintf(refused, sizeof(refused), "(pid %d): that process has a connection",
		 (int)getpid());
	for (i = 0; i < 300 && !log_lines("vm pidvm (pid ", "connected"); i++)
		usleep(10 * 1000);
	fd = dial();
	ok(closed_by_daemon(fd, 2000), "a second connection from the same process is closed");
	close(fd);
	is_int(log_lines("refused a connection from uid 0 ", refused), 1,
	       "...logged with its pid and why");
	ok(fakepeer_wait(fp, 5000), "the first connection is served on");
	fakepeer_finish(fp, "a process's first connection, its second refused");
	fp = running_vm(dial(), "pidvm2", 300);
	for (i = 0; i < 300 && !log_lines("vm pidvm2 (pid ", "connected"); i++)
		usleep(10 * 1000);
	kill(daemon->pid, SIGSTOP);
	fd = dial();
	fakepeer_wait(fp, 5000);
	fakepeer_finish(fp, "a process's connection, closed while the daemon is stopped");
	kill(daemon->pid, SIGCONT);
	fp = running_vm(fd, "pidvm3", 0);
	ok(fakepeer_wait(fp, 5000),
	   "the process dials again as its first connection closes: served");
	fakepeer_finish(fp, "a process's connection after its first closed");
	is_int(log_lines("refused a connection from uid 0 ", refused), 1, "...not refused");
}

/**
 * test_refusals_logged_once() - a refused user that dials again and again
 * is logged once, then counted
 * @dir:	private directory for the daemon's socket and log
 *
 * The count is summed up at most once a minute, and at exit: stopping the
 * daemon brings it out at once. The table of uids is bounded (16): 20 more
 * uids, each refused once, fill it, and the rest are counted together.
 */
static void test_refusals_logged_once(const char *dir)
{
	static const char *const extra[] = { "--qemu-user", "root", NULL };
	struct lab_proc daemon;
	struct cp_error err;
	int st;
	pid_t pid;

	if (geteuid() != 0) {
		skip(7, "needs root to connect as another user");
		return;
	}
	start_daemon(&daemon, dir, "refused", extra);
	chmod(sock_path, 0666);
	pid = fork();
	if (pid == 0) {
		int i, closed = 0;

		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(2);
		for (i = 0; i < 20; i++) {
			int fd = dial();

			closed += closed_by_daemon(fd, 2000);
			close(fd);
		}
		_exit(closed == 20 ? 0 : 1);
	}
	ok(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "a process of another user dials 20 times: each connection is closed");
	is_int(log_lines("refused a connection from uid 65534 (pid ", NULL), 1,
	       "...and the refusal is logged once, with uid and pid");
	pid = fork();
	if (pid == 0) {
		int i, closed = 0;

		for (i = 0; i < 20; i++) {
			pid_t kid = fork();

			if (kid == 0) {
				if (setuid((uid_t)(2000 + i)) < 0)
					_exit(2);
				_exit(closed_by_daemon(dial(), 2000) ? 0 : 1);
			}
			closed += kid > 0 && waitpid(kid, &st, 0) == kid && WIFEXITED(st) &&
				  WEXITSTATUS(st) == 0;
		}
		_exit(closed == 20 ? 0 : 1);
	}
	ok(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "20 more users dial once each: each is closed");
	is_int(log_lines("refused a connection from uid 20", NULL), 15,
	       "...15 are logged (the table holds 16 uids, 65534 included)");
	ok(lab_proc_stop(&daemon, 2000, &err) == 0 && lab_proc_exited_ok(&daemon),
	   "the daemon stops cleanly");
	is_int(log_lines("refused 19 more connections from uid 65534 ", "may not use coldplug"), 1,
	       "...and sums up the other 19 of uid 65534 in one line as it stops");
	is_int(log_lines("refused 5 connections in ", "more uids than"), 1,
	       "...and the 5 uids the table had no room for in another");
	unlink(log_path);
}

/**
 * main() - start the daemon, run the tests, stop it
 *
 * Return: TAP exit status
 */
int main(void)
{
	char dir[] = "/tmp/cp-serve-XXXXXX";
	struct lab_proc daemon;
	struct cp_error err;
	struct stat st;
	int i;

	if (!mkdtemp(dir))
		bail_out("mkdtemp: %s", strerror(errno));
	chmod(dir, 0755);
	snprintf(sock_path, sizeof(sock_path), "%s/d.sock", dir);
	snprintf(log_path, sizeof(log_path), "%s/serve.log", dir);
	{
		const char *const argv[] = { COLDPLUG_BINARY,	    "serve", "--socket",  sock_path,
					     "--handshake-timeout", "300",   "--poll-ms", "20",
					     "--qemu-user",	    "root",  "--verbose", NULL };

		if (lab_proc_start(&daemon, argv, log_path, &err) < 0)
			bail_out("start the daemon: %s", err.msg);
	}
	/* Not the socket's existence: bind() creates it before listen() and
	 * the chmod, so it would be looked at too early on a busy host. */
	for (i = 0; i < 1000 && !log_has("listening on"); i++)
		usleep(10 * 1000);
	if (stat(sock_path, &st) < 0)
		memset(&st, 0, sizeof(st));
	ok(S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600,
	   "the daemon listens; with --qemu-user root its socket is root's, 0600");
	test_junk(&daemon);
	test_vanish(&daemon);
	test_vanish_identify(&daemon);
	test_running_vm("running");
	test_running_vm("paused");
	test_hostile_name();
	ok(log_has("the VM is paused: its guest has run"),
	   "paused: the log says why it is left alone");
	test_one_per_pid(&daemon);
	test_refused_user();
	ok(lab_proc_stop(&daemon, 2000, &err) == 0 && lab_proc_exited_ok(&daemon),
	   "SIGTERM stops the daemon cleanly (exit 0)");
	ok(stat(sock_path, &st) < 0, "...and it removes its socket");
	unlink(log_path);
	test_out_of_fds(dir);
	test_qemu_user(dir);
	test_daemon_maps(dir);
	test_unprivileged(dir);
	test_idle_slots(dir);
	test_refusals_logged_once(dir);
	rmdir(dir);
	return done_testing();
}

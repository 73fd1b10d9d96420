/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * coldplug serve against junk on its socket: a table of connections that
 * misbehave (silence, garbage, truncated or oversized JSON, a wrong first
 * message, a peer that vanishes), each of which the daemon must close while
 * it keeps serving; then a well-behaved fake QEMU that it identifies and
 * leaves alone (a VM that runs without asking, or whose guest has run), one
 * whose name would forge a log line, and a peer whose user may not
 * connect. The daemon is the real program, started on a private socket.
 */
#include <errno.h>
#include <grp.h>
#include <poll.h>
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
		ok(kill(daemon->pid, 0) == 0, "%s: the daemon still runs", junk[i].name);
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
	ok(kill(daemon->pid, 0) == 0,
	   "a peer that vanishes after its greeting: the daemon runs on");
}

/**
 * test_running_vm() - a well-behaved QEMU whose guest has run, not asking
 * @status:	its run state ("running", or "paused": the guest has run too)
 */
static void test_running_vm(const char *status)
{
	struct fakepeer *fp = fakepeer_new_fd(dial());
	char reply[160];

	fakepeer_negotiate(fp);
	fakepeer_expect(fp, "{\"execute\":\"query-name\"}");
	fakepeer_reply(fp, "{\"return\":{\"name\":\"junkvm\"}}");
	fakepeer_expect(fp, "{\"execute\":\"query-uuid\"}");
	fakepeer_reply(fp, "{\"return\":{\"UUID\":\"8e4a0b2c-0000-4000-8000-000000000001\"}}");
	fakepeer_expect(fp, "{\"execute\":\"query-status\"}");
	snprintf(reply, sizeof(reply),
		 "{\"return\":{\"status\":\"%s\",\"running\":%s,\"singlestep\":false}}", status,
		 strcmp(status, "running") ? "false" : "true");
	fakepeer_reply(fp, reply);
	fakepeer_expect(fp, "{\"execute\":\"qom-list\",\"arguments\":{\"path\":\"/objects\"}}");
	fakepeer_reply(fp, "{\"return\":[]}");
	fakepeer_delay(fp, 300);
	fakepeer_close(fp);
	fakepeer_start(fp);
	ok(fakepeer_wait(fp, 5000), "%s: the fake QEMU's script ran to its end", status);
	fakepeer_finish(fp, "a %s VM is identified, then left alone (no poll, no change)", status);
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
 * With a descriptor limit that leaves room for two connections, six dial
 * in: accept() fails with EMFILE and the rest stay queued. The daemon must
 * not wake up for them again and again (level-triggered epoll).
 */
static void test_out_of_fds(const char *dir)
{
	char sock[128], log[128], cmd[512];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct lab_proc daemon;
	struct cp_error err;
	struct stat st;
	int fds[6], i;
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
	for (i = 0; i < 6; i++) {
		fds[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&sa, sizeof(sa)) < 0)
			bail_out("connect %s: %s", sock, strerror(errno));
	}
	usleep(300 * 1000);
	t0 = cpu_ticks(daemon.pid);
	nanosleep(&(struct timespec){ .tv_sec = 1, .tv_nsec = 500000000L }, NULL);
	t1 = cpu_ticks(daemon.pid);
	ok(t0 >= 0 && t1 - t0 < 30, "out of descriptors, the daemon rests (%ld ticks in 1.5 s)",
	   t1 - t0);
	for (i = 0; i < 6; i++)
		close(fds[i]);
	ok(lab_proc_stop(&daemon, 2000, &err) == 0 && lab_proc_exited_ok(&daemon),
	   "...and stops cleanly");
	snprintf(log_path, sizeof(log_path), "%s", log);
	ok(log_has("cannot accept connections: Too many open files"), "it says why");
	unlink(log);
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
	for (i = 0; i < 200 && stat(sock_path, &st) < 0; i++)
		usleep(10 * 1000);
	ok(S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600,
	   "the daemon listens; with --qemu-user root its socket is root's, 0600");
	test_junk(&daemon);
	test_vanish(&daemon);
	test_running_vm("running");
	test_running_vm("paused");
	test_hostile_name();
	ok(log_has("the VM is paused: its guest has run"),
	   "paused: the log says why it is left alone");
	test_refused_user();
	ok(lab_proc_stop(&daemon, 2000, &err) == 0 && lab_proc_exited_ok(&daemon),
	   "SIGTERM stops the daemon cleanly (exit 0)");
	ok(stat(sock_path, &st) < 0, "...and it removes its socket");
	unlink(log_path);
	test_out_of_fds(dir);
	test_qemu_user(dir);
	test_unprivileged(dir);
	rmdir(dir);
	return done_testing();
}

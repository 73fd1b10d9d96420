/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * SCM_RIGHTS and SO_PEERCRED (lib/fdpass.c) over a socketpair: descriptors
 * arrive with their bytes and refer to the same files, arrive close-on-exec,
 * descriptors beyond the receiver's capacity are closed (none leak: every
 * descriptor number is checked with fcntl(F_GETFD)), a closed peer is an
 * error and not a SIGPIPE, and a full or empty socket does not block.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "coldplug/fdpass.h"
#include "tap.h"

#define FD_SCAN 1024

/**
 * open_fds() - how many descriptor numbers below FD_SCAN are open
 *
 * Return: the count
 */
static int open_fds(void)
{
	int fd, n = 0;

	for (fd = 0; fd < FD_SCAN; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

/**
 * same_file() - whether two descriptors refer to the same inode
 * @a:	descriptor
 * @b:	descriptor
 *
 * Return: true if st_dev and st_ino match
 */
static bool same_file(int a, int b)
{
	struct stat sa, sb;

	if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0)
		return false;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/**
 * make_pair() - a nonblocking unix stream socketpair
 * @sv:	filled with the two ends
 */
static void make_pair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		bail_out("socketpair: %s", strerror(errno));
}

/**
 * test_one_fd() - one descriptor, with its bytes, to the same file
 */
static void test_one_fd(void)
{
	cleanup_close int a = -1, b = -1, file = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int sv[2], got = -1;
	size_t nfds = 1;
	char buf[64] = "";
	struct cp_error err;
	long n;

	make_pair(sv);
	a = sv[0];
	b = sv[1];
	is_int(fdpass_send(a, "{\"execute\":\"getfd\"}", 19, &file, 1, &err), 19,
	       "send: 19 bytes with 1 fd");
	n = fdpass_recv(b, buf, sizeof(buf), &got, &nfds, &err);
	ok(n == 19 && !memcmp(buf, "{\"execute\":\"getfd\"}", 19), "recv: the bytes");
	is_int((long long)nfds, 1, "recv: one fd");
	ok(got >= 0 && got != file && same_file(got, file), "recv: a new fd to the same file");
	ok((fcntl(got, F_GETFD) & FD_CLOEXEC) != 0, "recv: close-on-exec (MSG_CMSG_CLOEXEC)");
	close(got);
	nfds = 4;
	is_int(fdpass_recv(b, buf, sizeof(buf), &got, &nfds, &err), -2, "recv: empty socket: -2");
	is_int(fdpass_send(a, "x", 1, NULL, 0, &err), 1, "send: no fds");
	nfds = 4;
	ok(fdpass_recv(b, buf, sizeof(buf), &got, &nfds, &err) == 1 && nfds == 0,
	   "recv: bytes without fds report 0 fds");
}

/**
 * test_capacity() - more fds than the receiver holds: the rest are closed
 */
static void test_capacity(void)
{
	int sv[2], files[FDPASS_MAX_FDS], got[FDPASS_MAX_FDS], before, i;
	size_t nfds;
	char buf[16];
	struct cp_error err;
	bool same = true;

	make_pair(sv);
	for (i = 0; i < FDPASS_MAX_FDS; i++)
		files[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	before = open_fds();
	is_int(fdpass_send(sv[0], "abc", 3, files, 3, &err), 3, "send: 3 fds");
	nfds = 1;
	ok(fdpass_recv(sv[1], buf, sizeof(buf), got, &nfds, &err) == 3 && nfds == 1,
	   "recv with capacity 1: 1 fd stored");
	is_int(open_fds(), before + 1, "recv: the 2 fds beyond capacity were closed");
	close(got[0]);

	fdpass_send(sv[0], "abc", 3, files, 2, &err);
	ok(fdpass_recv(sv[1], buf, sizeof(buf), NULL, NULL, &err) == 3, "recv with no fd array");
	is_int(open_fds(), before, "recv with no fd array: every fd closed");
	fdpass_send(sv[0], "abc", 3, files, 2, &err);
	nfds = 0;
	ok(fdpass_recv(sv[1], buf, sizeof(buf), got, &nfds, &err) == 3 && nfds == 0,
	   "recv with capacity 0: none stored");
	is_int(open_fds(), before, "recv with capacity 0: every fd closed");

	is_int(fdpass_send(sv[0], "abc", 3, files, FDPASS_MAX_FDS, &err), 3,
	       "send: FDPASS_MAX_FDS fds");
	nfds = FDPASS_MAX_FDS;
	ok(fdpass_recv(sv[1], buf, sizeof(buf), got, &nfds, &err) == 3 && nfds == FDPASS_MAX_FDS,
	   "recv: all FDPASS_MAX_FDS fds");
	for (i = 0; i < FDPASS_MAX_FDS; i++) {
		same = same && same_file(got[i], files[i]);
		close(got[i]);
	}
	ok(same, "recv: each fd refers to the file sent in its position");
	is_int(open_fds(), before, "no fd leaked");
	for (i = 0; i < FDPASS_MAX_FDS; i++)
		close(files[i]);
	close(sv[0]);
	close(sv[1]);
}

/**
 * test_errors() - bad arguments, closed peer, full socket, non-socket
 */
static void test_errors(void)
{
	int sv[2], files[FDPASS_MAX_FDS + 1] = { 0 }, pfd[2], sndbuf = 4096;
	struct cp_error err = { 0 };
	char chunk[4096] = { 0 };
	long n = 1;
	int rounds = 0;

	make_pair(sv);
	ok(fdpass_send(sv[0], "x", 1, files, FDPASS_MAX_FDS + 1, &err) < 0 &&
		   err.code == CP_ERR_INVALID,
	   "send: more than FDPASS_MAX_FDS fds is CP_ERR_INVALID");
	ok(fdpass_send(sv[0], "", 0, files, 1, &err) < 0 && err.code == CP_ERR_INVALID,
	   "send: fds without a byte is CP_ERR_INVALID");
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	while (n > 0 && rounds++ < 10000)
		n = fdpass_send(sv[0], chunk, sizeof(chunk), NULL, 0, &err);
	is_int(n, 0, "send: a full socket returns 0 (would block)");
	close(sv[1]);
	ok(fdpass_send(sv[0], "x", 1, NULL, 0, &err) < 0 && err.code == CP_ERR_SYSTEM &&
		   err.sys_errno == EPIPE,
	   "send: closed peer is EPIPE, not SIGPIPE");
	close(sv[0]);

	make_pair(sv);
	close(sv[0]);
	is_int(fdpass_recv(sv[1], chunk, sizeof(chunk), NULL, NULL, &err), 0,
	       "recv: closed peer is end of stream (0)");
	close(sv[1]);
	if (pipe(pfd) < 0)
		bail_out("pipe: %s", strerror(errno));
	ok(fdpass_recv(pfd[0], chunk, sizeof(chunk), NULL, NULL, &err) < 0 &&
		   err.sys_errno == ENOTSOCK,
	   "recv: on a pipe is ENOTSOCK");
	ok(fdpass_peer_cred(pfd[0], &(struct fdpass_cred){ 0 }, &err) < 0 &&
		   err.code == CP_ERR_SYSTEM,
	   "peer_cred: on a pipe fails");
	close(pfd[0]);
	close(pfd[1]);
}

/**
 * test_cred() - SO_PEERCRED names this process on a socketpair
 */
static void test_cred(void)
{
	struct fdpass_cred cred = { 0 };
	struct cp_error err;
	int sv[2];

	make_pair(sv);
	is_int(fdpass_peer_cred(sv[0], &cred, &err), 0, "peer_cred");
	is_int(cred.pid, getpid(), "peer_cred: pid");
	is_int(cred.uid, getuid(), "peer_cred: uid");
	is_int(cred.gid, getgid(), "peer_cred: gid");
	close(sv[0]);
	close(sv[1]);
}

/**
 * main() - run the checks
 *
 * Return: TAP exit status
 */
int main(void)
{
	int before = open_fds();

	test_one_fd();
	test_capacity();
	test_errors();
	test_cred();
	is_int(open_fds(), before, "no descriptor leaked by the whole test");
	return done_testing();
}

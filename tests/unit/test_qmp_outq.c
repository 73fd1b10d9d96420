/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The QMP client's output queue (lib/qmp_outq.c) over a socketpair with a
 * small buffer: a flush never waits, a message's descriptors arrive with its
 * first byte and not before, the byte bound holds and leaves the queue as it
 * was, a closed peer is an error (not a SIGPIPE), and every duplicated
 * descriptor is closed once sent or dropped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "coldplug/fdpass.h"
#include "qmp_outq.h"
#include "tap.h"

#define FD_SCAN 1024
#define BIG	(256u << 10)

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
 * make_pair() - a nonblocking unix stream socketpair with small buffers
 * @sv:	filled with the two ends
 */
static void make_pair(int sv[2])
{
	int size = 4096;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		bail_out("socketpair: %s", strerror(errno));
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}

/**
 * filled() - a new string of @len copies of @c
 * @c:		the byte
 * @len:	length
 *
 * Return: new string (bails out when out of memory)
 */
static char *filled(char c, size_t len)
{
	char *s = malloc(len + 1);

	if (!s)
		bail_out("out of memory");
	memset(s, c, len);
	s[len] = '\0';
	return s;
}

/**
 * test_fd_with_first_byte() - a large message, then one with a descriptor:
 * the flushes that the small socket allows never wait, and the descriptor
 * arrives in the read that holds the second message's first byte
 */
static void test_fd_with_first_byte(void)
{
	cleanup_close int file = open("/dev/null", O_RDONLY | O_CLOEXEC);
	struct qmp_outq *q = qmp_outq_new(1u << 20);
	static char buf[65536];
	size_t got = 0, fd_at = 0, fd_end = 0, flushes = 0, arrivals = 0;
	int sv[2], fds_before;
	struct cp_error err;

	make_pair(sv);
	fds_before = open_fds();
	ok(q && qmp_outq_push(q, filled('a', BIG), NULL, 0, &err) == 0 &&
		   qmp_outq_push(q, filled('b', 100), &file, 1, &err) == 0,
	   "fd order: two messages queued");
	is_int(open_fds(), fds_before + 1, "fd order: the queue holds a duplicate");
	is_int((long long)qmp_outq_bytes(q), BIG + 100, "fd order: every byte is waiting");
	while (got < BIG + 100 && flushes < 100000) {
		int fd = -1;
		size_t nfds = 1;
		long n;

		flushes++;
		if (qmp_outq_flush(q, sv[0], &err) < 0)
			break;
		n = fdpass_recv(sv[1], buf, sizeof(buf), &fd, &nfds, &err);
		if (n > 0 && nfds && !arrivals++) {
			fd_at = got + 1;
			fd_end = got + (size_t)n;
		}
		if (n > 0 && nfds)
			close(fd);
		if (n > 0)
			got += (size_t)n;
	}
	is_int((long long)got, BIG + 100, "fd order: every byte arrived, over %zu flushes",
	       flushes);
	ok(flushes > 1, "fd order: the small socket took it in several flushes, none waited");
	is_int((long long)arrivals, 1, "fd order: the descriptor arrived once");
	ok(fd_at > 0 && fd_at <= BIG + 1 && fd_end >= BIG + 1,
	   "fd order: the descriptor came with the read holding byte %u (bytes %zu-%zu)", BIG + 1,
	   fd_at, fd_end);
	is_int((long long)qmp_outq_bytes(q), 0, "fd order: nothing left");
	is_int(open_fds(), fds_before, "fd order: the duplicate was closed once sent");
	qmp_outq_free(q);
	close(sv[0]);
	close(sv[1]);
}

/**
 * test_bound() - a message past the bound is refused and changes nothing
 */
static void test_bound(void)
{
	cleanup_close int file = open("/dev/null", O_RDONLY | O_CLOEXEC);
	struct qmp_outq *q = qmp_outq_new(1000);
	int fds_before = open_fds();
	struct cp_error err;

	ok(q && qmp_outq_push(q, filled('a', 600), NULL, 0, &err) == 0, "bound: 600 of 1000");
	ok(qmp_outq_push(q, filled('b', 401), &file, 1, &err) < 0 && err.code == CP_ERR_PROTOCOL,
	   "bound: 401 more are refused (%s)", err.msg);
	like(err.msg, "does not read its socket", "bound: the error says why");
	is_int((long long)qmp_outq_bytes(q), 600, "bound: the queue is as it was");
	is_int(open_fds(), fds_before, "bound: no duplicate kept for the refused message");
	ok(qmp_outq_push(q, filled('c', 400), &file, 1, &err) == 0, "bound: exactly 1000 fit");
	qmp_outq_clear(q);
	is_int((long long)qmp_outq_bytes(q), 0, "bound: cleared");
	is_int(open_fds(), fds_before, "bound: clearing closed the duplicate");
	qmp_outq_free(q);
}

/**
 * test_peer_gone() - a flush to a closed peer fails with EPIPE (no signal)
 */
static void test_peer_gone(void)
{
	struct qmp_outq *q = qmp_outq_new(1u << 20);
	struct cp_error err = { 0 };
	int sv[2];

	make_pair(sv);
	close(sv[1]);
	ok(q && qmp_outq_push(q, filled('a', 10), NULL, 0, &err) == 0, "gone: queued");
	ok(qmp_outq_flush(q, sv[0], &err) < 0 && err.sys_errno == EPIPE,
	   "gone: the flush fails with EPIPE (%s)", err.msg);
	is_int((long long)qmp_outq_bytes(q), 10, "gone: what waited stays queued");
	qmp_outq_free(q);
	close(sv[0]);
}

int main(void)
{
	test_fd_with_first_byte();
	test_bound();
	test_peer_gone();
	return done_testing();
}

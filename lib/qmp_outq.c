// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The QMP client's bounded output queue: see qmp_outq.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coldplug/fdpass.h"
#include "qmp_outq.h"

/**
 * struct qmp_out - one message not yet wholly written
 * @text:	the message, NUL-terminated
 * @len:	its length
 * @off:	bytes of it already written
 * @fds:	duplicates of the descriptors that go with its first byte
 * @nfds:	their count
 */
struct qmp_out {
	char *text;
	size_t len;
	size_t off;
	int fds[FDPASS_MAX_FDS];
	size_t nfds;
};

/**
 * struct qmp_outq - messages in the order they are written
 * @msgs:	the queue; [@head, @n) are waiting
 * @head:	the message being written
 * @n:		entries in use
 * @cap:	entries allocated
 * @bytes:	bytes waiting, all messages together
 * @max_bytes:	bound on @bytes
 */
struct qmp_outq {
	struct qmp_out *msgs;
	size_t head;
	size_t n;
	size_t cap;
	size_t bytes;
	size_t max_bytes;
};

/**
 * qmp_outq_new() - an empty queue
 * @max_bytes:	most bytes it may hold
 *
 * Return: new queue (free with qmp_outq_free()), or NULL when out of memory
 */
struct qmp_outq *qmp_outq_new(size_t max_bytes)
{
	struct qmp_outq *q = calloc(1, sizeof(*q));

	if (q)
		q->max_bytes = max_bytes;
	return q;
}

/**
 * drop() - free one message and close its descriptors
 * @m:	the message
 */
static void drop(struct qmp_out *m)
{
	size_t i;

	for (i = 0; i < m->nfds; i++)
		close(m->fds[i]);
	free(m->text);
	m->text = NULL;
	m->nfds = 0;
}

/**
 * qmp_outq_clear() - forget every waiting message (the peer is gone)
 * @q:	queue
 */
void qmp_outq_clear(struct qmp_outq *q)
{
	while (q->head < q->n)
		drop(&q->msgs[q->head++]);
	q->head = q->n = 0;
	q->bytes = 0;
}

/**
 * qmp_outq_free() - free the queue and what it holds
 * @q:	queue, may be NULL
 */
void qmp_outq_free(struct qmp_outq *q)
{
	if (!q)
		return;
	qmp_outq_clear(q);
	free(q->msgs);
	free(q);
}

/**
 * room() - make space for one more entry
 * @q:		queue
 * @err:	filled on failure
 *
 * Return: 0, or -1 when out of memory
 */
static int room(struct qmp_outq *q, struct cp_error *err)
{
	struct qmp_out *m;
	size_t cap;

	if (q->head == q->n)
		q->head = q->n = 0;
	if (q->n < q->cap)
		return 0;
	if (q->head) {
		memmove(q->msgs, q->msgs + q->head, (q->n - q->head) * sizeof(*q->msgs));
		q->n -= q->head;
		q->head = 0;
		return 0;
	}
	cap = q->cap ? q->cap * 2 : 8;
	m = realloc(q->msgs, cap * sizeof(*m));
	if (!m)
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory");
	q->msgs = m;
	q->cap = cap;
	return 0;
}

/**
 * qmp_outq_push() - queue a message behind the others
 * @q:		queue
 * @text:	the message, stolen (freed on failure too); not empty
 * @fds:	descriptors to send with its first byte, or NULL; duplicated,
 *		the caller keeps its own
 * @nfds:	their count, at most FDPASS_MAX_FDS
 * @err:	filled on failure
 *
 * Return: 0, or -1 (the bound would be passed: the peer is not reading)
 */
int qmp_outq_push(struct qmp_outq *q, char *text, const int *fds, size_t nfds, struct cp_error *err)
{
	struct qmp_out m = { .text = text, .len = strlen(text) };

	if (nfds > FDPASS_MAX_FDS || !m.len) {
		free(text);
		return cp_error_set(err, CP_ERR_INVALID, "cannot send %zu descriptors", nfds);
	}
	if (m.len > q->max_bytes - q->bytes) {
		free(text);
		return cp_error_set(err, CP_ERR_PROTOCOL,
				    "QEMU does not read its socket: %zu bytes are waiting, and "
				    "%zu more would pass the bound of %zu",
				    q->bytes, m.len, q->max_bytes);
	}
	for (; m.nfds < nfds; m.nfds++) {
		m.fds[m.nfds] = fcntl(fds[m.nfds], F_DUPFD_CLOEXEC, 0);
		if (m.fds[m.nfds] < 0) {
			cp_error_set_errno(err, errno, "duplicate descriptor %d", fds[m.nfds]);
			drop(&m);
			return -1;
		}
	}
	if (room(q, err) < 0) {
		drop(&m);
		return -1;
	}
	q->msgs[q->n++] = m;
	q->bytes += m.len;
	return 0;
}

/**
 * qmp_outq_flush() - write what the socket takes now, never waiting
 * @q:		queue
 * @sock:	the connection (non-blocking)
 * @err:	filled on failure
 *
 * Each message's descriptors go with its first byte, in a sendmsg() that
 * starts with that byte.
 *
 * Return: 0 (all written, or the socket is full: qmp_outq_bytes() says
 * which), or -1 (the peer is gone; what is waiting stays queued)
 */
int qmp_outq_flush(struct qmp_outq *q, int sock, struct cp_error *err)
{
	while (q->head < q->n) {
		struct qmp_out *m = &q->msgs[q->head];
		bool first = m->off == 0;
		long n = fdpass_send(sock, m->text + m->off, m->len - m->off, first ? m->fds : NULL,
				     first ? m->nfds : 0, err);

		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		if (first)
			for (; m->nfds; m->nfds--)
				close(m->fds[m->nfds - 1]);
		m->off += (size_t)n;
		q->bytes -= (size_t)n;
		if (m->off < m->len)
			continue;
		drop(m);
		q->head++;
	}
	return 0;
}

/**
 * qmp_outq_bytes() - bytes waiting to be written
 * @q:	queue
 *
 * Return: the count; 0 when the queue is empty
 */
size_t qmp_outq_bytes(const struct qmp_outq *q)
{
	return q->bytes;
}

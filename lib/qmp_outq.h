/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The QMP client's output queue: messages waiting for a peer that reads its
 * socket at its own pace, so that no write ever blocks the caller (the
 * daemon serves every VM from one event loop: a QEMU that does not read
 * must not stall the others). Bounded in bytes: a peer that never reads
 * costs at most that much before its connection fails.
 *
 * Descriptors passed with a message (getfd, add-fd) travel with its first
 * byte, in a sendmsg() of their own, as QEMU expects; the queue holds
 * duplicates, so the caller may close its own at once.
 */
#ifndef COLDPLUG_QMP_OUTQ_H
#define COLDPLUG_QMP_OUTQ_H

#include <stdbool.h>
#include <stddef.h>

#include "coldplug/error.h"

struct qmp_outq;

struct qmp_outq *qmp_outq_new(size_t max_bytes);
void qmp_outq_free(struct qmp_outq *q);
int qmp_outq_push(struct qmp_outq *q, char *text, const int *fds, size_t nfds,
		  struct cp_error *err);
int qmp_outq_flush(struct qmp_outq *q, int sock, struct cp_error *err);
size_t qmp_outq_bytes(const struct qmp_outq *q);
void qmp_outq_clear(struct qmp_outq *q);

#endif /* COLDPLUG_QMP_OUTQ_H */

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A batch of QMP queries sent back to back, answered in any order, with one
 * callback when every reply is in. Introspection (the inventory) is a few
 * rounds of such batches: the replies of one round decide the next.
 *
 * A command that QEMU answers with an error does not fail the batch: its
 * result is NULL and its error is kept (a qom-get of a property a device does
 * not have is an answer, not a failure). A connection failure fails it.
 */
#ifndef COLDPLUG_QMP_BATCH_H
#define COLDPLUG_QMP_BATCH_H

#include <stddef.h>

#include "coldplug/error.h"
#include "coldplug/json.h"

struct qmp_client;
struct qmp_batch;

typedef void (*qmp_batch_fn)(struct qmp_batch *b, const struct cp_error *err, void *userdata);

struct qmp_batch *qmp_batch_new(void);
void qmp_batch_free(struct qmp_batch *b);
int qmp_batch_add(struct qmp_batch *b, const char *cmd, cp_json *args);
int qmp_batch_add_args(struct qmp_batch *b, const char *cmd, cp_json *args);
int qmp_batch_add_qom_list(struct qmp_batch *b, const char *path);
int qmp_batch_add_qom_get(struct qmp_batch *b, const char *path, const char *property);
size_t qmp_batch_count(const struct qmp_batch *b);
int qmp_batch_send(struct qmp_batch *b, struct qmp_client *c, qmp_batch_fn fn, void *userdata,
		   struct cp_error *err);
int qmp_batch_run(struct qmp_batch *b, struct qmp_client *c, struct cp_error *err);
cp_json *qmp_batch_result(const struct qmp_batch *b, size_t i);
const struct cp_error *qmp_batch_error(const struct qmp_batch *b, size_t i);

#endif /* COLDPLUG_QMP_BATCH_H */

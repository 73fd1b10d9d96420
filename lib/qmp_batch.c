/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Batches of QMP queries: see coldplug/qmp_batch.h.
 */
#include <stdlib.h>
#include <string.h>

#include "coldplug/cleanup.h"
#include "coldplug/qmp.h"
#include "coldplug/qmp_batch.h"
#include "util.h"

/**
 * struct batch_item - one command of a batch and, later, its answer
 * @batch:	back pointer, for the reply callback
 * @cmd:	command name
 * @args:	arguments (owned until sent)
 * @result:	return value (new reference), NULL until answered or on error
 * @err:	QEMU's error, when @failed
 * @answered:	the reply (or error) is in
 * @failed:	QEMU answered with an error
 */
struct batch_item {
	struct qmp_batch *batch;
	char cmd[64];
	cp_json *args;
	cp_json *result;
	struct cp_error err;
	bool answered;
	bool failed;
};

/**
 * struct qmp_batch - see coldplug/qmp_batch.h
 * @items:	commands, in order
 * @n:		their count
 * @cap:	allocated entries
 * @left:	replies still awaited
 * @fn:		completion callback
 * @userdata:	passed to @fn
 * @conn_err:	the connection error that failed the batch, if any
 * @conn_failed: whether @conn_err is set
 * @sent:	qmp_batch_send() was called
 */
struct qmp_batch {
	struct batch_item **items;
	size_t n, cap;
	size_t left;
	qmp_batch_fn fn;
	void *userdata;
	struct cp_error conn_err;
	bool conn_failed;
	bool sent;
};

/**
 * qmp_batch_new() - an empty batch
 *
 * Return: new batch (free with qmp_batch_free()), or NULL when out of memory
 */
struct qmp_batch *qmp_batch_new(void)
{
	return calloc(1, sizeof(struct qmp_batch));
}

/**
 * qmp_batch_free() - free a batch and its results
 * @b:	batch, may be NULL; must not have replies outstanding
 */
void qmp_batch_free(struct qmp_batch *b)
{
	size_t i;

	if (!b)
		return;
	CP_ASSERT(!b->left);
	for (i = 0; i < b->n; i++) {
		cp_json_unref(b->items[i]->args);
		cp_json_unref(b->items[i]->result);
		free(b->items[i]);
	}
	free(b->items);
	free(b);
}

/**
 * qmp_batch_add() - append a command
 * @b:		batch, not sent yet
 * @cmd:	command name
 * @args:	arguments, stolen (also on failure); NULL for none
 *
 * Return: 0, or -1 when out of memory
 */
int qmp_batch_add(struct qmp_batch *b, const char *cmd, cp_json *args)
{
	struct batch_item *it;

	CP_ASSERT(!b->sent);
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		struct batch_item **n = realloc(b->items, cap * sizeof(*n));

		if (!n) {
			cp_json_unref(args);
			return -1;
		}
		b->items = n;
		b->cap = cap;
	}
	it = calloc(1, sizeof(*it));
	if (!it) {
		cp_json_unref(args);
		return -1;
	}
	it->batch = b;
	cp_strlcpy(it->cmd, cmd, sizeof(it->cmd));
	it->args = args;
	b->items[b->n++] = it;
	return 0;
}

/**
 * qmp_batch_add_args() - append a command that needs arguments
 * @b:		batch, not sent yet
 * @cmd:	command name
 * @args:	arguments, stolen; NULL means building them ran out of memory
 *		(qmp_batch_add() would send the command without any)
 *
 * Return: 0, or -1 when out of memory
 */
int qmp_batch_add_args(struct qmp_batch *b, const char *cmd, cp_json *args)
{
	return args ? qmp_batch_add(b, cmd, args) : -1;
}

/**
 * qmp_batch_add_qom_list() - append qom-list of @path
 * @b:		batch
 * @path:	QOM path
 *
 * Return: 0, or -1 when out of memory
 */
int qmp_batch_add_qom_list(struct qmp_batch *b, const char *path)
{
	return qmp_batch_add_args(b, "qom-list", cp_json_obj(CP_STR("path", path)));
}

/**
 * qmp_batch_add_qom_get() - append qom-get of @property on @path
 * @b:		batch
 * @path:	QOM path
 * @property:	property name
 *
 * Return: 0, or -1 when out of memory
 */
int qmp_batch_add_qom_get(struct qmp_batch *b, const char *path, const char *property)
{
	return qmp_batch_add_args(b, "qom-get",
				  cp_json_obj(CP_STR("path", path), CP_STR("property", property)));
}

/**
 * qmp_batch_count() - number of commands
 * @b:	batch
 *
 * Return: the count
 */
size_t qmp_batch_count(const struct qmp_batch *b)
{
	return b->n;
}

/**
 * batch_reply() - qmp_reply_fn for one item; completes the batch at the end
 * @c:		client
 * @ret:	reply value (borrowed), or NULL
 * @e:		error, or NULL
 * @userdata:	the struct batch_item
 */
static void batch_reply(struct qmp_client *c, cp_json *ret, const struct cp_error *e,
			void *userdata)
{
	struct batch_item *it = userdata;
	struct qmp_batch *b = it->batch;

	(void)c;
	it->answered = true;
	if (e && e->code != CP_ERR_QMP && !b->conn_failed) {
		b->conn_failed = true;
		cp_error_copy(&b->conn_err, e);
	} else if (e) {
		it->failed = true;
		cp_error_copy(&it->err, e);
	} else {
		it->result = cp_json_ref(ret);
	}
	if (--b->left == 0 && b->fn)
		b->fn(b, b->conn_failed ? &b->conn_err : NULL, b->userdata);
}

/**
 * qmp_batch_send() - send every command; @fn runs when all are answered
 * @b:		batch, not sent yet
 * @c:		ready client
 * @fn:		called once, with NULL or the connection error; QEMU's errors
 *		for single commands are in qmp_batch_error()
 * @userdata:	passed to @fn
 * @err:	filled if nothing could be sent (then @fn is not called)
 *
 * Return: 0, or -1
 */
int qmp_batch_send(struct qmp_batch *b, struct qmp_client *c, qmp_batch_fn fn, void *userdata,
		   struct cp_error *err)
{
	size_t i, n = b->n;

	CP_ASSERT(!b->sent);
	b->sent = true;
	b->fn = fn;
	b->userdata = userdata;
	if (!b->n) {
		fn(b, NULL, userdata);
		return 0;
	}
	/* Count all first: a reply cannot arrive before we return to the loop,
	 * but a send failure latches the client and answers earlier items. */
	b->left = b->n;
	for (i = 0; i < n; i++) {
		struct batch_item *it = b->items[i];
		struct cp_error se;

		if (qmp_client_send(c, it->cmd, steal_pointer(&it->args), NULL, 0, 0, batch_reply,
				    it, &se) < 0) {
			size_t j;

			if (i == 0) {
				b->left = 0;
				cp_error_copy(err, &se);
				return -1;
			}
			/* The items not sent will never be answered: answer them.
			 * The last answer runs @fn, which may free @b: the loop
			 * must not read @b after it, hence the copy of b->n. */
			for (j = i; j < n; j++)
				batch_reply(c, NULL, &se, b->items[j]);
			return 0;
		}
	}
	return 0;
}

/**
 * run_done() - qmp_batch_fn for qmp_batch_run()
 * @b:		batch
 * @e:		connection error, or NULL
 * @userdata:	struct cp_error * to fill, with a done flag before it
 */
static void run_done(struct qmp_batch *b, const struct cp_error *e, void *userdata)
{
	struct cp_error *out = userdata;

	(void)b;
	if (e)
		cp_error_copy(out, e);
}

/**
 * qmp_batch_run() - send a batch and wait for every reply
 * @b:		batch, not sent yet
 * @c:		ready client
 * @err:	filled on a connection failure
 *
 * Return: 0 (per-command QEMU errors are in qmp_batch_error()), or -1
 */
int qmp_batch_run(struct qmp_batch *b, struct qmp_client *c, struct cp_error *err)
{
	struct cp_error e;

	cp_error_clear(&e);
	if (qmp_batch_send(b, c, run_done, &e, err) < 0)
		return -1;
	while (b->left)
		if (qmp_client_dispatch(c, -1, NULL) < 0 && b->left)
			CP_ASSERT(!"a failed client answers every pending command");
	if (e.code != CP_ERR_NONE) {
		cp_error_copy(err, &e);
		return -1;
	}
	return 0;
}

/**
 * qmp_batch_result() - return value of command @i
 * @b:	answered batch
 * @i:	index, in the order added
 *
 * Return: borrowed value, or NULL if QEMU answered with an error
 */
cp_json *qmp_batch_result(const struct qmp_batch *b, size_t i)
{
	return i < b->n ? b->items[i]->result : NULL;
}

/**
 * qmp_batch_error() - QEMU's error for command @i
 * @b:	answered batch
 * @i:	index
 *
 * Return: borrowed error, or NULL if the command succeeded
 */
const struct cp_error *qmp_batch_error(const struct qmp_batch *b, size_t i)
{
	if (i >= b->n || !b->items[i]->failed)
		return NULL;
	return &b->items[i]->err;
}

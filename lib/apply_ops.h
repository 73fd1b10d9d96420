/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The QMP operations each kind of plan step consists of, built by pure
 * functions so they can be unit-tested, shown by --dry-run, and run by the
 * one generic runner in apply.c. This file is the one place that knows
 * which QMP commands re-home a disk, a CD or a NIC, and how to undo a disk.
 */
#ifndef COLDPLUG_APPLY_OPS_H
#define COLDPLUG_APPLY_OPS_H

#include <stdbool.h>
#include <stddef.h>

#include "coldplug/error.h"
#include "coldplug/json.h"
#include "coldplug/plan.h"

/**
 * enum op_kind - one operation of a step
 * @OP_CMD:		a QMP command (its reply may be checked)
 * @OP_WAIT_DELETED:	wait for DEVICE_DELETED of a device, counting events
 *			from just before the previous command
 * @OP_OPEN_TAP:	open one new queue on the step's host tap (checking
 *			that no queue of it is left open)
 */
enum op_kind {
	OP_CMD,
	OP_WAIT_DELETED,
	OP_OPEN_TAP,
};

typedef int (*op_check_fn)(const struct plan_step *st, const cp_json *ret, struct cp_error *err);

/**
 * struct op - one operation
 * @kind:	enum op_kind
 * @cmd:	OP_CMD: command name
 * @args:	OP_CMD: arguments (owned)
 * @with_tap:	OP_CMD: pass the queue opened by OP_OPEN_TAP with it
 * @changes:	success means QEMU has changed
 * @commits:	success means the device has reached its new frontend: no
 *		rollback after this point
 * @adds_slot:	success means the step's CD slot (usb-bot) exists: a
 *		rollback unplugs it first
 * @drops_netdev:	success means the manager's netdev is gone (its queues
 *			of the tap are closed)
 * @adds_netdev:	success means the new single-queue netdev exists
 * @wait_id:	OP_WAIT_DELETED: the device id
 * @check:	OP_CMD: verifies the reply, or NULL
 */
struct op {
	enum op_kind kind;
	char cmd[40];
	cp_json *args;
	bool with_tap;
	bool changes;
	bool commits;
	bool adds_slot;
	bool drops_netdev;
	bool adds_netdev;
	char wait_id[INV_NAME_MAX];
	op_check_fn check;
};

/**
 * struct op_list - the operations of a step, in order
 * @ops:	array
 * @n:		count
 */
struct op_list {
	struct op *ops;
	size_t n;
};

int ops_for_step(const struct plan_step *st, struct op_list *out, struct cp_error *err);
int ops_for_rollback(const struct plan_step *st, bool slot_added, struct op_list *out,
		     struct cp_error *err);
void ops_free(struct op_list *l);
void ops_fdname(const struct plan_step *st, char *out, size_t size);

#endif /* COLDPLUG_APPLY_OPS_H */

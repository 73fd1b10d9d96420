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
 * enum apply_op_kind - one operation of a step
 * @APPLY_OP_CMD:		a QMP command (its reply may be checked)
 * @APPLY_OP_WAIT_DELETED:	wait for DEVICE_DELETED of a device, counting events
 *			from just before the previous command
 * @APPLY_OP_OPEN_TAP:	open one new queue on the step's host tap (checking
 *			that no queue of it is left open)
 * @APPLY_OP_OPEN_MEMFD:	create an empty memfd, passed like a tap queue
 *			(@with_tap) to the next add-fd
 */
enum apply_op_kind {
	APPLY_OP_CMD,
	APPLY_OP_WAIT_DELETED,
	APPLY_OP_OPEN_TAP,
	APPLY_OP_OPEN_MEMFD,
};

typedef int (*apply_op_check_fn)(const struct plan_step *st, const cp_json *ret,
				 struct cp_error *err);

/**
 * struct apply_op - one operation
 * @kind:	enum apply_op_kind
 * @cmd:	APPLY_OP_CMD: command name
 * @args:	APPLY_OP_CMD: arguments (owned)
 * @with_tap:	APPLY_OP_CMD: pass the descriptor opened by APPLY_OP_OPEN_TAP
 *		or APPLY_OP_OPEN_MEMFD with it
 * @changes:	success means QEMU has changed
 * @commits:	success means the device has reached its new frontend: no
 *		rollback after this point
 * @adds_slot:	success means the step's CD slot (usb-bot) exists: a
 *		rollback unplugs it first
 * @drops_netdev:	success means the manager's netdev is gone (its queues
 *			of the tap are closed)
 * @adds_netdev:	success means the new single-queue netdev exists
 * @wait_id:	APPLY_OP_WAIT_DELETED: the device id
 * @check:	APPLY_OP_CMD: verifies the reply, or NULL
 */
struct apply_op {
	enum apply_op_kind kind;
	char cmd[40];
	cp_json *args;
	bool with_tap;
	bool changes;
	bool commits;
	bool adds_slot;
	bool drops_netdev;
	bool adds_netdev;
	char wait_id[INV_NAME_MAX];
	apply_op_check_fn check;
};

/**
 * struct apply_op_list - the operations of a step, in order
 * @ops:	array
 * @n:		count
 */
struct apply_op_list {
	struct apply_op *ops;
	size_t n;
};

int apply_ops_for_step(const struct plan_step *st, struct apply_op_list *out, struct cp_error *err);
int apply_ops_for_rollback(const struct plan_step *st, bool slot_added, struct apply_op_list *out,
			   struct cp_error *err);
void apply_ops_free(struct apply_op_list *l);
void apply_ops_fdname(const struct plan_step *st, char *out, size_t size);

#endif /* COLDPLUG_APPLY_OPS_H */

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The apply runner: see coldplug/apply.h. It walks the plan's steps, runs
 * each step's operation list (apply_ops.c) asynchronously on the QMP client,
 * and on the first failure restores what it can and stops.
 *
 * With two or more steps, their unplugs go first, all at once: every
 * device_del in one batch and every DEVICE_DELETED awaited together. QEMU
 * finishes a deleted device in an RCU callback, which its RCU thread runs
 * in batches after up to 50 ms, so one device at a time costs about 50 ms
 * each and all together about 50 ms in all. Then each step runs the rest of
 * its operations in order. A step whose unplug failed is left where it was;
 * every step whose frontend is gone still goes on (or is put back), so no
 * device is left without a frontend; the run then reports the first failure.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "apply_ops.h"
#include "coldplug/cleanup.h"
#include "coldplug/apply.h"
#include "coldplug/log.h"
#include "coldplug/qmp.h"
#include "tapq.h"
#include "util.h"

#define APPLY_DEFAULT_EVENT_TIMEOUT_MS 5000

/**
 * struct unplug - one step's unplug in the first phase
 * @a:		run
 * @step:	the step
 * @waits:	DEVICE_DELETED events still awaited (the frontend, and the USB
 *		device around it when that is what device_del names)
 * @replied:	device_del succeeded
 * @unknown:	device_del got no answer (timeout, end of stream): QEMU may
 *		have carried it out
 * @failed:	device_del or a wait failed (@err says why)
 * @err:	what went wrong
 */
struct unplug {
	struct apply *a;
	size_t step;
	unsigned waits;
	bool replied;
	bool unknown;
	bool failed;
	struct cp_error err;
};

/**
 * struct apply - one application of a plan in progress
 * @c:			client
 * @plan:		the plan (borrowed)
 * @o:			options (copied)
 * @res:		per-step results (borrowed, plan->n entries)
 * @fn:			completion callback
 * @userdata:		passed to @fn
 * @step:		index of the current step
 * @ops:		operations of the current step (or of its rollback)
 * @cur:		index of the next operation
 * @rolling_back:	@ops is the rollback of a failed step
 * @gone:		DEVICE_DELETED confirmed the manager's frontend is gone
 * @committed:		the current step has reached its new frontend
 * @slot_added:		the current step has added its CD slot's usb-bot
 * @netdev_gone:	the current NIC step has deleted the manager's netdev
 * @netdev_added:	the current NIC step has added its new netdev
 * @mark:		event mark taken before the last command
 * @tap:		APPLY_OP_OPEN_TAP's request to the tap helper
 * @tap_after:		what must have closed the tap's queues ("netdev_del X")
 * @tap_fd:		queue opened by APPLY_OP_OPEN_TAP (or the memfd of
 *			APPLY_OP_OPEN_MEMFD), until it is passed
 * @step_start:		cp_now_ms() when the current step began
 * @failure:		the error that stopped the run
 * @unplugs:		per step, its unplug of the first phase; NULL when the
 *			steps unplug one by one
 * @pending:		replies and events the first phase still awaits
 * @batch_failed:	a step failed and the run went on (batch mode)
 * @first_failure:	then, the first failure
 * @nics_lost:		NICs left without network (or in a state unknown) by
 *			steps other than the one the run reports, comma-separated
 */
struct apply {
	struct qmp_client *c;
	const struct plan *plan;
	struct apply_opts o;
	struct apply_result *res;
	apply_fn fn;
	void *userdata;
	size_t step;
	struct apply_op_list ops;
	size_t cur;
	bool rolling_back;
	bool gone;
	bool committed;
	bool slot_added;
	bool netdev_gone;
	bool netdev_added;
	uint64_t mark;
	struct tapq_req tap;
	char tap_after[160];
	int tap_fd;
	int64_t step_start;
	struct cp_error failure;
	struct unplug *unplugs;
	size_t pending;
	bool batch_failed;
	struct cp_error first_failure;
	char nics_lost[256];
};

static void run_ops(struct apply *a);
static void start_step(struct apply *a);
static bool skip_unplug(struct apply *a);
static bool is_unplug_op(const struct apply_op_list *l, size_t i);

/**
 * apply_opts_init() - default options
 * @o:	options to initialise
 */
void apply_opts_init(struct apply_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->event_timeout_ms = APPLY_DEFAULT_EVENT_TIMEOUT_MS;
	o->proc_root = "/proc";
}

/**
 * apply_status_name() - short name of a status, for reports
 * @s:	enum apply_status
 *
 * Return: static string
 */
const char *apply_status_name(enum apply_status s)
{
	switch (s) {
	case APPLY_NOT_ATTEMPTED:
		return "not-attempted";
	case APPLY_PLANNED:
		return "planned";
	case APPLY_ALREADY:
		return "already";
	case APPLY_MOVED:
		return "moved";
	case APPLY_FAILED:
		return "failed";
	case APPLY_ROLLED_BACK:
		return "rolled-back";
	}
	return "?";
}

/**
 * current() - the step being applied
 * @a:	run
 *
 * Return: borrowed step
 */
static const struct plan_step *current(const struct apply *a)
{
	return &a->plan->steps[a->step];
}

/**
 * tap_target() - where the current step's queue is opened
 * @a:	run
 * @t:	filled
 */
static void tap_target(const struct apply *a, struct tapq_target *t)
{
	const struct plan_step *st = current(a);

	t->ifname = *st->ifname ? st->ifname : NULL;
	t->tapdev = *st->tapdev ? st->tapdev : NULL;
	t->pid = a->o.pid;
	t->proc_root = a->o.proc_root;
}

/**
 * err_append() - add a sentence to the end of an error's message
 * @e:		error
 * @fmt:	printf format
 */
static void CP_PRINTF(2, 3) err_append(struct cp_error *e, const char *fmt, ...)
{
	size_t len = strlen(e->msg);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->msg + len, sizeof(e->msg) - len, fmt, ap);
	va_end(ap);
}

/**
 * finish() - report the run and free it
 * @a:		run (freed)
 * @failed:	whether it stopped on an error (in @a->failure)
 */
static void finish(struct apply *a, bool failed)
{
	size_t i;

	for (i = a->step + (failed ? 1 : 0); failed && i < a->plan->n; i++)
		if (a->res[i].status == APPLY_PLANNED)
			a->res[i].status = APPLY_NOT_ATTEMPTED;
	if (a->tap_fd >= 0)
		close(a->tap_fd);
	apply_ops_free(&a->ops);
	if (a->batch_failed) {
		failed = true;
		cp_error_copy(&a->failure, &a->first_failure);
	}
	if (failed && *a->nics_lost) /* what Incus shows must name them too */
		err_append(&a->failure,
			   "; NIC %s also failed midway and %s not put back (see the report): "
			   "restart the VM",
			   a->nics_lost, strchr(a->nics_lost, ',') ? "were" : "was");
	a->fn(a->res, a->plan->n, failed ? &a->failure : NULL, a->userdata);
	free(a->unplugs);
	free(a);
}

/**
 * step_end_failed() - the current step has failed (and was put back if it
 * could be): stop, or in batch mode go on with the next step
 * @a:	run
 */
static void step_end_failed(struct apply *a)
{
	if (!a->unplugs) {
		finish(a, true);
		return;
	}
	if (!a->batch_failed)
		cp_error_copy(&a->first_failure, &a->failure);
	a->batch_failed = true;
	a->rolling_back = false;
	a->step++;
	start_step(a);
}

/**
 * is_nic() - whether a step moves a NIC
 * @st:	step
 *
 * Return: true for the NIC kinds
 */
static bool is_nic(const struct plan_step *st)
{
	return st->kind == PLAN_NIC_PCI || st->kind == PLAN_NIC_USB || st->kind == PLAN_NIC_DIRECT;
}

/**
 * nic_left() - say what state a NIC that failed midway is left in, and
 * the fix, in its result (and in the log at once, before the run ends)
 * @a:	run
 * @st:	the NIC's step
 * @r:	its result, whose error gets the sentence
 *
 * A NIC is never put back: the manager's NIC (a virtio-net with its own
 * queues and vhost descriptors) cannot be re-created as it was. What the
 * guest has depends on how far the step got.
 */
static void nic_left(struct apply *a, const struct plan_step *st, struct apply_result *r)
{
	const char *tap = *st->ifname ? st->ifname : *st->tapdev ? st->tapdev : "its host tap";

	if (a->committed)
		err_append(&r->err, "; NIC %s is on %s, but the check after it failed", st->name,
			   st->slot_name);
	else if (!a->gone && !r->changed)
		err_append(&r->err, "; NIC %s is untouched (still %s on netdev %s)", st->name,
			   st->dev_id, st->netdev);
	else if (!a->gone)
		err_append(&r->err,
			   "; NIC %s: its unplug did not complete (or was not answered), so "
			   "whether the guest still has it is unknown",
			   st->name);
	else if (!a->netdev_gone && st->kind == PLAN_NIC_DIRECT)
		err_append(
			&r->err,
			"; NIC %s: %s was unplugged and %s is on tap %s, but netdev %s still "
			"holds queues of that tap: the traffic the kernel hashes to them is lost",
			st->name, st->dev_id, st->slot_name, tap, st->netdev);
	else if (!a->netdev_gone)
		err_append(&r->err,
			   "; NIC %s has no network: %s was unplugged and netdev %s holds tap %s "
			   "with no frontend",
			   st->name, st->dev_id, st->netdev, tap);
	else
		err_append(&r->err,
			   "; NIC %s has no network: %s and netdev %s were removed%s and no "
			   "frontend uses tap %s",
			   st->name, st->dev_id, st->netdev,
			   a->netdev_added ? " (a new netdev of that name was added)" : "", tap);
	if (a->committed || (!a->gone && !r->changed))
		return;
	err_append(&r->err, "; it is not put back (Incus's NIC cannot be re-created as it was): "
			    "restart the VM (Incus re-creates its NICs at every start)");
	cp_log_warn("%s", r->err.msg);
	if (a->unplugs && a->batch_failed) /* the run reports another step */
		snprintf(a->nics_lost + strlen(a->nics_lost),
			 sizeof(a->nics_lost) - strlen(a->nics_lost), "%s%s",
			 *a->nics_lost ? ", " : "", st->name);
}

/**
 * step_failed() - the current step (or its rollback) failed with @e
 * @a:	run
 * @e:	what went wrong
 *
 * A disk that lost its frontend and did not reach its slot gets the
 * manager's frontend back; a NIC is not put back (nic_left() says what is
 * left of it). Then the run stops, or in batch mode goes on with the next
 * step.
 */
static void step_failed(struct apply *a, const struct cp_error *e)
{
	const struct plan_step *st = current(a);
	struct apply_result *r = &a->res[a->step];
	struct cp_error rb;

	if (a->rolling_back) {
		cp_error_prefix(&r->err, "%s could not be restored either (%s); it has no frontend",
				st->dev_id, e->msg);
		r->status = APPLY_FAILED;
		cp_error_copy(&a->failure, &r->err);
		step_end_failed(a);
		return;
	}
	cp_error_copy(&r->err, e);
	cp_error_prefix(&r->err, "%s: %s -> %s", st->name, st->dev_id, st->slot_name);
	r->status = APPLY_FAILED;
	r->ms = cp_now_ms() - a->step_start;
	cp_error_copy(&a->failure, &r->err);
	if (is_nic(st)) {
		nic_left(a, st, r);
		cp_error_copy(&a->failure, &r->err);
		step_end_failed(a);
		return;
	}
	/* Only a frontend known to be gone is re-created: an unplug that did
	 * not complete leaves the device (and its node) where it was. */
	if (!a->gone || a->committed) {
		step_end_failed(a);
		return;
	}
	apply_ops_free(&a->ops);
	if (apply_ops_for_rollback(st, a->slot_added, &a->ops, &rb) < 0 || !a->ops.n) {
		step_end_failed(a);
		return;
	}
	cp_log_warn("%s: %sputting %s back on %s", st->name,
		    a->slot_added ? "unplugging the new USB CD drive, " : "", st->dev_id,
		    st->fe.bus);
	a->rolling_back = true;
	a->cur = 0;
	run_ops(a);
}

/**
 * op_done() - an operation succeeded: account for it and go on
 * @a:	run
 */
static void op_done(struct apply *a)
{
	const struct apply_op *op = &a->ops.ops[a->cur];

	if (op->changes)
		a->res[a->step].changed = true;
	if (op->commits)
		a->committed = true;
	if (op->adds_slot)
		a->slot_added = true;
	if (op->kind == APPLY_OP_WAIT_DELETED)
		a->gone = true;
	if (op->drops_netdev)
		a->netdev_gone = true;
	if (op->adds_netdev)
		a->netdev_added = true;
	a->cur++;
	run_ops(a);
}

/**
 * on_reply() - qmp_reply_fn for an APPLY_OP_CMD
 * @c:		client
 * @ret:	reply value, or NULL
 * @e:		error, or NULL
 * @userdata:	the run
 */
static void on_reply(struct qmp_client *c, cp_json *ret, const struct cp_error *e, void *userdata)
{
	struct apply *a = userdata;
	const struct apply_op *op = &a->ops.ops[a->cur];
	struct cp_error ce;

	(void)c;
	if (op->with_tap && a->tap_fd >= 0) {
		close(a->tap_fd);
		a->tap_fd = -1;
	}
	if (e && op->changes && e->code != CP_ERR_QMP)
		a->res[a->step].changed = true; /* no answer: QEMU may have done it */
	if (e) {
		step_failed(a, e);
		return;
	}
	if (op->check && op->check(current(a), ret, &ce) < 0) {
		cp_error_prefix(&ce, "check after %s", op->cmd);
		step_failed(a, &ce);
		return;
	}
	op_done(a);
}

/**
 * deleted_hint() - the fix for a DEVICE_DELETED that never came
 * @a:	run
 * @st:	the step whose device it is
 * @id:	the device
 * @e:	the timeout error, extended
 */
static void deleted_hint(const struct apply *a, const struct plan_step *st, const char *id,
			 struct cp_error *e)
{
	bool pci = st->fe.addr[0] || (st->kind != PLAN_DISK && st->kind != PLAN_CD &&
				      strcmp(st->nic_driver, "usb-net"));

	cp_error_set(e, CP_ERR_TIMEOUT, "%s did not finish unplugging within %d ms%s", id,
		     a->o.event_timeout_ms,
		     pci ? ": with ACPI PCI hotplug, QEMU waits for a guest that is not running "
			   "(the unplug stays pending and completes at the next reset); start QEMU "
			   "with -global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off "
			   "(coldplug qemu-conf writes it)"
			 : " (it keeps its frontend for now)");
}

/**
 * on_deleted() - qmp_await_fn for an APPLY_OP_WAIT_DELETED
 * @c:		client
 * @ev:		the event, or NULL
 * @e:		error, or NULL
 * @userdata:	the run
 */
static void on_deleted(struct qmp_client *c, cp_json *ev, const struct cp_error *e, void *userdata)
{
	struct apply *a = userdata;
	struct cp_error te;

	(void)c;
	(void)ev;
	if (e && e->code == CP_ERR_TIMEOUT) {
		deleted_hint(a, current(a), a->ops.ops[a->cur].wait_id, &te);
		step_failed(a, &te);
	} else if (e) {
		step_failed(a, e);
	} else {
		op_done(a);
	}
}

/**
 * tap_opened() - APPLY_OP_OPEN_TAP has its result: keep the queue and go
 * past the operation, or fail the step
 * @a:	run, with @tap filled
 *
 * Return: true to go on with the next operation
 */
static bool tap_opened(struct apply *a)
{
	if (a->tap.rc < 0) {
		step_failed(a, &a->tap.err);
		return false;
	}
	a->tap_fd = a->tap.fd;
	a->cur++;
	return true;
}

/**
 * on_tap() - tapq_fn: the tap helper in QEMU's namespace has answered (or
 * was killed at its deadline)
 * @reqs:	&a->tap
 * @n:		1
 * @userdata:	the run
 */
static void on_tap(struct tapq_req *reqs, size_t n, void *userdata)
{
	struct apply *a = userdata;

	(void)reqs;
	(void)n;
	if (tap_opened(a))
		run_ops(a);
}

/**
 * open_tap() - APPLY_OP_OPEN_TAP: one new queue on the tap, once none is
 * left (the tap helper refuses one whose queues netdev_del did not all
 * close: see tapq.c's open_queue_here())
 * @a:	run
 *
 * Return: true if it completes asynchronously (on_tap() continues) or
 * failed the step
 */
static bool open_tap(struct apply *a)
{
	struct cp_error e;
	int rc;

	memset(&a->tap, 0, sizeof(a->tap));
	tap_target(a, &a->tap.t);
	a->tap.open = true;
	snprintf(a->tap_after, sizeof(a->tap_after), "netdev_del %s", current(a)->netdev);
	a->tap.idle_after = a->tap_after;
	rc = tapq_start(a->c, &a->tap, 1, on_tap, a, &e);
	if (rc < 0) {
		step_failed(a, &e);
		return true;
	}
	return rc == 0 || !tap_opened(a);
}

/**
 * open_memfd() - an empty memfd for a zero node (a disk slot released on a
 * running guest): no file on the host, no privilege
 * @a:		run (its @tap_fd is set)
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int open_memfd(struct apply *a, struct cp_error *err)
{
	int fd = memfd_create("coldplug-zero", MFD_CLOEXEC);

	if (fd < 0)
		return cp_error_set_errno(err, errno, "memfd_create for the zero node");
	if (a->tap_fd >= 0)
		close(a->tap_fd);
	a->tap_fd = fd;
	return 0;
}

/**
 * run_op() - start the current operation
 * @a:	run
 *
 * Return: true if it completes asynchronously (a callback will continue)
 */
static bool run_op(struct apply *a)
{
	const struct apply_op *op = &a->ops.ops[a->cur];
	struct qmp_event_match m = { "DEVICE_DELETED", "device", op->wait_id };
	struct cp_error e;
	int fd;

	switch (op->kind) {
	case APPLY_OP_OPEN_MEMFD:
		if (open_memfd(a, &e) < 0) {
			step_failed(a, &e);
			return true;
		}
		a->cur++;
		return false;
	case APPLY_OP_OPEN_TAP:
		return open_tap(a);
	case APPLY_OP_WAIT_DELETED:
		if (qmp_client_await_event(a->c, &m, a->mark, a->o.event_timeout_ms, on_deleted, a,
					   &e) < 0)
			step_failed(a, &e);
		return true;
	case APPLY_OP_CMD:
		a->mark = qmp_client_event_mark(a->c);
		fd = op->with_tap ? a->tap_fd : -1;
		if (qmp_client_send(a->c, op->cmd, cp_json_ref(op->args), fd >= 0 ? &fd : NULL,
				    fd >= 0 ? 1 : 0, 0, on_reply, a, &e) < 0)
			step_failed(a, &e);
		return true;
	}
	return true;
}

/**
 * run_ops() - run operations until one goes asynchronous or the list ends
 * @a:	run
 */
static void run_ops(struct apply *a)
{
	while (a->cur < a->ops.n)
		if (run_op(a))
			return;
	if (a->rolling_back) {
		struct apply_result *r = &a->res[a->step];

		r->status = APPLY_ROLLED_BACK;
		cp_error_prefix(&r->err, "%s was put back on %s", current(a)->dev_id,
				current(a)->fe.bus);
		cp_error_copy(&a->failure, &r->err);
		step_end_failed(a);
		return;
	}
	a->res[a->step].status = APPLY_MOVED;
	a->res[a->step].ms = cp_now_ms() - a->step_start;
	cp_log_debug("%s: %s -> %s (%lld ms)", current(a)->name, current(a)->dev_id,
		     current(a)->slot_name, (long long)a->res[a->step].ms);
	a->step++;
	start_step(a);
}

/**
 * start_step() - begin the next step that has something to do
 * @a:	run
 */
static void start_step(struct apply *a)
{
	struct cp_error e;

	while (a->step < a->plan->n && a->plan->steps[a->step].already)
		a->step++;
	if (a->step == a->plan->n) {
		finish(a, a->batch_failed);
		return;
	}
	apply_ops_free(&a->ops);
	a->cur = 0;
	a->gone = false;
	a->committed = false;
	a->slot_added = false;
	a->netdev_gone = false;
	a->netdev_added = false;
	a->step_start = cp_now_ms();
	if (apply_ops_for_step(current(a), &a->ops, &e) < 0) {
		step_failed(a, &e);
		return;
	}
	if (a->unplugs && !skip_unplug(a)) /* every step to do had its unplug */
		return;
	run_ops(a);
}

/**
 * skip_unplug() - the first phase did the current step's unplug: skip its
 * operations, or fail the step as that unplug failed
 * @a:	run, at the start of a step in batch mode
 *
 * Return: true to run the step's remaining operations
 */
static bool skip_unplug(struct apply *a)
{
	const struct unplug *u = &a->unplugs[a->step];

	while (a->cur < a->ops.n && is_unplug_op(&a->ops, a->cur))
		a->cur++;
	a->res[a->step].changed = u->replied || u->unknown;
	a->gone = u->replied && !u->failed && !u->waits;
	a->mark = qmp_client_event_mark(a->c);
	if (u->failed) {
		step_failed(a, &u->err);
		return false;
	}
	return true;
}

/**
 * unplug_settled() - one reply or event of the first phase is in; when the
 * last is, the steps run
 * @a:	run
 */
static void unplug_settled(struct apply *a)
{
	if (--a->pending == 0)
		start_step(a);
}

/**
 * on_unplug_reply() - qmp_reply_fn of a first-phase device_del
 * @c:		client
 * @ret:	reply
 * @e:		error, or NULL
 * @userdata:	struct unplug
 */
static void on_unplug_reply(struct qmp_client *c, cp_json *ret, const struct cp_error *e,
			    void *userdata)
{
	struct unplug *u = userdata;

	(void)c;
	(void)ret;
	if (e && !u->failed) {
		u->failed = true;
		cp_error_copy(&u->err, e);
		cp_error_prefix(&u->err, "device_del %s", u->a->plan->steps[u->step].del_id);
	}
	u->replied = !e;
	u->unknown = e && e->code != CP_ERR_QMP;
	unplug_settled(u->a);
}

/**
 * on_unplug_event() - qmp_await_fn of a first-phase DEVICE_DELETED
 * @c:		client
 * @ev:		the event, or NULL
 * @e:		error, or NULL
 * @userdata:	struct unplug
 */
static void on_unplug_event(struct qmp_client *c, cp_json *ev, const struct cp_error *e,
			    void *userdata)
{
	struct unplug *u = userdata;
	const struct plan_step *st = &u->a->plan->steps[u->step];

	(void)c;
	(void)ev;
	if (e && !u->failed) {
		u->failed = true;
		if (e->code == CP_ERR_TIMEOUT)
			deleted_hint(u->a, st, st->del_id, &u->err);
		else
			cp_error_copy(&u->err, e);
	}
	u->waits -= !e;
	unplug_settled(u->a);
}

/**
 * await_deleted() - await DEVICE_DELETED of @id for @u
 * @u:		the step's unplug
 * @id:		device id
 * @since:	event mark from before the device_del
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int await_deleted(struct unplug *u, const char *id, uint64_t since, struct cp_error *err)
{
	struct qmp_event_match m = { "DEVICE_DELETED", "device", id };

	if (qmp_client_await_event(u->a->c, &m, since, u->a->o.event_timeout_ms, on_unplug_event, u,
				   err) < 0)
		return -1;
	u->waits++;
	u->a->pending++;
	return 0;
}

/**
 * is_unplug_op() - whether op @i of @l is part of the step's unplug: the
 * device_del its list starts with, and the DEVICE_DELETED waits after it
 * (apply_ops.c's add_unplug())
 * @l:	a step's operations
 * @i:	index
 *
 * Return: true if so
 */
static bool is_unplug_op(const struct apply_op_list *l, size_t i)
{
	return l->ops[i].kind == APPLY_OP_WAIT_DELETED ||
	       (i == 0 && l->ops[i].kind == APPLY_OP_CMD && !strcmp(l->ops[i].cmd, "device_del"));
}

/**
 * start_step_unplug() - send one step's device_del and await its events,
 * as its operation list (apply_ops.c) has them
 * @u:		the step's unplug
 * @since:	event mark from before the first device_del
 *
 * A command or wait that cannot even be sent fails that step only.
 */
static void start_step_unplug(struct unplug *u, uint64_t since)
{
	struct apply *a = u->a;
	struct apply_op_list l;
	size_t i;

	if (apply_ops_for_step(&a->plan->steps[u->step], &l, &u->err) < 0) {
		u->failed = true;
		return;
	}
	for (i = 0; i < l.n && is_unplug_op(&l, i) && !u->failed; i++) {
		if (l.ops[i].kind == APPLY_OP_WAIT_DELETED) {
			u->failed = await_deleted(u, l.ops[i].wait_id, since, &u->err) < 0;
			continue;
		}
		if (qmp_client_send(a->c, "device_del", cp_json_ref(l.ops[i].args), NULL, 0, 0,
				    on_unplug_reply, u, &u->err) < 0) {
			u->failed = true;
			continue;
		}
		a->pending++;
	}
	apply_ops_free(&l);
}

/**
 * start_unplugs() - the first phase: every step's device_del at once, and
 * every DEVICE_DELETED awaited together
 * @a:		run, in batch mode (@unplugs allocated)
 */
static void start_unplugs(struct apply *a)
{
	uint64_t since = qmp_client_event_mark(a->c);
	size_t i;

	a->pending = 1; /* held until every request is out */
	for (i = 0; i < a->plan->n; i++) {
		a->unplugs[i].a = a;
		a->unplugs[i].step = i;
		if (!a->plan->steps[i].already)
			start_step_unplug(&a->unplugs[i], since);
	}
	unplug_settled(a);
}

/**
 * begin() - the first change: every unplug at once (two steps or more), or
 * the first step
 * @a:	run
 */
static void begin(struct apply *a)
{
	if (a->unplugs)
		start_unplugs(a);
	else
		start_step(a);
}

/**
 * on_status() - qmp_reply_fn of the run state read just before the first
 * change: the guest may have started (or run and paused) since the
 * inventory the plan was made from
 * @c:		client
 * @ret:	query-status answer
 * @e:		error, or NULL
 * @userdata:	the run
 */
static void on_status(struct qmp_client *c, cp_json *ret, const struct cp_error *e, void *userdata)
{
	struct apply *a = userdata;
	size_t i;

	(void)c;
	if (e) {
		cp_error_copy(&a->failure, e);
		cp_error_prefix(&a->failure, "query-status before the first change");
	} else if (plan_check_run_state(cp_json_get_str(ret, "status"), a->plan->allow_paused,
					&a->failure) == 0) {
		begin(a);
		return;
	} else {
		cp_error_prefix(&a->failure, "the run state changed after the plan was made; "
					     "nothing was changed");
	}
	for (i = 0; i < a->plan->n; i++)
		if (a->res[i].status == APPLY_PLANNED)
			a->res[i].status = APPLY_NOT_ATTEMPTED;
	finish(a, true);
}

/**
 * apply_start() - apply a plan asynchronously
 * @c:		ready client
 * @p:		plan (must outlive the run)
 * @o:		options, or NULL for the defaults
 * @results:	p->n entries, filled as steps complete (must outlive the run)
 * @fn:		called once at the end with NULL or the error that stopped it
 * @userdata:	passed to @fn
 * @err:	filled if it could not start (then @fn is not called)
 *
 * Return: 0, or -1
 */
int apply_start(struct qmp_client *c, const struct plan *p, const struct apply_opts *o,
		struct apply_result *results, apply_fn fn, void *userdata, struct cp_error *err)
{
	struct apply *a = cp_calloc(1, sizeof(*a), err);
	size_t i;

	if (!a)
		return -1;
	a->c = c;
	a->plan = p;
	if (o)
		a->o = *o;
	else
		apply_opts_init(&a->o);
	a->res = results;
	a->fn = fn;
	a->userdata = userdata;
	a->tap_fd = -1;
	for (i = 0; i < p->n; i++) {
		memset(&results[i], 0, sizeof(results[i]));
		results[i].status = p->steps[i].already ? APPLY_ALREADY : APPLY_PLANNED;
	}
	if (plan_todo(p) >= 2) {
		a->unplugs = cp_calloc(p->n, sizeof(*a->unplugs), err);
		if (!a->unplugs) {
			free(a);
			return -1;
		}
	}
	if (!p->before_guest) {
		begin(a);
		return 0;
	}
	if (qmp_client_send(c, "query-status", NULL, NULL, 0, 0, on_status, a, err) < 0) {
		free(a->unplugs);
		free(a);
		return -1;
	}
	return 0;
}

/* The synchronous caller's end of apply_start(). */
struct run_result {
	bool done;
	bool failed;
	struct cp_error err;
};

/**
 * run_done() - apply_fn for apply_run()
 * @results:	per-step results
 * @n:		their count
 * @e:		error, or NULL
 * @userdata:	struct run_result
 */
static void run_done(struct apply_result *results, size_t n, const struct cp_error *e,
		     void *userdata)
{
	struct run_result *r = userdata;

	(void)results;
	(void)n;
	r->done = true;
	if (e) {
		r->failed = true;
		cp_error_copy(&r->err, e);
	}
}

/**
 * apply_run() - apply a plan, synchronously
 * @c:		ready client
 * @p:		plan
 * @o:		options, or NULL
 * @results:	p->n entries, filled
 * @err:	filled on failure (CP_ERR_FAILED once QEMU was changed)
 *
 * Return: 0, or -1
 */
int apply_run(struct qmp_client *c, const struct plan *p, const struct apply_opts *o,
	      struct apply_result *results, struct cp_error *err)
{
	struct run_result r = { 0 };
	size_t i;

	if (apply_start(c, p, o, results, run_done, &r, err) < 0)
		return -1;
	while (!r.done)
		if (qmp_client_dispatch(c, -1, NULL) < 0 && !r.done)
			CP_ASSERT(!"a failed client answers every pending command");
	if (!r.failed)
		return 0;
	cp_error_copy(err, &r.err);
	for (i = 0; err && i < p->n; i++)
		if (results[i].changed)
			err->code = CP_ERR_FAILED;
	return -1;
}

/**
 * preflight_steps() - the steps whose tap preflight probes
 * @p:		plan
 * @o:		options (QEMU's pid for the network namespace)
 * @reqs:	filled with one probe per such step, or NULL to count them
 *
 * Return: their count
 */
static size_t preflight_steps(const struct plan *p, const struct apply_opts *o,
			      struct tapq_req *reqs)
{
	size_t i, n = 0;

	for (i = 0; i < p->n; i++) {
		const struct plan_step *st = &p->steps[i];

		if (st->already || (st->kind != PLAN_NIC_PCI && st->kind != PLAN_NIC_USB) ||
		    !*st->ifname)
			continue;
		if (reqs)
			reqs[n] = (struct tapq_req){ .t = { .ifname = st->ifname,
							    .pid = o->pid,
							    .proc_root = o->proc_root } };
		n++;
	}
	return n;
}

/**
 * preflight_check() - judge the probes of preflight_steps()
 * @p:		plan
 * @reqs:	the probes, answered
 * @err:	filled on failure (CP_ERR_REFUSED)
 *
 * Each NIC's host tap must exist in QEMU's network namespace, be a tap that
 * survives its queues closing (Incus creates them persistent), and have
 * exactly as many queues open as QEMU's netdev holds.
 *
 * Return: 0, or -1
 */
static int preflight_check(const struct plan *p, const struct tapq_req *reqs, struct cp_error *err)
{
	size_t i, k = 0;

	for (i = 0; i < p->n; i++) {
		const struct plan_step *st = &p->steps[i];
		const struct tapq_info *info;
		unsigned open;

		if (st->already || (st->kind != PLAN_NIC_PCI && st->kind != PLAN_NIC_USB) ||
		    !*st->ifname)
			continue;
		info = &reqs[k].info;
		if (reqs[k++].rc < 0) {
			cp_error_copy(err, &reqs[k - 1].err);
			if (err)
				err->code = CP_ERR_REFUSED;
			return cp_error_prefix(err, "%s: host tap %s (in QEMU's network namespace)",
					       st->dev_id, st->ifname);
		}
		open = info->queues + info->disabled;
		if (!info->persistent)
			return cp_error_set(
				err, CP_ERR_REFUSED,
				"%s: tap %s is not persistent: it would vanish when QEMU "
				"closes its queues (create it with 'ip tuntap add ... "
				"multi_queue' and pass it to QEMU, as Incus does)",
				st->dev_id, st->ifname);
		if (open != st->nqueues)
			return cp_error_set(
				err, CP_ERR_REFUSED,
				"%s: tap %s has %u queue%s open but netdev %s holds %u: "
				"something else holds queues of it",
				st->dev_id, st->ifname, open, open == 1 ? "" : "s", st->netdev,
				st->nqueues);
	}
	return 0;
}

/**
 * apply_preflight() - host checks before anything changes, waiting for the
 * tap helper (the command line; the daemon uses apply_preflight_start())
 * @p:		plan
 * @o:		options (QEMU's pid for the network namespace)
 * @err:	filled on failure (CP_ERR_REFUSED)
 *
 * See preflight_check().
 *
 * Return: 0, or -1
 */
int apply_preflight(const struct plan *p, const struct apply_opts *o, struct cp_error *err)
{
	size_t n = preflight_steps(p, o, NULL);
	cleanup_free struct tapq_req *reqs = n ? cp_calloc(n, sizeof(*reqs), err) : NULL;

	if (n && !reqs)
		return -1;
	preflight_steps(p, o, reqs);
	tapq_run(reqs, n);
	return preflight_check(p, reqs, err);
}

/**
 * struct preflight - an asynchronous preflight
 * @p:		plan (borrowed)
 * @fn:		completion
 * @userdata:	for @fn
 * @n:		probes
 * @reqs:	them
 */
struct preflight {
	const struct plan *p;
	apply_preflight_fn fn;
	void *userdata;
	size_t n;
	struct tapq_req reqs[];
};

/**
 * on_preflight_probed() - tapq_fn: judge the probes, report, free
 * @reqs:	the probes
 * @n:		their count
 * @userdata:	struct preflight (freed)
 */
static void on_preflight_probed(struct tapq_req *reqs, size_t n, void *userdata)
{
	struct preflight *pf = userdata;
	struct cp_error e;
	bool failed = preflight_check(pf->p, reqs, &e) < 0;

	(void)n;
	pf->fn(failed ? &e : NULL, pf->userdata);
	free(pf);
}

/**
 * apply_preflight_start() - the host checks of apply_preflight(), with the
 * tap helper (when QEMU's namespace is not ours) watched on @c's loop
 * @c:		QEMU's client
 * @p:		plan (must outlive the check)
 * @o:		options
 * @fn:		called with NULL or the error (CP_ERR_REFUSED) when the
 *		check ends later (return 0)
 * @userdata:	for @fn
 * @err:	filled on failure now
 *
 * Return: 1 passed now, 0 @fn will say, -1 failed now
 */
int apply_preflight_start(struct qmp_client *c, const struct plan *p, const struct apply_opts *o,
			  apply_preflight_fn fn, void *userdata, struct cp_error *err)
{
	size_t n = preflight_steps(p, o, NULL);
	struct preflight *pf = cp_calloc(1, sizeof(*pf) + n * sizeof(pf->reqs[0]), err);
	int rc;

	if (!pf)
		return -1;
	*pf = (struct preflight){ .p = p, .fn = fn, .userdata = userdata, .n = n };
	preflight_steps(p, o, pf->reqs);
	rc = tapq_start(c, pf->reqs, n, on_preflight_probed, pf, err);
	if (rc == 1)
		rc = preflight_check(p, pf->reqs, err) < 0 ? -1 : 1;
	if (rc != 0)
		free(pf);
	return rc;
}

/**
 * apply_step_commands() - the QMP commands a step would send, for --dry-run
 * @st:	step
 *
 * Return: new array of {"execute", "arguments"} (and {"wait"} / {"open-tap"})
 * objects, or NULL when out of memory
 */
cp_json *apply_step_commands(const struct plan_step *st)
{
	cleanup_json cp_json *arr = cp_json_new_array();
	struct apply_op_list ops;
	struct cp_error e;
	size_t i;

	if (!arr || st->already || apply_ops_for_step(st, &ops, &e) < 0)
		return st->already && arr ? steal_pointer(&arr) : NULL;
	for (i = 0; i < ops.n; i++) {
		const struct apply_op *op = &ops.ops[i];
		cp_json *o;

		if (op->kind == APPLY_OP_CMD)
			o = cp_json_obj(CP_STR("execute", op->cmd),
					CP_JSON_IF(op->args, "arguments", cp_json_ref(op->args)),
					CP_STR_IF(op->with_tap, "fd", "new queue of the host tap"));
		else if (op->kind == APPLY_OP_WAIT_DELETED)
			o = cp_json_obj(CP_STR("wait", "DEVICE_DELETED"),
					CP_STR("device", op->wait_id));
		else
			o = cp_json_obj(
				CP_STR("open-queue", *st->ifname ? st->ifname : st->tapdev));
		if (cp_json_append(arr, o) < 0) {
			apply_ops_free(&ops);
			return NULL;
		}
	}
	apply_ops_free(&ops);
	return steal_pointer(&arr);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Apply: carry out a plan over QMP, one step at a time, waiting for the
 * events each step needs (with deadlines) and checking each step's effect
 * with a fresh query before the next one starts.
 *
 * A plan made for a guest that has not run (plan->before_guest) is only
 * applied if QEMU is still in a run state the plan allows: one query-status
 * just before the first change, and otherwise nothing changes
 * (CP_ERR_REFUSED, every step not attempted).
 *
 * On the first failure it stops: later steps are not attempted, and a disk
 * whose frontend was already unplugged but not yet attached to its slot gets
 * the manager's frontend back (device_add with its recorded properties), so
 * no node is left without the frontend it had. A CD whose USB CD drive was
 * added but not attached has that drive unplugged first (its scsi-cd holds
 * the node and no guest could use it). The results say, per device,
 * what happened and where it is now.
 *
 * A NIC is never put back: the manager's NIC (a virtio-net on queues and
 * vhost descriptors of its own) cannot be re-created as it was. A NIC step
 * that fails says in its error what is left of the NIC (untouched; its
 * unplug not completed or not answered, so unknown; no network, its
 * frontend or frontend and netdev gone and no frontend on the tap; on a
 * direct slot whose tap the manager's netdev still shares, so traffic is
 * lost; or on its new frontend with a failed check) and the fix (restart
 * the VM: Incus re-creates its NICs at every start). It is logged at once,
 * before the run ends, and the run fails, so the start fails; when the run
 * reports another device's failure, its error (what the start shows) still
 * names every NIC left so.
 *
 * After a timeout or end of stream nothing more is sent: a disk or CD
 * already unplugged cannot be put back either, and its result says it has
 * no frontend. A command that changes QEMU and got no answer counts as a
 * change (struct apply_result's @changed).
 *
 * Asynchronous (apply_start(), for the daemon's event loop) or synchronous
 * (apply_run(), for the command line).
 */
#ifndef COLDPLUG_APPLY_H
#define COLDPLUG_APPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "coldplug/error.h"
#include "coldplug/json.h"
#include "coldplug/plan.h"

struct qmp_client;

/**
 * enum apply_status - what happened to one step
 * @APPLY_NOT_ATTEMPTED:	an earlier step failed, so this one was not tried
 * @APPLY_PLANNED:		dry run: it would be done
 * @APPLY_ALREADY:		already on its slot: nothing to do
 * @APPLY_MOVED:		re-homed and checked
 * @APPLY_FAILED:		failed; see the result's error and state
 * @APPLY_ROLLED_BACK:		failed, and the manager's frontend was restored
 */
enum apply_status {
	APPLY_NOT_ATTEMPTED,
	APPLY_PLANNED,
	APPLY_ALREADY,
	APPLY_MOVED,
	APPLY_FAILED,
	APPLY_ROLLED_BACK,
};

/**
 * struct apply_result - the outcome of one plan step
 * @status:	enum apply_status
 * @changed:	QEMU was changed by this step (even if later restored), or
 *		may have been: a command that changes QEMU got no answer (a
 *		timeout, or QEMU closed the connection), so it counts as done
 * @err:	the failure, for APPLY_FAILED / APPLY_ROLLED_BACK
 * @ms:		how long the step took
 */
struct apply_result {
	enum apply_status status;
	bool changed;
	struct cp_error err;
	int64_t ms;
};

/**
 * struct apply_opts - how to apply
 * @event_timeout_ms:	deadline for DEVICE_DELETED (default 5000)
 * @pid:		QEMU's pid: taps are opened in its network namespace
 * @proc_root:		"/proc" (tests may pass another)
 */
struct apply_opts {
	int event_timeout_ms;
	pid_t pid;
	const char *proc_root;
};

typedef void (*apply_fn)(struct apply_result *results, size_t n, const struct cp_error *err,
			 void *userdata);
typedef void (*apply_preflight_fn)(const struct cp_error *err, void *userdata);

void apply_opts_init(struct apply_opts *o);
int apply_preflight(const struct plan *p, const struct apply_opts *o, struct cp_error *err);
int apply_preflight_start(struct qmp_client *c, const struct plan *p, const struct apply_opts *o,
			  apply_preflight_fn fn, void *userdata, struct cp_error *err);
int apply_start(struct qmp_client *c, const struct plan *p, const struct apply_opts *o,
		struct apply_result *results, apply_fn fn, void *userdata, struct cp_error *err);
int apply_run(struct qmp_client *c, const struct plan *p, const struct apply_opts *o,
	      struct apply_result *results, struct cp_error *err);
cp_json *apply_step_commands(const struct plan_step *st);
const char *apply_status_name(enum apply_status s);

#endif /* COLDPLUG_APPLY_H */

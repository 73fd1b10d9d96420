/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One VM served by coldplug serve: see serve.h for the states. This is the
 * state machine only: what the stub's answers mean and how a detach is
 * noticed and released are the library's (coldplug/serve_proto.h,
 * coldplug/release.h). Everything here is asynchronous: each QMP answer's
 * callback moves the VM on, and the loop calls vm_timers() for the polls.
 * A VM never blocks the others.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "coldplug/live.h"
#include "coldplug/log.h"
#include "coldplug/qmp.h"
#include "coldplug/release.h"
#include "coldplug/serve_proto.h"
#include "coldplug/stub.h"
#include "coldplug/util.h"
#include "serve_vm.h"

enum vm_state {
	VM_HANDSHAKE,
	VM_IDENTIFY,
	VM_WAITING,
	VM_REQUEST,
	VM_REHOMING,
	VM_WATCHING,
	VM_RELEASING,
	VM_ATTACHING,
	VM_IDLE,
	VM_DEAD,
};

/**
 * struct vm - one connected QEMU
 * @so:		the options it was given
 * @c:		its QMP client
 * @state:	enum vm_state
 * @busy:	a QMP exchange or pipeline is in flight
 * @next_tick:	cp_now_ms() of the next poll, -1 for none
 * @identify_by: cp_now_ms() time by which the peer must have said which VM
 *		it is (on_identified()), -1 once it has
 * @name:	"name (pid N)" for logs
 * @opts:	this VM's pipeline options
 * @inv:	the inventory watching and releasing work from
 * @rs:		what the release watch looks at
 * @release:	a release plan in flight
 * @release_res: its result
 * @lw:		what the attach watch remembers between ticks
 * @cand:	the device being moved while running
 * @attach:	its plan (plan_attach())
 * @attach_res:	its result
 */
struct vm {
	struct vm_opts so;
	struct qmp_client *c;
	enum vm_state state;
	bool busy;
	int64_t next_tick;
	int64_t identify_by;
	char name[192];
	struct rehome_opts opts;
	struct inventory inv;
	struct release_set rs;
	struct plan release;
	struct apply_result release_res[1];
	struct live_watch lw;
	struct live_candidate cand;
	struct plan attach;
	struct apply_result attach_res[1];
};

static void start_watch(struct vm *vm);

/**
 * vm_fd() - the VM's socket, for epoll
 * @vm:	VM
 *
 * Return: descriptor
 */
int vm_fd(const struct vm *vm)
{
	return qmp_client_fd(vm->c);
}

/**
 * vm_pid() - the pid of the process at the other end (SO_PEERCRED)
 * @vm:	VM
 *
 * Return: pid, or 0 if the kernel did not say
 */
pid_t vm_pid(const struct vm *vm)
{
	return qmp_client_peer_pid(vm->c);
}

/**
 * vm_dead() - whether the VM is over and can be freed
 * @vm:	VM
 *
 * Return: true once its connection failed or closed, and nothing is in flight
 */
bool vm_dead(const struct vm *vm)
{
	return vm->state == VM_DEAD && !vm->busy;
}

/**
 * vm_name() - the VM's name for logs
 * @vm:	VM
 *
 * Return: borrowed string
 */
const char *vm_name(const struct vm *vm)
{
	return vm->name;
}

/**
 * die() - the VM's connection is over (QEMU exited, or a protocol error)
 * @vm:		VM
 * @e:		why, or NULL
 */
static void die(struct vm *vm, const struct cp_error *e)
{
	if (vm->state == VM_DEAD)
		return;
	if (e && e->code != CP_ERR_EOF)
		cp_log_warn("vm %s: dropped: %s", vm->name, e->msg);
	else
		cp_log_info("vm %s: QEMU closed its monitor; state dropped", vm->name);
	vm->state = VM_DEAD;
	vm->next_tick = -1;
}

/**
 * failed_qmp() - handle an error answer; true if the VM must stop
 * @vm:		VM
 * @e:		error
 * @what:	what was being done
 *
 * Return: true if the connection is gone (the VM is dead now)
 */
static bool failed_qmp(struct vm *vm, const struct cp_error *e, const char *what)
{
	if (qmp_client_error(vm->c)) {
		die(vm, qmp_client_error(vm->c));
		return true;
	}
	cp_log_warn("vm %s: %s: %s", vm->name, what, e->msg);
	return false;
}

/**
 * schedule() - poll again after @ms
 * @vm:		VM
 * @ms:		delay
 */
static void schedule(struct vm *vm, int ms)
{
	vm->next_tick = cp_now_ms() + ms;
}

/**
 * idle() - nothing more to do for this VM until it goes away
 * @vm:		VM
 * @why:	logged at info level, or NULL
 */
static void idle(struct vm *vm, const char *why)
{
	if (why)
		cp_log_info("vm %s: %s", vm->name, why);
	vm->state = VM_IDLE;
	vm->next_tick = -1;
}

/**
 * status_line_written() - log a status line that could not be written
 * @vm:		VM
 * @ringbuf:	the ringbuf-write's error, or NULL
 *
 * A profile from before the ringbuf has a stub that reads the status
 * object, so the VM still starts; say how to bring the profile up to date.
 */
static void status_line_written(const struct vm *vm, const struct cp_error *ringbuf)
{
	if (ringbuf)
		cp_log_warn("vm %s: cannot write to the %s ringbuf (%s); regenerate the Incus "
			    "profile with 'coldplug incus-profile'",
			    vm->name, STUB_STATUS_CHARDEV, ringbuf->msg);
}

/**
 * not_sent() - an exchange could not be sent: give up on the VM
 * @vm:	VM, marked busy before the exchange was sent (a callback may come
 *	before the sending function returns)
 * @e:	why
 */
static void not_sent(struct vm *vm, const struct cp_error *e)
{
	vm->busy = false;
	die(vm, e);
}

/**
 * on_status_set() - the final status is in place: watch from now on
 * @st:		how it went
 * @userdata:	the VM
 */
static void on_status_set(const struct serve_proto_status *st, void *userdata)
{
	struct vm *vm = userdata;

	vm->busy = false;
	if (st->conn) {
		die(vm, st->conn);
		return;
	}
	status_line_written(vm, st->ringbuf);
	if (st->status && failed_qmp(vm, st->status, "setting the status for the scriptlet"))
		return;
	start_watch(vm);
}

/**
 * set_status() - publish a status for the stub
 * @vm:		VM
 * @text:	"done: ...", "failed: ..."
 */
static void set_status(struct vm *vm, const char *text)
{
	struct cp_error e;

	vm->busy = true;
	if (serve_proto_set_status(vm->c, text, on_status_set, vm, &e) < 0)
		not_sent(vm, &e);
}

/**
 * log_outcome() - one line per device, and the result
 * @vm:	VM
 * @r:	outcome
 */
static void log_outcome(const struct vm *vm, const struct rehome *r)
{
	size_t i;

	for (i = 0; r->results && i < r->plan.n; i++)
		cp_log_info("vm %s: %s: %s -> %s: %s", vm->name, r->plan.steps[i].name,
			    r->plan.steps[i].from, r->plan.steps[i].to,
			    apply_status_name(r->results[i].status));
	if (r->result == REHOME_OK)
		cp_log_info("vm %s: re-homed and verified in %lld ms", vm->name, (long long)r->ms);
	else
		cp_log_err("vm %s: %s: %s", vm->name, rehome_result_name(r->result), r->err.msg);
}

/**
 * on_rehomed() - rehome_fn: report to the stub, then watch
 * @r:		outcome (freed here)
 * @userdata:	the VM
 */
static void on_rehomed(struct rehome *r, void *userdata)
{
	struct vm *vm = userdata;
	char status[STUB_STATUS_MAX];

	vm->busy = false;
	log_outcome(vm, r);
	serve_proto_outcome(r, status, sizeof(status));
	rehome_free(r);
	if (qmp_client_error(vm->c)) {
		die(vm, qmp_client_error(vm->c));
		return;
	}
	set_status(vm, status);
}

/**
 * name_from_request() - "project/instance (pid N)" for logs, once the stub
 * has said which instance this is
 * @vm:		VM
 * @req:	the stub's request
 */
static void name_from_request(struct vm *vm, const struct stub_request *req)
{
	char pid[32];

	if (!*req->instance)
		return;
	snprintf(pid, sizeof(pid), " (pid %d)", (int)qmp_client_peer_pid(vm->c));
	snprintf(vm->name, sizeof(vm->name), "%.60s%s%.96s%s", req->project,
		 *req->project ? "/" : "", req->instance, pid);
}

/**
 * on_claimed() - status "running" created, request deleted: run the pipeline
 * @st:		how it went
 * @userdata:	the VM
 */
static void on_claimed(const struct serve_proto_status *st, void *userdata)
{
	struct vm *vm = userdata;
	char status[STUB_STATUS_MAX];
	struct cp_error se;

	vm->busy = false;
	if (st->conn) {
		die(vm, st->conn);
		return;
	}
	status_line_written(vm, st->ringbuf);
	if (st->status) {
		cp_log_err("vm %s: cannot create the status object: %s", vm->name, st->status->msg);
		idle(vm, NULL);
		return;
	}
	cp_log_info("vm %s: the scriptlet asks to re-home; starting", vm->name);
	vm->state = VM_REHOMING;
	vm->busy = true;
	if (rehome_start(vm->c, &vm->opts, on_rehomed, vm, &se) < 0) {
		vm->busy = false;
		stub_status_failed(se.msg, status, sizeof(status));
		set_status(vm, status);
	}
}

/**
 * on_refused_request() - a bad request was answered with a failed status
 * @st:		how it went
 * @userdata:	the VM
 */
static void on_refused_request(const struct serve_proto_status *st, void *userdata)
{
	struct vm *vm = userdata;

	vm->busy = false;
	if (st->conn) {
		die(vm, st->conn);
		return;
	}
	status_line_written(vm, st->ringbuf);
	idle(vm, NULL);
}

/**
 * on_request() - the stub's request, read
 * @req:	the request, or NULL
 * @bad:	why it is refused, or NULL
 * @e:		the error reading it, or NULL
 * @userdata:	the VM
 */
static void on_request(const struct stub_request *req, const struct cp_error *bad,
		       const struct cp_error *e, void *userdata)
{
	struct vm *vm = userdata;
	char status[STUB_STATUS_MAX];
	struct cp_error se;

	vm->busy = false;
	if (e) {
		if (!failed_qmp(vm, e, "reading the scriptlet's request"))
			idle(vm, NULL);
		return;
	}
	if (bad) {
		cp_log_err("vm %s: %s", vm->name, bad->msg);
		stub_status_failed(bad->msg, status, sizeof(status));
		vm->busy = true;
		if (serve_proto_claim(vm->c, status, on_refused_request, vm, &se) < 0)
			not_sent(vm, &se);
		return;
	}
	serve_proto_request_opts(vm->so.rehome, req, &vm->opts);
	name_from_request(vm, req);
	vm->busy = true;
	if (serve_proto_claim(vm->c, STUB_STATUS_RUNNING, on_claimed, vm, &se) < 0)
		not_sent(vm, &se);
}

/**
 * read_request() - fetch the stub's request object
 * @vm:	VM
 */
static void read_request(struct vm *vm)
{
	struct cp_error e;

	vm->state = VM_REQUEST;
	vm->next_tick = -1;
	vm->busy = true;
	if (serve_proto_read_request(vm->c, on_request, vm, &e) < 0)
		not_sent(vm, &e);
}

/**
 * on_poll() - the poll answered
 * @next:	what to do
 * @e:		connection error, or NULL
 * @userdata:	the VM
 */
static void on_poll(enum serve_proto_next next, const struct cp_error *e, void *userdata)
{
	struct vm *vm = userdata;

	vm->busy = false;
	if (e)
		die(vm, e);
	else if (next == SERVE_PROTO_REQUEST)
		read_request(vm);
	else if (next == SERVE_PROTO_IDLE)
		idle(vm, "the VM started without asking coldplug (is coldplug's scriptlet in its "
			 "profile?); nothing to do");
	else
		schedule(vm, vm->so.poll_ms);
}

/**
 * on_identified() - who the VM is and what state it is in
 * @id:		the identity, or NULL
 * @e:		connection error, or NULL
 * @userdata:	the VM
 */
static void on_identified(const struct serve_proto_identity *id, const struct cp_error *e,
			  void *userdata)
{
	struct vm *vm = userdata;
	char why[160];

	vm->busy = false;
	if (e) {
		die(vm, e);
		return;
	}
	vm->identify_by = -1;
	/* bounded, so that the pid (which the kernel gave) always shows */
	snprintf(vm->name, sizeof(vm->name), "%.128s (pid %d)",
		 id->name && *id->name ? id->name : "unnamed", (int)qmp_client_peer_pid(vm->c));
	cp_log_info("vm %s: connected, QEMU %s, %.32s, uuid %.64s", vm->name,
		    qmp_client_package(vm->c), id->status ? id->status : "?",
		    id->uuid ? id->uuid : "?");
	switch (id->next) {
	case SERVE_PROTO_WATCH:
		start_watch(vm);
		break;
	case SERVE_PROTO_REQUEST:
		read_request(vm);
		break;
	case SERVE_PROTO_WAIT:
		vm->state = VM_WAITING;
		schedule(vm, 0);
		break;
	case SERVE_PROTO_IDLE:
		snprintf(
			why, sizeof(why),
			"the VM is %.32s: its guest has run, not re-homed by coldplug; nothing to do",
			id->status ? id->status : "in an unknown run state");
		idle(vm, why);
		break;
	}
}

/**
 * on_ready() - qmp_ready_fn: the handshake is done
 * @c:		client
 * @e:		error, or NULL
 * @userdata:	the VM
 */
static void on_ready(struct qmp_client *c, const struct cp_error *e, void *userdata)
{
	struct vm *vm = userdata;
	struct cp_error ie;

	(void)c;
	vm->busy = false;
	if (e) {
		die(vm, e);
		return;
	}
	vm->state = VM_IDENTIFY;
	vm->busy = true;
	if (serve_proto_identify(vm->c, on_identified, vm, &ie) < 0)
		not_sent(vm, &ie);
}

/**
 * on_link_dropped() - qmp_reply_fn of a direct slot's netdev_del
 * @c:		client
 * @ret:	reply
 * @e:		error, or NULL
 * @userdata:	the VM
 */
static void on_link_dropped(struct qmp_client *c, cp_json *ret, const struct cp_error *e,
			    void *userdata)
{
	(void)c;
	(void)ret;
	if (e)
		failed_qmp(userdata, e, "netdev_del of a direct NIC slot");
}

/**
 * drop_links() - netdev_del every direct slot whose tap is gone
 * @vm:		VM
 * @test:	how to tell which are gone
 * @ifindex:	the deleted interface, for RELEASE_LINK_IFINDEX
 */
static void drop_links(struct vm *vm, enum release_link_test test, int ifindex)
{
	struct release_link *l;
	struct cp_error e;

	while ((l = release_link_next(&vm->rs, test, ifindex))) {
		cp_log_info("vm %s: tap %s is gone (the NIC was detached): removing %s; the guest "
			    "sees its link go down%s",
			    vm->name, l->ifname, l->netdev, release_link_note(&vm->rs));
		if (release_link_drop(vm->c, l, on_link_dropped, vm, &e) < 0)
			failed_qmp(vm, &e, "netdev_del of a direct NIC slot");
	}
}

/**
 * vm_link_gone() - a host interface was deleted: drop the direct slot on it
 * @vm:		VM
 * @ifindex:	the interface's ifindex
 */
void vm_link_gone(struct vm *vm, int ifindex)
{
	drop_links(vm, RELEASE_LINK_IFINDEX, ifindex);
}

/**
 * vm_links_recheck() - deletions may have been missed: drop every direct
 * slot whose tap is no longer there
 * @vm:	VM
 */
void vm_links_recheck(struct vm *vm)
{
	drop_links(vm, RELEASE_LINK_RECHECK, 0);
}

/**
 * on_watch_inventory() - inventory_fn: start or refresh the watch list
 * @inv:	inventory
 * @e:		error, or NULL
 * @userdata:	the VM
 */
static void on_watch_inventory(struct inventory *inv, const struct cp_error *e, void *userdata)
{
	struct vm *vm = userdata;
	bool attachable;

	vm->busy = false;
	if (e) {
		if (qmp_client_error(vm->c))
			die(vm, e);
		else
			idle(vm, e->msg);
		return;
	}
	release_collect(&vm->rs, inv);
	live_collect(&vm->lw, inv);
	drop_links(vm, RELEASE_LINK_MISSING, 0);
	attachable = inventory_count_slots(inv, INV_SLOT_DISK) || *inv->usb_bus;
	inventory_free(&vm->inv);
	if (!vm->rs.nwatch && !attachable) {
		idle(vm, NULL);
		return;
	}
	cp_log_debug("vm %s: watching %zu slot%s for detaches%s", vm->name, vm->rs.nwatch,
		     vm->rs.nwatch == 1 ? "" : "s", attachable ? ", and for attaches" : "");
	vm->state = VM_WATCHING;
	schedule(vm, vm->so.watch_ms);
}

/**
 * collect_in() - enter @state and take a fresh inventory for it
 * @vm:		VM
 * @state:	VM_WATCHING, VM_RELEASING or VM_ATTACHING
 * @fn:		called with the inventory
 */
static void collect_in(struct vm *vm, enum vm_state state, inventory_fn fn)
{
	struct cp_error e;

	vm->state = state;
	vm->busy = true;
	if (inventory_collect(vm->c, &vm->so.rehome->sel, &vm->inv, fn, vm, &e) < 0)
		not_sent(vm, &e);
}

/**
 * start_watch() - take an inventory and watch the slots it shows in use
 * @vm:	VM
 */
static void start_watch(struct vm *vm)
{
	vm->next_tick = -1;
	collect_in(vm, VM_WATCHING, on_watch_inventory);
}

/**
 * on_released() - apply_fn: the slot is back on its placeholder
 * @results:	the one result
 * @n:		1
 * @e:		error, or NULL
 * @userdata:	the VM
 */
static void on_released(struct apply_result *results, size_t n, const struct cp_error *e,
			void *userdata)
{
	struct vm *vm = userdata;

	(void)results;
	(void)n;
	vm->busy = false;
	if (e)
		cp_log_err("vm %s: releasing %s failed: %s", vm->name,
			   vm->release.steps[0].slot_name, e->msg);
	else
		cp_log_info("vm %s: %s released %s: the manager's detach can finish", vm->name,
			    vm->release.steps[0].slot_name, vm->release.steps[0].node);
	plan_free(&vm->release);
	inventory_free(&vm->inv);
	if (qmp_client_error(vm->c))
		die(vm, qmp_client_error(vm->c));
	else
		start_watch(vm);
}

/**
 * log_release() - say what the release will do
 * @vm:	VM with its release planned
 * @w:	the watched slot
 */
static void log_release(const struct vm *vm, const struct release_watch *w)
{
	const struct plan_step *st = &vm->release.steps[0];

	if (st->kind == PLAN_RELEASE_CD && !st->tray)
		cp_log_info("vm %s: %s: unplugging the USB CD drive %s", vm->name,
			    *w->node ? "the manager removed the fds of its ISO" : "it is empty",
			    st->slot_name);
	else
		cp_log_info("vm %s: the manager removed the fds of %s: giving %s its placeholder "
			    "back",
			    vm->name, w->node, st->slot_name);
}

/**
 * on_release_inventory() - inventory_fn: plan and apply the release
 * @inv:	inventory
 * @e:		error, or NULL
 * @userdata:	the VM (vm->rs.watch[0] is the entry being released)
 */
static void on_release_inventory(struct inventory *inv, const struct cp_error *e, void *userdata)
{
	struct vm *vm = userdata;
	const struct release_watch *w = &vm->rs.watch[0];
	struct cp_error pe;

	vm->busy = false;
	if (e) {
		if (qmp_client_error(vm->c))
			die(vm, e);
		else
			start_watch(vm);
		return;
	}
	if (release_plan(inv, w, &vm->release, &pe) < 0) {
		inventory_free(inv);
		start_watch(vm);
		return;
	}
	log_release(vm, w);
	vm->busy = true;
	if (apply_start(vm->c, &vm->release, NULL, vm->release_res, on_released, vm, &pe) < 0) {
		vm->busy = false;
		plan_free(&vm->release);
		inventory_free(inv);
		die(vm, &pe);
	}
}

/**
 * on_attached() - apply_fn: the device moved while running, or not
 * @results:	the one result
 * @n:		1
 * @e:		error, or NULL
 * @userdata:	the VM
 *
 * A device that could not be moved is left alone from now on (its
 * frontend is the manager's again when apply rolled it back): one line.
 */
static void on_attached(struct apply_result *results, size_t n, const struct cp_error *e,
			void *userdata)
{
	struct vm *vm = userdata;
	char line[512];

	(void)n;
	vm->busy = false;
	if (e) {
		cp_log_err("vm %s: moving %s \"%s\" attached while running failed (%s): %s",
			   vm->name, vm->attach.steps[0].kind == PLAN_CD ? "ISO" : "disk",
			   vm->attach.steps[0].name, apply_status_name(results[0].status), e->msg);
		live_leave(&vm->lw, &vm->cand);
	} else {
		live_moved_text(&vm->attach.steps[0], line, sizeof(line));
		cp_log_info("vm %s: %s", vm->name, line);
	}
	plan_free(&vm->attach);
	inventory_free(&vm->inv);
	if (qmp_client_error(vm->c))
		die(vm, qmp_client_error(vm->c));
	else
		start_watch(vm);
}

/**
 * on_attach_inventory() - inventory_fn: plan and apply the move of a
 * device attached while running
 * @inv:	inventory
 * @e:		error, or NULL
 * @userdata:	the VM (vm->cand is the device)
 */
static void on_attach_inventory(struct inventory *inv, const struct cp_error *e, void *userdata)
{
	struct vm *vm = userdata;
	struct plan_opts po = vm->so.rehome->plan;
	struct cp_error pe;

	vm->busy = false;
	if (e) {
		if (qmp_client_error(vm->c))
			die(vm, e);
		else
			start_watch(vm);
		return;
	}
	po.incus_profile = true; /* the daemon's slots come from the profile */
	if (plan_attach(inv, &po, vm->cand.id, &vm->attach, &pe) < 0) {
		if (pe.code == CP_ERR_REFUSED) {
			cp_log_warn("vm %s: %s", vm->name, pe.msg);
			live_leave(&vm->lw, &vm->cand);
		}
		inventory_free(inv);
		start_watch(vm);
		return;
	}
	cp_log_info("vm %s: %s attached while running: moving it to %s", vm->name,
		    vm->attach.steps[0].from, vm->attach.steps[0].to);
	vm->busy = true;
	if (apply_start(vm->c, &vm->attach, &vm->so.rehome->apply, vm->attach_res, on_attached, vm,
			&pe) < 0) {
		vm->busy = false;
		plan_free(&vm->attach);
		inventory_free(inv);
		die(vm, &pe);
	}
}

/**
 * on_children() - qom-list /machine/peripheral answered: say once which
 * NICs the manager attached while running stay where they are
 * @c:		client
 * @ret:	the children
 * @e:		error, or NULL
 * @userdata:	the VM
 */
static void on_children(struct qmp_client *c, cp_json *ret, const struct cp_error *e,
			void *userdata)
{
	struct vm *vm = userdata;
	char line[512];

	(void)c;
	vm->busy = false;
	if (e && failed_qmp(vm, e, "qom-list /machine/peripheral"))
		return;
	while (!e && live_scan_nics(&vm->lw, ret, &vm->so.rehome->sel, line, sizeof(line)))
		cp_log_warn("vm %s: %s", vm->name, line);
	schedule(vm, vm->so.watch_ms);
}

/**
 * look_for_nics() - list /machine/peripheral for NICs attached while running
 * @vm:	VM
 */
static void look_for_nics(struct vm *vm)
{
	cp_json *a = cp_json_obj(CP_STR("path", "/machine/peripheral"));
	struct cp_error e;

	vm->busy = true;
	if (!a) {
		cp_error_set(&e, CP_ERR_NOMEM, "out of memory");
		not_sent(vm, &e);
		return;
	}
	if (qmp_client_send(vm->c, "qom-list", a, NULL, 0, 0, on_children, vm, &e) < 0)
		not_sent(vm, &e);
}

/**
 * watch_rest() - the end of a watch tick: the NIC look when it is due, else
 * the next tick
 * @vm:	VM
 */
static void watch_rest(struct vm *vm)
{
	if (live_nic_due(&vm->lw))
		look_for_nics(vm);
	else
		schedule(vm, vm->so.watch_ms);
}

/**
 * on_blocks() - query-block answered: move a device the manager attached,
 * once it is seen on two ticks in a row
 * @c:		client
 * @ret:	query-block's answer
 * @e:		error, or NULL
 * @userdata:	the VM
 */
static void on_blocks(struct qmp_client *c, cp_json *ret, const struct cp_error *e, void *userdata)
{
	struct vm *vm = userdata;

	(void)c;
	vm->busy = false;
	if (e) {
		if (!failed_qmp(vm, e, "query-block"))
			schedule(vm, vm->so.watch_ms);
		return;
	}
	if (!live_scan(&vm->lw, ret, &vm->so.rehome->sel, &vm->cand)) {
		watch_rest(vm);
		return;
	}
	collect_in(vm, VM_ATTACHING, on_attach_inventory);
}

/**
 * look_for_attach() - the second half of a watch tick: query-block
 * @vm:	VM
 */
static void look_for_attach(struct vm *vm)
{
	struct cp_error e;

	vm->busy = true;
	if (qmp_client_send(vm->c, "query-block", NULL, NULL, 0, 0, on_blocks, vm, &e) < 0)
		not_sent(vm, &e);
}

/**
 * on_fdsets() - query-fdsets answered: release a slot whose node is going
 * @c:		client
 * @ret:	the fdsets
 * @e:		error, or NULL
 * @userdata:	the VM
 */
static void on_fdsets(struct qmp_client *c, cp_json *ret, const struct cp_error *e, void *userdata)
{
	struct vm *vm = userdata;
	size_t i;

	(void)c;
	vm->busy = false;
	if (e) {
		if (!failed_qmp(vm, e, "query-fdsets"))
			schedule(vm, vm->so.watch_ms);
		return;
	}
	if (!release_pick(&vm->rs, ret, &i)) {
		if (live_fdsets_new(&vm->lw, ret))
			look_for_attach(vm);
		else
			watch_rest(vm);
		return;
	}
	vm->rs.watch[0] = vm->rs.watch[i];
	collect_in(vm, VM_RELEASING, on_release_inventory);
}

/**
 * identify_expired() - the peer did not say in time which VM it is: close
 * it, so that it does not hold a slot
 * @vm:	VM in VM_HANDSHAKE or VM_IDENTIFY
 *
 * Failing the client ends the handshake or the identify batch with this
 * error; their callback logs it (once) and the VM dies.
 */
static void identify_expired(struct vm *vm)
{
	struct cp_error e;

	vm->identify_by = -1;
	cp_error_set(&e, CP_ERR_TIMEOUT,
		     "did not say which VM it is within %d ms of connecting (QMP greeting, "
		     "then query-name, query-uuid, query-status, qom-list): closed",
		     vm->so.identify_ms);
	qmp_client_fail(vm->c, &e);
}

/**
 * vm_timers() - run the VM's poll if it is due
 * @vm:		VM
 * @now:	cp_now_ms()
 */
void vm_timers(struct vm *vm, int64_t now)
{
	struct cp_error e;

	qmp_client_expire(vm->c);
	if (vm->identify_by >= 0 && vm->identify_by <= now)
		identify_expired(vm);
	if (qmp_client_error(vm->c)) {
		die(vm, qmp_client_error(vm->c));
		return;
	}
	if (vm->busy || vm->next_tick < 0 || vm->next_tick > now)
		return;
	vm->next_tick = -1;
	if (vm->state == VM_WAITING) {
		vm->busy = true;
		if (serve_proto_poll(vm->c, on_poll, vm, &e) < 0)
			not_sent(vm, &e);
	} else if (vm->state == VM_WATCHING) {
		vm->busy = true;
		if (qmp_client_send(vm->c, "query-fdsets", NULL, NULL, 0, 0, on_fdsets, vm, &e) < 0)
			not_sent(vm, &e);
	}
}

/**
 * vm_next_deadline() - when the loop must call vm_timers() next
 * @vm:	VM
 *
 * Return: cp_now_ms() time, or -1
 */
int64_t vm_next_deadline(const struct vm *vm)
{
	int64_t q = qmp_client_next_deadline(vm->c);

	if (vm->identify_by >= 0 && (q < 0 || vm->identify_by < q))
		q = vm->identify_by;
	if (vm->busy || vm->next_tick < 0)
		return q;
	return q < 0 || vm->next_tick < q ? vm->next_tick : q;
}

/**
 * vm_helper_fd() - the descriptor of the VM's tap helper (its pidfd), for
 * epoll: the pipeline waits for it without blocking the loop
 * @vm:		VM
 * @gen:	set to a number that changes with each helper
 *
 * Return: descriptor, or -1 when no helper runs
 */
int vm_helper_fd(const struct vm *vm, uint64_t *gen)
{
	return qmp_client_watched_fd(vm->c, gen);
}

/**
 * vm_helper_ready() - the VM's tap helper has exited: its answer moves the
 * pipeline on
 * @vm:	VM
 */
void vm_helper_ready(struct vm *vm)
{
	qmp_client_watched_ready(vm->c);
}

/**
 * vm_readable() - the VM's socket has data (or closed)
 * @vm:	VM
 */
void vm_readable(struct vm *vm)
{
	if (qmp_client_process(vm->c, NULL) < 0)
		die(vm, qmp_client_error(vm->c));
}

/**
 * vm_wants_write() - whether the VM's commands wait for QEMU to read them
 * @vm:	VM
 *
 * Return: true if the loop should call vm_writable() when the socket is
 * writable
 */
bool vm_wants_write(const struct vm *vm)
{
	return qmp_client_wants_write(vm->c);
}

/**
 * vm_writable() - the VM's socket takes output again
 * @vm:	VM
 */
void vm_writable(struct vm *vm)
{
	if (qmp_client_flush(vm->c, NULL) < 0)
		die(vm, qmp_client_error(vm->c));
}

/**
 * vm_live() - whether the VM's connection is still up
 * @vm:	VM
 *
 * A hang-up the loop has not read yet counts: it is read now (the VM dies,
 * to be reaped), so that a QEMU that reconnects at once is not taken for a
 * second connection of the same process.
 *
 * Return: false once the VM is dead or its peer has closed
 */
bool vm_live(struct vm *vm)
{
	struct pollfd p = { .fd = vm_fd(vm), .events = POLLIN | POLLRDHUP };

	if (vm->state != VM_DEAD && poll(&p, 1, 0) > 0 &&
	    (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
		vm_readable(vm);
	return vm->state != VM_DEAD;
}

/**
 * vm_new() - a QEMU connected to the daemon's socket
 * @o:		what it needs of the daemon's options (copied; o->rehome
 *		is borrowed, and must outlive the VM)
 * @fd:		the accepted connection (owned from now on)
 * @err:	filled on failure
 *
 * Return: new VM, or NULL
 */
struct vm *vm_new(const struct vm_opts *o, int fd, struct cp_error *err)
{
	struct qmp_client_opts co;
	struct vm *vm = cp_calloc(1, sizeof(*vm), err);
	char label[48];

	if (!vm) {
		close(fd);
		return NULL;
	}
	snprintf(label, sizeof(label), "fd %d", fd);
	qmp_client_opts_init_peer(&co);
	co.label = label;
	co.trace = o->trace ? 1 : -1;
	vm->c = qmp_client_new(fd, &co, err);
	if (!vm->c) {
		free(vm);
		return NULL;
	}
	vm->so = *o;
	vm->next_tick = -1;
	vm->identify_by = cp_now_ms() + o->identify_ms;
	snprintf(vm->name, sizeof(vm->name), "pid %d", (int)qmp_client_peer_pid(vm->c));
	vm->busy = true;
	if (qmp_client_handshake_async(vm->c, o->identify_ms, on_ready, vm, err) < 0) {
		vm_free(vm);
		return NULL;
	}
	return vm;
}

/**
 * vm_free() - close the connection and free the VM
 * @vm:	VM, may be NULL
 */
void vm_free(struct vm *vm)
{
	struct cp_error e;

	if (!vm)
		return;
	/* Batches in flight free themselves in their callbacks. */
	cp_error_set(&e, CP_ERR_EOF, "coldplug closed the connection");
	qmp_client_fail(vm->c, &e);
	qmp_client_free(vm->c);
	inventory_free(&vm->inv);
	plan_free(&vm->release);
	plan_free(&vm->attach);
	free(vm);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One VM served by coldplug serve: see serve.h for the states. Everything
 * here is asynchronous: each QMP answer's callback moves the VM on, and the
 * loop calls vm_timers() for the polls. A VM never blocks the others.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "coldplug/log.h"
#include "linkwatch.h"
#include "coldplug/qmp.h"
#include "coldplug/qmp_batch.h"
#include "coldplug/stub.h"
#include "serve.h"
#include "util.h"

#define VM_MAX_WATCH	   32
#define VM_MAX_LINKS	   8
#define VM_LINK_TIMEOUT_MS 5000

enum vm_state {
	VM_HANDSHAKE,
	VM_IDENTIFY,
	VM_WAITING,
	VM_REQUEST,
	VM_REHOMING,
	VM_WATCHING,
	VM_RELEASING,
	VM_IDLE,
	VM_DEAD,
};

/**
 * struct watch - a slot holding a node its manager opened through fdsets,
 * or a CD slot's usb-bot left empty (to unplug at once)
 * @kind:	INV_SLOT_DISK or INV_SLOT_CD
 * @index:	slot number
 * @node:	the node it holds, "" for an empty CD slot
 */
struct watch {
	enum inv_slot_kind kind;
	unsigned index;
	char node[INV_NAME_MAX];
};

/**
 * struct link - a direct NIC slot's tap: when the manager deletes it (a NIC
 * detach), the slot's netdev must go, or QEMU polls a dead tap
 * @ifindex:	the tap's ifindex when the slot was last seen on it
 * @ifname:	its name
 * @netdev:	the slot's netdev (coldplug-nic<N>)
 * @gone:	netdev_del was sent
 */
struct link {
	int ifindex;
	char ifname[INV_IFNAME_MAX];
	char netdev[INV_NAME_MAX];
	bool gone;
};

/**
 * struct vm - one connected QEMU
 * @srv:	the daemon
 * @c:		its QMP client
 * @state:	enum vm_state
 * @busy:	a QMP exchange or pipeline is in flight
 * @next_tick:	cp_now_ms() of the next poll, -1 for none
 * @identify_by: cp_now_ms() time by which the peer must have said which VM
 *		it is (on_identified()), -1 once it has
 * @name:	"name (pid N)" for logs
 * @opts:	this VM's pipeline options
 * @req:	the stub's request
 * @inv:	the inventory watching and releasing work from
 * @watch:	slots to watch
 * @nwatch:	their count
 * @release:	a release plan in flight
 * @release_res: its result
 * @links:	direct NIC slots' taps, watched for deletion
 * @nlinks:	their count
 * @qemu_major:	QEMU's version, from the last inventory
 * @qemu_minor:	QEMU's version, from the last inventory
 */
struct vm {
	struct serve *srv;
	struct qmp_client *c;
	enum vm_state state;
	bool busy;
	int64_t next_tick;
	int64_t identify_by;
	char name[192];
	struct rehome_opts opts;
	struct stub_request req;
	struct inventory inv;
	struct watch watch[VM_MAX_WATCH];
	size_t nwatch;
	struct plan release;
	struct apply_result release_res[1];
	struct link links[VM_MAX_LINKS];
	size_t nlinks;
	int qemu_major;
	int qemu_minor;
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
 * has_object() - whether qom-list of /objects lists @id
 * @list:	qom-list answer
 * @id:		object id
 *
 * Return: true if present
 */
static bool has_object(const cp_json *list, const char *id)
{
	size_t i;

	for (i = 0; i < cp_json_len(list); i++)
		if (cp_streq(cp_json_get_str(cp_json_at(list, i), "name"), id))
			return true;
	return false;
}

/**
 * obj_args() - {"qom-type":"authz-simple","id":ID,"identity":TEXT}
 * @id:		object id
 * @text:	identity
 *
 * Return: new object, or NULL when out of memory
 */
static cp_json *obj_args(const char *id, const char *text)
{
	return cp_json_obj(CP_STR("qom-type", "authz-simple"), CP_STR("id", id),
			   CP_STR("identity", text));
}

/**
 * status_args() - qom-set of the status object's identity
 * @text:	the new status
 *
 * Return: new object, or NULL when out of memory
 */
static cp_json *status_args(const char *text)
{
	return cp_json_obj(CP_STR("path", "/objects/" STUB_STATUS_OBJECT),
			   CP_STR("property", "identity"), CP_STR("value", text));
}

/**
 * add_status_line() - add the ringbuf-write of "@text\n" to @b
 * @b:		batch
 * @text:	status
 *
 * Return: 0, or -1 when out of memory
 */
static int add_status_line(struct qmp_batch *b, const char *text)
{
	cleanup_free char *line = cp_asprintf(NULL, "%s\n", text);

	return qmp_batch_add_args(b, "ringbuf-write",
				  cp_json_obj(CP_STR("device", STUB_STATUS_CHARDEV),
					      CP_STR("data", line), CP_STR("format", "utf8")));
}

/**
 * status_line_written() - log a ringbuf-write that failed (the last in @b)
 * @vm:	VM
 * @b:	batch
 *
 * A profile from before the ringbuf has a stub that reads the status
 * object, so the VM still starts; say how to bring the profile up to date.
 */
static void status_line_written(const struct vm *vm, struct qmp_batch *b)
{
	const struct cp_error *e = qmp_batch_error(b, qmp_batch_count(b) - 1);

	if (e)
		cp_log_warn("vm %s: cannot write to the %s ringbuf (%s); regenerate the Incus "
			    "profile with 'coldplug incus-profile'",
			    vm->name, STUB_STATUS_CHARDEV, e->msg);
}

/**
 * send_batch() - send @b, or give up on the VM
 * @vm:		VM
 * @b:		batch (NULL when building it ran out of memory; freed on failure)
 * @fn:		callback
 */
static void send_batch(struct vm *vm, struct qmp_batch *b, qmp_batch_fn fn)
{
	struct cp_error e;

	if (!b) {
		cp_error_set(&e, CP_ERR_NOMEM, "out of memory");
		die(vm, &e);
		return;
	}
	vm->busy = true;
	if (qmp_batch_send(b, vm->c, fn, vm, &e) < 0) {
		vm->busy = false;
		qmp_batch_free(b);
		die(vm, &e);
	}
}

/**
 * on_status_set() - the final status is in place: watch from now on
 * @b:		qom-set, ringbuf-write
 * @e:		connection error, or NULL
 * @userdata:	the VM
 */
static void on_status_set(struct qmp_batch *b, const struct cp_error *e, void *userdata)
{
	struct vm *vm = userdata;
	struct cp_error se;

	vm->busy = false;
	if (e) {
		die(vm, e); /* before the free: @e is the batch's */
		qmp_batch_free(b);
		return;
	}
	status_line_written(vm, b);
	if (qmp_batch_error(b, 0)) {
		cp_error_copy(&se, qmp_batch_error(b, 0));
		qmp_batch_free(b);
		if (failed_qmp(vm, &se, "setting the status for the scriptlet"))
			return;
	} else {
		qmp_batch_free(b);
	}
	start_watch(vm);
}

/**
 * set_status() - publish a status for the stub
 * @vm:		VM
 * @text:	"done: ...", "failed: ..."
 */
static void set_status(struct vm *vm, const char *text)
{
	struct qmp_batch *b = qmp_batch_new();
	char clean[STUB_STATUS_MAX];

	stub_status_clean(text, clean, sizeof(clean));
	if (b && (qmp_batch_add_args(b, "qom-set", status_args(clean)) < 0 ||
		  add_status_line(b, clean) < 0)) {
		qmp_batch_free(b);
		b = NULL;
	}
	send_batch(vm, b, on_status_set);
}

/**
 * summarise() - "done: 3 devices re-homed (root -> coldplug-disk0, ...)"
 * @r:		outcome
 * @out:	buffer
 * @size:	its size
 */
static void summarise(const struct rehome *r, char *out, size_t size)
{
	size_t i, moved = 0, off;

	for (i = 0; i < r->plan.n; i++)
		moved += r->results[i].status == APPLY_MOVED;
	off = (size_t)snprintf(out, size, STUB_STATUS_DONE ": %zu device%s re-homed", moved,
			       moved == 1 ? "" : "s");
	for (i = 0; i < r->plan.n && off < size; i++)
		if (r->results[i].status == APPLY_MOVED)
			off += (size_t)snprintf(out + off, size - off, "%s%s -> %s",
						off > 30 && out[off - 1] != '(' ? ", " : " (",
						r->plan.steps[i].name, r->plan.steps[i].slot_name);
	if (moved && off < size)
		snprintf(out + off, size - off, ") in %lld ms", (long long)r->ms);
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
	if (r->result == REHOME_OK)
		summarise(r, status, sizeof(status));
	else
		stub_status_failed(r->err.msg, status, sizeof(status));
	rehome_free(r);
	if (qmp_client_error(vm->c)) {
		die(vm, qmp_client_error(vm->c));
		return;
	}
	set_status(vm, status);
}

/**
 * apply_request() - this VM's options: the daemon's, as the stub asks
 * @vm:	VM with @req parsed
 */
static void apply_request(struct vm *vm)
{
	const struct serve_opts *so = serve_opts_of(vm->srv);

	vm->opts = so->rehome;
	if (vm->req.has_frontend)
		vm->opts.plan.nic_frontend = vm->req.frontend;
	vm->opts.plan.usb_mac_fixed |= vm->req.usb_mac_fixed;
	vm->opts.plan.incus_profile = true;
	/* Never the tap names in the request: a VM could name another VM's
	 * tap. Only the kernel says which tap a NIC is on (QEMU's fdinfo). */
	vm->opts.plan.taps = NULL;
	vm->opts.plan.ntaps = 0;
	if (*vm->req.instance) {
		char pid[32];

		snprintf(pid, sizeof(pid), " (pid %d)", (int)qmp_client_peer_pid(vm->c));
		snprintf(vm->name, sizeof(vm->name), "%.60s%s%.96s%s", vm->req.project,
			 *vm->req.project ? "/" : "", vm->req.instance, pid);
	}
}

/**
 * on_claimed() - status "running" created, request deleted: run the pipeline
 * @b:		the batch
 * @e:		connection error, or NULL
 * @userdata:	the VM
 */
static void on_claimed(struct qmp_batch *b, const struct cp_error *e, void *userdata)
{
	struct vm *vm = userdata;
	struct cp_error se;
	bool created;

	vm->busy = false;
	if (e) {
		die(vm, e); /* before the free: @e is the batch's */
		qmp_batch_free(b);
		return;
	}
	status_line_written(vm, b);
	created = !qmp_batch_error(b, 0);
	if (!created)
		cp_log_err("vm %s: cannot create the status object: %s", vm->name,
			   qmp_batch_error(b, 0)->msg);
	qmp_batch_free(b);
	if (!created) {
		idle(vm, NULL);
		return;
	}
	cp_log_info("vm %s: the scriptlet asks to re-home; starting", vm->name);
	vm->state = VM_REHOMING;
	vm->busy = true;
	if (rehome_start(vm->c, &vm->opts, on_rehomed, vm, &se) < 0) {
		char status[STUB_STATUS_MAX];

		vm->busy = false;
		stub_status_failed(se.msg, status, sizeof(status));
		set_status(vm, status);
	}
}

/**
 * claim() - create the status object with @status, delete the request and
 * write @status to the ringbuf
 * @vm:		VM
 * @status:	initial status ("running", or "failed: ..." for a bad request)
 * @fn:		batch callback
 */
static void claim(struct vm *vm, const char *status, qmp_batch_fn fn)
{
	struct qmp_batch *b = qmp_batch_new();
	char clean[STUB_STATUS_MAX];

	stub_status_clean(status, clean, sizeof(clean));
	if (b && (qmp_batch_add_args(b, "object-add", obj_args(STUB_STATUS_OBJECT, clean)) < 0 ||
		  qmp_batch_add_args(b, "object-del",
				     cp_json_obj(CP_STR("id", STUB_REQUEST_OBJECT))) < 0 ||
		  add_status_line(b, clean) < 0)) {
		qmp_batch_free(b);
		b = NULL;
	}
	send_batch(vm, b, fn);
}

/**
 * on_refused_request() - a bad request was answered with a failed status
 * @b:		the batch
 * @e:		connection error, or NULL
 * @userdata:	the VM
 */
static void on_refused_request(struct qmp_batch *b, const struct cp_error *e, void *userdata)
{
	struct vm *vm = userdata;

	vm->busy = false;
	if (e)
		die(vm, e);
	else
		status_line_written(vm, b);
	qmp_batch_free(b);
	if (!e)
		idle(vm, NULL);
}

/**
 * on_request() - the stub's request, read
 * @c:		client
 * @ret:	its identity (a string), or NULL
 * @e:		error, or NULL
 * @userdata:	the VM
 */
static void on_request(struct qmp_client *c, cp_json *ret, const struct cp_error *e, void *userdata)
{
	struct vm *vm = userdata;
	char status[STUB_STATUS_MAX];
	struct cp_error pe;

	(void)c;
	vm->busy = false;
	if (e) {
		if (!failed_qmp(vm, e, "reading the scriptlet's request"))
			idle(vm, NULL);
		return;
	}
	if (stub_request_parse(cp_json_as_str(ret) ? cp_json_as_str(ret) : "", &vm->req, &pe) < 0) {
		cp_log_err("vm %s: %s", vm->name, pe.msg);
		stub_status_failed(pe.msg, status, sizeof(status));
		claim(vm, status, on_refused_request);
		return;
	}
	apply_request(vm);
	claim(vm, STUB_STATUS_RUNNING, on_claimed);
}

/**
 * read_request() - fetch the stub's request object
 * @vm:	VM
 */
static void read_request(struct vm *vm)
{
	cp_json *a = cp_json_obj(CP_STR("path", "/objects/" STUB_REQUEST_OBJECT),
				 CP_STR("property", "identity"));
	struct cp_error e;

	vm->state = VM_REQUEST;
	vm->next_tick = -1;
	if (!a) {
		cp_error_set(&e, CP_ERR_NOMEM, "out of memory");
		die(vm, &e);
		return;
	}
	vm->busy = true;
	if (qmp_client_send(vm->c, "qom-get", a, NULL, 0, 0, on_request, vm, &e) < 0) {
		vm->busy = false;
		die(vm, &e);
	}
}

/**
 * before_guest() - whether a run state is before the guest starts
 * @status:	query-status "status"
 *
 * "paused" is not: QEMU is "prelaunch" from -S until the first cont, so a
 * paused guest has run (plan_check_run_state()), and no pre-start follows.
 *
 * Return: true for prelaunch
 */
static bool before_guest(const char *status)
{
	return cp_streq(status, "prelaunch");
}

/**
 * on_poll() - qom-list /objects and query-status answered
 * @b:		the batch
 * @e:		connection error, or NULL
 * @userdata:	the VM
 */
static void on_poll(struct qmp_batch *b, const struct cp_error *e, void *userdata)
{
	struct vm *vm = userdata;
	bool request = has_object(qmp_batch_result(b, 0), STUB_REQUEST_OBJECT);
	const char *status = cp_json_get_str(qmp_batch_result(b, 1), "status");

	vm->busy = false;
	if (e) {
		die(vm, e); /* before the free: @e is the batch's */
		qmp_batch_free(b);
		return;
	}
	if (request)
		read_request(vm);
	else if (status && !before_guest(status))
		idle(vm, "the VM started without asking coldplug (is coldplug's scriptlet in its "
			 "profile?); nothing to do");
	else
		schedule(vm, serve_opts_of(vm->srv)->poll_ms);
	qmp_batch_free(b);
}

/**
 * send_poll() - look for the request and at the run state
 * @vm:	VM
 */
static void send_poll(struct vm *vm)
{
	struct qmp_batch *b = qmp_batch_new();

	if (b && (qmp_batch_add_qom_list(b, "/objects") < 0 ||
		  qmp_batch_add(b, "query-status", NULL) < 0)) {
		qmp_batch_free(b);
		b = NULL;
	}
	send_batch(vm, b, on_poll);
}

/**
 * on_identified() - who the VM is and what state it is in
 * @b:		batch: query-name, query-uuid, query-status, qom-list /objects
 * @e:		connection error, or NULL
 * @userdata:	the VM
 */
static void on_identified(struct qmp_batch *b, const struct cp_error *e, void *userdata)
{
	struct vm *vm = userdata;
	const char *name = cp_json_get_str(qmp_batch_result(b, 0), "name");
	const char *uuid = cp_json_get_str(qmp_batch_result(b, 1), "UUID");
	const char *status = cp_json_get_str(qmp_batch_result(b, 2), "status");
	cp_json *objects = qmp_batch_result(b, 3);

	vm->busy = false;
	if (e) {
		die(vm, e); /* before the free: @e is the batch's */
		qmp_batch_free(b);
		return;
	}
	vm->identify_by = -1;
	/* bounded, so that the pid (which the kernel gave) always shows */
	snprintf(vm->name, sizeof(vm->name), "%.128s (pid %d)", name && *name ? name : "unnamed",
		 (int)qmp_client_peer_pid(vm->c));
	cp_log_info("vm %s: connected, QEMU %s, %.32s, uuid %.64s", vm->name,
		    qmp_client_package(vm->c), status ? status : "?", uuid ? uuid : "?");
	if (has_object(objects, STUB_STATUS_OBJECT))
		start_watch(vm);
	else if (has_object(objects, STUB_REQUEST_OBJECT))
		read_request(vm);
	else if (before_guest(status)) {
		vm->state = VM_WAITING;
		schedule(vm, 0);
	} else {
		char why[160];

		snprintf(
			why, sizeof(why),
			"the VM is %.32s: its guest has run, not re-homed by coldplug; nothing to do",
			status ? status : "in an unknown run state");
		idle(vm, why);
	}
	qmp_batch_free(b);
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
	struct qmp_batch *b;

	(void)c;
	vm->busy = false;
	if (e) {
		die(vm, e);
		return;
	}
	vm->state = VM_IDENTIFY;
	b = qmp_batch_new();
	if (b &&
	    (qmp_batch_add(b, "query-name", NULL) < 0 || qmp_batch_add(b, "query-uuid", NULL) < 0 ||
	     qmp_batch_add(b, "query-status", NULL) < 0 ||
	     qmp_batch_add_qom_list(b, "/objects") < 0)) {
		qmp_batch_free(b);
		b = NULL;
	}
	send_batch(vm, b, on_identified);
}

/**
 * empty_usb_cd() - a CD slot's usb-bot with no medium under it
 * @s:	slot
 *
 * The scsi-cd on it keeps the manager's device id, so the manager's own
 * device_del of its ISO removes it and leaves the usb-bot (and its USB
 * port) to coldplug.
 *
 * Return: true if the slot is such a usb-bot
 */
static bool empty_usb_cd(const struct inv_slot *s)
{
	return s->kind == INV_SLOT_CD && !s->used && !strcmp(s->driver, "usb-bot");
}

/**
 * collect_watch() - remember every slot that holds a node the manager opened
 * through an fdset, and every empty CD slot's usb-bot
 * @vm:	VM with a fresh @inv
 */
static void collect_watch(struct vm *vm)
{
	size_t i;

	vm->nwatch = 0;
	for (i = 0; i < vm->inv.nslots && vm->nwatch < VM_MAX_WATCH; i++) {
		const struct inv_slot *s = &vm->inv.slots[i];
		struct watch *w = &vm->watch[vm->nwatch];

		if (s->kind == INV_SLOT_NIC || ((!s->used || !s->nfdsets) && !empty_usb_cd(s)))
			continue;
		w->kind = s->kind;
		w->index = s->index;
		cp_strlcpy(w->node, s->node, sizeof(w->node));
		vm->nwatch++;
	}
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
	struct vm *vm = userdata;

	(void)c;
	(void)ret;
	if (e && !failed_qmp(vm, e, "netdev_del of a direct NIC slot"))
		return;
}

/**
 * drop_link() - the tap of a direct slot is gone: netdev_del the slot's
 * netdev (the guest sees its link go down; QEMU stops reading the tap)
 * @vm:		VM
 * @l:		the link
 */
static void drop_link(struct vm *vm, struct link *l)
{
	cp_json *a = cp_json_obj(CP_STR("id", l->netdev));
	struct cp_error e;

	l->gone = true;
	if (!a) {
		cp_log_err("vm %s: out of memory removing netdev %s", vm->name, l->netdev);
		return;
	}
	cp_log_info("vm %s: tap %s is gone (the NIC was detached): removing %s; the guest sees its "
		    "link go down%s",
		    vm->name, l->ifname, l->netdev,
		    vm->qemu_major >= 8 ? "; this QEMU keeps the dead tap's queues while the "
					  "slot's NIC exists (QEMU 10.0 polls them, one core "
					  "busy): restart the VM to free them"
					: "");
	if (qmp_client_send(vm->c, "netdev_del", a, NULL, 0, VM_LINK_TIMEOUT_MS, on_link_dropped,
			    vm, &e) < 0)
		failed_qmp(vm, &e, "netdev_del of a direct NIC slot");
}

/**
 * collect_links() - remember the tap of every direct NIC slot; drop a slot
 * whose tap is already gone (deleted while the daemon was away)
 * @vm:	VM with a fresh @inv
 */
static void collect_links(struct vm *vm)
{
	size_t i;

	vm->nlinks = 0;
	vm->qemu_major = vm->inv.ver_major;
	vm->qemu_minor = vm->inv.ver_minor;
	for (i = 0; i < vm->inv.nslots && vm->nlinks < VM_MAX_LINKS; i++) {
		const struct inv_slot *s = &vm->inv.slots[i];
		struct link *l = &vm->links[vm->nlinks];

		if (s->kind != INV_SLOT_NIC || !s->direct || !s->used)
			continue;
		memset(l, 0, sizeof(*l));
		l->ifindex = s->tap.ifindex;
		cp_strlcpy(l->ifname, s->ifname, sizeof(l->ifname));
		cp_strlcpy(l->netdev, s->name, sizeof(l->netdev));
		vm->nlinks++;
		if (!s->tap.exists && s->tap.probe_errno == ENODEV)
			drop_link(vm, l);
	}
}

/**
 * vm_link_gone() - a host interface was deleted: drop the direct slot on it
 * @vm:		VM
 * @ifindex:	the interface's ifindex
 */
void vm_link_gone(struct vm *vm, int ifindex)
{
	size_t i;

	for (i = 0; i < vm->nlinks; i++)
		if (!vm->links[i].gone && vm->links[i].ifindex == ifindex)
			drop_link(vm, &vm->links[i]);
}

/**
 * vm_links_recheck() - deletions may have been missed: drop every direct
 * slot whose tap is no longer there
 * @vm:	VM
 */
void vm_links_recheck(struct vm *vm)
{
	size_t i;

	for (i = 0; i < vm->nlinks; i++)
		if (!vm->links[i].gone &&
		    !linkwatch_exists(vm->links[i].ifindex, vm->links[i].ifname))
			drop_link(vm, &vm->links[i]);
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

	(void)inv;
	vm->busy = false;
	if (e) {
		if (qmp_client_error(vm->c))
			die(vm, e);
		else
			idle(vm, e->msg);
		return;
	}
	collect_watch(vm);
	collect_links(vm);
	inventory_free(&vm->inv);
	if (!vm->nwatch) {
		idle(vm, NULL);
		return;
	}
	cp_log_debug("vm %s: watching %zu slot%s for detaches", vm->name, vm->nwatch,
		     vm->nwatch == 1 ? "" : "s");
	vm->state = VM_WATCHING;
	schedule(vm, serve_opts_of(vm->srv)->watch_ms);
}

/**
 * start_watch() - take an inventory and watch the slots it shows in use
 * @vm:	VM
 */
static void start_watch(struct vm *vm)
{
	struct cp_error e;

	vm->state = VM_WATCHING;
	vm->next_tick = -1;
	vm->busy = true;
	if (inventory_collect(vm->c, &serve_opts_of(vm->srv)->rehome.sel, &vm->inv,
			      on_watch_inventory, vm, &e) < 0) {
		vm->busy = false;
		die(vm, &e);
	}
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
 * on_release_inventory() - inventory_fn: plan and apply the release
 * @inv:	inventory
 * @e:		error, or NULL
 * @userdata:	the VM (vm->watch[0] is the entry being released)
 */
static void on_release_inventory(struct inventory *inv, const struct cp_error *e, void *userdata)
{
	struct vm *vm = userdata;
	const struct watch *w = &vm->watch[0];
	const struct inv_slot *s;
	struct cp_error pe;

	vm->busy = false;
	if (e) {
		if (qmp_client_error(vm->c))
			die(vm, e);
		else
			start_watch(vm);
		return;
	}
	s = inventory_find_slot(inv, w->kind, w->index);
	/* A USB CD slot is unplugged whether or not the manager's device_del
	 * already took the scsi-cd (and the node) off it. */
	if (!s || (strcmp(s->node, w->node) && !(*w->node && empty_usb_cd(s))) ||
	    plan_release(inv, s, &vm->release, &pe) < 0) {
		inventory_free(inv);
		start_watch(vm);
		return;
	}
	if (s->kind == INV_SLOT_CD && !vm->release.steps[0].tray)
		cp_log_info("vm %s: %s: unplugging the USB CD drive %s", vm->name,
			    *w->node ? "the manager removed the fds of its ISO" : "it is empty",
			    s->name);
	else
		cp_log_info("vm %s: the manager removed the fds of %s: giving %s its placeholder "
			    "back",
			    vm->name, w->node, s->name);
	vm->busy = true;
	if (apply_start(vm->c, &vm->release, NULL, vm->release_res, on_released, vm, &pe) < 0) {
		vm->busy = false;
		plan_free(&vm->release);
		inventory_free(inv);
		die(vm, &pe);
	}
}

/**
 * node_has_fd() - whether any monitor fd still opens a node for its manager
 * @sets:	query-fdsets' answer
 * @node:	node-name
 *
 * After remove-fd, QEMU drops the fd from its fdset once the VM runs, but
 * keeps the fdset itself while the node holds a duplicate: so the test is
 * on each fd's opaque, not on the fdset ids. (QEMU 7.2 drops it only while
 * the VM runs; 10.x also while it is paused.)
 *
 * Return: true if an fd whose opaque names @node is left
 */
static bool node_has_fd(const cp_json *sets, const char *node)
{
	size_t i, j;

	for (i = 0; i < cp_json_len(sets); i++) {
		cp_json *fds = cp_json_get_array(cp_json_at(sets, i), "fds");

		for (j = 0; j < cp_json_len(fds); j++)
			if (inventory_fdset_names_node(
				    cp_json_get_str(cp_json_at(fds, j), "opaque"), node))
				return true;
	}
	return false;
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
	struct cp_error ie;
	size_t i;

	(void)c;
	vm->busy = false;
	if (e) {
		if (!failed_qmp(vm, e, "query-fdsets"))
			schedule(vm, serve_opts_of(vm->srv)->watch_ms);
		return;
	}
	for (i = 0; i < vm->nwatch && *vm->watch[i].node && node_has_fd(ret, vm->watch[i].node);
	     i++)
		;
	if (i == vm->nwatch) {
		schedule(vm, serve_opts_of(vm->srv)->watch_ms);
		return;
	}
	vm->watch[0] = vm->watch[i];
	vm->state = VM_RELEASING;
	vm->busy = true;
	if (inventory_collect(vm->c, &serve_opts_of(vm->srv)->rehome.sel, &vm->inv,
			      on_release_inventory, vm, &ie) < 0) {
		vm->busy = false;
		die(vm, &ie);
	}
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
		     serve_opts_of(vm->srv)->identify_ms);
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
		send_poll(vm);
	} else if (vm->state == VM_WATCHING) {
		vm->busy = true;
		if (qmp_client_send(vm->c, "query-fdsets", NULL, NULL, 0, 0, on_fdsets, vm, &e) <
		    0) {
			vm->busy = false;
			die(vm, &e);
		}
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
 * @srv:	the daemon
 * @fd:		the accepted connection (owned from now on)
 * @err:	filled on failure
 *
 * Return: new VM, or NULL
 */
struct vm *vm_new(struct serve *srv, int fd, struct cp_error *err)
{
	const struct serve_opts *so = serve_opts_of(srv);
	struct qmp_client_opts o;
	struct vm *vm = cp_calloc(1, sizeof(*vm), err);
	char label[48];

	if (!vm) {
		close(fd);
		return NULL;
	}
	snprintf(label, sizeof(label), "fd %d", fd);
	qmp_client_opts_init_peer(&o);
	o.label = label;
	o.trace = so->trace ? 1 : -1;
	vm->c = qmp_client_new(fd, &o, err);
	if (!vm->c) {
		free(vm);
		return NULL;
	}
	vm->srv = srv;
	vm->next_tick = -1;
	vm->identify_by = cp_now_ms() + so->identify_ms;
	snprintf(vm->name, sizeof(vm->name), "pid %d", (int)qmp_client_peer_pid(vm->c));
	vm->busy = true;
	if (qmp_client_handshake_async(vm->c, so->identify_ms, on_ready, vm, err) < 0) {
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
	free(vm);
}

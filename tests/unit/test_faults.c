/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Faults at every step: an 8-disk + 2-NIC + 1-CD plan applied against the
 * fake QMP peer, with one fault injected at each command k of the run (an
 * error reply, a reply that never comes, QEMU closing the connection, a
 * check that finds the wrong thing, a rollback that fails too), and the
 * outcome asserted for each: what moved, what was put back, what is left
 * without a frontend, what was changed (the exit code), what the run
 * reports, and every command sent (nothing after the connection is lost).
 *
 * The expected script and outcome come from one model of the runner
 * (script_case()), written from apply.h's contract: unplugs first, then each
 * step in order; a disk or CD that lost its frontend before its commit is
 * put back; a NIC never is; after a timeout or end of stream nothing more
 * is sent. The commands themselves are the plan's own (apply_ops.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply_ops.h"
#include "coldplug/cleanup.h"
#include "coldplug/apply.h"
#include "coldplug/qmp.h"
#include "fakepeer.h"
#include "tap.h"
#include "util.h"

#define NDISKS	     8
#define STEP_CD	     NDISKS
#define STEP_NIC_USB (NDISKS + 1)
#define STEP_NIC_DIR (NDISKS + 2)
#define NSTEPS	     (NDISKS + 3)
#define TIMEOUT_MS   150

/**
 * enum fault - what happens at command k
 * @F_ERROR:		QEMU answers with an error
 * @F_TIMEOUT:		no answer ever comes
 * @F_EOF:		QEMU closes the connection instead of answering
 * @F_BAD_CHECK:	a check (query-block, info network) sees the wrong
 *			thing (only at checks)
 * @F_RB_FAILS:		an error, and then the rollback's device_add fails
 *			too (only where there is a rollback)
 * @F_KINDS:		their count
 */
enum fault {
	F_ERROR,
	F_TIMEOUT,
	F_EOF,
	F_BAD_CHECK,
	F_RB_FAILS,
	F_KINDS,
};

static const char *const fault_names[F_KINDS] = { "error reply", "timeout", "EOF", "bad check",
						  "rollback fails too" };

/**
 * struct outcome - what a case must end with, per step
 * @status:	one letter per step: M moved, R rolled back (put back), F
 *		failed (on its old or new frontend), L lost (failed with no
 *		frontend: a disk or CD not restored, a NIC without network)
 * @changed:	one '1' or '0' per step
 * @cause:	a text the run's error must contain
 * @fault_step:	the step the fault hit
 * @applies:	the fault kind can happen at this command
 */
struct outcome {
	char status[NSTEPS + 1];
	char changed[NSTEPS + 1];
	char cause[128];
	size_t fault_step;
	bool applies;
};

/**
 * disk_step() - disk @i: Incus's scsi-hd on qemu_scsi.0 to slot @i; the
 * last one is an io.bus=usb disk (a usb-bot around its scsi-hd)
 * @st:	filled
 * @i:	index
 */
static void disk_step(struct plan_step *st, size_t i)
{
	st->kind = PLAN_DISK;
	snprintf(st->name, sizeof(st->name), "disk%zu", i);
	snprintf(st->dev_id, sizeof(st->dev_id), "dev-incus_disk%zu", i);
	snprintf(st->node, sizeof(st->node), "incus_disk%zu", i);
	snprintf(st->slot_name, sizeof(st->slot_name), "coldplug-disk%zu", i);
	snprintf(st->slot_path, sizeof(st->slot_path), "/machine/peripheral-anon/device[%zu]", i);
	st->slot = (unsigned)i;
	st->bootindex = i ? -1 : 0;
	cp_strlcpy(st->fe.driver, "scsi-hd", sizeof(st->fe.driver));
	cp_strlcpy(st->fe.bus, "qemu_scsi.0", sizeof(st->fe.bus));
	st->fe.channel = st->fe.scsi_id = st->fe.lun = -1;
	cp_strlcpy(st->del_id, st->dev_id, sizeof(st->del_id));
	if (i != NDISKS - 1)
		return;
	snprintf(st->del_id, sizeof(st->del_id), "usb_%s", st->dev_id);
	cp_strlcpy(st->fe.usb_id, st->del_id, sizeof(st->fe.usb_id));
	cp_strlcpy(st->fe.usb_driver, "usb-bot", sizeof(st->fe.usb_driver));
	cp_strlcpy(st->fe.usb_bus, "qemu_usb.0", sizeof(st->fe.usb_bus));
}

/**
 * fault_plan() - 8 disks, Incus's ISO to a new USB CD drive, eth0 (on a
 * macvtap, /dev/null standing in) to a usb-net, eth1 to its direct slot
 * @p:		plan to fill
 * @steps:	NSTEPS steps
 */
static void fault_plan(struct plan *p, struct plan_step *steps)
{
	struct plan_step *st;
	size_t i;

	memset(p, 0, sizeof(*p));
	memset(steps, 0, NSTEPS * sizeof(*steps));
	for (i = 0; i < NDISKS; i++)
		disk_step(&steps[i], i);
	st = &steps[STEP_CD];
	st->kind = PLAN_CD;
	cp_strlcpy(st->name, "iso", sizeof(st->name));
	cp_strlcpy(st->dev_id, "dev-incus_iso", sizeof(st->dev_id));
	cp_strlcpy(st->del_id, "dev-incus_iso", sizeof(st->del_id));
	cp_strlcpy(st->node, "incus_iso", sizeof(st->node));
	cp_strlcpy(st->slot_name, "coldplug-cd0", sizeof(st->slot_name));
	cp_strlcpy(st->slot_path, "/machine/peripheral/coldplug-cd0", sizeof(st->slot_path));
	cp_strlcpy(st->usb_bus, "qemu_usb.0", sizeof(st->usb_bus));
	st->bootindex = 2;
	cp_strlcpy(st->fe.driver, "scsi-cd", sizeof(st->fe.driver));
	cp_strlcpy(st->fe.bus, "qemu_scsi.0", sizeof(st->fe.bus));
	st->fe.channel = st->fe.scsi_id = st->fe.lun = -1;
	for (i = STEP_NIC_USB; i <= STEP_NIC_DIR; i++) {
		st = &steps[i];
		st->kind = i == STEP_NIC_USB ? PLAN_NIC_USB : PLAN_NIC_DIRECT;
		snprintf(st->name, sizeof(st->name), "eth%zu", i - STEP_NIC_USB);
		snprintf(st->dev_id, sizeof(st->dev_id), "dev-incus_%s", st->name);
		cp_strlcpy(st->del_id, st->dev_id, sizeof(st->del_id));
		snprintf(st->netdev, sizeof(st->netdev), "incus_%s", st->name);
		st->bootindex = -1;
		cp_strlcpy(st->usb_bus, "qemu_usb.0", sizeof(st->usb_bus));
	}
	st = &steps[STEP_NIC_USB];
	cp_strlcpy(st->mac, "40:66:6a:01:02:03", sizeof(st->mac));
	cp_strlcpy(st->tapdev, "/dev/null", sizeof(st->tapdev));
	cp_strlcpy(st->slot_name, st->dev_id, sizeof(st->slot_name));
	st->nqueues = 1;
	st = &steps[STEP_NIC_DIR];
	cp_strlcpy(st->ifname, "tapeth1", sizeof(st->ifname));
	cp_strlcpy(st->slot_name, "coldplug-nic0", sizeof(st->slot_name));
	st->nqueues = 2;
	p->steps = steps;
	p->n = NSTEPS;
}

/**
 * good_check() - the answer a step's check accepts
 * @i:		step
 * @buf:	buffer
 * @size:	its size
 *
 * Return: @buf
 */
static const char *good_check(size_t i, char *buf, size_t size)
{
	if (i < NDISKS)
		snprintf(buf, size,
			 "{\"return\":[{\"device\":\"coldplug-disk%zu\",\"inserted\":"
			 "{\"node-name\":\"incus_disk%zu\"}}]}",
			 i, i);
	else if (i == STEP_CD)
		snprintf(buf, size,
			 "{\"return\":[{\"device\":\"\",\"qdev\":\"dev-incus_iso\","
			 "\"tray_open\":false,\"inserted\":{\"node-name\":\"incus_iso\"}}]}");
	else if (i == STEP_NIC_USB)
		snprintf(buf, size,
			 "{\"return\":\"dev-incus_eth0: index=0,type=nic,model=usb-net,"
			 "macaddr=40:66:6a:01:02:03\\r\\n \\\\ incus_eth0: index=0,type=tap,"
			 "fd=11\\r\\n\"}");
	else
		snprintf(buf, size,
			 "{\"return\":\"virtio-net-pci.0: index=0,type=nic,model=virtio-net-pci,"
			 "macaddr=10:66:6a:01:02:04\\r\\n \\\\ coldplug-nic0: index=0,type=tap,"
			 "ifname=tapeth1\\r\\nvirtio-net-pci.1: index=1,type=nic,\\r\\n \\\\ "
			 "coldplug-nic0: index=1,type=tap,ifname=tapeth1\\r\\n\"}");
	return buf;
}

/**
 * bad_check() - an answer a step's check refuses: a disk's slot holding
 * another node, the ISO ejected, the new netdev missing
 * @i:		step
 *
 * Return: static JSON text
 */
static const char *bad_check(size_t i)
{
	if (i < NDISKS)
		return "{\"return\":[{\"device\":\"coldplug-disk0\",\"inserted\":"
		       "{\"node-name\":\"coldplug-disk0-placeholder\"}},{\"device\":"
		       "\"coldplug-disk7\",\"inserted\":{\"node-name\":\"other\"}}]}";
	if (i == STEP_CD)
		return "{\"return\":[{\"device\":\"\",\"qdev\":\"dev-incus_iso\","
		       "\"tray_open\":true}]}";
	return "{\"return\":\"\"}";
}

/**
 * struct run_model - the walk that writes a case's script and outcome
 * @fp:		peer being scripted
 * @plan:	the plan
 * @ops:	each step's operations
 * @k:		the command that faults
 * @kind:	how
 * @n:		commands counted so far
 * @lost:	the connection is gone (timeout or EOF): nothing more is sent
 * @out:	the outcome being written
 */
struct run_model {
	struct fakepeer *fp;
	const struct plan *plan;
	struct apply_op_list ops[NSTEPS];
	size_t k;
	enum fault kind;
	size_t n;
	bool lost;
	struct outcome *out;
};

/**
 * expect_cmd() - script one command as the runner sends it
 * @m:	model
 * @op:	the operation
 */
static void expect_cmd(struct run_model *m, const struct apply_op *op)
{
	cleanup_json cp_json *cmd = cp_json_new_object();
	cleanup_free char *text = NULL;

	if (!cmd || cp_json_set_str(cmd, "execute", op->cmd) < 0 ||
	    (op->args && cp_json_set(cmd, "arguments", cp_json_ref(op->args)) < 0))
		bail_out("out of memory");
	text = cp_json_dump(cmd, 0);
	if (!text)
		bail_out("out of memory");
	fakepeer_expect_fds(m->fp, text, op->with_tap ? 1 : 0, NULL);
}

/**
 * deleted() - script DEVICE_DELETED of @id
 * @m:	model
 * @id:	device id
 */
static void deleted(struct run_model *m, const char *id)
{
	char data[2 * INV_NAME_MAX + 64];

	snprintf(data, sizeof(data), "{\"device\":\"%s\",\"path\":\"/machine/peripheral/%s\"}", id,
		 id);
	fakepeer_event(m->fp, "DEVICE_DELETED", data);
}

/**
 * any_command() - whether a fault kind can hit any command
 * @kind:	the fault
 *
 * Return: true for an error reply, a timeout and EOF
 */
static bool any_command(enum fault kind)
{
	return kind == F_ERROR || kind == F_TIMEOUT || kind == F_EOF;
}

/**
 * is_nic_kind() - whether a step kind moves a NIC (never put back)
 * @kind:	enum plan_step_kind
 *
 * Return: true for the NIC kinds
 */
static bool is_nic_kind(enum plan_step_kind kind)
{
	return kind == PLAN_NIC_PCI || kind == PLAN_NIC_USB || kind == PLAN_NIC_DIRECT;
}

/**
 * fault_here() - count one command; whether the fault hits it
 * @m:	model
 *
 * Return: true at command k
 */
static bool fault_here(struct run_model *m)
{
	return m->n++ == m->k;
}

/**
 * lose() - script the fault that ends the connection (timeout or EOF)
 * @m:	model
 */
static void lose(struct run_model *m)
{
	m->lost = true;
	if (m->kind == F_EOF)
		fakepeer_close(m->fp);
}

/**
 * model_unplugs() - the first phase: every device_del, and the events
 * @m:	model
 *
 * A step whose device_del fails gets its letter here; the others in
 * model_step().
 */
static void model_unplugs(struct run_model *m)
{
	size_t i, j;

	for (i = 0; i < m->plan->n; i++) {
		const struct apply_op_list *l = &m->ops[i];

		expect_cmd(m, &l->ops[0]);
		if (m->lost)
			continue; /* sent with the others, never answered */
		if (!fault_here(m)) {
			fakepeer_reply(m->fp, "{\"return\":{}}");
			for (j = 1; j < l->n && l->ops[j].kind == APPLY_OP_WAIT_DELETED; j++)
				deleted(m, l->ops[j].wait_id);
			continue;
		}
		m->out->applies = any_command(m->kind);
		m->out->fault_step = i;
		if (m->kind == F_ERROR) {
			fakepeer_reply(m->fp, "{\"error\":{\"class\":\"GenericError\","
					      "\"desc\":\"injected device_del error\"}}");
			m->out->status[i] = 'F';
			m->out->changed[i] = '0';
		} else {
			m->lost = true; /* the later device_dels are already out */
		}
	}
	for (i = m->out->fault_step; m->lost && i < m->plan->n; i++)
		/* unanswered device_del: a NIC's network is unknown, a disk
		 * failed where it was (or was not) */
		m->out->status[i] = is_nic_kind(m->plan->steps[i].kind) ? 'L' : 'F';
	if (m->lost && m->kind == F_EOF)
		fakepeer_close(m->fp);
}

/**
 * model_rollback() - script the put-back of a disk or CD whose step
 * failed before its commit
 * @m:		model
 * @i:		step
 * @slot_added:	its usb-bot was added
 *
 * Return: the status letter: R, or L when the rollback failed
 */
static char model_rollback(struct run_model *m, size_t i, bool slot_added)
{
	struct apply_op_list rb;
	struct cp_error e;
	char letter = 'R';
	size_t j;

	if (m->lost)
		return 'L'; /* nothing can be sent */
	if (apply_ops_for_rollback(&m->plan->steps[i], slot_added, &rb, &e) < 0)
		bail_out("rollback: %s", e.msg);
	for (j = 0; j < rb.n && letter == 'R'; j++) {
		if (rb.ops[j].kind == APPLY_OP_WAIT_DELETED) {
			deleted(m, rb.ops[j].wait_id);
			continue;
		}
		expect_cmd(m, &rb.ops[j]);
		if (m->kind == F_RB_FAILS && !strcmp(rb.ops[j].cmd, "device_add")) {
			fakepeer_reply(m->fp, "{\"error\":{\"class\":\"GenericError\","
					      "\"desc\":\"injected rollback error\"}}");
			letter = 'L';
		} else {
			fakepeer_reply(m->fp, "{\"return\":{}}");
		}
	}
	apply_ops_free(&rb);
	return letter;
}

/**
 * step_fault() - the fault hits operation @op of step @i: script it
 * @m:		model
 * @i:		step
 * @op:		the operation
 * @committed:	an earlier operation of the step committed it
 * @slot_added:	an earlier operation added the CD's usb-bot
 *
 * Return: the step's status letter
 */
static char step_fault(struct run_model *m, size_t i, const struct apply_op *op, bool committed,
		       bool slot_added)
{
	const struct plan_step *st = &m->plan->steps[i];
	bool nic = is_nic_kind(st->kind);
	bool rollback = !nic && !committed;

	m->out->fault_step = i;
	m->out->applies = any_command(m->kind) || (m->kind == F_BAD_CHECK && op->check) ||
			  (m->kind == F_RB_FAILS && rollback);
	if (m->kind == F_TIMEOUT || m->kind == F_EOF) {
		lose(m);
		return rollback || (nic && !committed) ? 'L' : 'F';
	}
	if (m->kind == F_BAD_CHECK && op->check)
		fakepeer_reply(m->fp, bad_check(i));
	else
		fakepeer_reply(m->fp, "{\"error\":{\"class\":\"GenericError\","
				      "\"desc\":\"injected error\"}}");
	if (rollback)
		return model_rollback(m, i, slot_added);
	return nic && !committed ? 'L' : 'F';
}

/**
 * model_step() - the second phase of step @i: its operations after the
 * unplug, in order
 * @m:	model
 * @i:	step
 */
static void model_step(struct run_model *m, size_t i)
{
	const struct apply_op_list *l = &m->ops[i];
	bool committed = false, slot_added = false;
	char buf[512];
	size_t j;

	if (m->out->status[i] != '?')
		return; /* its device_del failed: nothing more for it */
	if (m->lost) {	/* every send fails at once; so does the rollback */
		m->out->status[i] = 'L';
		return;
	}
	for (j = 1; j < l->n; j++) {
		const struct apply_op *op = &l->ops[j];

		if (op->kind != APPLY_OP_CMD)
			continue;
		expect_cmd(m, op);
		if (fault_here(m)) {
			m->out->status[i] = step_fault(m, i, op, committed, slot_added);
			return;
		}
		fakepeer_reply(m->fp,
			       op->check ? good_check(i, buf, sizeof(buf)) : "{\"return\":{}}");
		committed |= op->commits;
		slot_added |= op->adds_slot;
	}
	m->out->status[i] = 'M';
}

/**
 * script_case() - script the peer for one case and write its outcome
 * @fp:		peer (negotiation queued)
 * @p:		the plan
 * @k:		the command that faults
 * @kind:	how
 * @out:	filled
 *
 * Return: the number of commands of a run without a fault
 */
static size_t script_case(struct fakepeer *fp, const struct plan *p, size_t k, enum fault kind,
			  struct outcome *out)
{
	struct run_model m = { .fp = fp, .plan = p, .k = k, .kind = kind, .out = out };
	struct cp_error e;
	size_t i;

	memset(out, 0, sizeof(*out));
	memset(out->status, '?', NSTEPS);
	memset(out->changed, '1', NSTEPS);
	for (i = 0; i < p->n; i++)
		if (apply_ops_for_step(&p->steps[i], &m.ops[i], &e) < 0)
			bail_out("ops: %s", e.msg);
	model_unplugs(&m);
	for (i = 0; i < p->n; i++)
		model_step(&m, i);
	for (i = 0; i < p->n; i++)
		apply_ops_free(&m.ops[i]);
	snprintf(out->cause, sizeof(out->cause), "%s",
		 kind == F_TIMEOUT     ? "within 150 ms"
		 : kind == F_EOF       ? "QEMU closed the connection"
		 : kind == F_BAD_CHECK ? "check after"
				       : "injected");
	return m.n;
}

/**
 * got_status() - the letters of struct outcome for the run's results
 * @res:	results
 * @out:	NSTEPS + 1 bytes
 * @changed:	NSTEPS + 1 bytes for the changed flags
 */
static void got_status(const struct apply_result *res, char *out, char *changed)
{
	size_t i;

	for (i = 0; i < NSTEPS; i++) {
		const char *msg = res[i].err.msg;
		bool lost = strstr(msg, "has no frontend") || strstr(msg, "has no network") ||
			    strstr(msg, "unknown") || strstr(msg, "is lost");

		switch (res[i].status) {
		case APPLY_MOVED:
			out[i] = 'M';
			break;
		case APPLY_ROLLED_BACK:
			out[i] = 'R';
			break;
		case APPLY_FAILED:
			out[i] = lost ? 'L' : 'F';
			break;
		default:
			out[i] = '?';
		}
		changed[i] = res[i].changed ? '1' : '0';
	}
	out[NSTEPS] = changed[NSTEPS] = '\0';
}

/**
 * check_nic_message() - a NIC the fault left without network says so, in
 * the run's error or its own result, with the fix
 * @p:		plan
 * @res:	results
 * @o:		expected outcome
 * @what:	the case, for names
 */
static void check_nic_message(const struct plan *p, const struct apply_result *res,
			      const struct outcome *o, const char *what)
{
	size_t i = o->fault_step;

	if (i < STEP_NIC_USB || o->status[i] != 'L')
		return;
	like(res[i].err.msg, p->steps[i].name, "%s: the NIC's error names it", what);
	like(res[i].err.msg, "restart the VM", "%s: and gives the fix", what);
	like(res[i].err.msg, i == STEP_NIC_USB ? "NIC eth0" : "NIC eth1",
	     "%s: and says what is left of it", what);
}

/**
 * check_also_lost() - the run's error (what Incus shows) names every NIC
 * left without network by a step other than the one it reports
 * @p:		plan
 * @err:	the run's error
 * @o:		expected outcome
 * @what:	the case, for names
 */
static void check_also_lost(const struct plan *p, const struct cp_error *err,
			    const struct outcome *o, const char *what)
{
	char want[2 * INV_NAME_MAX + 64];
	const char *names[2];
	size_t i, n = 0, first = strspn(o->status, "M");

	for (i = STEP_NIC_USB; i < NSTEPS; i++)
		if (o->status[i] == 'L' && i != first)
			names[n++] = p->steps[i].name;
	if (!n) {
		ok(!strstr(err->msg, "also failed midway"), "%s: no other NIC to name", what);
		return;
	}
	snprintf(want, sizeof(want), "NIC %s%s%s also failed midway", names[0], n > 1 ? ", " : "",
		 n > 1 ? names[1] : "");
	like(err->msg, want, "%s: the run's error also names %s", what, want);
}

/**
 * run_case() - one fault at command @k
 * @p:		the plan
 * @k:		the command
 * @kind:	the fault
 *
 * Return: commands in a run without a fault (k beyond it: no case run)
 */
static size_t run_case(const struct plan *p, size_t k, enum fault kind)
{
	struct fakepeer *fp = fakepeer_new();
	struct apply_result res[NSTEPS];
	char status[NSTEPS + 1], changed[NSTEPS + 1], what[INV_NAME_MAX + 64];
	struct qmp_client_opts qo;
	struct apply_opts ao;
	struct qmp_client *c;
	struct outcome o;
	struct cp_error err;
	size_t total;
	int rc;

	fakepeer_negotiate(fp);
	total = script_case(fp, p, k, kind, &o);
	if (k >= total || !o.applies) {
		fakepeer_free(fp);
		return total;
	}
	snprintf(what, sizeof(what), "k=%zu (%s), %s", k, p->steps[o.fault_step].name,
		 fault_names[kind]);
	qmp_client_opts_init(&qo);
	qo.cmd_timeout_ms = TIMEOUT_MS;
	fakepeer_start(fp);
	c = qmp_client_new(fakepeer_client_fd(fp), &qo, &err);
	if (!c || qmp_client_handshake(c, 2000, &err) < 0)
		bail_out("handshake: %s", err.msg);
	apply_opts_init(&ao);
	ao.event_timeout_ms = TIMEOUT_MS;
	memset(&err, 0, sizeof(err));
	rc = apply_run(c, p, &ao, res, &err);
	got_status(res, status, changed);
	is_str(status, o.status, "%s: %s (M moved, R put back, F failed, L lost)", what, o.status);
	is_str(changed, o.changed, "%s: changed %s", what, o.changed);
	ok(rc < 0 && err.code == CP_ERR_FAILED,
	   "%s: the run fails as a partial change (rehome exits 4)", what);
	like(err.msg, o.cause, "%s: the run's error gives the cause", what);
	check_nic_message(p, res, &o, what);
	check_also_lost(p, &err, &o, what);
	qmp_client_free(c);
	fakepeer_finish(fp, "%s: every command as modelled, nothing after a lost connection", what);
	return total;
}

/**
 * test_no_fault() - the model without a fault is the run that works
 * @p:	the plan
 *
 * Return: its number of commands
 */
static size_t test_no_fault(const struct plan *p)
{
	struct fakepeer *fp = fakepeer_new();
	struct apply_result res[NSTEPS];
	char status[NSTEPS + 1], changed[NSTEPS + 1];
	struct qmp_client_opts qo;
	struct qmp_client *c;
	struct outcome o;
	struct cp_error err;
	size_t total;

	fakepeer_negotiate(fp);
	total = script_case(fp, p, (size_t)-1, F_ERROR, &o);
	qmp_client_opts_init(&qo);
	fakepeer_start(fp);
	c = qmp_client_new(fakepeer_client_fd(fp), &qo, &err);
	if (!c || qmp_client_handshake(c, 2000, &err) < 0)
		bail_out("handshake: %s", err.msg);
	ok(apply_run(c, p, NULL, res, &err) == 0, "no fault: applied");
	got_status(res, status, changed);
	is_str(status, "MMMMMMMMMMM", "no fault: all 11 moved");
	qmp_client_free(c);
	fakepeer_finish(fp, "no fault: %zu commands", total);
	return total;
}

/**
 * main() - every fault kind at every command
 *
 * Return: TAP exit status
 */
int main(void)
{
	struct plan_step steps[NSTEPS];
	struct plan p;
	size_t k, total;
	int kind;

	fault_plan(&p, steps);
	total = test_no_fault(&p);
	for (kind = 0; kind < F_KINDS; kind++)
		for (k = 0; k < total; k++)
			run_case(&p, k, (enum fault)kind);
	return done_testing();
}

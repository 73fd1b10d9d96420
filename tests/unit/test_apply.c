/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests for the apply runner against the fake QMP peer: a disk re-homed
 * with events before or after the reply, a failed attach rolled back, an
 * unplug that never completes (no rollback: the device is still there), a
 * failure stopping later steps, a NIC failing midway (not put back, and
 * the error says what is left of it), and QEMU vanishing in the middle; an ISO
 * onto a new USB CD drive, and each way that can fail midway; a re-homing
 * plan reads the run state once before its first change, and changes
 * nothing when QEMU is no longer where the plan was made.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coldplug/apply.h"
#include "coldplug/qmp.h"
#include "fakepeer.h"
#include "tapq.h"
#include "tap.h"
#include "util.h"

#define SLOT "/machine/peripheral-anon/device[0]"

static const char deleted[] =
	"{\"device\":\"dev-incus_root\",\"path\":\"/machine/peripheral/dev-incus_root\"}";

/**
 * root_plan() - one or two disk steps: root to slot 0 (and data to slot 1)
 * @p:		plan to fill
 * @steps:	storage for the steps
 * @n:		1 or 2
 */
static void root_plan(struct plan *p, struct plan_step *steps, size_t n)
{
	size_t i;

	memset(p, 0, sizeof(*p));
	memset(steps, 0, n * sizeof(*steps));
	for (i = 0; i < n; i++) {
		struct plan_step *st = &steps[i];

		st->kind = PLAN_DISK;
		cp_strlcpy(st->name, i ? "data" : "root", sizeof(st->name));
		cp_strlcpy(st->dev_id, i ? "dev-incus_data" : "dev-incus_root", sizeof(st->dev_id));
		cp_strlcpy(st->del_id, st->dev_id, sizeof(st->del_id));
		cp_strlcpy(st->node, i ? "incus_data" : "incus_root", sizeof(st->node));
		snprintf(st->slot_name, sizeof(st->slot_name), "coldplug-disk%zu", i);
		snprintf(st->slot_path, sizeof(st->slot_path),
			 "/machine/peripheral-anon/device[%zu]", i);
		st->slot = (unsigned)i;
		st->bootindex = i ? -1 : 0;
		cp_strlcpy(st->fe.driver, "scsi-hd", sizeof(st->fe.driver));
		cp_strlcpy(st->fe.bus, "qemu_scsi.0", sizeof(st->fe.bus));
		st->fe.channel = st->fe.scsi_id = st->fe.lun = -1;
	}
	p->steps = steps;
	p->n = n;
}

/**
 * new_peer() - a fake peer with the greeting and negotiation queued
 *
 * Return: the peer
 */
static struct fakepeer *new_peer(void)
{
	struct fakepeer *fp = fakepeer_new();

	fakepeer_negotiate(fp);
	return fp;
}

/**
 * expect_attach() - the qom-set drive / bootindex / query-block of root
 * @fp:		peer
 */
static void expect_attach(struct fakepeer *fp)
{
	fakepeer_expect(fp, "{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"" SLOT "\","
			    "\"property\":\"drive\",\"value\":\"incus_root\"}}");
	fakepeer_reply(fp, "{\"return\":{}}");
	fakepeer_expect(fp, "{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"" SLOT "\","
			    "\"property\":\"bootindex\",\"value\":0}}");
	fakepeer_reply(fp, "{\"return\":{}}");
	fakepeer_expect(fp, "{\"execute\":\"query-block\"}");
	fakepeer_reply(fp, "{\"return\":[{\"device\":\"coldplug-disk0\",\"inserted\":"
			   "{\"node-name\":\"incus_root\"}}]}");
}

/**
 * expect_attach_refused() - root's qom-set drive is refused, then the
 * rollback re-creates Incus's scsi-hd as it was
 * @fp:		peer
 */
static void expect_attach_refused(struct fakepeer *fp)
{
	fakepeer_expect(fp, "{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"" SLOT "\","
			    "\"property\":\"drive\",\"value\":\"incus_root\"}}");
	fakepeer_reply(fp, "{\"error\":{\"class\":\"GenericError\",\"desc\":\"Permission conflict "
			   "on node 'incus_root'\"}}");
	fakepeer_expect(fp,
			"{\"execute\":\"device_add\",\"arguments\":{\"bus\":\"qemu_scsi.0\","
			"\"drive\":\"incus_root\",\"driver\":\"scsi-hd\",\"id\":\"dev-incus_root\","
			"\"bootindex\":0,\"serial\":\"incus_root\"}}");
	fakepeer_reply(fp, "{\"return\":{}}");
}

/**
 * test_moved() - a disk moves; DEVICE_DELETED before or after the reply
 * @event_first:	send the event before device_del's reply
 */
static void test_moved(bool event_first)
{
	struct fakepeer *fp = new_peer();
	struct apply_result res[1];
	struct plan_step steps[1];
	struct qmp_client *c;
	struct cp_error err;
	struct plan p;

	root_plan(&p, steps, 1);
	fakepeer_expect(fp,
			"{\"execute\":\"device_del\",\"arguments\":{\"id\":\"dev-incus_root\"}}");
	if (event_first) {
		fakepeer_event(fp, "DEVICE_DELETED", deleted);
		fakepeer_reply(fp, "{\"return\":{}}");
	} else {
		fakepeer_reply(fp, "{\"return\":{}}");
		fakepeer_event(fp, "DEVICE_DELETED",
			       "{\"path\":\"/machine/peripheral/x/virtio-backend\"}");
		fakepeer_event(fp, "DEVICE_DELETED", deleted);
	}
	expect_attach(fp);
	c = fakepeer_connect(fp, false);
	ok(apply_run(c, &p, NULL, res, &err) == 0, "applied (event %s the reply)",
	   event_first ? "before" : "after");
	ok(res[0].status == APPLY_MOVED && res[0].changed, "the disk moved");
	qmp_client_free(c);
	fakepeer_finish(fp, "the peer saw exactly the disk's commands");
}

/**
 * test_rollback() - the attach fails: Incus's frontend is re-created
 */
static void test_rollback(void)
{
	struct fakepeer *fp = new_peer();
	struct apply_result res[1];
	struct plan_step steps[1];
	struct qmp_client *c;
	struct cp_error err;
	struct plan p;

	root_plan(&p, steps, 1);
	cp_strlcpy(steps[0].fe.serial, "incus_root", sizeof(steps[0].fe.serial));
	fakepeer_expect(fp,
			"{\"execute\":\"device_del\",\"arguments\":{\"id\":\"dev-incus_root\"}}");
	fakepeer_reply(fp, "{\"return\":{}}");
	fakepeer_event(fp, "DEVICE_DELETED", deleted);
	expect_attach_refused(fp);
	c = fakepeer_connect(fp, false);
	ok(apply_run(c, &p, NULL, res, &err) < 0 && err.code == CP_ERR_FAILED,
	   "a failed attach fails the run, as a partial change");
	is_int(res[0].status, APPLY_ROLLED_BACK, "root was put back on its frontend");
	like(res[0].err.msg, "Permission conflict", "the result keeps QEMU's reason");
	like(res[0].err.msg, "put back on qemu_scsi.0", "and says where it is now");
	qmp_client_free(c);
	fakepeer_finish(fp, "the peer saw device_del, qom-set, then the rollback device_add");
}

#define QUERY_STATUS "{\"execute\":\"query-status\"}"

/**
 * status_reply() - a query-status answer
 * @status:	the run state
 * @buf:	buffer
 * @size:	its size
 *
 * Return: @buf
 */
static const char *status_reply(const char *status, char *buf, size_t size)
{
	snprintf(buf, size, "{\"return\":{\"status\":\"%s\",\"running\":%s}}", status,
		 strcmp(status, "running") ? "false" : "true");
	return buf;
}

/**
 * test_state_changed() - a re-homing plan finds QEMU no longer where the
 * plan was made (it started, or ran and paused): nothing is sent after the
 * one query-status, every step is not attempted, and the error says why
 * @status:	the run state QEMU reports now
 * @nsteps:	1, or 2 for the batch of unplugs
 */
static void test_state_changed(const char *status, size_t nsteps)
{
	struct fakepeer *fp = new_peer();
	struct apply_result res[2];
	struct plan_step steps[2];
	struct qmp_client *c;
	struct cp_error err;
	struct plan p;
	char reply[128];

	root_plan(&p, steps, nsteps);
	p.before_guest = true;
	fakepeer_expect(fp, QUERY_STATUS);
	fakepeer_reply(fp, status_reply(status, reply, sizeof(reply)));
	c = fakepeer_connect(fp, false);
	ok(apply_run(c, &p, NULL, res, &err) < 0 && err.code == CP_ERR_REFUSED,
	   "%s, %zu step%s: refused, as a run that changed nothing", status, nsteps,
	   nsteps == 1 ? "" : "s");
	like(err.msg, "the run state changed after the plan was made; nothing was changed",
	     "%s: the error says the state changed and nothing was", status);
	like(err.msg, status, "%s: and names the state", status);
	ok(res[0].status == APPLY_NOT_ATTEMPTED && !res[0].changed &&
		   (nsteps == 1 || (res[1].status == APPLY_NOT_ATTEMPTED && !res[1].changed)),
	   "%s: every step not attempted, unchanged", status);
	qmp_client_free(c);
	fakepeer_finish(fp, "%s: nothing after query-status", status);
}

/**
 * test_state_checked() - the run state is read once, before the first
 * change; prelaunch (or paused, when the plan allows it) goes on
 * @status:		the run state QEMU reports
 * @allow_paused:	the plan's allow_paused
 */
static void test_state_checked(const char *status, bool allow_paused)
{
	struct fakepeer *fp = new_peer();
	struct apply_result res[1];
	struct plan_step steps[1];
	struct qmp_client *c;
	struct cp_error err;
	struct plan p;
	char reply[128];

	root_plan(&p, steps, 1);
	p.before_guest = true;
	p.allow_paused = allow_paused;
	fakepeer_expect(fp, QUERY_STATUS);
	fakepeer_reply(fp, status_reply(status, reply, sizeof(reply)));
	fakepeer_expect(fp,
			"{\"execute\":\"device_del\",\"arguments\":{\"id\":\"dev-incus_root\"}}");
	fakepeer_reply(fp, "{\"return\":{}}");
	fakepeer_event(fp, "DEVICE_DELETED", deleted);
	expect_attach(fp);
	c = fakepeer_connect(fp, false);
	ok(apply_run(c, &p, NULL, res, &err) == 0 && res[0].status == APPLY_MOVED,
	   "%s%s: the disk moved", status, allow_paused ? " (allowed)" : "");
	qmp_client_free(c);
	fakepeer_finish(fp, "%s: query-status once, then the disk's commands", status);
}

/**
 * test_batch() - two disks: both unplugs first, in one batch, their events
 * awaited together; root's attach fails and root is put back, data still
 * reaches its slot (its frontend is gone already), the run reports root; a
 * third disk already on its slot is left alone
 */
static void test_batch(void)
{
	static const char data_deleted[] =
		"{\"device\":\"dev-incus_data\",\"path\":\"/machine/peripheral/dev-incus_data\"}";
	struct fakepeer *fp = new_peer();
	struct apply_result res[3];
	struct plan_step steps[3];
	struct qmp_client *c;
	struct cp_error err;
	struct plan p;

	root_plan(&p, steps, 3);
	steps[2].already = true; /* on its slot: no device_del, nothing sent for it */
	cp_strlcpy(steps[0].fe.serial, "incus_root", sizeof(steps[0].fe.serial));
	fakepeer_expect(fp,
			"{\"execute\":\"device_del\",\"arguments\":{\"id\":\"dev-incus_root\"}}");
	fakepeer_reply(fp, "{\"return\":{}}");
	fakepeer_expect(fp,
			"{\"execute\":\"device_del\",\"arguments\":{\"id\":\"dev-incus_data\"}}");
	fakepeer_reply(fp, "{\"return\":{}}");
	fakepeer_event(fp, "DEVICE_DELETED", data_deleted);
	fakepeer_event(fp, "DEVICE_DELETED", deleted);
	expect_attach_refused(fp);
	fakepeer_expect(fp, "{\"execute\":\"qom-set\",\"arguments\":{\"path\":"
			    "\"/machine/peripheral-anon/device[1]\",\"property\":\"drive\","
			    "\"value\":\"incus_data\"}}");
	fakepeer_reply(fp, "{\"return\":{}}");
	fakepeer_expect(fp, "{\"execute\":\"query-block\"}");
	fakepeer_reply(fp, "{\"return\":[{\"device\":\"coldplug-disk1\",\"inserted\":"
			   "{\"node-name\":\"incus_data\"}}]}");
	c = fakepeer_connect(fp, false);
	ok(apply_run(c, &p, NULL, res, &err) < 0 && err.code == CP_ERR_FAILED,
	   "batch: root's failed attach fails the run");
	like(err.msg, "root: dev-incus_root -> coldplug-disk0", "batch: the run reports root");
	is_int(res[0].status, APPLY_ROLLED_BACK, "batch: root was put back on its frontend");
	is_int(res[1].status, APPLY_MOVED, "batch: data, already unplugged, reached its slot");
	ok(res[0].changed && res[1].changed, "batch: both were changed");
	is_int(res[2].status, APPLY_ALREADY, "batch: the step already done stays so");
	qmp_client_free(c);
	fakepeer_finish(fp, "batch: both device_dels first, then root's attach and rollback, "
			    "then data's attach");
}

/**
 * test_batch_unplug_fails() - two disks: data's device_del is refused;
 * root still moves, data stays where it was, untouched
 */
static void test_batch_unplug_fails(void)
{
	struct fakepeer *fp = new_peer();
	struct apply_result res[2];
	struct plan_step steps[2];
	struct apply_opts o;
	struct qmp_client *c;
	struct cp_error err;
	struct plan p;

	apply_opts_init(&o);
	o.event_timeout_ms = 300;
	root_plan(&p, steps, 2);
	fakepeer_expect(fp,
			"{\"execute\":\"device_del\",\"arguments\":{\"id\":\"dev-incus_root\"}}");
	fakepeer_reply(fp, "{\"return\":{}}");
	fakepeer_expect(fp,
			"{\"execute\":\"device_del\",\"arguments\":{\"id\":\"dev-incus_data\"}}");
	fakepeer_reply(fp, "{\"error\":{\"class\":\"GenericError\",\"desc\":\"Bus "
			   "'qemu_pcie5' does not support hotplugging\"}}");
	fakepeer_event(fp, "DEVICE_DELETED", deleted);
	expect_attach(fp);
	c = fakepeer_connect(fp, false);
	ok(apply_run(c, &p, &o, res, &err) < 0, "batch: a refused device_del fails the run");
	like(err.msg, "does not support hotplugging", "batch: with QEMU's reason");
	is_int(res[0].status, APPLY_MOVED, "batch: root still moved");
	ok(res[1].status == APPLY_FAILED && !res[1].changed, "batch: data failed, unchanged");
	qmp_client_free(c);
	fakepeer_finish(fp, "batch: no command for data after its refused device_del");
}

/**
 * test_unplug_pending() - no DEVICE_DELETED: a clear error, no rollback
 */
static void test_unplug_pending(void)
{
	struct fakepeer *fp = new_peer();
	struct apply_opts o;
	struct apply_result res[1];
	struct plan_step steps[1];
	struct qmp_client *c;
	struct cp_error err;
	struct plan p;

	root_plan(&p, steps, 1);
	cp_strlcpy(steps[0].fe.addr, "00.0", sizeof(steps[0].fe.addr)); /* a PCI disk */
	apply_opts_init(&o);
	o.event_timeout_ms = 200;
	fakepeer_expect(fp,
			"{\"execute\":\"device_del\",\"arguments\":{\"id\":\"dev-incus_root\"}}");
	fakepeer_reply(fp, "{\"return\":{}}");
	c = fakepeer_connect(fp, false);
	ok(apply_run(c, &p, &o, res, &err) < 0, "an unplug that never completes fails");
	like(err.msg, "did not finish unplugging within 200 ms", "the error says so");
	like(err.msg, "acpi-pci-hotplug-with-bridge-support=off", "and names the fix");
	is_int(res[0].status, APPLY_FAILED, "failed, with no rollback (the device is still there)");
	ok(qmp_client_is_ready(c), "an event wait timing out does not latch the client");
	qmp_client_free(c);
	fakepeer_finish(fp, "no command after device_del");
}

/* The ISO's steps, as the fake peer expects them. */
#define CD_DEL "{\"execute\":\"device_del\",\"arguments\":{\"id\":\"dev-incus_iso\"}}"
#define CD_BOT                                                                                     \
	"{\"execute\":\"device_add\",\"arguments\":{\"bus\":\"qemu_usb.0\",\"driver\":\"usb-bot\",\"id\":\"coldplug-cd0\"}}"
#define CD_SCSI                                                                                    \
	"{\"execute\":\"device_add\",\"arguments\":{\"bus\":\"coldplug-cd0.0\",\"drive\":\"incus_iso\",\"driver\":\"scsi-cd\",\"id\":\"dev-incus_iso\",\"lun\":0,\"bootindex\":2}}"
#define CD_ATTACH                                                                                  \
	"{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"/machine/peripheral/coldplug-cd0\",\"property\":\"attached\",\"value\":true}}"
#define CD_READD                                                                                   \
	"{\"execute\":\"device_add\",\"arguments\":{\"bus\":\"qemu_scsi.0\",\"drive\":\"incus_iso\",\"driver\":\"scsi-cd\",\"id\":\"dev-incus_iso\",\"bootindex\":2}}"
#define CD_UNPLUG "{\"execute\":\"device_del\",\"arguments\":{\"id\":\"coldplug-cd0\"}}"
#define QMP_OK	  "{\"return\":{}}"

static const char iso_deleted[] =
	"{\"device\":\"dev-incus_iso\",\"path\":\"/machine/peripheral/dev-incus_iso\"}";
static const char bot_deleted[] =
	"{\"device\":\"coldplug-cd0\",\"path\":\"/machine/peripheral/coldplug-cd0\"}";

/**
 * cd_plan() - Incus's ISO (scsi-cd on qemu_scsi.0, boot order 2) to a new
 * USB CD drive coldplug-cd0 on qemu_usb.0
 * @p:		plan to fill
 * @st:		storage for the step
 */
static void cd_plan(struct plan *p, struct plan_step *st)
{
	memset(p, 0, sizeof(*p));
	memset(st, 0, sizeof(*st));
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
	p->steps = st;
	p->n = 1;
}

/**
 * expect_cd_unplug() - Incus's scsi-cd goes, DEVICE_DELETED follows
 * @fp:		peer
 */
static void expect_cd_unplug(struct fakepeer *fp)
{
	fakepeer_expect(fp, CD_DEL);
	fakepeer_reply(fp, QMP_OK);
	fakepeer_event(fp, "DEVICE_DELETED", iso_deleted);
}

/**
 * test_cd_moved() - the ISO reaches a new USB CD drive, no tray moves
 */
static void test_cd_moved(void)
{
	struct fakepeer *fp = new_peer();
	struct apply_result res[1];
	struct plan_step st;
	struct qmp_client *c;
	struct cp_error err;
	struct plan p;

	cd_plan(&p, &st);
	expect_cd_unplug(fp);
	fakepeer_expect(fp, CD_BOT);
	fakepeer_reply(fp, QMP_OK);
	fakepeer_expect(fp, CD_SCSI);
	fakepeer_reply(fp, QMP_OK);
	fakepeer_expect(fp, CD_ATTACH);
	fakepeer_reply(fp, QMP_OK);
	fakepeer_expect(fp, "{\"execute\":\"query-block\"}");
	fakepeer_reply(fp, "{\"return\":[{\"device\":\"\",\"qdev\":\"dev-incus_iso\","
			   "\"tray_open\":false,\"inserted\":{\"node-name\":\"incus_iso\"}}]}");
	c = fakepeer_connect(fp, false);
	ok(apply_run(c, &p, NULL, res, &err) == 0, "cd: applied");
	ok(res[0].status == APPLY_MOVED, "cd: the ISO is on coldplug-cd0");
	qmp_client_free(c);
	fakepeer_finish(fp, "cd: device_del, usb-bot, scsi-cd, attached, query-block; no tray");
}

/**
 * test_cd_ejected() - something ejects the medium (Incus 6.0.4 on a tray
 * event): the check after the commit fails the run, with the reason
 */
static void test_cd_ejected(void)
{
	struct fakepeer *fp = new_peer();
	struct apply_result res[1];
	struct plan_step st;
	struct qmp_client *c;
	struct cp_error err;
	struct plan p;

	cd_plan(&p, &st);
	expect_cd_unplug(fp);
	fakepeer_expect(fp, CD_BOT);
	fakepeer_reply(fp, QMP_OK);
	fakepeer_expect(fp, CD_SCSI);
	fakepeer_reply(fp, QMP_OK);
	fakepeer_expect(fp, CD_ATTACH);
	fakepeer_reply(fp, QMP_OK);
	fakepeer_expect(fp, "{\"execute\":\"query-block\"}");
	fakepeer_reply(fp, "{\"return\":[{\"device\":\"\",\"qdev\":\"dev-incus_iso\","
			   "\"tray_open\":true}]}");
	c = fakepeer_connect(fp, false);
	ok(apply_run(c, &p, NULL, res, &err) < 0 && err.code == CP_ERR_FAILED,
	   "cd: an ejected medium fails the run");
	like(err.msg, "something ejected it", "cd: the error says the medium was ejected");
	is_int(res[0].status, APPLY_FAILED, "cd: failed after its commit: no rollback");
	qmp_client_free(c);
	fakepeer_finish(fp, "cd: nothing after the check");
}

/**
 * test_cd_bot_fails() - device_add usb-bot fails after the device_del:
 * Incus's scsi-cd is re-created on its node, and the run fails
 */
static void test_cd_bot_fails(void)
{
	struct fakepeer *fp = new_peer();
	struct apply_result res[1];
	struct plan_step st;
	struct qmp_client *c;
	struct cp_error err;
	struct plan p;

	cd_plan(&p, &st);
	expect_cd_unplug(fp);
	fakepeer_expect(fp, CD_BOT);
	fakepeer_reply(fp, "{\"error\":{\"class\":\"GenericError\",\"desc\":\"Warning: "
			   "speed mismatch trying to attach usb device\"}}");
	fakepeer_expect(fp, CD_READD);
	fakepeer_reply(fp, QMP_OK);
	c = fakepeer_connect(fp, false);
	ok(apply_run(c, &p, NULL, res, &err) < 0 && err.code == CP_ERR_FAILED,
	   "cd: a failed usb-bot fails the run, as a partial change (the start fails)");
	is_int(res[0].status, APPLY_ROLLED_BACK, "cd: the ISO is back on Incus's scsi-cd");
	like(res[0].err.msg, "speed mismatch", "cd: with QEMU's reason");
	like(res[0].err.msg, "dev-incus_iso was put back on qemu_scsi.0", "cd: and where it is");
	qmp_client_free(c);
	fakepeer_finish(fp, "cd: no usb-bot to remove; Incus's scsi-cd re-added");
}

/**
 * test_cd_scsi_fails() - the usb-bot is there but its scsi-cd (or the
 * attach) fails: the usb-bot goes first, then Incus's scsi-cd comes back
 * @attach:	fail the attach instead of the scsi-cd
 */
static void test_cd_scsi_fails(bool attach)
{
	struct fakepeer *fp = new_peer();
	struct apply_result res[1];
	struct plan_step st;
	struct qmp_client *c;
	struct cp_error err;
	struct plan p;

	cd_plan(&p, &st);
	expect_cd_unplug(fp);
	fakepeer_expect(fp, CD_BOT);
	fakepeer_reply(fp, QMP_OK);
	fakepeer_expect(fp, CD_SCSI);
	if (attach) {
		fakepeer_reply(fp, QMP_OK);
		fakepeer_expect(fp, CD_ATTACH);
	}
	fakepeer_reply(fp, "{\"error\":{\"class\":\"GenericError\",\"desc\":\"boom\"}}");
	fakepeer_expect(fp, CD_UNPLUG);
	fakepeer_reply(fp, QMP_OK);
	if (attach)
		fakepeer_event(fp, "DEVICE_DELETED", iso_deleted);
	fakepeer_event(fp, "DEVICE_DELETED", bot_deleted);
	fakepeer_expect(fp, CD_READD);
	fakepeer_reply(fp, QMP_OK);
	c = fakepeer_connect(fp, false);
	ok(apply_run(c, &p, NULL, res, &err) < 0 && err.code == CP_ERR_FAILED,
	   "cd, %s fails: the run fails", attach ? "attach" : "scsi-cd");
	is_int(res[0].status, APPLY_ROLLED_BACK,
	       "cd, %s fails: usb-bot unplugged, the ISO back on Incus's scsi-cd",
	       attach ? "attach" : "scsi-cd");
	qmp_client_free(c);
	fakepeer_finish(fp, "cd, %s fails: device_del coldplug-cd0, DEVICE_DELETED, re-add",
			attach ? "attach" : "scsi-cd");
}

/**
 * test_cd_nothing_left() - the rollback fails too: the result says the ISO
 * has no frontend, and the run fails
 */
static void test_cd_nothing_left(void)
{
	struct fakepeer *fp = new_peer();
	struct apply_result res[1];
	struct plan_step st;
	struct qmp_client *c;
	struct cp_error err;
	struct plan p;

	cd_plan(&p, &st);
	expect_cd_unplug(fp);
	fakepeer_expect(fp, CD_BOT);
	fakepeer_reply(fp, "{\"error\":{\"class\":\"GenericError\",\"desc\":\"no port\"}}");
	fakepeer_expect(fp, CD_READD);
	fakepeer_reply(fp, "{\"error\":{\"class\":\"GenericError\",\"desc\":\"bus full\"}}");
	c = fakepeer_connect(fp, false);
	ok(apply_run(c, &p, NULL, res, &err) < 0 && err.code == CP_ERR_FAILED,
	   "cd, rollback fails: the run fails");
	is_int(res[0].status, APPLY_FAILED, "cd, rollback fails: failed");
	like(res[0].err.msg,
	     "dev-incus_iso could not be restored either (device_add: bus full); it has no "
	     "frontend",
	     "cd, rollback fails: the ISO has no frontend, and the report says so");
	qmp_client_free(c);
	fakepeer_finish(fp, "cd, rollback fails: nothing else was sent");
}

/**
 * usb_nic_removed() - Incus's NIC eth0 (a macvtap, for the test) moving to
 * usb-net, and the peer's part up to its netdev_del
 * @fp:	peer
 * @st:	the step, filled
 */
static void usb_nic_removed(struct fakepeer *fp, struct plan_step *st)
{
	memset(st, 0, sizeof(*st));
	st->kind = PLAN_NIC_USB;
	cp_strlcpy(st->name, "eth0", sizeof(st->name));
	cp_strlcpy(st->dev_id, "dev-incus_eth0", sizeof(st->dev_id));
	cp_strlcpy(st->del_id, "dev-incus_eth0", sizeof(st->del_id));
	cp_strlcpy(st->slot_name, "dev-incus_eth0", sizeof(st->slot_name));
	cp_strlcpy(st->netdev, "incus_eth0", sizeof(st->netdev));
	cp_strlcpy(st->mac, "40:66:6a:01:02:03", sizeof(st->mac));
	cp_strlcpy(st->usb_bus, "qemu_usb.0", sizeof(st->usb_bus));
	cp_strlcpy(st->tapdev, "/dev/null", sizeof(st->tapdev));
	st->nqueues = 1;
	st->bootindex = -1;
	fakepeer_expect(fp,
			"{\"execute\":\"device_del\",\"arguments\":{\"id\":\"dev-incus_eth0\"}}");
	fakepeer_reply(fp, QMP_OK);
	fakepeer_event(fp, "DEVICE_DELETED", "{\"device\":\"dev-incus_eth0\"}");
	fakepeer_expect(fp, "{\"execute\":\"netdev_del\",\"arguments\":{\"id\":\"incus_eth0\"}}");
	fakepeer_reply(fp, QMP_OK);
}

/**
 * test_nic_midway() - a NIC whose new netdev is refused after Incus's NIC
 * and netdev are gone: not put back, and the error names the NIC, what is
 * left of it and the fix
 */
static void test_nic_midway(void)
{
	struct fakepeer *fp = new_peer();
	struct apply_result res[1];
	struct plan_step st;
	struct qmp_client *c;
	struct cp_error err;
	struct plan p = { .steps = &st, .n = 1 };

	usb_nic_removed(fp, &st);
	fakepeer_expect_fds(fp,
			    "{\"execute\":\"getfd\",\"arguments\":{\"fdname\":"
			    "\"coldplug-incus_eth0\"}}",
			    1, NULL);
	fakepeer_reply(fp, QMP_OK);
	fakepeer_expect(fp, "{\"execute\":\"netdev_add\",\"arguments\":{\"fd\":"
			    "\"coldplug-incus_eth0\",\"id\":\"incus_eth0\",\"type\":\"tap\","
			    "\"vhost\":false}}");
	fakepeer_reply(fp, "{\"error\":{\"class\":\"GenericError\",\"desc\":\"no fd\"}}");
	c = fakepeer_connect(fp, false);
	ok(apply_run(c, &p, NULL, res, &err) < 0 && err.code == CP_ERR_FAILED,
	   "nic midway: the run fails as a partial change");
	is_int(res[0].status, APPLY_FAILED, "nic midway: failed, not put back");
	like(err.msg, "eth0: dev-incus_eth0 -> dev-incus_eth0: netdev_add",
	     "nic midway: the cause");
	like(err.msg,
	     "NIC eth0 has no network: dev-incus_eth0 and netdev incus_eth0 were removed and no "
	     "frontend uses tap /dev/null",
	     "nic midway: the NIC, and what is left of it");
	like(err.msg, "restart the VM (Incus re-creates its NICs at every start)",
	     "nic midway: and the fix");
	qmp_client_free(c);
	fakepeer_finish(fp, "nic midway: nothing after the refused netdev_add");
}

/**
 * netns_child() - a process in a network namespace of its own (QEMU's, for
 * the tap helper), until killed
 *
 * Return: its pid, or -1 when namespaces cannot be made here (not root)
 */
static pid_t netns_child(void)
{
	pid_t parent = getpid(), pid;
	int ready[2];
	char c = 0;

	if (pipe2(ready, O_CLOEXEC) < 0)
		bail_out("pipe2: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(1);
		c = unshare(CLONE_NEWNET) == 0;
		if (write(ready[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1 || !c) {
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	close(ready[0]);
	return pid;
}

/**
 * test_nic_helper_hangs() - the tap helper in QEMU's namespace hangs when
 * the NIC's new queue is opened: the step fails at the helper's deadline
 * with an error that names the NIC and its tap, and says what is left
 */
static void test_nic_helper_hangs(void)
{
	struct fakepeer *fp;
	struct apply_result res[1];
	struct apply_opts o;
	struct plan_step st;
	struct qmp_client *c;
	struct cp_error err;
	struct plan p = { .steps = &st, .n = 1 };
	pid_t qemu = netns_child();
	int64_t t0;

	if (qemu < 0) {
		skip(4, "nic helper hangs: needs a network namespace of its own (root)");
		return;
	}
	fp = new_peer();
	usb_nic_removed(fp, &st);
	c = fakepeer_connect(fp, false);
	apply_opts_init(&o);
	o.pid = qemu;
	setenv("COLDPLUG_TEST_TAPQ_STALL", "/dev/null", 1);
	t0 = cp_now_ms();
	ok(apply_run(c, &p, &o, res, &err) < 0 && err.code == CP_ERR_FAILED &&
		   res[0].status == APPLY_FAILED,
	   "nic helper hangs: the step fails, as a partial change");
	unsetenv("COLDPLUG_TEST_TAPQ_STALL");
	ok(cp_now_ms() - t0 >= TAPQ_HELPER_TIMEOUT_MS - 100 &&
		   cp_now_ms() - t0 <= TAPQ_HELPER_TIMEOUT_MS + 1500,
	   "nic helper hangs: at the helper's deadline (%lld ms)", (long long)(cp_now_ms() - t0));
	like(err.msg,
	     "eth0: dev-incus_eth0 -> dev-incus_eth0: tap /dev/null: the helper in QEMU's "
	     "network namespace",
	     "nic helper hangs: the error names the NIC and its tap");
	like(err.msg, "NIC eth0 has no network", "nic helper hangs: and what is left of the NIC");
	qmp_client_free(c);
	fakepeer_finish(fp, "nic helper hangs: nothing after netdev_del");
	kill(qemu, SIGKILL);
	waitpid(qemu, NULL, 0);
}

/**
 * test_qemu_gone() - QEMU closes the socket before answering device_del:
 * QEMU may have carried it out, so the run reports a change (exit code 4),
 * never "nothing changed" (1)
 */
static void test_qemu_gone(void)
{
	struct fakepeer *fp = new_peer();
	struct apply_result res[1];
	struct plan_step steps[1];
	struct qmp_client *c;
	struct cp_error err;
	struct plan p;

	root_plan(&p, steps, 1);
	fakepeer_expect(fp,
			"{\"execute\":\"device_del\",\"arguments\":{\"id\":\"dev-incus_root\"}}");
	fakepeer_close(fp);
	c = fakepeer_connect(fp, false);
	ok(apply_run(c, &p, NULL, res, &err) < 0 && err.code == CP_ERR_FAILED,
	   "QEMU gone: the run fails as a partial change (device_del may have been done)");
	like(err.msg, "QEMU closed the connection", "and says so");
	is_int(res[0].status, APPLY_FAILED, "the step failed");
	ok(res[0].changed, "a device_del that got no answer counts as a change");
	qmp_client_free(c);
	fakepeer_finish(fp, "script done");
}

/**
 * test_null_err() - the error is optional: a failed run and preflight with NULL
 */
static void test_null_err(void)
{
	struct fakepeer *fp = new_peer();
	struct apply_result res[1];
	struct plan_step steps[1];
	struct apply_opts o;
	struct qmp_client *c;
	struct plan p;

	root_plan(&p, steps, 1);
	fakepeer_expect(fp,
			"{\"execute\":\"device_del\",\"arguments\":{\"id\":\"dev-incus_root\"}}");
	fakepeer_reply(fp, "{\"return\":{}}");
	fakepeer_event(fp, "DEVICE_DELETED", deleted);
	fakepeer_expect(fp, "{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"" SLOT "\","
			    "\"property\":\"drive\",\"value\":\"incus_root\"}}");
	fakepeer_reply(fp, "{\"error\":{\"class\":\"GenericError\",\"desc\":\"no\"}}");
	fakepeer_expect(fp,
			"{\"execute\":\"device_add\",\"arguments\":{\"bus\":\"qemu_scsi.0\","
			"\"drive\":\"incus_root\",\"driver\":\"scsi-hd\",\"id\":\"dev-incus_root\","
			"\"bootindex\":0}}");
	fakepeer_reply(fp, "{\"return\":{}}");
	c = fakepeer_connect(fp, false);
	ok(apply_run(c, &p, NULL, res, NULL) < 0 && res[0].changed,
	   "a run that changed something fails without an error to fill");
	qmp_client_free(c);
	fakepeer_finish(fp, "NULL error: device_del, qom-set, rollback");

	memset(steps, 0, sizeof(steps));
	steps[0].kind = PLAN_NIC_USB;
	steps[0].nqueues = 2;
	cp_strlcpy(steps[0].dev_id, "dev-incus_eth0", sizeof(steps[0].dev_id));
	cp_strlcpy(steps[0].ifname, "cp-no-such-tap", sizeof(steps[0].ifname));
	apply_opts_init(&o);
	o.pid = getpid();
	ok(apply_preflight(&p, &o, NULL) < 0, "a preflight that fails without an error to fill");
}

/**
 * main() - run the tests
 *
 * Return: TAP exit status
 */
int main(void)
{
	test_cd_moved();
	test_cd_ejected();
	test_cd_bot_fails();
	test_cd_scsi_fails(false);
	test_cd_scsi_fails(true);
	test_cd_nothing_left();
	test_moved(true);
	test_moved(false);
	test_rollback();
	test_state_checked("prelaunch", false);
	test_state_checked("paused", true);
	test_state_changed("running", 1);
	test_state_changed("paused", 2);
	test_batch();
	test_batch_unplug_fails();
	test_unplug_pending();
	test_nic_midway();
	test_nic_helper_hangs();
	test_qemu_gone();
	test_null_err();
	return done_testing();
}

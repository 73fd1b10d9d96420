/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The whole pipeline (inventory, plan, apply, verify) replayed against the
 * QMP traffic of a real 'coldplug rehome' of four Incus disks, recorded on
 * QEMU 7.2 and 10.0 (tests/data/inventory/record.sh): the fake peer fails
 * on any command the recording does not have, in any other order. Edited
 * run states show the pipeline refusing a guest that has run, and one that
 * started between the inventory and the first change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coldplug/inventory.h"
#include "coldplug/qmp.h"
#include "coldplug/rehome.h"
#include "fakepeer.h"
#include "tap.h"
#include "util.h"

/**
 * struct script - how a recording becomes the peer's script
 * @fp:		the peer
 * @status:	the run state QEMU answers each query-status with, in order
 *		(the inventory's, apply's re-check, the verify inventory's);
 *		NULL keeps the recorded one
 * @nstatus:	query-status commands seen so far
 * @ids:	their ids
 * @stop_at:	the script ends before the query-status with this ordinal
 *		(1-based), 0 for never
 * @stop_after:	the script ends after the answer to the query-status with
 *		this ordinal (1-based), 0 for never
 * @stopped:	the end was reached
 */
struct script {
	struct fakepeer *fp;
	const char *status[3];
	size_t nstatus;
	int64_t ids[3];
	size_t stop_at;
	size_t stop_after;
	bool stopped;
};

/**
 * status_ordinal() - which query-status @msg answers
 * @s:		script
 * @msg:	a message from QEMU
 *
 * Return: the index into @s->status, or -1 when it answers none
 */
static int status_ordinal(const struct script *s, const cp_json *msg)
{
	int64_t id;
	size_t i;

	if (!cp_json_get_object(msg, "return") || !cp_json_get_int(msg, "id", &id))
		return -1;
	for (i = 0; i < s->nstatus && i < 3; i++)
		if (s->ids[i] == id)
			return (int)i;
	return -1;
}

/**
 * add_line() - transcript_fn: one recorded message into the peer's script
 * @dir:	direction
 * @msg:	the message
 * @nfds:	descriptors that went with it
 * @line:	line number
 * @userdata:	struct script
 *
 * Replies keep the id QEMU gave them: the pipeline sends its queries in
 * batches, and our ids are deterministic.
 *
 * Return: 0, or -1
 */
static int add_line(enum transcript_dir dir, cp_json *msg, size_t nfds, int line, void *userdata)
{
	struct script *s = userdata;
	char *text;
	int k;

	(void)line;
	if (s->stopped)
		return 0;
	if (dir == TRANSCRIPT_TO_QEMU &&
	    cp_streq(cp_json_get_str(msg, "execute"), "query-status")) {
		if (++s->nstatus == s->stop_at) {
			s->stopped = true;
			return 0;
		}
		if (s->nstatus <= 3 && !cp_json_get_int(msg, "id", &s->ids[s->nstatus - 1]))
			return -1;
	}
	k = dir == TRANSCRIPT_FROM_QEMU ? status_ordinal(s, msg) : -1;
	if (k >= 0 && s->status[k] &&
	    cp_json_set_str(cp_json_get_object(msg, "return"), "status", s->status[k]) < 0)
		return -1;
	text = cp_json_dump(msg, 0);
	if (!text)
		return -1;
	if (dir == TRANSCRIPT_TO_QEMU)
		fakepeer_expect_fds(s->fp, text, nfds, NULL);
	else
		fakepeer_send(s->fp, text);
	free(text);
	s->stopped = k >= 0 && (size_t)k + 1 == s->stop_after;
	return 0;
}

/**
 * run() - the pipeline against a recording, edited by @s
 * @ver:	QEMU version of the recording
 * @s:		script (its peer is created here)
 * @o:		options
 *
 * Return: the outcome, or NULL (bails out on a setup failure)
 */
static struct rehome *run(const char *ver, struct script *s, const struct rehome_opts *o)
{
	struct qmp_client_opts qo;
	struct qmp_client *c;
	struct cp_error err;
	struct rehome *r;
	char path[512];

	s->fp = fakepeer_new();
	snprintf(path, sizeof(path), "%s/transcripts/rehome-disks-%s.qmp", COLDPLUG_TEST_DATA, ver);
	if (transcript_each(path, add_line, s, &err) < 0)
		bail_out("%s: %s", path, err.msg);
	fakepeer_start(s->fp);
	qmp_client_opts_init(&qo);
	c = qmp_client_new(fakepeer_client_fd(s->fp), &qo, &err);
	if (!c || qmp_client_handshake(c, 2000, &err) < 0)
		bail_out("handshake: %s", err.msg);
	r = rehome_run(c, o, &err);
	if (!r)
		diag("rehome_run: %s", err.msg);
	qmp_client_free(c);
	return r;
}

/**
 * replay() - run the pipeline against one recording
 * @ver:	QEMU version of the recording
 */
static void replay(const char *ver)
{
	struct script s = { 0 };
	struct rehome_opts o;
	struct rehome *r;
	size_t i, moved = 0;

	rehome_opts_init(&o);
	r = run(ver, &s, &o);
	ok(r && r->result == REHOME_OK && r->verified, "QEMU %s: re-homed and verified%s%s", ver,
	   r && r->err.msg[0] ? ": " : "", r ? r->err.msg : "");
	for (i = 0; r && i < r->plan.n; i++)
		moved += r->results[i].status == APPLY_MOVED;
	is_int((long long)moved, 4, "QEMU %s: four disks moved", ver);
	ok(r && r->plan.n == 4 && !strcmp(r->plan.steps[0].name, "root") &&
		   r->plan.steps[0].slot == 0 && !strcmp(r->plan.steps[3].name, "usb"),
	   "QEMU %s: root first onto slot 0, the USB disk last", ver);
	is_int((long long)s.nstatus, 3,
	       "QEMU %s: the run state read by the inventory, before the first change, and by "
	       "the verify",
	       ver);
	rehome_free(r);
	fakepeer_finish(s.fp, "QEMU %s: every recorded command, in order, nothing else", ver);
}

/**
 * test_paused() - a QEMU whose guest has run: refused after the inventory
 * (nothing more is sent), re-homed when the caller allows it
 * @ver:	QEMU version of the recording
 */
static void test_paused(const char *ver)
{
	struct script s = { .status = { "paused" }, .stop_at = 2 };
	struct rehome_opts o;
	struct rehome *r;

	rehome_opts_init(&o);
	r = run(ver, &s, &o);
	ok(r && r->result == REHOME_REFUSED && r->err.code == CP_ERR_REFUSED,
	   "QEMU %s, paused: refused", ver);
	like(r ? r->err.msg : "", "QEMU is paused: its guest has run",
	     "QEMU %s, paused: the refusal names the state", ver);
	rehome_free(r);
	fakepeer_finish(s.fp, "QEMU %s, paused: nothing after the inventory", ver);

	memset(&s, 0, sizeof(s));
	s.status[0] = s.status[1] = s.status[2] = "paused";
	o.plan.allow_paused = true;
	r = run(ver, &s, &o);
	ok(r && r->result == REHOME_OK && r->verified, "QEMU %s, paused, allowed: re-homed%s%s",
	   ver, r && r->err.msg[0] ? ": " : "", r ? r->err.msg : "");
	rehome_free(r);
	fakepeer_finish(s.fp, "QEMU %s, paused, allowed: every recorded command", ver);
}

/**
 * test_started_meanwhile() - prelaunch at the inventory, running by the
 * time apply begins: nothing changes, and the run is a refusal
 * @ver:	QEMU version of the recording
 */
static void test_started_meanwhile(const char *ver)
{
	struct script s = { .status = { NULL, "running" }, .stop_after = 2 };
	struct rehome_opts o;
	struct rehome *r;
	size_t i, changed = 0;

	rehome_opts_init(&o);
	r = run(ver, &s, &o);
	ok(r && r->result == REHOME_REFUSED, "QEMU %s, started meanwhile: refused", ver);
	like(r ? r->err.msg : "",
	     "the run state changed after the plan was made; nothing was "
	     "changed: QEMU is running",
	     "QEMU %s, started meanwhile: the error says why", ver);
	for (i = 0; r && i < r->plan.n; i++)
		changed += r->results[i].changed || r->results[i].status != APPLY_NOT_ATTEMPTED;
	ok(r && r->plan.n == 4 && !changed, "QEMU %s, started meanwhile: no step attempted", ver);
	rehome_free(r);
	fakepeer_finish(s.fp, "QEMU %s, started meanwhile: nothing after query-status", ver);
}

/**
 * struct round1 - add_round1()'s state
 * @fp:		the peer
 * @devices:	how many devices the peer lists under /machine/peripheral
 * @replies:	round-1 replies seen so far (the script stops after 8)
 */
struct round1 {
	struct fakepeer *fp;
	size_t devices;
	int replies;
};

/**
 * add_round1() - transcript_fn: the recording up to the end of inventory
 * round 1, with the peripheral list (the reply with id 6) replaced by
 * @devices virtio-blk-pci devices
 * @dir:	direction
 * @msg:	the message
 * @nfds:	descriptors that went with it
 * @line:	line number
 * @userdata:	struct round1
 *
 * Return: 0, or -1
 */
static int add_round1(enum transcript_dir dir, cp_json *msg, size_t nfds, int line, void *userdata)
{
	struct round1 *r = userdata;
	int64_t id = -1;
	char *text;
	size_t i;

	if (r->replies >= 8)
		return 0;
	if (dir == TRANSCRIPT_FROM_QEMU && cp_json_get_int(msg, "id", &id) && id >= 2)
		r->replies++;
	if (dir == TRANSCRIPT_FROM_QEMU && id == 6) {
		cp_json *list = cp_json_new_array();

		for (i = 0; list && i < r->devices; i++) {
			cp_json *e = cp_json_new_object();
			char name[32];

			snprintf(name, sizeof(name), "d%zu", i);
			if (!e || cp_json_set_str(e, "name", name) < 0 ||
			    cp_json_set_str(e, "type", "child<virtio-blk-pci>") < 0 ||
			    cp_json_append(list, e) < 0)
				return -1;
		}
		if (!list || cp_json_set(msg, "return", list) < 0)
			return -1;
	}
	(void)line;
	text = cp_json_dump(msg, 0);
	if (!text)
		return -1;
	if (dir == TRANSCRIPT_TO_QEMU)
		fakepeer_expect_fds(r->fp, text, nfds, NULL);
	else
		fakepeer_send(r->fp, text);
	free(text);
	return 0;
}

/**
 * test_too_many_devices() - a QEMU that lists more devices than coldplug
 * reads one by one (1025, and the recording's 4 anonymous ones) gets a clear
 * error after round 1, not a command per device and property
 */
static void test_too_many_devices(void)
{
	struct round1 r = { .fp = fakepeer_new(), .devices = 1025 };
	struct inv_select sel = { .id_prefix = INV_INCUS_PREFIX };
	struct inventory inv = { 0 };
	struct qmp_client *c;
	struct cp_error err = { 0 };
	char path[512];

	snprintf(path, sizeof(path), "%s/transcripts/rehome-disks-7.2.qmp", COLDPLUG_TEST_DATA);
	if (transcript_each(path, add_round1, &r, &err) < 0)
		bail_out("%s: %s", path, err.msg);
	fakepeer_start(r.fp);
	c = qmp_client_new(fakepeer_client_fd(r.fp), NULL, &err);
	if (!c || qmp_client_handshake(c, 2000, &err) < 0)
		bail_out("handshake: %s", err.msg);
	ok(inventory_read(c, &sel, &inv, &err) < 0 && strstr(err.msg, "lists 1029 devices") &&
		   strstr(err.msg, "at most 1024"),
	   "1025 devices: the inventory stops after round 1 (%s)", err.msg);
	inventory_free(&inv);
	qmp_client_free(c);
	fakepeer_finish(r.fp, "1025 devices: round 1, nothing after it");
}

/**
 * main() - run the tests
 *
 * Return: TAP exit status
 */
int main(void)
{
	static const char *const versions[] = { "7.2", "10.0" };
	size_t i;

	for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		replay(versions[i]);
		test_paused(versions[i]);
		test_started_meanwhile(versions[i]);
	}
	test_too_many_devices();
	return done_testing();
}

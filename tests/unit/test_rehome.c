/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The whole pipeline (inventory, plan, apply, verify) replayed against the
 * QMP traffic of a real 'coldplug rehome' of four Incus disks, recorded on
 * QEMU 7.2 and 10.0 (tests/data/inventory/record.sh): the fake peer fails
 * on any command the recording does not have, in any other order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coldplug/inventory.h"
#include "coldplug/qmp.h"
#include "coldplug/rehome.h"
#include "fakepeer.h"
#include "tap.h"

/**
 * add_line() - transcript_fn: one recorded message into the peer's script
 * @dir:	direction
 * @msg:	the message
 * @nfds:	descriptors that went with it
 * @line:	line number
 * @userdata:	the peer
 *
 * Replies keep the id QEMU gave them: the pipeline sends its queries in
 * batches, and our ids are deterministic.
 *
 * Return: 0, or -1
 */
static int add_line(enum transcript_dir dir, cp_json *msg, size_t nfds, int line, void *userdata)
{
	struct fakepeer *fp = userdata;
	char *text = cp_json_dump(msg, 0);

	(void)line;
	if (!text)
		return -1;
	if (dir == TRANSCRIPT_TO_QEMU)
		fakepeer_expect_fds(fp, text, nfds, NULL);
	else
		fakepeer_send(fp, text);
	free(text);
	return 0;
}

/**
 * replay() - run the pipeline against one recording
 * @ver:	QEMU version of the recording
 */
static void replay(const char *ver)
{
	struct fakepeer *fp = fakepeer_new();
	struct qmp_client_opts qo;
	struct rehome_opts o;
	struct qmp_client *c;
	struct cp_error err;
	struct rehome *r;
	char path[512];
	size_t i, moved = 0;

	snprintf(path, sizeof(path), "%s/transcripts/rehome-disks-%s.qmp", COLDPLUG_TEST_DATA, ver);
	if (transcript_each(path, add_line, fp, &err) < 0)
		bail_out("%s: %s", path, err.msg);
	fakepeer_start(fp);
	qmp_client_opts_init(&qo);
	c = qmp_client_new(fakepeer_client_fd(fp), &qo, &err);
	if (!c || qmp_client_handshake(c, 2000, &err) < 0)
		bail_out("handshake: %s", err.msg);
	rehome_opts_init(&o);
	r = rehome_run(c, &o, &err);
	ok(r && r->result == REHOME_OK && r->verified, "QEMU %s: re-homed and verified%s%s", ver,
	   r && r->err.msg[0] ? ": " : "", r ? r->err.msg : err.msg);
	for (i = 0; r && i < r->plan.n; i++)
		moved += r->results[i].status == APPLY_MOVED;
	is_int((long long)moved, 4, "QEMU %s: four disks moved", ver);
	ok(r && r->plan.n == 4 && !strcmp(r->plan.steps[0].name, "root") &&
		   r->plan.steps[0].slot == 0 && !strcmp(r->plan.steps[3].name, "usb"),
	   "QEMU %s: root first onto slot 0, the USB disk last", ver);
	rehome_free(r);
	qmp_client_free(c);
	fakepeer_finish(fp, "QEMU %s: every recorded command, in order, nothing else", ver);
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
	replay("7.2");
	replay("10.0");
	test_too_many_devices();
	return done_testing();
}

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
 * main() - run the tests
 *
 * Return: TAP exit status
 */
int main(void)
{
	replay("7.2");
	replay("10.0");
	return done_testing();
}

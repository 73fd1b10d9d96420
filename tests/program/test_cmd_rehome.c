/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * coldplug rehome, the real program, against the fake QMP peer: what it
 * prints when the run fails before anything was planned (QEMU closes the
 * connection at the inventory's first command). It must report the failure, not
 * "nothing to re-home".
 *
 * Then its exit code, each on its own, over the recorded rehome of four Incus
 * disks (tests/data/transcripts/rehome-disks-10.0.qmp): the recording cut
 * at every command's reply (QEMU closes the connection there, or never
 * answers), 1 before the first device_del and 4 from it on (the verify
 * inventory included); 3 when the plan is refused (the VM is running); 4
 * when the inventory after apply shows a disk that is not on its slot.
 * And the recording with QEMU "paused" (its guest has run): refused with
 * exit 3 and the fix, re-homed with --force.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "coldplug/json.h"
#include "fakepeer.h"
#include "proc.h"
#include "tap.h"
#include "util.h"

/* meson passes the built program's path; analysers see the fallback. */
#ifndef COLDPLUG_BINARY
#define COLDPLUG_BINARY "build/src/coldplug"
#endif

/**
 * read_log() - the whole of a log file
 * @path:	file
 * @buf:	buffer
 * @size:	its size
 */
static void read_log(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, size - 1, f) : 0;

	buf[n] = '\0';
	if (f)
		fclose(f);
}

/**
 * test_failed_before_plan() - QEMU gone before planning: a failure, not
 * "nothing to re-home"
 * @dir:	private directory for the socket and the log
 */
static void test_failed_before_plan(const char *dir)
{
	char sock[128], log[128], out[8192];
	struct fakepeer *fp;
	struct lab_proc proc;
	struct cp_error err;

	snprintf(sock, sizeof(sock), "%s/qmp.sock", dir);
	snprintf(log, sizeof(log), "%s/rehome.log", dir);
	fp = fakepeer_new_listen(sock, 0);
	fakepeer_negotiate(fp);
	fakepeer_expect(fp, "{\"execute\": \"query-status\"}"); /* the inventory's first */
	fakepeer_close(fp);
	fakepeer_start(fp);
	{
		const char *const argv[] = { COLDPLUG_BINARY, "rehome", "--qmp", sock, NULL };

		if (lab_proc_start(&proc, argv, log, &err) < 0)
			bail_out("start coldplug: %s", err.msg);
	}
	if (lab_proc_reap(&proc, 10000, &err) < 0)
		bail_out("coldplug rehome: %s", err.msg);
	read_log(log, out, sizeof(out));
	ok(WIFEXITED(proc.status) && WEXITSTATUS(proc.status) == 1, "exit status 1 (failed)");
	ok(!strstr(out, "nothing to re-home"), "a failed run does not say 'nothing to re-home'");
	like(out, "result: failed", "it says the run failed");
	like(out, "QEMU closed the connection", "and why");
	if (strstr(out, "nothing to re-home") || !strstr(out, "result: failed"))
		diag("output:\n%s", out);
	fakepeer_finish(fp, "the peer's script ran");
	unlink(log);
	unlink(sock);
}

/* Apply's query-status, the run state read again just before the first
 * change (the first command after the inventory). */
#define RECHECK_ID 43
/* The first command of the recording's apply that changes something (its
 * first device_del). */
#define FIRST_CHANGE_ID 44
/* The verify inventory's query-block. */
#define VERIFY_BLOCK_ID 60
/* The recording's last command. */
#define LAST_ID 69

/**
 * enum cut_kind - how the recording is cut
 * @CUT_EOF:		QEMU closes the connection instead of the reply
 * @CUT_TIMEOUT:	the reply never comes
 * @CUT_REFUSE:		the VM is running; the plan must refuse it
 * @CUT_MISMATCH:	after apply, query-block shows coldplug-disk0 holding
 *			another node
 */
enum cut_kind {
	CUT_EOF,
	CUT_TIMEOUT,
	CUT_REFUSE,
	CUT_MISMATCH,
};

/**
 * struct cut - a walk over the recording that scripts the peer
 * @fp:		the peer
 * @id:		the command whose reply is cut (CUT_EOF, CUT_TIMEOUT); the
 *		first command not expected (CUT_REFUSE)
 * @kind:	enum cut_kind
 * @hit:	the cut is behind us: nothing more is scripted
 */
struct cut {
	struct fakepeer *fp;
	int64_t id;
	enum cut_kind kind;
	bool hit;
};

/**
 * mutate() - change a recorded reply for @c's kind
 * @c:		the walk
 * @msg:	a message from QEMU (changed in place)
 * @id:		its id, or -1
 */
static void mutate(const struct cut *c, cp_json *msg, int64_t id)
{
	cp_json *ret = cp_json_get(msg, "return");
	size_t i;

	if (c->kind == CUT_REFUSE && id == 2 && cp_json_set_str(ret, "status", "running") < 0)
		bail_out("out of memory");
	for (i = 0; c->kind == CUT_MISMATCH && id == VERIFY_BLOCK_ID && i < cp_json_len(ret); i++) {
		cp_json *e = cp_json_at(ret, i);

		if (cp_streq(cp_json_get_str(e, "device"), "coldplug-disk0") &&
		    cp_json_set_str(cp_json_get_object(e, "inserted"), "node-name", "other") < 0)
			bail_out("out of memory");
	}
}

/**
 * cut_line() - transcript_fn: one recorded message into the peer's
 * script, up to the cut
 * @dir:	direction
 * @msg:	the message
 * @nfds:	descriptors that went with it
 * @line:	line number
 * @userdata:	struct cut
 *
 * Return: 0, or -1
 */
static int cut_line(enum transcript_dir dir, cp_json *msg, size_t nfds, int line, void *userdata)
{
	struct cut *c = userdata;
	cleanup_free char *text = NULL;
	int64_t id = -1;

	(void)line;
	cp_json_get_int(msg, "id", &id);
	if (c->hit)
		return 0;
	if ((c->kind == CUT_EOF || c->kind == CUT_TIMEOUT) && dir == TRANSCRIPT_FROM_QEMU &&
	    id == c->id) {
		c->hit = true;
		if (c->kind == CUT_EOF)
			fakepeer_close(c->fp);
		return 0;
	}
	if (c->kind == CUT_REFUSE && dir == TRANSCRIPT_TO_QEMU && id == c->id) {
		c->hit = true;
		return 0;
	}
	if (dir == TRANSCRIPT_FROM_QEMU)
		mutate(c, msg, id);
	text = cp_json_dump(msg, 0);
	if (!text)
		return -1;
	if (dir == TRANSCRIPT_TO_QEMU)
		fakepeer_expect_fds(c->fp, text, nfds, NULL);
	else
		fakepeer_send(c->fp, text);
	return 0;
}

/**
 * run_cut() - coldplug rehome against the recording, cut as @kind says
 * @dir:	private directory for the socket and the log
 * @id:		the command the cut is at
 * @kind:	enum cut_kind
 * @out:	its output
 * @size:	size of @out
 *
 * Return: its exit status, or -1 if it did not exit
 */
static int run_cut(const char *dir, int64_t id, enum cut_kind kind, char *out, size_t size)
{
	char sock[128], log[128], path[512];
	struct cut c = { .id = id, .kind = kind };
	struct lab_proc proc;
	struct cp_error err;

	snprintf(sock, sizeof(sock), "%s/qmp.sock", dir);
	snprintf(log, sizeof(log), "%s/rehome.log", dir);
	snprintf(path, sizeof(path), "%s/transcripts/rehome-disks-10.0.qmp", COLDPLUG_TEST_DATA);
	c.fp = fakepeer_new_listen(sock, 0);
	if (transcript_each(path, cut_line, &c, &err) < 0)
		bail_out("%s: %s", path, err.msg);
	fakepeer_start(c.fp);
	{
		/* Only a timeout cut waits for a deadline, so only it gets a short
		 * one; the others keep 5 s, which a loaded machine never reaches
		 * (200 ms for every cut once lost the greeting under load). */
		const char *ms = kind == CUT_TIMEOUT ? "500" : "5000";
		const char *const argv[] = {
			COLDPLUG_BINARY,   "rehome", "--qmp", sock, "--timeout", ms,
			"--event-timeout", ms,	     NULL
		};

		if (lab_proc_start(&proc, argv, log, &err) < 0)
			bail_out("start coldplug: %s", err.msg);
	}
	if (lab_proc_reap(&proc, 10000, &err) < 0)
		bail_out("coldplug rehome: %s", err.msg);
	read_log(log, out, size);
	fakepeer_finish(c.fp, "%s at id %lld: the recording's commands up to the cut, nothing else",
			kind == CUT_EOF	      ? "EOF"
			: kind == CUT_TIMEOUT ? "timeout"
					      : "cut",
			(long long)id);
	unlink(log);
	return WIFEXITED(proc.status) ? WEXITSTATUS(proc.status) : -1;
}

/**
 * test_exit_codes() - the exit code at every cut, and for a refused plan
 * and a failed verify
 * @dir:	private directory
 */
static void test_exit_codes(const char *dir)
{
	static const int64_t timeout_at[] = { 2,  42, RECHECK_ID, FIRST_CHANGE_ID, 47, 48,
					      54, 58, 59,	  LAST_ID };
	char out[16384];
	int64_t id;
	size_t i;
	int rc;

	for (id = 2; id <= LAST_ID; id++) {
		rc = run_cut(dir, id, CUT_EOF, out, sizeof(out));
		is_int(rc, id < FIRST_CHANGE_ID ? 1 : 4, "EOF instead of reply %lld: exit %d",
		       (long long)id, id < FIRST_CHANGE_ID ? 1 : 4);
	}
	for (i = 0; i < sizeof(timeout_at) / sizeof(timeout_at[0]); i++) {
		id = timeout_at[i];
		rc = run_cut(dir, id, CUT_TIMEOUT, out, sizeof(out));
		is_int(rc, id < FIRST_CHANGE_ID ? 1 : 4, "no reply %lld: exit %d", (long long)id,
		       id < FIRST_CHANGE_ID ? 1 : 4);
		if (id == FIRST_CHANGE_ID)
			like(out, "no reply to device_del within 500 ms",
			     "a device_del never answered: the report says so");
	}
	rc = run_cut(dir, RECHECK_ID, CUT_REFUSE, out, sizeof(out));
	is_int(rc, 3, "a running VM: refused, exit 3");
	like(out, "result: refused", "the report says refused");
	rc = run_cut(dir, 0, CUT_MISMATCH, out, sizeof(out));
	is_int(rc, 4, "verify finds a disk off its slot: exit 4");
	like(out, "coldplug-disk0 should hold incus_root but holds other",
	     "the report names the disk and what its slot holds");
	if (rc != 4)
		diag("output:\n%s", out);
}

/**
 * struct paused_script - a recorded rehome, with QEMU answering "paused"
 * @fp:		the peer
 * @nstatus:	query-status commands seen
 * @status_ids:	their ids
 * @cut:	end the script before the second query-status (the run is
 *		refused after the inventory)
 * @stopped:	the end was reached
 */
struct paused_script {
	struct fakepeer *fp;
	size_t nstatus;
	int64_t status_ids[4];
	bool cut;
	bool stopped;
};

/**
 * paused_line() - transcript_fn: the recording, every run state "paused"
 * @dir:	direction
 * @msg:	the message
 * @nfds:	descriptors that went with it
 * @line:	line number
 * @userdata:	struct paused_script
 *
 * Return: 0, or -1
 */
static int paused_line(enum transcript_dir dir, cp_json *msg, size_t nfds, int line, void *userdata)
{
	struct paused_script *s = userdata;
	cp_json *ret = cp_json_get_object(msg, "return");
	int64_t id = -1;
	char *text;
	size_t i;

	(void)line;
	if (s->stopped)
		return 0;
	cp_json_get_int(msg, "id", &id);
	if (dir == TRANSCRIPT_TO_QEMU && cp_json_get_str(msg, "execute") &&
	    !strcmp(cp_json_get_str(msg, "execute"), "query-status")) {
		if (s->cut && s->nstatus == 1) {
			s->stopped = true;
			return 0;
		}
		if (s->nstatus < 4)
			s->status_ids[s->nstatus++] = id;
	}
	for (i = 0; dir == TRANSCRIPT_FROM_QEMU && ret && i < s->nstatus; i++)
		if (s->status_ids[i] == id && cp_json_set_str(ret, "status", "paused") < 0)
			return -1;
	text = cp_json_dump(msg, 0);
	if (!text)
		return -1;
	if (dir == TRANSCRIPT_TO_QEMU)
		fakepeer_expect_fds(s->fp, text, nfds, NULL);
	else
		fakepeer_send(s->fp, text);
	free(text);
	return 0;
}

/**
 * test_paused() - a QEMU whose guest has run: refused (exit 3) with the
 * state and the fix; with --force, re-homed (exit 0)
 * @dir:	private directory for the socket and the log
 * @force:	pass --force
 */
static void test_paused(const char *dir, bool force)
{
	struct paused_script s = { .cut = !force };
	char sock[128], log[128], out[16384], path[512];
	struct lab_proc proc;
	struct cp_error err;

	snprintf(sock, sizeof(sock), "%s/qmp.sock", dir);
	snprintf(log, sizeof(log), "%s/rehome.log", dir);
	snprintf(path, sizeof(path), "%s/transcripts/rehome-disks-7.2.qmp", COLDPLUG_TEST_DATA);
	s.fp = fakepeer_new_listen(sock, 0);
	if (transcript_each(path, paused_line, &s, &err) < 0)
		bail_out("%s: %s", path, err.msg);
	fakepeer_start(s.fp);
	{
		const char *const argv[] = { COLDPLUG_BINARY,	       "rehome", "--qmp", sock,
					     force ? "--force" : NULL, NULL };

		if (lab_proc_start(&proc, argv, log, &err) < 0)
			bail_out("start coldplug: %s", err.msg);
	}
	if (lab_proc_reap(&proc, 20000, &err) < 0)
		bail_out("coldplug rehome: %s", err.msg);
	read_log(log, out, sizeof(out));
	if (force) {
		ok(WIFEXITED(proc.status) && WEXITSTATUS(proc.status) == 0,
		   "paused, --force: exit status 0");
		like(out, "result: ok, verified", "paused, --force: re-homed and verified");
	} else {
		ok(WIFEXITED(proc.status) && WEXITSTATUS(proc.status) == 3,
		   "paused: exit status 3 (refused, nothing changed)");
		like(out, "QEMU is paused: its guest has run", "paused: the error names the state");
		like(out, "coldplug rehome --force", "paused: and the fix");
	}
	fakepeer_finish(s.fp, "paused%s: %s", force ? ", --force" : "",
			force ? "every recorded command" : "nothing after the inventory");
	unlink(log);
	unlink(sock);
}

/**
 * main() - run the tests
 *
 * Return: TAP exit status
 */
int main(void)
{
	char dir[] = "/tmp/cp-rehome-XXXXXX";

	if (!mkdtemp(dir))
		bail_out("mkdtemp: %s", strerror(errno));
	test_failed_before_plan(dir);
	test_exit_codes(dir);
	test_paused(dir, false);
	test_paused(dir, true);
	rmdir(dir);
	return done_testing();
}

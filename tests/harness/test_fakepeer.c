/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The fake QMP peer (tests/lib/fakepeer.c) fails when it should: every
 * module and program test that runs against it trusts that a command it did
 * not expect, one that never came, a step left unused or a wrong descriptor
 * is a failure, named, and that a repeated step (the stub's thousands of
 * ringbuf-read polls) is checked at every repetition.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "coldplug/qmp.h"
#include "coldplug/stub.h"
#include "fakepeer.h"
#include "tap.h"
#include "util.h"

#define HANDSHAKE_MS 5000
/* The stub's poll of its status ringbuf, as Incus sends it. */
#define READ_COMMAND                                                                               \
	"{\"execute\": \"ringbuf-read\", \"arguments\": {\"device\": \"" STUB_STATUS_CHARDEV       \
	"\", \"size\": 4096, \"format\": \"utf8\"}}"

/**
 * peer_errors() - run @fp against a client that sends @cmds, return the peer's complaints
 * @fp:		peer with a script
 * @cmds:	commands to send after the handshake, NULL-terminated
 * @nfds:	descriptors (/dev/null) to pass with the first command
 *
 * Return: the complaints (caller frees), or NULL if none
 */
static char *peer_errors(struct fakepeer *fp, const char *const *cmds, size_t nfds)
{
	struct qmp_client_opts o;
	struct qmp_client *c;
	struct cp_error err;
	char *errors = NULL;
	int fds[2] = { open("/dev/null", O_RDONLY | O_CLOEXEC), -1 };
	size_t i;

	qmp_client_opts_init(&o);
	o.label = "fake";
	o.trace = 0;
	o.cmd_timeout_ms = 300;
	fakepeer_start(fp);
	c = qmp_client_new(fakepeer_client_fd(fp), &o, &err);
	if (c && qmp_client_handshake(c, HANDSHAKE_MS, &err) < 0) {
		qmp_client_free(c);
		c = NULL;
	}
	for (i = 0; c && cmds[i]; i++)
		cp_json_unref(qmp_client_call_fds(c, cmds[i], NULL, fds, i ? 0 : nfds, &err));
	close(fds[0]);
	qmp_client_free(c);
	fakepeer_join(fp, &errors);
	fakepeer_free(fp);
	return errors;
}

/**
 * test_fakepeer() - the fake peer fails when it should
 */
static void test_fakepeer(void)
{
	static const char *const one[] = { "query-status", NULL };
	static const char *const two[] = { "query-status", "query-version", NULL };
	static const char *const none[] = { NULL };
	struct fakepeer *fp;
	char *e;

	fp = fakepeer_new();
	fakepeer_negotiate(fp);
	fakepeer_expect(fp, "{\"execute\": \"query-version\"}");
	e = peer_errors(fp, one, 0);
	like(e, "unexpected command", "fake peer: a different command fails");
	free(e);

	fp = fakepeer_new();
	fakepeer_negotiate(fp);
	fakepeer_expect(fp, "{\"execute\": \"query-status\"}");
	fakepeer_reply(fp, "{\"return\": {}}");
	e = peer_errors(fp, two, 0);
	like(e, "after the end of the script: {\"execute\":\"query-version\"",
	     "fake peer: a command after the script fails");
	free(e);

	fp = fakepeer_new();
	fakepeer_negotiate(fp);
	fakepeer_expect(fp, "{\"execute\": \"query-status\"}");
	fakepeer_reply(fp, "{\"return\": {}}");
	e = peer_errors(fp, none, 0);
	like(e, "the client closed the connection; expected {\"execute\":\"query-status\"}",
	     "fake peer: a command that never comes fails");
	free(e);

	fp = fakepeer_new();
	fakepeer_negotiate(fp);
	fakepeer_delay(fp, 10000);
	fakepeer_expect(fp, "{\"execute\": \"query-status\"}");
	e = peer_errors(fp, none, 0);
	like(e, "step left unused: expect {\"execute\":\"query-status\"}",
	     "fake peer: an unused step fails");
	free(e);

	fp = fakepeer_new();
	fakepeer_negotiate(fp);
	fakepeer_expect(fp, "{\"execute\": \"query-status\"}");
	fakepeer_reply(fp, "{\"return\": {}}");
	e = peer_errors(fp, one, 1);
	like(e, "1 descriptors received with the command, expected 0",
	     "fake peer: descriptors not asked for fail");
	free(e);

	fp = fakepeer_new();
	fakepeer_negotiate(fp);
	fakepeer_expect_fds(fp, "{\"execute\": \"query-status\"}", 1, "/etc/hostname");
	fakepeer_reply(fp, "{\"return\": {}}");
	e = peer_errors(fp, one, 1);
	like(e, "is not /etc/hostname", "fake peer: a descriptor to another file fails");
	free(e);

	fp = fakepeer_new();
	fakepeer_negotiate(fp);
	fakepeer_expect(fp, "{\"execute\": \"query-status\"}");
	fakepeer_reply(fp, "{\"return\": {}}");
	e = peer_errors(fp, one, 0);
	ok(e == NULL, "fake peer: the script run exactly passes");
	free(e);
}

/**
 * repeat_case() - a client of a repeated step: @reads ringbuf-reads, then
 * a query-chardev if @other, then it hangs up
 * @reads:	ringbuf-reads sent
 * @other:	then send another command
 * @errors:	set to the peer's failures (caller frees), or NULL
 *
 * Return: the number of failures; -1 if a read went unanswered or wrong
 */
static long repeat_case(unsigned reads, bool other, char **errors)
{
	struct fakepeer *fp = fakepeer_new();
	struct qmp_client_opts o;
	struct qmp_client *c;
	struct cp_error err;
	bool answered = true;
	unsigned i;
	long n;

	fakepeer_negotiate(fp);
	fakepeer_expect_repeat(fp, READ_COMMAND, "{\"return\": \"x\"}", 3);
	qmp_client_opts_init(&o);
	o.trace = 0;
	o.cmd_timeout_ms = 300;
	fakepeer_start(fp);
	c = qmp_client_new(fakepeer_client_fd(fp), &o, &err);
	if (!c || qmp_client_handshake(c, HANDSHAKE_MS, &err) < 0)
		bail_out("handshake with the fake peer: %s", err.msg);
	for (i = 0; i < reads; i++) {
		cleanup_json cp_json *args = cp_json_new_object(), *ret = NULL;

		cp_json_set_str(args, "device", STUB_STATUS_CHARDEV);
		cp_json_set_int(args, "size", 4096);
		cp_json_set_str(args, "format", "utf8");
		ret = qmp_client_call(c, "ringbuf-read", steal_pointer(&args), &err);
		answered = answered && cp_streq(cp_json_as_str(ret), "x");
	}
	if (other)
		cp_json_unref(qmp_client_call(c, "query-chardev", NULL, &err));
	qmp_client_free(c);
	n = (long)fakepeer_join(fp, errors);
	fakepeer_free(fp);
	return answered ? n : -1;
}

/**
 * test_peer_repeat() - the fake peer's repeated step: each command answered
 * with its id; the first one missing or different is one failure, named
 * with its repetition
 */
static void test_peer_repeat(void)
{
	cleanup_free char *e1 = NULL, *e2 = NULL;
	long n;

	n = repeat_case(3, false, NULL);
	is_int(n, 0, "fake peer: a step of 3 ringbuf-reads, each answered with its id");
	n = repeat_case(1, true, &e1);
	ok(n == 1 && e1 && strstr(e1, "step 4 (2 of 3): unexpected command"),
	   "fake peer: another command at the 2nd repetition is one failure, named, and the end "
	   "of the script");
	if (n != 1 && e1)
		diag("%s", e1);
	n = repeat_case(2, false, &e2);
	ok(n == 1 && e2 && strstr(e2, "step 4 (3 of 3): the client closed the connection"),
	   "fake peer: a client gone at the 3rd repetition is one failure, named");
	if (n != 1 && e2)
		diag("%s", e2);
}

/**
 * main() - run the checks
 *
 * Return: TAP exit status
 */
int main(void)
{
	test_fakepeer();
	test_peer_repeat();
	return done_testing();
}

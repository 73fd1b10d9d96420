/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The daemon's side of the stub protocol (lib/serve_proto.c) against the
 * fake QMP peer, driven asynchronously as the daemon's loop drives it:
 * what identify and poll answers mean (watch, read the request, wait, leave
 * alone), the request read (its NIC frontend taken, its taps never; a bad
 * one refused), the claim and the final status as QEMU sees them, and the
 * summary the stub shows.
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "coldplug/qmp.h"
#include "coldplug/serve_proto.h"
#include "fakepeer.h"
#include "tap.h"
#include "util.h"

#define OBJECTS_LIST "{\"execute\":\"qom-list\",\"arguments\":{\"path\":\"/objects\"}}"
#define QUERY_STATUS "{\"execute\":\"query-status\"}"
#define READ_REQUEST                                                                               \
	"{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"/objects/coldplug-request\","          \
	"\"property\":\"identity\"}}"
#define REQUEST_LISTED                                                                             \
	"{\"return\":[{\"name\":\"pr-manager-helper0\",\"type\":\"child<pr-manager-helper>\"},"    \
	"{\"name\":\"coldplug-request\",\"type\":\"child<authz-simple>\"}]}"
#define STATUS_LISTED                                                                              \
	"{\"return\":[{\"name\":\"coldplug-status\",\"type\":\"child<authz-simple>\"}]}"

/**
 * struct answer - what a callback got
 * @done:	it was called
 * @conn:	it got an error
 * @next:	identify, poll: what to do
 * @name:	identify: the VM's name ("" for none)
 * @status:	identify: its run state ("" for none)
 * @req:	read: the request
 * @has_req:	read: @req is set
 * @bad:	read: why it is refused ("" if not)
 * @st_err:	claim, status: the status command's error ("" if none)
 * @rb_err:	claim, status: the ringbuf-write's error ("" if none)
 */
struct answer {
	bool done;
	bool conn;
	enum serve_proto_next next;
	char name[64];
	char status[32];
	struct stub_request req;
	bool has_req;
	char bad[256];
	char st_err[128];
	char rb_err[128];
};

/**
 * on_identify() - serve_proto_identify_fn
 * @id:		identity
 * @e:		error
 * @userdata:	struct answer
 */
static void on_identify(const struct serve_proto_identity *id, const struct cp_error *e,
			void *userdata)
{
	struct answer *a = userdata;

	a->done = true;
	a->conn = e != NULL;
	if (!id)
		return;
	a->next = id->next;
	snprintf(a->name, sizeof(a->name), "%s", id->name ? id->name : "");
	snprintf(a->status, sizeof(a->status), "%s", id->status ? id->status : "");
}

/**
 * on_poll() - serve_proto_poll_fn
 * @next:	what to do
 * @e:		error
 * @userdata:	struct answer
 */
static void on_poll(enum serve_proto_next next, const struct cp_error *e, void *userdata)
{
	struct answer *a = userdata;

	a->done = true;
	a->conn = e != NULL;
	a->next = next;
}

/**
 * on_request() - serve_proto_request_fn
 * @req:	request
 * @bad:	why refused
 * @e:		error
 * @userdata:	struct answer
 */
static void on_request(const struct stub_request *req, const struct cp_error *bad,
		       const struct cp_error *e, void *userdata)
{
	struct answer *a = userdata;

	a->done = true;
	a->conn = e != NULL;
	a->has_req = req != NULL;
	if (req)
		a->req = *req;
	cp_strlcpy(a->bad, bad ? bad->msg : "", sizeof(a->bad));
}

/**
 * on_status() - serve_proto_status_fn
 * @st:		how it went
 * @userdata:	struct answer
 */
static void on_status(const struct serve_proto_status *st, void *userdata)
{
	struct answer *a = userdata;

	a->done = true;
	a->conn = st->conn != NULL;
	cp_strlcpy(a->st_err, st->status ? st->status->msg : "", sizeof(a->st_err));
	cp_strlcpy(a->rb_err, st->ringbuf ? st->ringbuf->msg : "", sizeof(a->rb_err));
}

/**
 * drive() - run the client as the daemon's loop does until @a is answered
 * @c:	client
 * @a:	the answer awaited
 *
 * Return: true once answered (within 3 s)
 */
static bool drive(struct qmp_client *c, const struct answer *a)
{
	int64_t end = cp_now_ms() + 3000;

	while (!a->done && cp_now_ms() < end) {
		struct pollfd p = { .fd = qmp_client_fd(c), .events = POLLIN };

		if (qmp_client_wants_write(c))
			p.events |= POLLOUT;
		if (poll(&p, 1, 50) > 0) {
			if ((p.revents & POLLOUT) && qmp_client_flush(c, NULL) < 0)
				break;
			if ((p.revents & ~POLLOUT) && qmp_client_process(c, NULL) < 0)
				break;
		}
		qmp_client_expire(c);
	}
	return a->done;
}

/**
 * identify() - serve_proto_identify() against a peer answering @objects
 * and @status
 * @name:	query-name's name
 * @status:	query-status's answer (a whole reply)
 * @objects:	qom-list /objects's answer (a whole reply)
 * @a:		filled
 */
static void identify(const char *name, const char *status, const char *objects, struct answer *a)
{
	struct fakepeer *fp = fakepeer_new();
	struct qmp_client *c;
	struct cp_error err;
	char reply[256];

	memset(a, 0, sizeof(*a));
	fakepeer_negotiate(fp);
	fakepeer_expect(fp, "{\"execute\":\"query-name\"}");
	snprintf(reply, sizeof(reply), "{\"return\":{\"name\":\"%s\"}}", name);
	fakepeer_reply(fp, reply);
	fakepeer_expect(fp, "{\"execute\":\"query-uuid\"}");
	fakepeer_reply(fp, "{\"return\":{\"UUID\":\"8e4a0b2c-0000-4000-8000-000000000001\"}}");
	fakepeer_expect(fp, QUERY_STATUS);
	fakepeer_reply(fp, status);
	fakepeer_expect(fp, OBJECTS_LIST);
	fakepeer_reply(fp, objects);
	c = fakepeer_connect(fp, true);
	if (serve_proto_identify(c, on_identify, a, &err) < 0 || !drive(c, a))
		ok(false, "identify %s: no answer", name);
	qmp_client_free(c);
	fakepeer_finish(fp, "identify %s: the four queries", name);
}

/**
 * test_identify() - what a new connection's answers mean
 */
static void test_identify(void)
{
	static const char prelaunch[] = "{\"return\":{\"status\":\"prelaunch\",\"running\":false}}";
	static const char running[] = "{\"return\":{\"status\":\"running\",\"running\":true}}";
	static const char paused[] = "{\"return\":{\"status\":\"paused\",\"running\":false}}";
	struct answer a;

	identify("vm1", prelaunch, "{\"return\":[]}", &a);
	ok(!a.conn && a.next == SERVE_PROTO_WAIT && !strcmp(a.name, "vm1") &&
		   !strcmp(a.status, "prelaunch"),
	   "prelaunch, no stub objects: wait for the request (name and state passed on)");
	identify("vm2", running, "{\"return\":[]}", &a);
	ok(a.next == SERVE_PROTO_IDLE, "running without asking: left alone");
	identify("vm3", paused, "{\"return\":[]}", &a);
	ok(a.next == SERVE_PROTO_IDLE, "paused: its guest has run, left alone");
	identify("vm4", "{\"error\":{\"class\":\"GenericError\",\"desc\":\"no\"}}",
		 "{\"return\":[]}", &a);
	ok(!a.conn && a.next == SERVE_PROTO_IDLE && !*a.status,
	   "no run state: left alone, the state unknown (no error)");
	identify("vm5", prelaunch, REQUEST_LISTED, &a);
	ok(a.next == SERVE_PROTO_REQUEST, "the request waits: read it");
	identify("vm6", running, REQUEST_LISTED, &a);
	ok(a.next == SERVE_PROTO_REQUEST, "...whatever the run state");
	identify("vm7", running, STATUS_LISTED, &a);
	ok(a.next == SERVE_PROTO_WATCH, "the status object exists: re-homed before, watch");
}

/**
 * poll_once() - serve_proto_poll() against a peer
 * @objects:	qom-list /objects's answer
 * @status:	query-status's answer
 *
 * Return: what to do
 */
static enum serve_proto_next poll_once(const char *objects, const char *status)
{
	struct fakepeer *fp = fakepeer_new();
	struct answer a = { 0 };
	struct qmp_client *c;
	struct cp_error err;

	fakepeer_negotiate(fp);
	fakepeer_expect(fp, OBJECTS_LIST);
	fakepeer_reply(fp, objects);
	fakepeer_expect(fp, QUERY_STATUS);
	fakepeer_reply(fp, status);
	c = fakepeer_connect(fp, true);
	if (serve_proto_poll(c, on_poll, &a, &err) < 0 || !drive(c, &a) || a.conn)
		ok(false, "poll: no answer");
	qmp_client_free(c);
	fakepeer_finish(fp, "poll: qom-list /objects, query-status");
	return a.next;
}

/**
 * test_poll() - the poll while the VM waits for its pre-start
 */
static void test_poll(void)
{
	static const char prelaunch[] = "{\"return\":{\"status\":\"prelaunch\",\"running\":false}}";
	static const char running[] = "{\"return\":{\"status\":\"running\",\"running\":true}}";

	is_int(poll_once("{\"return\":[]}", prelaunch), SERVE_PROTO_WAIT,
	       "no request, prelaunch: poll again");
	is_int(poll_once(REQUEST_LISTED, prelaunch), SERVE_PROTO_REQUEST, "the request: read it");
	is_int(poll_once("{\"return\":[]}", running), SERVE_PROTO_IDLE,
	       "no request, running: the VM started without asking");
	is_int(poll_once("{\"return\":[]}", "{\"error\":{\"class\":\"GenericError\",\"desc\":"
					    "\"x\"}}"),
	       SERVE_PROTO_WAIT, "no run state: poll again");
}

/**
 * read_request() - serve_proto_read_request() of a request object
 * @reply:	qom-get's answer
 * @a:		filled
 */
static void read_request(const char *reply, struct answer *a)
{
	struct fakepeer *fp = fakepeer_new();
	struct qmp_client *c;
	struct cp_error err;

	memset(a, 0, sizeof(*a));
	fakepeer_negotiate(fp);
	fakepeer_expect(fp, READ_REQUEST);
	fakepeer_reply(fp, reply);
	c = fakepeer_connect(fp, true);
	if (serve_proto_read_request(c, on_request, a, &err) < 0 || !drive(c, a))
		ok(false, "read the request: no answer");
	qmp_client_free(c);
	fakepeer_finish(fp, "the request read with qom-get");
}

/**
 * test_request() - the request read; its NIC frontend and usb-mac-fixed
 * taken into the VM's options, its taps never; a bad request refused
 */
static void test_request(void)
{
	struct rehome_opts defaults, o;
	struct plan_tap tap = { "eth0", "tapdaemon" };
	struct answer a;

	read_request("{\"return\":\"{\\\"v\\\":1,\\\"instance\\\":\\\"mac1\\\",\\\"project\\\":"
		     "\\\"default\\\",\\\"nic-frontend\\\":\\\"usb\\\",\\\"usb-mac-fixed\\\":true,"
		     "\\\"taps\\\":{\\\"eth0\\\":\\\"tapvictim0\\\"}}\"}",
		     &a);
	ok(a.has_req && !a.conn && !*a.bad && !strcmp(a.req.instance, "mac1") &&
		   !strcmp(a.req.project, "default"),
	   "a request read: instance and project");
	ok(a.req.has_frontend && a.req.frontend == PLAN_FRONTEND_USB && a.req.usb_mac_fixed &&
		   a.req.ntaps == 1,
	   "...its NIC frontend, usb-mac-fixed and the tap it names parsed");
	rehome_opts_init(&defaults);
	defaults.plan.nic_frontend = PLAN_FRONTEND_PCI;
	defaults.plan.taps = &tap;
	defaults.plan.ntaps = 1;
	defaults.apply.event_timeout_ms = 1234;
	serve_proto_request_opts(&defaults, &a.req, &o);
	is_int(o.plan.nic_frontend, PLAN_FRONTEND_USB, "the requested NIC frontend is used");
	ok(o.plan.usb_mac_fixed && o.plan.incus_profile, "usb-mac-fixed taken; an Incus profile");
	ok(!o.plan.taps && !o.plan.ntaps,
	   "the request's taps are ignored (and the daemon's own too: only the kernel says)");
	is_int(o.apply.event_timeout_ms, 1234, "the daemon's other options are kept");

	read_request("{\"return\":\"{\\\"v\\\":1,\\\"instance\\\":\\\"mac2\\\"}\"}", &a);
	serve_proto_request_opts(&defaults, &a.req, &o);
	ok(a.has_req && o.plan.nic_frontend == PLAN_FRONTEND_PCI && !o.plan.usb_mac_fixed,
	   "no frontend asked: the daemon's is kept");
	defaults.plan.usb_mac_fixed = true;
	serve_proto_request_opts(&defaults, &a.req, &o);
	ok(o.plan.usb_mac_fixed, "...and the daemon's usb-mac-fixed too");

	read_request("{\"return\":\"{\\\"v\\\":1,\\\"taps\\\":{\\\"eth0\\\":\\\"tap0;rm\\\"}}\"}",
		     &a);
	ok(!a.has_req && !a.conn, "a request naming a tap that is no interface name: refused");
	like(a.bad, "taps must map NIC names", "...saying why");
	read_request("{\"return\":\"{\\\"v\\\":1,\\\"nic-frontend\\\":\\\"e1000\\\"}\"}", &a);
	like(a.bad, "nic-frontend must be", "an unknown NIC frontend: refused");
	read_request("{\"return\":\"{\\\"v\\\":2}\"}", &a);
	like(a.bad, "not a version 1 request", "another version: refused");
	read_request("{\"error\":{\"class\":\"GenericError\",\"desc\":\"no such object\"}}", &a);
	ok(a.conn && !a.has_req && !*a.bad, "the request gone: an error reading it, no refusal");
}

/**
 * expect_ringbuf() - the ringbuf-write of "@text\n"
 * @fp:		peer
 * @text:	status, as JSON string content
 * @reply:	its answer
 */
static void expect_ringbuf(struct fakepeer *fp, const char *text, const char *reply)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd),
		 "{\"execute\":\"ringbuf-write\",\"arguments\":{\"device\":\"coldplug-status\","
		 "\"data\":\"%s\\n\",\"format\":\"utf8\"}}",
		 text);
	fakepeer_expect(fp, cmd);
	fakepeer_reply(fp, reply);
}

/**
 * test_claim() - the claim: the status object created, the request
 * deleted, the status line written; a profile without the ringbuf
 */
static void test_claim(void)
{
	struct fakepeer *fp = fakepeer_new();
	struct answer a = { 0 };
	struct qmp_client *c;
	struct cp_error err;

	fakepeer_negotiate(fp);
	fakepeer_expect(fp,
			"{\"execute\":\"object-add\",\"arguments\":{\"qom-type\":"
			"\"authz-simple\",\"id\":\"coldplug-status\",\"identity\":\"running\"}}");
	fakepeer_reply(fp, "{\"return\":{}}");
	fakepeer_expect(fp, "{\"execute\":\"object-del\",\"arguments\":{\"id\":"
			    "\"coldplug-request\"}}");
	fakepeer_reply(fp, "{\"return\":{}}");
	expect_ringbuf(fp, "running",
		       "{\"error\":{\"class\":\"DeviceNotFound\",\"desc\":\"no chardev\"}}");
	c = fakepeer_connect(fp, true);
	ok(serve_proto_claim(c, STUB_STATUS_RUNNING, on_status, &a, &err) == 0 && drive(c, &a),
	   "claimed");
	ok(!a.conn && !*a.st_err, "...the status object created");
	like(a.rb_err, "no chardev", "...the ringbuf's absence reported apart");
	qmp_client_free(c);
	fakepeer_finish(fp, "claim: object-add status, object-del request, ringbuf-write");

	fp = fakepeer_new();
	memset(&a, 0, sizeof(a));
	fakepeer_negotiate(fp);
	fakepeer_expect(fp, "{\"execute\":\"object-add\",\"arguments\":{\"qom-type\":"
			    "\"authz-simple\",\"id\":\"coldplug-status\",\"identity\":"
			    "\"failed: bad request\"}}");
	fakepeer_reply(fp, "{\"error\":{\"class\":\"GenericError\",\"desc\":\"duplicate\"}}");
	fakepeer_expect(fp, "{\"execute\":\"object-del\",\"arguments\":{\"id\":"
			    "\"coldplug-request\"}}");
	fakepeer_reply(fp, "{\"return\":{}}");
	expect_ringbuf(fp, "failed: bad request", "{\"return\":{}}");
	c = fakepeer_connect(fp, true);
	ok(serve_proto_claim(c, "failed: bad\nrequest", on_status, &a, &err) == 0 && drive(c, &a),
	   "a refusal claimed");
	ok(!a.conn && strstr(a.st_err, "duplicate") && !*a.rb_err,
	   "...the status object's failure reported; its newline blanked for the stub");
	qmp_client_free(c);
	fakepeer_finish(fp, "claim with a failed status, cleaned");
}

/**
 * test_set_status() - the final status: qom-set and the ringbuf line
 */
static void test_set_status(void)
{
	struct fakepeer *fp = fakepeer_new();
	struct answer a = { 0 };
	struct qmp_client *c;
	struct cp_error err;

	fakepeer_negotiate(fp);
	fakepeer_expect(fp, "{\"execute\":\"qom-set\",\"arguments\":{\"path\":"
			    "\"/objects/coldplug-status\",\"property\":\"identity\",\"value\":"
			    "\"done: 0 devices re-homed\"}}");
	fakepeer_reply(fp, "{\"return\":{}}");
	expect_ringbuf(fp, "done: 0 devices re-homed", "{\"return\":{}}");
	fakepeer_close(fp);
	c = fakepeer_connect(fp, true);
	ok(serve_proto_set_status(c, "done: 0 devices re-homed", on_status, &a, &err) == 0 &&
		   drive(c, &a) && !a.conn && !*a.st_err && !*a.rb_err,
	   "the final status set");
	qmp_client_free(c);
	fakepeer_finish(fp, "status: qom-set, ringbuf-write");

	fp = fakepeer_new();
	memset(&a, 0, sizeof(a));
	fakepeer_negotiate(fp);
	fakepeer_expect(fp, "{\"execute\":\"qom-set\",\"arguments\":{\"path\":"
			    "\"/objects/coldplug-status\",\"property\":\"identity\",\"value\":"
			    "\"done\"}}");
	fakepeer_close(fp);
	c = fakepeer_connect(fp, true);
	ok(serve_proto_set_status(c, "done", on_status, &a, &err) == 0 && drive(c, &a) && a.conn,
	   "QEMU gone meanwhile: the connection's error");
	qmp_client_free(c);
	fakepeer_finish(fp, "status: the peer closes");
}

/**
 * test_summary() - the status the stub shows for an outcome
 */
static void test_summary(void)
{
	struct plan_step steps[3] = { 0 };
	struct apply_result res[3] = { 0 };
	struct rehome r = { 0 };
	char out[STUB_STATUS_MAX];

	cp_strlcpy(steps[0].name, "root", sizeof(steps[0].name));
	cp_strlcpy(steps[0].slot_name, "coldplug-disk0", sizeof(steps[0].slot_name));
	cp_strlcpy(steps[1].name, "eth0", sizeof(steps[1].name));
	cp_strlcpy(steps[1].slot_name, "coldplug-nic0", sizeof(steps[1].slot_name));
	cp_strlcpy(steps[2].name, "data", sizeof(steps[2].name));
	cp_strlcpy(steps[2].slot_name, "coldplug-disk1", sizeof(steps[2].slot_name));
	res[0].status = res[2].status = APPLY_MOVED;
	res[1].status = APPLY_ALREADY;
	r.plan.steps = steps;
	r.plan.n = 3;
	r.results = res;
	r.ms = 42;
	serve_proto_outcome(&r, out, sizeof(out));
	is_str(out,
	       "done: 2 devices re-homed (root -> coldplug-disk0, data -> coldplug-disk1) in 42 ms",
	       "the summary names what moved, and how long it took");
	res[0].status = res[2].status = APPLY_ALREADY;
	serve_proto_outcome(&r, out, sizeof(out));
	is_str(out, "done: 0 devices re-homed", "nothing moved: no list");
	r.result = REHOME_FAILED;
	cp_error_set(&r.err, CP_ERR_FAILED, "eth0: netdev_del\ntimed out");
	serve_proto_outcome(&r, out, sizeof(out));
	is_str(out, "failed: eth0: netdev_del timed out", "a failure: failed, on one line");
}

/**
 * main() - run the tests
 *
 * Return: TAP exit status
 */
int main(void)
{
	test_identify();
	test_poll();
	test_request();
	test_claim();
	test_set_status();
	test_summary();
	return done_testing();
}

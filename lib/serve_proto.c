/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The daemon's side of the stub protocol: see coldplug/serve_proto.h. Each
 * exchange is a QMP batch (or one command) whose answer is turned into what
 * it means before the caller's callback sees it; the batch lives until that
 * callback returns, so the errors it hands over stay valid for the call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coldplug/cleanup.h"
#include "coldplug/qmp.h"
#include "coldplug/qmp_batch.h"
#include "coldplug/serve_proto.h"
#include "util.h"

/**
 * struct proto_call - a callback and its userdata, while the exchange runs
 * @identify:	for serve_proto_identify()
 * @poll:	for serve_proto_poll()
 * @request:	for serve_proto_read_request()
 * @status:	for serve_proto_claim() and serve_proto_set_status()
 * @userdata:	the caller's
 */
struct proto_call {
	serve_proto_identify_fn identify;
	serve_proto_poll_fn poll;
	serve_proto_request_fn request;
	serve_proto_status_fn status;
	void *userdata;
};

/**
 * has_object() - whether qom-list of /objects lists @id
 * @list:	qom-list answer (may be NULL)
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
 * send_batch() - send @b with @call as its userdata
 * @c:		client
 * @b:		batch, or NULL when building it ran out of memory (freed here
 *		on failure)
 * @fn:		batch callback
 * @call:	callback context (freed here on failure)
 * @err:	filled on failure
 *
 * Return: 0, or -1 (no callback will come)
 */
static int send_batch(struct qmp_client *c, struct qmp_batch *b, qmp_batch_fn fn,
		      struct proto_call *call, struct cp_error *err)
{
	if (!b || !call) {
		qmp_batch_free(b);
		free(call);
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory");
	}
	if (qmp_batch_send(b, c, fn, call, err) < 0) {
		qmp_batch_free(b);
		free(call);
		return -1;
	}
	return 0;
}

/**
 * new_call() - a callback context
 * @userdata:	the caller's
 *
 * Return: new context (the callback's field is set by the caller), or NULL
 */
static struct proto_call *new_call(void *userdata)
{
	struct proto_call *call = calloc(1, sizeof(*call));

	if (call)
		call->userdata = userdata;
	return call;
}

/**
 * on_identified() - query-name, query-uuid, query-status, qom-list answered
 * @b:		the batch
 * @e:		connection error, or NULL
 * @userdata:	the call
 */
static void on_identified(struct qmp_batch *b, const struct cp_error *e, void *userdata)
{
	struct proto_call *call = userdata;
	cp_json *objects = qmp_batch_result(b, 3);
	struct serve_proto_identity id = {
		.name = cp_json_get_str(qmp_batch_result(b, 0), "name"),
		.uuid = cp_json_get_str(qmp_batch_result(b, 1), "UUID"),
		.status = cp_json_get_str(qmp_batch_result(b, 2), "status"),
	};

	if (has_object(objects, STUB_STATUS_OBJECT))
		id.next = SERVE_PROTO_WATCH;
	else if (has_object(objects, STUB_REQUEST_OBJECT))
		id.next = SERVE_PROTO_REQUEST;
	else if (before_guest(id.status))
		id.next = SERVE_PROTO_WAIT;
	else
		id.next = SERVE_PROTO_IDLE;
	call->identify(e ? NULL : &id, e, call->userdata);
	qmp_batch_free(b);
	free(call);
}

/**
 * serve_proto_identify() - ask a new connection which VM it is
 * @c:		client, negotiated
 * @fn:		called with the identity, or with the connection's error
 * @userdata:	for @fn
 * @err:	filled on failure
 *
 * A command that fails leaves its field NULL: only the connection failing
 * fails the exchange.
 *
 * Return: 0, or -1 (@fn will not be called)
 */
int serve_proto_identify(struct qmp_client *c, serve_proto_identify_fn fn, void *userdata,
			 struct cp_error *err)
{
	struct proto_call *call = new_call(userdata);
	struct qmp_batch *b = qmp_batch_new();

	if (call)
		call->identify = fn;
	if (b &&
	    (qmp_batch_add(b, "query-name", NULL) < 0 || qmp_batch_add(b, "query-uuid", NULL) < 0 ||
	     qmp_batch_add(b, "query-status", NULL) < 0 ||
	     qmp_batch_add_qom_list(b, "/objects") < 0)) {
		qmp_batch_free(b);
		b = NULL;
	}
	return send_batch(c, b, on_identified, call, err);
}

/**
 * on_polled() - qom-list /objects and query-status answered
 * @b:		the batch
 * @e:		connection error, or NULL
 * @userdata:	the call
 */
static void on_polled(struct qmp_batch *b, const struct cp_error *e, void *userdata)
{
	struct proto_call *call = userdata;
	const char *status = cp_json_get_str(qmp_batch_result(b, 1), "status");
	enum serve_proto_next next = SERVE_PROTO_WAIT;

	if (has_object(qmp_batch_result(b, 0), STUB_REQUEST_OBJECT))
		next = SERVE_PROTO_REQUEST;
	else if (status && !before_guest(status))
		next = SERVE_PROTO_IDLE;
	call->poll(next, e, call->userdata);
	qmp_batch_free(b);
	free(call);
}

/**
 * serve_proto_poll() - look for the stub's request and at the run state
 * @c:		client
 * @fn:		called with SERVE_PROTO_REQUEST, _WAIT or _IDLE (the VM
 *		started without asking), or with the connection's error
 * @userdata:	for @fn
 * @err:	filled on failure
 *
 * Return: 0, or -1 (@fn will not be called)
 */
int serve_proto_poll(struct qmp_client *c, serve_proto_poll_fn fn, void *userdata,
		     struct cp_error *err)
{
	struct proto_call *call = new_call(userdata);
	struct qmp_batch *b = qmp_batch_new();

	if (call)
		call->poll = fn;
	if (b && (qmp_batch_add_qom_list(b, "/objects") < 0 ||
		  qmp_batch_add(b, "query-status", NULL) < 0)) {
		qmp_batch_free(b);
		b = NULL;
	}
	return send_batch(c, b, on_polled, call, err);
}

/**
 * on_request() - the request object's identity read
 * @c:		client
 * @ret:	the identity (a string), or NULL
 * @e:		error, or NULL
 * @userdata:	the call
 */
static void on_request(struct qmp_client *c, cp_json *ret, const struct cp_error *e, void *userdata)
{
	struct proto_call *call = userdata;
	struct stub_request req;
	struct cp_error bad;

	(void)c;
	if (e)
		call->request(NULL, NULL, e, call->userdata);
	else if (stub_request_parse(cp_json_as_str(ret) ? cp_json_as_str(ret) : "", &req, &bad) < 0)
		call->request(NULL, &bad, NULL, call->userdata);
	else
		call->request(&req, NULL, NULL, call->userdata);
	free(call);
}

/**
 * serve_proto_read_request() - read and parse the stub's request
 * @c:		client
 * @fn:		called with the request; or with why it is refused (@bad,
 *		for the stub's failed status); or with the error reading it
 * @userdata:	for @fn
 * @err:	filled on failure
 *
 * Return: 0, or -1 (@fn will not be called)
 */
int serve_proto_read_request(struct qmp_client *c, serve_proto_request_fn fn, void *userdata,
			     struct cp_error *err)
{
	cp_json *a = cp_json_obj(CP_STR("path", "/objects/" STUB_REQUEST_OBJECT),
				 CP_STR("property", "identity"));
	struct proto_call *call = new_call(userdata);

	if (!a || !call) {
		cp_json_unref(a);
		free(call);
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory");
	}
	call->request = fn;
	if (qmp_client_send(c, "qom-get", a, NULL, 0, 0, on_request, call, err) < 0) {
		free(call);
		return -1;
	}
	return 0;
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
 * on_status() - a claim or status update answered
 * @b:		the batch: the status object's command first, the ringbuf-write
 *		last
 * @e:		connection error, or NULL
 * @userdata:	the call
 */
static void on_status(struct qmp_batch *b, const struct cp_error *e, void *userdata)
{
	struct proto_call *call = userdata;
	struct serve_proto_status st = { .conn = e };

	if (!e) {
		st.status = qmp_batch_error(b, 0);
		st.ringbuf = qmp_batch_error(b, qmp_batch_count(b) - 1);
	}
	call->status(&st, call->userdata);
	qmp_batch_free(b);
	free(call);
}

/**
 * send_status() - send a batch that publishes a status
 * @c:		client
 * @b:		batch with the status object's command in it, or NULL
 * @clean:	the status, cleaned, for the ringbuf line
 * @fn:		callback
 * @userdata:	for @fn
 * @err:	filled on failure
 *
 * Return: 0, or -1 (@fn will not be called)
 */
static int send_status(struct qmp_client *c, struct qmp_batch *b, const char *clean,
		       serve_proto_status_fn fn, void *userdata, struct cp_error *err)
{
	struct proto_call *call = new_call(userdata);

	if (call)
		call->status = fn;
	if (b && add_status_line(b, clean) < 0) {
		qmp_batch_free(b);
		b = NULL;
	}
	return send_batch(c, b, on_status, call, err);
}

/**
 * serve_proto_claim() - create the status object with @status, delete the
 * request and write @status to the ringbuf
 * @c:		client
 * @status:	initial status ("running", or "failed: ..." for a bad
 *		request); cleaned for the stub here
 * @fn:		called with how it went
 * @userdata:	for @fn
 * @err:	filled on failure
 *
 * Return: 0, or -1 (@fn will not be called)
 */
int serve_proto_claim(struct qmp_client *c, const char *status, serve_proto_status_fn fn,
		      void *userdata, struct cp_error *err)
{
	struct qmp_batch *b = qmp_batch_new();
	char clean[STUB_STATUS_MAX];

	stub_status_clean(status, clean, sizeof(clean));
	if (b && (qmp_batch_add_args(b, "object-add",
				     cp_json_obj(CP_STR("qom-type", "authz-simple"),
						 CP_STR("id", STUB_STATUS_OBJECT),
						 CP_STR("identity", clean))) < 0 ||
		  qmp_batch_add_args(b, "object-del",
				     cp_json_obj(CP_STR("id", STUB_REQUEST_OBJECT))) < 0)) {
		qmp_batch_free(b);
		b = NULL;
	}
	return send_status(c, b, clean, fn, userdata, err);
}

/**
 * serve_proto_set_status() - publish the final status for the stub: the
 * status object's identity, and a line in the ringbuf
 * @c:		client
 * @status:	"done: ...", "failed: ..."; cleaned for the stub here
 * @fn:		called with how it went
 * @userdata:	for @fn
 * @err:	filled on failure
 *
 * Return: 0, or -1 (@fn will not be called)
 */
int serve_proto_set_status(struct qmp_client *c, const char *status, serve_proto_status_fn fn,
			   void *userdata, struct cp_error *err)
{
	struct qmp_batch *b = qmp_batch_new();
	char clean[STUB_STATUS_MAX];

	stub_status_clean(status, clean, sizeof(clean));
	if (b && qmp_batch_add_args(b, "qom-set",
				    cp_json_obj(CP_STR("path", "/objects/" STUB_STATUS_OBJECT),
						CP_STR("property", "identity"),
						CP_STR("value", clean))) < 0) {
		qmp_batch_free(b);
		b = NULL;
	}
	return send_status(c, b, clean, fn, userdata, err);
}

/**
 * serve_proto_request_opts() - one VM's pipeline options: the daemon's, as
 * the stub asks
 * @defaults:	the daemon's options
 * @req:	the stub's request, parsed
 * @out:	filled
 *
 * The request may choose the NIC frontend and that the USB NIC's MAC is
 * fixed; never the taps it names: a VM could name another VM's tap, and
 * only the kernel says which tap a NIC is on (QEMU's fdinfo).
 */
void serve_proto_request_opts(const struct rehome_opts *defaults, const struct stub_request *req,
			      struct rehome_opts *out)
{
	*out = *defaults;
	if (req->has_frontend)
		out->plan.nic_frontend = req->frontend;
	out->plan.usb_mac_fixed |= req->usb_mac_fixed;
	out->plan.incus_profile = true;
	out->plan.taps = NULL;
	out->plan.ntaps = 0;
}

/**
 * serve_proto_summary() - "done: 3 devices re-homed (root -> coldplug-disk0,
 * ...) in N ms"
 * @r:		a successful outcome
 * @out:	buffer
 * @size:	its size
 */
void serve_proto_summary(const struct rehome *r, char *out, size_t size)
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
 * serve_proto_outcome() - the final status for the stub: the summary, or
 * "failed: " and why
 * @r:		outcome
 * @out:	buffer
 * @size:	its size
 */
void serve_proto_outcome(const struct rehome *r, char *out, size_t size)
{
	if (r->result == REHOME_OK)
		serve_proto_summary(r, out, size);
	else
		stub_status_failed(r->err.msg, out, size);
}

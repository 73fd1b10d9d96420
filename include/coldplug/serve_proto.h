/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The daemon's side of the stub protocol (coldplug/stub.h), one QMP
 * exchange per function, each asynchronous with the client's own deadline:
 * identify a new connection, poll for the stub's request, read it, claim it
 * (the status object, the request deleted), publish the final status. What
 * an answer means is decided here (enum serve_proto_next); what to do next
 * is the caller's state machine (src/serve_vm.c).
 *
 * Every callback is called once, unless sending failed (then never); the
 * pointers it gets are borrowed for the call.
 */
#ifndef COLDPLUG_SERVE_PROTO_H
#define COLDPLUG_SERVE_PROTO_H

#include <stddef.h>

#include "coldplug/error.h"
#include "coldplug/rehome.h"
#include "coldplug/stub.h"

struct qmp_client;

/**
 * enum serve_proto_next - what an identify or a poll says to do next
 * @SERVE_PROTO_WATCH:		the status object exists (re-homed earlier, by
 *				a daemon that has restarted since): watch
 * @SERVE_PROTO_REQUEST:	the stub's request waits: read it
 * @SERVE_PROTO_WAIT:		no request yet, and the guest has not started
 *				(prelaunch) or the run state is unknown: poll
 * @SERVE_PROTO_IDLE:		the guest has run, or the VM started without
 *				asking: nothing to do
 */
enum serve_proto_next {
	SERVE_PROTO_WATCH,
	SERVE_PROTO_REQUEST,
	SERVE_PROTO_WAIT,
	SERVE_PROTO_IDLE,
};

/**
 * struct serve_proto_identity - who a new connection says it is
 * @name:	query-name's name, or NULL
 * @uuid:	query-uuid's UUID, or NULL
 * @status:	query-status's run state, or NULL
 * @next:	what to do next
 *
 * The strings are the peer's, unchecked: log them through cp_log (which
 * escapes them), bounded.
 */
struct serve_proto_identity {
	const char *name;
	const char *uuid;
	const char *status;
	enum serve_proto_next next;
};

/**
 * struct serve_proto_status - how a claim or a status update went
 * @conn:	the connection failed (the exchange is void), or NULL
 * @status:	the status object could not be created or set, or NULL
 * @ringbuf:	the status line could not be written (an old profile's VM
 *		has no ringbuf; its stub reads the object), or NULL
 */
struct serve_proto_status {
	const struct cp_error *conn;
	const struct cp_error *status;
	const struct cp_error *ringbuf;
};

typedef void (*serve_proto_identify_fn)(const struct serve_proto_identity *id,
					const struct cp_error *e, void *userdata);
typedef void (*serve_proto_poll_fn)(enum serve_proto_next next, const struct cp_error *e,
				    void *userdata);
typedef void (*serve_proto_request_fn)(const struct stub_request *req, const struct cp_error *bad,
				       const struct cp_error *e, void *userdata);
typedef void (*serve_proto_status_fn)(const struct serve_proto_status *st, void *userdata);

int serve_proto_identify(struct qmp_client *c, serve_proto_identify_fn fn, void *userdata,
			 struct cp_error *err);
int serve_proto_poll(struct qmp_client *c, serve_proto_poll_fn fn, void *userdata,
		     struct cp_error *err);
int serve_proto_read_request(struct qmp_client *c, serve_proto_request_fn fn, void *userdata,
			     struct cp_error *err);
int serve_proto_claim(struct qmp_client *c, const char *status, serve_proto_status_fn fn,
		      void *userdata, struct cp_error *err);
int serve_proto_set_status(struct qmp_client *c, const char *status, serve_proto_status_fn fn,
			   void *userdata, struct cp_error *err);

void serve_proto_request_opts(const struct rehome_opts *defaults, const struct stub_request *req,
			      struct rehome_opts *out);
void serve_proto_summary(const struct rehome *r, char *out, size_t size);
void serve_proto_outcome(const struct rehome *r, char *out, size_t size);

#endif /* COLDPLUG_SERVE_PROTO_H */

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Synchronous QMP calls: the asynchronous core (qmp_client.c) driven by
 * qmp_client_dispatch() on this one socket until the answer is in. Every
 * call ends: a reply or event deadline always exists, and an overdue reply
 * latches the client, which fails the call.
 *
 * Not for use inside a callback of the same client.
 */
#include <stdlib.h>

#include "coldplug/cleanup.h"
#include "coldplug/qmp.h"
#include "util.h"

/**
 * struct sync_result - where a callback leaves the answer for the caller
 * @done:	the callback ran
 * @value:	reply value or event (new reference), NULL on error
 * @err:	the error when @value is NULL
 */
struct sync_result {
	bool done;
	cp_json *value;
	struct cp_error err;
};

/**
 * sync_reply() - qmp_reply_fn / qmp_await_fn that fills a struct sync_result
 * @c:		client
 * @value:	reply value or event (borrowed), NULL on error
 * @e:		error, or NULL
 * @userdata:	the struct sync_result
 */
static void sync_reply(struct qmp_client *c, cp_json *value, const struct cp_error *e,
		       void *userdata)
{
	struct sync_result *r = userdata;

	(void)c;
	r->done = true;
	if (e)
		cp_error_copy(&r->err, e);
	else
		r->value = value ? cp_json_ref(value) : cp_json_new_object();
}

/**
 * sync_wait() - dispatch until @r is filled
 * @c:		client
 * @r:		result to wait for
 * @err:	filled on failure
 *
 * Return: the value (new reference), or NULL
 */
static cp_json *sync_wait(struct qmp_client *c, struct sync_result *r, struct cp_error *err)
{
	while (!r->done)
		if (qmp_client_dispatch(c, -1, NULL) < 0)
			break;
	if (!r->done) {
		/* Latched with our callback still queued: cannot happen, as
		 * latching fails every callback; kept as a guard. */
		cp_error_copy(err, qmp_client_error(c));
		return NULL;
	}
	if (!r->value)
		cp_error_copy(err, &r->err);
	return r->value;
}

/**
 * qmp_client_call_fds() - run a command, passing descriptors, and wait
 * @c:		ready client
 * @cmd:	command name
 * @args:	arguments object, stolen; NULL for none
 * @fds:	descriptors to pass with it, or NULL (the caller keeps its own)
 * @nfds:	their count
 * @err:	filled on failure: QEMU's error (CP_ERR_QMP, with its class and
 *		the command), or the latched connection error
 *
 * Return: the "return" value (new reference; {} if QEMU returned nothing),
 * or NULL
 */
cp_json *qmp_client_call_fds(struct qmp_client *c, const char *cmd, cp_json *args, const int *fds,
			     size_t nfds, struct cp_error *err)
{
	struct sync_result r = { 0 };

	if (qmp_client_send(c, cmd, args, fds, nfds, 0, sync_reply, &r, err) < 0)
		return NULL;
	return sync_wait(c, &r, err);
}

/**
 * qmp_client_call() - run a command and wait for its reply
 * @c:		ready client
 * @cmd:	command name
 * @args:	arguments object, stolen; NULL for none
 * @err:	filled on failure
 *
 * Return: the "return" value (new reference), or NULL
 */
cp_json *qmp_client_call(struct qmp_client *c, const char *cmd, cp_json *args, struct cp_error *err)
{
	return qmp_client_call_fds(c, cmd, args, NULL, 0, err);
}

/**
 * qmp_client_hmp() - run an HMP command through human-monitor-command
 * @c:		ready client
 * @cmdline:	HMP command line, e.g. "info network"
 * @err:	filled on failure
 *
 * Return: the command's output (caller frees), or NULL
 */
char *qmp_client_hmp(struct qmp_client *c, const char *cmdline, struct cp_error *err)
{
	cleanup_json cp_json *args = cp_json_new_object();
	cleanup_json cp_json *ret = NULL;
	const char *text;

	if (!args || cp_json_set_str(args, "command-line", cmdline) < 0)
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory"), NULL;
	ret = qmp_client_call(c, "human-monitor-command", steal_pointer(&args), err);
	if (!ret)
		return NULL;
	text = cp_json_as_str(ret);
	if (!text)
		return cp_error_set(err, CP_ERR_PROTOCOL,
				    "human-monitor-command returned no text for '%s'", cmdline),
		       NULL;
	return cp_strdup(text, err);
}

/**
 * qmp_client_wait_event() - wait for an event matching @m
 * @c:		client
 * @m:		what to match
 * @since:	only events after this qmp_client_event_mark()
 * @timeout_ms:	deadline; on expiry CP_ERR_TIMEOUT, and the client stays usable
 * @err:	filled on failure
 *
 * Return: the whole event message (new reference), or NULL
 */
cp_json *qmp_client_wait_event(struct qmp_client *c, const struct qmp_event_match *m,
			       uint64_t since, int timeout_ms, struct cp_error *err)
{
	struct sync_result r = { 0 };

	if (qmp_client_await_event(c, m, since, timeout_ms, sync_reply, &r, err) < 0)
		return NULL;
	return sync_wait(c, &r, err);
}

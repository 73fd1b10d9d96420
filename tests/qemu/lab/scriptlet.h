/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Running an Incus QEMU scriptlet (raw.qemu.scriptlet) as Incus runs it, for
 * the Incus emulator and the stub's unit tests. The Starlark side is the
 * incus-scriptlet runner (tests/starlark: Incus's interpreter, compile
 * options, builtins and monitor behaviour); this side spawns it, hands it the
 * instance and the qemu.conf sections, and carries its QMP commands, one at a
 * time, onto the caller's QMP client: Incus's single monitor connection (QEMU
 * serves one client per monitor socket, so the scriptlet cannot have its own).
 *
 * The runner speaks on its fd 3, a socketpair end: one JSON command per line
 * without "id", answered by one line holding the object QEMU sent back,
 * {"return": ...} or {"error": {"class": ..., "desc": ...}}. When the QMP
 * connection itself fails (end of stream, a latched client), this side closes
 * the socket, and the runner reports what Incus reports then ("Monitor is
 * disconnected"). Incus's reply timeouts (500 ms for most commands) and its
 * query-version ping after an error reply are the runner's.
 *
 * Every command and reply is recorded, like Incus's qemu.qmp.log, and
 * counted: the count includes the pings Incus sends on the scriptlet's
 * behalf, as they cross the monitor too.
 */
#ifndef COLDPLUG_LAB_SCRIPTLET_H
#define COLDPLUG_LAB_SCRIPTLET_H

#include <stdint.h>

#include "coldplug/error.h"
#include "coldplug/json.h"

struct qmp_client;

/*
 * How a command reaches QEMU when the caller routes it itself (the Incus
 * emulator, so that its trace records it): like qmp_client_call(), @args
 * stolen, the "return" value or NULL with @err set.
 */
typedef cp_json *(*lab_scriptlet_call_fn)(void *arg, const char *cmd, cp_json *args,
					  struct cp_error *err);

/* Default deadline of a whole run: the stub may wait minutes for the daemon. */
#define LAB_SCRIPTLET_TIMEOUT_MS (10 * 60 * 1000)

/**
 * struct lab_scriptlet_args - one stage of one scriptlet
 * @qmp:	Incus's monitor connection (borrowed, ready), or NULL when QEMU
 *		is not running (the config stage; QMP builtins then fail as in
 *		Incus)
 * @runner:	path of the incus-scriptlet executable
 * @script:	the scriptlet's source text
 * @stage:	"config", "early", "pre-start" or "post-start"
 * @instance:	api.Instance as Incus marshals it to JSON (borrowed)
 * @conf:	qemu.conf sections, [{"name","comment","entries"}] (borrowed),
 *		or NULL for none
 * @cmdline:	QEMU's arguments, a list of strings (borrowed), or NULL
 * @timeout_ms:	deadline of the whole run; 0 for LAB_SCRIPTLET_TIMEOUT_MS
 * @call:	if not NULL, sends each command instead of qmp_client_call() on
 *		@qmp (which must still be the client it uses)
 * @call_arg:	its first argument
 */
struct lab_scriptlet_args {
	struct qmp_client *qmp;
	const char *runner;
	const char *script;
	const char *stage;
	const cp_json *instance;
	const cp_json *conf;
	const cp_json *cmdline;
	int timeout_ms;
	lab_scriptlet_call_fn call;
	void *call_arg;
};

/**
 * struct lab_scriptlet_result - what a run did; release with
 * lab_scriptlet_result_clear()
 * @calls:	QMP commands sent on the monitor (Incus's pings included)
 * @trace:	every command and its reply, in order: an array of
 *		{"command": {...}, "reply": {...}}, owned ("reply" is missing
 *		where the QMP connection failed instead)
 * @log:	qemu.qmp.log-style text: "[time] QUERY: ..." and "REPLY: ..."
 *		lines and the runner's log_* lines, in the order they came,
 *		owned
 * @conf:	sections after the run (owned), NULL unless it succeeded with
 *		@conf given
 * @cmdline:	arguments after the run (owned), likewise
 * @error:	the runner's error text, exactly as Incus words it (e.g.
 *		"Failed to run: fail: coldplug: ..."), owned; NULL on success
 * @elapsed_ms:	wall time of the run
 */
struct lab_scriptlet_result {
	unsigned calls;
	cp_json *trace;
	char *log;
	cp_json *conf;
	cp_json *cmdline;
	char *error;
	int64_t elapsed_ms;
};

int lab_scriptlet_exec(const struct lab_scriptlet_args *a, struct lab_scriptlet_result *res,
		       struct cp_error *err);
void lab_scriptlet_result_clear(struct lab_scriptlet_result *res);

int lab_scriptlet_run(struct qmp_client *c, const char *runner, const char *script,
		      const char *stage, const cp_json *instance, cp_json **conf, char **log_out,
		      struct cp_error *err);

#endif /* COLDPLUG_LAB_SCRIPTLET_H */

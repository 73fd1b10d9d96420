/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A fake QEMU at the other end of a QMP socket, after libvirt's
 * tests/qemumonitortestutils.c: a script (a FIFO of steps) run by a thread.
 * Steps send the greeting, replies and events, raw bytes, wait, close; or
 * expect a command, compared semantically with the expected one (JSON
 * equality ignoring "id"), optionally with descriptors received with it
 * (SCM_RIGHTS). A reply carries the id of the command matched just before.
 * A client that polls is scripted with one repeated step: the same command
 * N times in a row, each answered with the same reply.
 *
 * The peer fails the test (a TAP failure with the details, from
 * fakepeer_finish()) on anything unexpected: a command other than the one
 * expected, a command when the script expected none, malformed JSON, a
 * command without an id, descriptors not asked for, or any step left unused.
 *
 * Scripts are built in C or loaded from a transcript (tests/data/NAME.qmp):
 * one message per line, "> " client to QEMU (may end with " +fds N"),
 * "< " QEMU to client, "# " comments.
 */
#ifndef COLDPLUG_FAKEPEER_H
#define COLDPLUG_FAKEPEER_H

#include <stdbool.h>
#include <stddef.h>

#include "coldplug/error.h"
#include "coldplug/qmp.h"
#include "coldplug/json.h"

struct fakepeer;

struct fakepeer *fakepeer_new(void);
struct fakepeer *fakepeer_new_fd(int fd);
struct fakepeer *fakepeer_new_listen(const char *path, int delay_ms);
int fakepeer_client_fd(struct fakepeer *fp);
struct qmp_client *fakepeer_connect(struct fakepeer *fp, bool peer_bounds);
int fakepeer_dial(const char *path);
bool fakepeer_send_all(int fd, const char *buf, size_t len);
void fakepeer_set_timeout(struct fakepeer *fp, int ms);

void fakepeer_greeting(struct fakepeer *fp, int major, int minor, int micro);
void fakepeer_negotiate(struct fakepeer *fp);
void fakepeer_identify(struct fakepeer *fp, const char *name, const char *status);
void fakepeer_expect(struct fakepeer *fp, const char *json);
void fakepeer_expect_fds(struct fakepeer *fp, const char *json, size_t nfds, const char *same_as);
void fakepeer_send(struct fakepeer *fp, const char *json);
void fakepeer_reply(struct fakepeer *fp, const char *json);
void fakepeer_reply_split(struct fakepeer *fp, const char *json, size_t at, int delay_ms);
void fakepeer_expect_repeat(struct fakepeer *fp, const char *json, const char *reply, size_t count);
void fakepeer_event(struct fakepeer *fp, const char *name, const char *data);
void fakepeer_raw(struct fakepeer *fp, const void *bytes, size_t len);
void fakepeer_delay(struct fakepeer *fp, int ms);
void fakepeer_close(struct fakepeer *fp);
int fakepeer_load(struct fakepeer *fp, const char *path, struct cp_error *err);

void fakepeer_start(struct fakepeer *fp);
bool fakepeer_wait(struct fakepeer *fp, int timeout_ms);
size_t fakepeer_join(struct fakepeer *fp, char **errors);
bool fakepeer_finish(struct fakepeer *fp, const char *fmt, ...) CP_PRINTF(2, 3);
void fakepeer_free(struct fakepeer *fp);

/**
 * enum transcript_dir - direction of a transcript line
 * @TRANSCRIPT_TO_QEMU:		"> ": a command from the client
 * @TRANSCRIPT_FROM_QEMU:	"< ": greeting, reply or event from QEMU
 */
enum transcript_dir {
	TRANSCRIPT_TO_QEMU,
	TRANSCRIPT_FROM_QEMU,
};

/*
 * Called for each message line of a transcript; @msg is borrowed for the
 * call. A negative return stops the walk.
 */
typedef int (*transcript_fn)(enum transcript_dir dir, cp_json *msg, size_t nfds, int line,
			     void *userdata);

int transcript_each(const char *path, transcript_fn fn, void *userdata, struct cp_error *err);

#endif /* COLDPLUG_FAKEPEER_H */

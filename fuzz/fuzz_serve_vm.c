/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz target: one VM's state machine in coldplug serve (src/serve_vm.c),
 * through the interface serve.c drives it by (serve_vm.h), against a peer that
 * says anything: every QEMU that dials the daemon's socket is such a peer.
 *
 * The input is what the peer writes, cut by action bytes (0x01-0x06, which
 * QMP's JSON never holds raw). The bytes before an action are written to
 * the peer's end of a socketpair, then the action runs:
 *
 *   0x01 DELIVER    the daemon reads (vm_readable())
 *   0x02 TICK       the clock jumps to vm_next_deadline() (1 ms if none)
 *   0x03 STEP       the clock moves 1 ms
 *   0x04 EOF        the peer shuts down its side, the daemon reads to
 *                   the end, and the VM must be over (FUZZ_CHECK)
 *   0x05 LINK_GONE  a direct NIC slot's tap (ifindex 0: never probed) goes
 *   0x06 STALL      the peer stops (or starts again) reading its socket
 *
 * and after each, as serve.c's loop does: vm_timers() at the current time,
 * vm_writable() while the VM wants to write, the peer reads and discards
 * what the daemon wrote, and a VM that is vm_dead() is freed. After the last
 * byte, the rest is delivered and the clock runs through up to SETTLE_TICKS
 * deadlines (poll, watch and reply timeouts fire); then the VM is freed.
 *
 * The clock is cp_clock_set_fake()'s: a run depends on nothing but the
 * input. Tap probes look under a /proc that does not exist (no fork, no
 * netlink). The daemon's socket sends through a small buffer, so that its
 * writes stop half-way and queue. Logs are formatted at debug level and
 * dropped ($FUZZ_SERVE_VM_LOG=1 prints them, with every QMP message).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coldplug/log.h"
#include "fuzz.h"
#include "serve.h"
#include "serve_vm.h"
#include "util.h"

enum fuzz_op {
	FUZZ_OP_DELIVER = 0x01,
	FUZZ_OP_TICK = 0x02,
	FUZZ_OP_STEP = 0x03,
	FUZZ_OP_EOF = 0x04,
	FUZZ_OP_LINK_GONE = 0x05,
	FUZZ_OP_STALL = 0x06,
};

#define FUZZ_T0_MS	  1000000
#define SETTLE_TICKS	  16
#define DAEMON_SNDBUF	  4096
#define EOF_READS	  64
#define MAX_FLUSH_ROUNDS  64
#define FUZZ_NO_PROC	  "/nonexistent/coldplug-fuzz-proc"
#define FUZZ_SERVE_VM_LOG "FUZZ_SERVE_VM_LOG"

/**
 * struct drive - one run: the daemon's side and the peer's
 * @rehome:	the daemon's re-homing options
 * @opts:	what the daemon gives each VM (its rehome points at @rehome)
 * @vm:		the VM, NULL once it was freed
 * @peer:	the peer's end of the socketpair
 * @now:	the fake clock, in ms
 * @stalled:	the peer does not read its socket
 * @eof:	the peer has shut down its side
 */
struct drive {
	struct rehome_opts rehome;
	struct vm_opts opts;
	struct vm *vm;
	int peer;
	int64_t now;
	bool stalled;
	bool eof;
};

/**
 * log_drop() - cp_log_fn that drops every message (formatted all the same)
 * @level:	unused
 * @msg:	unused
 * @userdata:	unused
 */
static void log_drop(enum cp_log_level level, const char *msg, void *userdata)
{
	(void)level;
	(void)msg;
	(void)userdata;
}

/**
 * log_stderr() - cp_log_fn for $FUZZ_SERVE_VM_LOG: one line on stderr
 * @level:	level
 * @msg:	message
 * @userdata:	unused
 */
static void log_stderr(enum cp_log_level level, const char *msg, void *userdata)
{
	(void)userdata;
	fprintf(stderr, "%s: %s\n", cp_log_level_name(level), msg);
}

/**
 * opts_init() - the daemon's defaults (serve_opts_init()), with tap probes
 * kept off the host
 * @d:		run
 * @trace:	log every QMP message
 */
static void opts_init(struct drive *d, bool trace)
{
	rehome_opts_init(&d->rehome);
	d->rehome.apply.proc_root = FUZZ_NO_PROC;
	d->rehome.sel.proc_root = FUZZ_NO_PROC;
	d->opts = (struct vm_opts){ .rehome = &d->rehome,
				    .poll_ms = 100,
				    .watch_ms = 1000,
				    .identify_ms = SERVE_IDENTIFY_MS,
				    .trace = trace };
}

/**
 * peer_read() - the peer reads and discards what the daemon wrote, unless
 * it stalls
 * @d:	run
 */
static void peer_read(struct drive *d)
{
	char buf[16384];
	ssize_t n = (ssize_t)sizeof(buf);

	/* A short read emptied the socket: no recv() only to see EAGAIN. */
	while (!d->stalled && n == (ssize_t)sizeof(buf))
		n = recv(d->peer, buf, sizeof(buf), MSG_DONTWAIT);
}

/**
 * loop_tail() - what serve.c's loop does after an event: the VM's due
 * timers, its queued output while the peer takes it, and the VM freed once
 * it is dead
 * @d:	run
 */
static void loop_tail(struct drive *d)
{
	int i;

	if (!d->vm)
		return;
	vm_timers(d->vm, d->now);
	peer_read(d);
	for (i = 0; i < MAX_FLUSH_ROUNDS && vm_wants_write(d->vm) && !vm_dead(d->vm); i++) {
		vm_writable(d->vm);
		peer_read(d);
	}
	if (vm_dead(d->vm)) {
		vm_free(d->vm);
		d->vm = NULL;
	}
}

/**
 * peer_write() - the peer writes @len bytes; when its socket is full, the
 * daemon reads, and what still does not fit is dropped
 * @d:		run
 * @p:		bytes
 * @len:	their count
 */
static void peer_write(struct drive *d, const uint8_t *p, size_t len)
{
	bool retried = false;

	while (len && !d->eof && d->vm) {
		ssize_t n = send(d->peer, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			retried = false;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (retried || n == 0 || errno != EAGAIN)
			return;
		retried = true;
		vm_readable(d->vm);
		loop_tail(d);
	}
}

/**
 * tick() - move the clock to the VM's next deadline (1 ms when it has none
 * or it has passed)
 * @d:	run
 */
static void tick(struct drive *d)
{
	int64_t next = d->vm ? vm_next_deadline(d->vm) : -1;

	d->now = next > d->now ? next : d->now + 1;
	cp_clock_set_fake(d->now);
}

/**
 * eof() - the peer shuts its side down: the VM must be over once the
 * daemon has read up to the end (every state ends on EOF), or a
 * peer that left would hold one of the --max-vms slots
 * @d:	run
 */
static void eof(struct drive *d)
{
	int i;

	if (!d->eof)
		shutdown(d->peer, SHUT_WR);
	d->eof = true;
	/* epoll reports the socket readable until the daemon reads the end */
	for (i = 0; i < EOF_READS && d->vm; i++) {
		vm_readable(d->vm);
		loop_tail(d);
	}
	FUZZ_CHECK(!d->vm);
}

/**
 * act() - run one action byte, then the loop's tail
 * @d:	run
 * @op:	enum fuzz_op
 */
static void act(struct drive *d, uint8_t op)
{
	if (!d->vm)
		return;
	switch (op) {
	case FUZZ_OP_DELIVER:
		vm_readable(d->vm);
		break;
	case FUZZ_OP_TICK:
		tick(d);
		break;
	case FUZZ_OP_STEP:
		cp_clock_set_fake(++d->now);
		break;
	case FUZZ_OP_EOF:
		eof(d);
		return;
	case FUZZ_OP_LINK_GONE:
		vm_link_gone(d->vm, 0);
		break;
	default:
		d->stalled = !d->stalled;
		break;
	}
	loop_tail(d);
}

/**
 * drive_open() - a fresh daemon-side VM on a socketpair, at time FUZZ_T0_MS
 * @d:		run to set up
 * @trace:	log every QMP message
 *
 * Return: 0, or -1 if the VM could not be made (not a finding)
 */
static int drive_open(struct drive *d, bool trace)
{
	int sv[2], sndbuf = DAEMON_SNDBUF;
	struct cp_error err;

	memset(d, 0, sizeof(*d));
	opts_init(d, trace);
	d->now = FUZZ_T0_MS;
	cp_clock_set_fake(d->now);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	d->peer = sv[1];
	d->vm = vm_new(&d->opts, sv[0], &err);
	if (!d->vm) {
		close(d->peer);
		return -1;
	}
	return 0;
}

/**
 * drive_close() - deliver the end of the input, let the deadlines run out,
 * free the VM
 * @d:	run
 */
static void drive_close(struct drive *d)
{
	int i;

	act(d, FUZZ_OP_DELIVER);
	for (i = 0; i < SETTLE_TICKS && d->vm && vm_next_deadline(d->vm) >= 0; i++)
		act(d, FUZZ_OP_TICK);
	vm_free(d->vm);
	d->vm = NULL;
	close(d->peer);
}

/**
 * is_op() - whether a byte is an action
 * @c:	byte
 *
 * Return: true for 0x01-0x06
 */
static bool is_op(uint8_t c)
{
	return c >= FUZZ_OP_DELIVER && c <= FUZZ_OP_STALL;
}

/**
 * LLVMFuzzerTestOneInput() - one peer, as described at the top
 * @data:	the input
 * @size:	its length
 *
 * Return: 0
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int logging = -1;
	struct drive d;
	size_t i, start = 0;

	if (logging < 0) {
		logging = getenv(FUZZ_SERVE_VM_LOG) != NULL;
		cp_log_set_handler(logging ? log_stderr : log_drop, NULL);
		cp_log_set_level(CP_LOG_DEBUG);
	}
	if (drive_open(&d, logging > 0) < 0)
		return 0;
	for (i = 0; i < size; i++) {
		if (!is_op(data[i]))
			continue;
		peer_write(&d, data + start, i - start);
		act(&d, data[i]);
		start = i + 1;
	}
	peer_write(&d, data + start, size - start);
	drive_close(&d);
	return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * coldplug serve: one single-threaded event loop (epoll, signalfd, deadlines
 * from the QMP clients and per-VM timers) serving every QEMU whose second
 * monitor dials the daemon's socket.
 *
 * serve.c owns the loop, the listening socket and the VM list; serve_vm.c
 * is one VM's state machine:
 *
 *   HANDSHAKE -> IDENTIFY -> WAITING (poll for the stub's request while the
 *   VM is paused) -> REHOMING (the pipeline) -> WATCHING (for Incus detaching
 *   a disk that sits on a slot, or attaching one to the running VM)
 *   <-> RELEASING, <-> ATTACHING
 *
 * and IDLE for a VM that runs without having asked. Every state ends on EOF:
 * QEMU exited, and the VM's state is dropped.
 */
#ifndef COLDPLUG_SERVE_H
#define COLDPLUG_SERVE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "coldplug/error.h"
#include "coldplug/rehome.h"

/**
 * struct serve_opts - the daemon's configuration
 * @socket:		listening socket path
 * @qemu_user:		the user QEMU runs as, who may connect besides root:
 *			a name, "auto" (NULL: incus if it exists, else nobody)
 *			or "root" (nobody else)
 * @rehome:		pipeline defaults for every VM (the stub's request can
 *			override the NIC frontend and name taps)
 * @poll_ms:		how often to look for the stub's request
 * @watch_ms:		how often to look for a detach (query-fdsets)
 * @identify_ms:	deadline for a new connection to say which VM it is
 *			(greeting, negotiation, the identify queries answered;
 *			--handshake-timeout, default SERVE_IDENTIFY_MS)
 * @max_vms:		connections served at once
 * @trace:		log every QMP message
 */
struct serve_opts {
	const char *socket;
	const char *qemu_user;
	struct rehome_opts rehome;
	int poll_ms;
	int watch_ms;
	int identify_ms;
	unsigned max_vms;
	bool trace;
};

/*
 * How long a new connection has, from accept(), to greet, negotiate and
 * answer query-name, query-uuid, query-status and qom-list (the default of
 * --handshake-timeout). QEMU answers them from its main loop as soon as its
 * monitor connects, paused or not: a few ms, and still a small fraction of
 * this on a host busy starting many VMs; and a QEMU that is closed dials
 * again a second later (the profile's reconnect). A peer that never says
 * which VM it is must not hold one of the --max-vms slots for longer.
 */
#define SERVE_IDENTIFY_MS 5000

void serve_opts_init(struct serve_opts *o);
int serve_run(const struct serve_opts *o, struct cp_error *err);

#endif /* COLDPLUG_SERVE_H */

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Host interfaces going away: an rtnetlink socket on the link multicast
 * group, which any process may join without privilege, so that the daemon
 * learns when Incus deletes a VM's tap and can remove QEMU's netdev on it.
 *
 * The kernel may drop notifications when the socket's buffer is full
 * (ENOBUFS). That is reported, not hidden: the caller then checks the
 * interfaces it cares about with linkwatch_exists(). The same check is the
 * one to make when a watch is registered, since a tap deleted before then
 * sent its notification to nobody.
 *
 * Only the network namespace of the process that called linkwatch_open() is
 * watched. A rename is not a deletion and is not reported.
 */
#ifndef COLDPLUG_LINKWATCH_H
#define COLDPLUG_LINKWATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "coldplug/error.h"

/* Datagrams one linkwatch_read() takes at most; the rest wait for the next call. */
#define LINKWATCH_BATCH 64

/* linkwatch_read(): notifications were lost; check the interfaces again. */
#define LINKWATCH_LOST 1

struct linkwatch;

/**
 * typedef linkwatch_fn - told that an interface was deleted
 * @ifindex:	its index (> 0)
 * @ifname:	its name, "" when the kernel's message had none; borrowed,
 *		valid during the call
 * @userdata:	as given to linkwatch_read()
 *
 * Must not close the watch it is called from.
 */
typedef void (*linkwatch_fn)(int ifindex, const char *ifname, void *userdata);

struct linkwatch *linkwatch_open(struct cp_error *err);
int linkwatch_fd(const struct linkwatch *w);
int linkwatch_read(struct linkwatch *w, linkwatch_fn gone, void *userdata, struct cp_error *err);
void linkwatch_close(struct linkwatch *w);
bool linkwatch_exists(int ifindex, const char *ifname);

/* The datagram parser, exported for the unit tests and fuzzing. */
int linkwatch_parse(const void *buf, size_t len, linkwatch_fn gone, void *userdata);

#endif /* COLDPLUG_LINKWATCH_H */

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Host taps: look at one (rtnetlink: is it a tap, persistent, multi-queue,
 * how many queues are attached) and open one new queue on it with Incus's
 * flags, so a fresh single-queue netdev can own every attached queue.
 *
 * Both happen in the network namespace of the QEMU process that holds the
 * tap: TUNSETIFF with a name that does not exist in the caller's namespace
 * silently creates a new tap there. So: enter QEMU's namespace (in a forked
 * child, which hands the descriptor back over SCM_RIGHTS) when it differs
 * from ours, check the interface exists and is a tap before TUNSETIFF, and
 * check afterwards that the queue joined that same interface.
 *
 * The child is never waited for: tapq_start() watches its pidfd on the
 * QMP client's loop (qmp_client_watch_fd()), so coldplug serve goes on
 * serving every other VM while one namespace is slow; at the deadline the
 * child is killed and reaped, and each request fails naming its tap.
 */
#ifndef COLDPLUG_TAPQ_H
#define COLDPLUG_TAPQ_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "coldplug/error.h"
#include "coldplug/qmp.h"

/* How long a namespace helper may take for one batch of requests. */
#define TAPQ_HELPER_TIMEOUT_MS 5000

/**
 * struct tapq_info - what the kernel says about a tap
 * @ifindex:		interface index in its namespace
 * @is_tap:		a tun/tap device in tap mode
 * @persistent:		survives its last queue closing (Incus's taps do)
 * @multi_queue:	created with IFF_MULTI_QUEUE
 * @vnet_hdr:		IFF_VNET_HDR is set now
 * @queues:		queues attached (numqueues)
 * @disabled:		queues open but detached (numdisabled)
 * @master:		the bridge (or other master) it is enslaved to, "" if none
 */
struct tapq_info {
	int ifindex;
	bool is_tap;
	bool persistent;
	bool multi_queue;
	bool vnet_hdr;
	unsigned queues;
	unsigned disabled;
	char master[16];
};

/**
 * struct tapq_target - which tap, and in whose network namespace
 * @ifname:	tap name ("tap1234abcd"); NULL with @tapdev
 * @tapdev:	macvtap character device ("/dev/tap42"); NULL for a tap
 * @pid:	QEMU's pid: its network namespace is used; 0 for ours
 * @proc_root:	"/proc" (tests may pass another)
 */
struct tapq_target {
	const char *ifname;
	const char *tapdev;
	pid_t pid;
	const char *proc_root;
};

/**
 * struct tapq_req - one thing to do with a tap, and its result
 * @t:		which tap (every request of a batch has the same pid)
 * @open:	open a new queue (else only probe)
 * @idle_after:	with @open: refuse unless the tap has no queue open, naming
 *		this ("netdev_del net0") as what should have closed them
 * @rc:		result: 0, or -1 with @err
 * @info:	result: the tap as probed (before the new queue, for @open)
 * @fd:		result: the new queue (the caller closes it), or -1
 * @err:	result: why it failed, naming the tap
 */
struct tapq_req {
	struct tapq_target t;
	bool open;
	const char *idle_after;
	int rc;
	struct tapq_info info;
	int fd;
	struct cp_error err;
};

/* Called once when every request of a tapq_start() batch has its result. */
typedef void (*tapq_fn)(struct tapq_req *reqs, size_t n, void *userdata);

int tapq_start(struct qmp_client *c, struct tapq_req *reqs, size_t n, tapq_fn fn, void *userdata,
	       struct cp_error *err);
void tapq_run(struct tapq_req *reqs, size_t n);
int tapq_probe(const struct tapq_target *t, struct tapq_info *info, struct cp_error *err);
int tapq_open(const struct tapq_target *t, int *fd, struct cp_error *err);

#endif /* COLDPLUG_TAPQ_H */

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The tap helper (lib/tapq.c) on taps this test creates, in network
 * namespaces of its own (unshare(CLONE_NEWNET) at start: no host interface
 * is ever seen or touched):
 *
 * - a tap in our namespace is probed in place: kind, flags, queues;
 * - a "QEMU" (a child) in another namespace: its tap is found there and a
 *   tap of ours is not (the helper entered its namespace, it did not look
 *   in ours);
 * - without CAP_SYS_ADMIN (as coldplug serve runs), the helper refuses at
 *   once, naming the capability, instead of forking a child whose setns()
 *   can only fail and waiting for it.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "tap.h"
#include "tapq.h"
#include "util.h"

/**
 * tap_create() - a persistent multi-queue tap with one queue open, as
 * Incus's are while QEMU runs
 * @name:	its name
 *
 * Return: the open queue (the caller closes it), or -1 with errno
 */
static int tap_create(const char *name)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	struct ifreq ifr = { 0 };

	if (fd < 0)
		return -1;
	cp_strlcpy(ifr.ifr_name, name, sizeof(ifr.ifr_name));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, 1) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/**
 * qemu_elsewhere() - a child in a network namespace of its own, holding a
 * tap there, until killed
 * @name:	its tap's name
 *
 * Return: its pid, once its tap exists; bails out on failure
 */
static pid_t qemu_elsewhere(const char *name)
{
	int ready[2];
	char c = 0;
	pid_t pid;

	if (pipe2(ready, O_CLOEXEC) < 0)
		bail_out("pipe2: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		c = unshare(CLONE_NEWNET) == 0 && tap_create(name) >= 0;
		if (write(ready[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1 || !c)
		bail_out("the child could not make tap %s in a namespace of its own", name);
	close(ready[0]);
	return pid;
}

/**
 * test_here() - a tap in our own namespace
 */
static void test_here(void)
{
	cleanup_close int q = tap_create("cpq-here");
	struct tapq_target t = { .ifname = "cpq-here", .proc_root = "/proc" };
	struct tapq_info info = { 0 };
	struct cp_error err = { 0 };

	if (q < 0)
		bail_out("create tap cpq-here: %s", strerror(errno));
	ok(tapq_probe(&t, &info, &err) == 0, "here: probed (%s)", err.msg);
	ok(info.is_tap && info.persistent && info.multi_queue && info.vnet_hdr,
	   "here: a persistent multi-queue tap with a vnet header");
	is_int(info.queues, 1, "here: one queue attached");
	is_int(info.ifindex, if_nametoindex("cpq-here"), "here: its ifindex");
	t.ifname = "cpq-none";
	ok(tapq_probe(&t, &info, &err) < 0 && err.sys_errno == ENODEV,
	   "here: a tap that does not exist is ENODEV (%s)", err.msg);
}

/**
 * test_elsewhere() - QEMU in another namespace, with and without the
 * capability that enters it
 * @pid:	the child of qemu_elsewhere("cpq-there")
 */
static void test_elsewhere(pid_t pid)
{
	struct tapq_target t = { .ifname = "cpq-there", .pid = pid, .proc_root = "/proc" };
	struct tapq_info info = { 0 };
	struct cp_error err = { 0 };
	int64_t t0;
	int st, fd;
	pid_t child;

	ok(tapq_probe(&t, &info, &err) == 0 && info.is_tap && info.queues == 1,
	   "elsewhere: QEMU's tap, probed in QEMU's namespace (%s)", err.msg);
	t.ifname = "cpq-here";
	ok(tapq_probe(&t, &info, &err) < 0 && err.sys_errno == ENODEV,
	   "elsewhere: a tap of our namespace is not found in QEMU's (%s)", err.msg);

	/* In a child, so that the rest of the test keeps the capability. */
	child = fork();
	if (child < 0)
		bail_out("fork: %s", strerror(errno));
	if (child == 0) {
		struct cp_error e = { 0 };
		bool dropped = cp_cap_drop(CAP_SYS_ADMIN, &e) == 0 &&
			       !cp_cap_effective(CAP_SYS_ADMIN);
		bool refused;

		t.ifname = "cpq-there";
		t0 = cp_now_ms();
		refused = tapq_open(&t, &fd, &e) < 0 && e.sys_errno == EPERM &&
			  strstr(e.msg, "another network namespace") &&
			  strstr(e.msg, "CAP_SYS_ADMIN, which this process does not hold");
		_exit((dropped ? 0 : 1) | (refused ? 0 : 2) | (cp_now_ms() - t0 < 100 ? 0 : 4));
	}
	if (waitpid(child, &st, 0) != child || !WIFEXITED(st))
		bail_out("the capability child did not exit");
	ok(!(WEXITSTATUS(st) & 1), "no CAP_SYS_ADMIN: cp_cap_drop() gives it up for good");
	ok(!(WEXITSTATUS(st) & 2),
	   "no CAP_SYS_ADMIN: refused by the parent, naming the capability (no helper forked)");
	ok(!(WEXITSTATUS(st) & 4), "no CAP_SYS_ADMIN: refused within 100 ms");
}

/**
 * main() - run the tests
 *
 * Return: TAP exit status
 */
int main(void)
{
	cleanup_close int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	pid_t qemu;
	int st;

	if (unshare(CLONE_NEWNET) < 0 || fd < 0 || !cp_cap_effective(CAP_SYS_ADMIN)) {
		skip(1, "needs root: a network namespace of its own (unshare: %s) and /dev/net/tun",
		     strerror(errno));
		return done_testing();
	}
	test_here();
	qemu = qemu_elsewhere("cpq-there");
	test_elsewhere(qemu);
	kill(qemu, SIGKILL);
	waitpid(qemu, &st, 0);
	return done_testing();
}

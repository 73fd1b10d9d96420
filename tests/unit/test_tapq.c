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
 *   can only fail and waiting for it;
 * - tapq_start() never waits for the helper: its answer comes through the
 *   QMP client's loop (a batch larger than one helper takes, in order); a
 *   helper that hangs (the test hook COLDPLUG_TEST_TAPQ_STALL) is killed
 *   and reaped at its deadline, or at once when its client fails, and each
 *   request fails naming its tap; the synchronous tapq_run() is bounded by
 *   the same deadline.
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
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "coldplug/qmp.h"
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

/* How long a hung helper lives (lib/tapq.h), and the slack allowed. */
#define HELPER_MS TAPQ_HELPER_TIMEOUT_MS
#define SLACK_MS  1500

/**
 * children() - how many children this process has, zombies included
 *
 * Return: their count
 */
static int children(void)
{
	char path[64], buf[4096];
	FILE *f;
	size_t n;
	int count = 0;
	char *p, *save = NULL;

	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
	f = fopen(path, "r");
	if (!f)
		bail_out("%s: %s", path, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (p = strtok_r(buf, " \n", &save); p; p = strtok_r(NULL, " \n", &save))
		count++;
	return count;
}

/**
 * struct done - what a tapq_fn saw
 * @called:	how many times it was called
 * @at:		cp_now_ms() of the call
 */
struct done {
	int called;
	int64_t at;
};

/**
 * on_done() - tapq_fn for the tests
 * @reqs:	the requests
 * @n:		their count
 * @userdata:	struct done
 */
static void on_done(struct tapq_req *reqs, size_t n, void *userdata)
{
	struct done *d = userdata;

	(void)reqs;
	(void)n;
	d->called++;
	d->at = cp_now_ms();
}

/**
 * client_new() - a QMP client whose peer says nothing: only its loop is used
 * @peer:	set to the other end (the caller closes it)
 *
 * Return: the client; bails out on failure
 */
static struct qmp_client *client_new(int *peer)
{
	struct qmp_client *c;
	struct cp_error err;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		bail_out("socketpair: %s", strerror(errno));
	c = qmp_client_new(sv[0], NULL, &err);
	if (!c)
		bail_out("qmp_client_new: %s", err.msg);
	*peer = sv[1];
	return c;
}

/**
 * drive() - run the client's loop until @d is called or @max_ms pass
 * @c:		client
 * @d:		completion record
 * @max_ms:	bound
 * @longest:	set to the longest single turn of the loop, in ms
 */
static void drive(struct qmp_client *c, const struct done *d, int max_ms, int64_t *longest)
{
	int64_t end = cp_now_ms() + max_ms, t;

	*longest = 0;
	while (!d->called && cp_now_ms() < end) {
		t = cp_now_ms();
		qmp_client_dispatch(c, 50, NULL);
		if (cp_now_ms() - t > *longest)
			*longest = cp_now_ms() - t;
	}
}

/**
 * test_async() - tapq_start(): answered through the client's loop, in
 * batches; a refused open names what should have closed the queues
 * @pid:	the child of qemu_elsewhere("cpq-there")
 */
static void test_async(pid_t pid)
{
	struct tapq_req reqs[11];
	struct done d = { 0 };
	struct cp_error err;
	int64_t longest;
	int peer, rc;
	size_t i, good = 0;
	struct qmp_client *c = client_new(&peer);

	memset(reqs, 0, sizeof(reqs));
	for (i = 0; i < 11; i++)
		reqs[i].t = (struct tapq_target){ .ifname = i % 2 ? "cpq-none" : "cpq-there",
						  .pid = pid,
						  .proc_root = "/proc" };
	rc = tapq_start(c, reqs, 11, on_done, &d, &err);
	ok(rc == 0 && !d.called, "async: a batch in another namespace goes to helpers (rc %d)", rc);
	drive(c, &d, HELPER_MS, &longest);
	for (i = 0; i < 11; i++)
		good += i % 2 ? reqs[i].rc < 0 && reqs[i].err.sys_errno == ENODEV
			      : reqs[i].rc == 0 && reqs[i].info.is_tap && reqs[i].fd < 0;
	ok(d.called == 1 && good == 11,
	   "async: 11 probes (two helpers) each answered, in order (%zu right)", good);
	is_int(children(), 1, "async: the helpers are reaped (only our fake QEMU is left)");

	memset(reqs, 0, sizeof(reqs));
	reqs[0].t = (struct tapq_target){ .ifname = "cpq-there", .pid = pid, .proc_root = "/proc" };
	reqs[0].open = true;
	reqs[0].idle_after = "netdev_del net0";
	d.called = 0;
	rc = tapq_start(c, reqs, 1, on_done, &d, &err);
	drive(c, &d, HELPER_MS, &longest);
	ok(rc == 0 && d.called == 1 && reqs[0].rc < 0 && reqs[0].fd < 0 &&
		   strstr(reqs[0].err.msg, "tap cpq-there still has 1 queue open after netdev_del "
					   "net0"),
	   "async: no queue opened on a tap whose queues are not all closed (%s)", reqs[0].err.msg);
	qmp_client_free(c);
	close(peer);
}

/**
 * test_hang() - a helper that never answers: the loop goes on, the helper
 * is killed and reaped at its deadline (or at once when its client
 * fails), and the request names its tap
 * @pid:	the child of qemu_elsewhere("cpq-there")
 */
static void test_hang(pid_t pid)
{
	struct tapq_req r = { .t = { .ifname = "cpq-there", .pid = pid, .proc_root = "/proc" } };
	struct tapq_req many[12];
	struct done d = { 0 };
	struct cp_error err;
	int64_t t0, longest;
	size_t i, untried = 0;
	int peer, rc;
	struct qmp_client *c = client_new(&peer);

	setenv("COLDPLUG_TEST_TAPQ_STALL", "cpq-there", 1);
	t0 = cp_now_ms();
	rc = tapq_start(c, &r, 1, on_done, &d, &err);
	ok(rc == 0 && cp_now_ms() - t0 < 200, "hang: tapq_start() returns at once (%lld ms)",
	   (long long)(cp_now_ms() - t0));
	is_int(children(), 2, "hang: its helper runs");
	ok(qmp_client_next_deadline(c) >= 0 && qmp_client_next_deadline(c) <= t0 + HELPER_MS + 50,
	   "hang: the client's loop has the helper's deadline");
	drive(c, &d, HELPER_MS + SLACK_MS, &longest);
	ok(d.called == 1 && d.at - t0 >= HELPER_MS - 100 && d.at - t0 <= HELPER_MS + SLACK_MS,
	   "hang: given up at its deadline (%lld ms)", (long long)(d.at - t0));
	ok(longest <= 300, "hang: the loop never waited for the helper (longest turn %lld ms)",
	   (long long)longest);
	ok(r.rc < 0 && r.err.code == CP_ERR_TIMEOUT && strstr(r.err.msg, "tap cpq-there") &&
		   strstr(r.err.msg, "killed"),
	   "hang: the request fails naming its tap (%s)", r.err.msg);
	is_int(children(), 1, "hang: the helper is killed and reaped (no zombie)");

	d.called = 0;
	rc = tapq_start(c, &r, 1, on_done, &d, &err);
	cp_error_set(&err, CP_ERR_EOF, "QEMU closed the connection");
	t0 = cp_now_ms();
	qmp_client_fail(c, &err);
	ok(rc == 0 && d.called == 1 && cp_now_ms() - t0 < 500 && r.rc < 0 &&
		   strstr(r.err.msg, "tap cpq-there") && strstr(r.err.msg, "killed"),
	   "hang: its client failing kills the helper at once (%s)", r.err.msg);
	is_int(children(), 1, "hang: and reaps it");
	qmp_client_free(c);
	close(peer);

	memset(many, 0, sizeof(many));
	for (i = 0; i < 12; i++)
		many[i].t = r.t;
	t0 = cp_now_ms();
	tapq_run(many, 12);
	for (i = 1; i < 12; i++)
		untried += many[i].rc < 0 && strstr(many[i].err.msg, "not tried");
	ok(many[0].rc < 0 && many[0].err.code == CP_ERR_TIMEOUT && untried == 11 - 7 &&
		   cp_now_ms() - t0 <= HELPER_MS + SLACK_MS,
	   "hang: tapq_run() (the command line) is bounded by the same deadline, once for a "
	   "batch of two helpers: the second is not tried (%lld ms)",
	   (long long)(cp_now_ms() - t0));
	is_int(children(), 1, "hang: tapq_run() reaps its helper too");
	unsetenv("COLDPLUG_TEST_TAPQ_STALL");
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
	test_async(qemu);
	test_hang(qemu);
	kill(qemu, SIGKILL);
	waitpid(qemu, &st, 0);
	return done_testing();
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Host taps: see tapq.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "coldplug/fdpass.h"
#include "coldplug/log.h"
#include "tapq.h"
#include "util.h"

/* Requests one helper runs; more go to the next helper, in turn. */
#define TAPQ_MAX_REQS 8
/* How long a killed helper may take to die (it only ever takes longer in
 * an uninterruptible sleep in the kernel; it is then left to a later
 * reap, and said so). */
#define TAPQ_REAP_MS 200
/* Test hook: a helper whose request names this tap (or macvtap device)
 * sleeps until killed, as one stuck in a slow namespace would
 * (tests/security/test_tap_helper.c, tests/unit/test_tapq.c, test_apply.c). */
#define TAPQ_STALL_ENV "COLDPLUG_TEST_TAPQ_STALL"

/**
 * nl_put_ifname() - append IFLA_IFNAME to a request
 * @nh:		request header (its length grows)
 * @cap:	request buffer size
 * @name:	interface name
 */
static void nl_put_ifname(struct nlmsghdr *nh, size_t cap, const char *name)
{
	struct rtattr *rta = (struct rtattr *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len));
	size_t len = strlen(name) + 1;

	if (NLMSG_ALIGN(nh->nlmsg_len) + RTA_SPACE(len) > cap)
		return;
	rta->rta_type = IFLA_IFNAME;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), name, len);
	nh->nlmsg_len = (unsigned)(NLMSG_ALIGN(nh->nlmsg_len) + RTA_SPACE(len));
}

/**
 * parse_tun_data() - IFLA_INFO_DATA of a tun device
 * @rta:	first attribute
 * @len:	bytes of attributes
 * @info:	filled
 */
static void parse_tun_data(struct rtattr *rta, int len, struct tapq_info *info)
{
	for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		unsigned char u8 = *(unsigned char *)RTA_DATA(rta);
		unsigned u32 = 0;

		if (RTA_PAYLOAD(rta) >= 4)
			memcpy(&u32, RTA_DATA(rta), 4);
		switch (rta->rta_type) {
		case IFLA_TUN_TYPE:
			info->is_tap = u8 == IFF_TAP;
			break;
		case IFLA_TUN_PERSIST:
			info->persistent = u8;
			break;
		case IFLA_TUN_MULTI_QUEUE:
			info->multi_queue = u8;
			break;
		case IFLA_TUN_VNET_HDR:
			info->vnet_hdr = u8;
			break;
		case IFLA_TUN_NUM_QUEUES:
			info->queues = u32;
			break;
		case IFLA_TUN_NUM_DISABLED_QUEUES:
			info->disabled = u32;
			break;
		default:
			break;
		}
	}
}

/**
 * parse_linkinfo() - IFLA_LINKINFO: a "tun" kind with its data
 * @rta:	first nested attribute
 * @len:	bytes of attributes
 * @info:	filled
 */
static void parse_linkinfo(struct rtattr *rta, int len, struct tapq_info *info)
{
	bool tun = false;

	for (; RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type == IFLA_INFO_KIND)
			tun = !strncmp(RTA_DATA(rta), "tun", RTA_PAYLOAD(rta));
		else if (rta->rta_type == IFLA_INFO_DATA && tun)
			parse_tun_data(RTA_DATA(rta), (int)RTA_PAYLOAD(rta), info);
	}
}

/**
 * parse_newlink() - an RTM_NEWLINK answer
 * @nh:		the message
 * @info:	filled
 */
static void parse_newlink(struct nlmsghdr *nh, struct tapq_info *info)
{
	struct ifinfomsg *ifi = NLMSG_DATA(nh);
	int len = (int)IFLA_PAYLOAD(nh);
	struct rtattr *rta;

	info->ifindex = ifi->ifi_index;
	for (rta = IFLA_RTA(ifi); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		unsigned master = 0;

		if (rta->rta_type == IFLA_LINKINFO)
			parse_linkinfo(RTA_DATA(rta), (int)RTA_PAYLOAD(rta), info);
		if (rta->rta_type == IFLA_MASTER && RTA_PAYLOAD(rta) >= 4) {
			memcpy(&master, RTA_DATA(rta), 4);
			if (!if_indextoname(master, info->master))
				info->master[0] = '\0';
		}
	}
}

/**
 * nl_link_info() - ask rtnetlink about interface @name in our namespace
 * @name:	interface name
 * @info:	filled on success (zeroed first)
 * @err:	filled on failure (ENODEV when there is no such interface)
 *
 * Return: 0, or -1
 */
static int nl_link_info(const char *name, struct tapq_info *info, struct cp_error *err)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
		char attrs[64];
	} req = { 0 };
	char buf[16384];
	cleanup_close int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	struct nlmsghdr *nh;
	ssize_t n;

	memset(info, 0, sizeof(*info));
	if (s < 0)
		return cp_error_set_errno(err, errno, "netlink socket");
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
	req.nh.nlmsg_type = RTM_GETLINK;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.ifi.ifi_family = AF_UNSPEC;
	nl_put_ifname(&req.nh, sizeof(req), name);
	if (send(s, &req, req.nh.nlmsg_len, 0) < 0)
		return cp_error_set_errno(err, errno, "netlink request for %s", name);
	n = recv(s, buf, sizeof(buf), 0);
	if (n < 0)
		return cp_error_set_errno(err, errno, "netlink answer for %s", name);
	for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n); nh = NLMSG_NEXT(nh, n)) {
		if (nh->nlmsg_type == NLMSG_ERROR) {
			struct nlmsgerr *e = NLMSG_DATA(nh);

			if (e->error)
				return cp_error_set_errno(err, -e->error, "interface %s", name);
		} else if (nh->nlmsg_type == RTM_NEWLINK) {
			parse_newlink(nh, info);
			return 0;
		}
	}
	return cp_error_set(err, CP_ERR_SYSTEM, "interface %s: no answer from netlink", name);
}

/**
 * probe_here() - describe the tap, in the current namespace
 * @t:		target
 * @info:	filled
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int probe_here(const struct tapq_target *t, struct tapq_info *info, struct cp_error *err)
{
	struct stat st;

	if (t->tapdev) {
		memset(info, 0, sizeof(*info));
		if (stat(t->tapdev, &st) < 0)
			return cp_error_set_errno(err, errno, "macvtap device %s", t->tapdev);
		if (!S_ISCHR(st.st_mode))
			return cp_error_set(err, CP_ERR_INVALID, "%s is not a character device",
					    t->tapdev);
		return 0;
	}
	if (nl_link_info(t->ifname, info, err) < 0)
		return -1;
	if (!info->is_tap)
		return cp_error_set(err, CP_ERR_INVALID, "host interface %s is not a tap device",
				    t->ifname);
	return 0;
}

/**
 * open_queue_here() - attach one new queue, in the current namespace
 * @t:		target
 * @idle_after:	if set, refuse a tap that still has queues open after it
 * @info:	filled with the tap's state before the queue was added
 * @fd:		set to the new queue
 * @err:	filled on failure
 *
 * After netdev_del every queue of the manager's netdev is closed, so the
 * tap must show none. If it still shows some, something other than this
 * QEMU holds queues of it (or it is not the tap we think): attaching would
 * leave those queues stalling traffic, so refuse.
 *
 * Return: 0, or -1
 */
static int open_queue_here(const struct tapq_target *t, const char *idle_after,
			   struct tapq_info *info, int *fd, struct cp_error *err)
{
	struct ifreq ifr = { 0 };
	cleanup_close int q = -1;
	unsigned idx, nopen;

	if (probe_here(t, info, err) < 0)
		return -1;
	nopen = info->queues + info->disabled;
	if (idle_after && t->ifname && nopen)
		return cp_error_set(err, CP_ERR_FAILED,
				    "tap %s still has %u queue%s open after %s: another process "
				    "holds queues of it; not attaching",
				    t->ifname, nopen, nopen == 1 ? "" : "s", idle_after);
	if (t->tapdev) {
		q = open(t->tapdev, O_RDWR | O_CLOEXEC);
		if (q < 0)
			return cp_error_set_errno(err, errno, "open %s", t->tapdev);
		*fd = steal_fd(&q);
		return 0;
	}
	q = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (q < 0)
		return cp_error_set_errno(err, errno, "open /dev/net/tun");
	cp_strlcpy(ifr.ifr_name, t->ifname, sizeof(ifr.ifr_name));
	/* Incus's flags (devFile() in its tap hook); IFF_ONE_QUEUE is ignored
	 * by the kernel but kept for parity. */
	ifr.ifr_flags = (short)(IFF_TAP | IFF_NO_PI | IFF_ONE_QUEUE | IFF_VNET_HDR |
				(info->multi_queue ? IFF_MULTI_QUEUE : 0));
	if (ioctl(q, TUNSETIFF, &ifr) < 0)
		return cp_error_set_errno(err, errno,
					  "attach a queue to %s (TUNSETIFF; needs CAP_NET_ADMIN)",
					  t->ifname);
	idx = if_nametoindex(t->ifname);
	if ((int)idx != info->ifindex)
		return cp_error_set(
			err, CP_ERR_FAILED,
			"tap %s changed while its queue was opened (ifindex %d, now %u)", t->ifname,
			info->ifindex, idx);
	*fd = steal_fd(&q);
	return 0;
}

/**
 * same_netns() - whether process @pid shares our network namespace
 * @t:		target (pid, proc_root)
 * @nsfd:	set to an open descriptor of its namespace when it differs
 * @err:	filled on failure
 *
 * When the kernel does not let us look (no ptrace access to QEMU), assume
 * it is ours: that is where Incus and QEMU keep taps on a real host, and
 * the interface checks that follow catch the rest.
 *
 * Return: 1 same, 0 different, -1 error
 */
static int same_netns(const struct tapq_target *t, int *nsfd, struct cp_error *err)
{
	char path[256];
	struct stat mine, theirs;

	*nsfd = -1;
	if (t->pid <= 0)
		return 1;
	snprintf(path, sizeof(path), "%s/%d/ns/net", t->proc_root ? t->proc_root : "/proc",
		 (int)t->pid);
	if (stat(path, &theirs) < 0) {
		if (errno == EACCES || errno == EPERM)
			return 1;
		return cp_error_set_errno(err, errno, "QEMU process %d", (int)t->pid);
	}
	if (stat("/proc/self/ns/net", &mine) < 0)
		return cp_error_set_errno(err, errno, "/proc/self/ns/net");
	if (mine.st_ino == theirs.st_ino && mine.st_dev == theirs.st_dev)
		return 1;
	*nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (*nsfd < 0)
		return cp_error_set_errno(err, errno, "open %s", path);
	return 0;
}

/**
 * req_here() - carry out one request in the current namespace
 * @r:	request; its results are filled
 */
static void req_here(struct tapq_req *r)
{
	r->fd = -1;
	if (r->open)
		r->rc = open_queue_here(&r->t, r->idle_after, &r->info, &r->fd, &r->err);
	else
		r->rc = probe_here(&r->t, &r->info, &r->err);
}

/**
 * req_name() - the tap a request is about, for messages
 * @r:	request
 *
 * Return: borrowed string
 */
static const char *req_name(const struct tapq_req *r)
{
	return r->t.ifname ? r->t.ifname : r->t.tapdev ? r->t.tapdev : "?";
}

/**
 * fail_range() - fail requests @first .. @first + @count - 1 with @e
 * @reqs:	requests
 * @first:	the first to fail
 * @count:	how many
 * @e:		why (each copy is prefixed with its tap)
 */
static void fail_range(struct tapq_req *reqs, size_t first, size_t count, const struct cp_error *e)
{
	size_t i;

	for (i = first; i < first + count; i++) {
		reqs[i].rc = -1;
		reqs[i].fd = -1;
		cp_error_copy(&reqs[i].err, e);
		cp_error_prefix(&reqs[i].err, "tap %s", req_name(&reqs[i]));
	}
}

/* One request's result, as the namespace helper sends it back. */
struct child_result {
	int rc;
	bool has_fd;
	struct tapq_info info;
	struct cp_error err;
};

/**
 * struct tapq_job - a batch of requests, run by helpers in QEMU's namespace
 * @c:		the client whose loop watches the helper; NULL for tapq_run()
 * @reqs:	every request (borrowed until @fn)
 * @n:		their count
 * @first:	the first request of the helper in flight
 * @count:	how many it runs
 * @nsfd:	QEMU's network namespace (owned)
 * @pid:	the helper, 0 when none runs
 * @pidfd:	its pidfd, readable once it has exited (owned while @pid runs)
 * @sock:	our end of its reply socket (owned while @pid runs)
 * @hung:	a helper of this job did not answer: the rest are not tried
 *		(the namespace hangs; each would cost another deadline)
 * @fn:		completion (tapq_start())
 * @userdata:	for @fn
 */
struct tapq_job {
	struct qmp_client *c;
	struct tapq_req *reqs;
	size_t n;
	size_t first;
	size_t count;
	int nsfd;
	pid_t pid;
	int pidfd;
	int sock;
	bool hung;
	tapq_fn fn;
	void *userdata;
};

/**
 * close_except() - in the helper: close every descriptor but two (and
 * stdio), so that a helper that hangs holds no other VM's connection (its
 * QEMU's hang-up would go unseen) nor another helper's pidfd
 * @a:	one to keep
 * @b:	the other
 */
static void close_except(int a, int b)
{
	unsigned lo = (unsigned)(a < b ? a : b), hi = (unsigned)(a < b ? b : a);

	if (lo > 3)
		close_range(3, lo - 1, 0);
	if (hi > lo + 1)
		close_range(lo + 1, hi - 1, 0);
	close_range(hi + 1, ~0U, 0);
}

/**
 * helper_main() - in the helper: enter the namespace, run the requests of
 * the batch, reply with their results and the queues opened, exit
 * @job:	the job (the parent's copy)
 * @parent:	the parent's pid, to notice it died before PR_SET_PDEATHSIG
 * @sock:	our end of the reply socket
 */
static _Noreturn void helper_main(const struct tapq_job *job, pid_t parent, int sock)
{
	struct child_result res[TAPQ_MAX_REQS];
	const char *stall = getenv(TAPQ_STALL_ENV);
	int fds[TAPQ_MAX_REQS], e;
	size_t i, nfds = 0;
	bool entered;

	memset(res, 0, sizeof(res));
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(1);
	close_except(sock, job->nsfd);
	entered = setns(job->nsfd, CLONE_NEWNET) == 0;
	e = errno;
	for (i = 0; !entered && i < job->count; i++)
		res[i].rc = cp_error_set_errno(
			&res[i].err, e, "enter QEMU's network namespace (needs CAP_SYS_ADMIN)");
	for (i = 0; entered && i < job->count; i++) {
		struct tapq_req r = job->reqs[job->first + i];

		while (stall && !strcmp(stall, req_name(&r)))
			pause();
		req_here(&r);
		res[i].rc = r.rc;
		res[i].info = r.info;
		res[i].err = r.err;
		if (r.fd >= 0) {
			res[i].has_fd = true;
			fds[nfds++] = r.fd;
		}
	}
	fdpass_send(sock, res, sizeof(res[0]) * job->count, nfds ? fds : NULL, nfds, NULL);
	_exit(0);
}

/**
 * helper_reap() - reap the helper, killing it first if it is still running
 * @job:	job with a helper
 * @kill_it:	whether to kill it (its deadline passed, or its VM is gone)
 *
 * A helper that was not killed has exited (its pidfd was readable), and a
 * killed one dies at once unless it sleeps in the kernel: the wait is
 * bounded by TAPQ_REAP_MS either way.
 */
static void helper_reap(struct tapq_job *job, bool kill_it)
{
	struct pollfd p = { .fd = job->pidfd, .events = POLLIN };

	if (kill_it && pidfd_send_signal(job->pidfd, SIGKILL, NULL, 0) < 0)
		kill(job->pid, SIGKILL);
	poll(&p, 1, kill_it ? TAPQ_REAP_MS : 0);
	if (waitpid(job->pid, NULL, WNOHANG) != job->pid)
		cp_log_warn("tap helper pid %d has not exited %d ms after SIGKILL; it stays a "
			    "zombie until it does",
			    (int)job->pid, TAPQ_REAP_MS);
	close(job->pidfd);
	close(job->sock);
	job->pid = 0;
}

/**
 * chunk_start() - fork a helper for the next requests
 * @job:	job, with @first the next request to run
 *
 * Return: 0 with the helper running, or -1 with those requests failed and
 * @first moved past them
 */
static int chunk_start(struct tapq_job *job)
{
	pid_t parent = getpid();
	struct cp_error e;
	int sv[2];

	job->count = job->n - job->first < TAPQ_MAX_REQS ? job->n - job->first : TAPQ_MAX_REQS;
	if (job->c && qmp_client_error(job->c)) {
		cp_error_copy(&e, qmp_client_error(job->c));
		goto fail;
	}
	if (job->hung) {
		cp_error_set(&e, CP_ERR_TIMEOUT,
			     "not tried: the helper in QEMU's network namespace before it did not "
			     "answer");
		goto fail;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		cp_error_set_errno(&e, errno, "tap helper: socketpair");
		goto fail;
	}
	job->pid = fork();
	if (job->pid == 0) {
		close(sv[0]);
		helper_main(job, parent, sv[1]);
	}
	close(sv[1]);
	job->sock = sv[0];
	if (job->pid < 0) {
		cp_error_set_errno(&e, errno, "tap helper: fork");
		close(sv[0]);
		job->pid = 0;
		goto fail;
	}
	job->pidfd = pidfd_open(job->pid, 0);
	if (job->pidfd < 0 || fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0) {
		cp_error_set_errno(&e, errno, "tap helper: pidfd_open");
		kill(job->pid, SIGKILL);
		waitpid(job->pid, NULL, 0); /* SIGKILLed child of ours: dies at once */
		if (job->pidfd >= 0)
			close(job->pidfd);
		close(sv[0]);
		job->pid = 0;
		goto fail;
	}
	return 0;
fail:
	fail_range(job->reqs, job->first, job->count, &e);
	job->first += job->count;
	return -1;
}

/**
 * chunk_results() - take the helper's answer into the requests it ran
 * @job:	job whose helper has exited
 * @err:	filled when there is no (complete) answer
 *
 * Return: 0, or -1
 */
static int chunk_results(struct tapq_job *job, struct cp_error *err)
{
	struct child_result res[TAPQ_MAX_REQS];
	int fds[TAPQ_MAX_REQS];
	size_t nfds = TAPQ_MAX_REQS, i, k = 0;
	long n = fdpass_recv(job->sock, res, sizeof(res), fds, &nfds, err);

	if (n != (long)(sizeof(res[0]) * job->count)) {
		for (i = 0; n >= 0 && i < nfds; i++)
			close(fds[i]);
		return cp_error_set(err, CP_ERR_SYSTEM,
				    "the tap helper (pid %d) exited without an answer",
				    (int)job->pid);
	}
	for (i = 0; i < job->count; i++) {
		struct tapq_req *r = &job->reqs[job->first + i];

		r->rc = res[i].rc;
		r->info = res[i].info;
		r->fd = res[i].has_fd && k < nfds ? fds[k++] : -1;
		if (r->rc < 0)
			cp_error_copy(&r->err, &res[i].err);
	}
	while (k < nfds)
		close(fds[k++]);
	return 0;
}

/**
 * chunk_end() - the helper exited, or must go: results, then reap it
 * @job:	job with a helper
 * @e:		NULL when its pidfd is readable (it has exited), else why it
 *		is killed (CP_ERR_TIMEOUT: its deadline)
 */
static void chunk_end(struct tapq_job *job, const struct cp_error *e)
{
	struct cp_error re;
	int pid = (int)job->pid;

	if (!e && chunk_results(job, &re) == 0) {
		helper_reap(job, false);
		job->first += job->count;
		return;
	}
	helper_reap(job, e != NULL);
	if (e && e->code == CP_ERR_TIMEOUT) {
		job->hung = true;
		cp_error_set(
			&re, CP_ERR_TIMEOUT,
			"the helper in QEMU's network namespace (pid %d) did not answer within "
			"%d ms: killed",
			pid, TAPQ_HELPER_TIMEOUT_MS);
		cp_log_warn("tap %s%s of QEMU pid %d: %s", req_name(&job->reqs[job->first]),
			    job->count > 1 ? " (and others)" : "", (int)job->reqs[job->first].t.pid,
			    re.msg);
	} else if (e) {
		cp_error_set(&re, e->code,
			     "the helper in QEMU's network namespace (pid %d) was killed: %s", pid,
			     e->msg);
	}
	fail_range(job->reqs, job->first, job->count, &re);
	job->first += job->count;
}

/**
 * batch_prepare() - clear the results; run the batch here when QEMU's
 * namespace is ours, or fail it when it cannot be entered
 * @reqs:	requests
 * @n:		their count
 * @nsfd:	set to QEMU's namespace when a helper must run the batch
 *
 * Return: 1 when every request has its result, 0 when helpers must run
 */
static int batch_prepare(struct tapq_req *reqs, size_t n, int *nsfd)
{
	struct cp_error e;
	size_t i;
	int same;

	for (i = 0; i < n; i++) {
		reqs[i].rc = 0;
		reqs[i].fd = -1;
		memset(&reqs[i].info, 0, sizeof(reqs[i].info));
		cp_error_clear(&reqs[i].err);
	}
	if (!n)
		return 1;
	same = same_netns(&reqs[0].t, nsfd, &e);
	if (same < 0) {
		fail_range(reqs, 0, n, &e);
	} else if (same) {
		for (i = 0; i < n; i++)
			req_here(&reqs[i]);
	} else if (!cp_cap_effective(CAP_SYS_ADMIN)) {
		/* The helper's setns() could only fail: refuse here, without a
		 * fork (coldplug.service never has the capability). */
		cp_error_set_errno(&e, EPERM,
				   "QEMU process %d is in another network namespace; entering "
				   "it needs CAP_SYS_ADMIN, which this process does not hold",
				   (int)reqs[0].t.pid);
		fail_range(reqs, 0, n, &e);
	} else {
		return 0;
	}
	if (*nsfd >= 0)
		close(*nsfd);
	*nsfd = -1;
	return 1;
}

static void on_helper(struct qmp_client *c, const struct cp_error *e, void *userdata);

/**
 * job_step() - start helpers until one runs on the client's loop
 * @job:	asynchronous job
 *
 * Return: true while a helper runs, false once every request has its result
 */
static bool job_step(struct tapq_job *job)
{
	struct cp_error e;

	while (job->first < job->n) {
		if (chunk_start(job) < 0)
			continue;
		if (qmp_client_watch_fd(job->c, job->pidfd, TAPQ_HELPER_TIMEOUT_MS, on_helper, job,
					&e) == 0)
			return true;
		chunk_end(job, &e);
	}
	return false;
}

/**
 * on_helper() - qmp_watch_fn: the helper exited, its deadline passed, or
 * its VM's connection is gone
 * @c:		client
 * @e:		NULL when it exited, else why it is killed
 * @userdata:	the job (freed once every request has its result)
 */
static void on_helper(struct qmp_client *c, const struct cp_error *e, void *userdata)
{
	struct tapq_job *job = userdata;

	(void)c;
	chunk_end(job, e);
	if (job_step(job))
		return;
	job->fn(job->reqs, job->n, job->userdata);
	close(job->nsfd);
	free(job);
}

/**
 * tapq_start() - carry out @reqs in QEMU's network namespace, without
 * waiting for the helper that does it
 * @c:		the client whose loop watches the helper (QEMU's)
 * @reqs:	requests, all for the same QEMU pid (borrowed until @fn)
 * @n:		their count
 * @fn:		called once with every result, when a helper ran them
 * @userdata:	for @fn
 * @err:	filled if the job could not even start
 *
 * When QEMU's namespace is ours (or cannot be entered) the requests are
 * carried out (or failed) at once and @fn is not called. Else helpers of
 * at most TAPQ_MAX_REQS requests each run one after the other, each with
 * TAPQ_HELPER_TIMEOUT_MS to answer; one that does not, or whose client
 * fails meanwhile (the VM is gone), is killed and reaped, and its requests
 * fail naming their tap.
 *
 * Return: 1 when every request has its result now, 0 when @fn will be
 * called, -1 on failure
 */
int tapq_start(struct qmp_client *c, struct tapq_req *reqs, size_t n, tapq_fn fn, void *userdata,
	       struct cp_error *err)
{
	struct tapq_job *job;
	int nsfd = -1;

	if (batch_prepare(reqs, n, &nsfd))
		return 1;
	job = cp_calloc(1, sizeof(*job), err);
	if (!job) {
		close(nsfd);
		return -1;
	}
	*job = (struct tapq_job){
		.c = c, .reqs = reqs, .n = n, .nsfd = nsfd, .fn = fn, .userdata = userdata
	};
	if (job_step(job))
		return 0;
	close(job->nsfd);
	free(job);
	return 1;
}

/**
 * tapq_run() - carry out @reqs and wait for the result (the command line:
 * each helper still has TAPQ_HELPER_TIMEOUT_MS, then is killed)
 * @reqs:	requests, all for the same QEMU pid
 * @n:		their count
 */
void tapq_run(struct tapq_req *reqs, size_t n)
{
	struct tapq_job job = { .reqs = reqs, .n = n, .nsfd = -1 };
	struct cp_error e;
	int64_t deadline;
	int rc;

	if (batch_prepare(reqs, n, &job.nsfd))
		return;
	while (job.first < job.n) {
		struct pollfd p;

		if (chunk_start(&job) < 0)
			continue;
		p = (struct pollfd){ .fd = job.pidfd, .events = POLLIN };
		deadline = cp_now_ms() + TAPQ_HELPER_TIMEOUT_MS;
		do {
			rc = poll(&p, 1, cp_deadline_left(deadline));
		} while (rc < 0 && errno == EINTR);
		cp_error_set(&e, CP_ERR_TIMEOUT, "not ready within %d ms", TAPQ_HELPER_TIMEOUT_MS);
		chunk_end(&job, rc > 0 ? NULL : &e);
	}
	close(job.nsfd);
}

/**
 * tapq_probe() - what the kernel says about the tap, waiting for it (see
 * tapq_run())
 * @t:		target
 * @info:	filled on success
 * @err:	filled on failure (no such interface, not a tap, ...)
 *
 * Return: 0, or -1
 */
int tapq_probe(const struct tapq_target *t, struct tapq_info *info, struct cp_error *err)
{
	struct tapq_req r = { .t = *t };

	tapq_run(&r, 1);
	*info = r.info;
	if (r.rc < 0)
		cp_error_copy(err, &r.err);
	return r.rc;
}

/**
 * tapq_open() - open one new queue on an existing tap (or macvtap),
 * waiting for it (see tapq_run())
 * @t:		target
 * @fd:		set to the queue; the caller closes it
 * @err:	filled on failure
 *
 * Never creates an interface: the tap must exist, in QEMU's namespace.
 *
 * Return: 0, or -1
 */
int tapq_open(const struct tapq_target *t, int *fd, struct cp_error *err)
{
	struct tapq_req r = { .t = *t, .open = true };

	tapq_run(&r, 1);
	*fd = r.fd;
	if (r.rc < 0)
		cp_error_copy(err, &r.err);
	return r.rc;
}

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
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "coldplug/fdpass.h"
#include "tapq.h"
#include "util.h"

#define TAPQ_CHILD_TIMEOUT_MS 5000

/* What a tapq operation computes inside the target namespace. */
typedef int (*tapq_op)(const struct tapq_target *t, struct tapq_info *info, int *fd,
		       struct cp_error *err);

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
 * probe_here() - tapq_op: describe the tap, in the current namespace
 * @t:		target
 * @info:	filled
 * @fd:		unused
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int probe_here(const struct tapq_target *t, struct tapq_info *info, int *fd,
		      struct cp_error *err)
{
	struct stat st;

	(void)fd;
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
 * open_queue_here() - tapq_op: attach one new queue, in the current namespace
 * @t:		target
 * @info:	filled with the tap's state before the queue was added
 * @fd:		set to the new queue
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int open_queue_here(const struct tapq_target *t, struct tapq_info *info, int *fd,
			   struct cp_error *err)
{
	struct ifreq ifr = { 0 };
	cleanup_close int q = -1;
	unsigned idx;

	if (probe_here(t, info, NULL, err) < 0)
		return -1;
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

/* What the namespace child sends back. */
struct child_reply {
	int rc;
	struct tapq_info info;
	struct cp_error err;
};

/**
 * child_run() - in the forked child: enter the namespace, run @op, reply
 * @t:		target
 * @op:		operation
 * @nsfd:	namespace descriptor
 * @sock:	our end of the socketpair
 */
static _Noreturn void child_run(const struct tapq_target *t, tapq_op op, int nsfd, int sock)
{
	struct child_reply r = { 0 };
	int fd = -1;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (setns(nsfd, CLONE_NEWNET) < 0)
		r.rc = cp_error_set_errno(&r.err, errno,
					  "enter QEMU's network namespace (needs CAP_SYS_ADMIN)");
	else
		r.rc = op(t, &r.info, &fd, &r.err);
	fdpass_send(sock, &r, sizeof(r), fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0, NULL);
	_exit(0);
}

/**
 * reap_child() - wait for the namespace child, killing it after a deadline
 * @pid:	child
 */
static void reap_child(pid_t pid)
{
	int64_t deadline = cp_now_ms() + TAPQ_CHILD_TIMEOUT_MS;

	while (waitpid(pid, NULL, WNOHANG) == 0) {
		if (cp_now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return;
		}
		poll(NULL, 0, 5);
	}
}

/**
 * run_in_child() - run @op in a child that has entered namespace @nsfd
 * @t:		target
 * @op:		operation
 * @nsfd:	namespace descriptor
 * @info:	the child's result
 * @fd:		a descriptor it opened, or -1
 * @err:	filled on failure
 *
 * Return: @op's result, or -1
 */
static int run_in_child(const struct tapq_target *t, tapq_op op, int nsfd, struct tapq_info *info,
			int *fd, struct cp_error *err)
{
	struct child_reply r = { 0 };
	int sv[2], got[1] = { -1 };
	size_t ngot = 1;
	struct pollfd pfd;
	pid_t pid;
	long n;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return cp_error_set_errno(err, errno, "socketpair");
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return cp_error_set_errno(err, errno, "fork");
	}
	if (pid == 0) {
		close(sv[0]);
		child_run(t, op, nsfd, sv[1]);
	}
	close(sv[1]);
	pfd = (struct pollfd){ .fd = sv[0], .events = POLLIN };
	if (poll(&pfd, 1, TAPQ_CHILD_TIMEOUT_MS) > 0)
		n = fdpass_recv(sv[0], &r, sizeof(r), got, &ngot, err);
	else
		n = cp_error_set(err, CP_ERR_TIMEOUT, "namespace helper did not answer");
	close(sv[0]);
	reap_child(pid);
	if (n != (long)sizeof(r)) {
		if (n >= 0 && ngot)
			close(got[0]);
		if (n == -1)
			return -1;
		return cp_error_set(err, CP_ERR_SYSTEM, "namespace helper failed");
	}
	*info = r.info;
	*fd = ngot ? got[0] : -1;
	if (r.rc < 0)
		cp_error_copy(err, &r.err);
	return r.rc;
}

/**
 * run_in_netns() - run @op in QEMU's network namespace
 * @t:		target
 * @op:		operation
 * @info:	its result
 * @fd:		a descriptor it opened, or -1
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int run_in_netns(const struct tapq_target *t, tapq_op op, struct tapq_info *info, int *fd,
			struct cp_error *err)
{
	cleanup_close int nsfd = -1;
	int same = same_netns(t, &nsfd, err);

	*fd = -1;
	if (same < 0)
		return -1;
	if (same)
		return op(t, info, fd, err);
	/* Without CAP_SYS_ADMIN the child's setns() can only fail: refuse
	 * here, without a fork and a wait (coldplug.service never has it). */
	if (!cp_cap_effective(CAP_SYS_ADMIN))
		return cp_error_set_errno(
			err, EPERM,
			"QEMU process %d is in another network namespace; entering "
			"it needs CAP_SYS_ADMIN, which this process does not hold",
			(int)t->pid);
	return run_in_child(t, op, nsfd, info, fd, err);
}

/**
 * tapq_probe() - what the kernel says about the tap
 * @t:		target
 * @info:	filled on success
 * @err:	filled on failure (no such interface, not a tap, ...)
 *
 * Return: 0, or -1
 */
int tapq_probe(const struct tapq_target *t, struct tapq_info *info, struct cp_error *err)
{
	int fd;

	return run_in_netns(t, probe_here, info, &fd, err);
}

/**
 * tapq_open() - open one new queue on an existing tap (or macvtap)
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
	struct tapq_info info;

	return run_in_netns(t, open_queue_here, &info, fd, err);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The link watch (lib/linkwatch.c). The parser first, on buffers built here
 * (valid, truncated, misdeclared, random), each copied to a heap block of
 * exactly its length so that the sanitizer build catches any read past it.
 * Then the real thing, in a network namespace of the test's own
 * (unshare(CLONE_NEWNET) at start, so no host interface is ever touched):
 * taps created and deleted, a tap leaving a bridge, a forged notification
 * from another socket, a flood that overflows the socket, a batch larger
 * than one read takes. Without the right to make a namespace (not root)
 * those checks are reported as skipped, with the reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "coldplug/linkwatch.h"
#include "tap.h"
#include "util.h"

#define GONE_MAX   256
#define FLOOD_TAPS 80

/**
 * struct gone_log - what gone() was told
 * @n:		calls
 * @ifindex:	their indexes (the first GONE_MAX)
 * @name:	their names
 */
struct gone_log {
	int n;
	int ifindex[GONE_MAX];
	char name[GONE_MAX][IF_NAMESIZE];
};

/* Aligned room for one message built by the tests. */
union msgbuf {
	struct nlmsghdr nh;
	char b[1024];
};

/* Why the namespace checks cannot run, or NULL when they can. */
static char netns_skip[256];

/**
 * record_gone() - linkwatch_fn: log the call
 * @ifindex:	interface index
 * @ifname:	interface name
 * @userdata:	struct gone_log
 */
static void record_gone(int ifindex, const char *ifname, void *userdata)
{
	struct gone_log *log = userdata;

	if (log->n < GONE_MAX) {
		log->ifindex[log->n] = ifindex;
		cp_strlcpy(log->name[log->n], ifname, IF_NAMESIZE);
	}
	log->n++;
}

/**
 * msg_add_attr() - append an attribute to a message being built
 * @nh:		message (its length grows)
 * @type:	attribute type
 * @data:	payload
 * @len:	payload length
 *
 * Return: the attribute, for nesting
 */
static struct rtattr *msg_add_attr(struct nlmsghdr *nh, unsigned short type, const void *data,
				   size_t len)
{
	struct rtattr *rta = (struct rtattr *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(rta), data, len);
	nh->nlmsg_len = (unsigned)(NLMSG_ALIGN(nh->nlmsg_len) + RTA_SPACE(len));
	return rta;
}

/**
 * msg_link() - start a link message: header and ifinfomsg
 * @m:		buffer (zeroed)
 * @type:	RTM_NEWLINK, RTM_DELLINK...
 * @flags:	nlmsg_flags
 * @family:	ifi_family
 * @ifindex:	ifi_index
 *
 * Return: the header
 */
static struct nlmsghdr *msg_link(union msgbuf *m, unsigned short type, unsigned short flags,
				 unsigned char family, int ifindex)
{
	struct ifinfomsg *ifi;

	memset(m, 0, sizeof(*m));
	m->nh.nlmsg_len = NLMSG_LENGTH(sizeof(*ifi));
	m->nh.nlmsg_type = type;
	m->nh.nlmsg_flags = flags;
	ifi = NLMSG_DATA(&m->nh);
	ifi->ifi_family = family;
	ifi->ifi_index = ifindex;
	return &m->nh;
}

/**
 * msg_dellink() - an RTM_DELLINK as the kernel sends it
 * @m:		buffer
 * @family:	ifi_family (AF_UNSPEC for a deletion)
 * @ifindex:	ifi_index
 * @name:	IFLA_IFNAME, or NULL for none
 *
 * Return: the message's length
 */
static size_t msg_dellink(union msgbuf *m, unsigned char family, int ifindex, const char *name)
{
	struct nlmsghdr *nh = msg_link(m, RTM_DELLINK, 0, family, ifindex);

	if (name)
		msg_add_attr(nh, IFLA_IFNAME, name, strlen(name) + 1);
	return nh->nlmsg_len;
}

/**
 * parse_exact() - linkwatch_parse() on a heap copy of exactly @len bytes
 * @data:	bytes
 * @len:	their count
 * @log:	cleared, then filled
 *
 * Return: linkwatch_parse()'s result
 */
static int parse_exact(const void *data, size_t len, struct gone_log *log)
{
	cleanup_free char *copy = malloc(len ? len : 1);

	if (!copy)
		bail_out("out of memory");
	if (len)
		memcpy(copy, data, len);
	memset(log, 0, sizeof(*log));
	return linkwatch_parse(copy, len, record_gone, log);
}

/**
 * test_parse_valid() - deletions reported with index and name; others not
 */
static void test_parse_valid(void)
{
	union msgbuf m, two;
	struct gone_log log;
	size_t len, a;

	len = msg_dellink(&m, AF_UNSPEC, 7, "tap7");
	is_int(parse_exact(&m, len, &log), 1, "parse: an RTM_DELLINK is one deletion");
	is_int(log.ifindex[0], 7, "parse: its ifindex");
	is_str(log.name[0], "tap7", "parse: its name");
	len = msg_dellink(&m, AF_UNSPEC, 9, NULL);
	is_int(parse_exact(&m, len, &log), 1, "parse: an RTM_DELLINK with no IFLA_IFNAME counts");
	is_str(log.name[0], "", "parse: ... with the name \"\"");
	len = msg_link(&m, RTM_NEWLINK, 0, AF_UNSPEC, 7)->nlmsg_len;
	is_int(parse_exact(&m, len, &log), 0, "parse: an RTM_NEWLINK is not a deletion");
	len = msg_dellink(&m, AF_BRIDGE, 7, "tap7");
	is_int(parse_exact(&m, len, &log), 0,
	       "parse: an AF_BRIDGE RTM_DELLINK (a port leaving its bridge) is not a deletion");
	len = msg_dellink(&m, AF_UNSPEC, 0, "tap0");
	is_int(parse_exact(&m, len, &log), 0, "parse: ifindex 0 is ignored");
	len = msg_dellink(&m, AF_UNSPEC, -3, "tapm");
	is_int(parse_exact(&m, len, &log), 0, "parse: a negative ifindex is ignored");

	/* NEWLINK, DELLINK, DELLINK in one datagram. */
	memset(&two, 0, sizeof(two));
	a = msg_link(&m, RTM_NEWLINK, 0, AF_UNSPEC, 3)->nlmsg_len;
	memcpy(two.b, &m, a);
	len = msg_dellink(&m, AF_UNSPEC, 4, "eth4");
	memcpy(two.b + NLMSG_ALIGN(a), &m, len);
	a = NLMSG_ALIGN(a) + NLMSG_ALIGN(len);
	len = msg_dellink(&m, AF_UNSPEC, 5, "eth5");
	memcpy(two.b + a, &m, len);
	is_int(parse_exact(&two, a + len, &log), 2, "parse: two deletions after a NEWLINK");
	ok(log.ifindex[0] == 4 && log.ifindex[1] == 5 && !strcmp(log.name[1], "eth5"),
	   "parse: ... in their order, with their names");
}

/**
 * test_parse_control() - NLMSG_ERROR, NLMSG_DONE, NLMSG_NOOP are skipped
 */
static void test_parse_control(void)
{
	static const unsigned short types[] = { NLMSG_NOOP, NLMSG_ERROR, NLMSG_DONE,
						NLMSG_OVERRUN };
	struct gone_log log;
	union msgbuf m;
	size_t i, len;
	int n = 0;

	for (i = 0; i < CP_ARRAY_SIZE(types); i++) {
		len = msg_dellink(&m, AF_UNSPEC, 7, "tap7");
		m.nh.nlmsg_type = types[i];
		n += parse_exact(&m, len, &log);
	}
	is_int(n, 0, "parse: netlink control messages are no deletions");
	is_int(parse_exact(NULL, 0, &log), 0, "parse: an empty datagram");
}

/**
 * test_parse_truncated() - lengths that do not fit end the walk safely
 */
static void test_parse_truncated(void)
{
	struct gone_log log;
	union msgbuf m;
	size_t len;

	len = msg_dellink(&m, AF_UNSPEC, 7, "tap7");
	is_int(parse_exact(&m, len - 1, &log), 0, "parse: a datagram shorter than its message");
	is_int(parse_exact(&m, 10, &log), 0, "parse: a datagram shorter than a header");
	m.nh.nlmsg_len = 0;
	is_int(parse_exact(&m, len, &log), 0, "parse: nlmsg_len 0 (no endless loop)");
	m.nh.nlmsg_len = 0xffffffffu;
	is_int(parse_exact(&m, len, &log), 0, "parse: nlmsg_len 4 GiB");
	msg_dellink(&m, AF_UNSPEC, 7, NULL);
	m.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)) - 4;
	is_int(parse_exact(&m, m.nh.nlmsg_len, &log), 0,
	       "parse: an RTM_DELLINK too short for its ifinfomsg");

	/* The last message's length is not a multiple of 4: NLMSG_NEXT steps
	 * past the end of the buffer, which must end the walk. */
	msg_dellink(&m, AF_UNSPEC, 8, "abcd");
	len = NLMSG_LENGTH(sizeof(struct ifinfomsg)) + RTA_LENGTH(5);
	m.nh.nlmsg_len = (unsigned)len;
	is_int((long long)len % NLMSG_ALIGNTO, 1, "parse: (a message of 4n + 1 bytes)");
	is_int(parse_exact(&m, len, &log), 1, "parse: an unaligned last message, then the end");
	is_str(log.name[0], "abcd", "parse: ... its name");
	is_int(parse_exact(&m, len + 3, &log), 1, "parse: trailing bytes after a message");
}

/**
 * test_parse_bad_attrs() - broken attributes: the deletion stays, the name goes
 */
static void test_parse_bad_attrs(void)
{
	static const char longname[] = "abcdefghijklmnopqrstuvwxyz";
	struct gone_log log;
	struct rtattr *rta;
	union msgbuf m;
	size_t len;

	msg_dellink(&m, AF_UNSPEC, 7, NULL);
	msg_add_attr(&m.nh, IFLA_IFNAME, "tap7", 4);
	len = m.nh.nlmsg_len;
	is_int(parse_exact(&m, len, &log), 1, "parse: IFLA_IFNAME without its NUL");
	is_str(log.name[0], "", "parse: ... no name");
	len = msg_dellink(&m, AF_UNSPEC, 7, longname);
	is_int(parse_exact(&m, len, &log), 1, "parse: IFLA_IFNAME longer than IFNAMSIZ");
	is_str(log.name[0], "", "parse: ... no name");
	msg_dellink(&m, AF_UNSPEC, 7, NULL);
	rta = msg_add_attr(&m.nh, IFLA_IFNAME, "tap7", 5);
	rta->rta_len = 200;
	len = m.nh.nlmsg_len;
	is_int(parse_exact(&m, len, &log), 1, "parse: an attribute longer than its message");
	is_str(log.name[0], "", "parse: ... is not read");
	msg_dellink(&m, AF_UNSPEC, 7, NULL);
	rta = msg_add_attr(&m.nh, IFLA_IFNAME, "tap7", 5);
	rta->rta_len = 2;
	len = m.nh.nlmsg_len;
	is_int(parse_exact(&m, len, &log), 1, "parse: an attribute shorter than its header");
	msg_dellink(&m, AF_UNSPEC, 7, NULL);
	msg_add_attr(&m.nh, IFLA_MTU, "\x00\x05\x00\x00", 4);
	msg_add_attr(&m.nh, IFLA_IFNAME, "late0", 6);
	len = m.nh.nlmsg_len;
	is_int(parse_exact(&m, len, &log), 1, "parse: IFLA_IFNAME after another attribute");
	is_str(log.name[0], "late0", "parse: ... found");
}

/**
 * test_parse_random() - random bytes, and mutated real messages
 *
 * Every call gone() gets has a positive index and a terminated name of at
 * most IFNAMSIZ - 1 characters; the sanitizer build checks the reads.
 */
static void test_parse_random(void)
{
	unsigned seed = 20240611, i, j, bad = 0;
	struct gone_log log;
	union msgbuf m;
	size_t len;

	for (i = 0; i < 20000; i++) {
		len = msg_dellink(&m, AF_UNSPEC, (int)(i + 1), "tapXYZ");
		if (i % 2) {
			len = (size_t)rand_r(&seed) % 200;
			for (j = 0; j < len; j++)
				m.b[j] = (char)rand_r(&seed);
		} else {
			for (j = 0; j < 4; j++)
				m.b[(size_t)rand_r(&seed) % len] = (char)rand_r(&seed);
			len -= (size_t)rand_r(&seed) % 4;
		}
		parse_exact(&m, len, &log);
		for (j = 0; j < (unsigned)log.n && j < GONE_MAX; j++)
			bad += log.ifindex[j] <= 0 ||
			       strnlen(log.name[j], IF_NAMESIZE) >= IF_NAMESIZE;
	}
	is_int(bad, 0, "parse: 20000 random and mutated datagrams, every report well formed");
}

/**
 * nl_talk() - send a request on a fresh rtnetlink socket and wait for its ack
 * @nh:		request (NLM_F_REQUEST | NLM_F_ACK are added)
 *
 * Return: 0, or the negative errno the kernel answered
 */
static int nl_talk(struct nlmsghdr *nh)
{
	cleanup_close int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	union msgbuf ans;
	struct nlmsgerr *e;
	ssize_t n;

	if (s < 0)
		return -errno;
	nh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	if (send(s, nh, nh->nlmsg_len, 0) < 0)
		return -errno;
	n = recv(s, &ans, sizeof(ans), 0);
	if (n < 0)
		return -errno;
	if (!NLMSG_OK(&ans.nh, (size_t)n) || ans.nh.nlmsg_type != NLMSG_ERROR)
		return -EPROTO;
	e = NLMSG_DATA(&ans.nh);
	return e->error;
}

/**
 * tap_create() - a persistent tap, as Incus makes them
 * @name:	its name
 *
 * Return: its ifindex; bails out on failure (the namespace was usable)
 */
static int tap_create(const char *name)
{
	cleanup_close int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	struct ifreq ifr = { 0 };
	unsigned idx;

	cp_strlcpy(ifr.ifr_name, name, sizeof(ifr.ifr_name));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, 1) < 0)
		bail_out("create tap %s: %s", name, strerror(errno));
	idx = if_nametoindex(name);
	if (!idx)
		bail_out("tap %s has no index: %s", name, strerror(errno));
	return (int)idx;
}

/**
 * link_delete() - delete an interface, as `ip link del` does
 * @ifindex:	its index
 */
static void link_delete(int ifindex)
{
	union msgbuf m;
	int rc = nl_talk(msg_link(&m, RTM_DELLINK, 0, AF_UNSPEC, ifindex));

	if (rc)
		bail_out("delete interface %d: %s", ifindex, strerror(-rc));
}

/**
 * bridge_create() - a bridge, as `ip link add NAME type bridge` does
 * @name:	its name
 *
 * Return: its ifindex, or a negative errno (no bridge support)
 */
static int bridge_create(const char *name)
{
	union msgbuf m;
	struct nlmsghdr *nh = msg_link(&m, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, AF_UNSPEC, 0);
	struct rtattr *info;
	int rc;

	msg_add_attr(nh, IFLA_IFNAME, name, strlen(name) + 1);
	info = msg_add_attr(nh, IFLA_LINKINFO, NULL, 0);
	msg_add_attr(nh, IFLA_INFO_KIND, "bridge", 7);
	info->rta_len = (unsigned short)((char *)nh + nh->nlmsg_len - (char *)info);
	rc = nl_talk(nh);
	return rc ? rc : (int)if_nametoindex(name);
}

/**
 * link_set_master() - enslave an interface, as `ip link set ... master/nomaster`
 * @ifindex:	the port
 * @master:	the bridge's index, 0 to leave it
 *
 * Return: 0, or a negative errno
 */
static int link_set_master(int ifindex, int master)
{
	union msgbuf m;
	struct nlmsghdr *nh = msg_link(&m, RTM_NEWLINK, 0, AF_UNSPEC, ifindex);
	unsigned u = (unsigned)master;

	msg_add_attr(nh, IFLA_MASTER, &u, sizeof(u));
	return nl_talk(nh);
}

/**
 * drain() - read notifications until @want deletions arrived and it is quiet
 * @w:		watch
 * @log:	cleared, then filled
 * @want:	deletions to wait for (at most 2 s)
 *
 * After @want arrived (or at once for 0), keeps reading for 100 ms more, so
 * that a duplicate or an unexpected report is seen.
 *
 * Return: LINKWATCH_LOST if any read said so, else 0; -1 on an error
 */
static int drain(struct linkwatch *w, struct gone_log *log, int want)
{
	int64_t deadline = cp_now_ms() + 2000, quiet = 0;
	struct pollfd pfd = { .fd = linkwatch_fd(w), .events = POLLIN };
	struct cp_error err;
	int rc, result = 0;

	memset(log, 0, sizeof(*log));
	for (;;) {
		int64_t now = cp_now_ms();

		if (log->n >= want && !quiet)
			quiet = now + 100;
		if ((quiet && now >= quiet) || now >= deadline)
			return result;
		if (poll(&pfd, 1, 20) <= 0)
			continue;
		rc = linkwatch_read(w, record_gone, log, &err);
		if (rc < 0) {
			diag("linkwatch_read: %s", err.msg);
			return -1;
		}
		result |= rc;
	}
}

/**
 * open_watch() - linkwatch_open(), bailing out on failure
 *
 * Return: new watch
 */
static struct linkwatch *open_watch(void)
{
	struct cp_error err;
	struct linkwatch *w = linkwatch_open(&err);

	if (!w)
		bail_out("linkwatch_open: %s", err.msg);
	return w;
}

/**
 * test_open() - the socket is nonblocking and close-on-exec; empty reads return
 */
static void test_open(void)
{
	struct linkwatch *w = open_watch();
	int fd = linkwatch_fd(w), fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);
	struct gone_log log = { 0 };
	struct cp_error err;
	int64_t t0;
	int rc;

	ok(fl >= 0 && (fl & O_NONBLOCK), "open: O_NONBLOCK");
	ok(fdfl >= 0 && (fdfl & FD_CLOEXEC), "open: FD_CLOEXEC");
	memset(&err, 0, sizeof(err));
	t0 = cp_now_ms();
	rc = linkwatch_read(w, record_gone, &log, &err);
	is_int(rc, 0, "read: nothing pending returns 0");
	ok(cp_now_ms() - t0 < 500, "read: ... at once");
	ok(err.code == CP_ERR_NONE && !err.msg[0], "read: ... and leaves err alone");
	fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	alarm(10); /* a blocking read would hang: SIGALRM fails the test */
	rc = linkwatch_read(w, record_gone, &log, &err);
	alarm(0);
	is_int(rc, 0, "read: does not block even with O_NONBLOCK cleared");
	is_int(log.n, 0, "read: no deletion reported");
	linkwatch_close(w);
	linkwatch_close(NULL);
}

/**
 * test_tap_deleted() - a tap created, then deleted: one report, right index
 */
static void test_tap_deleted(void)
{
	struct linkwatch *w = open_watch();
	struct gone_log log;
	int idx;

	idx = tap_create("lwtap0");
	is_int(drain(w, &log, 0), 0, "create: read ok");
	is_int(log.n, 0, "create: creating a tap reports no deletion");
	ok(linkwatch_exists(idx, "lwtap0"), "exists: the new tap, by name and index");
	ok(!linkwatch_exists(idx + 1000, "lwtap0"), "exists: not with another index");
	link_delete(idx);
	is_int(drain(w, &log, 1), 0, "delete: read ok");
	is_int(log.n, 1, "delete: one report");
	is_int(log.ifindex[0], idx, "delete: its ifindex");
	is_str(log.name[0], "lwtap0", "delete: its name");
	ok(!linkwatch_exists(idx, "lwtap0"), "exists: not after deletion");
	idx = tap_create("lwtap0");
	ok(linkwatch_exists(idx, "lwtap0") && !linkwatch_exists(log.ifindex[0], "lwtap0"),
	   "exists: a new tap of the same name is not the old one");
	link_delete(idx);
	linkwatch_close(w);
}

/**
 * test_bridge_port() - a tap leaving its bridge is not a deletion; deleting
 * an enslaved tap is reported once
 */
static void test_bridge_port(void)
{
	struct linkwatch *w = open_watch();
	struct gone_log log;
	int br, idx, rc;

	br = bridge_create("lwbr0");
	if (br <= 0) {
		skip(4, "no bridge in this kernel: %s", strerror(br < 0 ? -br : ENODEV));
		linkwatch_close(w);
		return;
	}
	idx = tap_create("lwtap1");
	rc = link_set_master(idx, br);
	rc = rc ? rc : link_set_master(idx, 0);
	rc = rc ? rc : link_set_master(idx, br);
	if (rc)
		bail_out("enslave lwtap1 to lwbr0, and back: %s", strerror(-rc));
	is_int(drain(w, &log, 0), 0, "bridge: read ok");
	is_int(log.n, 0, "bridge: a tap leaving its bridge reports no deletion");
	link_delete(idx);
	drain(w, &log, 1);
	ok(log.n == 1 && log.ifindex[0] == idx, "bridge: deleting an enslaved tap: one report");
	link_delete(br);
	drain(w, &log, 1);
	ok(log.n == 1 && log.ifindex[0] == br, "bridge: deleting the bridge: one report");
	linkwatch_close(w);
}

/**
 * test_forged() - a notification from another socket is not believed
 */
static void test_forged(void)
{
	struct linkwatch *w = open_watch();
	cleanup_close int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	struct sockaddr_nl to = { .nl_family = AF_NETLINK };
	socklen_t tolen = sizeof(to);
	struct gone_log log;
	union msgbuf m;
	ssize_t sent;
	size_t len;
	int idx;

	idx = tap_create("lwtap2");
	drain(w, &log, 0);
	if (s < 0 || getsockname(linkwatch_fd(w), (struct sockaddr *)&to, &tolen) < 0)
		bail_out("forge: %s", strerror(errno));
	len = msg_dellink(&m, AF_UNSPEC, idx, "lwtap2");
	is_int(parse_exact(&m, len, &log), 1, "forged: (the message itself parses as a deletion)");
	to.nl_groups = 0;
	sent = sendto(s, &m, len, 0, (struct sockaddr *)&to, sizeof(to));
	ok(to.nl_pid != 0 && sent == (ssize_t)len, "forged: sent to the watch's port id %u",
	   to.nl_pid);
	is_int(drain(w, &log, 0), 0, "forged: read ok");
	is_int(log.n, 0, "forged: an RTM_DELLINK from a process is ignored");
	link_delete(idx);
	drain(w, &log, 1);
	ok(log.n == 1 && log.ifindex[0] == idx, "forged: the kernel's own is still reported");
	linkwatch_close(w);
}

/**
 * test_overflow() - a full socket buffer is reported as LINKWATCH_LOST
 */
static void test_overflow(void)
{
	struct linkwatch *w = open_watch();
	struct gone_log log = { 0 };
	struct cp_error err;
	int i, idx[8], small = 1, rc, gone = 0;
	char name[IF_NAMESIZE];

	if (setsockopt(linkwatch_fd(w), SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) < 0)
		bail_out("SO_RCVBUF: %s", strerror(errno));
	for (i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "lwov%d", i);
		idx[i] = tap_create(name);
	}
	for (i = 0; i < 8; i++)
		link_delete(idx[i]);
	rc = linkwatch_read(w, record_gone, &log, &err);
	is_int(rc, LINKWATCH_LOST, "overflow: the read says notifications were lost");
	is_int(linkwatch_read(w, record_gone, &log, &err), 0, "overflow: the next read is clean");
	for (i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "lwov%d", i);
		gone += !linkwatch_exists(idx[i], name);
	}
	is_int(gone, 8, "overflow: linkwatch_exists() finds every tap gone (the fallback)");
	diag("overflow: %d of 8 deletions were reported before the loss", log.n);
	linkwatch_close(w);
}

/**
 * check_flood() - the reports of test_flood(): each tap exactly once
 * @log:	what was reported
 * @idx:	the taps' indexes
 *
 * Return: whether each index appears exactly once, and nothing else
 */
static bool check_flood(const struct gone_log *log, const int *idx)
{
	int i, j, seen;

	if (log->n != FLOOD_TAPS)
		return false;
	for (i = 0; i < FLOOD_TAPS; i++) {
		for (seen = 0, j = 0; j < log->n; j++)
			seen += log->ifindex[j] == idx[i];
		if (seen != 1)
			return false;
	}
	return true;
}

/**
 * test_flood() - one read takes at most LINKWATCH_BATCH datagrams
 */
static void test_flood(void)
{
	struct linkwatch *w = open_watch();
	struct pollfd pfd = { .fd = linkwatch_fd(w), .events = POLLIN };
	int i, idx[FLOOD_TAPS], big = 8 << 20, rc = 0, reads = 1;
	struct gone_log log = { 0 };
	char name[IF_NAMESIZE];
	struct cp_error err;

	/* Room for every notification: a loss here would be another test. */
	if (setsockopt(pfd.fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) < 0)
		setsockopt(pfd.fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	for (i = 0; i < FLOOD_TAPS; i++) {
		snprintf(name, sizeof(name), "lwfl%d", i);
		idx[i] = tap_create(name);
	}
	drain(w, &log, 0);
	for (i = 0; i < FLOOD_TAPS; i++)
		link_delete(idx[i]);
	memset(&log, 0, sizeof(log));
	is_int(linkwatch_read(w, record_gone, &log, &err), 0, "flood: first read ok");
	ok(log.n > 0 && log.n <= LINKWATCH_BATCH,
	   "flood: it took at most %d datagrams (%d deletions)", LINKWATCH_BATCH, log.n);
	ok(poll(&pfd, 1, 0) == 1, "flood: the rest still makes the socket readable");
	while (!rc && poll(&pfd, 1, 100) == 1 && reads < 100) {
		rc = linkwatch_read(w, record_gone, &log, &err);
		reads++;
	}
	is_int(rc, 0, "flood: later reads ok");
	ok(check_flood(&log, idx), "flood: each of %d deletions reported once (%d in %d reads)",
	   FLOOD_TAPS, log.n, reads);
	linkwatch_close(w);
}

/**
 * test_read_error() - a socket error is -1 with err filled
 */
static void test_read_error(void)
{
	struct linkwatch *w = open_watch();
	struct gone_log log = { 0 };
	struct cp_error err;
	int p[2];

	/* Put a pipe where the socket was: recvfrom() fails with ENOTSOCK. */
	if (pipe2(p, O_CLOEXEC) < 0 || dup2(p[0], linkwatch_fd(w)) < 0)
		bail_out("pipe: %s", strerror(errno));
	close(p[0]);
	close(p[1]);
	memset(&err, 0, sizeof(err));
	is_int(linkwatch_read(w, record_gone, &log, &err), -1, "error: a failing socket is -1");
	ok(err.code == CP_ERR_SYSTEM && err.sys_errno == ENOTSOCK, "error: err says why");
	like(err.msg, "link watch", "error: ... in words");
	linkwatch_close(w);
}

/**
 * test_exists_args() - linkwatch_exists() on what cannot be an interface,
 * and when it cannot ask
 */
static void test_exists_args(void)
{
	struct rlimit old, low;
	bool unknown;
	int spare;

	ok(linkwatch_exists(1, "lo"), "exists: lo is 1");
	ok(!linkwatch_exists(0, "lo") && !linkwatch_exists(-1, "lo"), "exists: not index <= 0");
	ok(!linkwatch_exists(1, NULL) && !linkwatch_exists(1, ""), "exists: not without a name");
	ok(!linkwatch_exists(1, "abcdefghijklmnopqrstuvwxyz"), "exists: not a name too long");
	ok(!linkwatch_exists(1, "lwnosuch0"), "exists: not a name nobody has");

	/* No descriptor left for if_nametoindex()'s socket: the answer is
	 * "exists", so that the caller tears nothing down on our shortage. */
	spare = dup(0);
	if (spare < 0 || getrlimit(RLIMIT_NOFILE, &old) < 0)
		bail_out("dup: %s", strerror(errno));
	close(spare);
	low = old;
	low.rlim_cur = (rlim_t)spare;
	if (setrlimit(RLIMIT_NOFILE, &low) < 0)
		bail_out("setrlimit: %s", strerror(errno));
	unknown = linkwatch_exists(1000, "lwnosuch0");
	setrlimit(RLIMIT_NOFILE, &old);
	ok(unknown, "exists: true when it cannot ask (EMFILE)");
}

/**
 * enter_netns() - move the whole test into a new, empty network namespace
 *
 * Sets netns_skip to the reason when it cannot (not root, no tun).
 */
static void enter_netns(void)
{
	int fd;

	if (unshare(CLONE_NEWNET) < 0) {
		snprintf(netns_skip, sizeof(netns_skip),
			 "cannot create a network namespace (unshare: %s); run as root",
			 strerror(errno));
		return;
	}
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(netns_skip, sizeof(netns_skip), "cannot open /dev/net/tun: %s",
			 strerror(errno));
		return;
	}
	close(fd);
}

/**
 * main() - run the tests
 *
 * Return: TAP exit status
 */
int main(void)
{
	test_parse_valid();
	test_parse_control();
	test_parse_truncated();
	test_parse_bad_attrs();
	test_parse_random();
	test_exists_args();
	enter_netns();
	if (netns_skip[0]) {
		skip(1, "%s", netns_skip);
		return done_testing();
	}
	test_open();
	test_tap_deleted();
	test_bridge_port();
	test_forged();
	test_overflow();
	test_flood();
	test_read_error();
	return done_testing();
}

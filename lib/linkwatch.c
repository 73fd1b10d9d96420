/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Host interfaces going away: see linkwatch.h.
 *
 * Anyone may send a datagram to our port id, so only messages from the
 * kernel (port id 0) are believed. Of those, only RTM_DELLINK of family
 * AF_UNSPEC means an interface is gone: a port leaving a bridge is an
 * RTM_DELLINK of family AF_BRIDGE, and the interface is still there.
 */
#include <errno.h>
#include <limits.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "coldplug/linkwatch.h"
#include "util.h"

/* Bigger than any link message (the kernel's own dumps use 32 KiB); a
 * larger one arrives truncated and counts as lost. */
#define LINKWATCH_BUF_SIZE 32768

/* Asked for, best effort (the kernel caps it at net.core.rmem_max): room for
 * the bursts of a host starting many VMs, each tap several link messages. */
#define LINKWATCH_RCVBUF (1024 * 1024)

/**
 * struct linkwatch - the watch
 * @fd:		NETLINK_ROUTE socket bound to RTMGRP_LINK, nonblocking
 * @buf:	one datagram, aligned for struct nlmsghdr
 */
struct linkwatch {
	int fd;
	_Alignas(struct nlmsghdr) char buf[LINKWATCH_BUF_SIZE];
};

/**
 * enum linkwatch_recv - what one recvfrom() gave
 * @LINKWATCH_RECV_TAKEN:	a datagram (handled or ignored), or EINTR
 * @LINKWATCH_RECV_EMPTY:	nothing pending
 * @LINKWATCH_RECV_LOST:	notifications were dropped or truncated
 * @LINKWATCH_RECV_ERROR:	the socket failed; err is filled
 */
enum linkwatch_recv {
	LINKWATCH_RECV_TAKEN,
	LINKWATCH_RECV_EMPTY,
	LINKWATCH_RECV_LOST,
	LINKWATCH_RECV_ERROR,
};

/**
 * linkwatch_open() - join the link notifications of our network namespace
 * @err:	filled on failure
 *
 * Return: new watch, the caller closes it with linkwatch_close(); or NULL
 */
struct linkwatch *linkwatch_open(struct cp_error *err)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK };
	/* Not calloc(): zeroing the buffer would make all 32 KiB of it resident
	 * in an idle daemon (28 kB of its RSS); recvfrom() fills what is read,
	 * and only that is parsed. */
	cleanup_free struct linkwatch *w = malloc(sizeof(*w));
	cleanup_close int fd = -1;
	int rcvbuf = LINKWATCH_RCVBUF;

	if (!w) {
		cp_error_set(err, CP_ERR_NOMEM, "out of memory");
		return NULL;
	}
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0) {
		cp_error_set_errno(err, errno, "link watch: netlink socket");
		return NULL;
	}
	/* Failure only leaves the default size: losses are reported anyway. */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		cp_error_set_errno(err, errno, "link watch: join the link notifications");
		return NULL;
	}
	w->fd = steal_fd(&fd);
	return steal_pointer(&w);
}

/**
 * linkwatch_fd() - the descriptor to poll for POLLIN
 * @w:		watch
 *
 * Return: borrowed descriptor, valid until linkwatch_close()
 */
int linkwatch_fd(const struct linkwatch *w)
{
	return w->fd;
}

/**
 * copy_ifname() - the name in an IFLA_IFNAME attribute
 * @name:	IF_NAMESIZE bytes, left "" when the attribute is malformed
 *		(no NUL inside it, or a name too long for an interface)
 * @rta:	the attribute, RTA_OK() already checked
 */
static void copy_ifname(char *name, const struct rtattr *rta)
{
	size_t payload = RTA_PAYLOAD(rta);
	size_t n = strnlen(RTA_DATA(rta), payload);

	if (n == payload || n >= IF_NAMESIZE)
		return;
	memcpy(name, RTA_DATA(rta), n + 1);
}

/**
 * parse_dellink() - tell @gone about one RTM_DELLINK, if it is a deletion
 * @nh:		the message, NLMSG_OK() already checked
 * @gone:	called with the interface's index and name
 * @userdata:	passed to @gone
 *
 * Return: whether @gone was called
 */
static bool parse_dellink(const struct nlmsghdr *nh, linkwatch_fn gone, void *userdata)
{
	const struct ifinfomsg *ifi = NLMSG_DATA(nh);
	char name[IF_NAMESIZE] = "";
	const struct rtattr *rta;
	int len;

	if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
		return false;
	if (ifi->ifi_family != AF_UNSPEC || ifi->ifi_index <= 0)
		return false;
	len = (int)IFLA_PAYLOAD(nh);
	for (rta = IFLA_RTA(ifi); RTA_OK(rta, len); rta = RTA_NEXT(rta, len))
		if (rta->rta_type == IFLA_IFNAME)
			copy_ifname(name, rta);
	gone(ifi->ifi_index, name, userdata);
	return true;
}

/**
 * linkwatch_parse() - tell @gone about each interface deletion in a datagram
 * @buf:	the datagram, aligned for struct nlmsghdr (a misaligned one is
 *		a bug of the caller, asserted); may be NULL when @len is 0
 * @len:	its length
 * @gone:	called for each RTM_DELLINK of family AF_UNSPEC
 * @userdata:	passed to @gone
 *
 * Any bytes are accepted: a header or attribute whose length does not fit
 * ends the walk (of the datagram, or of that message's attributes), other
 * message types and families are skipped. The sender is not checked here:
 * linkwatch_read() does that.
 *
 * Return: how many times @gone was called
 */
int linkwatch_parse(const void *buf, size_t len, linkwatch_fn gone, void *userdata)
{
	const struct nlmsghdr *nh = buf;
	size_t left, step;
	int n = 0;

	if (!len)
		return 0;
	CP_ASSERT(buf && (uintptr_t)buf % NLMSG_ALIGNTO == 0);
	/* Capped, so that NLMSG_ALIGN() of a length that fits cannot wrap. */
	left = len > INT_MAX ? INT_MAX : len;
	while (NLMSG_OK(nh, left)) {
		if (nh->nlmsg_type == RTM_DELLINK && parse_dellink(nh, gone, userdata))
			n++;
		/* Not NLMSG_NEXT(): past an unaligned last message it would
		 * wrap the unsigned length round instead of ending the walk. */
		step = NLMSG_ALIGN(nh->nlmsg_len);
		if (step >= left)
			break;
		left -= step;
		nh = (const struct nlmsghdr *)((const char *)nh + step);
	}
	return n;
}

/**
 * recv_one() - take one datagram and hand its deletions to @gone
 * @w:		watch
 * @gone:	called for each deletion
 * @userdata:	passed to @gone
 * @err:	filled on LINKWATCH_RECV_ERROR
 *
 * MSG_DONTWAIT as well as the socket's O_NONBLOCK: this never blocks, even
 * if someone cleared the flag on linkwatch_fd().
 *
 * Return: enum linkwatch_recv
 */
static enum linkwatch_recv recv_one(struct linkwatch *w, linkwatch_fn gone, void *userdata,
				    struct cp_error *err)
{
	struct sockaddr_nl from = { 0 };
	socklen_t fromlen = sizeof(from);
	ssize_t n;

	n = recvfrom(w->fd, w->buf, sizeof(w->buf), MSG_DONTWAIT | MSG_TRUNC,
		     (struct sockaddr *)&from, &fromlen);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return LINKWATCH_RECV_EMPTY;
		if (errno == EINTR)
			return LINKWATCH_RECV_TAKEN;
		if (errno == ENOBUFS)
			return LINKWATCH_RECV_LOST;
		cp_error_set_errno(err, errno, "link watch: read notifications");
		return LINKWATCH_RECV_ERROR;
	}
	if (fromlen != sizeof(from) || from.nl_family != AF_NETLINK || from.nl_pid != 0)
		return LINKWATCH_RECV_TAKEN; /* not the kernel */
	if ((size_t)n > sizeof(w->buf))
		return LINKWATCH_RECV_LOST; /* MSG_TRUNC: the real length */
	linkwatch_parse(w->buf, (size_t)n, gone, userdata);
	return LINKWATCH_RECV_TAKEN;
}

/**
 * linkwatch_read() - handle the notifications pending now, without blocking
 * @w:		watch
 * @gone:	called for each interface deleted
 * @userdata:	passed to @gone
 * @err:	filled on failure
 *
 * Takes at most LINKWATCH_BATCH datagrams, so that a flood of them cannot
 * hold the caller's loop; what is left keeps the descriptor readable.
 *
 * Return: 0; LINKWATCH_LOST when the kernel dropped notifications (the
 * socket's buffer was full) or one was too long to read, so a deletion may
 * have gone unreported: check the interfaces with linkwatch_exists(); or -1
 * when the socket failed
 */
int linkwatch_read(struct linkwatch *w, linkwatch_fn gone, void *userdata, struct cp_error *err)
{
	bool lost = false;
	int i;

	for (i = 0; i < LINKWATCH_BATCH; i++) {
		switch (recv_one(w, gone, userdata, err)) {
		case LINKWATCH_RECV_TAKEN:
			break;
		case LINKWATCH_RECV_EMPTY:
			return lost ? LINKWATCH_LOST : 0;
		case LINKWATCH_RECV_LOST:
			lost = true;
			break;
		case LINKWATCH_RECV_ERROR:
			return -1;
		}
	}
	return lost ? LINKWATCH_LOST : 0;
}

/**
 * linkwatch_close() - close the watch
 * @w:		watch, may be NULL; freed
 */
void linkwatch_close(struct linkwatch *w)
{
	if (!w)
		return;
	close(w->fd);
	free(w);
}

/**
 * linkwatch_exists() - whether interface @ifname exists now with index @ifindex
 * @ifindex:	index the caller knows it by
 * @ifname:	its name
 *
 * When the kernel cannot be asked (if_nametoindex() fails other than with
 * ENODEV: out of descriptors, say), the answer is true. The caller's answer
 * to false is to remove a netdev, and a working VM must not lose its
 * network because we ran short of descriptors; a stale netdev on a deleted
 * tap is what we had before watching at all.
 *
 * Return: false when no interface has that name, or it has another index
 * (the tap was deleted and a new one took its name); else true
 */
bool linkwatch_exists(int ifindex, const char *ifname)
{
	unsigned idx;

	if (ifindex <= 0 || !ifname || !*ifname || strnlen(ifname, IF_NAMESIZE) >= IF_NAMESIZE)
		return false;
	errno = 0;
	idx = if_nametoindex(ifname);
	if (!idx)
		return errno != ENODEV;
	return idx == (unsigned)ifindex;
}

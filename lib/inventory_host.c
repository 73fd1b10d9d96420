/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The host side of the inventory: which host interface is behind each NIC
 * queue. QEMU only knows descriptor numbers; the kernel knows the rest, in
 * /proc/<qemu pid>/fdinfo/<fd> ("iff:\t<tap>") for /dev/net/tun queues and
 * in the /proc/<pid>/fd/<fd> link ("/dev/tap<ifindex>") for macvtap.
 *
 * This is kernel truth, which QEMU cannot forge; reading it needs ptrace
 * read access to QEMU (CAP_SYS_PTRACE when QEMU runs as another user). When
 * it is denied, the NIC keeps an empty ifname and its errno, and the planner
 * says what to do.
 *
 * A direct NIC slot names its tap in "info network" (ifname=); rtnetlink,
 * which needs no privilege, says whether that tap exists in this network
 * namespace and is persistent (made by the manager, not by QEMU at start
 * when no tap of that name existed), its queues and its bridge.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "cleanup.h"
#include "coldplug/inventory.h"
#include "util.h"

/**
 * read_fdinfo_iff() - the "iff:" line of one fdinfo file
 * @path:	/proc/<pid>/fdinfo/<fd>
 * @out:	set to the interface name
 * @size:	size of @out
 *
 * Return: 0 found, 1 no iff line (not a tun queue), or -errno
 */
static int read_fdinfo_iff(const char *path, char *out, size_t size)
{
	char buf[1024];
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	char *p, *end;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	p = strstr(buf, "\niff:\t");
	if (!p)
		return 1;
	p += 6;
	end = strchr(p, '\n');
	if (end)
		*end = '\0';
	if (!*p || strlen(p) >= size)
		return 1;
	cp_strlcpy(out, p, size);
	return 0;
}

/**
 * probe_nic() - find the host interface behind one NIC's first queue
 * @nic:	NIC with at least one fd
 * @proc_root:	"/proc", or a test tree
 * @pid:	QEMU's pid
 */
static void probe_nic(struct inv_nic *nic, const char *proc_root, pid_t pid)
{
	char path[256], link[256];
	unsigned long long tapno;
	ssize_t n;
	int rc;

	snprintf(path, sizeof(path), "%s/%d/fdinfo/%d", proc_root, (int)pid, nic->fds[0]);
	rc = read_fdinfo_iff(path, nic->ifname, sizeof(nic->ifname));
	if (rc < 0) {
		nic->probe_errno = -rc;
		return;
	}
	if (rc == 0)
		return;
	snprintf(path, sizeof(path), "%s/%d/fd/%d", proc_root, (int)pid, nic->fds[0]);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0) {
		nic->probe_errno = errno;
		return;
	}
	link[n] = '\0';
	if (cp_str_has_prefix(link, "/dev/tap") &&
	    cp_parse_uint(link + 8, 1u << 30, &tapno, NULL) == 0) {
		nic->macvtap = true;
		cp_strlcpy(nic->tapdev, link, sizeof(nic->tapdev));
	}
}

/**
 * inventory_probe_taps() - fill in the host interface of each tap NIC
 * @inv:	inventory with @pid and the NICs' fds
 * @proc_root:	"/proc" (tests pass a tree of their own)
 * @err:	unused: a probe that is denied is recorded per NIC, not failed
 *
 * Return: 0
 */
int inventory_probe_taps(struct inventory *inv, const char *proc_root, struct cp_error *err)
{
	size_t i;

	(void)err;
	for (i = 0; i < inv->nnics; i++) {
		if (!inv->nics[i].nfds)
			continue;
		if (inv->pid <= 0) {
			inv->nics[i].probe_errno = ESRCH;
			continue;
		}
		probe_nic(&inv->nics[i], proc_root, inv->pid);
	}
	return 0;
}

/**
 * ifname_ok() - a name the kernel could give an interface
 * @name:	name (from QEMU's "info network": checked before use)
 *
 * Return: true if it is one
 */
static bool ifname_ok(const char *name)
{
	return *name && strlen(name) < INV_IFNAME_MAX && strcmp(name, ".") && strcmp(name, "..") &&
	       !strpbrk(name, "/ \t\n:");
}

/* An RTM_GETLINK request for one interface, by name. */
struct getlink_req {
	struct nlmsghdr nh;
	struct ifinfomsg ifi;
	char attrs[RTA_SPACE(INV_IFNAME_MAX)];
};

/**
 * tun_info() - the tun attributes of IFLA_INFO_DATA
 * @data:	the nested attribute
 * @out:	filled
 */
static void tun_info(const struct rtattr *data, struct inv_tap *out)
{
	const struct rtattr *a;
	int len = (int)RTA_PAYLOAD(data);
	uint32_t v32 = 0;
	uint8_t v8 = 0;

	for (a = RTA_DATA(data); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (RTA_PAYLOAD(a) >= 1)
			memcpy(&v8, RTA_DATA(a), 1);
		if (RTA_PAYLOAD(a) >= 4)
			memcpy(&v32, RTA_DATA(a), 4);
		if (a->rta_type == IFLA_TUN_TYPE && RTA_PAYLOAD(a) >= 1)
			out->flags |= v8 & (IFF_TUN | IFF_TAP);
		else if (a->rta_type == IFLA_TUN_PERSIST && RTA_PAYLOAD(a) >= 1 && v8)
			out->flags |= IFF_PERSIST;
		else if (a->rta_type == IFLA_TUN_MULTI_QUEUE && RTA_PAYLOAD(a) >= 1 && v8)
			out->flags |= IFF_MULTI_QUEUE;
		else if (a->rta_type == IFLA_TUN_VNET_HDR && RTA_PAYLOAD(a) >= 1 && v8)
			out->flags |= IFF_VNET_HDR;
		else if (a->rta_type == IFLA_TUN_NUM_QUEUES && RTA_PAYLOAD(a) >= 4)
			out->queues = v32;
		else if (a->rta_type == IFLA_TUN_NUM_DISABLED_QUEUES && RTA_PAYLOAD(a) >= 4)
			out->disabled = v32;
	}
}

/**
 * link_info() - parse one RTM_NEWLINK answer
 * @ifi:	its ifinfomsg
 * @len:	bytes of attributes after it
 * @out:	filled
 */
static void link_info(const struct ifinfomsg *ifi, int len, struct inv_tap *out)
{
	const struct rtattr *a, *b;
	char master[IF_NAMESIZE];
	uint32_t v32;
	int blen;

	out->exists = true;
	out->ifindex = ifi->ifi_index;
	for (a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == IFLA_MASTER && RTA_PAYLOAD(a) >= 4) {
			memcpy(&v32, RTA_DATA(a), 4);
			if (if_indextoname(v32, master))
				cp_strlcpy(out->master, master, sizeof(out->master));
			continue;
		}
		if (a->rta_type != IFLA_LINKINFO)
			continue;
		blen = (int)RTA_PAYLOAD(a);
		for (b = RTA_DATA(a); RTA_OK(b, blen); b = RTA_NEXT(b, blen))
			if (b->rta_type == IFLA_INFO_DATA)
				tun_info(b, out);
	}
}

/**
 * getlink() - ask the kernel about one interface over rtnetlink
 * @ifname:	its name
 * @out:	filled
 *
 * The socket is in the caller's network namespace (QEMU's, on an Incus
 * host and in the lab alike); no privilege is needed.
 *
 * Return: 0 (found or not: see @out), or -errno
 */
static int getlink(const char *ifname, struct inv_tap *out)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = 2 };
	struct getlink_req req;
	struct rtattr *rta;
	union {
		char buf[16384];
		struct nlmsghdr align;
	} u;
	cleanup_close int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	const struct nlmsghdr *nh;
	ssize_t n;
	int len;

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_type = RTM_GETLINK;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.nh.nlmsg_seq = 1;
	req.ifi.ifi_family = AF_UNSPEC;
	rta = (struct rtattr *)((char *)&req + NLMSG_ALIGN(NLMSG_LENGTH(sizeof(req.ifi))));
	rta->rta_type = IFLA_IFNAME;
	rta->rta_len = (unsigned short)RTA_LENGTH(strlen(ifname) + 1);
	memcpy(RTA_DATA(rta), ifname, strlen(ifname) + 1);
	req.nh.nlmsg_len = NLMSG_ALIGN(NLMSG_LENGTH(sizeof(req.ifi))) + RTA_ALIGN(rta->rta_len);
	if (sendto(fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	n = recv(fd, u.buf, sizeof(u.buf), 0);
	if (n < 0)
		return -errno;
	len = (int)n;
	for (nh = &u.align; NLMSG_OK(nh, (unsigned)len); nh = NLMSG_NEXT(nh, len)) {
		if (nh->nlmsg_seq != 1)
			continue;
		if (nh->nlmsg_type == NLMSG_ERROR &&
		    nh->nlmsg_len >= NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
			const struct nlmsgerr *e = NLMSG_DATA(nh);

			return e->error == -ENODEV ? (out->probe_errno = ENODEV, 0) : e->error;
		}
		if (nh->nlmsg_type == RTM_NEWLINK &&
		    nh->nlmsg_len >= NLMSG_LENGTH(sizeof(struct ifinfomsg))) {
			link_info(NLMSG_DATA(nh), (int)IFLA_PAYLOAD(nh), out);
			return 0;
		}
	}
	return -EPROTO;
}

/**
 * inventory_probe_tap() - what the kernel says of a host tap (rtnetlink)
 * @ifname:	interface name
 * @out:	filled (probe_errno says why it could not be)
 */
void inventory_probe_tap(const char *ifname, struct inv_tap *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	out->probed = true;
	if (!ifname_ok(ifname)) {
		out->probe_errno = EINVAL;
		return;
	}
	rc = getlink(ifname, out);
	if (rc < 0)
		out->probe_errno = -rc;
}

/**
 * inventory_probe_slot_taps() - look up the tap of each direct NIC slot
 * @inv:	inventory
 */
void inventory_probe_slot_taps(struct inventory *inv)
{
	size_t i;

	for (i = 0; i < inv->nslots; i++)
		if (inv->slots[i].direct)
			inventory_probe_tap(inv->slots[i].ifname, &inv->slots[i].tap);
}

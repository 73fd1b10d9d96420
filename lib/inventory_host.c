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
 * A direct NIC slot names its tap in "info network" (ifname=); rtnetlink
 * (tapq_probe(), in QEMU's network namespace: no privilege when it is ours,
 * as under Incus) says whether that tap exists and is persistent (made by
 * the manager, not by QEMU at start when no tap of that name existed), its
 * queues and its bridge.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "coldplug/inventory.h"
#include "tapq.h"
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

/**
 * inventory_probe_tap() - what the kernel says of a host tap (rtnetlink, in
 * QEMU's network namespace: see tapq.h)
 * @ifname:	interface name
 * @pid:	QEMU's pid, 0 for our own namespace
 * @proc_root:	"/proc" (tests pass a tree of their own)
 * @out:	filled (probe_errno says why it could not be: ENODEV when
 *		there is no such interface)
 */
void inventory_probe_tap(const char *ifname, pid_t pid, const char *proc_root, struct inv_tap *out)
{
	struct tapq_target t = { .ifname = ifname, .pid = pid, .proc_root = proc_root };
	struct tapq_info info;
	struct cp_error err = { 0 };

	memset(out, 0, sizeof(*out));
	out->probed = true;
	if (!ifname_ok(ifname)) {
		out->probe_errno = EINVAL;
		return;
	}
	if (tapq_probe(&t, &info, &err) < 0 && err.code != CP_ERR_INVALID) {
		out->probe_errno = err.sys_errno ? err.sys_errno : EIO;
		return;
	}
	/* CP_ERR_INVALID: it exists but is no tap; info says what it is. */
	out->exists = true;
	out->ifindex = info.ifindex;
	out->flags = (info.is_tap ? IFF_TAP : 0) | (info.persistent ? IFF_PERSIST : 0) |
		     (info.multi_queue ? IFF_MULTI_QUEUE : 0) | (info.vnet_hdr ? IFF_VNET_HDR : 0);
	out->queues = info.queues;
	out->disabled = info.disabled;
	cp_strlcpy(out->master, info.master, sizeof(out->master));
}

/**
 * inventory_probe_slot_taps() - look up the tap of each direct NIC slot
 * @inv:	inventory (its pid says whose network namespace)
 * @proc_root:	"/proc" (tests pass a tree of their own)
 */
void inventory_probe_slot_taps(struct inventory *inv, const char *proc_root)
{
	size_t i;

	for (i = 0; i < inv->nslots; i++)
		if (inv->slots[i].direct)
			inventory_probe_tap(inv->slots[i].ifname, inv->pid, proc_root,
					    &inv->slots[i].tap);
}

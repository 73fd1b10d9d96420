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
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "coldplug/inventory.h"
#include "coldplug/qmp.h"
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
 * tap_fill() - what a probe found, as the inventory keeps it
 * @r:		the answered probe
 * @out:	filled (probe_errno says why it could not be: ENODEV when
 *		there is no such interface, ETIMEDOUT when the helper in
 *		QEMU's namespace did not answer)
 */
static void tap_fill(const struct tapq_req *r, struct inv_tap *out)
{
	const struct tapq_info *info = &r->info;

	memset(out, 0, sizeof(*out));
	out->probed = true;
	if (r->rc < 0 && r->err.code != CP_ERR_INVALID) {
		out->probe_errno = r->err.sys_errno;
		if (!out->probe_errno)
			out->probe_errno = r->err.code == CP_ERR_TIMEOUT ? ETIMEDOUT : EIO;
		return;
	}
	/* CP_ERR_INVALID: it exists but is no tap; info says what it is. */
	out->exists = true;
	out->ifindex = info->ifindex;
	out->flags = (info->is_tap ? IFF_TAP : 0) | (info->persistent ? IFF_PERSIST : 0) |
		     (info->multi_queue ? IFF_MULTI_QUEUE : 0) |
		     (info->vnet_hdr ? IFF_VNET_HDR : 0);
	out->queues = info->queues;
	out->disabled = info->disabled;
	cp_strlcpy(out->master, info->master, sizeof(out->master));
}

/**
 * inventory_probe_tap() - what the kernel says of a host tap (rtnetlink, in
 * QEMU's network namespace: see tapq.h), waiting for the tap helper when
 * that namespace is not ours (tapq_run(): for the command line)
 * @ifname:	interface name
 * @pid:	QEMU's pid, 0 for our own namespace
 * @proc_root:	"/proc" (tests pass a tree of their own)
 * @out:	filled (see tap_fill())
 */
void inventory_probe_tap(const char *ifname, pid_t pid, const char *proc_root, struct inv_tap *out)
{
	struct tapq_req r = { .t = { .ifname = ifname, .pid = pid, .proc_root = proc_root } };

	if (!ifname_ok(ifname)) {
		memset(out, 0, sizeof(*out));
		out->probed = true;
		out->probe_errno = EINVAL;
		return;
	}
	tapq_run(&r, 1);
	tap_fill(&r, out);
}

/**
 * struct slot_probe - the probes of the direct NIC slots' taps
 * @inv:	the inventory (borrowed)
 * @fn:		completion
 * @userdata:	for @fn
 * @n:		probes
 * @reqs:	them, in the order of the slots they are for
 */
struct slot_probe {
	struct inventory *inv;
	inventory_probed_fn fn;
	void *userdata;
	size_t n;
	struct tapq_req reqs[];
};

/**
 * probed_slot() - whether slot @s gets a probe (a direct slot with a name
 * the kernel could give a tap; others are marked here)
 * @s:	slot
 *
 * Return: true if it does
 */
static bool probed_slot(struct inv_slot *s)
{
	if (!s->direct)
		return false;
	if (ifname_ok(s->ifname))
		return true;
	memset(&s->tap, 0, sizeof(s->tap));
	s->tap.probed = true;
	s->tap.probe_errno = EINVAL;
	return false;
}

/**
 * slots_fill() - give each probed slot what its probe found
 * @sp:	probes, answered
 */
static void slots_fill(const struct slot_probe *sp)
{
	size_t i, k = 0;

	for (i = 0; i < sp->inv->nslots; i++)
		if (sp->inv->slots[i].direct && ifname_ok(sp->inv->slots[i].ifname))
			tap_fill(&sp->reqs[k++], &sp->inv->slots[i].tap);
}

/**
 * on_slots_probed() - tapq_fn: the tap helper answered (or was killed)
 * @reqs:	the probes
 * @n:		their count
 * @userdata:	struct slot_probe (freed)
 */
static void on_slots_probed(struct tapq_req *reqs, size_t n, void *userdata)
{
	struct slot_probe *sp = userdata;

	(void)reqs;
	(void)n;
	slots_fill(sp);
	sp->fn(sp->userdata);
	free(sp);
}

/**
 * inventory_probe_slot_taps() - look up the tap of each direct NIC slot,
 * without waiting for the tap helper (when QEMU's network namespace is not
 * ours, it runs watched on @c's loop)
 * @c:		QEMU's client
 * @inv:	inventory (its pid says whose network namespace); must
 *		outlive the probe
 * @proc_root:	"/proc" (tests pass a tree of their own)
 * @fn:		called when the probes end later (return 0)
 * @userdata:	for @fn
 * @err:	filled on failure
 *
 * Return: 1 done now, 0 @fn will be called, -1 on failure
 */
int inventory_probe_slot_taps(struct qmp_client *c, struct inventory *inv, const char *proc_root,
			      inventory_probed_fn fn, void *userdata, struct cp_error *err)
{
	struct slot_probe *sp;
	size_t i, n = 0;
	int rc;

	for (i = 0; i < inv->nslots; i++)
		n += probed_slot(&inv->slots[i]);
	if (!n)
		return 1;
	sp = cp_calloc(1, sizeof(*sp) + n * sizeof(sp->reqs[0]), err);
	if (!sp)
		return -1;
	*sp = (struct slot_probe){ .inv = inv, .fn = fn, .userdata = userdata, .n = n };
	for (i = 0, n = 0; i < inv->nslots; i++)
		if (inv->slots[i].direct && ifname_ok(inv->slots[i].ifname))
			sp->reqs[n++].t = (struct tapq_target){ .ifname = inv->slots[i].ifname,
								.pid = inv->pid,
								.proc_root = proc_root };
	rc = tapq_start(c, sp->reqs, n, on_slots_probed, sp, err);
	if (rc == 1)
		slots_fill(sp);
	if (rc != 0)
		free(sp);
	return rc;
}

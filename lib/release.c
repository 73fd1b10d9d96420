/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The release watch: see coldplug/release.h. Plain data in and out, apart
 * from the one netdev_del of a direct slot whose tap is gone, so that the
 * daemon's state machine only decides when to look.
 */
#include <errno.h>
#include <string.h>

#include "coldplug/release.h"
#include "coldplug/linkwatch.h"
#include "util.h"

/**
 * empty_usb_cd() - a CD slot's usb-bot with no medium under it
 * @s:	slot
 *
 * The scsi-cd on it keeps the manager's device id, so the manager's own
 * device_del of its ISO removes it and leaves the usb-bot (and its USB
 * port) to coldplug.
 *
 * Return: true if the slot is such a usb-bot
 */
static bool empty_usb_cd(const struct inv_slot *s)
{
	return s->kind == INV_SLOT_CD && !s->used && !strcmp(s->driver, "usb-bot");
}

/**
 * collect_watch() - remember every slot that holds a node the manager opened
 * through an fdset, and every empty CD slot's usb-bot
 * @rs:		filled
 * @inv:	inventory
 */
static void collect_watch(struct release_set *rs, const struct inventory *inv)
{
	size_t i;

	rs->nwatch = 0;
	for (i = 0; i < inv->nslots && rs->nwatch < RELEASE_MAX_WATCH; i++) {
		const struct inv_slot *s = &inv->slots[i];
		struct release_watch *w = &rs->watch[rs->nwatch];

		if (s->kind == INV_SLOT_NIC || ((!s->used || !s->nfdsets) && !empty_usb_cd(s)))
			continue;
		w->kind = s->kind;
		w->index = s->index;
		cp_strlcpy(w->node, s->node, sizeof(w->node));
		rs->nwatch++;
	}
}

/**
 * collect_links() - remember the tap of every direct NIC slot in use
 * @rs:		filled
 * @inv:	inventory
 */
static void collect_links(struct release_set *rs, const struct inventory *inv)
{
	size_t i;

	rs->nlinks = 0;
	for (i = 0; i < inv->nslots && rs->nlinks < RELEASE_MAX_LINKS; i++) {
		const struct inv_slot *s = &inv->slots[i];
		struct release_link *l = &rs->links[rs->nlinks];

		if (s->kind != INV_SLOT_NIC || !s->direct || !s->used)
			continue;
		memset(l, 0, sizeof(*l));
		l->ifindex = s->tap.ifindex;
		cp_strlcpy(l->ifname, s->ifname, sizeof(l->ifname));
		cp_strlcpy(l->netdev, s->name, sizeof(l->netdev));
		l->missing = !s->tap.exists && s->tap.probe_errno == ENODEV;
		rs->nlinks++;
	}
}

/**
 * release_collect() - what to watch, from a fresh inventory
 * @rs:		filled (what it held before is forgotten)
 * @inv:	inventory; not kept
 *
 * The slots holding a node their manager opened through fdsets (a detach
 * removes those fds first), every empty USB CD drive (unplugged at once),
 * and every direct NIC slot's tap; a tap the inventory found gone already
 * is marked @missing (release_link_next()).
 */
void release_collect(struct release_set *rs, const struct inventory *inv)
{
	collect_watch(rs, inv);
	collect_links(rs, inv);
	rs->qemu_major = inv->ver_major;
	rs->qemu_minor = inv->ver_minor;
}

/**
 * node_has_fd() - whether any monitor fd still opens a node for its manager
 * @sets:	query-fdsets' answer
 * @node:	node-name
 *
 * After remove-fd, QEMU drops the fd from its fdset once the VM runs, but
 * keeps the fdset itself while the node holds a duplicate: so the test is
 * on each fd's opaque, not on the fdset ids. (QEMU 7.2 drops it only while
 * the VM runs; 10.x also while it is paused.)
 *
 * Return: true if an fd whose opaque names @node is left
 */
static bool node_has_fd(const cp_json *sets, const char *node)
{
	size_t i, j;

	for (i = 0; i < cp_json_len(sets); i++) {
		cp_json *fds = cp_json_get_array(cp_json_at(sets, i), "fds");

		for (j = 0; j < cp_json_len(fds); j++)
			if (inventory_fdset_names_node(
				    cp_json_get_str(cp_json_at(fds, j), "opaque"), node))
				return true;
	}
	return false;
}

/**
 * release_pick() - the first watched slot to release
 * @rs:		what is watched
 * @fdsets:	query-fdsets' answer
 * @index:	set to the entry's index in @rs->watch when one is found
 *
 * An empty USB CD drive is released at once; a slot whose node has no fd
 * left is being detached by its manager.
 *
 * Return: true if a slot must be released
 */
bool release_pick(const struct release_set *rs, const cp_json *fdsets, size_t *index)
{
	size_t i;

	for (i = 0; i < rs->nwatch; i++)
		if (!*rs->watch[i].node || !node_has_fd(fdsets, rs->watch[i].node)) {
			*index = i;
			return true;
		}
	return false;
}

/**
 * release_plan() - the plan that releases a watched slot, if it still holds
 * what it held
 * @inv:	a fresh inventory
 * @w:		the watched slot
 * @out:	filled on success; free with plan_free()
 * @err:	filled on failure
 *
 * A USB CD slot is unplugged whether or not the manager's device_del
 * already took the scsi-cd (and the node) off it.
 *
 * Return: 0, or -1 (CP_ERR_INVALID: the slot is gone or holds something
 * else now; watch again)
 */
int release_plan(const struct inventory *inv, const struct release_watch *w, struct plan *out,
		 struct cp_error *err)
{
	const struct inv_slot *s = inventory_find_slot(inv, w->kind, w->index);

	memset(out, 0, sizeof(*out));
	if (!s)
		return cp_error_set(err, CP_ERR_INVALID, "slot %u is gone", w->index);
	if (strcmp(s->node, w->node) && !(*w->node && empty_usb_cd(s)))
		return cp_error_set(err, CP_ERR_INVALID, "%s holds %s now, not %s", s->name,
				    *s->node ? s->node : "nothing", w->node);
	return plan_release(inv, s, out, err);
}

/**
 * release_link_next() - the next direct slot whose tap is gone
 * @rs:		what is watched
 * @test:	how to tell
 * @ifindex:	the deleted interface, for RELEASE_LINK_IFINDEX
 *
 * Slots already dropped (@gone) are skipped: call again after
 * release_link_drop() for the next one.
 *
 * Return: borrowed link, or NULL when there is none left
 */
struct release_link *release_link_next(struct release_set *rs, enum release_link_test test,
				       int ifindex)
{
	size_t i;

	for (i = 0; i < rs->nlinks; i++) {
		struct release_link *l = &rs->links[i];

		if (l->gone)
			continue;
		if ((test == RELEASE_LINK_MISSING && l->missing) ||
		    (test == RELEASE_LINK_IFINDEX && l->ifindex == ifindex) ||
		    (test == RELEASE_LINK_RECHECK && !linkwatch_exists(l->ifindex, l->ifname)))
			return l;
	}
	return NULL;
}

/**
 * release_link_drop() - netdev_del a direct slot's netdev (the guest sees
 * its link go down; QEMU stops reading the tap)
 * @c:		client
 * @l:		the link, marked @gone whatever happens
 * @fn:		called with netdev_del's answer (RELEASE_LINK_TIMEOUT_MS)
 * @userdata:	for @fn
 * @err:	filled on failure
 *
 * Return: 0, or -1 (@fn will not be called)
 */
int release_link_drop(struct qmp_client *c, struct release_link *l, qmp_reply_fn fn, void *userdata,
		      struct cp_error *err)
{
	cp_json *a = cp_json_obj(CP_STR("id", l->netdev));

	l->gone = true;
	if (!a)
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory removing netdev %s",
				    l->netdev);
	return qmp_client_send(c, "netdev_del", a, NULL, 0, RELEASE_LINK_TIMEOUT_MS, fn, userdata,
			       err);
}

/**
 * release_link_note() - what to add when a direct slot's tap goes
 * @rs:	what is watched (for QEMU's version)
 *
 * Return: static text, "" when there is nothing to say
 */
const char *release_link_note(const struct release_set *rs)
{
	return rs->qemu_major >= 8 ? "; this QEMU keeps the dead tap's queues while the slot's "
				     "NIC exists (QEMU 10.0 polls them, one core busy): restart "
				     "the VM to free them"
				   : "";
}

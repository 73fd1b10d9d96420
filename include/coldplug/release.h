/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * After a VM is re-homed, its manager keeps managing it: when Incus
 * detaches a disk that sits on one of coldplug's slots, it removes the fds
 * of the disk's node and then its blockdev-del fails while the slot holds
 * the node ("is in use"), for ever; when it detaches a direct NIC, it
 * deletes the tap and QEMU would poll a dead tap. The release watch is what
 * the daemon remembers from an inventory (the slots holding a node their
 * manager opened through fdsets, an empty USB CD drive, the direct NIC
 * slots' taps), the test that says a slot's node is going (its fds gone
 * from query-fdsets), and the one-step plan that gives the slot back
 * (plan_release(), applied with apply_start()).
 */
#ifndef COLDPLUG_RELEASE_H
#define COLDPLUG_RELEASE_H

#include <stdbool.h>
#include <stddef.h>

#include "coldplug/error.h"
#include "coldplug/inventory.h"
#include "coldplug/json.h"
#include "coldplug/plan.h"
#include "coldplug/qmp.h"

#define RELEASE_MAX_WATCH	32
#define RELEASE_MAX_LINKS	8
#define RELEASE_LINK_TIMEOUT_MS 5000

/**
 * struct release_watch - a slot holding a node its manager opened through
 * fdsets, or a CD slot's usb-bot left empty (to unplug at once)
 * @kind:	INV_SLOT_DISK or INV_SLOT_CD
 * @index:	slot number
 * @node:	the node it holds, "" for an empty CD slot
 */
struct release_watch {
	enum inv_slot_kind kind;
	unsigned index;
	char node[INV_NAME_MAX];
};

/**
 * struct release_link - a direct NIC slot's tap: when the manager deletes
 * it (a NIC detach), the slot's netdev must go, or QEMU polls a dead tap
 * @ifindex:	the tap's ifindex when the slot was last seen on it
 * @ifname:	its name
 * @netdev:	the slot's netdev (coldplug-nic<N>)
 * @missing:	the inventory found the tap gone already (deleted while the
 *		daemon was away)
 * @gone:	netdev_del was sent
 */
struct release_link {
	int ifindex;
	char ifname[INV_IFNAME_MAX];
	char netdev[INV_NAME_MAX];
	bool missing;
	bool gone;
};

/**
 * struct release_set - what one VM's release watch looks at
 * @watch:	slots to watch for a detach
 * @nwatch:	their count
 * @links:	direct NIC slots' taps, watched for deletion
 * @nlinks:	their count
 * @qemu_major:	QEMU's version, from the last inventory
 * @qemu_minor:	QEMU's version, from the last inventory
 */
struct release_set {
	struct release_watch watch[RELEASE_MAX_WATCH];
	size_t nwatch;
	struct release_link links[RELEASE_MAX_LINKS];
	size_t nlinks;
	int qemu_major;
	int qemu_minor;
};

/**
 * enum release_link_test - which direct slots' taps are gone
 * @RELEASE_LINK_MISSING:	the inventory found them gone (release_collect())
 * @RELEASE_LINK_IFINDEX:	the kernel said this ifindex was deleted
 * @RELEASE_LINK_RECHECK:	ask the kernel now (deletions may have been
 *				missed)
 */
enum release_link_test {
	RELEASE_LINK_MISSING,
	RELEASE_LINK_IFINDEX,
	RELEASE_LINK_RECHECK,
};

void release_collect(struct release_set *rs, const struct inventory *inv);
bool release_pick(const struct release_set *rs, const cp_json *fdsets, size_t *index);
int release_plan(const struct inventory *inv, const struct release_watch *w, struct plan *out,
		 struct cp_error *err);

struct release_link *release_link_next(struct release_set *rs, enum release_link_test test,
				       int ifindex);
int release_link_drop(struct qmp_client *c, struct release_link *l, qmp_reply_fn fn, void *userdata,
		      struct cp_error *err);
const char *release_link_note(const struct release_set *rs);

#endif /* COLDPLUG_RELEASE_H */

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The release watch (lib/release.c) on the inventory recorded from a VM
 * that coldplug re-homed (root and data on coldplug-disk0/1, the ISO on the
 * USB CD drive coldplug-cd0): what it watches, how it notices that Incus is
 * detaching a disk (the disk's fds gone from query-fdsets), the plan that
 * gives the slot back, and that plan applied against the fake QMP peer: a
 * placeholder re-added and checked with query-block, a USB CD drive
 * unplugged, a legacy CD's medium taken out, and a release that QEMU does
 * not confirm failing.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "coldplug/apply.h"
#include "coldplug/qmp.h"
#include "coldplug/release.h"
#include "fakepeer.h"
#include "names.h"
#include "recorded.h"
#include "tap.h"
#include "util.h"

#define DISK0 "/machine/peripheral-anon/device[0]"

/* query-fdsets as Incus leaves it: one fdset per node it opened. */
#define FDSET(id, opaque)                                                                          \
	"{\"fdset-id\":" #id ",\"fds\":[{\"fd\":" #id "0,\"opaque\":\"" opaque "\"}]}"

/**
 * load() - the re-homed recording (QEMU 7.2)
 * @inv:	filled
 */
static void load(struct inventory *inv)
{
	recorded_inventory("incus-default-rehomed", "7.2", NULL, inv);
}

/**
 * slot() - a slot of @inv, writable, for a test to edit
 * @inv:	inventory
 * @kind:	kind
 * @index:	index
 *
 * Return: the slot; bails out if the recording has none
 */
static struct inv_slot *slot(struct inventory *inv, enum inv_slot_kind kind, unsigned index)
{
	struct inv_slot *s = (struct inv_slot *)inventory_find_slot(inv, kind, index);

	if (!s)
		bail_out("the recording has no slot %d/%u", (int)kind, index);
	return s;
}

/**
 * test_collect() - the slots whose node Incus opened through an fdset are
 * watched (disks and the CD), NIC slots never; an empty USB CD drive is
 * watched too; a disk not opened through an fdset is not
 */
static void test_collect(void)
{
	struct release_set rs;
	struct inventory inv;

	load(&inv);
	release_collect(&rs, &inv);
	is_int((int)rs.nwatch, 3, "three slots watched: root, data, the ISO");
	ok(rs.nwatch == 3 && rs.watch[0].kind == INV_SLOT_DISK && rs.watch[0].index == 0 &&
		   !strcmp(rs.watch[0].node, "incus_root") &&
		   !strcmp(rs.watch[1].node, "incus_data") && rs.watch[2].kind == INV_SLOT_CD &&
		   !strcmp(rs.watch[2].node, "incus_iso"),
	   "...each with the node it holds");
	is_int((int)rs.nlinks, 0, "no direct NIC slot: no tap watched");
	is_int(rs.qemu_major, 7, "QEMU's version kept from the inventory");
	slot(&inv, INV_SLOT_DISK, 1)->nfdsets = 0;
	slot(&inv, INV_SLOT_CD, 0)->used = false;
	slot(&inv, INV_SLOT_CD, 0)->node[0] = '\0';
	release_collect(&rs, &inv);
	ok(rs.nwatch == 2 && !strcmp(rs.watch[0].node, "incus_root") &&
		   rs.watch[1].kind == INV_SLOT_CD && !*rs.watch[1].node,
	   "a disk opened without an fdset is not watched; an empty USB CD drive is");
	slot(&inv, INV_SLOT_DISK, 0)->used = false;
	release_collect(&rs, &inv);
	ok(rs.nwatch == 1 && rs.watch[0].kind == INV_SLOT_CD,
	   "a slot on its placeholder is not watched");
	inventory_free(&inv);
}

/**
 * test_links() - a direct NIC slot's tap is remembered; a tap found gone
 * is dropped at once, one deleted later by its ifindex
 */
static void test_links(void)
{
	struct release_link *l;
	struct release_set rs;
	struct inventory inv;
	struct inv_slot *s;

	load(&inv);
	s = slot(&inv, INV_SLOT_NIC, 0);
	s->direct = true;
	cp_strlcpy(s->ifname, "tapfeed01", sizeof(s->ifname));
	s->tap.ifindex = 42;
	s->tap.exists = true;
	release_collect(&rs, &inv);
	ok(rs.nlinks == 1 && rs.links[0].ifindex == 42 &&
		   !strcmp(rs.links[0].ifname, "tapfeed01") &&
		   !strcmp(rs.links[0].netdev, "coldplug-nic0") && !rs.links[0].missing,
	   "a direct slot's tap is watched: ifindex, name and the slot's netdev");
	ok(!release_link_next(&rs, RELEASE_LINK_MISSING, 0),
	   "a tap that exists is not dropped at once");
	ok(!release_link_next(&rs, RELEASE_LINK_IFINDEX, 43), "another interface going: kept");
	l = release_link_next(&rs, RELEASE_LINK_IFINDEX, 42);
	ok(l == &rs.links[0], "its own interface going: dropped");
	if (l)
		l->gone = true;
	ok(!release_link_next(&rs, RELEASE_LINK_IFINDEX, 42), "...once");
	s->tap.exists = false;
	s->tap.probe_errno = ENODEV;
	release_collect(&rs, &inv);
	ok(release_link_next(&rs, RELEASE_LINK_MISSING, 0) == &rs.links[0],
	   "a tap deleted while the daemon was away is dropped at once");
	s->tap.probe_errno = EACCES;
	release_collect(&rs, &inv);
	ok(!release_link_next(&rs, RELEASE_LINK_MISSING, 0),
	   "a tap that could not be probed is not taken for gone");
	s->direct = false;
	release_collect(&rs, &inv);
	is_int((int)rs.nlinks, 0, "a hub slot has no tap to watch");
	inventory_free(&inv);
}

/**
 * pick() - release_pick() on a query-fdsets answer
 * @rs:		what is watched
 * @fdsets:	the answer, JSON
 *
 * Return: the index picked, or -1
 */
static int pick(const struct release_set *rs, const char *fdsets)
{
	cp_json *j = cp_json_parse(fdsets, strlen(fdsets), NULL);
	size_t i = 0;
	bool picked;

	if (!j)
		bail_out("bad JSON in the test: %s", fdsets);
	picked = release_pick(rs, j, &i);
	cp_json_unref(j);
	return picked ? (int)i : -1;
}

/**
 * test_pick() - the watch notices a disk going when its fds go, not before
 */
static void test_pick(void)
{
	struct release_set rs;
	struct inventory inv;

	load(&inv);
	release_collect(&rs, &inv);
	is_int(pick(&rs, "[" FDSET(1, "rdwr:incus_root") "," FDSET(2, "rdwr:incus_data") "," FDSET(
				 3, "rdonly:incus_iso") "]"),
	       -1, "every node still has its fd: nothing to release");
	is_int(pick(&rs, "[" FDSET(1, "rdwr:incus_root") ",{\"fdset-id\":2,\"fds\":[]}," FDSET(
				 3, "rdonly:incus_iso") "]"),
	       1, "data's fd removed (its fdset kept while the node holds a dup): data goes");
	is_int(pick(&rs, "[" FDSET(1, "rdwr:incus_root_raw") "," FDSET(
				 2, "rdwr:incus_data") "," FDSET(3, "rdonly:incus_iso") "]"),
	       -1, "a qcow2 data file's fd (node_raw) still opens root");
	is_int(pick(&rs, "[" FDSET(1, "rdwr:incus_rootfs") "," FDSET(
				 2, "rdwr:incus_data") "," FDSET(3, "rdonly:incus_iso") "]"),
	       0, "an fd of another node whose name starts alike does not");
	is_int(pick(&rs, "[" FDSET(1, "rdwr:incus_root") "," FDSET(2, "rdwr:incus_data") "]"), 2,
	       "the ISO's fd removed: the CD goes");
	is_int(pick(&rs, "[]"), 0, "every fd gone: the first slot goes first");
	slot(&inv, INV_SLOT_CD, 0)->used = false;
	slot(&inv, INV_SLOT_CD, 0)->node[0] = '\0';
	release_collect(&rs, &inv);
	is_int(pick(&rs, "[" FDSET(1, "rdwr:incus_root") "," FDSET(2, "rdwr:incus_data") "]"), 2,
	       "an empty USB CD drive is released at once");
	inventory_free(&inv);
}

/**
 * test_plan() - the release plan: a disk gets its placeholder back, a USB
 * CD drive is unplugged (also once Incus's device_del took the scsi-cd),
 * and a slot that changed meanwhile is left alone
 */
static void test_plan(void)
{
	struct release_watch w;
	struct inventory inv;
	struct cp_error err;
	struct plan p;

	load(&inv);
	w = (struct release_watch){ .kind = INV_SLOT_DISK, .index = 1 };
	cp_strlcpy(w.node, "incus_data", sizeof(w.node));
	ok(release_plan(&inv, &w, &p, &err) == 0 && p.n == 1 &&
		   p.steps[0].kind == PLAN_RELEASE_DISK &&
		   !strcmp(p.steps[0].slot_name, "coldplug-disk1") &&
		   !strcmp(p.steps[0].node, "incus_data") &&
		   !strcmp(p.steps[0].placeholder, "coldplug-ph-disk1") &&
		   !p.steps[0].placeholder_exists &&
		   !strcmp(p.steps[0].slot_path, "/machine/peripheral-anon/device[1]"),
	   "data: coldplug-disk1 gets a new placeholder coldplug-ph-disk1");
	is_str(p.n ? p.steps[0].to : "", "coldplug-ph-disk1", "...which the plan names");
	plan_free(&p);
	cp_strlcpy(w.node, "incus_other", sizeof(w.node));
	ok(release_plan(&inv, &w, &p, &err) < 0 && err.code == CP_ERR_INVALID && !p.n,
	   "a slot holding another node now: nothing to release");
	w.index = 7;
	ok(release_plan(&inv, &w, &p, &err) < 0 && !p.n, "a slot that is gone: nothing either");
	w = (struct release_watch){ .kind = INV_SLOT_CD, .index = 0 };
	cp_strlcpy(w.node, "incus_iso", sizeof(w.node));
	ok(release_plan(&inv, &w, &p, &err) == 0 && p.n == 1 &&
		   p.steps[0].kind == PLAN_RELEASE_CD && !p.steps[0].tray &&
		   !strcmp(p.steps[0].to, "unplugged"),
	   "the ISO: its USB CD drive is unplugged");
	plan_free(&p);
	slot(&inv, INV_SLOT_CD, 0)->used = false;
	slot(&inv, INV_SLOT_CD, 0)->node[0] = '\0';
	ok(release_plan(&inv, &w, &p, &err) == 0 && p.n == 1 && !p.steps[0].tray,
	   "...also once Incus's device_del has taken the scsi-cd off it");
	plan_free(&p);
	cp_strlcpy(slot(&inv, INV_SLOT_CD, 0)->driver, "ide-cd", 8);
	ok(release_plan(&inv, &w, &p, &err) < 0, "an empty legacy CD slot: nothing to release");
	inventory_free(&inv);
}

/**
 * watch_plan() - the release plan of watched slot @kind/@index
 * @inv:	inventory
 * @kind:	kind
 * @index:	index
 * @p:		filled
 */
static void watch_plan(const struct inventory *inv, enum inv_slot_kind kind, unsigned index,
		       struct plan *p)
{
	struct release_watch w = { .kind = kind, .index = index };
	struct cp_error err;

	cp_strlcpy(w.node, inventory_find_slot(inv, kind, index)->node, sizeof(w.node));
	if (release_plan(inv, &w, p, &err) < 0)
		bail_out("release plan: %s", err.msg);
}

#define ZERO_SET "1073741824"

/**
 * expect_zero() - disk0 moves to a zero node on a memfd, resized to 0, so
 * that a running guest sees the disk empty (doc/live-attach.md §3)
 * @fp:		peer
 */
static void expect_zero(struct fakepeer *fp)
{
	fakepeer_expect_fds(fp,
			    "{\"execute\":\"add-fd\",\"arguments\":{\"fdset-id\":" ZERO_SET ","
			    "\"opaque\":\"coldplug-zero\"}}",
			    1, NULL);
	fakepeer_reply(fp, "{\"return\":{\"fd\":26,\"fdset-id\":" ZERO_SET "}}");
	fakepeer_expect(fp, "{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"file\","
			    "\"node-name\":\"coldplug-zero0\",\"filename\":\"/dev/fdset/" ZERO_SET
			    "\"}}");
	fakepeer_reply(fp, "{\"return\":{}}");
	fakepeer_expect(fp, "{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"" DISK0 "\","
			    "\"property\":\"drive\",\"value\":\"coldplug-zero0\"}}");
	fakepeer_reply(fp, "{\"return\":{}}");
	fakepeer_expect(fp, "{\"execute\":\"block_resize\",\"arguments\":{\"node-name\":"
			    "\"coldplug-zero0\",\"size\":0}}");
}

/**
 * expect_zero_drop() - the zero node and its fdset go
 * @fp:		peer
 */
static void expect_zero_drop(struct fakepeer *fp)
{
	fakepeer_expect(fp, "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":"
			    "\"coldplug-zero0\"}}");
	fakepeer_reply(fp, "{\"return\":{}}");
	fakepeer_expect(fp,
			"{\"execute\":\"remove-fd\",\"arguments\":{\"fdset-id\":" ZERO_SET "}}");
	fakepeer_reply(fp, "{\"return\":{}}");
}

/**
 * expect_placeholder() - the zero node, then the placeholder of disk0 added
 * and set as its drive, then the zero node dropped
 * @fp:		peer
 */
static void expect_placeholder(struct fakepeer *fp)
{
	expect_zero(fp);
	fakepeer_reply(fp, "{\"return\":{}}");
	fakepeer_expect(fp,
			"{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"null-co\","
			"\"node-name\":\"coldplug-ph-disk0\",\"read-zeroes\":true,\"size\":0}}");
	fakepeer_reply(fp, "{\"return\":{}}");
	fakepeer_expect(fp, "{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"" DISK0 "\","
			    "\"property\":\"drive\",\"value\":\"coldplug-ph-disk0\"}}");
	fakepeer_reply(fp, "{\"return\":{}}");
	expect_zero_drop(fp);
	fakepeer_expect(fp, "{\"execute\":\"query-block\"}");
}

/**
 * test_release_disk() - root's slot gets a fresh placeholder, checked: the
 * step moved and changed QEMU; and a placeholder that is still there is
 * not added twice
 */
static void test_release_disk(void)
{
	struct fakepeer *fp = fakepeer_new();
	struct apply_result res[1];
	struct qmp_client *c;
	struct inventory inv;
	struct cp_error err;
	struct plan p;

	load(&inv);
	watch_plan(&inv, INV_SLOT_DISK, 0, &p);
	fakepeer_negotiate(fp);
	expect_placeholder(fp);
	fakepeer_reply(fp, "{\"return\":[{\"device\":\"coldplug-disk0\",\"inserted\":"
			   "{\"node-name\":\"coldplug-ph-disk0\"}},{\"device\":\"coldplug-disk1\","
			   "\"inserted\":{\"node-name\":\"incus_data\"}}]}");
	c = fakepeer_connect(fp, false);
	ok(apply_run(c, &p, NULL, res, &err) == 0, "root's slot released");
	is_int(res[0].status, APPLY_MOVED, "...the step is done");
	ok(res[0].changed, "...and it changed QEMU (the release's change flag)");
	qmp_client_free(c);
	fakepeer_finish(fp, "placeholder added, set as the slot's drive, checked");
	plan_free(&p);

	fp = fakepeer_new();
	p.steps = NULL;
	watch_plan(&inv, INV_SLOT_DISK, 0, &p);
	p.steps[0].placeholder_exists = true;
	fakepeer_negotiate(fp);
	expect_zero(fp);
	fakepeer_reply(fp, "{\"return\":{}}");
	fakepeer_expect(fp, "{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"" DISK0 "\","
			    "\"property\":\"drive\",\"value\":\"coldplug-ph-disk0\"}}");
	fakepeer_reply(fp, "{\"return\":{}}");
	expect_zero_drop(fp);
	fakepeer_expect(fp, "{\"execute\":\"query-block\"}");
	fakepeer_reply(fp, "{\"return\":[{\"device\":\"coldplug-disk0\",\"inserted\":"
			   "{\"node-name\":\"coldplug-ph-disk0\"}}]}");
	c = fakepeer_connect(fp, false);
	ok(apply_run(c, &p, NULL, res, &err) == 0 && res[0].status == APPLY_MOVED,
	   "a placeholder still there is set again, not added twice");
	qmp_client_free(c);
	fakepeer_finish(fp, "no blockdev-add for a placeholder that exists");
	plan_free(&p);
	inventory_free(&inv);
}

/**
 * test_release_zero_fails() - the zero node's resize is refused: the step
 * fails after its commit (Incus's node is free, the detach finishes), says
 * QEMU's reason, and sends nothing more
 */
static void test_release_zero_fails(void)
{
	struct fakepeer *fp = fakepeer_new();
	struct apply_result res[1];
	struct qmp_client *c;
	struct inventory inv;
	struct cp_error err;
	struct plan p;

	load(&inv);
	watch_plan(&inv, INV_SLOT_DISK, 0, &p);
	fakepeer_negotiate(fp);
	expect_zero(fp);
	fakepeer_reply(fp, "{\"error\":{\"class\":\"GenericError\",\"desc\":\"Cannot resize\"}}");
	c = fakepeer_connect(fp, false);
	ok(apply_run(c, &p, NULL, res, &err) < 0 && res[0].status == APPLY_FAILED && res[0].changed,
	   "zero node's block_resize refused: the release fails, as a change");
	like(res[0].err.msg, "Cannot resize", "...with QEMU's reason");
	qmp_client_free(c);
	fakepeer_finish(fp, "nothing after the refused resize");
	plan_free(&p);
	inventory_free(&inv);
}

/**
 * test_zero_fdset() - coldplug's own zero fdset never names a manager's
 * node: it keeps no slot from being released
 */
static void test_zero_fdset(void)
{
	struct release_set rs;
	struct inventory inv;

	load(&inv);
	release_collect(&rs, &inv);
	is_int(pick(&rs, "[{\"fdset-id\":" ZERO_SET ",\"fds\":[{\"fd\":26,\"opaque\":"
			 "\"coldplug-zero\"}]}," FDSET(2, "rdwr:incus_data") "," FDSET(
				 3, "rdonly:incus_iso") "]"),
	       0, "root's fd gone, only coldplug's zero fdset left: root goes");
	ok(!inventory_fdset_names_node(NAMES_ZERO_OPAQUE, "coldplug-zero0") &&
		   !inventory_fdset_names_node(NAMES_ZERO_OPAQUE, "incus_root"),
	   "the zero fdset's opaque names no node");
	inventory_free(&inv);
}

/**
 * test_check_released() - QEMU does not show the slot on its placeholder
 * after the release: the step fails, and says what the slot holds
 * @reply:	query-block's answer
 * @why:	the text the error must contain
 */
static void test_check_released(const char *reply, const char *why)
{
	struct fakepeer *fp = fakepeer_new();
	struct apply_result res[1];
	struct qmp_client *c;
	struct inventory inv;
	struct cp_error err;
	struct plan p;

	load(&inv);
	watch_plan(&inv, INV_SLOT_DISK, 0, &p);
	fakepeer_negotiate(fp);
	expect_placeholder(fp);
	fakepeer_reply(fp, reply);
	c = fakepeer_connect(fp, false);
	ok(apply_run(c, &p, NULL, res, &err) < 0, "a release query-block does not confirm fails");
	is_int(res[0].status, APPLY_FAILED, "...the step failed");
	like(res[0].err.msg, why, "...and says why");
	qmp_client_free(c);
	fakepeer_finish(fp, "release checked against query-block (%s)", why);
	plan_free(&p);
	inventory_free(&inv);
}

/**
 * test_release_usb_cd() - the ISO's USB CD drive is unplugged: device_del,
 * DEVICE_DELETED, and query-block shows no frontend on the ISO's node
 */
static void test_release_usb_cd(void)
{
	struct fakepeer *fp = fakepeer_new();
	struct apply_result res[1];
	struct qmp_client *c;
	struct inventory inv;
	struct cp_error err;
	struct plan p;

	load(&inv);
	watch_plan(&inv, INV_SLOT_CD, 0, &p);
	fakepeer_negotiate(fp);
	fakepeer_expect(fp, "{\"execute\":\"device_del\",\"arguments\":{\"id\":\"coldplug-cd0\"}}");
	fakepeer_reply(fp, "{\"return\":{}}");
	fakepeer_event(
		fp, "DEVICE_DELETED",
		"{\"device\":\"coldplug-cd0\",\"path\":\"/machine/peripheral/coldplug-cd0\"}");
	fakepeer_expect(fp, "{\"execute\":\"query-block\"}");
	fakepeer_reply(fp, "{\"return\":[{\"device\":\"coldplug-disk0\",\"inserted\":"
			   "{\"node-name\":\"incus_root\"}}]}");
	c = fakepeer_connect(fp, false);
	ok(apply_run(c, &p, NULL, res, &err) == 0, "the USB CD drive is released");
	ok(res[0].status == APPLY_MOVED && res[0].changed, "...done, and QEMU changed");
	qmp_client_free(c);
	fakepeer_finish(fp, "USB CD release: device_del coldplug-cd0, DEVICE_DELETED, checked");
	plan_free(&p);

	fp = fakepeer_new();
	watch_plan(&inv, INV_SLOT_CD, 0, &p);
	fakepeer_negotiate(fp);
	fakepeer_expect(fp, "{\"execute\":\"device_del\",\"arguments\":{\"id\":\"coldplug-cd0\"}}");
	fakepeer_reply(fp, "{\"return\":{}}");
	fakepeer_event(
		fp, "DEVICE_DELETED",
		"{\"device\":\"coldplug-cd0\",\"path\":\"/machine/peripheral/coldplug-cd0\"}");
	fakepeer_expect(fp, "{\"execute\":\"query-block\"}");
	fakepeer_reply(fp, "{\"return\":[{\"device\":\"\",\"qdev\":\"/machine/peripheral/x\","
			   "\"inserted\":{\"node-name\":\"incus_iso\"}}]}");
	c = fakepeer_connect(fp, false);
	ok(apply_run(c, &p, NULL, res, &err) < 0 && res[0].status == APPLY_FAILED,
	   "the ISO's node still held by a frontend: the CD release fails");
	like(res[0].err.msg, "incus_iso is still held by /machine/peripheral/x",
	     "...and says by what");
	qmp_client_free(c);
	fakepeer_finish(fp, "USB CD release, not confirmed");
	plan_free(&p);
	inventory_free(&inv);
}

/**
 * test_release_tray_cd() - a legacy ide-cd slot's medium comes out through
 * its tray, and the slot is checked empty
 */
static void test_release_tray_cd(void)
{
	struct fakepeer *fp = fakepeer_new();
	struct apply_result res[1];
	struct qmp_client *c;
	struct inventory inv;
	struct cp_error err;
	struct plan p;

	load(&inv);
	cp_strlcpy(slot(&inv, INV_SLOT_CD, 0)->driver, "ide-cd", 8);
	watch_plan(&inv, INV_SLOT_CD, 0, &p);
	ok(p.steps[0].kind == PLAN_RELEASE_CD && p.steps[0].tray &&
		   !strcmp(p.steps[0].to, "no medium"),
	   "a legacy CD slot: its medium comes out");
	fakepeer_negotiate(fp);
	fakepeer_expect(fp, "{\"execute\":\"blockdev-open-tray\",\"arguments\":"
			    "{\"id\":\"coldplug-cd0\",\"force\":true}}");
	fakepeer_reply(fp, "{\"return\":{}}");
	fakepeer_expect(fp, "{\"execute\":\"blockdev-remove-medium\",\"arguments\":"
			    "{\"id\":\"coldplug-cd0\"}}");
	fakepeer_reply(fp, "{\"return\":{}}");
	fakepeer_expect(fp, "{\"execute\":\"blockdev-close-tray\",\"arguments\":"
			    "{\"id\":\"coldplug-cd0\"}}");
	fakepeer_reply(fp, "{\"return\":{}}");
	fakepeer_expect(fp, "{\"execute\":\"query-block\"}");
	fakepeer_reply(fp, "{\"return\":[{\"device\":\"coldplug-cd0\",\"tray_open\":false}]}");
	c = fakepeer_connect(fp, false);
	ok(apply_run(c, &p, NULL, res, &err) == 0 && res[0].status == APPLY_MOVED && res[0].changed,
	   "the legacy CD slot is emptied, and QEMU changed");
	qmp_client_free(c);
	fakepeer_finish(fp, "tray CD release: open, remove, close, checked");
	plan_free(&p);
	inventory_free(&inv);
}

/**
 * on_dropped() - qmp_reply_fn of the netdev_del
 * @c:		client
 * @ret:	reply
 * @e:		error, or NULL
 * @userdata:	int: 1 answered, 2 answered with an error
 */
static void on_dropped(struct qmp_client *c, cp_json *ret, const struct cp_error *e, void *userdata)
{
	(void)c;
	(void)ret;
	*(int *)userdata = e ? 2 : 1;
}

/**
 * test_link_drop() - a gone tap's slot loses its netdev: netdev_del of the
 * slot's netdev, once
 */
static void test_link_drop(void)
{
	struct fakepeer *fp = fakepeer_new();
	struct release_set rs = { .nlinks = 1 };
	struct qmp_client *c;
	struct cp_error err;
	int64_t end;
	int got = 0;

	cp_strlcpy(rs.links[0].netdev, "coldplug-nic0", sizeof(rs.links[0].netdev));
	rs.links[0].ifindex = 42;
	fakepeer_negotiate(fp);
	fakepeer_expect(fp,
			"{\"execute\":\"netdev_del\",\"arguments\":{\"id\":\"coldplug-nic0\"}}");
	fakepeer_reply(fp, "{\"return\":{}}");
	c = fakepeer_connect(fp, false);
	ok(release_link_drop(c, &rs.links[0], on_dropped, &got, &err) == 0, "netdev_del sent");
	ok(rs.links[0].gone && !release_link_next(&rs, RELEASE_LINK_IFINDEX, 42),
	   "...and the slot is not dropped twice");
	for (end = cp_now_ms() + 3000; !got && cp_now_ms() < end;) {
		struct pollfd p = { .fd = qmp_client_fd(c), .events = POLLIN };

		if (poll(&p, 1, 50) > 0 && qmp_client_process(c, NULL) < 0)
			break;
	}
	is_int(got, 1, "...and answered");
	qmp_client_free(c);
	fakepeer_finish(fp, "netdev_del of the slot's netdev");
	rs.qemu_major = 10;
	like(release_link_note(&rs), "restart the VM", "QEMU 8+: the log says to restart the VM");
	rs.qemu_major = 7;
	is_str(release_link_note(&rs), "", "QEMU 7.2 closes the dead tap's queues: nothing to add");
}

/**
 * main() - run the tests
 *
 * Return: TAP exit status
 */
int main(void)
{
	test_collect();
	test_links();
	test_pick();
	test_plan();
	test_release_disk();
	test_release_zero_fails();
	test_zero_fdset();
	test_check_released("{\"return\":[{\"device\":\"coldplug-disk0\",\"inserted\":"
			    "{\"node-name\":\"incus_root\"}}]}",
			    "coldplug-disk0 still holds incus_root");
	test_check_released("{\"return\":[{\"device\":\"coldplug-disk1\",\"inserted\":"
			    "{\"node-name\":\"incus_data\"}}]}",
			    "query-block does not list coldplug-disk0");
	test_release_usb_cd();
	test_release_tray_cd();
	test_link_drop();
	return done_testing();
}

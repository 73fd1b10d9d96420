/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Devices Incus attaches to a running VM (lib/live.c, plan_attach(), the
 * live disk step of lib/apply_ops.c), on the inventory recorded from
 * Incus's default layout (root a scsi-hd, data a virtio-blk on a root port,
 * the ISO a scsi-cd, both disk slots free): which query-block entry is a
 * candidate and when (two ticks), the plan and every refusal with its
 * journal text, and the apply sequence against the fake QMP peer
 * (device_del, DEVICE_DELETED, qom-set drive, block_resize to its own
 * size, query-block) with a failure at each step.
 */
#include <stdio.h>
#include <string.h>

#include "coldplug/apply.h"
#include "coldplug/live.h"
#include "coldplug/plan.h"
#include "coldplug/qmp.h"
#include "fakepeer.h"
#include "recorded.h"
#include "tap.h"
#include "util.h"

#define DISK0 "/machine/peripheral-anon/device[0]"
#define MIB64 "67108864"

static const struct inv_select sel = { .id_prefix = INV_INCUS_PREFIX };

/**
 * load() - the recording, QEMU 7.2
 * @inv:	filled
 */
static void load(struct inventory *inv)
{
	recorded_inventory("incus-default", "7.2", NULL, inv);
}

/**
 * disk() - a managed disk of @inv, writable, for a test to edit
 * @inv:	inventory
 * @id:		qdev id
 *
 * Return: the disk; bails out if the recording has none
 */
static struct inv_disk *disk(struct inventory *inv, const char *id)
{
	struct inv_disk *d = (struct inv_disk *)inventory_find_disk(inv, id);

	if (!d)
		bail_out("the recording has no %s", id);
	return d;
}

/**
 * test_frontend_id() - query-block's qdev to the frontend's id
 */
static void test_frontend_id(void)
{
	char id[INV_NAME_MAX];

	ok(live_frontend_id("dev-incus_root", id, sizeof(id)) && !strcmp(id, "dev-incus_root"),
	   "a scsi-hd's qdev is its id");
	ok(live_frontend_id("/machine/peripheral/dev-incus_vb/virtio-backend", id, sizeof(id)) &&
		   !strcmp(id, "dev-incus_vb"),
	   "a virtio-blk's qdev is its virtio-backend's path: the id is the device's");
	ok(!live_frontend_id("/machine/peripheral-anon/device[0]/virtio-backend", id, sizeof(id)),
	   "an anonymous device (a slot) has no id");
	ok(!live_frontend_id("/machine/peripheral/x/y", id, sizeof(id)), "another path: none");
	ok(!live_frontend_id("", id, sizeof(id)) && !live_frontend_id(NULL, id, sizeof(id)),
	   "no qdev: none");
}

/**
 * scan() - live_scan() on the recording's query-block
 * @lw:		the watch
 * @blocks:	query-block's answer
 * @out:	the candidate
 *
 * Return: live_scan()'s answer
 */
static bool scan(struct live_watch *lw, const cp_json *blocks, struct live_candidate *out)
{
	memset(out, 0, sizeof(*out));
	return live_scan(lw, blocks, &sel, out);
}

/**
 * test_scan() - a candidate is moved on its second tick; slots and devices
 * left alone are never candidates; a device detached is forgotten
 */
static void test_scan(void)
{
	cp_json *raw = recorded_raw("incus-default", "7.2");
	cp_json *blocks = cp_json_get_array(raw, "query-block");
	struct live_candidate c;
	struct live_watch lw;
	struct inventory inv;

	memset(&lw, 0, sizeof(lw));
	load(&inv);
	live_collect(&lw, &inv);
	is_int((int)lw.nslot_nodes, 2, "the two slots' placeholders are slot nodes");
	ok(!scan(&lw, blocks, &c), "first tick: a candidate is only noted");
	is_str(lw.seen.id, "dev-incus_root", "...the first manager frontend off the slots");
	ok(scan(&lw, blocks, &c) && !strcmp(c.id, "dev-incus_root") &&
		   !strcmp(c.node, "incus_root"),
	   "second tick, the same frontend on the same node: move it");
	live_leave(&lw, &c);
	ok(!scan(&lw, blocks, &c) && !strcmp(lw.seen.id, "dev-incus_data"),
	   "root left alone: data is next, noted");
	ok(scan(&lw, blocks, &c) && !strcmp(c.id, "dev-incus_data"),
	   "data's id is read from its virtio-backend path");
	cp_strlcpy(inv.slots[0].node, "incus_data", sizeof(inv.slots[0].node));
	live_collect(&lw, &inv);
	ok(!scan(&lw, blocks, &c) && !strcmp(lw.seen.id, "dev-incus_iso"),
	   "data on a slot now: not a candidate; the ISO is");
	cp_strlcpy(lw.seen.node, "incus_iso_old", sizeof(lw.seen.node));
	ok(!scan(&lw, blocks, &c), "the same frontend on another node: noted again, not moved");
	is_int((int)lw.nleft, 1, "root is remembered as left alone");
	cp_json_unref(raw);

	raw = cp_json_parse("[]", 2, NULL);
	ok(!scan(&lw, raw, &c) && !*lw.seen.id, "nothing attached: nothing noted");
	is_int((int)lw.nleft, 0, "root detached: forgotten (attached again, it is new)");
	cp_json_unref(raw);
	inventory_free(&inv);
}

/**
 * fdsets_new() - live_fdsets_new() on a query-fdsets answer
 * @lw:		the watch
 * @text:	the answer, JSON
 *
 * Return: its answer
 */
static bool fdsets_new(struct live_watch *lw, const char *text)
{
	cp_json *j = cp_json_parse(text, strlen(text), NULL);
	bool r;

	if (!j)
		bail_out("bad JSON in the test: %s", text);
	r = live_fdsets_new(lw, j);
	cp_json_unref(j);
	return r;
}

#define FD(id, opaque)                                                                             \
	"{\"fdset-id\":" #id ",\"fds\":[{\"fd\":1" #id ",\"opaque\":\"" opaque "\"}]}"

/**
 * test_fdsets() - query-block is asked only when a manager fd names a node
 * no slot holds and no device left alone accounts for
 */
static void test_fdsets(void)
{
	struct live_candidate c = { .id = "dev-incus_ro", .node = "incus_ro" };
	struct live_watch lw;

	memset(&lw, 0, sizeof(lw));
	cp_strlcpy(lw.slot_nodes[0], "incus_root", sizeof(lw.slot_nodes[0]));
	lw.nslot_nodes = 1;
	ok(!fdsets_new(&lw, "[" FD(0, "rdwr:incus_root") "," FD(1, "rdwr:incus_root_raw") "]"),
	   "only the slot's node and its qcow2 data file: no query-block");
	ok(!fdsets_new(&lw, "[" FD(0, "rdwr:incus_root") "," FD(9, "coldplug-zero") "]"),
	   "coldplug's own zero fdset: none either");
	ok(fdsets_new(&lw, "[" FD(0, "rdwr:incus_root") "," FD(1, "rdwr:incus_data") "]"),
	   "a new manager fd (Incus's add-fd of a hot-add): query-block");
	live_leave(&lw, &c);
	ok(!fdsets_new(&lw, "[" FD(0, "rdwr:incus_root") "," FD(2, "rdwr:incus_ro") "]"),
	   "a device left alone keeps its fd: no query-block for it");
	ok(!fdsets_new(&lw, "[" FD(0, "rdwr:incus_root") "]") && !lw.nleft,
	   "its fd gone (detached): forgotten");
	ok(fdsets_new(&lw, "[" FD(0, "rdwr:incus_root") "," FD(2, "rdwr:incus_ro") "]"),
	   "attached again: looked at again");
	cp_strlcpy(lw.seen.id, "dev-incus_x", sizeof(lw.seen.id));
	ok(fdsets_new(&lw, "[]"), "a candidate noted last tick is always looked at again");
}

/**
 * attach() - plan_attach() with the Incus profile's wording
 * @inv:	inventory
 * @id:		frontend
 * @p:		filled
 * @err:	filled on failure
 *
 * Return: plan_attach()'s answer
 */
static int attach(const struct inventory *inv, const char *id, struct plan *p, struct cp_error *err)
{
	struct plan_opts o;

	plan_opts_init(&o);
	o.incus_profile = true;
	return plan_attach(inv, &o, id, p, err);
}

/**
 * refused() - plan_attach() refuses, with @needle in its one line
 * @inv:	inventory
 * @id:		frontend
 * @needle:	text the reason must hold
 * @what:	test name
 */
static void refused(const struct inventory *inv, const char *id, const char *needle,
		    const char *what)
{
	struct cp_error err;
	struct plan p;
	int rc = attach(inv, id, &p, &err);

	ok(rc < 0 && err.code == CP_ERR_REFUSED && !p.n, "%s: left where Incus put it", what);
	like(rc < 0 ? err.msg : "", needle, "%s: the journal says '%s'", what, needle);
	ok(rc == 0 || !strchr(err.msg, '\n'), "%s: one line", what);
	if (rc == 0)
		plan_free(&p);
}

/**
 * test_plan() - the first free slot, the live flag, the boot order left
 * alone; an ISO to a USB CD drive
 */
static void test_plan(void)
{
	struct inventory inv;
	struct cp_error err;
	char line[512];
	struct plan p;

	load(&inv);
	ok(attach(&inv, "dev-incus_data", &p, &err) == 0 && p.n == 1, "data: planned");
	ok(p.n == 1 && p.steps[0].kind == PLAN_DISK && p.steps[0].live && p.steps[0].slot == 0 &&
		   !strcmp(p.steps[0].slot_path, DISK0) && p.steps[0].size == 67108864 &&
		   !strcmp(p.steps[0].node, "incus_data") && p.steps[0].bootindex == -1 &&
		   !p.before_guest,
	   "onto disk slot 0, live, 64 MiB, no boot order, whatever the run state");
	live_moved_text(&p.steps[0], line, sizeof(line));
	is_str(line,
	       "disk \"data\" attached while running is now on disk slot 0 (coldplug-disk0); the "
	       "guest sees a 64 MiB disk appear on it",
	       "the journal's line");
	plan_free(&p);
	inv.slots[0].used = true;
	ok(attach(&inv, "dev-incus_data", &p, &err) == 0 && p.n == 1 && p.steps[0].slot == 1,
	   "slot 0 in use: the first free one, slot 1");
	plan_free(&p);
	ok(attach(&inv, "dev-incus_iso", &p, &err) == 0 && p.n == 1 && p.steps[0].kind == PLAN_CD &&
		   p.steps[0].live && !strcmp(p.steps[0].slot_name, "coldplug-cd0") &&
		   !strcmp(p.steps[0].usb_bus, "qemu_usb.0") && p.steps[0].bootindex == -1,
	   "the ISO: a new USB CD drive coldplug-cd0, as at start");
	plan_free(&p);
	ok(attach(&inv, "dev-incus_gone", &p, &err) < 0 && err.code == CP_ERR_INVALID,
	   "a frontend gone meanwhile: nothing to say");
	inventory_free(&inv);
}

/**
 * test_refusals() - no free slot, read-only, a kind coldplug cannot move,
 * USB storage: one line each, with the fix
 */
static void test_refusals(void)
{
	struct inventory inv;

	load(&inv);
	inv.slots[0].used = inv.slots[1].used = true;
	refused(&inv, "dev-incus_root",
		"disk \"root\" attached while running stays on Incus's virtio-scsi controller, "
		"which macOS cannot see: no free disk slot (2 of 2 used). Raise --disk-slots in the "
		"profile (coldplug incus-profile --disk-slots N, then incus profile edit) and "
		"restart the VM",
		"no free slot");
	refused(&inv, "dev-incus_root", "Raise --disk-slots in the profile", "no free slot");
	refused(&inv, "dev-incus_root", "virtio-scsi controller, which macOS cannot see",
		"no free slot");
	inv.slots[0].used = inv.slots[1].used = false;
	disk(&inv, "dev-incus_data")->read_only = true;
	refused(&inv, "dev-incus_data", "read-only, and coldplug's disk slots are writable",
		"read-only");
	refused(&inv, "dev-incus_data", "Attach it read-write, or as an ISO", "read-only");
	refused(&inv, "dev-incus_data", "PCIe root port", "read-only");
	cp_strlcpy(disk(&inv, "dev-incus_root")->fe.driver, "ide-hd", 8);
	refused(&inv, "dev-incus_root", "is a ide-hd, which coldplug cannot move", "unknown kind");
	cp_strlcpy(disk(&inv, "dev-incus_root")->fe.usb_id, "dev-incus_root-bot", 20);
	cp_strlcpy(disk(&inv, "dev-incus_root")->fe.driver, "scsi-hd", 8);
	refused(&inv, "dev-incus_root", "USB storage (scsi-hd), which macOS can use", "USB");
	inventory_free(&inv);
}

/**
 * data_plan() - the plan that moves data onto slot 0
 * @p:	filled
 */
static void data_plan(struct plan *p)
{
	struct inventory inv;
	struct cp_error err;

	load(&inv);
	if (attach(&inv, "dev-incus_data", p, &err) < 0)
		bail_out("plan: %s", err.msg);
	inventory_free(&inv);
}

/* The steps of a live move of data, as the fake peer expects them. */
#define DEL_DATA "{\"execute\":\"device_del\",\"arguments\":{\"id\":\"dev-incus_data\"}}"
#define SET_DATA                                                                                   \
	"{\"execute\":\"qom-set\",\"arguments\":{\"path\":\"" DISK0 "\",\"property\":\"drive\","   \
	"\"value\":\"incus_data\"}}"
#define RESIZE_DATA                                                                                 \
	"{\"execute\":\"block_resize\",\"arguments\":{\"node-name\":\"incus_data\",\"size\":" MIB64 \
	"}}"
#define READD_DATA                                                                                    \
	"{\"execute\":\"device_add\",\"arguments\":{\"bus\":\"qemu_pcie5\",\"drive\":\"incus_data\"," \
	"\"driver\":\"virtio-blk-pci\",\"id\":\"dev-incus_data\",\"addr\":\"00.0\","                  \
	"\"serial\":\"incus_data\"}}"
#define OK	     "{\"return\":{}}"
#define REFUSED(why) "{\"error\":{\"class\":\"GenericError\",\"desc\":\"" why "\"}}"

static const char data_deleted[] =
	"{\"device\":\"dev-incus_data\",\"path\":\"/machine/peripheral/dev-incus_data\"}";

/**
 * slot_block() - query-block as QEMU answers once slot 0 holds @node
 * @size:	its virtual size, as text
 * @out:	buffer
 * @n:		its size
 */
static void slot_block(const char *size, char *out, size_t n)
{
	snprintf(out, n,
		 "{\"return\":[{\"device\":\"coldplug-disk0\",\"qdev\":\"" DISK0
		 "/virtio-backend\","
		 "\"inserted\":{\"node-name\":\"incus_data\",\"image\":{\"virtual-size\":%s}}}]}",
		 size);
}

/**
 * expect_unplug() - device_del of data and its DEVICE_DELETED (the
 * virtio-backend's first, as QEMU sends them)
 * @fp:	peer
 */
static void expect_unplug(struct fakepeer *fp)
{
	fakepeer_expect(fp, DEL_DATA);
	fakepeer_reply(fp, OK);
	fakepeer_event(fp, "DEVICE_DELETED",
		       "{\"path\":\"/machine/peripheral/dev-incus_data/virtio-backend\"}");
	fakepeer_event(fp, "DEVICE_DELETED", data_deleted);
}

/**
 * run() - apply the data plan against @fp
 * @fp:		peer, scripted
 * @timeout_ms:	DEVICE_DELETED deadline
 * @res:	the result
 * @err:	the run's error
 *
 * Return: apply_run()'s answer
 */
static int run(struct fakepeer *fp, int timeout_ms, struct apply_result *res, struct cp_error *err)
{
	struct qmp_client *c = fakepeer_connect(fp, false);
	struct apply_opts o;
	struct plan p;
	int rc;

	apply_opts_init(&o);
	o.event_timeout_ms = timeout_ms;
	data_plan(&p);
	rc = apply_run(c, &p, &o, res, err);
	qmp_client_free(c);
	plan_free(&p);
	return rc;
}

/**
 * test_apply() - the whole sequence: unplug, the slot takes the node, the
 * node resized to its own size (the guest is told), checked
 */
static void test_apply(void)
{
	struct fakepeer *fp = fakepeer_new();
	struct apply_result res[1];
	struct cp_error err;
	char reply[512];

	fakepeer_negotiate(fp);
	expect_unplug(fp);
	fakepeer_expect(fp, SET_DATA);
	fakepeer_reply(fp, OK);
	fakepeer_expect(fp, RESIZE_DATA);
	fakepeer_reply(fp, OK);
	fakepeer_expect(fp, "{\"execute\":\"query-block\"}");
	slot_block(MIB64, reply, sizeof(reply));
	fakepeer_reply(fp, reply);
	ok(run(fp, 2000, res, &err) == 0 && res[0].status == APPLY_MOVED && res[0].changed,
	   "data moved onto slot 0 while running");
	fakepeer_finish(fp, "device_del, DEVICE_DELETED, qom-set drive, block_resize to its own "
			    "size, query-block; no query-status, no bootindex");
}

/**
 * test_apply_failures() - a failure at each step: before the unplug
 * nothing changes; no DEVICE_DELETED in time, nothing more is sent; a
 * refused qom-set re-creates Incus's frontend as it was; after the slot
 * took the node, the step fails with what is left
 */
static void test_apply_failures(void)
{
	struct apply_result res[1];
	struct fakepeer *fp;
	struct cp_error err;
	char reply[512];

	fp = fakepeer_new();
	fakepeer_negotiate(fp);
	fakepeer_expect(fp, DEL_DATA);
	fakepeer_reply(fp, REFUSED("Device 'dev-incus_data' not found"));
	ok(run(fp, 2000, res, &err) < 0 && res[0].status == APPLY_FAILED && !res[0].changed,
	   "device_del refused: failed, nothing changed");
	fakepeer_finish(fp, "nothing after a refused device_del");

	fp = fakepeer_new();
	fakepeer_negotiate(fp);
	fakepeer_expect(fp, DEL_DATA);
	fakepeer_reply(fp, OK);
	ok(run(fp, 200, res, &err) < 0 && res[0].status == APPLY_FAILED,
	   "no DEVICE_DELETED: failed");
	like(res[0].err.msg, "200 ms", "...after the deadline");
	fakepeer_finish(fp, "nothing after an unplug that did not complete");

	fp = fakepeer_new();
	fakepeer_negotiate(fp);
	expect_unplug(fp);
	fakepeer_expect(fp, SET_DATA);
	fakepeer_reply(fp, REFUSED("Permission conflict on node 'incus_data'"));
	fakepeer_expect(fp, READD_DATA);
	fakepeer_reply(fp, OK);
	ok(run(fp, 2000, res, &err) < 0 && res[0].status == APPLY_ROLLED_BACK,
	   "qom-set refused: Incus's virtio-blk is re-created");
	like(res[0].err.msg, "Permission conflict", "...the reason kept");
	fakepeer_finish(fp, "device_del, qom-set, then device_add as Incus made it");

	fp = fakepeer_new();
	fakepeer_negotiate(fp);
	expect_unplug(fp);
	fakepeer_expect(fp, SET_DATA);
	fakepeer_reply(fp, OK);
	fakepeer_expect(fp, RESIZE_DATA);
	fakepeer_reply(fp, REFUSED("Cannot grow device files"));
	ok(run(fp, 2000, res, &err) < 0 && res[0].status == APPLY_FAILED && res[0].changed,
	   "block_resize refused: failed, the slot holds the node (no rollback after commit)");
	like(res[0].err.msg, "Cannot grow device files", "...QEMU's reason kept");
	fakepeer_finish(fp, "nothing after the refused block_resize");

	fp = fakepeer_new();
	fakepeer_negotiate(fp);
	expect_unplug(fp);
	fakepeer_expect(fp, SET_DATA);
	fakepeer_reply(fp, OK);
	fakepeer_expect(fp, RESIZE_DATA);
	fakepeer_reply(fp, OK);
	fakepeer_expect(fp, "{\"execute\":\"query-block\"}");
	slot_block("100663296", reply, sizeof(reply));
	fakepeer_reply(fp, reply);
	ok(run(fp, 2000, res, &err) < 0 && res[0].status == APPLY_FAILED,
	   "the node's size changed between the inventory and the resize: said loudly");
	like(res[0].err.msg, "resized meanwhile", "...the error says what to check");
	fakepeer_finish(fp, "the check ran");
}

/**
 * test_nics() - a NIC attached while running is said once, with the fix;
 * a usb-net under Incus's id (moved at start) and other devices are not;
 * a NIC detached is forgotten; NICs are looked for every LIVE_NIC_EVERY ticks
 */
static void test_nics(void)
{
	static const char list[] =
		"[{\"name\":\"dev-incus_eth0\",\"type\":\"child<usb-net>\"},"
		"{\"name\":\"qemu_pcie4\",\"type\":\"child<pcie-root-port>\"},"
		"{\"name\":\"dev-incus_root\",\"type\":\"child<scsi-hd>\"},"
		"{\"name\":\"dev-incus_eth1\",\"type\":\"child<virtio-net-pci>\"}]";
	cp_json *j = cp_json_parse(list, strlen(list), NULL);
	cp_json *none = cp_json_parse("[]", 2, NULL);
	struct live_watch lw;
	char line[512];
	unsigned i, due = 0;

	memset(&lw, 0, sizeof(lw));
	ok(live_scan_nics(&lw, j, &sel, line, sizeof(line)), "eth1, a virtio-net-pci: said");
	is_str(line,
	       "NIC \"eth1\" attached while running stays on the manager's virtio-net-pci on a PCIe "
	       "root port, which macOS cannot see: a NIC needs a new tap queue, which the daemon "
	       "may not open. Restart the VM (coldplug gives it a slot at start)",
	       "...the journal's line: where it stays, why, the fix");
	ok(!live_scan_nics(&lw, j, &sel, line, sizeof(line)),
	   "once: not again; the usb-net, the root port and the disk never");
	ok(!live_scan_nics(&lw, none, &sel, line, sizeof(line)) && !lw.nnics_said,
	   "detached: forgotten");
	ok(live_scan_nics(&lw, j, &sel, line, sizeof(line)), "attached again: said again");
	for (i = 0; i < 2 * LIVE_NIC_EVERY; i++)
		due += live_nic_due(&lw);
	is_int((int)due, 2, "NICs are looked for every LIVE_NIC_EVERY ticks");
	cp_json_unref(j);
	cp_json_unref(none);
}

/**
 * main() - run the tests
 *
 * Return: TAP exit status
 */
int main(void)
{
	test_frontend_id();
	test_scan();
	test_fdsets();
	test_plan();
	test_refusals();
	test_nics();
	test_apply();
	test_apply_failures();
	return done_testing();
}

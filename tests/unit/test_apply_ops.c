/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests for the operation lists of each step kind (the QMP commands that
 * re-home a disk, a CD, a NIC, and undo a disk or a CD), and for their checks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply_ops.h"
#include "tap.h"
#include "util.h"

/**
 * sequence() - the operation list as "cmd cmd wait:id open-tap ..."
 * @l:		list
 * @out:	buffer
 * @size:	its size
 */
static void sequence(const struct apply_op_list *l, char *out, size_t size)
{
	size_t i, off = 0;

	out[0] = '\0';
	for (i = 0; i < l->n && off < size; i++) {
		const struct apply_op *o = &l->ops[i];

		if (o->kind == APPLY_OP_CMD)
			off += (size_t)snprintf(out + off, size - off, "%s%s", i ? " " : "",
						o->cmd);
		else if (o->kind == APPLY_OP_WAIT_DELETED)
			off += (size_t)snprintf(out + off, size - off, "%swait:%s", i ? " " : "",
						o->wait_id);
		else
			off += (size_t)snprintf(out + off, size - off, "%sopen-tap", i ? " " : "");
	}
}

/**
 * args_text() - an operation's arguments as compact JSON
 * @o:	operation
 *
 * Return: new string
 */
static char *args_text(const struct apply_op *o)
{
	char *t = cp_json_dump(o->args, 0);

	return t ? t : strdup("");
}

/**
 * disk_step() - a scsi-hd root disk going to disk slot 0
 * @st:	filled
 */
static void disk_step(struct plan_step *st)
{
	memset(st, 0, sizeof(*st));
	st->kind = PLAN_DISK;
	cp_strlcpy(st->name, "root", sizeof(st->name));
	cp_strlcpy(st->dev_id, "dev-incus_root", sizeof(st->dev_id));
	cp_strlcpy(st->del_id, "dev-incus_root", sizeof(st->del_id));
	cp_strlcpy(st->node, "incus_root", sizeof(st->node));
	cp_strlcpy(st->slot_name, "coldplug-disk0", sizeof(st->slot_name));
	cp_strlcpy(st->slot_path, "/machine/peripheral-anon/device[0]", sizeof(st->slot_path));
	st->bootindex = 0;
	cp_strlcpy(st->fe.driver, "scsi-hd", sizeof(st->fe.driver));
	cp_strlcpy(st->fe.bus, "qemu_scsi.0", sizeof(st->fe.bus));
	cp_strlcpy(st->fe.serial, "incus_root", sizeof(st->fe.serial));
	cp_strlcpy(st->fe.device_id, "incus_root", sizeof(st->fe.device_id));
	st->fe.channel = 0;
	st->fe.scsi_id = 0;
	st->fe.lun = 1;
}

/**
 * test_disk() - disk: unplug, wait, attach the node, boot order, check
 */
static void test_disk(void)
{
	struct plan_step st;
	struct apply_op_list l;
	struct cp_error err;
	char seq[512], *a;

	disk_step(&st);
	cp_error_set(&err, CP_ERR_TIMEOUT, "earlier");
	if (apply_ops_for_step(&st, &l, &err) < 0)
		bail_out("%s", err.msg);
	ok(err.code == CP_ERR_TIMEOUT && !strcmp(err.msg, "earlier"),
	   "success leaves the error untouched");
	sequence(&l, seq, sizeof(seq));
	is_str(seq, "device_del wait:dev-incus_root qom-set qom-set query-block",
	       "disk: device_del, DEVICE_DELETED, qom-set drive, qom-set bootindex, query-block");
	a = args_text(&l.ops[2]);
	is_str(a,
	       "{\"path\":\"/machine/peripheral-anon/device[0]\",\"property\":\"drive\","
	       "\"value\":\"incus_root\"}",
	       "the slot's drive becomes Incus's own node (no clone)");
	free(a);
	ok(l.ops[0].changes && !l.ops[0].commits && l.ops[2].commits,
	   "device_del changes QEMU; attaching the node is the point of no rollback");
	ok(l.ops[4].check != NULL, "query-block is checked");
	apply_ops_free(&l);

	st.bootindex = -1;
	cp_strlcpy(st.del_id, "usb_dev-incus_root", sizeof(st.del_id));
	apply_ops_for_step(&st, &l, &err);
	sequence(&l, seq, sizeof(seq));
	is_str(seq, "device_del wait:dev-incus_root wait:usb_dev-incus_root qom-set query-block",
	       "usb disk: the usb-bot is deleted, both DEVICE_DELETED awaited, no boot order");
	apply_ops_free(&l);
}

/**
 * cd_step() - Incus's ISO (scsi-cd on qemu_scsi.0, bootindex 2) going to a
 * new USB CD drive coldplug-cd0
 * @st:	filled
 */
static void cd_step(struct plan_step *st)
{
	disk_step(st);
	st->kind = PLAN_CD;
	cp_strlcpy(st->name, "iso", sizeof(st->name));
	cp_strlcpy(st->dev_id, "dev-incus_iso", sizeof(st->dev_id));
	cp_strlcpy(st->del_id, "dev-incus_iso", sizeof(st->del_id));
	cp_strlcpy(st->fe.driver, "scsi-cd", sizeof(st->fe.driver));
	cp_strlcpy(st->fe.serial, "incus_iso", sizeof(st->fe.serial));
	cp_strlcpy(st->fe.device_id, "incus_iso", sizeof(st->fe.device_id));
	cp_strlcpy(st->slot_name, "coldplug-cd0", sizeof(st->slot_name));
	cp_strlcpy(st->slot_path, "/machine/peripheral/coldplug-cd0", sizeof(st->slot_path));
	cp_strlcpy(st->usb_bus, "qemu_usb.0", sizeof(st->usb_bus));
	cp_strlcpy(st->node, "incus_iso", sizeof(st->node));
	st->bootindex = 2;
}

/**
 * test_cd() - CD: a new USB CD drive created on Incus's node, no tray
 */
static void test_cd(void)
{
	struct plan_step st;
	struct apply_op_list l;
	struct cp_error err;
	char seq[512], *a;
	size_t i;
	bool tray = false;

	cd_step(&st);
	ok(apply_ops_for_step(&st, &l, &err) == 0, "cd: operations built");
	sequence(&l, seq, sizeof(seq));
	is_str(seq, "device_del wait:dev-incus_iso device_add device_add qom-set query-block",
	       "cd: unplug Incus's scsi-cd, add a usb-bot and a scsi-cd, attach, check");
	a = args_text(&l.ops[2]);
	is_str(a, "{\"bus\":\"qemu_usb.0\",\"driver\":\"usb-bot\",\"id\":\"coldplug-cd0\"}",
	       "the usb-bot coldplug-cd0 on the xHCI, any free port");
	free(a);
	ok(l.ops[2].adds_slot && !l.ops[2].commits, "the usb-bot is the slot, not yet the commit");
	a = args_text(&l.ops[3]);
	is_str(a,
	       "{\"bus\":\"coldplug-cd0.0\",\"drive\":\"incus_iso\",\"driver\":\"scsi-cd\","
	       "\"id\":\"dev-incus_iso\",\"lun\":0,\"bootindex\":2,\"serial\":\"incus_iso\","
	       "\"device_id\":\"incus_iso\"}",
	       "the scsi-cd is created on Incus's node, under Incus's id, serial and boot order");
	free(a);
	a = args_text(&l.ops[4]);
	is_str(a,
	       "{\"path\":\"/machine/peripheral/coldplug-cd0\",\"property\":\"attached\","
	       "\"value\":true}",
	       "the hot-plugged usb-bot is attached (QEMU leaves it detached)");
	free(a);
	ok(l.ops[4].commits, "attaching it is the commit point");
	for (i = 0; i < l.n; i++)
		tray |= strstr(l.ops[i].cmd, "tray") || strstr(l.ops[i].cmd, "medium") ||
			!strcmp(l.ops[i].cmd, "eject");
	ok(!tray, "no tray command, no medium change: Incus 6.0.4 ejects on any tray event");
	apply_ops_free(&l);

	st.bootindex = -1;
	st.fe.serial[0] = st.fe.device_id[0] = '\0';
	apply_ops_for_step(&st, &l, &err);
	a = args_text(&l.ops[3]);
	is_str(a,
	       "{\"bus\":\"coldplug-cd0.0\",\"drive\":\"incus_iso\",\"driver\":\"scsi-cd\","
	       "\"id\":\"dev-incus_iso\",\"lun\":0}",
	       "no boot order, serial or device_id where Incus gave none");
	free(a);
	apply_ops_free(&l);
}

/**
 * test_cd_release() - a USB CD slot is released by unplugging its usb-bot;
 * a legacy ide-cd slot through its tray
 */
static void test_cd_release(void)
{
	struct plan_step st;
	struct apply_op_list l;
	struct cp_error err;
	char seq[512], *a;

	memset(&st, 0, sizeof(st));
	st.kind = PLAN_RELEASE_CD;
	cp_strlcpy(st.slot_name, "coldplug-cd0", sizeof(st.slot_name));
	cp_strlcpy(st.node, "incus_iso", sizeof(st.node));
	apply_ops_for_step(&st, &l, &err);
	sequence(&l, seq, sizeof(seq));
	is_str(seq, "device_del wait:coldplug-cd0 query-block",
	       "release: device_del of the usb-bot, DEVICE_DELETED, check");
	a = args_text(&l.ops[0]);
	is_str(a, "{\"id\":\"coldplug-cd0\"}", "the usb-bot is deleted by its id");
	free(a);
	ok(l.ops[0].changes && l.ops[1].commits, "the unplug changes QEMU and commits");
	apply_ops_free(&l);

	st.tray = true;
	apply_ops_for_step(&st, &l, &err);
	sequence(&l, seq, sizeof(seq));
	is_str(seq, "blockdev-open-tray blockdev-remove-medium blockdev-close-tray query-block",
	       "a legacy ide-cd slot is emptied through its tray");
	apply_ops_free(&l);
}

/**
 * nic_step() - eth0 from a 4-queue tap to a slot or usb-net
 * @st:		filled
 * @kind:	PLAN_NIC_PCI or PLAN_NIC_USB
 */
static void nic_step(struct plan_step *st, enum plan_step_kind kind)
{
	memset(st, 0, sizeof(*st));
	st->kind = kind;
	cp_strlcpy(st->name, "eth0", sizeof(st->name));
	cp_strlcpy(st->dev_id, "dev-incus_eth0", sizeof(st->dev_id));
	cp_strlcpy(st->del_id, "dev-incus_eth0", sizeof(st->del_id));
	cp_strlcpy(st->netdev, "incus_eth0", sizeof(st->netdev));
	cp_strlcpy(st->mac, "10:66:6a:ab:cd:ef", sizeof(st->mac));
	cp_strlcpy(st->ifname, "tap1234abcd", sizeof(st->ifname));
	st->nqueues = 4;
	st->bootindex = -1;
	cp_strlcpy(st->slot_name, kind == PLAN_NIC_PCI ? "coldplug-nic0" : "dev-incus_eth0",
		   sizeof(st->slot_name));
	cp_strlcpy(st->usb_bus, "qemu_usb.0", sizeof(st->usb_bus));
	st->hubid = 0;
}

/**
 * test_nic() - NIC: unplug, netdev_del, fresh queue, single-queue netdev
 */
static void test_nic(void)
{
	struct plan_step st;
	struct apply_op_list l;
	struct cp_error err;
	char seq[512], *a;

	nic_step(&st, PLAN_NIC_USB);
	apply_ops_for_step(&st, &l, &err);
	sequence(&l, seq, sizeof(seq));
	is_str(seq,
	       "device_del wait:dev-incus_eth0 netdev_del open-tap getfd netdev_add device_add "
	       "human-monitor-command",
	       "usb: the old netdev goes before a new queue is opened");
	ok(l.ops[4].with_tap, "getfd carries the new queue");
	a = args_text(&l.ops[5]);
	is_str(a,
	       "{\"fd\":\"coldplug-incus_eth0\",\"id\":\"incus_eth0\",\"type\":\"tap\",\"vhost\":false}",
	       "one fd, Incus's netdev id, no vhost");
	free(a);
	a = args_text(&l.ops[6]);
	is_str(a,
	       "{\"bus\":\"qemu_usb.0\",\"driver\":\"usb-net\",\"id\":\"dev-incus_eth0\","
	       "\"mac\":\"10:66:6a:ab:cd:ef\",\"netdev\":\"incus_eth0\"}",
	       "usb-net under Incus's device id and MAC");
	free(a);
	apply_ops_free(&l);

	nic_step(&st, PLAN_NIC_PCI);
	apply_ops_for_step(&st, &l, &err);
	a = args_text(&l.ops[6]);
	is_str(a,
	       "{\"hubid\":0,\"id\":\"coldplug-nic0-uplink\",\"netdev\":\"incus_eth0\","
	       "\"type\":\"hubport\"}",
	       "pci: a hub port into the slot's hub, peered with the new netdev");
	free(a);
	ok(!strcmp(l.ops[6].cmd, "netdev_add") && l.ops[6].commits, "netdev_add hubport commits");
	apply_ops_free(&l);
}

/**
 * test_nic_direct() - direct: unplug, wait, netdev_del (commits), and a
 * check of "info network" that fails on each thing that can be wrong
 */
static void test_nic_direct(void)
{
	static const char *const good =
		"virtio-net-pci.0: index=0,type=nic,model=virtio-net-pci,macaddr=10:66:6a:ab:cd:ef\r\n"
		" \\ coldplug-nic0: index=0,type=tap,ifname=tap1234abcd,script=no,downscript=no\r\n"
		"virtio-net-pci.1: index=1,type=nic,\r\n"
		" \\ coldplug-nic0: index=1,type=tap,ifname=tap1234abcd,script=no,downscript=no\r\n";
	static const char *const incus_left = "incus_eth0: index=0,type=tap,fd=18\r\n";
	static const char *const unpeered =
		"coldplug-nic0: index=0,type=tap,ifname=tap1234abcd,script=no,downscript=no\r\n"
		"coldplug-nic0: index=1,type=tap,ifname=tap1234abcd,script=no,downscript=no\r\n";
	struct plan_step st;
	struct apply_op_list l;
	struct cp_error err;
	char seq[512], text[1024];
	apply_op_check_fn check;
	cp_json *v;

	nic_step(&st, PLAN_NIC_DIRECT);
	cp_strlcpy(st.slot_name, "coldplug-nic0", sizeof(st.slot_name));
	st.nqueues = 2;
	apply_ops_for_step(&st, &l, &err);
	sequence(&l, seq, sizeof(seq));
	is_str(seq, "device_del wait:dev-incus_eth0 netdev_del human-monitor-command",
	       "direct: Incus's NIC, then its netdev; nothing opened, nothing added");
	ok(l.n == 4 && l.ops[2].commits && !l.ops[3].commits, "netdev_del commits");
	check = l.n ? l.ops[l.n - 1].check : NULL;
	apply_ops_free(&l);
	if (!check)
		bail_out("no check on the direct step");
	v = cp_json_new_string(good);
	ok(check(&st, v, &err) == 0,
	   "direct: the slot's 2 queues on its NIC, Incus's gone: passes");
	cp_json_unref(v);
	snprintf(text, sizeof(text), "%s%s", good, incus_left);
	v = cp_json_new_string(text);
	ok(check(&st, v, &err) < 0 && strstr(err.msg, "incus_eth0 is still there"),
	   "direct: Incus's netdev left fails: %s", err.msg);
	cp_json_unref(v);
	st.nqueues = 4;
	v = cp_json_new_string(good);
	ok(check(&st, v, &err) < 0 && strstr(err.msg, "2 queues, not 4"),
	   "direct: a queue missing fails: %s", err.msg);
	cp_json_unref(v);
	st.nqueues = 2;
	v = cp_json_new_string(unpeered);
	ok(check(&st, v, &err) < 0 && strstr(err.msg, "peered with no NIC"),
	   "direct: the slot's netdev without its NIC fails: %s", err.msg);
	cp_json_unref(v);
}

/**
 * test_rollback() - what re-creates Incus's frontend
 */
static void test_rollback(void)
{
	struct plan_step st;
	struct apply_op_list l;
	struct cp_error err;
	char seq[256], *a;

	disk_step(&st);
	apply_ops_for_rollback(&st, false, &l, &err);
	a = l.n ? args_text(&l.ops[0]) : strdup("");
	is_str(a,
	       "{\"bus\":\"qemu_scsi.0\",\"drive\":\"incus_root\",\"driver\":\"scsi-hd\","
	       "\"id\":\"dev-incus_root\",\"bootindex\":0,\"serial\":\"incus_root\","
	       "\"device_id\":\"incus_root\",\"channel\":0,\"scsi-id\":0,\"lun\":1}",
	       "scsi-hd is re-added as Incus made it");
	free(a);
	apply_ops_free(&l);

	cp_strlcpy(st.fe.driver, "virtio-blk-pci", sizeof(st.fe.driver));
	cp_strlcpy(st.fe.bus, "qemu_pcie5", sizeof(st.fe.bus));
	cp_strlcpy(st.fe.addr, "00.0", sizeof(st.fe.addr));
	st.fe.channel = st.fe.scsi_id = st.fe.lun = -1;
	st.fe.device_id[0] = '\0';
	apply_ops_for_rollback(&st, false, &l, &err);
	a = l.n ? args_text(&l.ops[0]) : strdup("");
	like(a, "\"addr\":\"00.0\"", "virtio-blk goes back to its root port address");
	free(a);
	apply_ops_free(&l);

	cp_strlcpy(st.fe.driver, "scsi-hd", sizeof(st.fe.driver));
	cp_strlcpy(st.fe.usb_id, "usb_dev-incus_root", sizeof(st.fe.usb_id));
	cp_strlcpy(st.fe.usb_driver, "usb-bot", sizeof(st.fe.usb_driver));
	cp_strlcpy(st.fe.usb_bus, "qemu_usb.0", sizeof(st.fe.usb_bus));
	apply_ops_for_rollback(&st, false, &l, &err);
	sequence(&l, seq, sizeof(seq));
	is_str(seq, "device_add device_add qom-set", "usb: usb-bot, its scsi-hd, attached=true");
	apply_ops_free(&l);

	nic_step(&st, PLAN_NIC_USB);
	ok(apply_ops_for_rollback(&st, true, &l, &err) == 0 && l.n == 0, "NICs have no rollback");

	cd_step(&st);
	apply_ops_for_rollback(&st, false, &l, &err);
	sequence(&l, seq, sizeof(seq));
	is_str(seq, "device_add", "cd, usb-bot not added: Incus's scsi-cd is re-added");
	a = l.n ? args_text(&l.ops[0]) : strdup("");
	like(a, "\"bus\":\"qemu_scsi.0\",\"drive\":\"incus_iso\",\"driver\":\"scsi-cd\"",
	     "on Incus's SCSI bus, on its node");
	free(a);
	apply_ops_free(&l);
	apply_ops_for_rollback(&st, true, &l, &err);
	sequence(&l, seq, sizeof(seq));
	is_str(seq, "device_del wait:coldplug-cd0 device_add",
	       "cd, usb-bot added: it is unplugged (freeing the node) before Incus's scsi-cd "
	       "comes back");
	apply_ops_free(&l);
}

/**
 * test_checks() - the checks reject what did not happen
 */
static void test_checks(void)
{
	static const char *const block_ok =
		"[{\"device\":\"coldplug-disk0\",\"inserted\":{\"node-name\":\"incus_root\"}}]";
	static const char *const block_bad =
		"[{\"device\":\"coldplug-disk0\",\"inserted\":{\"node-name\":\"coldplug-ph-disk0\"}}]";
	static const char *const cd_ok = "[{\"device\":\"\",\"qdev\":\"dev-incus_iso\","
					 "\"tray_open\":false,"
					 "\"inserted\":{\"node-name\":\"incus_iso\"}}]";
	static const char *const cd_open =
		"[{\"device\":\"\",\"qdev\":\"dev-incus_iso\",\"tray_open\":true}]";
	static const char *const cd_empty =
		"[{\"device\":\"\",\"qdev\":\"dev-incus_iso\",\"tray_open\":false}]";
	struct plan_step st;
	struct apply_op_list l;
	struct cp_error err;
	cp_json *v;
	apply_op_check_fn check;

	disk_step(&st);
	apply_ops_for_step(&st, &l, &err);
	check = l.ops[l.n - 1].check;
	apply_ops_free(&l);
	v = cp_json_parse(block_ok, strlen(block_ok), &err);
	ok(check(&st, v, &err) == 0, "query-block with the node in the slot passes");
	cp_json_unref(v);
	v = cp_json_parse(block_bad, strlen(block_bad), &err);
	ok(check(&st, v, &err) < 0 && strstr(err.msg, "holds coldplug-ph-disk0"),
	   "the placeholder still in the slot fails: %s", err.msg);
	cp_json_unref(v);

	cd_step(&st);
	apply_ops_for_step(&st, &l, &err);
	check = l.ops[l.n - 1].check;
	apply_ops_free(&l);
	v = cp_json_parse(cd_ok, strlen(cd_ok), &err);
	ok(check(&st, v, &err) == 0, "cd: the node on Incus's id, tray closed, passes");
	cp_json_unref(v);
	v = cp_json_parse(cd_open, strlen(cd_open), &err);
	ok(check(&st, v, &err) < 0 && strstr(err.msg, "ejected"),
	   "cd: an open tray (ejected) fails: %s", err.msg);
	cp_json_unref(v);
	v = cp_json_parse(cd_empty, strlen(cd_empty), &err);
	ok(check(&st, v, &err) < 0 && strstr(err.msg, "holds nothing"), "cd: no medium fails: %s",
	   err.msg);
	cp_json_unref(v);

	nic_step(&st, PLAN_NIC_USB);
	apply_ops_for_step(&st, &l, &err);
	check = l.ops[l.n - 1].check;
	apply_ops_free(&l);
	v = cp_json_new_string("dev-incus_eth0: index=0,type=nic,model=usb-net,macaddr=x\r\n"
			       " \\ incus_eth0: index=0,type=tap,fd=18\r\n");
	ok(check(&st, v, &err) == 0, "usb-net on a one-queue incus_eth0 passes");
	cp_json_unref(v);
	v = cp_json_new_string("dev-incus_eth0: index=0,type=nic,model=usb-net,macaddr=x\r\n"
			       " \\ incus_eth0: index=0,type=tap,fd=18\r\n"
			       "dev-incus_eth0: index=1,type=nic,\r\n"
			       " \\ incus_eth0: index=1,type=tap,fd=19\r\n");
	ok(check(&st, v, &err) < 0 && strstr(err.msg, "2 queues"), "two queues fail the check");
	cp_json_unref(v);
}

/**
 * main() - run the tests
 *
 * Return: TAP exit status
 */
int main(void)
{
	test_disk();
	test_cd();
	test_cd_release();
	test_nic();
	test_nic_direct();
	test_rollback();
	test_checks();
	return done_testing();
}

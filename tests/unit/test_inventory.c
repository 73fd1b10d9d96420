/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests for inventory_build(), on raw documents recorded from real QEMU
 * 7.2 with Incus's hot-plug sequence (tests/data/inventory/record.sh).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coldplug/inventory.h"
#include "names.h"
#include "recorded.h"
#include "tap.h"

/* The QEMU version whose recordings the current tests read. */
static const char *qemu_ver;

/**
 * build() - build an inventory from a recorded document
 * @name:	file below tests/data/inventory
 * @sel:	selection
 * @inv:	result
 */
static void build(const char *name, const struct inv_select *sel, struct inventory *inv)
{
	recorded_inventory(name, qemu_ver, sel, inv);
}

/**
 * test_default() - Incus's default layout before re-homing
 */
static void test_default(void)
{
	struct inv_select sel = { .id_prefix = INV_INCUS_PREFIX };
	const struct inv_slot *s;
	const struct inv_nic *n;
	struct inventory inv;

	build("incus-default", &sel, &inv);
	is_str(inv.status, "prelaunch", "run state from query-status");
	ok(inv.ver_major == strtol(qemu_ver, NULL, 10) &&
		   inv.ver_minor == strtol(strchr(qemu_ver, '.') + 1, NULL, 10),
	   "QEMU version from the greeting");
	is_int(inv.hotplug, INV_HOTPLUG_NATIVE, "the ICH9-LPC global read back: native hotplug");
	is_str(inv.usb_bus, "qemu_usb.0", "Incus's xHCI bus found for usb-net");
	is_int((long long)inv.ndisks, 3, "three Incus disks");
	is_str(inv.disks[0].name, "root", "boot order first: root (bootindex 0)");
	is_str(inv.disks[1].name, "iso", "then iso (bootindex 2)");
	is_str(inv.disks[2].name, "data", "then disks without a boot order, by name");
	is_str(inv.disks[0].fe.bus, "qemu_scsi.0", "root sits on Incus's SCSI bus");
	ok(inv.disks[0].fe.channel == 0 && inv.disks[0].fe.lun == 1 &&
		   !strcmp(inv.disks[0].fe.device_id, "incus_root"),
	   "its SCSI address and device_id are kept for a rollback");
	ok(!inv.disks[0].pci && inv.disks[2].pci, "scsi-hd is not PCI, virtio-blk is");
	is_str(inv.disks[2].fe.bus, "qemu_pcie5", "data sits behind root port qemu_pcie5");
	is_str(inv.disks[2].fe.addr, "00.0", "with its PCI address");
	ok(inv.disks[1].cdrom && inv.disks[1].read_only, "the ISO is a read-only CD-ROM");
	is_int((long long)inv.disks[1].size, 2097152, "its size from the node");
	ok(inv.disks[0].managed && inv.disks[0].users == 1, "root is managed, one user");
	is_int((long long)inventory_count_slots(&inv, INV_SLOT_DISK), 2, "two disk slots");
	is_int((long long)inventory_count_slots(&inv, INV_SLOT_CD), 0,
	       "no CD slot before one is needed (coldplug adds a USB CD drive per ISO)");
	is_int(inv.usb_ports, 8, "Incus's xHCI has 8 ports (p2 = p3 = 8)");
	is_int(inv.usb_used, 0, "none in use");
	s = inventory_find_slot(&inv, INV_SLOT_DISK, 1);
	ok(s && !s->used && !strcmp(s->node, "coldplug-ph-disk1"),
	   "disk slot 1 is free: its placeholder is attached");
	ok(s && !strncmp(s->path, "/machine/peripheral-anon/device[", 32),
	   "slots are anonymous devices");
	s = inventory_find_slot(&inv, INV_SLOT_NIC, 0);
	ok(s && !strcmp(s->mac, "10:66:6a:ab:cd:ef") && s->hubid == 0 && !s->used,
	   "NIC slot 0: its MAC, hub 0, no uplink");
	n = inventory_find_nic(&inv, "dev-incus_eth0");
	ok(n && n->nqueues == 4 && !strcmp(n->netdev, "incus_eth0") &&
		   !strcmp(n->netdev_type, "tap") && n->netdev_users == 1,
	   "eth0: a 4-queue tap netdev with one user");
	ok(n && !strcmp(n->ifname, "tapcp0") && !strcmp(n->bus, "qemu_pcie4"),
	   "eth0: tap opened by name, on root port qemu_pcie4");
	inventory_free(&inv);
}

/**
 * test_rehomed() - the same VM after coldplug rehome
 */
static void test_rehomed(void)
{
	struct inv_select sel = { .id_prefix = INV_INCUS_PREFIX };
	const struct inv_slot *s;
	struct inventory inv;

	build("incus-default-rehomed", &sel, &inv);
	is_int((long long)inv.ndisks + (long long)inv.nnics, 0, "no Incus frontend is left");
	s = inventory_find_slot(&inv, INV_SLOT_DISK, 0);
	ok(s && s->used && !strcmp(s->node, "incus_root") && s->bootindex == 0,
	   "disk slot 0 holds incus_root with root's boot order");
	s = inventory_find_slot(&inv, INV_SLOT_CD, 0);
	ok(s && s->used && !strcmp(s->node, "incus_iso"), "the CD slot holds the ISO");
	ok(s && !strcmp(s->driver, "usb-bot") && !strcmp(s->name, "coldplug-cd0") &&
		   !strcmp(s->path, "/machine/peripheral/coldplug-cd0"),
	   "the CD slot is the usb-bot coldplug-cd0");
	ok(s && !strcmp(s->cd_id, "dev-incus_iso") && !s->tray_open && s->bootindex == 2,
	   "its scsi-cd keeps Incus's id and the ISO's boot order, tray closed");
	ok(s && s->nfdsets == 1, "the ISO's fdset is known (the watcher needs it)");
	is_int(inv.usb_used, 1, "the USB CD drive takes one port of the xHCI");
	s = inventory_find_slot(&inv, INV_SLOT_NIC, 0);
	ok(s && s->used && !strcmp(s->uplink, "incus_eth0"),
	   "the NIC slot's hub is fed by a netdev named like Incus's");
	inventory_free(&inv);
}

/**
 * test_usb_nvme_acpi() - usb-bot disk, NVMe, usb-net, ACPI hotplug
 */
static void test_usb_nvme_acpi(void)
{
	struct inv_select sel = { .id_prefix = INV_INCUS_PREFIX };
	const struct inv_disk *d;
	const struct inv_nic *n;
	struct inventory inv;

	build("incus-usb-nvme-acpi", &sel, &inv);
	is_int(inv.hotplug, INV_HOTPLUG_ACPI, "without the global: ACPI hotplug");
	d = inventory_find_disk(&inv, "dev-incus_usb");
	ok(d && !strcmp(d->fe.usb_id, "usb_dev-incus_usb") &&
		   !strcmp(d->fe.usb_driver, "usb-bot") && !strcmp(d->fe.usb_bus, "qemu_usb.0"),
	   "the io.bus=usb disk is a scsi-hd on Incus's usb-bot on qemu_usb.0");
	ok(d && !d->pci && d->fe.lun == 0, "...not PCI, lun 0");
	d = inventory_find_disk(&inv, "dev-incus_nv");
	ok(d && d->pci && !strcmp(d->fe.driver, "nvme") && !strcmp(d->fe.addr, "00.0"),
	   "the NVMe disk is PCI, on its root port");
	n = inventory_find_nic(&inv, "dev-incus_eth0");
	ok(n && !strcmp(n->driver, "usb-net") && n->nqueues == 2 && !strcmp(n->bus, "qemu_usb.0"),
	   "the io.bus=usb NIC is a usb-net on a 2-queue tap");
	ok(!inventory_find_disk(&inv, "usb_dev-incus_usb"), "the usb-bot itself is not a disk");
	inventory_free(&inv);
}

/**
 * test_selection() - which devices are managed
 */
static void test_selection(void)
{
	static const char *const ids[] = { "dev-incus_data" };
	struct inv_select none = { .id_prefix = "" };
	struct inv_select one = { .id_prefix = "", .ids = ids, .nids = 1 };
	struct inventory inv;

	build("incus-default", &none, &inv);
	ok(!inv.disks[0].managed && !inv.disks[2].managed && !inv.nics[0].managed,
	   "an empty prefix manages nothing");
	is_str(inv.disks[0].name, "dev-incus_root", "...and names are the qdev ids");
	inventory_free(&inv);
	build("incus-default", &one, &inv);
	ok(inventory_find_disk(&inv, "dev-incus_data")->managed &&
		   !inventory_find_disk(&inv, "dev-incus_root")->managed,
	   "--device picks one device by id");
	inventory_free(&inv);
}

/**
 * test_bad_raw() - incomplete or hostile documents give errors, not crashes
 */
static void test_bad_raw(void)
{
	static const char *const docs[] = {
		"{}",
		"{\"query-block\": 5, \"peripheral\": []}",
		"{\"query-block\": [], \"peripheral\": [{\"name\": \"x\", \"type\": \"child<\"}]}",
		"{\"query-block\": [{\"qdev\": 7}], \"peripheral\": [{\"name\": \"d\", "
		"\"type\": \"child<scsi-hd>\"}], \"props\": {\"/machine/peripheral/d\": "
		"{\"drive\": \"n\", \"parent_bus\": 3, \"bootindex\": \"x\"}}, "
		"\"info-network\": \"\\u0000\"}",
	};
	struct inv_select sel = { .id_prefix = INV_INCUS_PREFIX };
	struct inventory inv;
	struct cp_error err;
	size_t i;

	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		cp_json *raw = cp_json_parse(docs[i], strlen(docs[i]), &err);
		int rc = raw ? inventory_build(raw, &sel, &inv, &err) : -1;

		ok(raw && (rc < 0 || inv.ndisks <= 1), "malformed document %zu handled (rc %d)", i,
		   rc);
		if (rc == 0)
			inventory_free(&inv);
		cp_json_unref(raw);
	}
}

/**
 * build_edited() - build incus-default with one string of QEMU's replaced
 * @obj:	path of the object to edit: a "props" key, or NULL for the
 *		first query-block entry's "inserted"
 * @key:	member to set
 * @value:	its new (over-long) value
 * @err:	filled when the build fails
 *
 * Return: inventory_build()'s result (the inventory is freed on success)
 */
static int build_edited(const char *obj, const char *key, const char *value, struct cp_error *err)
{
	struct inv_select sel = { .id_prefix = INV_INCUS_PREFIX };
	cp_json *raw = recorded_raw("incus-default", qemu_ver);
	cp_json *o = obj ? cp_json_get_object(cp_json_get_object(raw, "props"), obj)
			 : cp_json_get_object(cp_json_at(cp_json_get_array(raw, "query-block"), 0),
					      "inserted");
	struct inventory inv;
	int rc;

	if (!o || cp_json_set_str(o, key, value) < 0)
		bail_out("cannot edit %s %s", obj ? obj : "query-block", key);
	rc = inventory_build(raw, &sel, &inv, err);
	if (rc == 0)
		inventory_free(&inv);
	cp_json_unref(raw);
	return rc;
}

/**
 * test_too_long() - a name QEMU reports that does not fit its field is an
 * error naming it and the limit, never a shorter name
 */
static void test_too_long(void)
{
	static const struct {
		const char *obj, *key;
		size_t len;
		const char *limit;
	} edits[] = {
		{ NULL, "node-name", 200, "127" },
		{ "/machine/peripheral/dev-incus_data", "serial", 128, "127" },
		{ "/machine/peripheral/dev-incus_eth0", "mac", 18, "17" },
		{ "/machine/peripheral/dev-incus_root", "device_id", 300, "127" },
	};
	struct cp_error err;
	char value[301];
	size_t i;

	for (i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		memset(value, 'x', edits[i].len);
		value[edits[i].len] = '\0';
		cp_error_clear(&err);
		ok(build_edited(edits[i].obj, edits[i].key, value, &err) < 0 &&
			   strstr(err.msg, value) && strstr(err.msg, edits[i].limit),
		   "%s of %zu characters: refused, named, limit %s (%s)", edits[i].key,
		   edits[i].len, edits[i].limit, err.msg);
	}
	memset(value, 'x', 127);
	value[127] = '\0';
	ok(build_edited("/machine/peripheral/dev-incus_data", "serial", value, &err) == 0,
	   "a serial of 127 characters still fits");
}

/**
 * test_too_long_raw() - over-long QOM names and "info network" values
 */
static void test_too_long_raw(void)
{
	static const struct {
		const char *head, *tail;
		size_t len;
	} docs[] = {
		{ "{\"query-block\": [], \"peripheral\": [{\"name\": \"",
		  "\", \"type\": \"child<virtio-net-pci>\"}]}", 250 },
		{ "{\"query-block\": [], \"peripheral\": [], \"info-network\": "
		  "\"n0: index=0,type=tap,ifname=",
		  "\\r\\n\"}", 16 },
	};
	struct inv_select sel = { .id_prefix = INV_INCUS_PREFIX };
	char name[256], doc[1024];
	struct inventory inv;
	struct cp_error err;
	size_t i;

	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		cp_json *raw;
		int rc;

		memset(name, 'y', docs[i].len);
		name[docs[i].len] = '\0';
		snprintf(doc, sizeof(doc), "%s%s%s", docs[i].head, name, docs[i].tail);
		raw = cp_json_parse(doc, strlen(doc), &err);
		if (!raw)
			bail_out("document %zu: %s", i, err.msg);
		rc = inventory_build(raw, &sel, &inv, &err);
		ok(rc < 0 && strstr(err.msg, name), "over-long name %zu refused (%s)", i,
		   rc < 0 ? err.msg : "built");
		if (rc == 0)
			inventory_free(&inv);
		cp_json_unref(raw);
	}
}

/**
 * test_child_type() - the QOM type of a qom-list "child<type>" entry
 */
static void test_child_type(void)
{
	char t[16];

	ok(names_qom_child_type("child<scsi-hd>", t, sizeof(t)) && !strcmp(t, "scsi-hd"),
	   "child<scsi-hd>: scsi-hd");
	ok(!names_qom_child_type("child<scsi-hd", t, sizeof(t)), "no closing '>': not a child");
	ok(!names_qom_child_type("link<scsi-hd>", t, sizeof(t)) &&
		   !names_qom_child_type("child<>", t, sizeof(t)) &&
		   !names_qom_child_type(NULL, t, sizeof(t)),
	   "links, empty types and NULL are not");
	ok(!names_qom_child_type("child<virtio-blk-pci-x>", t, sizeof(t)),
	   "a type longer than the buffer is not cut");
}

/**
 * main() - run the tests
 *
 * Return: TAP exit status
 */
int main(void)
{
	static const char *const versions[] = { "7.2", "10.0" };
	size_t i;

	for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		qemu_ver = versions[i];
		diag("recordings of QEMU %s", qemu_ver);
		test_default();
		test_rehomed();
		test_usb_nvme_acpi();
		test_selection();
		test_too_long();
	}
	test_too_long_raw();
	test_child_type();
	test_bad_raw();
	return done_testing();
}

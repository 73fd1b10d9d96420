/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The inventory as JSON, for `coldplug inventory --json` and reports.
 */
#include <stdio.h>

#include "coldplug/inventory.h"

/**
 * hotplug_name() - name of an enum inv_hotplug
 * @h:	value
 *
 * Return: static string
 */
static const char *hotplug_name(enum inv_hotplug h)
{
	switch (h) {
	case INV_HOTPLUG_ACPI:
		return "acpi";
	case INV_HOTPLUG_NATIVE:
		return "native";
	case INV_HOTPLUG_UNKNOWN:
		break;
	}
	return "unknown";
}

/**
 * slot_kind_name() - name of an enum inv_slot_kind
 * @k:	value
 *
 * Return: static string
 */
static const char *slot_kind_name(enum inv_slot_kind k)
{
	switch (k) {
	case INV_SLOT_DISK:
		return "disk";
	case INV_SLOT_CD:
		return "cd";
	case INV_SLOT_NIC:
		return "nic";
	}
	return "?";
}

/**
 * disk_json() - one disk
 * @d:	disk
 *
 * Return: new object, or NULL when out of memory
 */
static cp_json *disk_json(const struct inv_disk *d)
{
	return cp_json_obj(CP_STR("id", d->id), CP_STR("name", d->name),
			   CP_STR("driver", d->fe.driver), CP_STR("bus", d->fe.bus),
			   CP_STR_IF(d->fe.usb_id[0], "usb-device", d->fe.usb_id),
			   CP_STR("node", d->node), CP_BOOL("cdrom", d->cdrom),
			   CP_BOOL("read-only", d->read_only), CP_INT("size", (int64_t)d->size),
			   CP_INT("bootindex", d->bootindex), CP_BOOL("managed", d->managed));
}

/**
 * slot_json() - one slot
 * @s:	slot
 *
 * Return: new object, or NULL when out of memory
 */
static cp_json *slot_json(const struct inv_slot *s)
{
	bool nic = s->kind == INV_SLOT_NIC, direct = nic && s->direct;

	return cp_json_obj(
		CP_STR("kind", slot_kind_name(s->kind)), CP_STR("name", s->name),
		CP_STR("driver", s->driver), CP_STR("path", s->path), CP_BOOL("used", s->used),
		CP_STR_IF(nic, "mac", s->mac), CP_STR_IF(nic, "uplink", s->uplink),
		CP_BOOL_IF(nic, "direct", s->direct), CP_STR_IF(direct, "tap", s->ifname),
		CP_INT_IF(direct, "queues", s->nqueues),
		CP_BOOL_IF(direct, "tap-exists", s->tap.exists),
		CP_INT_IF(direct, "tap-ifindex", s->tap.ifindex),
		CP_INT_IF(direct, "tap-flags", s->tap.flags),
		CP_STR_IF(direct, "tap-master", s->tap.master),
		CP_INT_IF(direct, "tap-queues", s->tap.queues),
		CP_INT_IF(direct, "tap-queues-disabled", s->tap.disabled),
		CP_STR_IF(!nic, "node", s->node));
}

/**
 * nic_json() - one NIC
 * @n:	NIC
 *
 * Return: new object, or NULL when out of memory
 */
static cp_json *nic_json(const struct inv_nic *n)
{
	cp_json *fds = cp_json_new_array();
	unsigned i;

	for (i = 0; fds && i < n->nfds; i++) {
		if (cp_json_append(fds, cp_json_new_int(n->fds[i])) < 0) {
			cp_json_unref(fds);
			return NULL;
		}
	}
	return cp_json_obj(CP_STR("id", n->id), CP_STR("name", n->name),
			   CP_STR("driver", n->driver), CP_STR("bus", n->bus),
			   CP_STR("mac", n->mac), CP_STR("netdev", n->netdev),
			   CP_INT("queues", n->nqueues), CP_JSON("fds", fds),
			   CP_STR("host-interface", n->macvtap ? n->tapdev : n->ifname),
			   CP_BOOL("managed", n->managed));
}

/**
 * inventory_to_json() - the inventory as a JSON object
 * @inv:	inventory
 *
 * Return: new object, or NULL when out of memory
 */
cp_json *inventory_to_json(const struct inventory *inv)
{
	cp_json *disks = cp_json_new_array(), *slots = cp_json_new_array();
	cp_json *nics = cp_json_new_array();
	bool oom = !disks || !slots || !nics;
	char ver[32];
	size_t i;

	snprintf(ver, sizeof(ver), "%d.%d.%d", inv->ver_major, inv->ver_minor, inv->ver_micro);
	for (i = 0; !oom && i < inv->ndisks; i++)
		oom = cp_json_append(disks, disk_json(&inv->disks[i])) < 0;
	for (i = 0; !oom && i < inv->nslots; i++)
		oom = cp_json_append(slots, slot_json(&inv->slots[i])) < 0;
	for (i = 0; !oom && i < inv->nnics; i++)
		oom = cp_json_append(nics, nic_json(&inv->nics[i])) < 0;
	if (oom) {
		cp_json_unref(disks);
		cp_json_unref(slots);
		cp_json_unref(nics);
		return NULL;
	}
	return cp_json_obj(CP_STR("qemu", ver), CP_STR("package", inv->package),
			   CP_INT("pid", inv->pid), CP_STR("status", inv->status),
			   CP_STR("pci-hotplug", hotplug_name(inv->hotplug)),
			   CP_STR("usb-bus", inv->usb_bus), CP_JSON("disks", disks),
			   CP_JSON("slots", slots), CP_JSON("nics", nics));
}

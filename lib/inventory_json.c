/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The inventory as JSON, for `coldplug inventory --json` and reports.
 */
#include <stdio.h>

#include "cleanup.h"
#include "coldplug/inventory.h"
#include "util.h"

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
	cleanup_json cp_json *o = cp_json_new_object();
	int rc = 0;

	if (!o)
		return NULL;
	rc |= cp_json_set_str(o, "id", d->id);
	rc |= cp_json_set_str(o, "name", d->name);
	rc |= cp_json_set_str(o, "driver", d->fe.driver);
	rc |= cp_json_set_str(o, "bus", d->fe.bus);
	if (d->fe.usb_id[0])
		rc |= cp_json_set_str(o, "usb-device", d->fe.usb_id);
	rc |= cp_json_set_str(o, "node", d->node);
	rc |= cp_json_set_bool(o, "cdrom", d->cdrom);
	rc |= cp_json_set_bool(o, "read-only", d->read_only);
	rc |= cp_json_set_int(o, "size", (int64_t)d->size);
	rc |= cp_json_set_int(o, "bootindex", d->bootindex);
	rc |= cp_json_set_bool(o, "managed", d->managed);
	return rc ? NULL : steal_pointer(&o);
}

/**
 * slot_json() - one slot
 * @s:	slot
 *
 * Return: new object, or NULL when out of memory
 */
static cp_json *slot_json(const struct inv_slot *s)
{
	cleanup_json cp_json *o = cp_json_new_object();
	int rc = 0;

	if (!o)
		return NULL;
	rc |= cp_json_set_str(o, "kind", slot_kind_name(s->kind));
	rc |= cp_json_set_str(o, "name", s->name);
	rc |= cp_json_set_str(o, "driver", s->driver);
	rc |= cp_json_set_str(o, "path", s->path);
	rc |= cp_json_set_bool(o, "used", s->used);
	if (s->kind == INV_SLOT_NIC) {
		rc |= cp_json_set_str(o, "mac", s->mac);
		rc |= cp_json_set_str(o, "uplink", s->uplink);
		rc |= cp_json_set_bool(o, "direct", s->direct);
		if (s->direct) {
			rc |= cp_json_set_str(o, "tap", s->ifname);
			rc |= cp_json_set_int(o, "queues", s->nqueues);
			rc |= cp_json_set_bool(o, "tap-exists", s->tap.exists);
			rc |= cp_json_set_int(o, "tap-ifindex", s->tap.ifindex);
			rc |= cp_json_set_int(o, "tap-flags", s->tap.flags);
			rc |= cp_json_set_str(o, "tap-master", s->tap.master);
			rc |= cp_json_set_int(o, "tap-queues", s->tap.queues);
			rc |= cp_json_set_int(o, "tap-queues-disabled", s->tap.disabled);
		}
	} else {
		rc |= cp_json_set_str(o, "node", s->node);
	}
	return rc ? NULL : steal_pointer(&o);
}

/**
 * nic_json() - one NIC
 * @n:	NIC
 *
 * Return: new object, or NULL when out of memory
 */
static cp_json *nic_json(const struct inv_nic *n)
{
	cleanup_json cp_json *o = cp_json_new_object();
	cleanup_json cp_json *fds = cp_json_new_array();
	unsigned i;
	int rc = 0;

	if (!o || !fds)
		return NULL;
	for (i = 0; i < n->nfds; i++)
		rc |= cp_json_append(fds, cp_json_new_int(n->fds[i]));
	rc |= cp_json_set_str(o, "id", n->id);
	rc |= cp_json_set_str(o, "name", n->name);
	rc |= cp_json_set_str(o, "driver", n->driver);
	rc |= cp_json_set_str(o, "bus", n->bus);
	rc |= cp_json_set_str(o, "mac", n->mac);
	rc |= cp_json_set_str(o, "netdev", n->netdev);
	rc |= cp_json_set_int(o, "queues", n->nqueues);
	rc |= cp_json_set(o, "fds", steal_pointer(&fds));
	rc |= cp_json_set_str(o, "host-interface", n->macvtap ? n->tapdev : n->ifname);
	rc |= cp_json_set_bool(o, "managed", n->managed);
	return rc ? NULL : steal_pointer(&o);
}

/**
 * inventory_to_json() - the inventory as a JSON object
 * @inv:	inventory
 *
 * Return: new object, or NULL when out of memory
 */
cp_json *inventory_to_json(const struct inventory *inv)
{
	cleanup_json cp_json *o = cp_json_new_object();
	cleanup_json cp_json *disks = cp_json_new_array();
	cleanup_json cp_json *slots = cp_json_new_array();
	cleanup_json cp_json *nics = cp_json_new_array();
	char ver[32];
	size_t i;
	int rc = 0;

	if (!o || !disks || !slots || !nics)
		return NULL;
	snprintf(ver, sizeof(ver), "%d.%d.%d", inv->ver_major, inv->ver_minor, inv->ver_micro);
	for (i = 0; i < inv->ndisks; i++)
		rc |= cp_json_append(disks, disk_json(&inv->disks[i]));
	for (i = 0; i < inv->nslots; i++)
		rc |= cp_json_append(slots, slot_json(&inv->slots[i]));
	for (i = 0; i < inv->nnics; i++)
		rc |= cp_json_append(nics, nic_json(&inv->nics[i]));
	rc |= cp_json_set_str(o, "qemu", ver);
	rc |= cp_json_set_str(o, "package", inv->package);
	rc |= cp_json_set_int(o, "pid", inv->pid);
	rc |= cp_json_set_str(o, "status", inv->status);
	rc |= cp_json_set_str(o, "pci-hotplug", hotplug_name(inv->hotplug));
	rc |= cp_json_set_str(o, "usb-bus", inv->usb_bus);
	rc |= cp_json_set(o, "disks", steal_pointer(&disks));
	rc |= cp_json_set(o, "slots", steal_pointer(&slots));
	rc |= cp_json_set(o, "nics", steal_pointer(&nics));
	return rc ? NULL : steal_pointer(&o);
}

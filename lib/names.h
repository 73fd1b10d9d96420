/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Names: coldplug's own (slot drives, placeholder nodes, hub ports), which
 * are documented for users and must never look like Incus's, and Incus's
 * (dev-incus_<name>, incus_<name>, with "-" as "--" and "/" as "-").
 */
#ifndef COLDPLUG_NAMES_H
#define COLDPLUG_NAMES_H

#include <stdbool.h>
#include <stddef.h>

/* Disk slot N: BlockBackend (drive id) and its placeholder node. */
#define NAMES_DISK_SLOT	       "coldplug-disk"
#define NAMES_DISK_PLACEHOLDER "coldplug-ph-disk"
/* Disk slot N's zero node while it is released on a running guest: a file
 * node on an empty memfd coldplug passes into fdset NAMES_ZERO_FDSET + N,
 * whose opaque has no "<mode>:" so that it never names a manager's node. */
#define NAMES_ZERO_NODE	  "coldplug-zero"
#define NAMES_ZERO_OPAQUE "coldplug-zero"
#define NAMES_ZERO_FDSET  1073741824
/* CD slot N: the usb-bot coldplug adds on the xHCI for an ISO (its qdev id;
 * its SCSI bus is coldplug-cd<N>.0). Profiles from before had an ide-cd
 * with this id and BlockBackend on the AHCI; it is recognised, never used. */
#define NAMES_CD_SLOT "coldplug-cd"
/* NIC slot N: the hub port that feeds the cold NIC, and the port coldplug
 * plugs the host tap into at run time. */
#define NAMES_NIC_SLOT		"coldplug-nic"
#define NAMES_NIC_UPLINK_SUFFIX "-uplink"

/* Highest slot counts qemu-conf generates: PCI slots 0x10..0x1b for disks,
 * 0x1c..0x1e for NICs. CD slots are USB devices coldplug adds; an xHCI has
 * at most 15 ports. */
#define NAMES_MAX_DISK_SLOTS 12
#define NAMES_MAX_NIC_SLOTS  3
#define NAMES_MAX_CD_SLOTS   15
#define NAMES_DISK_SLOT_ADDR 0x10
#define NAMES_NIC_SLOT_ADDR  0x1c

bool names_parse_indexed(const char *name, const char *prefix, const char *suffix, unsigned *index);
void names_manager_name(const char *id, const char *prefix, char *out, size_t size);
bool names_is_placeholder(const char *node);
bool names_qom_child_type(const char *t, char *out, size_t size);

#endif /* COLDPLUG_NAMES_H */

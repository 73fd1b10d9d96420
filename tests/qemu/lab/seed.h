/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The original write-up's NIC re-homing (../shared/reference/
 * seed-forum-post.txt, remap_network()), done the way its scriptlet did it
 * on Incus's own connection: `info network` fd numbers, a second tap netdev
 * on those numbers, a usb-net on it with the NIC's MAC, set_link down and
 * device_del of Incus's NIC. It leaves Incus's netdev (and all its queues)
 * in place, which is why it loses packets (qemu-notes §3-5, §9). The lab
 * runs it beside coldplug to show the difference.
 */
#ifndef COLDPLUG_LAB_SEED_H
#define COLDPLUG_LAB_SEED_H

#include "coldplug/error.h"

struct lab_incus;

int lab_seed_remap(struct lab_incus *vm, const char *dev, int net_id, struct cp_error *err);

#endif /* COLDPLUG_LAB_SEED_H */

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The Incus profile that wires a VM to coldplug serve:
 *   raw.qemu.conf       coldplug's slots (Incus override syntax), the hotplug
 *                       global, and a second QMP monitor that dials the daemon
 *   raw.apparmor        the one rule that lets QEMU reach the daemon's socket
 *   raw.qemu.scriptlet  the stub (lib/incus_stub.star): NIC slots with each
 *                       NIC's MAC at "config", the request at "pre-start"
 * and a checker for a profile a user edited.
 */
#ifndef COLDPLUG_INCUS_PROFILE_H
#define COLDPLUG_INCUS_PROFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "coldplug/error.h"
#include "coldplug/plan.h"
#include "coldplug/qconf.h"

/**
 * struct incus_profile_opts - what to generate
 * @conf:		slots and machine options (NIC slots come from the stub,
 *			so conf.nic_slots must be 0)
 * @monitor:		the daemon's socket and the reconnect spelling
 * @frontend:		where NICs go
 * @timeout_s:		how long a VM start waits for the daemon's answer
 * @connect_timeout_s:	how long it waits for QEMU to reach the daemon
 */
struct incus_profile_opts {
	struct qconf_opts conf;
	struct qconf_monitor monitor;
	enum plan_nic_frontend frontend;
	unsigned timeout_s;
	unsigned connect_timeout_s;
};

/**
 * struct incus_profile_report - what a checked profile does
 * @disk_slots:		disk slots in raw.qemu.conf
 * @cd_slots:		legacy CD slots (an ide-cd coldplug-cd<N> on the AHCI, from
 *			a profile older than the USB CD drives; never used)
 * @hotplug_global:	the ICH9-LPC global is there
 * @socket:		the socket the monitor dials
 * @frontend:		NIC frontend the stub asks for ("pci"/"usb", "" if unknown)
 * @warnings:		problems that do not stop it working ("\n  - ..." each)
 */
struct incus_profile_report {
	unsigned disk_slots;
	unsigned cd_slots;
	bool hotplug_global;
	char socket[108];
	char frontend[8];
	char warnings[1024];
};

void incus_profile_opts_init(struct incus_profile_opts *o);
char *incus_profile_generate(const struct incus_profile_opts *o, struct cp_error *err);
int incus_profile_check(const char *yaml, size_t len, const char *socket,
			struct incus_profile_report *rep, struct cp_error *err);

#endif /* COLDPLUG_INCUS_PROFILE_H */

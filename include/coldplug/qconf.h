/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * QEMU configuration for coldplug's frontends, as a list of sections that
 * renders either as a -readconfig file (plain QEMU) or in Incus's
 * raw.qemu.conf override syntax (the Incus profile).
 *
 * What it holds, in QEMU creation order (QEMU creates devices in file order):
 *   - the ICH9-LPC global that makes PCI device_del complete while paused;
 *   - disk slots: writable virtio-blk-pci on pcie.0 at 0x10.., each on its
 *     own null-co placeholder BlockBackend coldplug-disk<N>;
 *   (no CD slots: coldplug adds a USB CD drive per ISO on the VM's xHCI)
 *   - NIC slots: a PCI NIC on pcie.0 at 0x1c.. peered with hub port
 *     coldplug-nic<N> of net hub <N>;
 *   - optionally the second monitor that dials the daemon.
 * PCI frontends carry no id: Incus's hot-plug allocator takes any top-level
 * PCI device with an id and nothing behind it for a free root port.
 */
#ifndef COLDPLUG_QCONF_H
#define COLDPLUG_QCONF_H

#include <stdbool.h>
#include <stddef.h>

#include "coldplug/error.h"
#include "coldplug/qconf_format.h"

#define QCONF_MAX_NIC_MACS   8
#define QCONF_MAX_NIC_QUEUES 64

/**
 * struct qconf_nic_mac - the MAC a NIC slot carries, and its tap
 * @name:	the manager's NIC name ("eth0"), for the comment
 * @mac:	"10:66:6a:ab:cd:ef"
 * @tap:	the manager's tap: the slot's netdev opens it by name (the
 *		direct path, virtio-net-pci only); NULL for a slot behind a
 *		net hub
 */
struct qconf_nic_mac {
	const char *name;
	const char *mac;
	const char *tap;
};

/**
 * struct qconf_monitor - the second QMP monitor, dialling the daemon
 * @socket:	the daemon's socket path
 * @reconnect_ms: retry interval after a failed or lost connection
 * @use_reconnect_ms: spell it reconnect-ms (QEMU >= 9.2; `reconnect` was
 *		removed in 10.2) rather than reconnect (seconds, QEMU < 9.2)
 */
struct qconf_monitor {
	const char *socket;
	unsigned reconnect_ms;
	bool use_reconnect_ms;
};

/**
 * struct qconf_opts - what to generate
 * @disk_slots:	virtio-blk disk slots (0..12)
 * @nic_slots:	PCI NIC slots (0..3); at least one per entry of @macs
 * @nic_model:	virtio-net-pci, vmxnet3 or e1000-82545em; NULL for the
 *		default (qconf_nic_model()): virtio-net-pci, or with @macos the
 *		model its macOS version drives
 * @macs:	MAC of NIC slot 0, 1, ...
 * @nmacs:	their count
 * @nic_queues:	queues of a direct slot's netdev (1..QCONF_MAX_NIC_QUEUES;
 *		more than 1 needs a multi_queue tap, as Incus makes)
 * @vhost:	direct slots use vhost-net (QEMU fails to start without
 *		/dev/vhost-net)
 * @hotplug_global: add ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off
 * @monitor:	the daemon's monitor, or NULL
 * @macos:	the macOS machine (coldplug/macos.h), or NULL for none
 */
struct qconf_opts {
	unsigned disk_slots;
	unsigned nic_slots;
	const char *nic_model;
	struct qconf_nic_mac macs[QCONF_MAX_NIC_MACS];
	size_t nmacs;
	unsigned nic_queues;
	bool vhost;
	bool hotplug_global;
	const struct qconf_monitor *monitor;
	const struct macos_opts *macos;
};

struct qconf;
struct macos_opts;

void qconf_opts_init(struct qconf_opts *o);
int qconf_validate(const struct qconf_opts *o, struct cp_error *err);
struct qconf *qconf_build(const struct qconf_opts *o, struct cp_error *err);
char *qconf_render(const struct qconf *q, enum qconf_format fmt, struct cp_error *err);
void qconf_free(struct qconf *q);
char *qconf_generate(const struct qconf_opts *o, enum qconf_format fmt, struct cp_error *err);
bool qconf_mac_valid(const char *mac);
const char *qconf_nic_model(const struct qconf_opts *o);

#endif /* COLDPLUG_QCONF_H */

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a macOS guest needs from the QEMU configuration beside coldplug's disk,
 * CD and NIC slots (coldplug/qconf.h), and which frontends each macOS
 * version can drive. The anchors (OSX-KVM, quickemu, Docker-OSX, Proxmox
 * guides; ../shared/reference/qemu-notes.md §7) all give macOS:
 *   - isa-applesmc with Apple's OSK (the "OSK0"+"OSK1" SMC keys of a Mac):
 *     without it macOS does not boot;
 *   - a USB keyboard and tablet on an xHCI (macOS has no virtio-input driver);
 *   - a plain framebuffer display (VGA or vmware-svga), no virtio-gpu.
 * In Incus's raw.qemu.conf override format it also deletes what macOS cannot
 * drive from Incus's own sections: the virtio keyboard and tablet, the
 * virtio GPU, and SPICE's USB redirection (which would take xHCI ports).
 *
 * Order (QEMU creates devices in file order; Incus appends new sections at
 * the end, keeps the place of its own, and drops the sections an empty
 * header empties): the keyboard and tablet come after the xHCI they plug
 * into (Incus's qemu_usb, an xHCI the plain QEMU command line creates before
 * -readconfig, or our own coldplug-xhci, added just before them).
 *
 * The display is a PCI device on pcie.0 WITHOUT a qdev id: Incus's hot-plug
 * allocator takes any top-level PCI device with an id and nothing behind it
 * for a free root port. It sits at a fixed slot (MACOS_DISPLAY_ADDR) below
 * coldplug's disk slots (0x10-0x1b) and NIC slots (0x1c-0x1e) and far above
 * Incus's root ports (packed 8 functions per slot from slot 1), so its guest
 * address does not change with the number of Incus devices.
 *
 * The OSK is validated (64 printable ASCII characters, no quote or
 * backslash) and written only into the generated configuration; no message
 * or log line ever contains it.
 */
#ifndef COLDPLUG_MACOS_H
#define COLDPLUG_MACOS_H

#include <stdbool.h>

#include "coldplug/error.h"
#include "coldplug/qconf_format.h"

#define MACOS_OSK_LEN 64

/* pcie.0 slots of the display and of the optional xHCI (plain QEMU only). */
#define MACOS_DISPLAY_ADDR 0x0f
#define MACOS_XHCI_ADDR	   0x0e

/* Incus's xHCI bus (driver_qemu_templates.go qemuUSB: [device "qemu_usb"]). */
#define MACOS_INCUS_USB_BUS "qemu_usb.0"

/* Ids of what coldplug adds (not PCI, or plain QEMU only: ids are safe). */
#define MACOS_XHCI_ID	"coldplug-xhci"
#define MACOS_KBD_ID	"coldplug-usb-kbd"
#define MACOS_TABLET_ID "coldplug-usb-tablet"
#define MACOS_SMC_ID	"coldplug-applesmc"

/**
 * enum macos_display - the display device
 * @MACOS_DISPLAY_VGA:		QEMU's std VGA (PCI 1234:1111); the default
 * @MACOS_DISPLAY_VMWARE_SVGA:	vmware-svga (PCI 15ad:0405), as OSX-KVM and
 *				quickemu use
 */
enum macos_display {
	MACOS_DISPLAY_VGA,
	MACOS_DISPLAY_VMWARE_SVGA,
};

/**
 * struct macos_version - a macOS release number
 * @major:	10, 11, ... 15, 26, ...; 0 when not given (then nothing is
 *		refused for the version and the NIC model default is
 *		virtio-net-pci)
 * @minor:	the 15 of 10.15; 0 for 11 and later
 */
struct macos_version {
	unsigned major;
	unsigned minor;
};

/**
 * struct macos_opts - the macOS machine; start from macos_opts_init()
 * @format:	the format the configuration will be rendered in: decides
 *		the default xHCI bus and whether Incus's sections are deleted
 * @osk:	Apple's OSK, set with macos_set_osk() or macos_read_osk_file()
 *		(empty until then: refused); wipe with macos_opts_wipe()
 * @version:	the macOS version to install, or 0.0 for unknown
 * @display:	display device
 * @usb_bus:	xHCI bus for the keyboard and tablet ("xhci.0"), or NULL for
 *		Incus's qemu_usb.0 (Incus format) / @add_xhci's bus
 * @add_xhci:	plain QEMU: add a qemu-xhci coldplug-xhci for them
 */
struct macos_opts {
	enum qconf_format format;
	char osk[MACOS_OSK_LEN + 1];
	struct macos_version version;
	enum macos_display display;
	const char *usb_bus;
	bool add_xhci;
};

struct qconf;

void macos_opts_init(struct macos_opts *m, enum qconf_format format);
void macos_opts_wipe(struct macos_opts *m);
int macos_set_osk(struct macos_opts *m, const char *osk, struct cp_error *err);
int macos_read_osk_file(struct macos_opts *m, const char *path, struct cp_error *err);
int macos_parse_version(const char *text, struct macos_version *v, struct cp_error *err);
int macos_parse_display(const char *text, enum macos_display *d, struct cp_error *err);
const char *macos_display_driver(enum macos_display d);
const char *macos_nic_model(const struct macos_opts *m);
int macos_validate(const struct macos_opts *m, unsigned disk_slots, unsigned nic_slots,
		   const char *nic_model, struct cp_error *err);

/* Called by qconf_build(): deletions first, additions after the global. */
void macos_conf_remove(struct qconf *q, const struct macos_opts *m);
void macos_conf_add(struct qconf *q, const struct macos_opts *m);

#endif /* COLDPLUG_MACOS_H */

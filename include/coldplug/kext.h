/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A codeless kext for macOS guests: an Info.plist whose IOKit personality
 * binds QEMU's usb-net (the NIC coldplug re-homes Incus NICs onto with
 * --usb) to Apple's own CDC driver, AppleUSBCDCCompositeDevice in
 * com.apple.driver.usb.cdc, as the original write-up did
 * (../shared/reference/seed-forum-post.txt; qemu-notes.md §4 and §7). A
 * codeless kext has no executable: it only adds a matching dictionary, and
 * OpenCore injects it (config.plist Kernel -> Add, ExecutablePath "").
 *
 * The USB ids come from one table, kext_usb_matches[], which the lab test
 * compares with what a Linux guest reads from QEMU's emulated usb-net.
 */
#ifndef COLDPLUG_KEXT_H
#define COLDPLUG_KEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coldplug/error.h"

#define KEXT_DEFAULT_NAME "ColdplugUSBNet"
#define KEXT_NAME_MAX	  64
#define KEXT_ID_PREFIX	  "org.coldplug.kext."

/**
 * struct kext_usb_match - one IOKit personality for one QEMU USB device
 * @personality:	the personality's key in IOKitPersonalities
 * @qemu_device:	QEMU's device model ("usb-net")
 * @id_vendor:		USB idVendor (hw/usb/dev-network.c)
 * @id_product:		USB idProduct
 * @bcd_device:		USB bcdDevice
 * @configuration:	bConfigurationValue to prefer (kUSBPreferredConfiguration),
 *			0 for none: usb-net's CDC-ECM configuration is 1 (its
 *			first, value 2, is RNDIS, which macOS does not drive)
 * @bundle:		CFBundleIdentifier of the kext that has @io_class
 * @io_class:		the driver class to instantiate
 * @provider:		IOProviderClass (the macOS 10.11+ USB stack's device)
 * @probe_score:	IOProbeScore
 */
struct kext_usb_match {
	const char *personality;
	const char *qemu_device;
	uint16_t id_vendor;
	uint16_t id_product;
	uint16_t bcd_device;
	uint8_t configuration;
	const char *bundle;
	const char *io_class;
	const char *provider;
	int probe_score;
};

extern const struct kext_usb_match kext_usb_matches[];
extern const size_t kext_usb_nmatches;

/**
 * struct kext_opts - the bundle to write; start from kext_opts_init()
 * @name:		bundle name: <name>.kext, CFBundleName, and the last
 *			part of CFBundleIdentifier (letters, digits, '-')
 * @preferred_config:	write kUSBPreferredConfiguration (default true;
 *			unverified on macOS, see doc/macos.md)
 */
struct kext_opts {
	const char *name;
	bool preferred_config;
};

void kext_opts_init(struct kext_opts *o);
int kext_name_check(const char *name, struct cp_error *err);
char *kext_xml_escape(const char *s, struct cp_error *err);
char *kext_info_plist(const struct kext_opts *o, struct cp_error *err);
char *kext_opencore_entry(const struct kext_opts *o, struct cp_error *err);
char *kext_write_bundle(const struct kext_opts *o, const char *dir, bool force,
			struct cp_error *err);

#endif /* COLDPLUG_KEXT_H */

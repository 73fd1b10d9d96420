/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The macOS machine sections and the macOS version rules: see
 * coldplug/macos.h. Which version drives which frontend comes from the
 * anchors' own notes (qemu-notes.md §7): virtio-blk from 10.15 (Catalina;
 * quickemu: not High Sierra, not the Mojave recovery), virtio-net from 11
 * (Big Sur), vmxnet3 from 10.11 (OSX-KVM howto). None of it can be checked
 * here: no macOS runs in this project's lab.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "coldplug/macos.h"
#include "names.h"
#include "qconf_section.h"
#include "util.h"

_Static_assert(MACOS_DISPLAY_ADDR < NAMES_DISK_SLOT_ADDR && MACOS_XHCI_ADDR < NAMES_DISK_SLOT_ADDR,
	       "the macOS display and xHCI must not take a coldplug disk or NIC slot");

/* The longest OSK file accepted (the key, a newline, some slack). */
#define OSK_FILE_MAX 256

/**
 * struct incus_section - one of Incus's qemu.conf sections
 * @group:	"device" or "chardev"
 * @id:		its id
 */
struct incus_section {
	const char *group;
	const char *id;
};

/* What macOS cannot drive, by Incus's names (driver_qemu_templates.go:
 * qemuKeyboard, qemuTablet, qemuGPU, qemuUSB with SPICE). */
static const struct incus_section incus_removed[] = {
	{ "device", "qemu_keyboard" },	 { "device", "qemu_tablet" },
	{ "device", "qemu_gpu" },	 { "chardev", "qemu_spice-usb-chardev1" },
	{ "device", "qemu_spice-usb1" }, { "chardev", "qemu_spice-usb-chardev2" },
	{ "device", "qemu_spice-usb2" }, { "chardev", "qemu_spice-usb-chardev3" },
	{ "device", "qemu_spice-usb3" },
};

/**
 * macos_opts_init() - defaults: VGA, version unknown, no OSK yet
 * @m:		options to initialise
 * @format:	the format the configuration will be rendered in
 */
void macos_opts_init(struct macos_opts *m, enum qconf_format format)
{
	memset(m, 0, sizeof(*m));
	m->format = format;
	m->display = MACOS_DISPLAY_VGA;
}

/**
 * macos_opts_wipe() - erase the OSK from @m
 * @m:	options
 */
void macos_opts_wipe(struct macos_opts *m)
{
	explicit_bzero(m->osk, sizeof(m->osk));
}

/**
 * osk_check() - whether @len bytes at @osk can be the OSK
 * @osk:	candidate (not NUL-terminated)
 * @len:	its length
 * @err:	filled on failure; the message never contains the candidate
 *
 * Return: 0, or -1
 */
static int osk_check(const char *osk, size_t len, struct cp_error *err)
{
	size_t i;

	if (len != MACOS_OSK_LEN)
		return cp_error_set(err, CP_ERR_INVALID,
				    "the OSK is %zu characters, expected %d (Apple's OSK is the "
				    "SMC keys OSK0 and OSK1 of a Mac, 32 characters each)",
				    len, MACOS_OSK_LEN);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)osk[i];

		if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
			return cp_error_set(err, CP_ERR_INVALID,
					    "the OSK has a character that cannot be right at "
					    "position %zu (it must be printable ASCII, without "
					    "quotes or backslashes)",
					    i + 1);
	}
	return 0;
}

/**
 * macos_set_osk() - validate and keep the OSK
 * @m:		options
 * @osk:	the key (borrowed; copied)
 * @err:	filled on failure; never contains the key
 *
 * Return: 0, or -1
 */
int macos_set_osk(struct macos_opts *m, const char *osk, struct cp_error *err)
{
	if (osk_check(osk, strlen(osk), err) < 0)
		return -1;
	memcpy(m->osk, osk, MACOS_OSK_LEN);
	m->osk[MACOS_OSK_LEN] = '\0';
	return 0;
}

/**
 * read_small_file() - read at most @size - 1 bytes of @path, NUL-terminated
 * @path:	file
 * @buf:	output
 * @size:	its size
 * @err:	filled on failure
 *
 * Return: the length read, or -1 (also when the file is larger)
 */
static ssize_t read_small_file(const char *path, char *buf, size_t size, struct cp_error *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	size_t len = 0;
	ssize_t n;

	if (fd < 0) {
		cp_error_set_errno(err, errno, "cannot read %s", path);
		return -1;
	}
	while (len < size) {
		n = read(fd, buf + len, size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cp_error_set_errno(err, errno, "cannot read %s", path);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len == size) {
		cp_error_set(err, CP_ERR_INVALID, "%s: larger than %zu bytes, so not an OSK file",
			     path, size - 1);
		return -1;
	}
	buf[len] = '\0';
	return (ssize_t)len;
}

/**
 * macos_read_osk_file() - read, validate and keep the OSK from a file
 * @m:		options
 * @path:	file holding the key, optionally followed by a newline
 * @err:	filled on failure; names the file, never contains the key
 *
 * Return: 0, or -1
 */
int macos_read_osk_file(struct macos_opts *m, const char *path, struct cp_error *err)
{
	char buf[OSK_FILE_MAX + 1];
	ssize_t len = read_small_file(path, buf, sizeof(buf), err);
	int rc = -1;

	if (len < 0) {
		explicit_bzero(buf, sizeof(buf)); /* a file too large was read into it */
		return cp_error_prefix(err, "OSK file");
	}
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (osk_check(buf, (size_t)len, err) < 0) {
		cp_error_prefix(err, "OSK file %s", path);
	} else {
		memcpy(m->osk, buf, MACOS_OSK_LEN);
		m->osk[MACOS_OSK_LEN] = '\0';
		rc = 0;
	}
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

/**
 * parse_part() - one decimal component of a version, up to '.' or the end
 * @p:		cursor, advanced past the component and its '.'
 * @out:	the value
 *
 * Return: true if there was a number of at most 3 digits
 */
static bool parse_part(const char **p, unsigned *out)
{
	unsigned v = 0, digits = 0;

	while (**p >= '0' && **p <= '9' && digits < 4) {
		v = v * 10 + (unsigned)(**p - '0');
		(*p)++;
		digits++;
	}
	if (!digits || digits > 3 || (**p && **p != '.'))
		return false;
	if (**p == '.')
		(*p)++;
	*out = v;
	return true;
}

/**
 * macos_parse_version() - "10.15", "11", "14.4.1", "26"
 * @text:	as typed
 * @v:		the version (the patch level is dropped)
 * @err:	filled on failure, with what to type instead
 *
 * Return: 0, or -1
 */
int macos_parse_version(const char *text, struct macos_version *v, struct cp_error *err)
{
	unsigned major = 0, minor = 0, patch = 0;
	const char *p = text;
	bool has_minor;

	if (!parse_part(&p, &major) || (*p && !parse_part(&p, &minor)) ||
	    (*p && !parse_part(&p, &patch)) || *p || text[strlen(text) - 1] == '.')
		return cp_error_set(err, CP_ERR_INVALID,
				    "'%s' is not a macOS version: write it like 10.15, 11 or 15",
				    text);
	has_minor = strchr(text, '.') != NULL;
	if (major == 10 && !has_minor)
		return cp_error_set(err, CP_ERR_INVALID,
				    "macOS 10 alone is ambiguous: write 10.13, 10.14 or 10.15");
	if (major == 10 && minor == 16)
		return cp_error_set(err, CP_ERR_INVALID,
				    "macOS 10.16 is how macOS 11 and later show themselves to old "
				    "software: write the real major version (11, 12, ...)");
	if (major == 10 && minor > 16)
		return cp_error_set(err, CP_ERR_INVALID,
				    "there is no macOS 10.%u (10.15 was the last 10.x)", minor);
	if (major < 10 || (major >= 16 && major <= 25) || major > 99)
		return cp_error_set(err, CP_ERR_INVALID,
				    "there is no macOS %u (10.x, then 11 to 15, then 26 and on)",
				    major);
	v->major = major;
	v->minor = major == 10 ? minor : 0;
	return 0;
}

/**
 * macos_parse_display() - "vga" or "vmware-svga"
 * @text:	as typed
 * @d:		the display
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
int macos_parse_display(const char *text, enum macos_display *d, struct cp_error *err)
{
	if (!strcasecmp(text, "vga") || !strcmp(text, "std")) {
		*d = MACOS_DISPLAY_VGA;
		return 0;
	}
	if (!strcmp(text, "vmware-svga") || !strcmp(text, "vmware")) {
		*d = MACOS_DISPLAY_VMWARE_SVGA;
		return 0;
	}
	return cp_error_set(err, CP_ERR_INVALID, "display '%s': use vga or vmware-svga", text);
}

/**
 * macos_display_driver() - QEMU's device name of a display
 * @d:	display
 *
 * Return: static string
 */
const char *macos_display_driver(enum macos_display d)
{
	return d == MACOS_DISPLAY_VMWARE_SVGA ? "vmware-svga" : "VGA";
}

/**
 * version_before() - whether a known version is older than @major.@minor
 * @v:		version (0.0: unknown, never older)
 * @major:	major
 * @minor:	minor
 *
 * Return: true if @v is known and older
 */
static bool version_before(const struct macos_version *v, unsigned major, unsigned minor)
{
	if (!v->major)
		return false;
	return v->major < major || (v->major == major && v->minor < minor);
}

/**
 * version_text() - "10.14" or "12"
 * @v:		version
 * @buf:	output
 * @size:	its size
 *
 * Return: @buf
 */
static const char *version_text(const struct macos_version *v, char *buf, size_t size)
{
	if (v->major == 10)
		snprintf(buf, size, "10.%u", v->minor);
	else
		snprintf(buf, size, "%u", v->major);
	return buf;
}

/**
 * macos_nic_model() - the NIC slot model @m's macOS version drives best
 * @m:	options
 *
 * Return: "vmxnet3" before macOS 11, else "virtio-net-pci" (static)
 */
const char *macos_nic_model(const struct macos_opts *m)
{
	return version_before(&m->version, 11, 0) ? "vmxnet3" : "virtio-net-pci";
}

/**
 * validate_usb() - where the keyboard and tablet go
 * @m:		options
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int validate_usb(const struct macos_opts *m, struct cp_error *err)
{
	const char *dot = m->usb_bus ? strrchr(m->usb_bus, '.') : NULL;

	if (m->usb_bus && m->add_xhci)
		return cp_error_set(err, CP_ERR_INVALID,
				    "give --usb-bus or --add-xhci, not both: --add-xhci puts "
				    "the keyboard and tablet on its own bus, %s.0",
				    MACOS_XHCI_ID);
	if (m->format == QCONF_INCUS && m->add_xhci)
		return cp_error_set(err, CP_ERR_INVALID,
				    "--add-xhci is for plain QEMU: Incus has an xHCI already "
				    "(qemu_usb, bus %s), and a PCI device with an id would be "
				    "taken by Incus's hot-plug allocator for a free root port",
				    MACOS_INCUS_USB_BUS);
	if (m->format == QCONF_READCONFIG && !m->usb_bus && !m->add_xhci)
		return cp_error_set(err, CP_ERR_INVALID,
				    "macOS needs its keyboard and tablet on an xHCI: give "
				    "--usb-bus BUS (an xHCI your QEMU command line creates before "
				    "-readconfig, e.g. xhci.0 for -device qemu-xhci,id=xhci) or "
				    "--add-xhci (coldplug adds a qemu-xhci, %s)",
				    MACOS_XHCI_ID);
	if (m->usb_bus && (!dot || dot == m->usb_bus || !dot[1] ||
			   strspn(dot + 1, "0123456789") != strlen(dot + 1)))
		return cp_error_set(err, CP_ERR_INVALID,
				    "--usb-bus '%s': give the bus, the xHCI's id followed by .0 "
				    "(like xhci.0)",
				    m->usb_bus);
	return 0;
}

/**
 * validate_nic_model() - whether @v drives the NIC slots' model
 * @v:		version
 * @model:	effective model
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int validate_nic_model(const struct macos_version *v, const char *model,
			      struct cp_error *err)
{
	char ver[16];

	version_text(v, ver, sizeof(ver));
	if (!strcmp(model, "virtio-net-pci") && version_before(v, 11, 0))
		return cp_error_set(err, CP_ERR_INVALID,
				    "virtio-net needs macOS 11 or later (macOS %s has no driver "
				    "for it): use --nic-model vmxnet3, or leave --nic-model out to "
				    "get the model macOS %s drives",
				    ver, ver);
	if (!strcmp(model, "vmxnet3") && version_before(v, 10, 11))
		return cp_error_set(err, CP_ERR_INVALID,
				    "vmxnet3 needs macOS 10.11 or later (macOS %s has no driver "
				    "for it): use --nic-model e1000-82545em",
				    ver);
	return 0;
}

/**
 * macos_validate() - whether the machine can be generated, and what macOS
 *		      drives, with a message that says what to change
 * @m:		macOS options
 * @disk_slots:	the configuration's disk slots
 * @nic_slots:	its NIC slots
 * @nic_model:	its NIC model, or NULL for the default
 * @err:	filled on failure; never contains the OSK
 *
 * Return: 0, or -1
 */
int macos_validate(const struct macos_opts *m, unsigned disk_slots, unsigned nic_slots,
		   const char *nic_model, struct cp_error *err)
{
	char ver[16];

	if (strlen(m->osk) != MACOS_OSK_LEN)
		return cp_error_set(err, CP_ERR_INVALID,
				    "macOS does not boot without Apple's OSK in isa-applesmc: give "
				    "--osk-file FILE (or --osk KEY); see doc/macos.md");
	if (validate_usb(m, err) < 0)
		return -1;
	if (disk_slots && version_before(&m->version, 10, 15))
		return cp_error_set(err, CP_ERR_INVALID,
				    "macOS %s has no virtio-blk driver (it came with 10.15), and "
				    "coldplug's disk slots are virtio-blk: install macOS 10.15 or "
				    "later, or give --disk-slots 0",
				    version_text(&m->version, ver, sizeof(ver)));
	if (nic_slots || nic_model)
		return validate_nic_model(&m->version, nic_model ? nic_model : macos_nic_model(m),
					  err);
	return 0;
}

/**
 * macos_conf_remove() - delete Incus's sections that macOS cannot drive
 * @q:	configuration
 * @m:	options (nothing is deleted in readconfig format)
 */
void macos_conf_remove(struct qconf *q, const struct macos_opts *m)
{
	size_t i;

	if (m->format != QCONF_INCUS)
		return;
	for (i = 0; i < CP_ARRAY_SIZE(incus_removed); i++)
		qconf_section_remove(q, incus_removed[i].group, incus_removed[i].id, NULL);
}

/**
 * add_xhci() - our own xHCI (plain QEMU only)
 * @q:	configuration
 */
static void add_xhci(struct qconf *q)
{
	static const struct qconf_kv kv[] = {
		{ "driver", "qemu-xhci" },
		{ "p2", "8" },
		{ "p3", "8" },
		{ "bus", "pcie.0" },
	};
	struct qconf_section *s = qconf_section_add(
		q, "device", MACOS_XHCI_ID,
		"An xHCI for the USB keyboard and tablet (and coldplug's usb-net NICs).\n"
		"8 USB 2 and 8 USB 3 ports, as Incus gives its own, so that QEMU does not\n"
		"insert a hub when the last port is taken.");

	qconf_section_set_table(q, s, kv, CP_ARRAY_SIZE(kv));
	qconf_section_set(q, s, "addr", "%02x.0", MACOS_XHCI_ADDR);
}

/**
 * add_input() - USB keyboard and tablet
 * @q:		configuration
 * @bus:	the xHCI's bus
 */
static void add_input(struct qconf *q, const char *bus)
{
	struct qconf_section *s = qconf_section_add(
		q, "device", MACOS_KBD_ID,
		"USB keyboard and tablet: macOS has no virtio-input driver. Ports are\n"
		"left to QEMU, so no port number can collide with another USB device.");

	qconf_section_set(q, s, "driver", "usb-kbd");
	qconf_section_set(q, s, "bus", "%s", bus);
	s = qconf_section_add(q, "device", MACOS_TABLET_ID, NULL);
	qconf_section_set(q, s, "driver", "usb-tablet");
	qconf_section_set(q, s, "bus", "%s", bus);
}

/**
 * add_smc() - isa-applesmc with the OSK
 * @q:	configuration
 * @m:	options
 */
static void add_smc(struct qconf *q, const struct macos_opts *m)
{
	struct qconf_section *s = qconf_section_add(
		q, "device", MACOS_SMC_ID,
		"Apple's SMC with its OSK (the guest's ACPI device APP0001): macOS checks\n"
		"it at boot. Keep this file private.");

	qconf_section_set(q, s, "driver", "isa-applesmc");
	qconf_section_set(q, s, "osk", "%s", m->osk);
}

/**
 * add_display() - the anonymous display at a fixed pcie.0 slot
 * @q:	configuration
 * @m:	options
 */
static void add_display(struct qconf *q, const struct macos_opts *m)
{
	struct qconf_section *s = qconf_section_add(
		q, "device", NULL,
		"The display: a plain framebuffer (OVMF sets it up, macOS keeps it).\n"
		"No id on purpose (Incus takes PCI devices with an id for hot-plug),\n"
		"and a fixed slot below coldplug's disk and NIC slots.");

	qconf_section_set(q, s, "driver", "%s", macos_display_driver(m->display));
	qconf_section_set(q, s, "bus", "pcie.0");
	qconf_section_set(q, s, "addr", "%02x.0", MACOS_DISPLAY_ADDR);
}

/**
 * macos_conf_add() - the macOS machine: xHCI devices, SMC, display
 * @q:	configuration
 * @m:	options (validated)
 */
void macos_conf_add(struct qconf *q, const struct macos_opts *m)
{
	const char *bus = m->usb_bus;

	if (m->add_xhci) {
		add_xhci(q);
		bus = MACOS_XHCI_ID ".0";
	}
	add_input(q, bus ? bus : MACOS_INCUS_USB_BUS);
	add_smc(q, m);
	add_display(q, m);
}

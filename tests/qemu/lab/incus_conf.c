/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The qemu.conf and command line Incus generates (driver_qemu.go
 * generateQemuConfig() and start(), driver_qemu_templates.go,
 * driver_qemu_bus.go), for an x86_64 Linux guest without spice, IOMMU, SEV,
 * CSM or pinning, in the layout of Incus 7.2 / 7.3 (a [mon] section and
 * -sandbox on the command line; HEAD moved both), or of Incus 6.0.4 as
 * recorded in tests/data/incus-6.0/qemu.conf: SPICE (the agent and folder
 * ports, three usb-redir devices on the xHCI, -spice), the 9p agent drive, a
 * 16-byte agent ringbuf, no virtio-sound, no maxmem, no SCSI num_queues.
 *
 * Sections are built as Incus builds its []cfg.Section (a JSON array here,
 * the form the scriptlet sees), then raw.qemu.conf is applied
 * (incus_override.c), the config-stage scriptlet may edit them, and they are
 * written as qemuStringifyCfg() writes them. Root ports are added at the
 * moment the allocator creates them, so they interleave with the devices
 * exactly as in Incus's list.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coldplug/cleanup.h"
#include "incus_priv.h"
#include "run.h"
#include "util.h"

#define CONF_MAX_KV	     12
#define GROUP_NONE	     (-1)
#define GROUP_GENERIC	     0
#define GROUP_9P	     1
#define INCUS_RINGBUF_SIZE   16384 /* qmp.RingbufSize */
#define INCUS60_RINGBUF_SIZE 16	   /* what 6.0.4 wrote: size = "16B" */
#define INCUS_SPICE_USB	     3	   /* usb-redir devices Incus 6.0 puts on the xHCI */
#define INCUS_USB_PORTS	     8	   /* qemuSparseUSBPorts */
#define INCUS_HOTPLUG_SPARES 8
#define INCUS_SANDBOX	     "on,obsolete=deny,elevateprivileges=allow,spawn=allow,resourcecontrol=deny"

/**
 * struct conf_kv - one `key = "value"` entry
 * @key:	key
 * @value:	value; "" entries are not written (writeEntry)
 */
struct conf_kv {
	const char *key;
	char value[PATH_MAX + 16];
};

/**
 * conf_section() - append one section to the list
 * @vm:		emulator (its sections)
 * @comment:	comment, or NULL
 * @name:	section name, e.g. `device "qemu_scsi"`
 * @kv:		entries
 * @n:		their count
 *
 * Running out of memory here shows when the list is written.
 */
static void conf_section(struct lab_incus *vm, const char *comment, const char *name,
			 struct conf_kv *kv, size_t n)
{
	cp_json *s = cp_json_new_object(), *e = cp_json_new_object();
	size_t i;

	for (i = 0; i < n; i++)
		cp_json_set_str(e, kv[i].key, kv[i].value);
	cp_json_set_str(s, "name", name);
	cp_json_set_str(s, "comment", comment ? comment : "");
	cp_json_set(s, "entries", e);
	cp_json_append(vm->sections, s);
}

/**
 * kv_set() - append an entry with a formatted value
 * @kv:		entries
 * @n:		their count, incremented
 * @key:	key (a literal)
 * @fmt:	printf format of the value
 */
static void kv_set(struct conf_kv *kv, size_t *n, const char *key, const char *fmt, ...)
	CP_PRINTF(4, 5);
static void kv_set(struct conf_kv *kv, size_t *n, const char *key, const char *fmt, ...)
{
	va_list ap;

	CP_ASSERT(*n < CONF_MAX_KV);
	kv[*n].key = key;
	va_start(ap, fmt);
	vsnprintf(kv[*n].value, sizeof(kv[*n].value), fmt, ap);
	va_end(ap);
	(*n)++;
}

/**
 * bus_root() - allocateRoot(): the next function of a root-port slot
 * @b:	allocator
 */
static void bus_root(struct lab_bus *b)
{
	if (!b->has_root) {
		b->has_root = true;
		b->root_dev = b->dev_num++;
		b->root_fn = 0;
	} else if (b->root_fn == 7) {
		b->root_fn = 0;
		b->root_dev = b->dev_num++;
	} else {
		b->root_fn++;
	}
}

/**
 * bus_new_port() - write the pcie-root-port section for a new port
 * @vm:		emulator
 * @out:	set to the port name, qemu_pcie<N>
 */
static void bus_new_port(struct lab_incus *vm, char out[LAB_PORT_NAME_MAX])
{
	struct lab_bus *b = &vm->bus;
	struct conf_kv kv[CONF_MAX_KV];
	size_t n = 0;
	char name[64];

	lab_fmt(out, LAB_PORT_NAME_MAX, "qemu_pcie%d", b->port_num);
	kv_set(kv, &n, "driver", "pcie-root-port");
	kv_set(kv, &n, "bus", "pcie.0");
	kv_set(kv, &n, "addr", "%x.%d", b->root_dev, b->root_fn);
	kv_set(kv, &n, "chassis", "%d", b->port_num);
	if (b->root_fn == 0)
		kv_set(kv, &n, "multifunction", "on");
	lab_fmt(name, sizeof(name), "device \"%s\"", out);
	conf_section(vm, NULL, name, kv, n);
	b->port_num++;
}

/**
 * bus_allocate() - allocate(): a place behind a (possibly new) root port
 * @vm:		emulator
 * @group:	GROUP_NONE, GROUP_GENERIC or GROUP_9P (multi-function groups)
 * @port:	set to the root port's name (the device's bus)
 * @addr:	set to "00.<fn>"
 * @multi:	set when the device must say multifunction=on
 */
static void bus_allocate(struct lab_incus *vm, int group, char port[LAB_PORT_NAME_MAX],
			 char addr[8], bool *multi)
{
	struct lab_bus *b = &vm->bus;
	int fn = 0;

	if (group == GROUP_NONE || !b->group_used[group] || b->group_fn[group] == 7) {
		bus_root(b);
		bus_new_port(vm, port);
		if (group != GROUP_NONE) {
			b->group_used[group] = true;
			b->group_fn[group] = 0;
			cp_strlcpy(b->group_port[group], port, LAB_PORT_NAME_MAX);
		}
	} else {
		fn = ++b->group_fn[group];
		cp_strlcpy(port, b->group_port[group], LAB_PORT_NAME_MAX);
	}
	lab_fmt(addr, 8, "00.%d", fn);
	*multi = fn == 0 && group != GROUP_NONE;
}

/**
 * pci_device() - a device section on an allocated port (qemuDeviceEntries)
 * @vm:		emulator
 * @comment:	comment or NULL
 * @id:		section id
 * @driver:	PCI driver
 * @group:	allocator group
 * @kv:		more entries (at least CONF_MAX_KV slots)
 * @n:		their count
 */
static void pci_device(struct lab_incus *vm, const char *comment, const char *id,
		       const char *driver, int group, struct conf_kv *kv, size_t n)
{
	char port[LAB_PORT_NAME_MAX], addr[8], name[96];
	bool multi;

	bus_allocate(vm, group, port, addr, &multi);
	kv_set(kv, &n, "driver", "%s", driver);
	kv_set(kv, &n, "bus", "%s", port);
	kv_set(kv, &n, "addr", "%s", addr);
	if (multi)
		kv_set(kv, &n, "multifunction", "on");
	lab_fmt(name, sizeof(name), "device \"%s\"", id);
	conf_section(vm, comment, name, kv, n);
}

/**
 * conf_base() - qemuBase(), qemuMemory(), qemuCPU(): machine, memory, CPUs
 * @vm:	emulator
 */
static void conf_base(struct lab_incus *vm)
{
	struct conf_kv kv[CONF_MAX_KV];
	unsigned mem = vm->opts.memory_mb;
	size_t n = 0;

	kv_set(kv, &n, "graphics", "off");
	kv_set(kv, &n, "type", "q35");
	kv_set(kv, &n, "usb", "off");
	conf_section(vm, "Machine", "machine", kv, n);
	/*
	 * Incus has accel = "kvm" in [machine]. The lab runs TCG, one thread for
	 * all vCPUs: QEMU 10.0.2's multi-threaded TCG aborted (iotlb_to_section)
	 * or hung in about half the boots at 4 vCPUs on this 2-core machine
	 * (qemu-notes §9), which has nothing to do with what Incus does.
	 */
	n = 0;
	kv_set(kv, &n, "accel", "tcg");
	kv_set(kv, &n, "thread", "single");
	conf_section(vm, NULL, "accel", kv, n);
	n = 0;
	kv_set(kv, &n, "driver", "ICH9-LPC");
	kv_set(kv, &n, "property", "disable_s3");
	kv_set(kv, &n, "value", "1");
	conf_section(vm, NULL, "global", kv, n);
	n = 0;
	kv_set(kv, &n, "driver", "ICH9-LPC");
	kv_set(kv, &n, "property", "disable_s4");
	kv_set(kv, &n, "value", "0");
	conf_section(vm, NULL, "global", kv, n);
	n = 0;
	kv_set(kv, &n, "strict", "on");
	conf_section(vm, NULL, "boot-opts", kv, n);
	n = 0;
	kv_set(kv, &n, "size", "%uM", mem);
	if (!incus_is_6_0(vm))			      /* 6.0.4 has no memory hotplug: size only */
		kv_set(kv, &n, "maxmem", "%uM", mem); /* = size here, so no "slots" */
	conf_section(vm, "Memory", "memory", kv, n);
	n = 0;
	kv_set(kv, &n, "cpus", "1");
	kv_set(kv, &n, "maxcpus", "%u", vm->opts.max_vcpus);
	conf_section(vm, "CPU", "smp-opts", kv, n);
	n = 0;
	kv_set(kv, &n, "qom-type", "memory-backend-memfd");
	kv_set(kv, &n, "size", "%uM", mem);
	kv_set(kv, &n, "share", "on");
	conf_section(vm, NULL, "object \"mem0\"", kv, n);
	n = 0;
	kv_set(kv, &n, "type", "node");
	kv_set(kv, &n, "nodeid", "0");
	kv_set(kv, &n, "memdev", "mem0");
	conf_section(vm, NULL, "numa", kv, n);
}

/**
 * conf_chardevs() - monitor ([chardev] + [mon], Incus <= 7.3), console, vmcoreinfo
 * @vm:	emulator
 *
 * The console is a unix socket server the lab reads (Incus: a ringbuf).
 */
static void conf_chardevs(struct lab_incus *vm)
{
	struct conf_kv kv[CONF_MAX_KV];
	size_t n = 0;

	kv_set(kv, &n, "backend", "socket");
	kv_set(kv, &n, "path", "%s", vm->monitor_path);
	kv_set(kv, &n, "server", "on");
	kv_set(kv, &n, "wait", "off");
	conf_section(vm, "Qemu control", "chardev \"monitor\"", kv, n);
	n = 0;
	kv_set(kv, &n, "chardev", "monitor");
	kv_set(kv, &n, "mode", "control");
	conf_section(vm, NULL, "mon", kv, n);
	n = 0;
	kv_set(kv, &n, "backend", "socket");
	kv_set(kv, &n, "path", "%s", vm->console_path);
	kv_set(kv, &n, "server", "on");
	kv_set(kv, &n, "wait", "off");
	conf_section(vm, "Console", "chardev \"console\"", kv, n);
	n = 0;
	kv_set(kv, &n, "driver", "vmcoreinfo");
	conf_section(vm, "VM core info driver", "device \"qemu_vmcoreinfo\"", kv, n);
}

/**
 * serial_port() - a chardev and the virtserialport that carries it
 * @vm:		emulator
 * @comment:	the chardev's comment
 * @id:		the port's id; the chardev is <id>-chardev
 * @backend:	chardev backend (spicevmc, spiceport)
 * @chr_name:	the chardev's name
 * @port_name:	the port's name in the guest
 */
static void serial_port(struct lab_incus *vm, const char *comment, const char *id,
			const char *backend, const char *chr_name, const char *port_name)
{
	struct conf_kv kv[CONF_MAX_KV];
	char name[96], chr[64];
	size_t n = 0;

	lab_fmt(chr, sizeof(chr), "%s-chardev", id);
	kv_set(kv, &n, "backend", "%s", backend);
	kv_set(kv, &n, "name", "%s", chr_name);
	lab_fmt(name, sizeof(name), "chardev \"%s\"", chr);
	conf_section(vm, comment, name, kv, n);
	n = 0;
	kv_set(kv, &n, "driver", "virtserialport");
	kv_set(kv, &n, "name", "%s", port_name);
	kv_set(kv, &n, "chardev", "%s", chr);
	kv_set(kv, &n, "bus", "dev-qemu_serial.0");
	lab_fmt(name, sizeof(name), "device \"%s\"", id);
	conf_section(vm, NULL, name, kv, n);
}

/**
 * conf_spice_ports() - Incus 6.0's SPICE agent and folder ports
 * @vm:	emulator (QEMU has SPICE)
 */
static void conf_spice_ports(struct lab_incus *vm)
{
	serial_port(vm, "Spice agent", "qemu_spice", "spicevmc", "vdagent", "com.redhat.spice.0");
	serial_port(vm, "Spice folder", "qemu_spicedir", "spiceport", "org.spice-space.webdav.0",
		    "org.spice-space.webdav.0");
}

/**
 * conf_spice_usb() - Incus 6.0's USB redirection: three usb-redir devices,
 * each on its spicevmc chardev, on the xHCI (three of its ports taken)
 * @vm:	emulator (QEMU has SPICE)
 */
static void conf_spice_usb(struct lab_incus *vm)
{
	struct conf_kv kv[CONF_MAX_KV];
	char name[64], chr[48];
	size_t n;
	int i;

	for (i = 1; i <= INCUS_SPICE_USB; i++) {
		lab_fmt(chr, sizeof(chr), "qemu_spice-usb-chardev%d", i);
		n = 0;
		kv_set(kv, &n, "backend", "spicevmc");
		kv_set(kv, &n, "name", "usbredir");
		lab_fmt(name, sizeof(name), "chardev \"%s\"", chr);
		conf_section(vm, NULL, name, kv, n);
		n = 0;
		kv_set(kv, &n, "driver", "usb-redir");
		kv_set(kv, &n, "chardev", "%s", chr);
		lab_fmt(name, sizeof(name), "device \"qemu_spice-usb%d\"", i);
		conf_section(vm, NULL, name, kv, n);
	}
}

/**
 * conf_serial() - qemuSerial(): virtio-serial, the agent ringbuf and ports
 * @vm:	emulator
 */
static void conf_serial(struct lab_incus *vm)
{
	struct conf_kv kv[CONF_MAX_KV];
	size_t n = 0;

	pci_device(vm, "Virtual serial bus", "dev-qemu_serial", "virtio-serial-pci", GROUP_GENERIC,
		   kv, 0);
	kv_set(kv, &n, "backend", "ringbuf");
	kv_set(kv, &n, "size", "%dB", incus_is_6_0(vm) ? INCUS60_RINGBUF_SIZE : INCUS_RINGBUF_SIZE);
	conf_section(vm, "Serial identifier", "chardev \"qemu_serial-chardev\"", kv, n);
	n = 0;
	kv_set(kv, &n, "driver", "virtserialport");
	kv_set(kv, &n, "name", "org.linuxcontainers.incus");
	kv_set(kv, &n, "chardev", "qemu_serial-chardev");
	kv_set(kv, &n, "bus", "dev-qemu_serial.0");
	conf_section(vm, NULL, "device \"qemu_serial\"", kv, n);
	n = 0;
	kv_set(kv, &n, "driver", "virtserialport");
	kv_set(kv, &n, "name", "org.linuxcontainers.lxd");
	kv_set(kv, &n, "bus", "dev-qemu_serial.0");
	conf_section(vm, NULL, "device \"qemu_serial_legacy\"", kv, n);
	if (incus_is_6_0(vm) && vm->has_spice)
		conf_spice_ports(vm);
}

/**
 * conf_generic_group() - the devices of qemu_pcie0's multi-function group
 * @vm:	emulator
 *
 * balloon, rng, keyboard, tablet, (vsock), serial, USB, (sound): functions
 * 0-7 of one root port. The vsock function is allocated but not written:
 * the lab cannot run vhost-vsock-pci (no /dev/vhost-vsock, and Incus's
 * guest-cid/vhostfd come from its own open of it), so the layout does not
 * shift. Sound only where QEMU has virtio-sound-pci (>= 8.2), as Incus 7.x's
 * feature probe would; Incus 6.0.4 has none, but SPICE's usb-redir devices
 * on the xHCI.
 */
static void conf_generic_group(struct lab_incus *vm)
{
	struct conf_kv kv[CONF_MAX_KV];
	char port[LAB_PORT_NAME_MAX], addr[8];
	size_t n = 0;
	bool multi;

	pci_device(vm, "Balloon driver", "qemu_balloon", "virtio-balloon-pci", GROUP_GENERIC, kv,
		   0);
	kv_set(kv, &n, "qom-type", "rng-random");
	kv_set(kv, &n, "filename", "/dev/urandom");
	conf_section(vm, "Random number generator", "object \"qemu_rng\"", kv, n);
	n = 0;
	kv_set(kv, &n, "rng", "qemu_rng");
	pci_device(vm, NULL, "dev-qemu_rng", "virtio-rng-pci", GROUP_GENERIC, kv, n);
	pci_device(vm, "Input", "qemu_keyboard", "virtio-keyboard-pci", GROUP_GENERIC, kv, 0);
	pci_device(vm, "Input", "qemu_tablet", "virtio-tablet-pci", GROUP_GENERIC, kv, 0);
	bus_allocate(vm, GROUP_GENERIC, port, addr, &multi); /* qemu_vsock: not in the lab */
	conf_serial(vm);
	n = 0;
	kv_set(kv, &n, "p2", "%d", INCUS_USB_PORTS);
	kv_set(kv, &n, "p3", "%d", INCUS_USB_PORTS);
	pci_device(vm, "USB controller", "qemu_usb", "qemu-xhci", GROUP_GENERIC, kv, n);
	if (incus_is_6_0(vm) && vm->has_spice)
		conf_spice_usb(vm);
	if (!vm->has_sound || incus_is_6_0(vm))
		return;
	n = 0;
	kv_set(kv, &n, "driver", "none");
	conf_section(vm, "Sound device", "audiodev \"qemu_sound-audiodev\"", kv, n);
	n = 0;
	kv_set(kv, &n, "audiodev", "qemu_sound-audiodev");
	pci_device(vm, NULL, "qemu_sound", "virtio-sound-pci", GROUP_GENERIC, kv, n);
}

/**
 * conf_9p_share() - one of Incus's 9p drives: its fsdev and its device
 * @vm:		emulator
 * @comment:	the fsdev section's comment, as Incus writes it
 * @tag:	mount tag and name (config, agent)
 * @dir:	the shared directory
 */
static void conf_9p_share(struct lab_incus *vm, const char *comment, const char *tag,
			  const char *dir)
{
	struct conf_kv kv[CONF_MAX_KV];
	char port[LAB_PORT_NAME_MAX], addr[8], fsdev[32], sect[64];
	size_t n = 0;
	bool multi;

	snprintf(fsdev, sizeof(fsdev), "qemu_%s", tag);
	bus_allocate(vm, GROUP_9P, port, addr, &multi);
	kv_set(kv, &n, "fsdriver", "local");
	kv_set(kv, &n, "security_model", "none");
	kv_set(kv, &n, "readonly", "on");
	kv_set(kv, &n, "path", "%s", dir);
	snprintf(sect, sizeof(sect), "fsdev \"%s\"", fsdev);
	conf_section(vm, comment, sect, kv, n);
	n = 0;
	kv_set(kv, &n, "driver", "virtio-9p-pci");
	kv_set(kv, &n, "bus", "%s", port);
	kv_set(kv, &n, "addr", "%s", addr);
	if (multi)
		kv_set(kv, &n, "multifunction", "on");
	kv_set(kv, &n, "mount_tag", "%s", tag);
	kv_set(kv, &n, "fsdev", "%s", fsdev);
	snprintf(sect, sizeof(sect), "device \"dev-qemu_%s-drive-9p\"", tag);
	conf_section(vm, NULL, sect, kv, n);
}

/**
 * conf_fixed_ports() - SCSI controller, 9p config drive, GPU
 * @vm:	emulator
 *
 * They take qemu_pcie1..3, so the first NIC lands on qemu_pcie4 as on an
 * Incus host with 9p support. The 9p share exports an empty directory.
 */
static void conf_fixed_ports(struct lab_incus *vm)
{
	struct conf_kv kv[CONF_MAX_KV];
	size_t n = 0;

	if (!incus_is_6_0(vm)) /* 6.0.4 leaves QEMU's default */
		kv_set(kv, &n, "num_queues", "%u", vm->opts.vcpus);
	pci_device(vm, "SCSI controller", "qemu_scsi", "virtio-scsi-pci", GROUP_NONE, kv, n);
	conf_9p_share(vm, "Shared config drive (9p)", "config", vm->config_dir);
	if (incus_is_6_0(vm)) /* its incus-agent binaries; the lab's directory is empty */
		conf_9p_share(vm, "Shared agent drive (9p)", "agent", vm->agent_dir);
	pci_device(vm, "GPU", "qemu_gpu", vm->has_virtio_vga ? "virtio-vga" : "virtio-gpu-pci",
		   GROUP_NONE, kv, 0);
}

/**
 * disk_before() - whether disk @a sorts before disk @b (devices_sort.go)
 * @a:	disk
 * @b:	disk
 *
 * Return: true if @a comes first: root first, then by path, then by name
 */
static bool disk_before(const struct lab_disk *a, const struct lab_disk *b)
{
	int c = strcmp(a->path, b->path);

	if (a->spec.root || b->spec.root)
		return a->spec.root;
	return c < 0 || (c == 0 && strcmp(a->name, b->name) < 0);
}

/**
 * incus_device_order() - Incus's Sorted() device order (devices_sort.go)
 * @vm:		emulator
 * @order:	filled, LAB_INCUS_MAX_DISKS + LAB_INCUS_MAX_NICS entries at most:
 *		each names one NIC or one disk
 * @n:		set to the count
 *
 * NICs first, by name; then disks: root first, then by path, then by name.
 */
void incus_device_order(struct lab_incus *vm, struct lab_dev_ref *order, size_t *n)
{
	size_t i, j, k = 0;

	for (i = 0; i < vm->nnics; i++, k++) {
		for (j = k; j > 0 && strcmp(order[j - 1].nic->name, vm->nics[i].name) > 0; j--)
			order[j] = order[j - 1];
		order[j] = (struct lab_dev_ref){ .nic = &vm->nics[i] };
	}
	for (i = 0; i < vm->ndisks; i++, k++) {
		for (j = k; j > vm->nnics && !disk_before(order[j - 1].disk, &vm->disks[i]); j--)
			order[j] = order[j - 1];
		order[j] = (struct lab_dev_ref){ .disk = &vm->disks[i] };
	}
	*n = k;
}

/**
 * ref_priority() - a device's boot priority
 * @r:	device
 *
 * Return: boot.priority, else 1 for the root disk and 0 for the rest
 */
static int ref_priority(const struct lab_dev_ref *r)
{
	const char *bp = r->disk ? r->disk->boot_priority : r->nic->boot_priority;

	if (bp[0])
		return (int)lab_num(bp);
	return r->disk && r->disk->spec.root;
}

/**
 * incus_boot_priorities() - deviceBootPriorities(): bootindex of every device
 * @vm:	emulator
 *
 * A stable sort by priority (highest first) over the Sorted() order; the
 * base is 1 when raw.qemu has -kernel, as in Incus, and always with Incus
 * 6.0 (recorded: root 1, eth0 2, data 3, without -kernel). The lab's own guest boot
 * is -kernel too (QEMU's linuxboot ROM takes bootindex 0), so it counts.
 */
void incus_boot_priorities(struct lab_incus *vm)
{
	struct lab_dev_ref order[LAB_INCUS_MAX_DISKS + LAB_INCUS_MAX_NICS];
	int base = vm->opts.boot_guest || incus_is_6_0(vm), next, best, top;
	size_t n, i;

	for (i = 0; vm->opts.extra_args[i]; i++)
		if (!strcmp(vm->opts.extra_args[i], "-kernel"))
			base = 1;
	incus_device_order(vm, order, &n);
	for (next = base, best = INT32_MAX; next < base + (int)n; best = top) {
		for (i = 0, top = -1; i < n; i++)
			if (ref_priority(&order[i]) < best && ref_priority(&order[i]) > top)
				top = ref_priority(&order[i]);
		if (top < 0)
			break;
		for (i = 0; i < n; i++) {
			if (ref_priority(&order[i]) != top)
				continue;
			if (order[i].disk)
				order[i].disk->bootindex = next++;
			else
				order[i].nic->bootindex = next++;
		}
	}
}

/**
 * conf_devices() - root ports for start-time NICs and virtio-blk/nvme disks
 * @vm:	emulator
 *
 * In Sorted() order, as generateQemuConfig() walks devConfs; the devices
 * themselves are hot-plugged later by the monitor hooks.
 */
static void conf_devices(struct lab_incus *vm)
{
	struct lab_dev_ref order[LAB_INCUS_MAX_DISKS + LAB_INCUS_MAX_NICS];
	size_t n, i;

	incus_device_order(vm, order, &n);
	for (i = 0; i < n; i++) {
		struct lab_disk *d = order[i].disk;
		struct lab_nic *nic = order[i].nic;

		if (d && (d->spec.bus == LAB_DISK_VIRTIO_BLK || d->spec.bus == LAB_DISK_NVME))
			bus_allocate(vm, GROUP_NONE, d->port, d->addr, &d->multi);
		if (nic && nic->spec.bus == LAB_NIC_VIRTIO)
			bus_allocate(vm, GROUP_NONE, nic->port, nic->addr, &nic->multi);
	}
}

/**
 * incus_conf_generate() - build every section in @vm->sections
 * @vm:		emulator with its devices added
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
int incus_conf_generate(struct lab_incus *vm, struct cp_error *err)
{
	struct conf_kv kv[CONF_MAX_KV];
	char port[LAB_PORT_NAME_MAX], addr[8];
	size_t n = 0;
	bool multi;
	int i;

	cp_json_unref(vm->sections);
	memset(&vm->bus, 0, sizeof(vm->bus));
	vm->bus.dev_num = 1; /* address 0 is the DRAM controller */
	vm->sections = cp_json_new_array();
	if (!vm->sections)
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory");
	conf_base(vm);
	conf_chardevs(vm);
	conf_generic_group(vm);
	conf_fixed_ports(vm);
	incus_boot_priorities(vm);
	conf_devices(vm);
	kv_set(kv, &n, "driver", "vmgenid");
	kv_set(kv, &n, "guid", "%s", vm->gen_uuid);
	conf_section(vm, "VM Generation ID", "device \"vmgenid0\"", kv, n);
	for (i = 0; i < INCUS_HOTPLUG_SPARES; i++)
		bus_allocate(vm, GROUP_NONE, port, addr, &multi);
	return 0;
}

/**
 * incus_conf_override() - apply raw.qemu.conf, as generateQemuConfig() ends
 * @vm:		emulator with its sections generated
 * @err:	filled on failure: the override's error, which fails the start
 *		as it is in Incus
 *
 * Incus applies it whenever the key is set, even to "" (which still drops
 * sections without entries).
 *
 * Return: 0, or -1
 */
int incus_conf_override(struct lab_incus *vm, struct cp_error *err)
{
	cp_json *res;

	if (!vm->opts.raw_qemu_conf)
		return 0;
	res = lab_incus_conf_override(vm->sections, vm->opts.raw_qemu_conf, err);
	if (!res)
		return -1;
	cp_json_unref(vm->sections);
	vm->sections = res;
	return 0;
}

/**
 * incus_conf_write() - writeQemuConfigFile(): qemu.conf into the VM's directory
 * @vm:		emulator with its final sections
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
int incus_conf_write(struct lab_incus *vm, struct cp_error *err)
{
	free(vm->conf);
	vm->conf = lab_incus_conf_stringify(vm->sections);
	if (!vm->conf)
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory");
	return lab_write_file(vm->conf_path, vm->conf, err);
}

/**
 * push() - append one word to the command line
 * @args:	the words
 * @word:	the word (copied)
 *
 * Return: 0, or -1 when out of memory
 */
static int push(cp_json *args, const char *word)
{
	return cp_json_append(args, cp_json_new_string(word));
}

/**
 * incus_cmdline() - QEMU's arguments (@vm->cmdline), as Incus 7.2/7.3 builds them
 * @vm:		emulator
 * @err:	filled on failure
 *
 * Incus's words after the binary (no -daemonize: proc.h owns the child),
 * then the lab's own: extra -readconfig files, the second monitor, the
 * guest kernel; then the raw.qemu words (extra_args), last as in Incus.
 * This is Incus's cmdArgs, which the config-stage scriptlet may replace.
 *
 * Return: 0, or -1
 */
int incus_cmdline(struct lab_incus *vm, struct cp_error *err)
{
	char qmp[PATH_MAX + 32], pid[PATH_MAX + 16], dlog[PATH_MAX + 16], append[1100];
	char spice[PATH_MAX + 48];
	const char *words[] = {
		"-S",	       "-name",		  vm->name,	"-uuid",       vm->uuid,
		"-cpu",	       vm->cpu_model,	  "-nographic", "-serial",     "chardev:console",
		"-nodefaults", "-no-user-config", "-sandbox",	INCUS_SANDBOX, "-readconfig",
		vm->conf_path, "-pidfile",	  pid,		"-D",	       dlog
	};
	cleanup_json cp_json *args = cp_json_new_array();
	size_t i;
	int rc = args ? 0 : -1;

	if (!lab_fmt(qmp, sizeof(qmp), "unix:%s,server=on,wait=off", vm->coldplug_qmp) ||
	    !lab_fmt(pid, sizeof(pid), "%s/qemu.pid", vm->dir) ||
	    !lab_fmt(dlog, sizeof(dlog), "%s/qemu.debug.log", vm->dir) ||
	    !lab_fmt(spice, sizeof(spice), "unix=on,disable-ticketing=on,addr=%s",
		     vm->spice_path) ||
	    !lab_fmt(append, sizeof(append), "console=ttyS0 panic=-1 quiet %s", vm->append))
		return cp_error_set(err, CP_ERR_INVALID, "command line word too long");
	for (i = 0; rc == 0 && i < CP_ARRAY_SIZE(words); i++)
		rc = push(args, words[i]);
	for (i = 0; rc == 0 && vm->opts.extra_conf[i]; i++)
		rc = push(args, "-readconfig") | push(args, vm->opts.extra_conf[i]);
	if (rc == 0 && incus_is_6_0(vm) && vm->has_spice)
		rc = push(args, "-spice") | push(args, spice);
	if (rc == 0 && !vm->opts.no_second_qmp)
		rc = push(args, "-qmp") | push(args, qmp);
	if (rc == 0 && vm->opts.boot_guest)
		rc = push(args, "-kernel") | push(args, vm->kernel) | push(args, "-initrd") |
		     push(args, vm->initrd) | push(args, "-append") | push(args, append);
	for (i = 0; rc == 0 && vm->opts.extra_args[i]; i++)
		rc = push(args, vm->opts.extra_args[i]);
	if (rc)
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory");
	cp_json_unref(vm->cmdline);
	vm->cmdline = steal_pointer(&args);
	return 0;
}

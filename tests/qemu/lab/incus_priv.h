/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The Incus emulator's insides, shared by incus.c (life cycle, QMP calls,
 * start sequence, runtime operations), incus_conf.c (qemu.conf and command
 * line) and incus_hooks.c (CPU, NIC and disk monitor hooks). Not for tests:
 * they use incus.h.
 */
#ifndef COLDPLUG_LAB_INCUS_PRIV_H
#define COLDPLUG_LAB_INCUS_PRIV_H

#include <limits.h>
#include <stdio.h>

#include "incus.h"
#include "netns.h"
#include "proc.h"

#define LAB_PORT_NAME_MAX 32

/**
 * struct lab_disk - a disk as the emulator set it up
 * @spec:	the caller's spec, strings copied into the fields below
 * @name:	Incus device name
 * @path:	Incus "path" key ("" for none, "/" for root)
 * @boot_priority: boot.priority ("" for unset)
 * @cache:	io.cache override ("" for none)
 * @image:	the raw image (Incus's DevPath for <= 7.2)
 * @qcow2:	the qcow2 metadata image (>= 7.3 root), "" otherwise
 * @owned:	the emulator created @image (and removes it)
 * @size:	image size in bytes
 * @port:	pre-allocated root port (virtio-blk/nvme), "" otherwise
 * @addr:	address on it ("00.0")
 * @multi:	multifunction flag the allocator returned
 * @bootindex:	from Incus's deviceBootPriorities()
 */
struct lab_disk {
	struct lab_disk_spec spec;
	char name[LAB_INCUS_NAME_MAX];
	char path[PATH_MAX];
	char boot_priority[16];
	char cache[16];
	char image[PATH_MAX];
	char qcow2[PATH_MAX];
	bool owned;
	uint64_t size;
	char port[LAB_PORT_NAME_MAX];
	char addr[8];
	bool multi;
	int bootindex;
};

/**
 * struct lab_nic - a NIC as the emulator set it up
 * @spec:	the caller's spec
 * @name:	Incus device name
 * @boot_priority: boot.priority ("" for unset)
 * @hwaddr:	its MAC
 * @tap:	the host tap (in the VM namespace)
 * @port:	pre-allocated root port (virtio), "" for usb
 * @addr:	address on it
 * @multi:	multifunction flag
 * @bootindex:	from deviceBootPriorities()
 * @index:	position among the NICs (guest IP number)
 */
struct lab_nic {
	struct lab_nic_spec spec;
	char name[LAB_INCUS_NAME_MAX];
	char boot_priority[16];
	char hwaddr[18];
	char tap[LAB_NET_IFNAMSIZ];
	char port[LAB_PORT_NAME_MAX];
	char addr[8];
	bool multi;
	int bootindex;
	unsigned index;
};

/**
 * struct lab_dev_ref - one device in Incus's device order: a NIC or a disk
 * @disk:	the disk, or NULL
 * @nic:	the NIC, or NULL
 */
struct lab_dev_ref {
	struct lab_disk *disk;
	struct lab_nic *nic;
};

/**
 * struct lab_bus - Incus's qemuBus allocator (driver_qemu_bus.go), pcie only
 * @port_num:	next root port / chassis number
 * @dev_num:	next device number on pcie.0
 * @root_dev:	current root port's device number
 * @root_fn:	its function number
 * @has_root:	a root port slot was started
 * @group_port:	per function group ("generic", "9p"): its port
 * @group_fn:	its next function number
 * @group_used:	whether the group exists
 */
struct lab_bus {
	int port_num;
	int dev_num;
	int root_dev;
	int root_fn;
	bool has_root;
	char group_port[2][LAB_PORT_NAME_MAX];
	int group_fn[2];
	bool group_used[2];
};

struct lab_incus {
	struct lab_incus_opts opts;
	char qemu_bin[PATH_MAX];
	char qemu_version[32];
	int qemu_major, qemu_minor;
	char name[LAB_INCUS_NAME_MAX];
	char uuid[40];
	char gen_uuid[40];
	char cpu_model[32];
	char append[1024];
	char kernel[PATH_MAX];
	char initrd[PATH_MAX];
	char dir[PATH_MAX];
	char conf_path[PATH_MAX];
	char monitor_path[PATH_MAX];
	char console_path[PATH_MAX];
	char coldplug_qmp[PATH_MAX];
	char qemu_log[PATH_MAX];
	char trace_path[PATH_MAX];
	char config_dir[PATH_MAX];
	char agent_dir[PATH_MAX];
	char spice_path[PATH_MAX];
	char scriptlet_log_path[PATH_MAX];

	struct lab_disk disks[LAB_INCUS_MAX_DISKS];
	size_t ndisks;
	struct lab_nic nics[LAB_INCUS_MAX_NICS];
	size_t nnics;

	struct lab_net *net;
	bool own_net;

	/*
	 * The qemu.conf sections ([{"name","comment","entries"}]) as generated,
	 * then overridden (raw.qemu.conf) and edited by the config-stage
	 * scriptlet; the text written from them; QEMU's arguments after the
	 * binary (Incus's cmdArgs); and the allocator writing the sections.
	 */
	cp_json *sections;
	char *conf;
	cp_json *cmdline;
	struct lab_bus bus;
	bool has_sound, has_virtio_vga;
	bool has_spice; /* QEMU can run -spice (probed for Incus 6.0 only) */

	struct lab_proc proc;
	bool started;
	struct qmp_client *qmp;
	uint64_t next_id;
	int console_fd;
	unsigned vcpus_now;
	int64_t t0;

	struct lab_qmp_record *trace;
	size_t ntrace, cap_trace;
	FILE *trace_file;

	bool launched, pre_started, resumed;
	int64_t next_poll_ms; /* Incus 6.0's next query-status/query-chardev round */

	/* The scriptlet runs' logs (log_* lines, QMP, errors), all stages. */
	char *scriptlet_log;
	size_t scriptlet_log_len;
};

/**
 * incus_is_6_0() - whether the emulator behaves as Incus 6.0.4
 * @vm:	emulator
 *
 * Return: true for LAB_INCUS_6_0
 */
static inline bool incus_is_6_0(const struct lab_incus *vm)
{
	return vm->opts.release == LAB_INCUS_6_0;
}

/* incus_conf.c */
int incus_conf_generate(struct lab_incus *vm, struct cp_error *err);
int incus_conf_override(struct lab_incus *vm, struct cp_error *err);
int incus_conf_write(struct lab_incus *vm, struct cp_error *err);
int incus_cmdline(struct lab_incus *vm, struct cp_error *err);
void incus_boot_priorities(struct lab_incus *vm);
void incus_device_order(struct lab_incus *vm, struct lab_dev_ref *order, size_t *n);

/* incus_hooks.c */
int incus_hook_cpus(struct lab_incus *vm, struct cp_error *err);
int incus_hook_nic(struct lab_incus *vm, struct lab_nic *nic, struct cp_error *err);
int incus_hook_disk(struct lab_incus *vm, struct lab_disk *disk, struct cp_error *err);
int incus_disk_prepare(struct lab_incus *vm, struct lab_disk *disk, struct cp_error *err);

/* incus_scriptlet.c */
int incus_scriptlet_validate(struct lab_incus *vm, struct cp_error *err);
int incus_scriptlet_stage(struct lab_incus *vm, const char *stage, struct cp_error *err);

/* incus.c */
cp_json *incus_call(struct lab_incus *vm, const char *cmd, cp_json *args, const int *fds,
		    size_t nfds, struct cp_error *err);
int incus_call_ok(struct lab_incus *vm, const char *cmd, cp_json *args, struct cp_error *err);
cp_json *incus_sorted(const cp_json *v);
void incus_ringbuf_read(struct lab_incus *vm);
struct lab_disk *incus_find_disk(const struct lab_incus *vm, const char *name);
struct lab_nic *incus_find_nic(const struct lab_incus *vm, const char *name);

#endif /* COLDPLUG_LAB_INCUS_PRIV_H */

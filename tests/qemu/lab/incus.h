/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An exact Incus emulator over real QEMU (TCG), for the lab tests.
 *
 * It does to QEMU what Incus does when it starts a VM (read from Incus's
 * source, ../shared/reference/incus-qmp.md): the qemu.conf section layout
 * with its PCIe root ports, `-S`, the QMP handshake, CPU hotplug, the
 * device monitor hooks (NICs first, then disks: root first, then by path)
 * with Incus's names, fd passing, JSON (sorted keys) and bootindexes, then
 * the pre-start hook, `system_reset`, `set-action` and `cont`; and later the
 * runtime operations Incus performs (resize, detach, set_link, quit). With
 * raw.qemu.conf and raw.qemu.scriptlet (as a profile would set them) it
 * applies the override where Incus does (at the end of
 * generateQemuConfig()) and runs the scriptlet's four stages where Incus
 * does: "config" before QEMU starts (it may edit the sections and the
 * command line), "early" after the QMP handshake, "pre-start" after the
 * device hooks, "post-start" after `cont`; on Incus's monitor connection,
 * through the incus-scriptlet runner (scriptlet.h), with the instance as
 * Incus renders it (lab_incus_instance()).
 *
 * Typical use (a few lines per test):
 *
 *	struct lab_incus_opts o;
 *	lab_incus_opts_init(&o);
 *	o.qemu = "10.0";
 *	o.vcpus = 4;
 *	o.boot_guest = true;
 *	vm = lab_incus_new(&o, &err);
 *	lab_incus_add_disk(vm, &(struct lab_disk_spec){ .name = "root", .root = true,
 *							.size = 64 << 20 }, &err);
 *	lab_incus_add_nic(vm, &(struct lab_nic_spec){ .name = "eth0" }, &err);
 *	lab_incus_start(vm, &err);         // or launch / pre_start / resume
 *	g = lab_guest_new(vm, &err);       // guest.h
 *	...
 *	lab_incus_free(vm);
 *
 * Every QMP message the emulator sends or receives is recorded (in memory,
 * and in DIR/qmp.log) so tests can diff it against Incus's transcripts.
 *
 * Differences from a real Incus host, on purpose (the lab has no KVM, no
 * OVMF, no vhost devices): accel is tcg; the guest boots with
 * -kernel/-initrd, which Incus only allows through raw.qemu, and then does
 * what Incus does with -kernel in raw.qemu: no pflash drives, bootindexes
 * from 1 (QEMU's linuxboot ROM holds 0); without boot_guest, bootindexes
 * start at 0 as on a UEFI host; the console chardev is a unix socket the lab reads
 * instead of a ringbuf; no vhost-vsock device (its PCIe function stays
 * allocated, so the layout does not shift); vhost-net only if
 * /dev/vhost-net exists; QEMU runs in the foreground under proc.h (no
 * -daemonize, no -run-with user=); it runs inside the VM network namespace;
 * no raw.qemu.qmp.<stage> keys, no NVRAM for the scriptlet.
 */
#ifndef COLDPLUG_LAB_INCUS_H
#define COLDPLUG_LAB_INCUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "coldplug/error.h"
#include "coldplug/json.h"

struct lab_incus;
struct lab_net;
struct qmp_client;

#define LAB_INCUS_MAX_DISKS 16
#define LAB_INCUS_MAX_NICS  8
#define LAB_INCUS_MAX_EXTRA 32
#define LAB_INCUS_NAME_MAX  64

/*
 * Which Incus the emulator behaves as. 7.2 and 7.3 differ in the root disk
 * (incus-qmp.md §2.6); 6.0 is Incus 6.0.4 as Debian bookworm-backports ships
 * it, modelled on the recording in tests/data/incus-6.0/ (a raw root node as
 * 7.2, and the differences listed at lab_incus_release_parse()).
 */
enum lab_incus_release {
	LAB_INCUS_7_2 = 0, /* 7.x up to 7.2: the root disk is a raw file node */
	LAB_INCUS_7_3,	   /* >= 7.3: the root is wrapped in a qcow2 metadata image */
	LAB_INCUS_6_0,	   /* the 6.0 LTS as 6.0.4 behaves (tests/data/incus-6.0) */
};

/* A disk's io.bus. */
enum lab_disk_bus {
	LAB_DISK_SCSI = 0, /* virtio-scsi (Incus's default): scsi-hd / scsi-cd on qemu_scsi.0 */
	LAB_DISK_VIRTIO_BLK,
	LAB_DISK_NVME,
	LAB_DISK_USB, /* usb-bot + scsi-hd on qemu_usb.0 */
};

/* A NIC's io.bus. */
enum lab_nic_bus {
	LAB_NIC_VIRTIO = 0, /* virtio-net-pci on its own root port */
	LAB_NIC_USB,	    /* usb-net on qemu_usb.0 (still max(vCPUs, 2) queues) */
};

/**
 * struct lab_disk_spec - one Incus disk device
 * @name:		Incus device name ("root", "data", "iso", "a/b")
 * @bus:		io.bus
 * @root:		the root disk (path "/")
 * @cdrom:		an ISO volume: scsi-cd, read-only
 * @readonly:		readonly=true
 * @size:		size of the image to create (a multiple of 512; of 2048
 *			for a cdrom); its first MiB holds the guest README's
 *			disk pattern, seed = disk index + 1
 * @image:		use this existing file instead (not created, not removed)
 * @path:		Incus's "path" key of a filesystem disk (sort order only),
 *			NULL for a block volume
 * @boot_priority:	boot.priority, or NULL for unset
 * @cache:		io.cache ("none", "writeback", "unsafe"), NULL for Incus's
 *			choice
 * @no_io_uring:	the pool does not advertise io_uring (zfs); default is
 *			a dir pool, which does
 */
struct lab_disk_spec {
	const char *name;
	enum lab_disk_bus bus;
	bool root;
	bool cdrom;
	bool readonly;
	uint64_t size;
	const char *image;
	const char *path;
	const char *boot_priority;
	const char *cache;
	bool no_io_uring;
};

/**
 * struct lab_nic_spec - one Incus bridged NIC
 * @name:		Incus device name ("eth0")
 * @bus:		io.bus
 * @hwaddr:		MAC, or NULL for 10:66:6a:xx:xx:xx derived from the
 *			instance and device names
 * @boot_priority:	boot.priority, or NULL
 * @disconnected:	connected=false (Incus then sends set_link down)
 */
struct lab_nic_spec {
	const char *name;
	enum lab_nic_bus bus;
	const char *hwaddr;
	const char *boot_priority;
	bool disconnected;
};

typedef int (*lab_incus_hook_fn)(struct lab_incus *vm, void *arg, struct cp_error *err);

/**
 * struct lab_incus_opts - the VM; start from lab_incus_opts_init()
 * @qemu:		"7.2", "10.0" (looked up in lab.env) or a path
 * @release:		which Incus to behave as
 * @name:		instance name (default "cplab")
 * @vcpus:		limits.cpu (default 1); Incus hot-plugs vCPUs 2..N
 * @max_vcpus:		maxcpus (default: the host's CPU count, at most 64, as
 *			Incus; never below @vcpus)
 * @cpu_model:		-cpu (default "max": hot-pluggable under TCG; Incus
 *			uses "host" with KVM)
 * @memory_mb:		limits.memory (default 512)
 * @net:		the test network to use (borrowed), or NULL for one of
 *			its own (created only if the VM has NICs)
 * @boot_guest:		boot the lab's test guest (-kernel/-initrd from lab.env)
 * @append:		more guest kernel command line (after "console=ttyS0
 *			panic=-1 quiet"), e.g. "cp.net=any,10.77.0.10/24"
 * @extra_conf:		more -readconfig files, NULL-terminated (coldplug's
 *			frontends, a client chardev monitor)
 * @extra_args:		raw.qemu words, appended last, NULL-terminated
 * @no_second_qmp:	do not add the second monitor
 *			(-qmp unix:DIR/coldplug.qmp,server=on,wait=off)
 * @pre_start:		called at the pre-start stage (VM paused, devices
 *			hot-plugged), on a thread inside the VM network
 *			namespace; a failure fails the start, as in Incus
 * @pre_start_arg:	its argument
 * @config:		called at Incus's config stage (devices started: the
 *			taps exist and have their names; QEMU not started), e.g.
 *			to write an @extra_conf file that names a tap
 * @config_arg:		its argument
 * @pre_start_cmd:	or a shell command run then, inside the VM namespace,
 *			with COLDPLUG_LAB_QMP (second monitor), COLDPLUG_LAB_DIR,
 *			COLDPLUG_LAB_QEMU_PID in its environment; non-zero
 *			exit fails the start
 * @pre_start_timeout_ms: deadline of @pre_start_cmd (default 120000)
 * @no_ringbuf_reads:	do not send Incus's agent ringbuf-read polls (one
 *			after connecting, one after each event it waits for)
 * @no_vhost:		never use vhost-net (default: as Incus, if
 *			/dev/vhost-net is usable)
 * @no_tray_eject:	with @release LAB_INCUS_6_0, do not answer
 *			DEVICE_TRAY_MOVED. By default Incus 6.0 does what
 *			6.0.0-6.0.4 and 6.1-6.14 do (Debian bookworm-backports
 *			ships 6.0.4): an asynchronous
 *			{"execute":"eject","arguments":{"id":<the event's id>}}
 *			for every tray event of any device, so a medium moved
 *			through a tray is taken out again. 7.x calls
 *			detachDisk() on tray-open only, which fails before any
 *			QMP for an id that is not an Incus disk (coldplug's
 *			frontends): the emulator sends nothing then; the
 *			hot-unplug it starts for an Incus disk's own id is not
 *			modelled (logged).
 * @keep_dir:		keep the scratch directory (also $COLDPLUG_LAB_KEEP=1)
 * @project:		Incus project (default "default"); the instance JSON's
 *			"project"
 * @raw_qemu_conf:	raw.qemu.conf, in Incus's override syntax, or NULL for
 *			the key unset; a parse error fails the start with
 *			Incus's message
 * @scriptlet:		raw.qemu.scriptlet (Starlark), or NULL; validated at
 *			the start as Incus validates the key when it is set; a
 *			failing stage fails the start with "Failed running QEMU
 *			scriptlet at <stage> stage: <message>", QEMU killed
 *			(early, pre-start) or stopped (post-start)
 * @profile:		the profile @raw_qemu_conf and @scriptlet come from, as
 *			the instance JSON shows it (default "coldplug")
 * @scriptlet_runner:	incus-scriptlet to use (default
 *			$COLDPLUG_SCRIPTLET_RUNNER, else the one built with the
 *			lab); each stage has @pre_start_timeout_ms
 */
struct lab_incus_opts {
	const char *qemu;
	enum lab_incus_release release;
	const char *name;
	unsigned vcpus;
	unsigned max_vcpus;
	const char *cpu_model;
	unsigned memory_mb;
	struct lab_net *net;
	bool boot_guest;
	const char *append;
	const char *extra_conf[8];
	const char *extra_args[LAB_INCUS_MAX_EXTRA];
	bool no_second_qmp;
	lab_incus_hook_fn pre_start;
	void *pre_start_arg;
	lab_incus_hook_fn config;
	void *config_arg;
	const char *pre_start_cmd;
	int pre_start_timeout_ms;
	bool no_ringbuf_reads;
	bool no_vhost;
	bool no_tray_eject;
	bool keep_dir;
	const char *project;
	const char *raw_qemu_conf;
	const char *scriptlet;
	const char *profile;
	const char *scriptlet_runner;
};

/**
 * struct lab_qmp_record - one recorded QMP message
 * @sent:	true for emulator -> QEMU
 * @msg:	the whole message (borrowed; valid while the VM is)
 * @nfds:	descriptors passed with it (SCM_RIGHTS)
 * @ms:		milliseconds since QEMU was started
 */
struct lab_qmp_record {
	bool sent;
	cp_json *msg;
	unsigned nfds;
	int64_t ms;
};

void lab_incus_opts_init(struct lab_incus_opts *o);
struct lab_incus *lab_incus_new(const struct lab_incus_opts *o, struct cp_error *err);
int lab_incus_add_disk(struct lab_incus *vm, const struct lab_disk_spec *d, struct cp_error *err);
int lab_incus_add_nic(struct lab_incus *vm, const struct lab_nic_spec *n, struct cp_error *err);
void lab_incus_free(struct lab_incus *vm);

int lab_incus_start(struct lab_incus *vm, struct cp_error *err);
int lab_incus_launch(struct lab_incus *vm, struct cp_error *err);
int lab_incus_pre_start(struct lab_incus *vm, struct cp_error *err);
int lab_incus_resume(struct lab_incus *vm, struct cp_error *err);

/* Incus's runtime operations (incus-qmp.md §6). */
int lab_incus_block_resize(struct lab_incus *vm, const char *disk, uint64_t size,
			   struct cp_error *err);
int lab_incus_disk_detach(struct lab_incus *vm, const char *disk, unsigned max_retries,
			  unsigned *retries, struct cp_error *err);
int lab_incus_disk_attach(struct lab_incus *vm, const struct lab_disk_spec *d,
			  struct cp_error *err);
int lab_incus_nic_set_link(struct lab_incus *vm, const char *nic, bool up, struct cp_error *err);
int lab_incus_nic_detach(struct lab_incus *vm, const char *nic, struct cp_error *err);
int lab_incus_quit(struct lab_incus *vm, int timeout_ms, struct cp_error *err);
int lab_incus_idle(struct lab_incus *vm, int ms, struct cp_error *err);

/* "6.0" / "7.2" / "7.3" ("7.x" is 7.2) to a release, and back. */
int lab_incus_release_parse(const char *text, enum lab_incus_release *out);
const char *lab_incus_release_name(enum lab_incus_release release);

/* The running VM. */
struct qmp_client *lab_incus_qmp(struct lab_incus *vm);
cp_json *lab_incus_call(struct lab_incus *vm, const char *cmd, cp_json *args, const int *fds,
			size_t nfds, struct cp_error *err);
const char *lab_incus_coldplug_qmp(const struct lab_incus *vm);
const char *lab_incus_dir(const struct lab_incus *vm);
const char *lab_incus_conf_path(const struct lab_incus *vm);
const char *lab_incus_qemu_log(const struct lab_incus *vm);
const char *lab_incus_qemu_version(const struct lab_incus *vm);
pid_t lab_incus_pid(const struct lab_incus *vm);
bool lab_incus_running(struct lab_incus *vm);
struct lab_net *lab_incus_net(const struct lab_incus *vm);
int lab_incus_take_console(struct lab_incus *vm);
unsigned lab_incus_vcpus(const struct lab_incus *vm);
/*
 * How often a test boots a VM whose guest never reported (the QEMU 10.0 TCG
 * abort above, or a TCG boot hang) before it fails: qemu-notes §9 says retry
 * such a run rather than chase it. With multi-threaded TCG both hit about
 * half the boots at 4 vCPUs here; the lab now runs single-threaded TCG (see
 * conf_base()), and this stays as the safety net.
 */
#define LAB_BOOT_ATTEMPTS 3

bool lab_incus_tcg_abort(const struct lab_incus *vm);

/* What Incus set up, by Incus device name. */
const char *lab_incus_disk_image(const struct lab_incus *vm, const char *disk);
uint64_t lab_incus_disk_size(const struct lab_incus *vm, const char *disk);
const char *lab_incus_nic_tap(const struct lab_incus *vm, const char *nic);
const char *lab_incus_nic_mac(const struct lab_incus *vm, const char *nic);
int lab_incus_nic_ip(const struct lab_incus *vm, const char *nic, char *buf, size_t size);

/* The qemu.conf sections and arguments QEMU got (after override and scriptlet). */
const cp_json *lab_incus_conf_sections(const struct lab_incus *vm);
const cp_json *lab_incus_cmdline(const struct lab_incus *vm);

/* The scriptlet: the instance it is given; its runs' logs (log_* lines, QMP). */
cp_json *lab_incus_instance(const struct lab_incus *vm);
const char *lab_incus_scriptlet_log(const struct lab_incus *vm);

/*
 * Incus's raw.qemu.conf override and qemu.conf writer, on sections in the
 * scriptlet's form: [{"name", "comment", "entries": {key: value}}].
 */
cp_json *lab_incus_conf_override(const cp_json *conf, const char *override, struct cp_error *err);
char *lab_incus_conf_stringify(const cp_json *conf);

/* An Incus profile's (YAML) name and raw.qemu.conf / raw.qemu.scriptlet. */
int lab_incus_profile_read(const char *yaml, size_t len, char **name, char **raw_qemu_conf,
			   char **scriptlet, struct cp_error *err);

/* The recorded QMP traffic. */
size_t lab_incus_trace_len(const struct lab_incus *vm);
const struct lab_qmp_record *lab_incus_trace_at(const struct lab_incus *vm, size_t i);
const char *lab_incus_trace_path(const struct lab_incus *vm);

/* Incus's names (§2.2): "-" -> "--", "/" -> "-", long names hashed. */
void lab_incus_escape(const char *devname, char *out, size_t size);
void lab_incus_hash_value(const char *value, size_t max_len, char *out, size_t size);
void lab_incus_node_name(const char *devname, char *out, size_t size);
void lab_incus_device_id(const char *devname, char *out, size_t size);
void lab_incus_serial(const char *devname, enum lab_disk_bus bus, char *out, size_t size);

#endif /* COLDPLUG_LAB_INCUS_H */

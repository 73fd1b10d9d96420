/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The Incus emulator's life cycle: see incus.h. A VM is described (disks,
 * NICs), then launched (Incus's start() steps 1-8: devices started, config
 * generated and raw.qemu.conf applied, the "config" scriptlet stage, config
 * written, QEMU started paused, QMP connected, the "early" stage, CPUs and
 * devices hot-plugged), given its pre-start hook and the "pre-start" stage
 * (step 9), and resumed (steps 10-11, then the "post-start" stage). Every
 * QMP message goes through incus_call(), which sorts the arguments' keys as
 * Go's json.Marshal does and records the traffic; the scriptlet's commands
 * too (incus_scriptlet.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "coldplug/log.h"
#include "coldplug/qmp.h"
#include "digest.h"
#include "incus_priv.h"
#include "run.h"
#include "util.h"

#define QEMU_START_TIMEOUT_MS 30000
#define QEMU_QUIT_TIMEOUT_MS  10000
#define QEMU_STOP_GRACE_MS    2000
#define EVENT_TIMEOUT_MS      5000
#define INCUS_STOP_TIMEOUT_MS 30000 /* Stop(): how long quit has before a forced stop */
#define KILL_REAP_MS	      5000
#define INCUS60_FIRST_POLL_MS 4000 /* recorded: the first round 4 s after cont */
#define INCUS60_POLL_MS	      2500 /* then every 2-3 s */

/**
 * lab_incus_opts_init() - the defaults
 * @o:	options to fill
 */
void lab_incus_opts_init(struct lab_incus_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->qemu = "7.2";
	o->name = "cplab";
	o->project = "default";
	o->vcpus = 1;
	o->cpu_model = "max";
	o->memory_mb = 512;
	o->pre_start_timeout_ms = 120000;
}

/**
 * lab_incus_release_parse() - an Incus release from its name
 * @text:	"6.0", "7.2", "7.3", or "7.x" (= 7.2, the default)
 * @out:	set on success
 *
 * What 6.0 (6.0.4, recorded in tests/data/incus-6.0) does differently from
 * 7.x, all modelled: qom-get /machine type right after connecting;
 * query-cpus-fast once more after the CPU hotplug; an ISO as a writable node
 * ("read-only":false, opened rdwr) on scsi-cd; bootindexes from 1;
 * set-action {"panic":"pause","reboot":"shutdown","shutdown":"poweroff"};
 * query-status after cont, then query-status + query-chardev rounds while
 * time passes (lab_incus_idle()); an eject for every DEVICE_TRAY_MOVED. In
 * qemu.conf: SPICE (agent and folder ports, three usb-redir on the xHCI, and
 * -spice), where the QEMU has it; the 9p agent drive; a 16-byte agent
 * ringbuf; no virtio-sound, no [memory] maxmem, no SCSI num_queues.
 *
 * Return: 0, or -1 for an unknown name
 */
int lab_incus_release_parse(const char *text, enum lab_incus_release *out)
{
	if (!strcmp(text, "6.0"))
		*out = LAB_INCUS_6_0;
	else if (!strcmp(text, "7.2") || !strcmp(text, "7.x"))
		*out = LAB_INCUS_7_2;
	else if (!strcmp(text, "7.3"))
		*out = LAB_INCUS_7_3;
	else
		return -1;
	return 0;
}

/**
 * lab_incus_release_name() - a release's name
 * @release:	release
 *
 * Return: static string
 */
const char *lab_incus_release_name(enum lab_incus_release release)
{
	switch (release) {
	case LAB_INCUS_6_0:
		return "6.0";
	case LAB_INCUS_7_3:
		return "7.3";
	case LAB_INCUS_7_2:
		break;
	}
	return "7.2";
}

/**
 * random_uuid() - a random (version 4) UUID string
 * @out:	37 bytes at least
 *
 * Return: 0, or -1
 */
static int random_uuid(char out[40])
{
	uint8_t b[16];

	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		return -1;
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	lab_fmt(out, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		b[13], b[14], b[15]);
	return 0;
}

/**
 * copy_opt_strings() - make the VM's options independent of the caller's
 * @vm:		emulator
 * @err:	filled on failure
 *
 * Every string pointer in vm->opts is a copy or NULL afterwards, also on
 * failure (free_opt_strings() frees them).
 *
 * Return: 0, or -1
 */
static int copy_opt_strings(struct lab_incus *vm, struct cp_error *err)
{
	struct lab_incus_opts *o = &vm->opts, in = vm->opts;
	const char **fields[] = { &o->pre_start_cmd,	&o->raw_qemu_conf, &o->scriptlet,
				  &o->scriptlet_runner, &o->profile,	   &o->project };
	const char *const orig[] = {
		in.pre_start_cmd, in.raw_qemu_conf,
		in.scriptlet,	  in.scriptlet_runner,
		in.profile,	  in.project && in.project[0] ? in.project : "default"
	};
	size_t i;
	int rc = 0;

	memset(o->extra_conf, 0, sizeof(o->extra_conf));
	memset(o->extra_args, 0, sizeof(o->extra_args));
	for (i = 0; i < CP_ARRAY_SIZE(fields); i++)
		*fields[i] = NULL;
	o->name = o->cpu_model = o->append = o->qemu = NULL;
	for (i = 0; rc == 0 && i + 1 < CP_ARRAY_SIZE(o->extra_conf) && in.extra_conf[i]; i++)
		if (!(o->extra_conf[i] = cp_strdup(in.extra_conf[i], err)))
			rc = -1;
	for (i = 0; rc == 0 && i + 1 < LAB_INCUS_MAX_EXTRA && in.extra_args[i]; i++)
		if (!(o->extra_args[i] = cp_strdup(in.extra_args[i], err)))
			rc = -1;
	for (i = 0; rc == 0 && i < CP_ARRAY_SIZE(fields); i++)
		if (orig[i] && !(*fields[i] = cp_strdup(orig[i], err)))
			rc = -1;
	cp_strlcpy(vm->name, in.name ? in.name : "cplab", sizeof(vm->name));
	cp_strlcpy(vm->cpu_model, in.cpu_model ? in.cpu_model : "max", sizeof(vm->cpu_model));
	cp_strlcpy(vm->append, in.append ? in.append : "", sizeof(vm->append));
	return rc;
}

/**
 * free_opt_strings() - free what copy_opt_strings() made
 * @vm:	emulator
 */
static void free_opt_strings(struct lab_incus *vm)
{
	size_t i;

	for (i = 0; vm->opts.extra_conf[i]; i++)
		free((char *)vm->opts.extra_conf[i]);
	for (i = 0; vm->opts.extra_args[i]; i++)
		free((char *)vm->opts.extra_args[i]);
	free((char *)vm->opts.pre_start_cmd);
	free((char *)vm->opts.raw_qemu_conf);
	free((char *)vm->opts.scriptlet);
	free((char *)vm->opts.scriptlet_runner);
	free((char *)vm->opts.profile);
	free((char *)vm->opts.project);
}

/**
 * probe_spice() - whether QEMU can run -spice (Incus 6.0 always passes it)
 * @vm:		emulator (@vm->qemu_bin set)
 *
 * Debian ships SPICE as a module (qemu-system-modules-spice); the lab's
 * QEMU 10.0 is fetched without it, Debian's 7.2 has it.
 *
 * Return: true if `-spice help` lists the options
 */
static bool probe_spice(struct lab_incus *vm)
{
	struct lab_run_opts o = { .timeout_ms = 20000, .log_dir = vm->dir };
	const char *argv[] = { vm->qemu_bin, "-spice", "help", NULL };
	cleanup_free char *out = NULL;
	struct cp_error e;

	lab_run(argv, &o, &out, &e);
	return out && strstr(out, "spice options");
}

/**
 * find_qemu() - the binary and its version
 * @vm:		emulator
 * @which:	"7.2", "10.0" or a path
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int find_qemu(struct lab_incus *vm, const char *which, struct cp_error *err)
{
	struct lab_run_opts o = { .timeout_ms = 20000, .log_dir = vm->dir };
	const char *argv[] = { vm->qemu_bin, "-version", NULL };
	cleanup_free char *path = NULL, *out = NULL;
	const char *v;

	path = strchr(which, '/') ? strdup(which) : lab_qemu_path(which);
	if (!path)
		return cp_error_set(
			err, CP_ERR_INVALID,
			"QEMU %s is not configured: run tests/qemu/prepare.sh BUILD_DIR "
			"and set COLDPLUG_LAB_ENV=BUILD_DIR/lab.env",
			which);
	cp_strlcpy(vm->qemu_bin, path, sizeof(vm->qemu_bin));
	if (lab_run(argv, &o, &out, err) != 0 || !(v = strstr(out, "version ")))
		return cp_error_set(err, CP_ERR_FAILED, "%s -version failed: %s", path,
				    out ? out : err->msg);
	v += strlen("version ");
	lab_fmt(vm->qemu_version, sizeof(vm->qemu_version), "%.*s", (int)strspn(v, "0123456789."),
		v);
	vm->qemu_major = (int)lab_num(vm->qemu_version);
	vm->qemu_minor = strchr(vm->qemu_version, '.')
				 ? (int)lab_num(strchr(vm->qemu_version, '.') + 1)
				 : -1;
	if (vm->qemu_major <= 0 || vm->qemu_minor < 0)
		return cp_error_set(err, CP_ERR_FAILED, "cannot parse the version of %s", path);
	vm->has_sound = vm->qemu_major > 8 || (vm->qemu_major == 8 && vm->qemu_minor >= 2);
	vm->has_virtio_vga = true;
	if (incus_is_6_0(vm))
		vm->has_spice = probe_spice(vm);
	return 0;
}

/**
 * find_guest() - the test guest's kernel and initramfs from lab.env
 * @vm:		emulator
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int find_guest(struct lab_incus *vm, struct cp_error *err)
{
	cleanup_free char *kernel = lab_env_get("COLDPLUG_GUEST_KERNEL");
	cleanup_free char *initrd = lab_env_get("COLDPLUG_GUEST_INITRD");

	if (!kernel || !initrd)
		return cp_error_set(err, CP_ERR_INVALID,
				    "no COLDPLUG_GUEST_KERNEL/INITRD: run tests/qemu/prepare.sh "
				    "BUILD_DIR and set COLDPLUG_LAB_ENV=BUILD_DIR/lab.env");
	cp_strlcpy(vm->kernel, kernel, sizeof(vm->kernel));
	cp_strlcpy(vm->initrd, initrd, sizeof(vm->initrd));
	return 0;
}

/**
 * set_paths() - the scratch directory and the files in it
 * @vm:		emulator
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int set_paths(struct lab_incus *vm, struct cp_error *err)
{
	cleanup_free char *dir = lab_scratch_dir("vm", err);

	if (!dir)
		return -1;
	cp_strlcpy(vm->dir, dir, sizeof(vm->dir));
	lab_fmt(vm->conf_path, sizeof(vm->conf_path), "%s/qemu.conf", dir);
	lab_fmt(vm->monitor_path, sizeof(vm->monitor_path), "%s/qemu.monitor", dir);
	lab_fmt(vm->console_path, sizeof(vm->console_path), "%s/console.sock", dir);
	lab_fmt(vm->coldplug_qmp, sizeof(vm->coldplug_qmp), "%s/coldplug.qmp", dir);
	lab_fmt(vm->qemu_log, sizeof(vm->qemu_log), "%s/qemu.log", dir);
	lab_fmt(vm->trace_path, sizeof(vm->trace_path), "%s/qmp.log", dir);
	lab_fmt(vm->config_dir, sizeof(vm->config_dir), "%s/config", dir);
	lab_fmt(vm->agent_dir, sizeof(vm->agent_dir), "%s/agent", dir);
	lab_fmt(vm->spice_path, sizeof(vm->spice_path), "%s/qemu.spice", dir);
	lab_fmt(vm->scriptlet_log_path, sizeof(vm->scriptlet_log_path), "%s/scriptlet.log", dir);
	if (mkdir(vm->config_dir, 0755) < 0)
		return cp_error_set_errno(err, errno, "mkdir %s", vm->config_dir);
	if (mkdir(vm->agent_dir, 0755) < 0)
		return cp_error_set_errno(err, errno, "mkdir %s", vm->agent_dir);
	return 0;
}

/**
 * default_max_vcpus() - Incus's maxCPUs(): the host's CPUs, at most 64
 * @vcpus:	limits.cpu
 *
 * Incus refuses limits.cpu above the host's count; the lab runs 4 or 8
 * vCPUs on 2 cores, so the result is never below @vcpus.
 *
 * Return: maxcpus
 */
static unsigned default_max_vcpus(unsigned vcpus)
{
	long host = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned max = host <= 0 ? 1 : host > 64 ? 64 : (unsigned)host;

	return max < vcpus ? vcpus : max;
}

/**
 * lab_incus_new() - a VM to be, with no devices yet
 * @o:		options (copied, strings included)
 * @err:	filled on failure
 *
 * Return: new emulator (free with lab_incus_free()), or NULL
 */
struct lab_incus *lab_incus_new(const struct lab_incus_opts *o, struct cp_error *err)
{
	struct lab_incus *vm = cp_calloc(1, sizeof(*vm), err);
	const char *which = o->qemu ? o->qemu : "7.2";

	if (!vm)
		return NULL;
	vm->opts = *o;
	vm->console_fd = -1;
	vm->next_id = 1;
	if (vm->opts.vcpus == 0)
		vm->opts.vcpus = 1;
	if (vm->opts.max_vcpus < vm->opts.vcpus)
		vm->opts.max_vcpus = default_max_vcpus(vm->opts.vcpus);
	if (vm->opts.memory_mb == 0)
		vm->opts.memory_mb = 512;
	if (vm->opts.pre_start_timeout_ms <= 0)
		vm->opts.pre_start_timeout_ms = 120000;
	vm->net = o->net;
	if (copy_opt_strings(vm, err) < 0 || set_paths(vm, err) < 0 ||
	    find_qemu(vm, which, err) < 0 || (o->boot_guest && find_guest(vm, err) < 0) ||
	    random_uuid(vm->uuid) < 0 || random_uuid(vm->gen_uuid) < 0) {
		lab_incus_free(vm);
		return NULL;
	}
	vm->trace_file = fopen(vm->trace_path, "we");
	return vm;
}

/**
 * incus_find_disk() - a disk by Incus device name
 * @vm:		emulator
 * @name:	device name
 *
 * Return: the disk, or NULL
 */
struct lab_disk *incus_find_disk(const struct lab_incus *vm, const char *name)
{
	size_t i;

	for (i = 0; name && i < vm->ndisks; i++)
		if (!strcmp(vm->disks[i].name, name))
			return (struct lab_disk *)&vm->disks[i];
	return NULL;
}

/**
 * incus_find_nic() - a NIC by Incus device name
 * @vm:		emulator
 * @name:	device name
 *
 * Return: the NIC, or NULL
 */
struct lab_nic *incus_find_nic(const struct lab_incus *vm, const char *name)
{
	size_t i;

	for (i = 0; name && i < vm->nnics; i++)
		if (!strcmp(vm->nics[i].name, name))
			return (struct lab_nic *)&vm->nics[i];
	return NULL;
}

/**
 * check_new_device() - a device name that can be added now
 * @vm:		emulator
 * @name:	device name
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int check_new_device(const struct lab_incus *vm, const char *name, struct cp_error *err)
{
	if (vm->launched)
		return cp_error_set(err, CP_ERR_INVALID, "devices are added before the start");
	if (!name || !*name || strlen(name) >= LAB_INCUS_NAME_MAX)
		return cp_error_set(err, CP_ERR_INVALID, "a device needs a name (< %d bytes)",
				    LAB_INCUS_NAME_MAX);
	if (incus_find_disk(vm, name) || incus_find_nic(vm, name))
		return cp_error_set(err, CP_ERR_INVALID, "device \"%s\" already exists", name);
	return 0;
}

/**
 * lab_incus_add_disk() - describe one disk device (before the start)
 * @vm:		emulator
 * @d:		the disk (strings copied); size defaults to 32 MiB (cdrom 4 MiB)
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
int lab_incus_add_disk(struct lab_incus *vm, const struct lab_disk_spec *d, struct cp_error *err)
{
	struct lab_disk *x;
	size_t i;

	if (check_new_device(vm, d->name, err) < 0)
		return -1;
	if (vm->ndisks == LAB_INCUS_MAX_DISKS)
		return cp_error_set(err, CP_ERR_INVALID, "too many disks");
	for (i = 0; d->root && i < vm->ndisks; i++)
		if (vm->disks[i].spec.root)
			return cp_error_set(err, CP_ERR_INVALID, "there is already a root disk");
	if ((d->cdrom && d->bus != LAB_DISK_SCSI && d->bus != LAB_DISK_USB) ||
	    (d->cdrom && d->root))
		return cp_error_set(err, CP_ERR_INVALID,
				    "an ISO goes on virtio-scsi or usb, not root");
	x = &vm->disks[vm->ndisks];
	memset(x, 0, sizeof(*x));
	x->spec = *d;
	cp_strlcpy(x->name, d->name, sizeof(x->name));
	cp_strlcpy(x->path, d->root ? "/" : d->path ? d->path : "", sizeof(x->path));
	cp_strlcpy(x->boot_priority, d->boot_priority ? d->boot_priority : "",
		   sizeof(x->boot_priority));
	cp_strlcpy(x->cache, d->cache ? d->cache : "", sizeof(x->cache));
	x->size = d->size ? d->size : d->cdrom ? 4u << 20 : 32u << 20;
	if (x->size % (d->cdrom ? 2048 : 512))
		return cp_error_set(err, CP_ERR_INVALID, "disk %s: size must be a multiple of %d",
				    d->name, d->cdrom ? 2048 : 512);
	x->spec.name = x->spec.path = x->spec.boot_priority = x->spec.cache = NULL;
	if (d->image && !(x->spec.image = strdup(d->image)))
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory");
	vm->ndisks++;
	return 0;
}

/**
 * lab_incus_disk_attach() - `incus config device add` of a disk or ISO to
 * the running VM: Incus's hot-add (add-fd, blockdev-add, device_add of a
 * scsi-hd / scsi-cd LUN on qemu_scsi.0), its image made as at start (the
 * pattern of seed = its index + 1 in its first MiB)
 * @vm:		started emulator
 * @d:		the disk (SCSI only: what Incus 6.0 and 7.x hot-add by
 *		default); no boot order (bootindex -1)
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
int lab_incus_disk_attach(struct lab_incus *vm, const struct lab_disk_spec *d, struct cp_error *err)
{
	struct lab_disk *x;
	int rc;

	if (!vm->launched)
		return cp_error_set(err, CP_ERR_INVALID, "attach is for a started VM");
	if (d->bus != LAB_DISK_SCSI || d->root)
		return cp_error_set(err, CP_ERR_INVALID, "the emulator hot-adds SCSI disks only");
	vm->launched = false;
	rc = lab_incus_add_disk(vm, d, err);
	vm->launched = true;
	if (rc < 0)
		return -1;
	x = &vm->disks[vm->ndisks - 1];
	x->bootindex = -1;
	if (incus_disk_prepare(vm, x, err) < 0 || incus_hook_disk(vm, x, err) < 0)
		return cp_error_prefix(err, "Failed to add device \"%s\"", d->name);
	return 0;
}

/**
 * lab_incus_add_nic() - describe one bridged NIC (before the start)
 * @vm:		emulator
 * @n:		the NIC (strings copied)
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
int lab_incus_add_nic(struct lab_incus *vm, const struct lab_nic_spec *n, struct cp_error *err)
{
	struct lab_nic *x;
	uint8_t h[LAB_SHA256_LEN];
	char seed[160];

	if (check_new_device(vm, n->name, err) < 0)
		return -1;
	if (vm->nnics == LAB_INCUS_MAX_NICS)
		return cp_error_set(err, CP_ERR_INVALID, "too many NICs");
	x = &vm->nics[vm->nnics];
	memset(x, 0, sizeof(*x));
	x->spec = *n;
	x->index = (unsigned)vm->nnics;
	cp_strlcpy(x->name, n->name, sizeof(x->name));
	cp_strlcpy(x->boot_priority, n->boot_priority ? n->boot_priority : "",
		   sizeof(x->boot_priority));
	lab_fmt(seed, sizeof(seed), "%s/%s", vm->name, n->name);
	lab_sha256(seed, strlen(seed), h);
	if (n->hwaddr)
		cp_strlcpy(x->hwaddr, n->hwaddr, sizeof(x->hwaddr));
	else
		lab_fmt(x->hwaddr, sizeof(x->hwaddr), "10:66:6a:%02x:%02x:%02x", h[0], h[1], h[2]);
	x->spec.name = x->spec.hwaddr = x->spec.boot_priority = NULL;
	vm->nnics++;
	return 0;
}

/**
 * trace_add() - record one message, in memory and in DIR/qmp.log
 * @vm:		emulator
 * @sent:	direction
 * @msg:	the message (stolen)
 * @nfds:	descriptors passed with it
 *
 * qmp.log has one JSON object per line:
 * {"dir":">"|"<","ms":N,"fds":N,"msg":{...}}.
 */
static void trace_add(struct lab_incus *vm, bool sent, cp_json *msg, unsigned nfds)
{
	struct lab_qmp_record r = {
		.sent = sent, .msg = msg, .nfds = nfds, .ms = cp_now_ms() - vm->t0
	};
	cleanup_free char *text = NULL;

	if (vm->ntrace == vm->cap_trace) {
		size_t cap = vm->cap_trace ? 2 * vm->cap_trace : 64;
		struct lab_qmp_record *t = realloc(vm->trace, cap * sizeof(*t));

		if (!t) {
			cp_json_unref(msg);
			return;
		}
		vm->trace = t;
		vm->cap_trace = cap;
	}
	vm->trace[vm->ntrace++] = r;
	text = cp_json_dump(msg, 0);
	if (vm->trace_file && text) {
		fprintf(vm->trace_file, "{\"dir\":\"%s\",\"ms\":%lld,\"fds\":%u,\"msg\":%s}\n",
			sent ? ">" : "<", (long long)r.ms, nfds, text);
		fflush(vm->trace_file);
	}
}

/* An eject in flight: its reply goes to the trace under its id. */
struct eject {
	struct lab_incus *vm;
	uint64_t id;
};

static void record_reply(struct lab_incus *vm, uint64_t id, const cp_json *ret,
			 const struct cp_error *err);

/**
 * on_eject_reply() - qmp_reply_fn of an eject: record the reply
 * @c:		client
 * @ret:	return value, or NULL
 * @e:		error, or NULL
 * @userdata:	struct eject (freed)
 */
static void on_eject_reply(struct qmp_client *c, cp_json *ret, const struct cp_error *e,
			   void *userdata)
{
	struct eject *ej = userdata;

	(void)c;
	record_reply(ej->vm, ej->id, ret, e);
	free(ej);
}

/**
 * eject_on_tray_event() - what Incus 6.0.0-6.0.4 and 6.1-6.14 do with every
 * DEVICE_TRAY_MOVED (internal/server/instance/drivers/qmp/monitor.go, v6.0.4
 * ~l.119): an asynchronous eject of the event's id, whatever the device and
 * whichever way the tray moved
 * @vm:		emulator
 * @event:	the event
 *
 * Incus does not wait for the reply; neither does this (the reply is traced
 * when it comes).
 */
static void eject_on_tray_event(struct lab_incus *vm, const cp_json *event)
{
	const char *id = cp_json_get_str(cp_json_get_object(event, "data"), "id");
	cp_json *args = cp_json_new_object(), *msg = cp_json_new_object();
	struct eject *ej = calloc(1, sizeof(*ej));
	struct cp_error e;

	if (!id || !args || !msg || !ej) {
		cp_json_unref(args);
		cp_json_unref(msg);
		free(ej);
		return;
	}
	ej->vm = vm;
	ej->id = vm->next_id++;
	cp_json_set_str(args, "id", id);
	cp_json_set_str(msg, "execute", "eject");
	cp_json_set(msg, "arguments", cp_json_ref(args));
	cp_json_set_int(msg, "id", (int64_t)ej->id);
	trace_add(vm, true, msg, 0);
	if (qmp_client_send(vm->qmp, "eject", args, NULL, 0, 0, on_eject_reply, ej, &e) < 0)
		free(ej);
}

/**
 * detach_on_tray_open() - what Incus 7.x does with DEVICE_TRAY_MOVED:
 * detachDisk() of the id without "dev-incus_", on tray-open only
 * @vm:		emulator
 * @event:	the event
 *
 * For an id that is no Incus disk's (coldplug's frontends) detachDisk()
 * fails at the device lookup, before any QMP: nothing to send. For an Incus
 * disk it hot-unplugs the disk in the background, which the emulator does
 * not model: it only logs it.
 */
static void detach_on_tray_open(struct lab_incus *vm, const cp_json *event)
{
	const cp_json *data = cp_json_get_object(event, "data");
	const char *id = cp_json_get_str(data, "id");
	bool open = false;
	size_t i;

	if (!id || !cp_json_get_bool(data, "tray-open", &open) || !open ||
	    !cp_str_has_prefix(id, "dev-incus_"))
		return;
	for (i = 0; i < vm->ndisks; i++) {
		char dev[160];

		lab_incus_device_id(vm->disks[i].name, dev, sizeof(dev));
		if (!strcmp(dev, id))
			cp_log(CP_LOG_WARN,
			       "incus-emu: tray of %s opened: Incus 7.x would detach disk %s "
			       "(not modelled)",
			       id, vm->disks[i].name);
	}
}

/**
 * on_event() - QMP event handler: record every event, and answer tray
 * events as the modelled Incus does
 * @c:		client
 * @event:	the event (borrowed)
 * @userdata:	the emulator
 */
static void on_event(struct qmp_client *c, cp_json *event, void *userdata)
{
	struct lab_incus *vm = userdata;

	(void)c;
	trace_add(vm, false, cp_json_ref(event), 0);
	if (!cp_streq(cp_json_get_str(event, "event"), "DEVICE_TRAY_MOVED"))
		return;
	if (!incus_is_6_0(vm))
		detach_on_tray_open(vm, event);
	else if (!vm->opts.no_tray_eject)
		eject_on_tray_event(vm, event);
}

/* Keys of one JSON object, for sorting. */
struct key_list {
	const char *keys[256];
	size_t n;
};

/**
 * sort_member() - cp_json_object_each callback: collect keys
 * @key:	key
 * @val:	value (unused)
 * @userdata:	struct key_list
 *
 * Return: 0
 */

static int sort_member(const char *key, cp_json *val, void *userdata)
{
	struct key_list *l = userdata;

	(void)val;
	if (l->n < CP_ARRAY_SIZE(l->keys))
		l->keys[l->n++] = key;
	return 0;
}

/**
 * str_cmp() - qsort comparator for const char *
 * @a:	const char **
 * @b:	const char **
 *
 * Return: strcmp order
 */
static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/**
 * incus_sorted() - a deep copy with every object's keys in sorted order
 * @v:	value
 *
 * Go's json.Marshal writes map keys sorted; json-c keeps insertion order,
 * so building the copy in sorted order gives the same bytes.
 *
 * Return: new reference
 */
cp_json *incus_sorted(const cp_json *v)
{
	struct key_list l = { .n = 0 };
	cp_json *out;
	size_t i;

	if (cp_json_is_array(v)) {
		out = cp_json_new_array();
		for (i = 0; i < cp_json_len(v); i++)
			cp_json_append(out, incus_sorted(cp_json_at(v, i)));
		return out;
	}
	if (!cp_json_is_object(v))
		return cp_json_copy(v);
	cp_json_object_each(v, sort_member, &l);
	qsort(l.keys, l.n, sizeof(l.keys[0]), str_cmp);
	out = cp_json_new_object();
	for (i = 0; i < l.n; i++)
		cp_json_set(out, l.keys[i], incus_sorted(cp_json_get(v, l.keys[i])));
	return out;
}

/**
 * record_reply() - record the answer to command @id
 * @vm:		emulator
 * @id:		command id
 * @ret:	return value, or NULL on error
 * @err:	the error when @ret is NULL
 */
static void record_reply(struct lab_incus *vm, uint64_t id, const cp_json *ret,
			 const struct cp_error *err)
{
	cp_json *msg = cp_json_new_object();

	if (ret) {
		cp_json_set(msg, "return", cp_json_copy(ret));
	} else {
		cp_json *e = cp_json_new_object();

		cp_json_set_str(e, "class", err->qmp_class[0] ? err->qmp_class : "(no reply)");
		cp_json_set_str(e, "desc", err->msg);
		cp_json_set(msg, "error", e);
	}
	cp_json_set_int(msg, "id", (int64_t)id);
	trace_add(vm, false, msg, 0);
}

/**
 * incus_call() - send one command as Incus does, record it, wait for it
 * @vm:		emulator (launched)
 * @cmd:	command
 * @args:	arguments (stolen), keys sorted here; NULL for none
 * @fds:	descriptors to pass in the same sendmsg(), or NULL
 * @nfds:	their count
 * @err:	filled on failure (QEMU's error class and text)
 *
 * Return: the "return" value (new reference), or NULL
 */
cp_json *incus_call(struct lab_incus *vm, const char *cmd, cp_json *args, const int *fds,
		    size_t nfds, struct cp_error *err)
{
	cleanup_json cp_json *sorted = args ? incus_sorted(args) : NULL;
	cp_json *msg = cp_json_new_object(), *ret;
	uint64_t id = vm->next_id++;

	cp_json_unref(args);
	if (!vm->qmp) {
		cp_json_unref(msg);
		return cp_error_set(err, CP_ERR_INVALID, "%s: the VM is not running", cmd), NULL;
	}
	cp_json_set_str(msg, "execute", cmd);
	if (sorted)
		cp_json_set(msg, "arguments", cp_json_ref(sorted));
	cp_json_set_int(msg, "id", (int64_t)id);
	trace_add(vm, true, msg, (unsigned)nfds);
	ret = qmp_client_call_fds(vm->qmp, cmd, sorted ? cp_json_ref(sorted) : NULL, fds, nfds,
				  err);
	record_reply(vm, id, ret, err);
	return ret;
}

/**
 * incus_call_ok() - incus_call() when only success matters
 * @vm:		emulator
 * @cmd:	command
 * @args:	arguments (stolen)
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
int incus_call_ok(struct lab_incus *vm, const char *cmd, cp_json *args, struct cp_error *err)
{
	cleanup_json cp_json *ret = incus_call(vm, cmd, args, NULL, 0, err);

	return ret ? 0 : -1;
}

/**
 * lab_incus_call() - send a command on Incus's connection, recorded
 * @vm:		emulator
 * @cmd:	command
 * @args:	arguments (stolen)
 * @fds:	descriptors, or NULL
 * @nfds:	their count
 * @err:	filled on failure
 *
 * Use this (not lab_incus_qmp() directly) so the trace keeps exact ids.
 *
 * Return: the "return" value (new reference), or NULL
 */
cp_json *lab_incus_call(struct lab_incus *vm, const char *cmd, cp_json *args, const int *fds,
			size_t nfds, struct cp_error *err)
{
	return incus_call(vm, cmd, args, fds, nfds, err);
}

/**
 * incus_ringbuf_read() - the agent status poll Incus runs after connecting
 * and after each event (monitor.go checkBuffer); its result is ignored
 * @vm:	emulator
 */
void incus_ringbuf_read(struct lab_incus *vm)
{
	cp_json *args;
	struct cp_error e;

	if (vm->opts.no_ringbuf_reads)
		return;
	args = cp_json_new_object();
	cp_json_set_str(args, "device", "qemu_serial-chardev");
	cp_json_set_int(args, "size", 16384);
	cp_json_set_str(args, "format", "utf8");
	incus_call_ok(vm, "ringbuf-read", args, &e);
}

/**
 * qemu_failure() - QEMU exited: an error with the end of its log
 * @vm:		emulator
 * @what:	what was being done
 * @err:	filled
 *
 * Return: -1
 */
static int qemu_failure(struct lab_incus *vm, const char *what, struct cp_error *err)
{
	cleanup_free char *log = lab_read_file(vm->qemu_log, 1 << 20, NULL);
	char how[64];
	size_t len = log ? strlen(log) : 0;

	lab_proc_describe(&vm->proc, how, sizeof(how));
	return cp_error_set(err, CP_ERR_FAILED, "QEMU %s while %s; its log ends: %s", how, what,
			    log ? log + (len > 1500 ? len - 1500 : 0) : "(no log)");
}

/**
 * connect_qmp() - connect to Incus's monitor as qmpConnect() does
 * @vm:		emulator (QEMU started)
 * @err:	filled on failure
 *
 * Retries until the socket accepts, failing early if QEMU exits.
 *
 * Return: 0, or -1
 */
static int connect_qmp(struct lab_incus *vm, struct cp_error *err)
{
	int64_t deadline = cp_now_ms() + QEMU_START_TIMEOUT_MS;
	struct qmp_client_opts o;
	struct stat st;
	cp_json *caps;

	qmp_client_opts_init(&o);
	o.label = "incus";
	/* Wait for the socket while watching QEMU, then connect once: a retried
	 * handshake could leave QEMU's reply to the first one for the second. */
	while (stat(vm->monitor_path, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		if (lab_proc_reap(&vm->proc, 0, NULL) == 0)
			return qemu_failure(vm, "starting", err);
		if (cp_now_ms() > deadline)
			return cp_error_set(err, CP_ERR_TIMEOUT, "QEMU made no monitor socket %s",
					    vm->monitor_path);
		lab_sleep_ms(20);
	}
	vm->qmp = qmp_client_connect(vm->monitor_path, cp_deadline_left(deadline), &o, err);
	if (!vm->qmp) {
		if (lab_proc_reap(&vm->proc, 0, NULL) == 0)
			return qemu_failure(vm, "starting", err);
		return cp_error_prefix(err, "connecting to QEMU's monitor");
	}
	qmp_client_set_event_handler(vm->qmp, on_event, vm);
	caps = cp_json_new_object();
	cp_json_set_str(caps, "execute", "qmp_capabilities");
	cp_json_set_int(caps, "id", 1);
	trace_add(vm, true, caps, 0); /* sent by qmp_client_connect() */
	vm->next_id = 2;
	return 0;
}

/**
 * connect_console() - connect to the serial console socket and keep it
 * @vm:		emulator
 * @err:	filled on failure
 *
 * QEMU drops console output while nobody is connected, so the emulator
 * connects before `cont`; lab_incus_take_console() hands it on.
 *
 * Return: 0, or -1
 */
static int connect_console(struct lab_incus *vm, struct cp_error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cp_strlcpy(sa.sun_path, vm->console_path, sizeof(sa.sun_path));
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return cp_error_set_errno(err, errno, "connect to the console %s",
					  vm->console_path);
	vm->console_fd = steal_fd(&fd);
	return 0;
}

/**
 * net_append() - "cp.net=MAC,IP/24;..." for the guest's NICs
 * @vm:	emulator
 *
 * Each NIC is also listed under its MAC with the first octet 0x40: usb-net
 * before QEMU 10.2 (and Debian's 10.0.2) shows the guest that MAC (qemu-notes
 * §4), so a NIC re-homed onto usb-net still gets its address. An entry that
 * matches no NIC only adds a netcfg record with result=no-such-nic.
 */
static void net_append(struct lab_incus *vm)
{
	char spec[1024] = "", ip[32], user[1024];
	size_t i, off = 0;

	if (!vm->opts.boot_guest || !vm->nnics)
		return;
	for (i = 0; i < vm->nnics && off < sizeof(spec); i++) {
		const char *mac = vm->nics[i].hwaddr;

		lab_net_guest_ip(vm->net, vm->nics[i].index, ip, sizeof(ip));
		off += (size_t)snprintf(spec + off, sizeof(spec) - off, "%s%s,%s/24", i ? ";" : "",
					mac, ip);
		if (strncmp(mac, "40:", 3) && off < sizeof(spec))
			off += (size_t)snprintf(spec + off, sizeof(spec) - off, ";40%s,%s/24",
						mac + 2, ip);
	}
	cp_strlcpy(user, vm->append, sizeof(user));
	lab_fmt(vm->append, sizeof(vm->append), "cp.net=%s%s%s", spec, user[0] ? " " : "", user);
}

/**
 * start_devices() - devices' Start() on the host: taps and disk images
 * @vm:		emulator
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int start_devices(struct lab_incus *vm, struct cp_error *err)
{
	size_t i;

	if (vm->nnics && !vm->net) {
		vm->net = lab_net_new(err);
		if (!vm->net)
			return -1;
		vm->own_net = true;
	}
	for (i = 0; i < vm->nnics; i++)
		if (lab_net_tap_add(vm->net, vm->nics[i].tap, err) < 0)
			return -1;
	for (i = 0; i < vm->ndisks; i++)
		if (incus_disk_prepare(vm, &vm->disks[i], err) < 0)
			return -1;
	net_append(vm);
	return 0;
}

/**
 * prepare_config() - the config and arguments, up to the config stage
 * @vm:		emulator, devices started
 * @err:	filled on failure, with Incus's error where Incus fails
 *
 * generateQemuConfig() (sections, then raw.qemu.conf), the command line,
 * then runStartupScriptlet(nil, "config"), which may edit both.
 *
 * Return: 0, or -1
 */
static int prepare_config(struct lab_incus *vm, struct cp_error *err)
{
	if (incus_conf_generate(vm, err) < 0 || incus_conf_override(vm, err) < 0 ||
	    incus_cmdline(vm, err) < 0 || incus_scriptlet_stage(vm, "config", err) < 0)
		return -1;
	return incus_conf_write(vm, err);
}

/**
 * start_qemu() - start QEMU with @vm->cmdline, in the VM namespace
 * @vm:		emulator, qemu.conf written
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int start_qemu(struct lab_incus *vm, struct cp_error *err)
{
	size_t nargs = cp_json_len(vm->cmdline), i, n = 0;
	cleanup_free const char **argv = cp_calloc(nargs + 5, sizeof(*argv), err);
	char nsarg[300];

	if (!argv)
		return -1;
	if (vm->net) {
		lab_fmt(nsarg, sizeof(nsarg), "--net=%s", lab_net_ns_path(vm->net, LAB_NET_VM));
		argv[n++] = lab_tool("nsenter");
		argv[n++] = nsarg;
		argv[n++] = "--";
	}
	argv[n++] = vm->qemu_bin;
	for (i = 0; i < nargs; i++)
		if (!(argv[n++] = cp_json_as_str(cp_json_at(vm->cmdline, i))))
			return cp_error_set(err, CP_ERR_INVALID, "argument %zu is not a string", i);
	argv[n] = NULL;
	vm->t0 = cp_now_ms();
	if (lab_proc_start(&vm->proc, argv, vm->qemu_log, err) < 0)
		return -1;
	vm->started = true;
	return 0;
}

/**
 * kill_qemu() - the start's reverter: killQemuProcess() (SIGKILL, then wait)
 * @vm:	emulator
 *
 * What Incus does when anything fails between QEMU's start and `cont`.
 */
static void kill_qemu(struct lab_incus *vm)
{
	if (!vm->started || vm->proc.reaped || vm->proc.pid <= 0)
		return;
	kill(vm->proc.pid, SIGKILL);
	if (lab_proc_reap(&vm->proc, KILL_REAP_MS, NULL) < 0)
		lab_proc_stop(&vm->proc, 0, NULL);
}

/**
 * incus_stop() - Incus's Stop(false) after a failed post-start stage
 * @vm:	emulator
 *
 * statusCode() asks query-status, then quit, then QEMU has 30 s to exit
 * before the forced stop. (Incus also reads the console ringbuf first; the
 * lab's console is a socket.)
 */
static void incus_stop(struct lab_incus *vm)
{
	struct cp_error e;

	incus_call_ok(vm, "query-status", NULL, &e);
	if (lab_incus_quit(vm, INCUS_STOP_TIMEOUT_MS, NULL) < 0)
		kill_qemu(vm);
}

/**
 * scriptlet_stage() - a stage on the running QEMU; a failure kills QEMU
 * @vm:		emulator
 * @stage:	"early" or "pre-start"
 * @err:	filled on failure ("Failed running QEMU scriptlet at ...")
 *
 * Return: 0, or -1
 */
static int scriptlet_stage(struct lab_incus *vm, const char *stage, struct cp_error *err)
{
	if (incus_scriptlet_stage(vm, stage, err) == 0)
		return 0;
	kill_qemu(vm);
	return -1;
}

/**
 * run_hooks() - the device monitor hooks, in Incus's device order
 * @vm:		emulator
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int run_hooks(struct lab_incus *vm, struct cp_error *err)
{
	struct lab_dev_ref order[LAB_INCUS_MAX_DISKS + LAB_INCUS_MAX_NICS];
	size_t n, i;

	incus_device_order(vm, order, &n);
	for (i = 0; i < n; i++) {
		int rc = order[i].disk ? incus_hook_disk(vm, order[i].disk, err)
				       : incus_hook_nic(vm, order[i].nic, err);

		if (rc < 0)
			return cp_error_prefix(err, "Failed setting up device via monitor");
	}
	return 0;
}

/**
 * machine_type() - Incus 6.0's first command: qom-get /machine type
 * @vm:		emulator, connected
 * @err:	filled on failure (QEMU is killed, as by Incus's reverter)
 *
 * The recording shows it before everything else Incus logs; where exactly
 * it sits against the agent ringbuf-read and the "early" stage is not in
 * the log (neither sends anything Incus logs there).
 *
 * Return: 0, or -1
 */
static int machine_type(struct lab_incus *vm, struct cp_error *err)
{
	cp_json *args = cp_json_new_object();

	cp_json_set_str(args, "path", "/machine");
	cp_json_set_str(args, "property", "type");
	if (incus_call_ok(vm, "qom-get", args, err) == 0)
		return 0;
	kill_qemu(vm);
	return cp_error_prefix(err, "Failed getting the machine type");
}

/**
 * lab_incus_launch() - Incus's start() up to the pre-start stage
 * @vm:		emulator with its devices
 * @err:	filled on failure
 *
 * Taps and images, qemu.conf (raw.qemu.conf applied, then the "config"
 * scriptlet stage), QEMU started paused in the VM namespace, QMP connected
 * (qmp_capabilities), the console connected, ringbuf-read, the "early"
 * stage, CPU hotplug, then the NIC and disk hooks.
 *
 * Return: 0, or -1 (then lab_incus_free() cleans up). An override or
 * scriptlet failure is Incus's error text, unprefixed; a failing "early"
 * stage has killed QEMU, as Incus's reverter does.
 */
int lab_incus_launch(struct lab_incus *vm, struct cp_error *err)
{
	if (vm->launched)
		return cp_error_set(err, CP_ERR_INVALID, "already launched");
	vm->launched = true;
	if (incus_scriptlet_validate(vm, err) < 0)
		return -1;
	if (start_devices(vm, err) < 0)
		return cp_error_prefix(err, "starting %s", vm->name);
	if (vm->opts.config && vm->opts.config(vm, vm->opts.config_arg, err) < 0)
		return cp_error_prefix(err, "config stage of %s", vm->name);
	if (prepare_config(vm, err) < 0)
		return -1;
	if (start_qemu(vm, err) < 0 || connect_qmp(vm, err) < 0 || connect_console(vm, err) < 0)
		return cp_error_prefix(err, "starting %s", vm->name);
	incus_ringbuf_read(vm);
	if (incus_is_6_0(vm) && machine_type(vm, err) < 0)
		return -1;
	if (scriptlet_stage(vm, "early", err) < 0)
		return -1;
	vm->vcpus_now = 1;
	if (vm->opts.vcpus > 1 && incus_hook_cpus(vm, err) < 0)
		return cp_error_prefix(err, "Failed to add CPUs");
	if (incus_is_6_0(vm) && incus_call_ok(vm, "query-cpus-fast", NULL, err) < 0)
		return cp_error_prefix(err, "Failed getting vCPU threads");
	return run_hooks(vm, err);
}

/**
 * hook_thunk() - lab_net_fn that calls the pre-start callback
 * @arg:	the emulator
 * @err:	filled on failure
 *
 * Return: the callback's result
 */
static int hook_thunk(void *arg, struct cp_error *err)
{
	struct lab_incus *vm = arg;

	return vm->opts.pre_start(vm, vm->opts.pre_start_arg, err);
}

/**
 * run_pre_start_cmd() - the pre-start command, in the VM namespace
 * @vm:		emulator
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int run_pre_start_cmd(struct lab_incus *vm, struct cp_error *err)
{
	struct lab_run_opts o = { .timeout_ms = vm->opts.pre_start_timeout_ms, .log_dir = vm->dir };
	char qmp[PATH_MAX + 32], dir[PATH_MAX + 32], pid[64], log[PATH_MAX + 32];
	cleanup_free char *out = NULL;
	const char *argv[] = { lab_tool("env"),	       qmp, dir, pid, "/bin/sh", "-c",
			       vm->opts.pre_start_cmd, NULL };
	int rc;

	lab_fmt(qmp, sizeof(qmp), "COLDPLUG_LAB_QMP=%s", vm->coldplug_qmp);
	lab_fmt(dir, sizeof(dir), "COLDPLUG_LAB_DIR=%s", vm->dir);
	lab_fmt(pid, sizeof(pid), "COLDPLUG_LAB_QEMU_PID=%d", (int)vm->proc.pid);
	o.netns = vm->net ? lab_net_ns_path(vm->net, LAB_NET_VM) : NULL;
	rc = lab_run(argv, &o, &out, err);
	lab_fmt(log, sizeof(log), "%s/pre-start.log", vm->dir);
	lab_write_file(log, out ? out : "", NULL);
	if (rc < 0)
		return cp_error_prefix(err, "pre-start command");
	if (rc != 0)
		return cp_error_set(err, CP_ERR_FAILED, "pre-start command exited with %d: %s", rc,
				    out ? out : "");
	return 0;
}

/**
 * lab_incus_pre_start() - the pre-start stage: the hook, the command, then
 * Incus's "pre-start" scriptlet stage
 * @vm:		launched emulator
 * @err:	filled on failure (the start then fails, as in Incus)
 *
 * The hook and command stand for what happens outside Incus while the VM is
 * paused, so they come before the scriptlet, the last thing Incus runs
 * before system_reset. A failing scriptlet kills QEMU (Incus's reverter); a
 * failing hook or command leaves it to lab_incus_free().
 *
 * Return: 0, or -1
 */
int lab_incus_pre_start(struct lab_incus *vm, struct cp_error *err)
{
	if (!vm->launched || vm->pre_started)
		return cp_error_set(err, CP_ERR_INVALID, "pre-start: launch first, and only once");
	vm->pre_started = true;
	if (vm->opts.pre_start) {
		int rc = vm->net ? lab_net_call(vm->net, LAB_NET_VM, hook_thunk, vm, err)
				 : hook_thunk(vm, err);

		if (rc < 0)
			return cp_error_prefix(err, "pre-start hook");
	}
	if (vm->opts.pre_start_cmd && run_pre_start_cmd(vm, err) < 0)
		return -1;
	return scriptlet_stage(vm, "pre-start", err);
}

/**
 * call_expecting() - a command, then the event it causes
 * @vm:		emulator
 * @cmd:	command (no arguments)
 * @event:	event to wait for, with EVENT_TIMEOUT_MS
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int call_expecting(struct lab_incus *vm, const char *cmd, const char *event,
			  struct cp_error *err)
{
	struct qmp_event_match m = { .event = event };
	uint64_t mark = qmp_client_event_mark(vm->qmp);
	cleanup_json cp_json *ev = NULL;

	if (incus_call_ok(vm, cmd, NULL, err) < 0)
		return -1;
	ev = qmp_client_wait_event(vm->qmp, &m, mark, EVENT_TIMEOUT_MS, err);
	if (!ev)
		return cp_error_prefix(err, "after %s", cmd);
	incus_ringbuf_read(vm);
	return 0;
}

/**
 * lab_incus_resume() - system_reset, set-action, cont (steps 10-11), then
 * the "post-start" scriptlet stage (step 12)
 * @vm:		emulator past pre-start
 * @err:	filled on failure; a failing post-start stage has stopped the
 *		VM as Incus's Stop() does (quit, and wait)
 *
 * Return: 0, or -1
 */
int lab_incus_resume(struct lab_incus *vm, struct cp_error *err)
{
	cp_json *actions;

	if (!vm->pre_started || vm->resumed)
		return cp_error_set(err, CP_ERR_INVALID, "resume: after pre-start, and only once");
	vm->resumed = true;
	if (call_expecting(vm, "system_reset", "RESET", err) < 0)
		return cp_error_prefix(err, "Failed resetting VM");
	actions = cp_json_new_object();
	cp_json_set_str(actions, "shutdown", "poweroff");
	cp_json_set_str(actions, "reboot", incus_is_6_0(vm) ? "shutdown" : "reset");
	cp_json_set_str(actions, "panic", incus_is_6_0(vm) ? "pause" : "exit-failure");
	if (incus_call_ok(vm, "set-action", actions, err) < 0)
		return cp_error_prefix(err, "Failed setting reboot action");
	if (call_expecting(vm, "cont", "RESUME", err) < 0)
		return cp_error_prefix(err, "Failed starting VM");
	if (incus_scriptlet_stage(vm, "post-start", err) < 0) {
		incus_stop(vm);
		return -1;
	}
	if (!incus_is_6_0(vm))
		return 0;
	vm->next_poll_ms = cp_now_ms() + INCUS60_FIRST_POLL_MS;
	return incus_call_ok(vm, "query-status", NULL, err);
}

/**
 * poll_round() - one of Incus 6.0's state rounds: query-status, query-chardev
 * @vm:		emulator
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int poll_round(struct lab_incus *vm, struct cp_error *err)
{
	if (incus_call_ok(vm, "query-status", NULL, err) < 0 ||
	    incus_call_ok(vm, "query-chardev", NULL, err) < 0)
		return -1;
	vm->next_poll_ms += INCUS60_POLL_MS;
	return 0;
}

/**
 * lab_incus_idle() - let @ms pass on the running VM, as Incus would
 * @vm:		emulator, resumed
 * @ms:		how long
 * @err:	filled on failure
 *
 * Events are handled meanwhile (tray events answered). Incus 6.0.4 sends
 * query-status + query-chardev every 2-3 s while the instance's state is
 * asked for (the real-Incus suite waits on it; recorded in
 * tests/data/incus-6.0/qemu.qmp.log from 4 s after cont on): the emulator
 * sends a round every INCUS60_POLL_MS from INCUS60_FIRST_POLL_MS after cont.
 * 7.x sends nothing.
 *
 * Return: 0, or -1
 */
int lab_incus_idle(struct lab_incus *vm, int ms, struct cp_error *err)
{
	int64_t until = cp_now_ms() + ms;

	if (!vm->resumed || !vm->qmp)
		return cp_error_set(err, CP_ERR_INVALID, "idle: the VM is not running");
	for (;;) {
		int64_t now = cp_now_ms(), next = until;

		if (incus_is_6_0(vm) && vm->next_poll_ms <= now && poll_round(vm, err) < 0)
			return -1;
		if (incus_is_6_0(vm) && vm->next_poll_ms < next)
			next = vm->next_poll_ms;
		if (now >= until)
			return 0;
		if (qmp_client_dispatch(vm->qmp, (int)(next - now), err) < 0)
			return cp_error_prefix(err, "idle");
	}
}

/**
 * lab_incus_start() - the whole start: launch, pre-start, resume
 * @vm:		emulator with its devices
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
int lab_incus_start(struct lab_incus *vm, struct cp_error *err)
{
	if (lab_incus_launch(vm, err) < 0 || lab_incus_pre_start(vm, err) < 0 ||
	    lab_incus_resume(vm, err) < 0)
		return -1;
	return 0;
}

/**
 * lab_incus_quit() - Incus's stop: quit, and wait for QEMU to exit
 * @vm:		emulator
 * @timeout_ms:	how long QEMU has to exit
 * @err:	filled on failure
 *
 * Return: 0 once QEMU is gone, or -1
 */
int lab_incus_quit(struct lab_incus *vm, int timeout_ms, struct cp_error *err)
{
	struct cp_error e;

	if (!vm->started || vm->proc.reaped)
		return 0;
	if (vm->qmp)
		incus_call_ok(vm, "quit", NULL, &e); /* QEMU may close before replying */
	return lab_proc_reap(&vm->proc, timeout_ms, err);
}

/**
 * lab_incus_free() - stop QEMU (quit, then SIGTERM/SIGKILL), clean up
 * @vm:	emulator, may be NULL
 *
 * Removes the scratch directory unless opts.keep_dir or $COLDPLUG_LAB_KEEP.
 */
void lab_incus_free(struct lab_incus *vm)
{
	const char *keep = getenv("COLDPLUG_LAB_KEEP");
	size_t i;

	if (!vm)
		return;
	if (vm->started && !vm->proc.reaped && lab_incus_quit(vm, QEMU_QUIT_TIMEOUT_MS, NULL) < 0)
		lab_proc_stop(&vm->proc, QEMU_STOP_GRACE_MS, NULL);
	qmp_client_free(vm->qmp);
	if (vm->console_fd >= 0)
		close(vm->console_fd);
	if (vm->own_net)
		lab_net_free(vm->net);
	for (i = 0; i < vm->ntrace; i++)
		cp_json_unref(vm->trace[i].msg);
	free(vm->trace);
	if (vm->trace_file)
		fclose(vm->trace_file);
	for (i = 0; i < vm->ndisks; i++)
		free((char *)vm->disks[i].spec.image);
	if (vm->dir[0] && !vm->opts.keep_dir && !(keep && *keep && strcmp(keep, "0")))
		lab_remove_tree(vm->dir);
	free(vm->conf);
	cp_json_unref(vm->sections);
	cp_json_unref(vm->cmdline);
	free(vm->scriptlet_log);
	free_opt_strings(vm);
	free(vm);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * raw.qemu.scriptlet in the Incus emulator: runStartupScriptlet() of
 * driver_qemu.go. At each stage the emulator renders the instance as
 * Incus's Render() does (api.Instance: local and expanded config with the
 * volatile keys the devices set, local and expanded devices, "Stopped"
 * throughout the start because the start operation is still running) and
 * runs the scriptlet through the incus-scriptlet runner (scriptlet.h), whose
 * QMP commands go out on Incus's own connection through incus_call(), so
 * the trace records them with Incus's ids. The config stage gets the
 * sections and arguments and may replace them; a failure is Incus's
 * "Failed running QEMU scriptlet at <stage> stage: <error>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coldplug/cleanup.h"
#include "digest.h"
#include "incus_priv.h"
#include "run.h"
#include "scriptlet.h"
#include "util.h"

#ifndef COLDPLUG_LAB_SCRIPTLET_RUNNER
#define COLDPLUG_LAB_SCRIPTLET_RUNNER ""
#endif

#define VALIDATE_TIMEOUT_MS  30000
#define INCUS_STATUS_STOPPED 102 /* api.Stopped */

/**
 * runner_path() - the incus-scriptlet to run
 * @vm:	emulator
 *
 * Return: opts.scriptlet_runner, $COLDPLUG_SCRIPTLET_RUNNER, or the lab's
 * build of it ("" if none)
 */
static const char *runner_path(const struct lab_incus *vm)
{
	const char *env = getenv("COLDPLUG_SCRIPTLET_RUNNER");

	if (vm->opts.scriptlet_runner && vm->opts.scriptlet_runner[0])
		return vm->opts.scriptlet_runner;
	return env && env[0] ? env : COLDPLUG_LAB_SCRIPTLET_RUNNER;
}

/* ---- the instance, as Render() gives it ---- */

/**
 * disk_bus_name() - a disk's io.bus value
 * @bus:	bus
 *
 * Return: the key's value, or NULL for Incus's default (virtio-scsi)
 */
static const char *disk_bus_name(enum lab_disk_bus bus)
{
	switch (bus) {
	case LAB_DISK_VIRTIO_BLK:
		return "virtio-blk";
	case LAB_DISK_NVME:
		return "nvme";
	case LAB_DISK_USB:
		return "usb";
	case LAB_DISK_SCSI:
		break;
	}
	return NULL;
}

/**
 * set_if() - set a string member when there is a value
 * @obj:	object
 * @key:	member
 * @value:	value, NULL or "" for none
 */
static void set_if(cp_json *obj, const char *key, const char *value)
{
	if (value && value[0])
		cp_json_set_str(obj, key, value);
}

/**
 * render_disk() - a disk device's config
 * @d:	disk
 *
 * Return: new object
 */
static cp_json *render_disk(const struct lab_disk *d)
{
	cp_json *o = cp_json_new_object();

	cp_json_set_str(o, "type", "disk");
	if (d->spec.root) {
		cp_json_set_str(o, "path", "/");
		cp_json_set_str(o, "pool", "default");
	} else if (d->spec.image) {
		cp_json_set_str(o, "source", d->spec.image); /* a host file or block device */
	} else {
		cp_json_set_str(o, "pool", "default"); /* a custom volume (ISO or block) */
		cp_json_set_str(o, "source", d->name);
	}
	if (!d->spec.root)
		set_if(o, "path", d->path);
	set_if(o, "io.bus", disk_bus_name(d->spec.bus));
	set_if(o, "io.cache", d->cache);
	set_if(o, "boot.priority", d->boot_priority);
	if (d->spec.readonly && !d->spec.cdrom)
		cp_json_set_str(o, "readonly", "true");
	return o;
}

/**
 * render_nic() - a bridged NIC's config
 * @vm:		emulator
 * @n:		NIC
 *
 * Return: new object
 */
static cp_json *render_nic(const struct lab_incus *vm, const struct lab_nic *n)
{
	cp_json *o = cp_json_new_object();

	cp_json_set_str(o, "type", "nic");
	cp_json_set_str(o, "nictype", "bridged");
	cp_json_set_str(o, "parent", vm->net ? lab_net_bridge(vm->net) : "br0");
	if (n->spec.bus == LAB_NIC_USB)
		cp_json_set_str(o, "io.bus", "usb");
	set_if(o, "boot.priority", n->boot_priority);
	if (n->spec.disconnected)
		cp_json_set_str(o, "connected", "false");
	if (n->spec.hwaddr)
		cp_json_set_str(o, "hwaddr", n->hwaddr);
	return o;
}

/**
 * render_devices() - the devices (all defined on the instance itself)
 * @vm:	emulator
 *
 * Return: new object, by device name
 */
static cp_json *render_devices(const struct lab_incus *vm)
{
	cp_json *o = cp_json_new_object();
	size_t i;

	for (i = 0; i < vm->nnics; i++)
		cp_json_set(o, vm->nics[i].name, render_nic(vm, &vm->nics[i]));
	for (i = 0; i < vm->ndisks; i++)
		cp_json_set(o, vm->disks[i].name, render_disk(&vm->disks[i]));
	return o;
}

/**
 * render_config() - the instance's own config: limits and volatile keys
 * @vm:	emulator (devices started: taps named)
 *
 * Return: new object
 */
static cp_json *render_config(const struct lab_incus *vm)
{
	cp_json *o = cp_json_new_object();
	uint8_t h[LAB_SHA256_LEN];
	char key[LAB_INCUS_NAME_MAX + 32], num[32];
	size_t i;

	lab_fmt(num, sizeof(num), "%u", vm->opts.vcpus);
	cp_json_set_str(o, "limits.cpu", num);
	lab_fmt(num, sizeof(num), "%uMiB", vm->opts.memory_mb);
	cp_json_set_str(o, "limits.memory", num);
	cp_json_set_str(o, "volatile.last_state.power", "STOPPED");
	cp_json_set_str(o, "volatile.uuid", vm->uuid);
	cp_json_set_str(o, "volatile.uuid.generation", vm->gen_uuid);
	lab_sha256(vm->uuid, strlen(vm->uuid), h);
	lab_fmt(num, sizeof(num), "%u",
		3u + (((unsigned)h[0] << 16 | (unsigned)h[1] << 8 | h[2]) & 0x3fffffu));
	cp_json_set_str(o, "volatile.vsock_id", num);
	for (i = 0; i < vm->nnics; i++) {
		const struct lab_nic *n = &vm->nics[i];

		lab_fmt(key, sizeof(key), "volatile.%s.host_name", n->name);
		set_if(o, key, n->tap);
		lab_fmt(key, sizeof(key), "volatile.%s.hwaddr", n->name);
		if (!n->spec.hwaddr)
			cp_json_set_str(o, key, n->hwaddr);
	}
	for (i = 0; i < vm->ndisks; i++) {
		lab_fmt(key, sizeof(key), "volatile.%s.io.bus", vm->disks[i].name);
		set_if(o, key, disk_bus_name(vm->disks[i].spec.bus));
	}
	return o;
}

/**
 * copy_member() - cp_json_object_each callback: copy into another object
 * @key:	key
 * @val:	value
 * @userdata:	destination object
 *
 * Return: 0
 */
static int copy_member(const char *key, cp_json *val, void *userdata)
{
	cp_json_set(userdata, key, cp_json_copy(val));
	return 0;
}

/**
 * lab_incus_instance() - the instance as Incus's Render() gives it to the
 * scriptlet (api.Instance, as JSON)
 * @vm:	emulator
 *
 * The devices are defined on the instance (so devices = expanded_devices);
 * raw.qemu.conf and raw.qemu.scriptlet come from the profile opts.profile,
 * so they are in expanded_config only. Volatile keys are those Incus has
 * set by the time of the config stage: uuid, generation, vsock id, last
 * power state, and per device hwaddr (when the NIC has no hwaddr key),
 * host_name (the tap) and io.bus (when set). status is "Stopped" (102) at
 * every stage: Incus's statusCode() says so while the start operation runs.
 *
 * Return: new object
 */
cp_json *lab_incus_instance(const struct lab_incus *vm)
{
	cp_json *o = cp_json_new_object(), *profiles = cp_json_new_array();
	cp_json *config = render_config(vm), *expanded = cp_json_new_object();
	cp_json *devices = render_devices(vm);

	cp_json_object_each(config, copy_member, expanded);
	cp_json_append(profiles, cp_json_new_string("default"));
	if (vm->opts.raw_qemu_conf || vm->opts.scriptlet)
		cp_json_append(profiles, cp_json_new_string(vm->opts.profile && vm->opts.profile[0]
								    ? vm->opts.profile
								    : "coldplug"));
	if (vm->opts.raw_qemu_conf)
		cp_json_set_str(expanded, "raw.qemu.conf", vm->opts.raw_qemu_conf);
	if (vm->opts.scriptlet)
		cp_json_set_str(expanded, "raw.qemu.scriptlet", vm->opts.scriptlet);
	cp_json_set_str(o, "architecture", "x86_64");
	cp_json_set(o, "config", config);
	cp_json_set(o, "devices", cp_json_copy(devices));
	cp_json_set_bool(o, "ephemeral", false);
	cp_json_set(o, "profiles", profiles);
	cp_json_set_bool(o, "stateful", false);
	cp_json_set_str(o, "description", "");
	cp_json_set(o, "expanded_config", expanded);
	cp_json_set(o, "expanded_devices", devices);
	cp_json_set_str(o, "name", vm->name);
	cp_json_set_str(o, "status", "Stopped");
	cp_json_set_int(o, "status_code", INCUS_STATUS_STOPPED);
	cp_json_set_str(o, "location", "none");
	cp_json_set_str(o, "type", "virtual-machine");
	cp_json_set_str(o, "project", vm->opts.project);
	return o;
}

/* ---- running it ---- */

/**
 * log_append() - keep a run's log, in memory and in DIR/scriptlet.log
 * @vm:		emulator
 * @text:	the run's log, or NULL
 */
static void log_append(struct lab_incus *vm, const char *text)
{
	size_t len = text ? strlen(text) : 0;
	char *p;

	if (!len)
		return;
	p = realloc(vm->scriptlet_log, vm->scriptlet_log_len + len + 1);
	if (!p)
		return;
	memcpy(p + vm->scriptlet_log_len, text, len + 1);
	vm->scriptlet_log = p;
	vm->scriptlet_log_len += len;
	lab_write_file(vm->scriptlet_log_path, vm->scriptlet_log, NULL);
}

/**
 * incus_scriptlet_validate() - validate raw.qemu.scriptlet
 * @vm:		emulator
 * @err:	filled on failure
 *
 * Incus validates the key when it is set (QEMUValidate) and refuses the
 * change, so a start never sees an invalid scriptlet; the emulator checks
 * at the start instead, with the runner's --validate. The scriptlet is
 * kept in DIR/scriptlet.star.
 *
 * Return: 0, or -1
 */
int incus_scriptlet_validate(struct lab_incus *vm, struct cp_error *err)
{
	struct lab_run_opts o = { .timeout_ms = VALIDATE_TIMEOUT_MS, .log_dir = vm->dir };
	const char *runner = runner_path(vm);
	cleanup_free char *out = NULL;
	char path[PATH_MAX];
	const char *argv[] = { runner, "--validate", "--script", path, NULL };
	int rc;

	if (!vm->opts.scriptlet)
		return 0;
	if (!runner[0])
		return cp_error_set(err, CP_ERR_INVALID,
				    "no incus-scriptlet runner: build tests/starlark (golang-go, "
				    "golang-starlark-dev) or set COLDPLUG_SCRIPTLET_RUNNER");
	lab_fmt(path, sizeof(path), "%s/scriptlet.star", vm->dir);
	if (lab_write_file(path, vm->opts.scriptlet, err) < 0)
		return -1;
	rc = lab_run(argv, &o, &out, err);
	if (rc < 0)
		return cp_error_prefix(err, "validating raw.qemu.scriptlet");
	if (rc != 0)
		return cp_error_set(
			err, CP_ERR_INVALID,
			"raw.qemu.scriptlet is not valid (Incus refuses to set it): %.*s",
			out ? (int)strcspn(out, "\n") : 0, out ? out : "");
	return 0;
}

/**
 * scriptlet_call() - lab_scriptlet_call_fn: a scriptlet's command on
 * Incus's connection, recorded in the trace
 * @arg:	the emulator
 * @cmd:	command
 * @args:	arguments (stolen)
 * @err:	filled on failure
 *
 * Return: the "return" value (new reference), or NULL
 */
static cp_json *scriptlet_call(void *arg, const char *cmd, cp_json *args, struct cp_error *err)
{
	return incus_call(arg, cmd, args, NULL, 0, err);
}

/**
 * take_config() - the config stage's sections and arguments become the VM's
 * @vm:		emulator
 * @res:	the run's result (its conf and cmdline are taken)
 */
static void take_config(struct lab_incus *vm, struct lab_scriptlet_result *res)
{
	if (res->conf) {
		cp_json_unref(vm->sections);
		vm->sections = steal_pointer(&res->conf);
	}
	if (res->cmdline) {
		cp_json_unref(vm->cmdline);
		vm->cmdline = steal_pointer(&res->cmdline);
	}
}

/**
 * incus_scriptlet_stage() - runStartupScriptlet(monitor, stage)
 * @vm:		emulator
 * @stage:	"config" (QEMU not started: no monitor), "early", "pre-start"
 *		or "post-start"
 * @err:	filled on failure: "Failed running QEMU scriptlet at <stage>
 *		stage: <the runner's error, worded as Incus's>"
 *
 * Nothing to do without raw.qemu.scriptlet. The stopping of QEMU on
 * failure is the caller's (it differs by stage).
 *
 * Return: 0, or -1
 */
int incus_scriptlet_stage(struct lab_incus *vm, const char *stage, struct cp_error *err)
{
	bool config = !strcmp(stage, "config");
	cleanup_json cp_json *instance = NULL;
	struct lab_scriptlet_result res;
	struct lab_scriptlet_args a = {
		.qmp = config ? NULL : vm->qmp,
		.runner = runner_path(vm),
		.script = vm->opts.scriptlet,
		.stage = stage,
		.conf = vm->sections,
		.cmdline = vm->cmdline,
		.timeout_ms = vm->opts.pre_start_timeout_ms,
		.call = config ? NULL : scriptlet_call,
		.call_arg = vm,
	};
	int rc;

	if (!vm->opts.scriptlet)
		return 0;
	instance = lab_incus_instance(vm);
	a.instance = instance;
	rc = lab_scriptlet_exec(&a, &res, err);
	log_append(vm, res.log);
	if (rc == 0 && config)
		take_config(vm, &res);
	lab_scriptlet_result_clear(&res);
	if (rc < 0)
		return cp_error_prefix(err, "Failed running QEMU scriptlet at %s stage", stage);
	return 0;
}

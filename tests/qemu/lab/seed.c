/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The original write-up's NIC re-homing: see seed.h.
 */
#include <stdio.h>
#include <string.h>

#include "coldplug/cleanup.h"
#include "coldplug/json.h"
#include "hmp_network.h"
#include "incus.h"
#include "run.h"
#include "seed.h"
#include "util.h"

/**
 * qmp_str() - run a command on Incus's connection, as the scriptlet's
 * run_qmp() does, returning a string result
 * @vm:		emulator
 * @cmd:	command
 * @args:	arguments (stolen)
 * @err:	filled on failure
 *
 * Return: the string (caller frees), or NULL
 */
static char *qmp_str(struct lab_incus *vm, const char *cmd, cp_json *args, struct cp_error *err)
{
	cleanup_json cp_json *ret = lab_incus_call(vm, cmd, args, NULL, 0, err);

	return ret && cp_json_as_str(ret) ? strdup(cp_json_as_str(ret)) : NULL;
}

/**
 * call() - run a command on Incus's connection when only success matters
 * @vm:		emulator
 * @cmd:	command
 * @args:	arguments (stolen)
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int call(struct lab_incus *vm, const char *cmd, cp_json *args, struct cp_error *err)
{
	cleanup_json cp_json *ret = lab_incus_call(vm, cmd, args, NULL, 0, err);

	return ret ? 0 : -1;
}

/**
 * qom_get() - qom-get /machine/peripheral/@dev @prop
 * @vm:		emulator
 * @dev:	device id
 * @prop:	property
 * @err:	filled on failure
 *
 * Return: the string (caller frees), or NULL
 */
static char *qom_get(struct lab_incus *vm, const char *dev, const char *prop, struct cp_error *err)
{
	cp_json *a = cp_json_new_object();
	char path[256];

	lab_fmt(path, sizeof(path), "/machine/peripheral/%s", dev);
	cp_json_set_str(a, "path", path);
	cp_json_set_str(a, "property", prop);
	return qmp_str(vm, "qom-get", a, err);
}

/**
 * netdev_fds() - "a:b:c": the fd numbers `info network` shows for @netdev
 * @vm:		emulator
 * @netdev:	netdev id
 * @out:	output
 * @size:	its size
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int netdev_fds(struct lab_incus *vm, const char *netdev, char *out, size_t size,
		      struct cp_error *err)
{
	cp_json *a = cp_json_new_object();
	cleanup_free char *text = NULL;
	struct hmp_network net = { 0 };
	size_t i, off = 0;

	cp_json_set_str(a, "command-line", "info network");
	text = qmp_str(vm, "human-monitor-command", a, err);
	if (!text || hmp_network_parse(text, &net, err) < 0)
		return -1;
	out[0] = '\0';
	for (i = 0; i < net.n; i++)
		if (!strcmp(net.clients[i].name, netdev) && net.clients[i].fd >= 0 && off < size)
			off += (size_t)snprintf(out + off, size - off, "%s%d", off ? ":" : "",
						net.clients[i].fd);
	hmp_network_free(&net);
	return off ? 0 : cp_error_set(err, CP_ERR_FAILED, "no fds for %s in: %s", netdev, text);
}

/**
 * lab_seed_remap() - the write-up's remap_network() for one NIC
 * @vm:		emulator
 * @dev:	Incus's NIC id
 * @net_id:	the write-up's counter (usb-net "net<N>", port N + 3)
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
int lab_seed_remap(struct lab_incus *vm, const char *dev, int net_id, struct cp_error *err)
{
	cleanup_free char *netdev = qom_get(vm, dev, "netdev", err);
	cleanup_free char *mac = netdev ? qom_get(vm, dev, "mac", err) : NULL;
	char fds[256], name[32], port[16];
	cp_json *a;

	if (!mac || netdev_fds(vm, netdev, fds, sizeof(fds), err) < 0)
		return -1;
	lab_fmt(name, sizeof(name), "net%d", net_id);
	a = cp_json_new_object();
	cp_json_set_str(a, "type", "tap");
	cp_json_set_str(a, "id", name);
	cp_json_set_str(a, "fds", fds);
	if (call(vm, "netdev_add", a, err) < 0)
		return -1;
	a = cp_json_new_object();
	cp_json_set_str(a, "driver", "usb-net");
	cp_json_set_str(a, "id", name);
	cp_json_set_str(a, "netdev", name);
	cp_json_set_str(a, "mac", mac);
	cp_json_set_str(a, "bus", "qemu_usb.0");
	lab_fmt(port, sizeof(port), "%d", net_id + 3);
	cp_json_set_str(a, "port", port); /* the write-up passes an int: 10.0 wants a string */
	if (call(vm, "device_add", a, err) < 0)
		return -1;
	a = cp_json_new_object();
	cp_json_set_str(a, "name", dev);
	cp_json_set_bool(a, "up", false);
	if (call(vm, "set_link", a, err) < 0)
		return -1;
	a = cp_json_new_object();
	cp_json_set_str(a, "id", dev);
	return call(vm, "device_del", a, err);
}

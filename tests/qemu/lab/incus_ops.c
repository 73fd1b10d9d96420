/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What Incus does to a running VM (incus-qmp.md §6): block_resize, disk
 * hot-unplug (remove-fd, device_del, blockdev-del retried while "in use"),
 * set_link, NIC hot-unplug (device_del, netdev_del, query-pci poll); and the
 * emulator's accessors.
 */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coldplug/cleanup.h"
#include "coldplug/qmp.h"
#include "incus_priv.h"
#include "run.h"
#include "util.h"

#define DETACH_RETRY_MS	   2000
#define NIC_DETACH_WAIT_MS 10000

/**
 * lab_incus_block_resize() - the `size` live update: block_resize
 * @vm:		emulator
 * @disk:	Incus device name
 * @size:	new size in bytes
 * @err:	filled on failure
 *
 * Incus derives the node from the device id (SplitN(devID, "-", 2)[1]), so
 * the node is incus_<esc>, unhashed.
 *
 * Return: 0, or -1
 */
int lab_incus_block_resize(struct lab_incus *vm, const char *disk, uint64_t size,
			   struct cp_error *err)
{
	cp_json *args = cp_json_new_object();
	char id[160];

	lab_incus_device_id(disk, id, sizeof(id));
	cp_json_set_str(args, "node-name", strchr(id, '-') + 1);
	cp_json_set_int(args, "size", (int64_t)size);
	return incus_call_ok(vm, "block_resize", args, err);
}

/**
 * chain_nodes() - fetchBlockDeviceChain(): <node>[_backingN|_overlayN]
 * @vm:		emulator
 * @node:	the disk's node name
 * @out:	filled with the matching node names (caller frees each)
 * @n:		set to their count
 * @max:	capacity
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int chain_nodes(struct lab_incus *vm, const char *node, char **out, size_t *n, size_t max,
		       struct cp_error *err)
{
	cleanup_json cp_json *nodes = incus_call(vm, "query-named-block-nodes", NULL, NULL, 0, err);
	char pattern[256];
	regex_t re;
	size_t i;

	*n = 0;
	if (!nodes)
		return cp_error_prefix(err, "Failed fetching block nodes names");
	lab_fmt(pattern, sizeof(pattern), "^%s(_backing[0-9]+|_overlay[0-9]+)?$", node);
	if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
		return cp_error_set(err, CP_ERR_INVALID, "bad node name %s", node);
	for (i = 0; i < cp_json_len(nodes) && *n < max; i++) {
		const char *name = cp_json_get_str(cp_json_at(nodes, i), "node-name");

		if (name && regexec(&re, name, 0, NULL, 0) == 0)
			out[(*n)++] = strdup(name);
	}
	regfree(&re);
	return 0;
}

/**
 * remove_fdsets() - RemoveFDFromFDSet(): remove-fd every fdset whose opaque
 * names @node
 * @vm:		emulator
 * @node:	node name
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int remove_fdsets(struct lab_incus *vm, const char *node, struct cp_error *err)
{
	cleanup_json cp_json *sets = incus_call(vm, "query-fdsets", NULL, NULL, 0, err);
	size_t i, j;

	if (!sets)
		return cp_error_prefix(err, "Failed to query fd sets");
	for (i = 0; i < cp_json_len(sets); i++) {
		cp_json *set = cp_json_at(sets, i), *fds = cp_json_get_array(set, "fds");
		int64_t id = -1;

		cp_json_get_int(set, "fdset-id", &id);
		for (j = 0; j < cp_json_len(fds); j++) {
			const char *op = cp_json_get_str(cp_json_at(fds, j), "opaque");
			const char *colon = op ? strchr(op, ':') : NULL;
			cp_json *args;

			if (!op || strcmp(colon ? colon + 1 : op, node))
				continue;
			args = cp_json_new_object();
			cp_json_set_int(args, "fdset-id", id);
			if (incus_call_ok(vm, "remove-fd", args, err) < 0)
				return cp_error_prefix(err, "Failed to remove fd from fd set");
		}
	}
	return 0;
}

/**
 * remove_device() - RemoveDevice(): device_del, "not found" is success
 * @vm:		emulator
 * @id:		qdev id
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int remove_device(struct lab_incus *vm, const char *id, struct cp_error *err)
{
	cp_json *args = cp_json_new_object();

	cp_json_set_str(args, "id", id);
	if (incus_call_ok(vm, "device_del", args, err) < 0 && !strstr(err->msg, "not found"))
		return -1;
	return 0;
}

/**
 * blockdev_del_wait() - detachBlockDeviceAndWait(): blockdev-del, retried
 * every 2 s while "is in use"; "Failed to find" is success
 * @vm:		emulator
 * @node:	node name
 * @max_retries: bound (Incus has none)
 * @retries:	incremented per retry
 * @err:	filled on failure
 *
 * Return: 0, or -1 (CP_ERR_TIMEOUT after @max_retries)
 */
static int blockdev_del_wait(struct lab_incus *vm, const char *node, unsigned max_retries,
			     unsigned *retries, struct cp_error *err)
{
	for (;;) {
		cp_json *args = cp_json_new_object();

		cp_json_set_str(args, "node-name", node);
		if (incus_call_ok(vm, "blockdev-del", args, err) == 0 ||
		    strstr(err->msg, "Failed to find"))
			return 0;
		if (!strstr(err->msg, "is in use"))
			return cp_error_prefix(err, "Failed removing block device");
		if (*retries >= max_retries)
			return cp_error_set(err, CP_ERR_TIMEOUT,
					    "blockdev-del %s: still in use after %u retries (Incus "
					    "would retry forever)",
					    node, *retries);
		(*retries)++;
		lab_sleep_ms(DETACH_RETRY_MS);
	}
}

/**
 * lab_incus_disk_detach() - deviceDetachBlockDevice(): disk hot-unplug
 * @vm:		emulator
 * @disk:	Incus device name
 * @max_retries: how many "is in use" retries (2 s apart) before giving up
 * @retries:	set to the retries made, may be NULL
 * @err:	filled on failure
 *
 * query-named-block-nodes; for each chain node (last first) query-fdsets +
 * remove-fd; device_del (and usb_<id> for usb); blockdev-del per node.
 *
 * Return: 0, or -1
 */
int lab_incus_disk_detach(struct lab_incus *vm, const char *disk, unsigned max_retries,
			  unsigned *retries, struct cp_error *err)
{
	struct lab_disk *d = incus_find_disk(vm, disk);
	char node[96], id[160], usb[200], *chain[16];
	unsigned r = 0;
	size_t n = 0, i;
	int rc = 0;

	if (!d || d->spec.root)
		return cp_error_set(err, CP_ERR_INVALID, "%s: not a detachable disk", disk);
	lab_incus_node_name(d->name, node, sizeof(node));
	lab_incus_device_id(d->name, id, sizeof(id));
	if (chain_nodes(vm, node, chain, &n, CP_ARRAY_SIZE(chain), err) < 0)
		return -1;
	for (i = n; rc == 0 && i > 0; i--)
		rc = remove_fdsets(vm, chain[i - 1], err);
	if (rc == 0)
		rc = remove_device(vm, id, err);
	lab_fmt(usb, sizeof(usb), "usb_%s", id);
	if (rc == 0 && d->spec.bus == LAB_DISK_USB)
		rc = remove_device(vm, usb, err);
	for (i = n; rc == 0 && i > 0; i--)
		rc = blockdev_del_wait(vm, chain[i - 1], max_retries, &r, err);
	for (i = 0; i < n; i++)
		free(chain[i]);
	if (retries)
		*retries = r;
	return rc;
}

/**
 * lab_incus_nic_set_link() - the `connected` live update: set_link
 * @vm:		emulator
 * @nic:	Incus device name
 * @up:		link state
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
int lab_incus_nic_set_link(struct lab_incus *vm, const char *nic, bool up, struct cp_error *err)
{
	cp_json *args = cp_json_new_object();
	char id[160];

	lab_incus_device_id(nic, id, sizeof(id));
	cp_json_set_str(args, "name", id);
	cp_json_set_bool(args, "up", up);
	return incus_call_ok(vm, "set_link", args, err);
}

/**
 * pci_has_device() - CheckPCIDevice(): @id behind any bridge in query-pci
 * @vm:		emulator
 * @id:		qdev id
 * @found:	set
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int pci_has_device(struct lab_incus *vm, const char *id, bool *found, struct cp_error *err)
{
	cleanup_json cp_json *pci = incus_call(vm, "query-pci", NULL, NULL, 0, err);
	cp_json *devs = pci ? cp_json_get_array(cp_json_at(pci, 0), "devices") : NULL;
	size_t i, j;

	if (!pci)
		return cp_error_prefix(err, "Failed getting PCI devices to check for NIC detach");
	*found = false;
	for (i = 0; i < cp_json_len(devs); i++) {
		cp_json *under = cp_json_get_array(
			cp_json_get_object(cp_json_at(devs, i), "pci_bridge"), "devices");

		for (j = 0; j < cp_json_len(under); j++)
			if (cp_streq(cp_json_get_str(cp_json_at(under, j), "qdev_id"), id))
				*found = true;
	}
	return 0;
}

/**
 * lab_incus_nic_detach() - deviceDetachNIC(): NIC hot-unplug
 * @vm:		emulator
 * @nic:	Incus device name
 * @err:	filled on failure
 *
 * device_del and netdev_del ("not found" is success for both), then
 * query-pci every 2 s for up to 10 s until the device is gone.
 *
 * Return: 0, or -1
 */
int lab_incus_nic_detach(struct lab_incus *vm, const char *nic, struct cp_error *err)
{
	int64_t until = cp_now_ms() + NIC_DETACH_WAIT_MS;
	char id[160], esc[128], netdev[140];
	cp_json *args;
	bool found = true;

	lab_incus_device_id(nic, id, sizeof(id));
	lab_incus_escape(nic, esc, sizeof(esc));
	lab_fmt(netdev, sizeof(netdev), "incus_%s", esc);
	if (remove_device(vm, id, err) < 0)
		return cp_error_prefix(err, "Failed removing NIC device");
	args = cp_json_new_object();
	cp_json_set_str(args, "id", netdev);
	if (incus_call_ok(vm, "netdev_del", args, err) < 0 && !strstr(err->msg, "not found"))
		return cp_error_prefix(err, "Failed removing NIC netdev");
	for (;;) {
		if (pci_has_device(vm, id, &found, err) < 0)
			return -1;
		if (!found)
			return 0;
		if (cp_now_ms() > until)
			return cp_error_set(err, CP_ERR_TIMEOUT, "Failed to detach NIC after 10s");
		lab_sleep_ms(DETACH_RETRY_MS);
	}
}

/**
 * lab_incus_qmp() - Incus's own QMP connection
 * @vm:	emulator
 *
 * Prefer lab_incus_call(), which keeps the trace's ids exact.
 *
 * Return: borrowed client, NULL before launch
 */
struct qmp_client *lab_incus_qmp(struct lab_incus *vm)
{
	return vm->qmp;
}

/**
 * lab_incus_coldplug_qmp() - path of the second monitor (for coldplug)
 * @vm:	emulator
 *
 * Return: borrowed path (a listening socket only without no_second_qmp)
 */
const char *lab_incus_coldplug_qmp(const struct lab_incus *vm)
{
	return vm->coldplug_qmp;
}

/**
 * lab_incus_dir() - the VM's scratch directory (qemu.conf, logs, images)
 * @vm:	emulator
 *
 * Return: borrowed path
 */
const char *lab_incus_dir(const struct lab_incus *vm)
{
	return vm->dir;
}

/**
 * lab_incus_conf_path() - the generated qemu.conf
 * @vm:	emulator
 *
 * Return: borrowed path (written at launch)
 */
const char *lab_incus_conf_path(const struct lab_incus *vm)
{
	return vm->conf_path;
}

/**
 * lab_incus_conf_sections() - the qemu.conf sections QEMU was given
 * @vm:	emulator
 *
 * Return: borrowed [{"name","comment","entries"}] after raw.qemu.conf and
 * the config stage, or NULL before the launch; valid until lab_incus_free()
 */
const cp_json *lab_incus_conf_sections(const struct lab_incus *vm)
{
	return vm->sections;
}

/**
 * lab_incus_cmdline() - QEMU's arguments after the binary (Incus's cmdArgs)
 * @vm:	emulator
 *
 * Return: borrowed list of strings after the config stage, or NULL before
 * the launch; valid until lab_incus_free()
 */
const cp_json *lab_incus_cmdline(const struct lab_incus *vm)
{
	return vm->cmdline;
}

/**
 * lab_incus_scriptlet_log() - what the scriptlet's runs logged
 * @vm:	emulator
 *
 * Every stage's log_info/log_warn/log_error lines (logrus text, as incusd
 * writes them), its QMP commands and replies ("QUERY:", "REPLY:") and the
 * runner's error lines, in order; also in DIR/scriptlet.log.
 *
 * Return: borrowed text ("" if none)
 */
const char *lab_incus_scriptlet_log(const struct lab_incus *vm)
{
	return vm->scriptlet_log ? vm->scriptlet_log : "";
}

/**
 * lab_incus_qemu_log() - QEMU's stdout and stderr
 * @vm:	emulator
 *
 * Return: borrowed path
 */
const char *lab_incus_qemu_log(const struct lab_incus *vm)
{
	return vm->qemu_log;
}

/**
 * lab_incus_qemu_version() - QEMU's version, e.g. "7.2.22"
 * @vm:	emulator
 *
 * Return: borrowed string
 */
const char *lab_incus_qemu_version(const struct lab_incus *vm)
{
	return vm->qemu_version;
}

/**
 * lab_incus_pid() - QEMU's pid
 * @vm:	emulator
 *
 * Return: pid, 0 before launch
 */
pid_t lab_incus_pid(const struct lab_incus *vm)
{
	return vm->proc.pid;
}

/**
 * lab_incus_running() - whether QEMU is still running (reaps it if not)
 * @vm:	emulator
 *
 * Return: true while it runs
 */
bool lab_incus_running(struct lab_incus *vm)
{
	return vm->started && !vm->proc.reaped && lab_proc_reap(&vm->proc, 0, NULL) < 0;
}

/**
 * lab_incus_net() - the test network the VM's taps are on
 * @vm:	emulator
 *
 * Return: borrowed network, NULL if the VM has none
 */
struct lab_net *lab_incus_net(const struct lab_incus *vm)
{
	return vm->net;
}

/**
 * lab_incus_take_console() - take over the connected serial console socket
 * @vm:	emulator (launched)
 *
 * Return: the descriptor (the caller closes it), or -1 if already taken
 */
int lab_incus_take_console(struct lab_incus *vm)
{
	return steal_fd(&vm->console_fd);
}

/**
 * lab_incus_vcpus() - vCPUs the VM has (after the CPU hotplug)
 * @vm:	emulator
 *
 * Return: the count
 */
unsigned lab_incus_vcpus(const struct lab_incus *vm)
{
	return vm->vcpus_now ? vm->vcpus_now : vm->opts.vcpus;
}

/**
 * lab_incus_tcg_abort() - whether QEMU died of the known TCG assertion
 * @vm:	emulator
 *
 * QEMU 10.0.2 under TCG with several vCPUs sometimes aborts right after
 * `cont` (iotlb_to_section: Assertion 'section_index < d->map.sections_nb',
 * qemu-notes §9): an emulation bug, not the test's. Tests retry once.
 *
 * Return: true if QEMU's log shows it
 */
bool lab_incus_tcg_abort(const struct lab_incus *vm)
{
	cleanup_free char *log = lab_read_file(vm->qemu_log, 4 << 20, NULL);

	return log && strstr(log, "iotlb_to_section");
}

/**
 * lab_incus_disk_image() - the raw image behind a disk
 * @vm:		emulator
 * @disk:	Incus device name
 *
 * Return: borrowed path, NULL for an unknown disk
 */
const char *lab_incus_disk_image(const struct lab_incus *vm, const char *disk)
{
	const struct lab_disk *d = incus_find_disk(vm, disk);

	return d ? d->image : NULL;
}

/**
 * lab_incus_disk_size() - a disk's size in bytes
 * @vm:		emulator
 * @disk:	Incus device name
 *
 * Return: bytes, 0 for an unknown disk
 */
uint64_t lab_incus_disk_size(const struct lab_incus *vm, const char *disk)
{
	const struct lab_disk *d = incus_find_disk(vm, disk);

	return d ? d->size : 0;
}

/**
 * lab_incus_nic_tap() - the host tap of a NIC (in the VM namespace)
 * @vm:		emulator
 * @nic:	Incus device name
 *
 * Return: borrowed name, NULL for an unknown NIC ("" before launch)
 */
const char *lab_incus_nic_tap(const struct lab_incus *vm, const char *nic)
{
	const struct lab_nic *n = incus_find_nic(vm, nic);

	return n ? n->tap : NULL;
}

/**
 * lab_incus_nic_mac() - a NIC's hwaddr
 * @vm:		emulator
 * @nic:	Incus device name
 *
 * Return: borrowed string, NULL for an unknown NIC
 */
const char *lab_incus_nic_mac(const struct lab_incus *vm, const char *nic)
{
	const struct lab_nic *n = incus_find_nic(vm, nic);

	return n ? n->hwaddr : NULL;
}

/**
 * lab_incus_nic_ip() - the address the guest puts on a NIC (cp.net)
 * @vm:		emulator
 * @nic:	Incus device name
 * @buf:	output, e.g. "10.77.0.10"
 * @size:	its size
 *
 * Return: 0, or -1 for an unknown NIC or a VM without network
 */
int lab_incus_nic_ip(const struct lab_incus *vm, const char *nic, char *buf, size_t size)
{
	const struct lab_nic *n = incus_find_nic(vm, nic);

	if (!n || !vm->net)
		return -1;
	lab_net_guest_ip(vm->net, n->index, buf, size);
	return 0;
}

/**
 * lab_incus_trace_len() - how many QMP messages were recorded
 * @vm:	emulator
 *
 * Return: the count
 */
size_t lab_incus_trace_len(const struct lab_incus *vm)
{
	return vm->ntrace;
}

/**
 * lab_incus_trace_at() - one recorded message
 * @vm:	emulator
 * @i:	index, < lab_incus_trace_len()
 *
 * Return: borrowed record
 */
const struct lab_qmp_record *lab_incus_trace_at(const struct lab_incus *vm, size_t i)
{
	return i < vm->ntrace ? &vm->trace[i] : NULL;
}

/**
 * lab_incus_trace_path() - DIR/qmp.log, one JSON object per message
 * @vm:	emulator
 *
 * Return: borrowed path
 */
const char *lab_incus_trace_path(const struct lab_incus *vm)
{
	return vm->trace_path;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The QEMU configuration generator: see coldplug/qconf.h.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coldplug/cleanup.h"
#include "config.h"
#include "coldplug/macos.h"
#include "coldplug/qconf.h"
#include "coldplug/stub.h"
#include "names.h"
#include "qconf_section.h"
#include "util.h"

/* Incus's override syntax appends a section for a [name][idx] it does not
 * have; anonymous sections get indexes from here so they never overwrite
 * one of Incus's own (it has two [global] sections, for instance). */
#define QCONF_INCUS_FIRST_INDEX 100

/**
 * qconf_opts_init() - defaults: 8 disk slots, the hotplug global
 * @o:	options to initialise
 */
void qconf_opts_init(struct qconf_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->disk_slots = 8;
	o->nic_queues = 2;
	o->hotplug_global = true;
}

/**
 * qconf_nic_model() - the NIC slots' model
 * @o:	options
 *
 * Return: @o->nic_model if set, else the macOS version's model with
 * @o->macos, else virtio-net-pci (borrowed or static)
 */
const char *qconf_nic_model(const struct qconf_opts *o)
{
	if (o->nic_model)
		return o->nic_model;
	return o->macos ? macos_nic_model(o->macos) : "virtio-net-pci";
}

/**
 * qconf_mac_valid() - a unicast MAC written aa:bb:cc:dd:ee:ff
 * @mac:	text
 *
 * Return: true if valid
 */
bool qconf_mac_valid(const char *mac)
{
	int i;

	if (strlen(mac) != 17)
		return false;
	for (i = 0; i < 17; i++)
		if (i % 3 == 2 ? mac[i] != ':' : !isxdigit((unsigned char)mac[i]))
			return false;
	/* The group bit is the low bit of the first octet's second digit. */
	return !(strtoul((char[]){ mac[1], '\0' }, NULL, 16) & 1);
}

/**
 * qconf_validate() - check options, with a message that says what to change
 * @o:		options
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
int qconf_validate(const struct qconf_opts *o, struct cp_error *err)
{
	static const char *const models[] = { "virtio-net-pci", "vmxnet3", "e1000-82545em" };
	const char *model = qconf_nic_model(o);
	bool model_ok = false;
	size_t i, j;

	if (o->disk_slots > NAMES_MAX_DISK_SLOTS)
		return cp_error_set(err, CP_ERR_INVALID,
				    "at most %d disk slots (PCI slots 0x10-0x1b)",
				    NAMES_MAX_DISK_SLOTS);
	if (o->nic_slots > NAMES_MAX_NIC_SLOTS || o->nmacs > o->nic_slots)
		return cp_error_set(
			err, CP_ERR_INVALID,
			"at most %d NIC slots (PCI slots 0x1c-0x1e), and one per --nic-mac",
			NAMES_MAX_NIC_SLOTS);
	for (i = 0; i < CP_ARRAY_SIZE(models); i++)
		model_ok |= !strcmp(model, models[i]);
	if (!model_ok)
		return cp_error_set(err, CP_ERR_INVALID,
				    "NIC model '%s': use virtio-net-pci (macOS 11+), vmxnet3 "
				    "(macOS 10.11+) or e1000-82545em",
				    model);
	if (o->nic_queues < 1 || o->nic_queues > QCONF_MAX_NIC_QUEUES)
		return cp_error_set(err, CP_ERR_INVALID, "--nic-queues %u: use 1 to %d",
				    o->nic_queues, QCONF_MAX_NIC_QUEUES);
	for (i = 0; i < o->nmacs; i++) {
		const char *tap = o->macs[i].tap;

		if (tap && strcmp(model, "virtio-net-pci"))
			return cp_error_set(
				err, CP_ERR_INVALID,
				"--nic-tap %s=%s: only a virtio-net-pci slot opens the manager's "
				"tap directly (Incus's taps are multi-queue, QEMU opens such a tap "
				"with 2 queues or more, and %s serves only the first: the "
				"host-to-guest flows the kernel puts on the others are lost); "
				"leave out --nic-tap for the %s slot, which then sits behind a net hub",
				o->macs[i].name, tap, model, model);
		if (tap && (!*tap || strlen(tap) >= 16 || strpbrk(tap, " \t\n\"'\\,=/")))
			return cp_error_set(err, CP_ERR_INVALID,
					    "--nic-tap %s=%s: not an interface name (at most 15 "
					    "characters, no spaces, quotes, commas or slashes)",
					    o->macs[i].name, tap);
		if (!qconf_mac_valid(o->macs[i].mac))
			return cp_error_set(
				err, CP_ERR_INVALID,
				"--nic-mac %s=%s: not a unicast MAC like 10:66:6a:01:02:03",
				o->macs[i].name, o->macs[i].mac);
		for (j = 0; j < i; j++)
			if (!strcasecmp(o->macs[i].mac, o->macs[j].mac))
				return cp_error_set(err, CP_ERR_INVALID, "MAC %s given twice",
						    o->macs[i].mac);
	}
	return o->macos ? macos_validate(o->macos, o->disk_slots, o->nic_slots, o->nic_model, err)
			: 0;
}

/**
 * add_hotplug_global() - native PCIe hotplug, so device_del completes while paused
 * @q:	configuration
 */
static void add_hotplug_global(struct qconf *q)
{
	static const struct qconf_kv kv[] = {
		{ "driver", "ICH9-LPC" },
		{ "property", "acpi-pci-hotplug-with-bridge-support" },
		{ "value", "off" },
	};
	struct qconf_section *s = qconf_section_add(
		q, "global", NULL,
		"Native PCIe hotplug instead of ACPI: device_del of a hot-plugged PCI\n"
		"device then completes while the VM is paused (ACPI hotplug waits for\n"
		"a guest). OSX-KVM, quickemu and Proxmox macOS guides set it too.");

	qconf_section_set_table(q, s, kv, CP_ARRAY_SIZE(kv));
}

/**
 * add_disk_slot() - placeholder BlockBackend and virtio-blk frontend N
 * @q:	configuration
 * @i:	slot number
 */
static void add_disk_slot(struct qconf *q, unsigned i)
{
	static const struct qconf_kv placeholder[] = {
		{ "if", "none" },
		{ "driver", "null-co" },
		{ "size", "0" },
		{ "read-zeroes", "on" },
	};
	char drive[32];
	struct qconf_section *s;

	snprintf(drive, sizeof(drive), NAMES_DISK_SLOT "%u", i);
	s = qconf_section_addf(
		q, "drive", drive,
		"Disk slot %u: an empty, writable placeholder until coldplug attaches\n"
		"the manager's own block node to it.",
		i);
	qconf_section_set_table(q, s, placeholder, CP_ARRAY_SIZE(placeholder));
	qconf_section_set(q, s, "node-name", NAMES_DISK_PLACEHOLDER "%u", i);
	s = qconf_section_add(q, "device", NULL, NULL);
	qconf_section_set(q, s, "driver", "virtio-blk-pci");
	qconf_section_set(q, s, "drive", "%s", drive);
	qconf_section_set(q, s, "serial", "%s", drive);
	qconf_section_set(q, s, "bus", "pcie.0");
	qconf_section_set(q, s, "addr", "%02x.0", NAMES_DISK_SLOT_ADDR + i);
}

/**
 * add_nic_netdev() - the netdev of NIC slot N: the manager's tap opened by
 * name (direct), or a port of net hub N
 * @q:		configuration
 * @o:		options (model, MACs, queues, vhost)
 * @m:		the slot's MAC and tap, or NULL
 * @i:		slot number
 * @id:		the netdev's id
 */
static void add_nic_netdev(struct qconf *q, const struct qconf_opts *o,
			   const struct qconf_nic_mac *m, unsigned i, const char *id)
{
	static const struct qconf_kv no_scripts[] = {
		{ "script", "no" },
		{ "downscript", "no" },
	};
	struct qconf_section *s;

	if (m && m->tap) {
		s = qconf_section_addf(
			q, "netdev", id,
			"NIC slot %u for %s: a %s on the manager's own tap %s, %u "
			"queues,\n"
			"opened by QEMU at start (the tap must exist then: QEMU would "
			"create\n"
			"an unbridged one, which coldplug refuses). At pre-start coldplug\n"
			"removes the manager's NIC; the tap keeps this slot's queues only.\n"
			"Its MAC must be the manager's (%s).",
			i, m->name, qconf_nic_model(o), m->tap, o->nic_queues, m->mac);
		qconf_section_set(q, s, "type", "tap");
		qconf_section_set(q, s, "ifname", "%s", m->tap);
		qconf_section_set_table(q, s, no_scripts, CP_ARRAY_SIZE(no_scripts));
		qconf_section_set(q, s, "queues", "%u", o->nic_queues);
		qconf_section_set(q, s, "vhost", o->vhost ? "on" : "off");
		return;
	}
	s = qconf_section_addf(
		q, "netdev", id,
		"NIC slot %u%s%s: a %s behind net hub %u; coldplug plugs a fresh\n"
		"single queue of the manager's tap into the hub. Its MAC must be the\n"
		"manager's (%s).",
		i, m ? " for " : "", m ? m->name : "", qconf_nic_model(o), i,
		m ? m->mac : "set one with --nic-mac");
	qconf_section_set(q, s, "type", "hubport");
	qconf_section_set(q, s, "hubid", "%u", i);
}

/**
 * add_nic_slot() - NIC slot N: its netdev and its PCI NIC
 * @q:	configuration
 * @o:	options (model, MACs, taps)
 * @i:	slot number
 */
static void add_nic_slot(struct qconf *q, const struct qconf_opts *o, unsigned i)
{
	const struct qconf_nic_mac *m = i < o->nmacs ? &o->macs[i] : NULL;
	struct qconf_section *s;
	char id[32];

	snprintf(id, sizeof(id), NAMES_NIC_SLOT "%u", i);
	add_nic_netdev(q, o, m, i, id);
	s = qconf_section_add(q, "device", NULL, NULL);
	qconf_section_set(q, s, "driver", "%s", qconf_nic_model(o));
	qconf_section_set(q, s, "netdev", "%s", id);
	if (m)
		qconf_section_set(q, s, "mac", "%s", m->mac);
	qconf_section_set(q, s, "bus", "pcie.0");
	qconf_section_set(q, s, "addr", "%02x.0", NAMES_NIC_SLOT_ADDR + i);
	if (m && m->tap && o->nic_queues > 1) {
		qconf_section_set(q, s, "mq", "on");
		qconf_section_set(q, s, "vectors", "%u", 2 * o->nic_queues + 2);
	}
}

/**
 * add_monitor() - the second QMP monitor, QEMU as the client of the daemon
 * @q:	configuration
 * @m:	monitor options
 */
static void add_monitor(struct qconf *q, const struct qconf_monitor *m)
{
	struct qconf_section *s = qconf_section_add(
		q, "chardev", STUB_MONITOR,
		"A second QMP monitor that dials coldplug serve (QEMU is the client,\n"
		"and retries while the daemon is not there).");

	qconf_section_set(q, s, "backend", "socket");
	qconf_section_set(q, s, "path", "%s", m->socket);
	qconf_section_set(q, s, "server", "off");
	if (m->use_reconnect_ms)
		qconf_section_set(q, s, "reconnect-ms", "%u", m->reconnect_ms);
	else
		qconf_section_set(q, s, "reconnect", "%u", (m->reconnect_ms + 999) / 1000);
	s = qconf_section_add(q, "mon", STUB_MONITOR, NULL);
	qconf_section_set(q, s, "chardev", STUB_MONITOR);
	qconf_section_set(q, s, "mode", "control");
	s = qconf_section_add(
		q, "chardev", STUB_STATUS_CHARDEV,
		"Where coldplug serve writes its status lines (\"running\", \"done: ...\",\n"
		"\"failed: ...\") for the Incus scriptlet to read.");
	qconf_section_set(q, s, "backend", "ringbuf");
	qconf_section_set(q, s, "size", "%u", STUB_STATUS_RINGBUF);
}

/**
 * qconf_build() - the section list for @o
 * @o:		options
 * @err:	filled on failure
 *
 * Return: new configuration (qconf_free()), or NULL
 */
struct qconf *qconf_build(const struct qconf_opts *o, struct cp_error *err)
{
	struct qconf *q;
	unsigned i;

	if (qconf_validate(o, err) < 0)
		return NULL;
	q = cp_calloc(1, sizeof(*q), err);
	if (!q)
		return NULL;
	if (o->macos)
		macos_conf_remove(q, o->macos);
	if (o->hotplug_global)
		add_hotplug_global(q);
	if (o->macos)
		macos_conf_add(q, o->macos);
	for (i = 0; i < o->disk_slots; i++)
		add_disk_slot(q, i);
	for (i = 0; i < o->nic_slots; i++)
		add_nic_slot(q, o, i);
	if (o->monitor)
		add_monitor(q, o->monitor);
	if (q->failed) {
		cp_error_copy(err, &q->err);
		qconf_free(q);
		return NULL;
	}
	return q;
}

/**
 * qconf_free() - free a configuration, wiping its values
 * @q:	configuration, may be NULL
 */
void qconf_free(struct qconf *q)
{
	size_t i;

	if (!q)
		return;
	for (i = 0; i < q->n; i++) {
		/* an entry may hold the OSK (macos.c add_smc()) */
		if (q->s[i].entries)
			explicit_bzero(q->s[i].entries, q->s[i].n * sizeof(*q->s[i].entries));
		free(q->s[i].entries);
		free(q->s[i].comment);
	}
	free(q->s);
	free(q);
}

/**
 * render_comment() - "# line" for each line of a comment
 * @f:		output
 * @comment:	text with \n between lines
 */
static void render_comment(FILE *f, const char *comment)
{
	const char *p = comment;

	while (*p) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);

		fprintf(f, "# %.*s\n", len, p);
		p += len + (nl ? 1 : 0);
	}
}

/**
 * render_section() - one section in the chosen format
 * @f:		output
 * @s:		section
 * @fmt:	format
 * @anon:	per-group counters of anonymous sections (Incus indexes)
 */
static void render_section(FILE *f, const struct qconf_section *s, enum qconf_format fmt,
			   unsigned *anon)
{
	const char *indent = fmt == QCONF_READCONFIG ? "  " : "";
	size_t i;

	if (fmt == QCONF_READCONFIG && s->remove)
		return;
	if (fmt == QCONF_READCONFIG) {
		fprintf(f, "\n");
		render_comment(f, s->comment);
	}
	if (*s->id)
		fprintf(f, "[%s \"%s\"]\n", s->group, s->id);
	else if (fmt == QCONF_INCUS)
		fprintf(f, "[%s][%u]\n", s->group, QCONF_INCUS_FIRST_INDEX + (*anon)++);
	else
		fprintf(f, "[%s]\n", s->group);
	for (i = 0; i < s->n; i++)
		fprintf(f, "%s%s = \"%s\"\n", indent, s->entries[i].key, s->entries[i].value);
}

/**
 * group_counter() - the anonymous-section counter of a group
 * @counters:	array of 8 counters
 * @names:	array of 8 group names seen so far
 * @group:	the group
 *
 * Return: pointer to its counter
 */
static unsigned *group_counter(unsigned *counters, const char **names, const char *group)
{
	int i;

	for (i = 0; i < 7 && names[i]; i++)
		if (!strcmp(names[i], group))
			return &counters[i];
	names[i] = group;
	return &counters[i];
}

/**
 * qconf_render() - the configuration as text
 * @q:		configuration
 * @fmt:	format
 * @err:	filled on failure
 *
 * Return: new string (caller frees), or NULL
 */
char *qconf_render(const struct qconf *q, enum qconf_format fmt, struct cp_error *err)
{
	unsigned counters[8] = { 0 };
	const char *names[8] = { 0 };
	char *text = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory"), NULL;
	if (fmt == QCONF_READCONFIG)
		fprintf(f,
			"# Generated by coldplug %s: cold-plugged frontends for the devices\n"
			"# coldplug re-homes (coldplug rehome, coldplug serve). Load it with\n"
			"# qemu-system-x86_64 -readconfig FILE. See 'coldplug qemu-conf --help'.\n",
			COLDPLUG_VERSION);
	for (i = 0; i < q->n; i++)
		render_section(f, &q->s[i], fmt, group_counter(counters, names, q->s[i].group));
	if (fclose(f) != 0 || !text) {
		free(text);
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory"), NULL;
	}
	return text;
}

/**
 * qconf_generate() - build and render in one call
 * @o:		options
 * @fmt:	format
 * @err:	filled on failure
 *
 * Return: new string (caller frees), or NULL
 */
char *qconf_generate(const struct qconf_opts *o, enum qconf_format fmt, struct cp_error *err)
{
	struct qconf *q;
	char *text;

	if (o->macos && o->macos->format != fmt)
		return cp_error_set(err, CP_ERR_INVALID,
				    "the macOS options were made for the other format"),
		       NULL;
	q = qconf_build(o, err);
	if (!q)
		return NULL;
	text = qconf_render(q, fmt, err);
	qconf_free(q);
	return text;
}

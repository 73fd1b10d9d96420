/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * incus-emu: the lab's Incus emulator as a command, for humans and for
 * `make demo`. Starts a VM over real QEMU exactly as Incus would (see
 * incus.h), with a profile's raw.qemu.conf and raw.qemu.scriptlet if given,
 * optionally runs a pre-start command while it is paused, boots the test
 * guest and prints what it sees, measures traffic, and stops.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "coldplug/log.h"
#include "guest.h"
#include "incus.h"
#include "netns.h"
#include "run.h"
#include "util.h"

#define REPORT_TIMEOUT_MS 120000

static const char usage_text[] =
	"usage: incus-emu [OPTIONS]\n"
	"\n"
	"Starts a VM the way Incus does (qemu.conf layout, -S, QMP hotplug of CPUs, NICs\n"
	"and disks with Incus's names and fd passing, pre-start, system_reset, cont) over\n"
	"real QEMU under TCG, inside private network namespaces. Needs root and the lab\n"
	"set up by tests/qemu/prepare.sh BUILD (COLDPLUG_LAB_ENV=BUILD/lab.env).\n"
	"\n"
	"The VM\n"
	"  --qemu 7.2|10.0|PATH     QEMU to run (default 7.2)\n"
	"  --incus 6.0|7.x|7.2|7.3  Incus to emulate (default 7.x = 7.2): 7.3 wraps the root\n"
	"                           disk in qcow2; 6.0 is Debian's 6.0.4 as recorded in\n"
	"                           tests/data/incus-6.0 (SPICE where QEMU has it, qom-get\n"
	"                           type, set-action reboot=shutdown, writable ISOs, state\n"
	"                           polls, an eject for every DEVICE_TRAY_MOVED)\n"
	"  --no-tray-eject          with --incus 6.0: do not answer DEVICE_TRAY_MOVED with an\n"
	"                           eject of that device (7.x never does)\n"
	"  --idle SECONDS           let the started VM run this long before the rest (Incus\n"
	"                           6.0 polls query-status and query-chardev meanwhile)\n"
	"  --name NAME              instance name (default cplab)\n"
	"  --vcpus N                limits.cpu; NICs get max(N, 2) queues (default 1)\n"
	"  --memory MB              limits.memory (default 512)\n"
	"  --disk NAME:BUS:SIZE     a disk; BUS scsi|virtio-blk|nvme|usb, SIZE like 64M;\n"
	"                           the disk named root is the root disk\n"
	"  --iso NAME:SIZE          an ISO volume (scsi-cd, read-only)\n"
	"  --nic NAME:virtio|usb    a bridged NIC (usb = io.bus=usb, still max(N,2) queues)\n"
	"  --extra-conf FILE        one more -readconfig file (repeatable), e.g. coldplug's\n"
	"  --raw WORD               one raw.qemu word, appended last (repeatable)\n"
	"  --pre-start CMD          run CMD (sh -c, in the VM's network namespace) while the VM\n"
	"                           is paused with every device hot-plugged; it finds the second\n"
	"                           QMP monitor in $COLDPLUG_LAB_QMP (before the scriptlet's\n"
	"                           pre-start stage)\n"
	"\n"
	"Incus configuration\n"
	"  --profile FILE           an Incus profile (YAML, e.g. from coldplug incus-profile):\n"
	"                           its raw.qemu.conf and raw.qemu.scriptlet are applied as\n"
	"                           Incus applies them (raw.apparmor is ignored: no AppArmor)\n"
	"  --raw-qemu-conf FILE     raw.qemu.conf (Incus's override syntax), instead of the\n"
	"                           profile's\n"
	"  --scriptlet FILE         raw.qemu.scriptlet (Starlark), instead of the profile's; it\n"
	"                           runs at config, early, pre-start and post-start through\n"
	"                           incus-scriptlet ($COLDPLUG_SCRIPTLET_RUNNER overrides the\n"
	"                           built one) and its log is printed\n"
	"  --project NAME           the instance's project (default default)\n"
	"\n"
	"What to do with it\n"
	"  --boot                   boot the test guest (else QEMU runs SeaBIOS only)\n"
	"  --append TEXT            more guest kernel command line\n"
	"  --report                 print the guest's report (implies --boot)\n"
	"  --ping N                 ping the guest's first NIC N times, 10 ms apart\n"
	"  --udp N                  send N UDP packets in 16 flows to it, count on the guest\n"
	"  --conf                   print the generated qemu.conf\n"
	"  --trace                  print every QMP message Incus's connection carried (the\n"
	"                           scriptlet's included)\n"
	"  --hold                   keep the VM running until Enter is pressed\n"
	"  --keep                   keep the scratch directory\n"
	"  -v, --verbose            library logs on stderr\n"
	"\n"
	"Example:\n"
	"  incus-emu --qemu 7.2 --vcpus 4 --disk root:scsi:64M --disk data:virtio-blk:32M \\\n"
	"            --iso iso:4M --nic eth0:virtio --report --ping 100\n";

/**
 * struct cli - parsed options
 * @o:		emulator options
 * @disks:	disks
 * @ndisks:	their count
 * @nics:	NICs
 * @nnics:	their count
 * @report:	print the report
 * @ping:	ping count
 * @udp:	UDP packet count
 * @conf:	print qemu.conf
 * @trace:	print the QMP trace
 * @hold:	wait for Enter
 * @idle_s:	seconds to let pass after the start
 * @raw_conf:	raw.qemu.conf text (owned)
 * @script:	raw.qemu.scriptlet text (owned)
 * @profile:	the profile's name (owned)
 */
struct cli {
	struct lab_incus_opts o;
	struct lab_disk_spec disks[LAB_INCUS_MAX_DISKS];
	size_t ndisks;
	struct lab_nic_spec nics[LAB_INCUS_MAX_NICS];
	size_t nnics;
	size_t nconf, nraw;
	bool report, conf, trace, hold;
	unsigned ping, udp, idle_s;
	char *raw_conf, *script, *profile;
};

/**
 * parse_size() - "64M", "1G", "4096" to bytes
 * @s:	text
 *
 * Return: bytes, 0 on error
 */
static uint64_t parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	switch (*end) {
	case 'K':
	case 'k':
		v <<= 10;
		end++;
		break;
	case 'M':
	case 'm':
		v <<= 20;
		end++;
		break;
	case 'G':
	case 'g':
		v <<= 30;
		end++;
		break;
	}
	return *end ? 0 : v;
}

/**
 * split3() - "a:b:c" into up to three fields (modifies @s)
 * @s:		text
 * @f:		filled; missing fields are ""
 *
 * Return: number of fields present
 */
static int split3(char *s, char *f[3])
{
	char *save = NULL;
	int n = 0;

	f[0] = f[1] = f[2] = (char *)"";
	for (char *tok = strtok_r(s, ":", &save); tok && n < 3; tok = strtok_r(NULL, ":", &save))
		f[n++] = tok;
	return n;
}

/**
 * opt_disk() - --disk NAME:BUS:SIZE / --iso NAME:SIZE
 * @c:		options
 * @arg:	argument (modified)
 * @iso:	it is --iso
 *
 * Return: 0, or -1 with a message on stderr
 */
static int opt_disk(struct cli *c, char *arg, bool iso)
{
	static const char *const buses[] = { "scsi", "virtio-blk", "nvme", "usb" };
	struct lab_disk_spec *d = &c->disks[c->ndisks];
	char *f[3];
	size_t b;

	if (c->ndisks == LAB_INCUS_MAX_DISKS || split3(arg, f) < (iso ? 2 : 3))
		return fprintf(stderr, "incus-emu: --%s %s: expected %s\n", iso ? "iso" : "disk",
			       arg, iso ? "NAME:SIZE" : "NAME:BUS:SIZE"),
		       -1;
	memset(d, 0, sizeof(*d));
	d->name = f[0];
	d->root = !strcmp(f[0], "root");
	d->cdrom = iso;
	d->size = parse_size(iso ? f[1] : f[2]);
	for (b = 0; !iso && b < CP_ARRAY_SIZE(buses) && strcmp(buses[b], f[1]); b++)
		;
	if (!d->size || b == CP_ARRAY_SIZE(buses))
		return fprintf(stderr, "incus-emu: bad bus or size in '%s'\n", f[0]), -1;
	d->bus = iso ? LAB_DISK_SCSI : (enum lab_disk_bus)b;
	c->ndisks++;
	return 0;
}

/**
 * opt_nic() - --nic NAME:virtio|usb
 * @c:		options
 * @arg:	argument (modified)
 *
 * Return: 0, or -1
 */
static int opt_nic(struct cli *c, char *arg)
{
	struct lab_nic_spec *n = &c->nics[c->nnics];
	char *f[3];

	if (c->nnics == LAB_INCUS_MAX_NICS || split3(arg, f) < 1 ||
	    (f[1][0] && strcmp(f[1], "virtio") && strcmp(f[1], "usb")))
		return fprintf(stderr, "incus-emu: --nic %s: expected NAME:virtio|usb\n", arg), -1;
	memset(n, 0, sizeof(*n));
	n->name = f[0];
	n->bus = strcmp(f[1], "usb") ? LAB_NIC_VIRTIO : LAB_NIC_USB;
	c->nnics++;
	return 0;
}

/**
 * replace_text() - set *@dst to @text, freeing what it held
 * @dst:	owned string
 * @text:	new value (stolen), may be NULL
 */
static void replace_text(char **dst, char *text)
{
	free(*dst);
	*dst = text;
}

/**
 * opt_profile() - --profile FILE: the profile's name and raw.qemu.* keys
 * @c:		options
 * @path:	the YAML file
 *
 * Return: 0, or -1 with a message on stderr
 */
static int opt_profile(struct cli *c, const char *path)
{
	struct cp_error err = { 0 };
	cleanup_free char *yaml = lab_read_file(path, 16 << 20, &err);
	char *name, *conf, *script;

	if (!yaml || lab_incus_profile_read(yaml, strlen(yaml), &name, &conf, &script, &err) < 0)
		return fprintf(stderr, "incus-emu: --profile %s: %s\n", path, err.msg), -1;
	if (!conf && !script)
		fprintf(stderr,
			"incus-emu: note: %s sets neither raw.qemu.conf nor "
			"raw.qemu.scriptlet\n",
			path);
	replace_text(&c->profile, name);
	replace_text(&c->raw_conf, conf);
	replace_text(&c->script, script);
	return 0;
}

/**
 * opt_text_file() - --raw-qemu-conf / --scriptlet FILE
 * @dst:	where the text goes (owned)
 * @path:	the file
 *
 * Return: 0, or -1 with a message on stderr
 */
static int opt_text_file(char **dst, const char *path)
{
	struct cp_error err = { 0 };
	char *text = lab_read_file(path, 16 << 20, &err);

	if (!text)
		return fprintf(stderr, "incus-emu: %s\n", err.msg), -1;
	replace_text(dst, text);
	return 0;
}

enum {
	OPT_QEMU = 256,
	OPT_INCUS,
	OPT_NAME,
	OPT_VCPUS,
	OPT_MEMORY,
	OPT_DISK,
	OPT_ISO,
	OPT_NIC,
	OPT_EXTRA_CONF,
	OPT_RAW,
	OPT_PRE_START,
	OPT_BOOT,
	OPT_APPEND,
	OPT_REPORT,
	OPT_PING,
	OPT_UDP,
	OPT_CONF,
	OPT_TRACE,
	OPT_HOLD,
	OPT_KEEP,
	OPT_PROFILE,
	OPT_RAW_QEMU_CONF,
	OPT_SCRIPTLET,
	OPT_PROJECT,
	OPT_NO_TRAY_EJECT,
	OPT_IDLE,
};

static const struct option long_opts[] = {
	{ "qemu", required_argument, NULL, OPT_QEMU },
	{ "incus", required_argument, NULL, OPT_INCUS },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "vcpus", required_argument, NULL, OPT_VCPUS },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "disk", required_argument, NULL, OPT_DISK },
	{ "iso", required_argument, NULL, OPT_ISO },
	{ "nic", required_argument, NULL, OPT_NIC },
	{ "extra-conf", required_argument, NULL, OPT_EXTRA_CONF },
	{ "raw", required_argument, NULL, OPT_RAW },
	{ "pre-start", required_argument, NULL, OPT_PRE_START },
	{ "boot", no_argument, NULL, OPT_BOOT },
	{ "append", required_argument, NULL, OPT_APPEND },
	{ "report", no_argument, NULL, OPT_REPORT },
	{ "ping", required_argument, NULL, OPT_PING },
	{ "udp", required_argument, NULL, OPT_UDP },
	{ "conf", no_argument, NULL, OPT_CONF },
	{ "trace", no_argument, NULL, OPT_TRACE },
	{ "hold", no_argument, NULL, OPT_HOLD },
	{ "keep", no_argument, NULL, OPT_KEEP },
	{ "profile", required_argument, NULL, OPT_PROFILE },
	{ "raw-qemu-conf", required_argument, NULL, OPT_RAW_QEMU_CONF },
	{ "scriptlet", required_argument, NULL, OPT_SCRIPTLET },
	{ "project", required_argument, NULL, OPT_PROJECT },
	{ "no-tray-eject", no_argument, NULL, OPT_NO_TRAY_EJECT },
	{ "idle", required_argument, NULL, OPT_IDLE },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/**
 * opt_one() - apply one option
 * @c:		options
 * @opt:	option code
 * @arg:	its argument
 *
 * Return: 0, 1 to exit successfully (--help), or -1 on a usage error
 */
static int opt_one(struct cli *c, int opt, char *arg)
{
	switch (opt) {
	case OPT_QEMU:
		c->o.qemu = arg;
		return 0;
	case OPT_NO_TRAY_EJECT:
		c->o.no_tray_eject = true;
		return 0;
	case OPT_INCUS:
		return lab_incus_release_parse(arg, &c->o.release);
	case OPT_IDLE:
		c->idle_s = (unsigned)lab_num(arg);
		return 0;
	case OPT_NAME:
		c->o.name = arg;
		return 0;
	case OPT_VCPUS:
		c->o.vcpus = (unsigned)lab_num(arg);
		return c->o.vcpus ? 0 : -1;
	case OPT_MEMORY:
		c->o.memory_mb = (unsigned)lab_num(arg);
		return c->o.memory_mb ? 0 : -1;
	case OPT_DISK:
		return opt_disk(c, arg, false);
	case OPT_ISO:
		return opt_disk(c, arg, true);
	case OPT_NIC:
		return opt_nic(c, arg);
	case OPT_EXTRA_CONF:
		if (c->nconf + 1 >= CP_ARRAY_SIZE(c->o.extra_conf))
			return -1;
		c->o.extra_conf[c->nconf++] = arg;
		return 0;
	case OPT_RAW:
		if (c->nraw + 1 >= LAB_INCUS_MAX_EXTRA)
			return -1;
		c->o.extra_args[c->nraw++] = arg;
		return 0;
	case OPT_PRE_START:
		c->o.pre_start_cmd = arg;
		return 0;
	case OPT_BOOT:
		c->o.boot_guest = true;
		return 0;
	case OPT_APPEND:
		c->o.append = arg;
		return 0;
	case OPT_REPORT:
		c->report = c->o.boot_guest = true;
		return 0;
	case OPT_PING:
		c->ping = (unsigned)lab_num(arg);
		c->o.boot_guest = true;
		return 0;
	case OPT_UDP:
		c->udp = (unsigned)lab_num(arg);
		c->o.boot_guest = true;
		return 0;
	case OPT_CONF:
		c->conf = true;
		return 0;
	case OPT_TRACE:
		c->trace = true;
		return 0;
	case OPT_HOLD:
		c->hold = true;
		return 0;
	case OPT_KEEP:
		c->o.keep_dir = true;
		return 0;
	case OPT_PROFILE:
		return opt_profile(c, arg);
	case OPT_RAW_QEMU_CONF:
		return opt_text_file(&c->raw_conf, arg);
	case OPT_SCRIPTLET:
		return opt_text_file(&c->script, arg);
	case OPT_PROJECT:
		c->o.project = arg;
		return 0;
	case 'v':
		cp_log_set_level(CP_LOG_DEBUG);
		return 0;
	case 'h':
		fputs(usage_text, stdout);
		return 1;
	}
	return -1;
}

/**
 * parse_args() - the command line into @c
 * @c:		filled
 * @argc:	argument count
 * @argv:	arguments
 *
 * Return: 0, 1 for --help, or -1 (message printed)
 */
static int parse_args(struct cli *c, int argc, char **argv)
{
	int opt, rc;

	memset(c, 0, sizeof(*c));
	lab_incus_opts_init(&c->o);
	while ((opt = getopt_long(argc, argv, "vh", long_opts, NULL)) != -1)
		if ((rc = opt_one(c, opt, optarg)) != 0) {
			if (rc < 0)
				fprintf(stderr, "incus-emu: bad option (see --help)\n");
			return rc;
		}
	if (optind < argc)
		return fprintf(stderr, "incus-emu: unexpected '%s' (see --help)\n", argv[optind]),
		       -1;
	c->o.raw_qemu_conf = c->raw_conf;
	c->o.scriptlet = c->script;
	c->o.profile = c->profile;
	return 0;
}

/**
 * cli_free() - release what parse_args() read
 * @c:	options
 */
static void cli_free(struct cli *c)
{
	free(c->raw_conf);
	free(c->script);
	free(c->profile);
}

/**
 * log_stderr() - library log handler
 * @level:	level
 * @msg:	message
 * @userdata:	unused
 */
static void log_stderr(enum cp_log_level level, const char *msg, void *userdata)
{
	(void)userdata;
	fprintf(stderr, "incus-emu: %s: %s\n", cp_log_level_name(level), msg);
}

/**
 * print_trace() - every recorded QMP message, one per line
 * @vm:	emulator
 */
static void print_trace(const struct lab_incus *vm)
{
	size_t i;

	for (i = 0; i < lab_incus_trace_len(vm); i++) {
		const struct lab_qmp_record *r = lab_incus_trace_at(vm, i);
		cleanup_free char *text = cp_json_dump(r->msg, 0);

		printf("%s %s%s\n", r->sent ? "C->S" : "S->C", text ? text : "?",
		       r->nfds ? "  +fd" : "");
	}
}

/**
 * exercise_guest() - report, ping, UDP, as asked
 * @c:		options
 * @vm:		running emulator
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int exercise_guest(const struct cli *c, struct lab_incus *vm, struct cp_error *err)
{
	struct lab_guest *g = lab_guest_new(vm, err);
	struct lab_guest_report *rep = NULL;
	struct lab_loss l;
	char ip[32];
	int rc = -1;

	if (!g || lab_guest_read_report(g, REPORT_TIMEOUT_MS, &rep, err) < 0)
		goto out;
	if (c->report)
		printf("CP-REPORT-BEGIN\n%sCP-REPORT-END\n", rep->text);
	if ((c->ping || c->udp) &&
	    (!c->nnics || lab_incus_nic_ip(vm, c->nics[0].name, ip, sizeof(ip)) < 0)) {
		cp_error_set(err, CP_ERR_INVALID, "--ping/--udp need a --nic");
		goto out;
	}
	if (c->ping && lab_ping(lab_incus_net(vm), ip, c->ping, 10, &l, err) == 0)
		printf("ping %s: sent %llu received %llu loss %.1f%%\n", ip,
		       (unsigned long long)l.sent, (unsigned long long)l.received, l.loss_pct);
	if (c->udp && lab_udp(lab_incus_net(vm), g, ip, 16, c->udp, 1000, &l, err) == 0)
		printf("udp %s: 16 flows, sent %llu received %llu loss %.1f%%, %u flows complete\n",
		       ip, (unsigned long long)l.sent, (unsigned long long)l.received, l.loss_pct,
		       l.flows_complete);
	rc = 0;
out:
	lab_guest_report_free(rep);
	lab_guest_free(g);
	return rc;
}

/**
 * run() - build, start, use and stop the VM
 * @c:		options
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int run(struct cli *c, struct cp_error *err)
{
	struct lab_incus *vm = lab_incus_new(&c->o, err);
	char line[16];
	int rc = -1;
	size_t i;

	if (!vm)
		return -1;
	for (i = 0; i < c->ndisks; i++)
		if (lab_incus_add_disk(vm, &c->disks[i], err) < 0)
			goto out;
	for (i = 0; i < c->nnics; i++)
		if (lab_incus_add_nic(vm, &c->nics[i], err) < 0)
			goto out;
	rc = lab_incus_start(vm, err);
	if (rc == 0 && c->idle_s)
		rc = lab_incus_idle(vm, (int)(c->idle_s * 1000), err);
	printf("QEMU %s, pid %d, directory %s\n", lab_incus_qemu_version(vm),
	       (int)lab_incus_pid(vm), lab_incus_dir(vm));
	if (c->conf) {
		cleanup_free char *conf = lab_read_file(lab_incus_conf_path(vm), 1 << 20, NULL);

		printf("%s", conf ? conf : "");
	}
	if (rc == 0 && c->o.boot_guest)
		rc = exercise_guest(c, vm, err);
	if (c->trace)
		print_trace(vm);
	if (c->script)
		printf("scriptlet log (also in %s/scriptlet.log):\n%s", lab_incus_dir(vm),
		       lab_incus_scriptlet_log(vm));
	if (rc == 0 && c->hold) {
		printf("second QMP monitor: %s\npress Enter to stop the VM\n",
		       lab_incus_coldplug_qmp(vm));
		fflush(stdout);
		(void)!fgets(line, sizeof(line), stdin);
	}
out:
	lab_incus_free(vm);
	return rc;
}

int main(int argc, char **argv)
{
	struct cp_error err = { 0 };
	struct cli c;
	int rc = parse_args(&c, argc, argv);

	if (rc) {
		cli_free(&c);
		return rc > 0 ? 0 : 2;
	}
	cp_log_set_handler(log_stderr, NULL);
	rc = run(&c, &err);
	cli_free(&c);
	if (rc < 0) {
		fprintf(stderr, "incus-emu: %s\n", err.msg);
		return 1;
	}
	return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The Incus scriptlet stub (lib/incus_stub.star, as `coldplug
 * incus-profile` prints it under raw.qemu.scriptlet), run the way Incus runs
 * it (tests/unit/incus_run.h): through the incus-scriptlet runner
 * (tests/starlark, whose own tests check that it behaves as Incus does) and
 * the lab's scriptlet proxy (tests/qemu/lab/scriptlet.c), against the fake
 * QMP peer standing in for QEMU 7.2 on Incus's monitor. What is tested here
 * is the stub, and lib/stub.c's side of its protocol.
 *
 * Scripted peers give exact transcripts and counts (their rtc-time advances
 * one second per read, so the stub's clock is simulated; the stub's
 * ringbuf-read polls, thousands between two checks, are one repeated step of
 * the script); a live peer answers by the real clock, for the wall-time
 * bounds and the poll rate. Incus logs every command but ringbuf-read in
 * qemu.qmp.log, so each wait is also checked for how many of the other
 * commands it sends.
 *
 * $COLDPLUG_SCRIPTLET_RUNNER and $COLDPLUG_TEST_STUB_TEMPLATE: see
 * incus_run.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "coldplug/qmp.h"
#include "coldplug/stub.h"
#include "fakepeer.h"
#include "incus_run.h"
#include "qmp_stream.h"
#include "scriptlet.h"
#include "tap.h"
#include "util.h"

#define RTC_BASE 1795000000 /* 2026-11-18T09:46:40Z, any fixed time */
#define MSG_NOT_RUNNING                                                                                     \
	"Failed to run: fail: coldplug: coldplug serve is not running (QEMU cannot reach " INCUS_RUN_SOCKET \
	"); start it with 'systemctl enable --now coldplug.service'"
#define MSG_WENT_AWAY                                                                              \
	"Failed to run: fail: coldplug: coldplug serve went away while re-homing this VM (see "    \
	"'journalctl -u coldplug')"
#define MSG_NO_CHARDEV(label)                                                                      \
	"Failed to run: fail: coldplug: this VM has no " label " chardev; the profile's "          \
	"raw.qemu.conf lost its [chardev \"" label "\"] section"
/* The stub's COLDPLUG_CHECK_EVERY: ringbuf-read polls between two checks. */
#define CHECK_EVERY 2000
/* The most commands other than ringbuf-read (the ones Incus logs) a wait of
 * @reads polls may send: clock, chardevs and request once, then a chardev
 * check and a clock reading per CHECK_EVERY polls. */
#define LOGGED_MAX(reads) (3 + 2 * (((reads) + CHECK_EVERY - 1) / CHECK_EVERY))

/* ---- the instance ---- */

/**
 * instance_add_nic() - give the instance one more bridged NIC
 * @inst:	instance
 * @name:	NIC name
 * @mac:	its volatile hwaddr, or NULL for none
 * @tap:	its volatile host_name, or NULL for none
 */
static void instance_add_nic(cp_json *inst, const char *name, const char *mac, const char *tap)
{
	cp_json *dev = cp_json_new_object();
	cp_json *conf = cp_json_get_object(inst, "config");
	cp_json *expanded = cp_json_get_object(inst, "expanded_config");
	char key[128];

	cp_json_set_str(dev, "type", "nic");
	cp_json_set_str(dev, "network", "incusbr0");
	cp_json_set(cp_json_get_object(inst, "expanded_devices"), name, dev);
	snprintf(key, sizeof(key), "volatile.%s.hwaddr", name);
	if (mac) {
		cp_json_set_str(conf, key, mac);
		cp_json_set_str(expanded, key, mac);
	}
	snprintf(key, sizeof(key), "volatile.%s.host_name", name);
	if (tap) {
		cp_json_set_str(conf, key, tap);
		cp_json_set_str(expanded, key, tap);
	}
}

/* ---- the scripted peer ---- */

/**
 * qom_args() - {"path": @path, "property": @prop} (no property if NULL)
 * @path:	QOM path
 * @prop:	property, or NULL
 *
 * Return: new reference
 */
static cp_json *qom_args(const char *path, const char *prop)
{
	cp_json *a = cp_json_new_object();

	cp_json_set_str(a, "path", path);
	if (prop)
		cp_json_set_str(a, "property", prop);
	return a;
}

/**
 * enum chardevs - what query-chardev shows of coldplug's two chardevs
 * @CHARDEVS_CONNECTED:		both; QEMU reached coldplug serve
 * @CHARDEVS_DISCONNECTED:	both; QEMU is still trying
 * @CHARDEVS_NO_MONITOR:	no "coldplug" socket chardev
 * @CHARDEVS_NO_STATUS:		no "coldplug-status" ringbuf chardev
 */
enum chardevs {
	CHARDEVS_CONNECTED,
	CHARDEVS_DISCONNECTED,
	CHARDEVS_NO_MONITOR,
	CHARDEVS_NO_STATUS,
};

/**
 * x_chardev() - query-chardev, answered as QEMU 7.2 does (the shapes of
 * tests/data/stub/README.md: a connected client socket's filename is
 * "unix:"; Incus's own monitor chardev last)
 * @fp:		peer
 * @state:	enum chardevs
 */
static void x_chardev(struct fakepeer *fp, enum chardevs state)
{
	static const char monitor_on[] = "{\"frontend-open\": true, \"filename\": \"unix:\", "
					 "\"label\": \"" STUB_MONITOR "\"}, ";
	static const char monitor_off[] = "{\"frontend-open\": true, \"filename\": "
					  "\"disconnected:unix:" INCUS_RUN_SOCKET
					  "\", \"label\": \"" STUB_MONITOR "\"}, ";
	static const char status[] = "{\"frontend-open\": false, \"filename\": \"ringbuf\", "
				     "\"label\": \"" STUB_STATUS_CHARDEV "\"}, ";
	char reply[1024];

	snprintf(reply, sizeof(reply),
		 "{\"return\": [%s%s{\"frontend-open\": true, \"filename\": "
		 "\"unix:/run/incus/mac1/qemu.monitor,server=on\", \"label\": \"monitor\"}]}",
		 state == CHARDEVS_NO_MONITOR  ? ""
		 : state == CHARDEVS_CONNECTED ? monitor_on
					       : monitor_off,
		 state == CHARDEVS_NO_STATUS ? "" : status);
	incus_run_expect(fp, "query-chardev", NULL, reply);
}

/**
 * rtc_value() - the value of qom-get /machine rtc-time at @t (a struct tm,
 * as QEMU 7.2 serialises it)
 * @t:		Unix time
 * @buf:	output
 * @size:	its size
 *
 * Return: @buf
 */
static const char *rtc_value(time_t t, char *buf, size_t size)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, size,
		 "{\"tm_year\": %d, \"tm_sec\": %d, \"tm_hour\": %d, \"tm_min\": %d, "
		 "\"tm_mon\": %d, \"tm_mday\": %d}",
		 tm.tm_year, tm.tm_sec, tm.tm_hour, tm.tm_min, tm.tm_mon, tm.tm_mday);
	return buf;
}

/**
 * x_rtc() - qom-get /machine rtc-time, answered with @t
 * @fp:	peer
 * @t:	the guest RTC's time
 */
static void x_rtc(struct fakepeer *fp, time_t t)
{
	char value[256], reply[300];

	snprintf(reply, sizeof(reply), "{\"return\": %s}", rtc_value(t, value, sizeof(value)));
	incus_run_expect(fp, "qom-get", qom_args("/machine", "rtc-time"), reply);
}

/**
 * read_command() - the stub's poll of the status ringbuf, as Incus sends it
 *
 * Return: new string (caller frees)
 */
static char *read_command(void)
{
	cleanup_json cp_json *msg = cp_json_new_object();
	cp_json *a = cp_json_new_object();

	cp_json_set_str(a, "device", STUB_STATUS_CHARDEV);
	cp_json_set_int(a, "size", 4096);
	cp_json_set_str(a, "format", "utf8");
	cp_json_set_str(msg, "execute", "ringbuf-read");
	cp_json_set(msg, "arguments", a);
	return cp_json_dump(msg, 0);
}

/**
 * read_reply() - ringbuf-read's answer: what the ringbuf held
 * @text:	the text ("" when empty)
 *
 * Return: new string (caller frees)
 */
static char *read_reply(const char *text)
{
	cleanup_json cp_json *reply = cp_json_new_object();

	cp_json_set_str(reply, "return", text);
	return cp_json_dump(reply, 0);
}

/**
 * x_reads() - @n polls of the status ringbuf, each answered with @text
 * @fp:		peer
 * @text:	what each read returns
 * @n:		how many, at least 1
 */
static void x_reads(struct fakepeer *fp, const char *text, size_t n)
{
	cleanup_free char *cmd = read_command(), *reply = read_reply(text);

	if (!cmd || !reply)
		bail_out("out of memory");
	if (n == 1) {
		fakepeer_expect(fp, cmd);
		fakepeer_reply(fp, reply);
	} else {
		fakepeer_expect_repeat(fp, cmd, reply, n);
	}
}

/**
 * x_read() - one poll of the status ringbuf, answered with @text
 * @fp:		peer
 * @text:	what the daemon wrote since the last read
 */
static void x_read(struct fakepeer *fp, const char *text)
{
	x_reads(fp, text, 1);
}

/**
 * x_request() - the object-add of the request, with @identity
 * @fp:		peer
 * @identity:	the request JSON the stub must send
 * @reply:	QEMU's answer
 */
static void x_request(struct fakepeer *fp, const char *identity, const char *reply)
{
	cp_json *a = cp_json_new_object();

	cp_json_set_str(a, "qom-type", "authz-simple");
	cp_json_set_str(a, "id", STUB_REQUEST_OBJECT);
	cp_json_set_str(a, "identity", identity);
	incus_run_expect(fp, "object-add", a, reply);
}

/* The request the stub sends for instance.json. */
#define MAC1_REQUEST                                                                               \
	"{\"v\":1,\"instance\":\"mac1\",\"project\":\"default\",\"nic-frontend\":\"pci\","         \
	"\"taps\":{\"eth0\":\"tap4e1f2a3b\",\"eth1\":\"tap9c8d7e6f\"}}"

/**
 * x_start() - the stub's start: clock, connected, request
 * @fp:	peer
 * @t:	the clock's start
 */
static void x_start(struct fakepeer *fp, time_t t)
{
	x_rtc(fp, t);
	x_chardev(fp, CHARDEVS_CONNECTED);
	x_request(fp, MAC1_REQUEST, "{\"return\": {}}");
}

/**
 * prestart() - run the stub's pre-start stage against @fp
 * @fp:		peer, script written (freed here, its verdict a TAP check)
 * @s:		settings
 * @inst:	instance, or NULL for instance.json
 * @res:	filled
 * @name:	what the peer's script checks
 *
 * Return: 0 if the stage succeeded
 */
static int prestart(struct fakepeer *fp, const struct incus_run_stub *s, const cp_json *inst,
		    struct lab_scriptlet_result *res, const char *name)
{
	cleanup_json cp_json *own = inst ? NULL : incus_run_instance();
	cleanup_free char *stub = incus_run_stub_text(s);
	struct qmp_client *c = incus_run_peer_connect(fp);
	int rc = incus_run_stage(c, stub, "pre-start", inst ? inst : own, NULL, res);

	qmp_client_free(c);
	fakepeer_finish(fp, "%s", name);
	return rc;
}

/**
 * trace_command() - the command at @i of a run's trace
 * @res:	result
 * @i:		index
 *
 * Return: borrowed, or NULL
 */
static const cp_json *trace_command(const struct lab_scriptlet_result *res, size_t i)
{
	return i < cp_json_len(res->trace) ? cp_json_get(cp_json_at(res->trace, i), "command")
					   : NULL;
}

/**
 * trace_find() - the first command named @cmd in a run's trace
 * @res:	result
 * @cmd:	command name
 *
 * Return: its index, or -1
 */
static long trace_find(const struct lab_scriptlet_result *res, const char *cmd)
{
	size_t i;

	for (i = 0; i < cp_json_len(res->trace); i++)
		if (cp_streq(cp_json_get_str(trace_command(res, i), "execute"), cmd))
			return (long)i;
	return -1;
}

/**
 * struct polls - a run's commands, as Incus's qemu.qmp.log sees them
 * @reads:	ringbuf-read of the status chardev (left out of the log)
 * @logged:	every other command (each one a QUERY and a REPLY line)
 * @repeated:	a logged command sent twice in a row with the same
 *		arguments (a poll that Incus would log)
 */
struct polls {
	unsigned reads;
	unsigned logged;
	unsigned repeated;
};

/**
 * polls_count() - count a run's commands by what Incus logs of them
 * @res:	the run
 *
 * Return: the counts
 */
static struct polls polls_count(const struct lab_scriptlet_result *res)
{
	struct polls p = { 0 };
	const cp_json *prev = NULL;
	size_t i;

	for (i = 0; i < cp_json_len(res->trace); i++) {
		const cp_json *cmd = trace_command(res, i);

		if (cp_streq(cp_json_get_str(cmd, "execute"), "ringbuf-read")) {
			p.reads++;
		} else {
			p.logged++;
			p.repeated += prev && cp_json_equal(prev, cmd);
		}
		prev = cmd;
	}
	return p;
}

/**
 * check_polls() - the wait of @res sent the ringbuf polls it should, and
 * no more logged commands than LOGGED_MAX
 * @res:	the run
 * @what:	test name
 * @reads:	the ringbuf-reads expected, or -1 when unknown (a live run:
 *		then at least one)
 * @logged:	the logged commands expected, or -1 when unknown
 *
 * Return: the counts
 */
static struct polls check_polls(const struct lab_scriptlet_result *res, const char *what,
				long reads, long logged)
{
	struct polls p = polls_count(res);

	if (reads >= 0)
		is_int(p.reads, reads, "%s: %ld ringbuf-read polls", what, reads);
	else
		ok(p.reads > 0, "%s: the wait polled ringbuf-read (%u times)", what, p.reads);
	if (logged >= 0)
		is_int(p.logged, logged, "%s: %ld commands that Incus logs", what, logged);
	ok(p.logged <= LOGGED_MAX(p.reads) && !p.repeated,
	   "%s: %u logged commands for %u polls, at most 2 per %d polls + 3, none repeated back "
	   "to back (%u)",
	   what, p.logged, p.reads, CHECK_EVERY, p.repeated);
	return p;
}

/* ---- the stub under Incus's options ---- */

/**
 * test_stub_compiles() - the stub as generated passes Incus's validation and
 * runs (a stage where it does nothing)
 */
static void test_stub_compiles(void)
{
	cleanup_free char *stub = incus_run_stub_text(&incus_run_stub_default), *out = NULL;
	int rc;

	out = incus_run_script(stub, "early", &rc);
	ok(rc == 0, "the generated stub compiles, validates and runs under Incus's options%s%s",
	   *out ? ": " : "", out);
}

/* ---- config stage ---- */

/**
 * section_is() - whether section @i of @conf is @name with entries @entries
 * @conf:	sections
 * @i:		index
 * @name:	expected name
 * @entries:	expected entries as JSON text
 *
 * Return: true if so
 */
static bool section_is(const cp_json *conf, size_t i, const char *name, const char *entries)
{
	cleanup_json cp_json *want = cp_json_parse(entries, strlen(entries), NULL);
	const cp_json *s = cp_json_at(conf, i);

	return s && cp_streq(cp_json_get_str(s, "name"), name) &&
	       cp_streq(cp_json_get_str(s, "comment"), "") &&
	       cp_json_equal(cp_json_get(s, "entries"), want);
}

/**
 * test_config_pci() - a model other than virtio-net-pci: one hubport netdev
 * and one anonymous NIC per NIC, with the NIC's volatile MAC, at the fixed
 * slots, after Incus's sections
 */
static void test_config_pci(void)
{
	const struct incus_run_stub s = { .model = "vmxnet3", .timeout = 120, .connect = 5 };
	cleanup_free char *stub = incus_run_stub_text(&s);
	cleanup_json cp_json *inst = incus_run_instance(), *conf = incus_run_config_conf();
	struct lab_scriptlet_result res;
	const cp_json *out;
	int rc;

	rc = incus_run_stage(NULL, stub, "config", inst, conf, &res);
	out = res.conf;
	ok(rc == 0, "config/pci: the hook returned None%s%s", res.error ? ": " : "",
	   res.error ? res.error : "");
	is_int((long long)cp_json_len(out), 6, "config/pci: Incus's 2 sections + 2 per NIC");
	ok(out && cp_json_equal(cp_json_at(out, 0), cp_json_at(conf, 0)) &&
		   cp_json_equal(cp_json_at(out, 1), cp_json_at(conf, 1)),
	   "config/pci: Incus's sections kept, first");
	ok(section_is(out, 2, "netdev \"coldplug-nic0\"",
		      "{\"type\": \"hubport\", \"hubid\": \"0\"}"),
	   "config/pci: eth0's hubport netdev (vmxnet3 cannot share a virtio-net's tap)");
	ok(section_is(out, 3, "device",
		      "{\"driver\": \"vmxnet3\", \"netdev\": \"coldplug-nic0\", \"bus\": "
		      "\"pcie.0\", \"addr\": \"1c.0\", \"mac\": \"10:66:6a:4e:1f:01\"}"),
	   "config/pci: eth0's NIC, anonymous, with volatile.eth0.hwaddr");
	ok(section_is(out, 4, "netdev \"coldplug-nic1\"",
		      "{\"type\": \"hubport\", \"hubid\": \"1\"}"),
	   "config/pci: eth1's hubport netdev");
	ok(section_is(out, 5, "device",
		      "{\"driver\": \"vmxnet3\", \"netdev\": \"coldplug-nic1\", \"bus\": "
		      "\"pcie.0\", \"addr\": \"1d.0\", \"mac\": \"10:66:6a:4e:1f:02\"}"),
	   "config/pci: eth1's NIC with volatile.eth1.hwaddr");
	is_int(res.calls, 0, "config/pci: no QMP at the config stage");
	lab_scriptlet_result_clear(&res);
}

/* [smp-opts] as Incus writes it for limits.cpu=4 on a 2-CPU host: one CPU,
 * the other three hot-plugged at start (so the queue count cannot come from
 * here: real Incus 6.0.4 showed it). */
static const char smp[] = "{\"name\": \"smp-opts\", \"comment\": \"CPU\", \"entries\": "
			  "{\"cpus\": \"1\", \"maxcpus\": \"2\"}}";

/**
 * test_config_direct() - virtio-net-pci on a tap NIC: a tap netdev on
 * Incus's own tap with one queue per vCPU of limits.cpu, a multi-queue NIC;
 * a macvlan NIC keeps a hub
 */
static void test_config_direct(void)
{
	cleanup_free char *stub = incus_run_stub_text(&incus_run_stub_default);
	cleanup_json cp_json *inst = incus_run_instance(), *conf = incus_run_config_conf();
	struct lab_scriptlet_result res;
	const cp_json *out;
	int rc;

	cp_json_append(conf, cp_json_parse(smp, strlen(smp), NULL));
	instance_add_nic(inst, "eth2", "10:66:6a:4e:1f:03", "macc0ffee1");
	cp_json_set_str(cp_json_get_object(cp_json_get_object(inst, "expanded_devices"), "eth2"),
			"nictype", "macvlan");
	rc = incus_run_stage(NULL, stub, "config", inst, conf, &res);
	out = res.conf;
	ok(rc == 0 && cp_json_len(out) == 9, "config/direct: Incus's 3 sections + 2 per NIC%s%s",
	   res.error ? ": " : "", res.error ? res.error : "");
	ok(section_is(out, 3, "netdev \"coldplug-nic0\"",
		      "{\"type\": \"tap\", \"ifname\": \"tap4e1f2a3b\", \"script\": \"no\", "
		      "\"downscript\": \"no\", \"queues\": \"4\", \"vhost\": \"off\"}"),
	   "config/direct: eth0's netdev opens volatile.eth0.host_name, one queue per vCPU of "
	   "limits.cpu");
	ok(section_is(out, 4, "device",
		      "{\"driver\": \"virtio-net-pci\", \"netdev\": \"coldplug-nic0\", \"bus\": "
		      "\"pcie.0\", \"addr\": \"1c.0\", \"mac\": \"10:66:6a:4e:1f:01\", "
		      "\"mq\": \"on\", \"vectors\": \"10\"}"),
	   "config/direct: eth0's NIC is multi-queue, with 2N+2 vectors");
	ok(section_is(out, 5, "netdev \"coldplug-nic1\"",
		      "{\"type\": \"tap\", \"ifname\": \"tap9c8d7e6f\", \"script\": \"no\", "
		      "\"downscript\": \"no\", \"queues\": \"4\", \"vhost\": \"off\"}"),
	   "config/direct: eth1's netdev on its own tap");
	ok(section_is(out, 7, "netdev \"coldplug-nic2\"",
		      "{\"type\": \"hubport\", \"hubid\": \"2\"}"),
	   "config/direct: a macvlan NIC (a macvtap, not a tap) keeps a hub");
	lab_scriptlet_result_clear(&res);
}

/**
 * test_config_queues() - the queue count follows limits.cpu as Incus
 * counts it: a count (default 1), or a set of host CPUs; at least 2
 */
static void test_config_queues(void)
{
	static const struct {
		const char *limit; /* NULL: unset */
		const char *queues;
	} cases[] = {
		{ NULL, "2" },	  { "1", "2" },	  { "3", "3" },	  { "8", "8" },
		{ "0-2,5", "4" }, { "1,3", "2" }, { "0-5", "6" },
	};
	cleanup_free char *stub = incus_run_stub_text(&incus_run_stub_default);
	size_t i;

	for (i = 0; i < CP_ARRAY_SIZE(cases); i++) {
		cleanup_json cp_json *inst = incus_run_instance(), *conf = incus_run_config_conf();
		cp_json *expanded = cp_json_get_object(inst, "expanded_config");
		struct lab_scriptlet_result res;
		const cp_json *nic;

		cp_json_append(conf, cp_json_parse(smp, strlen(smp), NULL));
		if (cases[i].limit)
			cp_json_set_str(expanded, "limits.cpu", cases[i].limit);
		else
			cp_json_del(expanded, "limits.cpu");
		incus_run_stage(NULL, stub, "config", inst, conf, &res);
		nic = cp_json_get_object(cp_json_at(res.conf, 3), "entries");
		is_str(cp_json_get_str(nic, "queues"), cases[i].queues,
		       "config/direct: limits.cpu %s gives %s queues%s%s",
		       cases[i].limit ? cases[i].limit : "unset", cases[i].queues,
		       res.error ? ": " : "", res.error ? res.error : "");
		lab_scriptlet_result_clear(&res);
	}
}

/**
 * test_config_usb() - nic-frontend usb: the configuration is left alone
 */
static void test_config_usb(void)
{
	const struct incus_run_stub s = { .usb = true, .timeout = 120, .connect = 5 };
	cleanup_free char *stub = incus_run_stub_text(&s);
	cleanup_json cp_json *inst = incus_run_instance(), *conf = incus_run_config_conf();
	struct lab_scriptlet_result res;
	int rc;

	rc = incus_run_stage(NULL, stub, "config", inst, conf, &res);
	ok(rc == 0 && cp_json_equal(res.conf, conf),
	   "config/usb: no NIC slots, the sections unchanged%s%s", res.error ? ": " : "",
	   res.error ? res.error : "");
	lab_scriptlet_result_clear(&res);
}

/**
 * test_config_too_many() - more NICs than PCI NIC slots fails the start
 */
static void test_config_too_many(void)
{
	cleanup_free char *stub = incus_run_stub_text(&incus_run_stub_default);
	cleanup_json cp_json *inst = incus_run_instance(), *conf = incus_run_config_conf();
	struct lab_scriptlet_result res;

	instance_add_nic(inst, "eth2", "10:66:6a:4e:1f:03", "tapa");
	instance_add_nic(inst, "eth3", "10:66:6a:4e:1f:04", "tapb");
	incus_run_stage(NULL, stub, "config", inst, conf, &res);
	is_str(res.error,
	       "Failed to run: fail: coldplug: 4 NICs, but at most 3 PCI NIC slots; use "
	       "nic-frontend usb",
	       "config/pci: 4 NICs are refused with the stub's message");
	lab_scriptlet_result_clear(&res);
}

/* ---- pre-start, scripted ---- */

/**
 * check_request() - the request the stub sent parses with coldplug's parser
 * and says what the instance says
 * @res:	the run
 */
static void check_request(const struct lab_scriptlet_result *res)
{
	long i = trace_find(res, "object-add");
	const cp_json *args = i >= 0 ? cp_json_get(trace_command(res, (size_t)i), "arguments")
				     : NULL;
	const char *identity = cp_json_get_str(args, "identity");
	struct stub_request req;
	struct cp_error err;

	memset(&req, 0, sizeof(req));
	ok(identity && stub_request_parse(identity, &req, &err) == 0,
	   "request: the object-add identity parses with stub_request_parse()%s",
	   identity ? "" : " (none sent)");
	ok(cp_streq(cp_json_get_str(args, "qom-type"), "authz-simple") &&
		   cp_streq(cp_json_get_str(args, "id"), STUB_REQUEST_OBJECT),
	   "request: an authz-simple named " STUB_REQUEST_OBJECT);
	ok(!strcmp(req.instance, "mac1") && !strcmp(req.project, "default"),
	   "request: instance and project");
	ok(req.has_frontend && req.frontend == PLAN_FRONTEND_PCI, "request: nic-frontend pci");
	ok(req.ntaps == 2 && !strcmp(req.taps[0].name, "eth0") &&
		   !strcmp(req.taps[0].ifname, "tap4e1f2a3b") &&
		   !strcmp(req.taps[1].name, "eth1") && !strcmp(req.taps[1].ifname, "tap9c8d7e6f"),
	   "request: taps from volatile.<nic>.host_name");
}

/**
 * test_prestart_done() - the daemon is there; the ringbuf stays empty, then
 * says running, then done in two reads that cut the line: the hook returns
 * None once the line is whole, after an exact number of calls
 */
static void test_prestart_done(void)
{
	static const char head[] = "done: 2 devices re-homed (root -> coldpl";
	static const char tail[] = "ug-disk0, eth0 -> coldplug-nic0) in 840 ms";
	struct fakepeer *fp = incus_run_peer_new();
	struct lab_scriptlet_result res;
	char line[256], cut[256], rest[128];
	int rc;

	snprintf(rest, sizeof(rest), "%s\n", tail);
	x_start(fp, RTC_BASE);
	x_reads(fp, "", 3);
	x_read(fp, "running\n");
	x_read(fp, "");
	x_read(fp, head);
	x_read(fp, rest);
	rc = prestart(fp, &incus_run_stub_default, NULL, &res,
		      "pre-start/done: clock, chardevs, request, then only ringbuf-read until the "
		      "done line is whole");
	ok(rc == 0, "pre-start/done: the hook returned None%s%s", res.error ? ": " : "",
	   res.error ? res.error : "");
	is_int(res.calls, 10, "pre-start/done: 10 QMP calls (clock, chardevs, request, 7 polls)");
	snprintf(line, sizeof(line), "msg=\"QEMU scriptlet (pre-start): coldplug: %s%s\"\n", head,
		 tail);
	snprintf(cut, sizeof(cut), "coldplug: %s\"", head);
	like(res.log, line, "pre-start/done: the whole done line logged with log_info");
	ok(!strstr(res.log, "coldplug: running") && !strstr(res.log, cut),
	   "pre-start/done: neither the running line nor the cut line logged");
	check_polls(&res, "pre-start/done", 7, 3);
	check_request(&res);
	lab_scriptlet_result_clear(&res);
}

/**
 * test_prestart_late_connect() - QEMU reaches the daemon between two checks:
 * the stub paces the connect wait with ringbuf-read, then asks
 */
static void test_prestart_late_connect(void)
{
	struct fakepeer *fp = incus_run_peer_new();
	struct lab_scriptlet_result res;
	int rc;

	x_rtc(fp, RTC_BASE);
	x_chardev(fp, CHARDEVS_DISCONNECTED);
	x_rtc(fp, RTC_BASE + 1);
	x_reads(fp, "", CHECK_EVERY);
	x_chardev(fp, CHARDEVS_CONNECTED);
	x_request(fp, MAC1_REQUEST, "{\"return\": {}}");
	x_read(fp, "running\ndone: 1 device re-homed (root -> coldplug-disk0) in 12 ms\n");
	rc = prestart(fp, &incus_run_stub_default, NULL, &res,
		      "pre-start/late connect: 2000 ringbuf-reads between the two chardev checks");
	ok(rc == 0, "pre-start/late connect: the hook returned None%s%s", res.error ? ": " : "",
	   res.error ? res.error : "");
	like(res.log, "coldplug: done: 1 device re-homed (root -> coldplug-disk0) in 12 ms\"",
	     "pre-start/late connect: running and done in one read: the done line logged");
	check_polls(&res, "pre-start/late connect", CHECK_EVERY + 1, 5);
	lab_scriptlet_result_clear(&res);
}

/**
 * test_prestart_failed() - "failed: <msg>" fails the start with <msg>, also
 * when the line comes in pieces that cut "failed: " itself
 */
static void test_prestart_failed(void)
{
	struct fakepeer *fp = incus_run_peer_new();
	struct lab_scriptlet_result res;

	x_start(fp, RTC_BASE);
	x_read(fp, "");
	x_read(fp, "running\nfail");
	x_read(fp, "ed: plan refused: 5 disks but 4 disk slots\n");
	prestart(fp, &incus_run_stub_default, NULL, &res, "pre-start/failed: the stub's exact QMP");
	is_str(res.error, "Failed to run: fail: coldplug: plan refused: 5 disks but 4 disk slots",
	       "pre-start/failed: the start fails with exactly the daemon's message");
	check_polls(&res, "pre-start/failed", 3, 3);
	lab_scriptlet_result_clear(&res);
}

/**
 * not_running() - the daemon never connects; the clock advances 1 s per
 * check, and 2000 ringbuf-reads pace the checks
 * @start:	the clock's first reading
 * @what:	for the check names
 */
static void not_running(time_t start, const char *what)
{
	struct fakepeer *fp = incus_run_peer_new();
	struct lab_scriptlet_result res;
	char name[192];
	int i;

	x_rtc(fp, start);
	for (i = 1; i <= 6; i++) {
		x_chardev(fp, CHARDEVS_DISCONNECTED);
		x_rtc(fp, start + i);
		if (i < 6)
			x_reads(fp, "", CHECK_EVERY);
	}
	snprintf(name, sizeof(name),
		 "pre-start/not running (%s): polls until the clock passes the connect timeout, "
		 "then stops",
		 what);
	prestart(fp, &incus_run_stub_default, NULL, &res, name);
	snprintf(name, sizeof(name), "pre-start/not running (%s)", what);
	is_str(res.error, MSG_NOT_RUNNING, "pre-start/not running (%s): the stub's message", what);
	is_int(res.calls, 10013,
	       "pre-start/not running (%s): 10013 calls for 6 s of guest clock (6 checks)", what);
	ok(trace_find(&res, "object-add") < 0, "pre-start/not running (%s): no request sent", what);
	check_polls(&res, name, 5L * CHECK_EVERY, 13);
	lab_scriptlet_result_clear(&res);
}

/**
 * test_prestart_not_running() - no daemon: the start fails once the guest
 * clock passes the connect timeout, also across a year boundary
 */
static void test_prestart_not_running(void)
{
	struct tm tm = { .tm_year = 126,
			 .tm_mon = 11,
			 .tm_mday = 31,
			 .tm_hour = 23,
			 .tm_min = 59,
			 .tm_sec = 57 };

	not_running(RTC_BASE, "mid-month");
	not_running(timegm(&tm), "New Year's Eve, 23:59:57");
}

/**
 * test_prestart_went_away() - the daemon disconnects while the stub waits:
 * noticed at the check after the 2000th poll
 */
static void test_prestart_went_away(void)
{
	struct fakepeer *fp = incus_run_peer_new();
	struct lab_scriptlet_result res;

	x_start(fp, RTC_BASE);
	x_read(fp, "running\n");
	x_reads(fp, "", CHECK_EVERY - 1);
	x_chardev(fp, CHARDEVS_DISCONNECTED);
	prestart(fp, &incus_run_stub_default, NULL, &res,
		 "pre-start/went away: the stub's exact QMP");
	is_str(res.error, MSG_WENT_AWAY, "pre-start/went away: the stub's message");
	is_int(res.calls, 2004, "pre-start/went away: 2004 calls (2000 polls, then the check)");
	check_polls(&res, "pre-start/went away", CHECK_EVERY, 4);
	lab_scriptlet_result_clear(&res);
}

/**
 * test_prestart_timeout() - the daemon stays connected but never answers:
 * the start fails once the guest clock passes the timeout, after 6 checks
 * of 2000 polls; the wait's logged commands stay at 2 per check
 */
static void test_prestart_timeout(void)
{
	const struct incus_run_stub s = { .usb = false, .timeout = 5, .connect = 5 };
	struct fakepeer *fp = incus_run_peer_new();
	struct lab_scriptlet_result res;
	int i;

	x_start(fp, RTC_BASE);
	x_read(fp, "running\n");
	x_reads(fp, "", CHECK_EVERY - 1);
	for (i = 1; i <= 6; i++) {
		x_chardev(fp, CHARDEVS_CONNECTED);
		x_rtc(fp, RTC_BASE + i);
		if (i < 6)
			x_reads(fp, "", CHECK_EVERY);
	}
	prestart(fp, &s, NULL, &res, "pre-start/timeout: the stub's exact QMP");
	is_str(res.error,
	       "Failed to run: fail: coldplug: no answer from coldplug serve within 5 s (see "
	       "'journalctl -u coldplug')",
	       "pre-start/timeout: the stub's message once the clock passes 5 s");
	is_int(res.calls, 12015, "pre-start/timeout: 12015 calls (6 checks of 2000 polls)");
	check_polls(&res, "pre-start/timeout", 6L * CHECK_EVERY, 15);
	lab_scriptlet_result_clear(&res);
}

/**
 * test_prestart_no_chardev() - a profile without one of coldplug's
 * chardevs: the stub says which one, before it sends anything else
 */
static void test_prestart_no_chardev(void)
{
	struct fakepeer *fp = incus_run_peer_new();
	struct lab_scriptlet_result res;

	x_rtc(fp, RTC_BASE);
	x_chardev(fp, CHARDEVS_NO_MONITOR);
	prestart(fp, &incus_run_stub_default, NULL, &res,
		 "pre-start/no monitor: the stub's exact QMP");
	is_str(res.error, MSG_NO_CHARDEV(STUB_MONITOR),
	       "pre-start/no monitor: the stub says the profile lost the coldplug chardev");
	lab_scriptlet_result_clear(&res);

	fp = incus_run_peer_new();
	x_rtc(fp, RTC_BASE);
	x_chardev(fp, CHARDEVS_NO_STATUS);
	prestart(fp, &incus_run_stub_default, NULL, &res,
		 "pre-start/no status ringbuf: the stub's exact QMP");
	is_str(res.error, MSG_NO_CHARDEV(STUB_STATUS_CHARDEV),
	       "pre-start/no status ringbuf: the stub names the coldplug-status chardev");
	lab_scriptlet_result_clear(&res);
}

/**
 * qmp_error() - QEMU answers the @nth command with an error: Incus pings
 * with query-version, then fails the start with "Class: desc"
 * @fp:		peer, the script up to the failing command's reply written
 * @desc:	QEMU's description
 * @nth:	the failing command's index in the trace
 * @what:	test name
 */
static void qmp_error(struct fakepeer *fp, const char *desc, long nth, const char *what)
{
	struct lab_scriptlet_result res;
	char want[256];
	long i;

	fakepeer_expect(fp, "{\"execute\": \"query-version\"}");
	fakepeer_reply(fp, "{\"return\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, "
			   "\"package\": \"\"}}");
	prestart(fp, &incus_run_stub_default, NULL, &res, what);
	snprintf(want, sizeof(want), "Failed to run: GenericError: %s", desc);
	is_str(res.error, want, "%s: Incus's error text", what);
	i = trace_find(&res, "query-version");
	ok(i == nth + 1 && (size_t)i + 1 == cp_json_len(res.trace),
	   "%s: the ping follows the error, the last call (index %ld)", what, i);
	lab_scriptlet_result_clear(&res);
}

/**
 * error_reply() - {"error": ...} of a GenericError
 * @desc:	its description
 * @buf:	output
 * @size:	its size
 *
 * Return: @buf
 */
static const char *error_reply(const char *desc, char *buf, size_t size)
{
	snprintf(buf, size, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"%s\"}}", desc);
	return buf;
}

/**
 * test_prestart_qmp_error() - QEMU refuses the request, or a poll (the
 * ringbuf gone): the start fails with QEMU's message, as Incus words it
 */
static void test_prestart_qmp_error(void)
{
	static const char dup[] =
		"attempt to add duplicate property 'coldplug-request' to object (type 'container')";
	static const char gone[] = "Device '" STUB_STATUS_CHARDEV "' not found";
	struct fakepeer *fp = incus_run_peer_new();
	cleanup_free char *cmd = read_command();
	char reply[256];

	x_rtc(fp, RTC_BASE);
	x_chardev(fp, CHARDEVS_CONNECTED);
	x_request(fp, MAC1_REQUEST, error_reply(dup, reply, sizeof(reply)));
	qmp_error(fp, dup, 2, "pre-start/QMP error on the request");

	fp = incus_run_peer_new();
	x_start(fp, RTC_BASE);
	x_reads(fp, "", 2);
	fakepeer_expect(fp, cmd);
	fakepeer_reply(fp, error_reply(gone, reply, sizeof(reply)));
	qmp_error(fp, gone, 5, "pre-start/QMP error on a poll");
}

/**
 * test_prestart_monitor_closed() - QEMU goes away while the stub waits
 */
static void test_prestart_monitor_closed(void)
{
	struct fakepeer *fp = incus_run_peer_new();
	cleanup_free char *cmd = read_command();
	struct lab_scriptlet_result res;

	x_start(fp, RTC_BASE);
	x_reads(fp, "", 5);
	fakepeer_expect(fp, cmd);
	fakepeer_close(fp);
	prestart(fp, &incus_run_stub_default, NULL, &res,
		 "pre-start/monitor closed: the stub's exact QMP");
	is_str(res.error, "Failed to run: Monitor is disconnected",
	       "pre-start/monitor closed: Incus's error text");
	lab_scriptlet_result_clear(&res);
}

/**
 * late_poll() - script the start of a pre-start whose third poll QEMU
 * answers after 800 ms
 * @fp:		peer
 * @cmd:	the stub's ringbuf-read command
 */
static void late_poll(struct fakepeer *fp, const char *cmd)
{
	x_start(fp, RTC_BASE);
	x_reads(fp, "", 2);
	fakepeer_expect(fp, cmd);
	fakepeer_delay(fp, 800);
	fakepeer_reply(fp, "{\"return\": \"\"}");
}

/**
 * test_prestart_reply_timeout() - a poll answered later than Incus's 500 ms
 */
static void test_prestart_reply_timeout(void)
{
	struct fakepeer *fp = incus_run_peer_new();
	cleanup_free char *cmd = read_command();
	struct lab_scriptlet_result res;

	late_poll(fp, cmd);
	prestart(fp, &incus_run_stub_default, NULL, &res,
		 "pre-start/reply timeout: the stub's exact QMP");
	is_str(res.error, "Failed to run: Monitor command timed out: \"ringbuf-read\" after 500ms",
	       "pre-start/reply timeout: Incus's error text after 500 ms");
	ok(res.elapsed_ms >= 500, "pre-start/reply timeout: after 500 ms or more (%lld ms)",
	   (long long)res.elapsed_ms);
	lab_scriptlet_result_clear(&res);
}

/**
 * test_prestart_reply_incus60() - the same late poll under Incus 6.0's
 * monitor (COLDPLUG_INCUS_QMP_TIMEOUTS=6.0), which waits for it
 */
static void test_prestart_reply_incus60(void)
{
	struct fakepeer *fp = incus_run_peer_new();
	cleanup_free char *cmd = read_command();
	struct lab_scriptlet_result res;

	late_poll(fp, cmd);
	fakepeer_close(fp);
	setenv("COLDPLUG_INCUS_QMP_TIMEOUTS", "6.0", 1);
	prestart(fp, &incus_run_stub_default, NULL, &res,
		 "pre-start/Incus 6.0: the stub's exact QMP");
	unsetenv("COLDPLUG_INCUS_QMP_TIMEOUTS");
	is_str(res.error, "Failed to run: Monitor is disconnected",
	       "pre-start/Incus 6.0: the late reply was taken; the next poll found QEMU gone");
	ok(res.elapsed_ms >= 800, "pre-start/Incus 6.0: after the 800 ms reply (%lld ms)",
	   (long long)res.elapsed_ms);
	lab_scriptlet_result_clear(&res);
}

/* ---- pre-start, live ---- */

/**
 * struct live - a peer that answers by the real clock, as QEMU would while
 * coldplug serve works on the other monitor and writes to the ringbuf
 * @fd:		its end of the socket
 * @thread:	the thread serving it
 * @stream:	framing of the commands
 * @t0:		cp_now_ms() at start
 * @connect_ms:	when the daemon's monitor connects (-1: never)
 * @running_ms:	when, after the request, the daemon writes "running\n"
 * @done_ms:	when, after the request, it writes the done line
 * @requested:	cp_now_ms() of the request (0: none yet)
 * @ring:	what the status ringbuf holds (written, not read yet)
 * @ring_len:	its length
 * @wrote:	lines written to the ringbuf so far (0, 1 or 2)
 * @calls:	commands answered (the handshake excluded)
 * @reads:	ringbuf-reads answered
 * @first_read:	cp_now_ms() of the first ringbuf-read
 * @last_read:	cp_now_ms() of the last one
 */
struct live {
	int fd;
	pthread_t thread;
	struct qmp_stream *stream;
	int64_t t0;
	int connect_ms;
	int running_ms;
	int done_ms;
	int64_t requested;
	char ring[256];
	size_t ring_len;
	int wrote;
	unsigned calls;
	unsigned reads;
	int64_t first_read;
	int64_t last_read;
};

#define LIVE_DONE "done: 1 device re-homed (root -> coldplug-disk0) in 2000 ms"

/**
 * live_daemon() - what coldplug serve has written to the ringbuf by @now
 * @lp:		peer
 * @now:	cp_now_ms()
 */
static void live_daemon(struct live *lp, int64_t now)
{
	static const char *const lines[] = { "running\n", LIVE_DONE "\n" };

	while (lp->requested && lp->wrote < 2 &&
	       now - lp->requested >= (lp->wrote ? lp->done_ms : lp->running_ms)) {
		cp_strlcpy(lp->ring + lp->ring_len, lines[lp->wrote],
			   sizeof(lp->ring) - lp->ring_len);
		lp->ring_len = strlen(lp->ring);
		lp->wrote++;
	}
}

/**
 * live_read() - ringbuf-read: the ringbuf's content, emptied
 * @lp:		peer
 * @now:	cp_now_ms()
 *
 * Return: new reference
 */
static cp_json *live_read(struct live *lp, int64_t now)
{
	cp_json *v = cp_json_new_string(lp->ring);

	if (!lp->first_read)
		lp->first_read = now;
	lp->last_read = now;
	lp->reads++;
	lp->ring[0] = '\0';
	lp->ring_len = 0;
	return v;
}

/**
 * live_value() - the return value of @cmd
 * @lp:		peer
 * @cmd:	command name
 * @args:	its arguments, or NULL
 *
 * Return: new reference
 */
static cp_json *live_value(struct live *lp, const char *cmd, const cp_json *args)
{
	int64_t now = cp_now_ms();
	bool connected = lp->connect_ms >= 0 && now - lp->t0 >= lp->connect_ms;
	char buf[512];

	live_daemon(lp, now);
	snprintf(buf, sizeof(buf), "{}");
	if (!strcmp(cmd, "ringbuf-read") &&
	    cp_streq(cp_json_get_str(args, "device"), STUB_STATUS_CHARDEV))
		return live_read(lp, now);
	if (!strcmp(cmd, "query-chardev"))
		snprintf(buf, sizeof(buf),
			 "[{\"frontend-open\": true, \"filename\": \"%s\", \"label\": "
			 "\"" STUB_MONITOR "\"}, {\"frontend-open\": false, \"filename\": "
			 "\"ringbuf\", \"label\": \"" STUB_STATUS_CHARDEV "\"}]",
			 connected ? "unix:" : "disconnected:unix:" INCUS_RUN_SOCKET);
	else if (!strcmp(cmd, "qom-get") && cp_streq(cp_json_get_str(args, "path"), "/machine"))
		rtc_value(time(NULL), buf, sizeof(buf));
	else if (!strcmp(cmd, "object-add"))
		lp->requested = now;
	return cp_json_parse(buf, strlen(buf), NULL);
}

/**
 * live_message() - qmp_stream_msg_fn: answer one command
 * @msg:	the command
 * @userdata:	struct live
 * @err:	unused
 *
 * Return: 0, or -1 when the reply cannot be written
 */
static int live_message(cp_json *msg, void *userdata, struct cp_error *err)
{
	struct live *lp = userdata;
	const char *cmd = cp_json_get_str(msg, "execute");
	cleanup_json cp_json *reply = cp_json_new_object();
	cleanup_free char *text = NULL;
	int64_t id = 0;

	(void)err;
	cp_json_get_int(msg, "id", &id);
	if (cmd && strcmp(cmd, "qmp_capabilities"))
		lp->calls++;
	cp_json_set(reply, "return", live_value(lp, cmd ? cmd : "", cp_json_get(msg, "arguments")));
	cp_json_set_int(reply, "id", id);
	text = cp_json_dump(reply, 0);
	return text && write(lp->fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -1;
}

/**
 * live_main() - the live peer's thread: greeting, then answers until EOF
 * @arg:	struct live
 *
 * Return: NULL
 */
static void *live_main(void *arg)
{
	static const char greeting[] = "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, "
				       "\"minor\": 2, \"major\": 7}, \"package\": \"live\"}, "
				       "\"capabilities\": [\"oob\"]}}";
	struct live *lp = arg;
	char buf[65536];
	ssize_t n;

	if (write(lp->fd, greeting, sizeof(greeting) - 1) < 0)
		return NULL;
	while ((n = read(lp->fd, buf, sizeof(buf))) > 0)
		if (qmp_stream_feed(lp->stream, buf, (size_t)n, live_message, lp, NULL) < 0)
			break;
	return NULL;
}

/**
 * live_run() - run the stub's pre-start against a live peer
 * @lp:		peer settings (connect_ms, running_ms, done_ms); the rest is filled
 * @s:		stub settings
 * @res:	filled
 *
 * Return: the stage's result
 */
static int live_run(struct live *lp, const struct incus_run_stub *s,
		    struct lab_scriptlet_result *res)
{
	cleanup_free char *stub = incus_run_stub_text(s);
	cleanup_json cp_json *inst = incus_run_instance();
	struct qmp_client_opts o;
	struct qmp_client *c;
	struct cp_error err;
	int sv[2], rc;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		bail_out("socketpair: %s", strerror(errno));
	lp->fd = sv[1];
	lp->stream = qmp_stream_new(QMP_STREAM_DEFAULT_MAX_MESSAGE, 64);
	lp->t0 = cp_now_ms();
	if (!lp->stream || pthread_create(&lp->thread, NULL, live_main, lp))
		bail_out("live peer: cannot start");
	qmp_client_opts_init(&o);
	o.trace = 0;
	c = qmp_client_new(sv[0], &o, &err);
	if (!c || qmp_client_handshake(c, INCUS_RUN_HANDSHAKE_MS, &err) < 0)
		bail_out("live peer: %s", err.msg);
	rc = incus_run_stage(c, stub, "pre-start", inst, NULL, res);
	qmp_client_free(c);
	pthread_join(lp->thread, NULL);
	close(lp->fd);
	qmp_stream_free(lp->stream);
	return rc;
}

/**
 * live_rate() - ringbuf-reads per second during the run's polling
 * @lp:	peer, run
 *
 * Return: the rate, 0 when there were fewer than two reads
 */
static double live_rate(const struct live *lp)
{
	int64_t ms = lp->last_read - lp->first_read;

	return lp->reads > 1 && ms > 0 ? (lp->reads - 1) * 1000.0 / (double)ms : 0.0;
}

/**
 * test_live_wait() - the daemon writes running at once and done after 2 s:
 * the stub returns after about that long; the poll rate is what a real VM
 * start sees on a fast QEMU
 */
static void test_live_wait(void)
{
	struct live lp = { .connect_ms = 0, .running_ms = 0, .done_ms = 2000 };
	struct lab_scriptlet_result res;
	struct polls p;
	int rc;

	rc = live_run(&lp, &incus_run_stub_default, &res);
	ok(rc == 0, "live/wait: returned None once the ringbuf said done%s%s",
	   res.error ? ": " : "", res.error ? res.error : "");
	like(res.log, "msg=\"QEMU scriptlet (pre-start): coldplug: " LIVE_DONE "\"",
	     "live/wait: the done line logged");
	ok(res.elapsed_ms >= 2000 && res.elapsed_ms < 10000,
	   "live/wait: about 2 s of waiting (%lld ms)", (long long)res.elapsed_ms);
	is_int(res.calls, lp.calls, "live/wait: every call crossed the proxy and was counted");
	p = check_polls(&res, "live/wait", -1, -1);
	diag("live/wait: %u ringbuf-reads in %.2f s: %.0f polls/s; %u logged commands (%.1f per "
	     "%d polls)",
	     lp.reads, (double)(lp.last_read - lp.first_read) / 1000.0, live_rate(&lp), p.logged,
	     p.reads ? (double)p.logged * CHECK_EVERY / p.reads : 0.0, CHECK_EVERY);
	lab_scriptlet_result_clear(&res);
}

/**
 * test_live_not_running() - no daemon, connect timeout 2 s: the start
 * fails after 2 to 5 s of real time (the clock has a 1 s resolution, and
 * it is read every 2000 polls)
 */
static void test_live_not_running(void)
{
	const struct incus_run_stub s = { .usb = false, .timeout = 120, .connect = 2 };
	struct live lp = { .connect_ms = -1 };
	struct lab_scriptlet_result res;
	struct polls p;

	live_run(&lp, &s, &res);
	is_str(res.error, MSG_NOT_RUNNING, "live/not running: the stub's message");
	ok(res.elapsed_ms >= 2000 && res.elapsed_ms < 5000,
	   "live/not running: within the connect timeout's bound (%lld ms for 2 s)",
	   (long long)res.elapsed_ms);
	ok(trace_find(&res, "object-add") < 0, "live/not running: no request sent");
	p = check_polls(&res, "live/not running", -1, -1);
	diag("live/not running: %u ringbuf-reads in %.2f s: %.0f polls/s; %u logged commands",
	     lp.reads, (double)(lp.last_read - lp.first_read) / 1000.0, live_rate(&lp), p.logged);
	lab_scriptlet_result_clear(&res);
}

/**
 * test_status_text() - a status the daemon publishes is one line, bounded:
 * a device name or QEMU error with a newline cannot end the line the stub
 * reads and start a "done" of its own
 */
static void test_status_text(void)
{
	char big[STUB_STATUS_MAX + 100], out[STUB_STATUS_MAX];

	stub_status_clean(STUB_STATUS_DONE ": 1 device re-homed (ro\not -> coldplug-disk0)\n"
					   "done\x1b[2J\x7f",
			  out, sizeof(out));
	is_str(out, "done: 1 device re-homed (ro ot -> coldplug-disk0) done [2J ",
	       "status: control characters become spaces, one line");
	stub_status_failed("boom\r\ndone: all fine", out, sizeof(out));
	is_str(out, "failed: boom  done: all fine", "a failure's status: the same");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	stub_status_clean(big, out, sizeof(out));
	is_int((long long)strlen(out), STUB_STATUS_MAX - 1, "status: bounded");
}

/**
 * main() - run the tests
 *
 * Return: TAP exit status
 */
int main(void)
{
	test_status_text(); /* needs no runner */
	incus_run_init();
	test_stub_compiles();
	test_config_pci();
	test_config_direct();
	test_config_queues();
	test_config_usb();
	test_config_too_many();
	test_prestart_done();
	test_prestart_late_connect();
	test_prestart_failed();
	test_prestart_not_running();
	test_prestart_went_away();
	test_prestart_timeout();
	test_prestart_no_chardev();
	test_prestart_qmp_error();
	test_prestart_monitor_closed();
	test_prestart_reply_timeout();
	test_prestart_reply_incus60();
	test_live_wait();
	test_live_not_running();
	return done_testing();
}

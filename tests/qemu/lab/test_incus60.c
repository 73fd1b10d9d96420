/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The emulator as Incus 6.0 follows real Incus 6.0.4 (issue 10): the VM of
 * tests/data/incus-6.0 (dn2: limits.cpu=2, a bridged NIC eth0, a 64 MiB root,
 * an ISO "cd" and a 32 MiB custom block volume "data" on virtio-scsi,
 * coldplug's profile), started by the emulator with release LAB_INCUS_6_0, gives
 *  (a) the qemu.conf Incus 6.0.4 wrote (tests/data/incus-6.0/qemu.conf),
 *      compared section by section as QEMU reads it (conf-compare.py's
 *      idea): Incus's own sections in order, the profile's appended ones as
 *      a set (Incus's raw.qemu.conf override appends them in an unstable
 *      order); keys that differ per run or by the lab's design are ignored,
 *      each listed in ignored_keys[] with its reason;
 *  (b) the QMP commands Incus 6.0.4 sent (tests/data/incus-6.0/qemu.qmp.log),
 *      in order, with the arguments that matter, up to `cont`; after it the
 *      state polling as a pattern (query-status, then query-status +
 *      query-chardev rounds), not a count.
 * The profile is today's `coldplug incus-profile` (its stub's NIC slot on
 * the direct path, on Incus's tap); the stub runs in the emulator's Starlark runner,
 * and a stand-in for coldplug serve (a listening socket for the profile's
 * monitor, "done" in the status ringbuf) lets it finish. Then an ISO: a
 * writable node on scsi-cd, and an eject for a DEVICE_TRAY_MOVED.
 *
 *   test-lab-incus60 --qemu 7.2|10.0
 *
 * The lab's QEMU 10.0 has no SPICE module: there the SPICE sections are left
 * out by the emulator and ignored here (7.2 compares them).
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "coldplug/incus_profile.h"
#include "coldplug/json.h"
#include "coldplug/qmp.h"
#include "incus.h"
#include "proc.h"
#include "run.h"
#include "tap.h"
#include "util.h"

#ifndef COLDPLUG_TEST_DATA
#define COLDPLUG_TEST_DATA "tests/data"
#endif

#define REC_DIR	     COLDPLUG_TEST_DATA "/incus-6.0"
#define REC_MAC	     "10:66:6a:22:04:98" /* eth0's volatile hwaddr in the recording */
#define IDLE_MS	     7000		 /* two of Incus 6.0's polling rounds */
#define MAX_COMMANDS 256

/**
 * struct ignored_key - a key whose value is not compared, and why
 * @section:	section name as written between the brackets
 * @key:	key, or "*" for the whole section (present on one side only)
 * @why:	the reason
 */
struct ignored_key {
	const char *section;
	const char *key;
	const char *why;
};

static const struct ignored_key ignored_keys[] = {
	{ "machine", "accel", "Incus asks for kvm; the lab runs TCG" },
	{ "accel", "*", "the lab's TCG settings (single-threaded), not Incus's" },
	{ "chardev \"monitor\"", "path", "Incus's run directory, per run" },
	{ "chardev \"console\"", "backend", "the lab reads the console from a socket" },
	{ "chardev \"console\"", "size", "the lab's console is a socket, not a ringbuf" },
	{ "chardev \"console\"", "path", "the lab's console socket, per run" },
	{ "chardev \"console\"", "server", "the lab's console socket" },
	{ "chardev \"console\"", "wait", "the lab's console socket" },
	{ "device \"qemu_vsock\"", "*",
	  "vhost-vsock needs /dev/vhost-vsock and Incus's fd (guest-cid, vhostfd): the lab "
	  "leaves it out, its PCIe function stays allocated" },
	{ "fsdev \"qemu_config\"", "path", "Incus's config.mount directory, per run" },
	{ "fsdev \"qemu_agent\"", "path", "where Incus's agent binaries are; the lab's is empty" },
	{ "device \"vmgenid0\"", "guid", "a random UUID per instance" },
	{ "chardev \"coldplug\"", "path", "coldplug serve's socket (the test's own)" },
	{ "netdev \"coldplug-nic0\"", "ifname",
	  "the direct NIC slot's tap: Incus's volatile.eth0.host_name, random per run" },
};

/**
 * key_ignored() - whether @key of @section is ignored
 * @section:	section name
 * @key:	key, or "*" to ask about the whole section
 *
 * Return: true if ignored_keys[] lists it
 */
static bool key_ignored(const char *section, const char *key)
{
	size_t i;

	for (i = 0; i < CP_ARRAY_SIZE(ignored_keys); i++)
		if (!strcmp(ignored_keys[i].section, section) && !strcmp(ignored_keys[i].key, key))
			return true;
	return false;
}

/**
 * conf_parse() - a -readconfig file as QEMU reads it
 * @text:	the file
 *
 * Return: new array of {"name", "entries": {key: value}}, quotes removed
 */
static cp_json *conf_parse(const char *text)
{
	cp_json *secs = cp_json_new_array(), *cur = NULL;
	cleanup_free char *copy = strdup(text);
	char *line, *save = NULL;

	for (line = strtok_r(copy, "\n", &save); copy && line; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '='), *k, *v, *end;

		line += strspn(line, " \t");
		if (!*line || *line == '#')
			continue;
		if (*line == '[') {
			end = strrchr(line, ']');
			*(end ? end : line + strlen(line)) = '\0';
			cur = cp_json_new_object();
			cp_json_set_str(cur, "name", line + 1);
			cp_json_set(cur, "entries", cp_json_new_object());
			cp_json_append(secs, cur);
			continue;
		}
		if (!eq || !cur)
			continue;
		*eq = '\0';
		k = line;
		for (end = eq; end > k && (end[-1] == ' ' || end[-1] == '\t'); end--)
			end[-1] = '\0';
		v = eq + 1 + strspn(eq + 1, " \t");
		end = v + strlen(v);
		while (end > v && (end[-1] == ' ' || end[-1] == '"' || end[-1] == '\r'))
			*--end = '\0';
		if (*v == '"')
			v++;
		cp_json_set_str(cp_json_get_object(cur, "entries"), k, v);
	}
	return secs;
}

/**
 * own_end() - where Incus's own sections end: after the last root port
 * @secs:	sections
 *
 * Return: index of the first appended (raw.qemu.conf, scriptlet) section
 */
static size_t own_end(const cp_json *secs)
{
	size_t i, end = 0;

	for (i = 0; i < cp_json_len(secs); i++)
		if (cp_str_has_prefix(cp_json_get_str(cp_json_at(secs, i), "name"),
				      "device \"qemu_pcie"))
			end = i + 1;
	return end;
}

/* cp_json_object_each() state of entries_diff(). */
struct diff_walk {
	const char *section;
	const cp_json *other;
	char *out;
	size_t size;
	bool differs;
};

/**
 * diff_key() - cp_json_object_each callback: one key of one side
 * @key:	key
 * @val:	its value
 * @userdata:	struct diff_walk
 *
 * Return: 0
 */
static int diff_key(const char *key, cp_json *val, void *userdata)
{
	struct diff_walk *w = userdata;
	const char *mine = cp_json_as_str(val), *theirs = cp_json_get_str(w->other, key);
	size_t len = strlen(w->out);

	if (key_ignored(w->section, key) || cp_streq(mine, theirs))
		return 0;
	w->differs = true;
	snprintf(w->out + len, w->size - len, " %s: %s | %s;", key, mine ? mine : "-",
		 theirs ? theirs : "-");
	return 0;
}

/**
 * entries_diff() - the keys whose values differ, ignored keys aside
 * @section:	section name
 * @real:	the recording's entries
 * @emu:	the emulator's
 * @out:	"key: real | emulator;" per difference
 * @size:	its size
 *
 * Return: true if they differ
 */
static bool entries_diff(const char *section, const cp_json *real, const cp_json *emu, char *out,
			 size_t size)
{
	struct diff_walk a = { section, emu, out, size, false };
	struct diff_walk b = { section, real, out, size, false };
	char tmp[1024] = "", *save = NULL;

	out[0] = '\0';
	cp_json_object_each(real, diff_key, &a);
	b.out = tmp;
	b.size = sizeof(tmp);
	cp_json_object_each(emu, diff_key, &b);
	/* Keys only the emulator has: report them once, from its side. */
	for (char *p = strtok_r(tmp, ";", &save); p; p = strtok_r(NULL, ";", &save)) {
		char key[128];

		if (sscanf(p, " %127[^:]:", key) == 1 && !cp_json_get(real, key)) {
			size_t len = strlen(out);

			snprintf(out + len, size - len, " %s: - | (emulator);", key);
			a.differs = true;
		}
	}
	return a.differs || b.differs;
}

/**
 * skip_section() - a section one side has by design, not compared
 * @name:	section name
 * @spice:	the emulator's QEMU has SPICE
 *
 * Return: true to leave it out
 */
static bool skip_section(const char *name, bool spice)
{
	return key_ignored(name, "*") || (!spice && strstr(name, "spice"));
}

/**
 * own_filtered() - Incus's own sections of one side, skipped ones removed
 * @secs:	sections
 * @spice:	the emulator's QEMU has SPICE
 *
 * Return: new array (references into @secs)
 */
static cp_json *own_filtered(const cp_json *secs, bool spice)
{
	cp_json *out = cp_json_new_array();
	size_t i, end = own_end(secs);

	for (i = 0; i < end; i++) {
		cp_json *s = cp_json_at(secs, i);

		if (!skip_section(cp_json_get_str(s, "name"), spice))
			cp_json_append(out, cp_json_ref(s));
	}
	return out;
}

/**
 * check_own_sections() - Incus's own sections: same names, same order, same
 * values (ignored keys aside)
 * @real:	the recording's sections
 * @emu:	the emulator's
 * @spice:	the emulator's QEMU has SPICE
 * @label:	for messages
 */
static void check_own_sections(const cp_json *real, const cp_json *emu, bool spice,
			       const char *label)
{
	cleanup_json cp_json *r = own_filtered(real, spice);
	cleanup_json cp_json *e = own_filtered(emu, spice);
	size_t i, n = cp_json_len(r) > cp_json_len(e) ? cp_json_len(r) : cp_json_len(e);
	unsigned bad = 0;
	char diff[2048];

	for (i = 0; i < n; i++) {
		const cp_json *rs = cp_json_at(r, i), *es = cp_json_at(e, i);
		const char *rn = rs ? cp_json_get_str(rs, "name") : "(none)";
		const char *en = es ? cp_json_get_str(es, "name") : "(none)";

		if (!cp_streq(rn, en)) {
			diag("%s: section %zu: real [%s], emulator [%s]", label, i + 1, rn, en);
			bad++;
			break; /* the rest is shifted */
		}
		if (entries_diff(rn, cp_json_get_object(rs, "entries"),
				 cp_json_get_object(es, "entries"), diff, sizeof(diff))) {
			diag("%s: [%s] differs (real | emulator):%s", label, rn, diff);
			bad++;
		}
	}
	ok(bad == 0 && n > 20, "%s: Incus's own %zu sections match 6.0.4's, in order", label, n);
}

/**
 * check_appended_sections() - the profile's and the stub's sections, as a
 * set: each recorded one has an equal one in the emulator's file, and back
 * @real:	the recording's sections
 * @emu:	the emulator's
 * @label:	for messages
 */
static void check_appended_sections(const cp_json *real, const cp_json *emu, const char *label)
{
	size_t ri, ei, rs = own_end(real), es = own_end(emu), ne = cp_json_len(emu);
	bool used[512] = { false }, same_order = true;
	unsigned missing = 0;
	char diff[2048];

	for (ri = rs; ri < cp_json_len(real); ri++) {
		const cp_json *r = cp_json_at(real, ri);
		const char *name = cp_json_get_str(r, "name");
		bool found = false;

		for (ei = es; !found && ei < ne && ei - es < CP_ARRAY_SIZE(used); ei++) {
			const cp_json *e = cp_json_at(emu, ei);

			if (used[ei - es] || !cp_streq(name, cp_json_get_str(e, "name")) ||
			    entries_diff(name, cp_json_get_object(r, "entries"),
					 cp_json_get_object(e, "entries"), diff, sizeof(diff)))
				continue;
			used[ei - es] = found = true;
			same_order &= ei - es == ri - rs;
		}
		if (!found) {
			cleanup_free char *t = cp_json_dump(r, 0);

			diag("%s: recorded section not in the emulator's file: %s", label, t);
			missing++;
		}
	}
	for (ei = es; ei < ne && ei - es < CP_ARRAY_SIZE(used); ei++)
		if (!used[ei - es]) {
			cleanup_free char *t = cp_json_dump(cp_json_at(emu, ei), 0);

			diag("%s: emulator's section not in the recording: %s", label, t);
			missing++;
		}
	ok(missing == 0 && cp_json_len(real) - rs == ne - es,
	   "%s: the %zu appended sections (profile, stub) are the recorded ones", label,
	   cp_json_len(real) - rs);
	diag("%s: appended sections in the recorded order: %s (Incus's order is unstable)", label,
	     same_order ? "yes" : "no");
}

/**
 * check_conf() - (a): the emulator's qemu.conf against the recorded one
 * @vm:		started emulator
 * @spice:	its QEMU has SPICE
 * @label:	for messages
 */
static void check_conf(const struct lab_incus *vm, bool spice, const char *label)
{
	struct cp_error err = { 0 };
	cleanup_free char *rt = lab_read_file(REC_DIR "/qemu.conf", 1 << 20, &err);
	cleanup_free char *et = lab_read_file(lab_incus_conf_path(vm), 1 << 20, &err);
	cleanup_json cp_json *real = rt ? conf_parse(rt) : NULL;
	cleanup_json cp_json *emu = et ? conf_parse(et) : NULL;
	size_t i;

	if (!ok(real && emu, "%s: both qemu.conf files read", label)) {
		diag("%s", err.msg);
		return;
	}
	for (i = 0; i < CP_ARRAY_SIZE(ignored_keys); i++)
		diag("ignored: [%s] %s: %s", ignored_keys[i].section, ignored_keys[i].key,
		     ignored_keys[i].why);
	if (!spice)
		diag("ignored: every SPICE section: this QEMU has no SPICE module (the lab's "
		     "QEMU 10.0 is fetched without qemu-system-modules-spice)");
	check_own_sections(real, emu, spice, label);
	check_appended_sections(real, emu, label);
}

/**
 * load_recorded() - the commands of Incus's qemu.qmp.log
 * @out:	filled with new {"execute", "arguments"} objects
 * @max:	capacity
 *
 * Return: count, or -1
 */
static int load_recorded(cp_json **out, size_t max)
{
	struct cp_error err = { 0 };
	cleanup_free char *text = lab_read_file(REC_DIR "/qemu.qmp.log", 4 << 20, &err);
	char *line, *save = NULL, *q;
	size_t n = 0;

	if (!text)
		return diag("%s", err.msg), -1;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!(q = strstr(line, "QUERY: ")))
			continue;
		q += strlen("QUERY: ");
		if (n == max || !(out[n] = cp_json_parse(q, strlen(q), &err)))
			return diag("qemu.qmp.log: %s", err.msg), -1;
		n++;
	}
	return (int)n;
}

/**
 * logged() - whether Incus's QMP log would show this command
 * @cmd:	command name
 *
 * Return: false for the handshake, ringbuf-read and the fd-passing commands
 */
static bool logged(const char *cmd)
{
	static const char *const hidden[] = { "qmp_capabilities", "ringbuf-read", "getfd",
					      "add-fd" };
	size_t i;

	for (i = 0; i < CP_ARRAY_SIZE(hidden); i++)
		if (cp_streq(cmd, hidden[i]))
			return false;
	return true;
}

/**
 * normalized() - a command as compared: execute and arguments, with what
 * differs per run masked
 * @msg:	the command
 *
 * An absent "arguments" is {} (the scriptlet's run_command() sends {}); in
 * object-add's identity (coldplug's request) the tap names are Incus's
 * random ones, so they are masked.
 *
 * Return: new object
 */
static cp_json *normalized(const cp_json *msg)
{
	cp_json *o = cp_json_new_object(), *args = cp_json_get(msg, "arguments");
	const char *cmd = cp_json_get_str(msg, "execute");
	cp_json *a = args ? cp_json_copy(args) : cp_json_new_object();
	const char *ident = cp_json_get_str(a, "identity");

	if (cp_streq(cmd, "object-add") && ident) {
		struct cp_error err = { 0 };
		cleanup_json cp_json *id = cp_json_parse(ident, strlen(ident), &err);
		cp_json *taps = id ? cp_json_get_object(id, "taps") : NULL;

		if (taps && cp_json_get(taps, "eth0"))
			cp_json_set_str(taps, "eth0", "tap*");
		if (id)
			cp_json_set(a, "identity", cp_json_ref(id));
	}
	cp_json_set_str(o, "execute", cmd);
	cp_json_set(o, "arguments", a);
	return o;
}

/**
 * tail_matches() - the commands after cont as a pattern: query-status, then
 * one or more rounds of query-status + query-chardev
 * @cmds:	the commands
 * @n:		their count
 * @from:	first index after cont
 * @text:	filled with the names, space-separated
 * @size:	its size
 *
 * Return: true if they match
 */
static bool tail_matches(cp_json *const *cmds, size_t n, size_t from, char *text, size_t size)
{
	size_t i, off = 0;
	regex_t re;
	bool match;

	text[0] = '\0';
	for (i = from; i < n && off < size; i++)
		off += (size_t)snprintf(text + off, size - off, "%s%s", i > from ? " " : "",
					cp_json_get_str(cmds[i], "execute"));
	if (regcomp(&re, "^query-status( query-status query-chardev)+$", REG_EXTENDED | REG_NOSUB))
		return false;
	match = regexec(&re, text, 0, NULL, 0) == 0;
	regfree(&re);
	return match;
}

/**
 * emulator_commands() - the commands the emulator sent that Incus logs
 * @vm:		emulator
 * @out:	filled with borrowed messages
 * @max:	capacity
 *
 * Return: count
 */
static size_t emulator_commands(const struct lab_incus *vm, cp_json **out, size_t max)
{
	size_t k, n = 0;

	for (k = 0; k < lab_incus_trace_len(vm) && n < max; k++) {
		const struct lab_qmp_record *r = lab_incus_trace_at(vm, k);

		if (r->sent && logged(cp_json_get_str(r->msg, "execute")))
			out[n++] = r->msg;
	}
	return n;
}

/**
 * index_of_cont() - where `cont` is
 * @cmds:	commands
 * @n:		their count
 *
 * Return: its index, or @n
 */
static size_t index_of_cont(cp_json *const *cmds, size_t n)
{
	size_t i;

	for (i = 0; i < n && !cp_streq(cp_json_get_str(cmds[i], "execute"), "cont"); i++)
		;
	return i;
}

/**
 * check_qmp() - (b): the emulator's commands against Incus's log
 * @vm:		started emulator, idled
 * @label:	for messages
 */
static void check_qmp(const struct lab_incus *vm, const char *label)
{
	cp_json *real[MAX_COMMANDS], *emu[MAX_COMMANDS];
	int nr = load_recorded(real, MAX_COMMANDS);
	size_t ne = emulator_commands(vm, emu, MAX_COMMANDS), rc, ec, i;
	char rt[4096], et[4096];
	bool same = nr > 0;

	if (nr < 0)
		return (void)ok(false, "%s: qemu.qmp.log read", label);
	rc = index_of_cont(real, (size_t)nr);
	ec = index_of_cont(emu, ne);
	for (i = 0; same && i <= rc && i <= ec; i++) {
		cleanup_json cp_json *r = normalized(real[i]);
		cleanup_json cp_json *e = i < ne ? normalized(emu[i]) : NULL;

		if (!e || !cp_json_equal(r, e)) {
			cleanup_free char *rs = cp_json_dump(r, 0);
			cleanup_free char *es = e ? cp_json_dump(e, 0) : NULL;

			diag("%s: command %zu differs\n#   recorded: %s\n#   emulator: %s", label,
			     i + 1, rs, es ? es : "(none)");
			same = false;
		}
	}
	ok(same && rc == ec && rc < (size_t)nr,
	   "%s: the %zu commands up to cont are the recorded ones, in order", label, rc + 1);
	ok(tail_matches(real, (size_t)nr, rc + 1, rt, sizeof(rt)),
	   "%s: the recording after cont is query-status, then query-status + query-chardev "
	   "rounds",
	   label);
	if (!ok(tail_matches(emu, ne, ec + 1, et, sizeof(et)),
		"%s: so is the emulator's after cont (%d s idle)", label, IDLE_MS / 1000))
		diag("%s: after cont: %s", label, et);
	for (i = 0; i < (size_t)nr; i++)
		cp_json_unref(real[i]);
}

/**
 * daemon_stand_in() - a listening socket where the profile's monitor dials
 * @path:	socket path
 *
 * QEMU's connect() completes on the backlog, so the stub sees its monitor
 * connected; nothing is ever accepted.
 *
 * Return: the socket (the caller closes it), or -1
 */
static int daemon_stand_in(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cp_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/**
 * answer_done() - pre-start hook: coldplug serve's answer, "done", in the
 * status ringbuf the stub reads (over the second monitor)
 * @vm:		emulator (paused)
 * @arg:	unused
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int answer_done(struct lab_incus *vm, void *arg, struct cp_error *err)
{
	struct qmp_client *c = qmp_client_connect(lab_incus_coldplug_qmp(vm), 5000, NULL, err);
	cp_json *a = cp_json_new_object();
	cleanup_json cp_json *ret = NULL;

	(void)arg;
	cp_json_set_str(a, "device", "coldplug-status");
	cp_json_set_str(a, "data", "done (test-incus60's stand-in for coldplug serve)\n");
	ret = c ? qmp_client_call(c, "ringbuf-write", a, err) : (cp_json_unref(a), NULL);
	qmp_client_free(c);
	return ret ? 0 : -1;
}

/**
 * recorded_vm() - the recording's VM as Incus 6.0, not started
 * @qemu:	QEMU version
 * @sock:	the profile's daemon socket
 * @err:	filled on failure
 *
 * Return: new emulator, or NULL
 */
static struct lab_incus *recorded_vm(const char *qemu, const char *sock, struct cp_error *err)
{
	struct incus_profile_opts po;
	cleanup_free char *yaml = NULL, *name = NULL, *conf = NULL, *stub = NULL;
	struct lab_incus_opts o;
	struct lab_incus *vm;

	incus_profile_opts_init(&po);
	po.monitor.socket = sock;
	po.monitor.use_reconnect_ms = false; /* the recorded profile: reconnect = "1" */
	yaml = incus_profile_generate(&po, err);
	if (!yaml || lab_incus_profile_read(yaml, strlen(yaml), &name, &conf, &stub, err) < 0)
		return NULL;
	lab_incus_opts_init(&o);
	o.qemu = qemu;
	o.release = LAB_INCUS_6_0;
	o.name = "dn2";
	o.vcpus = 2;
	o.max_vcpus = 2;
	o.no_vhost = true;
	o.raw_qemu_conf = conf;
	o.scriptlet = stub;
	o.pre_start = answer_done;
	vm = lab_incus_new(&o, err);
	if (!vm ||
	    lab_incus_add_nic(vm, &(struct lab_nic_spec){ .name = "eth0", .hwaddr = REC_MAC },
			      err) < 0 ||
	    lab_incus_add_disk(
		    vm, &(struct lab_disk_spec){ .name = "root", .root = true, .size = 64 << 20 },
		    err) < 0 ||
	    lab_incus_add_disk(
		    vm, &(struct lab_disk_spec){ .name = "cd", .cdrom = true, .size = 2 << 20 },
		    err) < 0 ||
	    lab_incus_add_disk(vm, &(struct lab_disk_spec){ .name = "data", .size = 32 << 20 },
			       err) < 0) {
		lab_incus_free(vm);
		return NULL;
	}
	return vm;
}

/**
 * has_spice() - whether the emulator gave QEMU -spice
 * @vm:	started emulator
 *
 * Return: true if the command line has it
 */
static bool has_spice(const struct lab_incus *vm)
{
	const cp_json *args = lab_incus_cmdline(vm);
	size_t i;

	for (i = 0; i < cp_json_len(args); i++)
		if (cp_streq(cp_json_as_str(cp_json_at(args, i)), "-spice"))
			return true;
	return false;
}

/**
 * run_recorded() - start the recording's VM, let it run, compare
 * @qemu:	QEMU version
 */
static void run_recorded(const char *qemu)
{
	struct cp_error err = { 0 };
	cleanup_free char *dir = lab_scratch_dir("incus60", &err);
	char sock[512], label[64];
	struct lab_incus *vm = NULL;
	int lfd = -1;

	lab_fmt(label, sizeof(label), "QEMU %s, Incus 6.0", qemu);
	if (dir) {
		lab_fmt(sock, sizeof(sock), "%s/coldplug.sock", dir);
		lfd = daemon_stand_in(sock);
		vm = recorded_vm(qemu, sock, &err);
	}
	if (!ok(vm && lfd >= 0 && lab_incus_start(vm, &err) == 0 &&
			lab_incus_idle(vm, IDLE_MS, &err) == 0,
		"%s: the recording's VM starts with coldplug's profile, and runs %d s", label,
		IDLE_MS / 1000)) {
		diag("%s", err.msg);
	} else {
		diag("%s: QEMU %s, QMP trace in %s, SPICE %s", label, lab_incus_qemu_version(vm),
		     lab_incus_trace_path(vm), has_spice(vm) ? "on" : "not in this QEMU");
		check_conf(vm, has_spice(vm), label);
		check_qmp(vm, label);
	}
	lab_incus_free(vm);
	if (lfd >= 0)
		close(lfd);
	if (dir)
		lab_remove_tree(dir);
}

/**
 * sent_with() - the first command @cmd the emulator sent whose arguments'
 * @key is @value
 * @vm:		emulator
 * @cmd:	command
 * @key:	argument
 * @value:	its value
 *
 * Return: borrowed arguments, or NULL
 */
static cp_json *sent_with(const struct lab_incus *vm, const char *cmd, const char *key,
			  const char *value)
{
	size_t k;

	for (k = 0; k < lab_incus_trace_len(vm); k++) {
		const struct lab_qmp_record *r = lab_incus_trace_at(vm, k);
		cp_json *a = cp_json_get_object(r->msg, "arguments");

		if (r->sent && cp_streq(cp_json_get_str(r->msg, "execute"), cmd) &&
		    cp_streq(cp_json_get_str(a, key), value))
			return a;
	}
	return NULL;
}

/**
 * open_tray() - blockdev-open-tray of @id over the second monitor
 * @vm:		emulator
 * @id:		qdev id
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int open_tray(struct lab_incus *vm, const char *id, struct cp_error *err)
{
	struct qmp_client *c = qmp_client_connect(lab_incus_coldplug_qmp(vm), 5000, NULL, err);
	cp_json *a = cp_json_new_object();
	cleanup_json cp_json *ret = NULL;

	cp_json_set_str(a, "id", id);
	ret = c ? qmp_client_call(c, "blockdev-open-tray", a, err) : (cp_json_unref(a), NULL);
	qmp_client_free(c);
	return ret ? 0 : -1;
}

/**
 * run_iso() - an ISO as Incus 6.0 adds it, and the eject after a tray event
 * @qemu:	QEMU version
 */
static void run_iso(const char *qemu)
{
	struct cp_error err = { 0 };
	struct lab_incus_opts o;
	struct lab_incus *vm;
	cp_json *bd, *dev;
	bool ro = true;
	char label[64];

	lab_fmt(label, sizeof(label), "QEMU %s, Incus 6.0, ISO", qemu);
	lab_incus_opts_init(&o);
	o.qemu = qemu;
	o.release = LAB_INCUS_6_0;
	vm = lab_incus_new(&o, &err);
	if (!ok(vm &&
			lab_incus_add_disk(vm,
					   &(struct lab_disk_spec){
						   .name = "iso", .cdrom = true, .size = 2 << 20 },
					   &err) == 0 &&
			lab_incus_start(vm, &err) == 0,
		"%s: the VM starts", label)) {
		diag("%s", err.msg);
		lab_incus_free(vm);
		return;
	}
	bd = sent_with(vm, "blockdev-add", "node-name", "incus_iso");
	dev = sent_with(vm, "device_add", "id", "dev-incus_iso");
	ok(bd && cp_json_get_bool(bd, "read-only", &ro) && !ro,
	   "%s: blockdev-add incus_iso with \"read-only\":false", label);
	ok(sent_with(vm, "add-fd", "opaque", "rdwr:incus_iso") != NULL,
	   "%s: its fd is passed read-write (rdwr:incus_iso)", label);
	ok(dev && cp_streq(cp_json_get_str(dev, "driver"), "scsi-cd") &&
		   cp_streq(cp_json_get_str(dev, "bus"), "qemu_scsi.0"),
	   "%s: device_add scsi-cd on qemu_scsi.0", label);
	if (!ok(open_tray(vm, "dev-incus_iso", &err) == 0 && lab_incus_idle(vm, 1000, &err) == 0,
		"%s: the tray opens (second monitor)", label))
		diag("%s", err.msg);
	ok(sent_with(vm, "eject", "id", "dev-incus_iso") != NULL,
	   "%s: Incus 6.0 answers DEVICE_TRAY_MOVED with an eject of that id", label);
	lab_incus_free(vm);
}

int main(int argc, char **argv)
{
	const char *qemu = argc > 2 && !strcmp(argv[1], "--qemu") ? argv[2] : "10.0";
	cleanup_free char *path = lab_qemu_path(qemu);

	if (!path)
		bail_out("QEMU %s is not configured: run tests/qemu/prepare.sh BUILD_DIR", qemu);
	run_recorded(qemu);
	run_iso(qemu);
	return done_testing();
}

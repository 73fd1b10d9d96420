/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * coldplug serve while one VM's tap helper hangs (issue 12, item 3). When
 * QEMU's network namespace is not the daemon's, a helper process enters it
 * to look at a tap (or open a queue on it); a helper that never answers
 * (a namespace that hangs, here the test hook COLDPLUG_TEST_TAPQ_STALL,
 * which makes the helper for that tap sleep until killed) must not hold up
 * any other VM, must be killed and reaped at its deadline, and must die
 * with its VM.
 *
 * The daemon is the real program, in the test's own network namespace; the
 * fake QEMUs are processes the test moves to a namespace of their own
 * (unshare(CLONE_NEWNET): no interface is created or touched anywhere).
 * Fake VM A has a direct NIC slot on tap "cpq-stuck": the daemon's watch
 * inventory probes that tap through a helper, which hangs. Fake VM B only
 * says which VM it is; how long the daemon takes to identify it is
 * measured, alone and while A's helper hangs.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coldplug/json.h"
#include "fakepeer.h"
#include "proc.h"
#include "tap.h"
#include "util.h"

/* meson passes the built program's path; analysers see the fallback. */
#ifndef COLDPLUG_BINARY
#define COLDPLUG_BINARY "build/src/coldplug"
#endif

#define STUCK_TAP "cpq-stuck"
/* The helper's deadline (lib/tapq.h TAPQ_HELPER_TIMEOUT_MS). */
#define HELPER_MS 5000
/* How long identifying VM B may take while A's helper hangs: it takes a
 * few ms alone; before the fix it waited for A's helper, 5 to 10 s. */
#define SERVED_MS 1000
/* How long a fake VM lives at most. */
#define VM_LIFE_MS 30000

static char sock_path[108];

static const char greeting[] =
	"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, "
	"\"package\": \"\"}, \"capabilities\": [\"oob\"]}}\r\n";

/**
 * struct fake_vm - what a fake QEMU says of itself
 * @name:	its VM name
 * @status:	its run state
 * @watched:	coldplug re-homed it before (its status object exists): the
 *		daemon takes an inventory to watch its slots
 * @tap:	the tap of its direct NIC slot, or NULL for none
 */
struct fake_vm {
	const char *name;
	const char *status;
	bool watched;
	const char *tap;
};

/**
 * qom_get() - the answer to a qom-get, as JSON text
 * @vm:		the fake VM
 * @prop:	property
 *
 * Return: static JSON text, or NULL for an error reply
 */
static const char *qom_get(const struct fake_vm *vm, const char *prop)
{
	if (!strcmp(prop, "acpi-device"))
		return "\"\"";
	if (vm->tap && !strcmp(prop, "netdev"))
		return "\"coldplug-nic0\"";
	if (vm->tap && !strcmp(prop, "mac"))
		return "\"52:54:00:12:34:56\"";
	return NULL;
}

/**
 * answer() - what QEMU would return to @cmd, as JSON text
 * @vm:		the fake VM
 * @cmd:	the command
 * @args:	its arguments, or NULL
 * @buf:	room for the answer
 * @size:	its size
 *
 * Return: @buf, or NULL for an error reply
 */
static const char *answer(const struct fake_vm *vm, const char *cmd, const cp_json *args, char *buf,
			  size_t size)
{
	const char *path = cp_json_get_str(args, "path");
	const char *a = NULL;

	if (!strcmp(cmd, "qmp_capabilities") || !strcmp(cmd, "query-block") ||
	    !strcmp(cmd, "query-named-block-nodes") || !strcmp(cmd, "query-fdsets"))
		a = strcmp(cmd, "qmp_capabilities") ? "[]" : "{}";
	else if (!strcmp(cmd, "query-name"))
		snprintf(buf, size, "{\"name\": \"%s\"}", vm->name);
	else if (!strcmp(cmd, "query-uuid"))
		a = "{\"UUID\": \"8e4a0b2c-0000-4000-8000-000000000001\"}";
	else if (!strcmp(cmd, "query-status"))
		snprintf(buf, size, "{\"status\": \"%s\", \"running\": %s, \"singlestep\": false}",
			 vm->status, strcmp(vm->status, "running") ? "false" : "true");
	else if (!strcmp(cmd, "qom-list") && path && !strcmp(path, "/objects"))
		a = vm->watched ? "[{\"name\": \"coldplug-status\", \"type\": \"child<secret>\"}]"
				: "[]";
	else if (!strcmp(cmd, "qom-list") && path && !strcmp(path, "/machine/peripheral"))
		a = vm->tap ? "[{\"name\": \"nic0\", \"type\": \"child<virtio-net-pci>\"}]" : "[]";
	else if (!strcmp(cmd, "qom-list"))
		a = "[]";
	else if (!strcmp(cmd, "human-monitor-command"))
		snprintf(buf, size,
			 "\"nic0: index=0,type=nic,model=virtio-net-pci,macaddr=52:54:00:12:34:56"
			 "\\r\\n \\\\ coldplug-nic0: index=0,type=tap,ifname=%s,script=no,"
			 "downscript=no\\r\\n\"",
			 vm->tap ? vm->tap : "none");
	else if (!strcmp(cmd, "qom-get"))
		a = qom_get(vm, cp_json_get_str(args, "property"));
	else
		return NULL;
	if (a)
		snprintf(buf, size, "%s", a);
	return buf;
}

/**
 * reply() - answer one command
 * @vm:		the fake VM
 * @fd:		connection
 * @line:	the command, one JSON object
 * @cmd:	set to the command's name (empty if there is none)
 * @cmd_size:	size of @cmd
 *
 * Return: false when the connection failed
 */
static bool reply(const struct fake_vm *vm, int fd, const char *line, char *cmd, size_t cmd_size)
{
	char ret[1024], out[1400], id[64] = "null";
	cp_json *msg = cp_json_parse(line, strlen(line), NULL);
	const char *a;
	int64_t n;
	bool sent;

	*cmd = '\0';
	if (!msg)
		return true;
	snprintf(cmd, cmd_size, "%s",
		 cp_json_get_str(msg, "execute") ? cp_json_get_str(msg, "execute") : "");
	if (cp_json_get_int(msg, "id", &n))
		snprintf(id, sizeof(id), "%lld", (long long)n);
	else if (cp_json_get_str(msg, "id"))
		snprintf(id, sizeof(id), "\"%.40s\"", cp_json_get_str(msg, "id"));
	a = answer(vm, cmd, cp_json_get_object(msg, "arguments"), ret, sizeof(ret));
	if (a)
		snprintf(out, sizeof(out), "{\"return\": %s, \"id\": %s}\r\n", a, id);
	else
		snprintf(out, sizeof(out),
			 "{\"error\": {\"class\": \"GenericError\", \"desc\": \"not in this "
			 "fake\"}, \"id\": %s}\r\n",
			 id);
	sent = fakepeer_send_all(fd, out, strlen(out));
	cp_json_unref(msg);
	return sent;
}

/**
 * message_len() - the length of the first whole JSON object in @buf (the
 * daemon's commands are not newline-terminated: QEMU parses a stream)
 * @buf:	bytes received, NUL-terminated
 *
 * Return: its length, or 0 if it is not complete yet
 */
static size_t message_len(const char *buf)
{
	bool str = false, esc = false;
	int depth = 0;
	size_t i;

	for (i = 0; buf[i]; i++) {
		char ch = buf[i];

		if (esc)
			esc = false;
		else if (str && ch == '\\')
			esc = true;
		else if (ch == '"')
			str = !str;
		else if (!str && ch == '{')
			depth++;
		else if (!str && ch == '}' && --depth == 0)
			return i + 1;
	}
	return 0;
}

/**
 * vm_serve() - in the fake VM's process: greet, answer every command, and
 * report (on @report) how many ms after connecting the daemon had said
 * which VM this is (its first command after qom-list /objects)
 * @vm:		the fake VM
 * @report:	pipe to the test
 *
 * Return: when the daemon closes the connection or VM_LIFE_MS passed
 */
static void vm_serve(const struct fake_vm *vm, int report)
{
	int64_t t0 = cp_now_ms(), served = -1;
	int fd = fakepeer_dial(sock_path);
	bool identified = false;
	char buf[65536], cmd[64];
	size_t len = 0;

	if (fd < 0 || !fakepeer_send_all(fd, greeting, sizeof(greeting) - 1))
		return;
	while (cp_now_ms() - t0 < VM_LIFE_MS) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;
		size_t m;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			return;
		len += (size_t)n;
		buf[len] = '\0';
		while ((m = message_len(buf))) {
			char c0 = buf[m];

			buf[m] = '\0';
			if (!reply(vm, fd, buf, cmd, sizeof(cmd)))
				return;
			if (identified && served < 0 && *cmd) {
				served = cp_now_ms() - t0;
				if (write(report, &served, sizeof(served)) != sizeof(served))
					return;
			}
			identified |= !strcmp(cmd, "qom-list") && strstr(buf, "/objects");
			buf[m] = c0;
			len -= m;
			memmove(buf, buf + m, len + 1);
		}
		if (len == sizeof(buf) - 1)
			return;
	}
}

/**
 * vm_start() - a fake VM in a process of its own
 * @vm:		what it says of itself
 * @report:	set to the read end of its report pipe
 *
 * Return: its pid; bails out on failure
 */
static pid_t vm_start(const struct fake_vm *vm, int *report)
{
	pid_t parent = getpid(), pid;
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		bail_out("pipe2: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(1);
		close(p[0]);
		vm_serve(vm, p[1]);
		_exit(0);
	}
	close(p[1]);
	*report = p[0];
	return pid;
}

/**
 * vm_stop() - kill a fake VM (by its pid) and reap it
 * @pid:	it
 * @report:	its report pipe, closed
 */
static void vm_stop(pid_t pid, int report)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(report);
}

/**
 * served_ms() - how long the daemon took to identify a fake VM
 * @report:	its report pipe
 * @max_ms:	how long to wait for the report
 *
 * Return: ms after it connected, or -1 if it was not identified in time
 */
static int64_t served_ms(int report, int max_ms)
{
	struct pollfd p = { .fd = report, .events = POLLIN };
	int64_t ms;

	if (poll(&p, 1, max_ms) <= 0 || read(report, &ms, sizeof(ms)) != sizeof(ms))
		return -1;
	return ms;
}

/**
 * children_of() - how many children a process has (zombies too: a child
 * stays one until it is reaped)
 * @pid:	the process (single-threaded: its children are its main thread's)
 *
 * Return: their count
 */
static int children_of(pid_t pid)
{
	char path[64], buf[4096], *p, *save = NULL;
	FILE *f;
	size_t n;
	int count = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	f = fopen(path, "r");
	if (!f)
		bail_out("%s: %s", path, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (p = strtok_r(buf, " \n", &save); p; p = strtok_r(NULL, " \n", &save))
		count++;
	return count;
}

/**
 * wait_children() - wait until @pid has @want children
 * @pid:	the process
 * @want:	how many
 * @max_ms:	deadline
 *
 * Return: ms it took, or -1 if it did not happen in time
 */
static int64_t wait_children(pid_t pid, int want, int max_ms)
{
	int64_t t0 = cp_now_ms();

	while (children_of(pid) != want) {
		if (cp_now_ms() - t0 > max_ms)
			return -1;
		usleep(5000);
	}
	return cp_now_ms() - t0;
}

/**
 * log_has() - whether the daemon's log has a line with both strings
 * @path:	its file
 * @a:		one
 * @b:		the other
 *
 * Return: true if so
 */
static bool log_has(const char *path, const char *a, const char *b)
{
	char line[4096];
	FILE *f = fopen(path, "r");
	bool found = false;

	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, a) && strstr(line, b);
	if (f)
		fclose(f);
	return found;
}

/**
 * test_hang() - while A's helper hangs, B is served at once; A's helper is
 * killed at its deadline and reaped, and the log names its tap
 * @daemon:	the daemon's pid
 * @log_path:	its log
 */
static void test_hang(pid_t daemon, const char *log_path)
{
	static const struct fake_vm a = { "vm-a", "running", true, STUCK_TAP };
	static const struct fake_vm b = { "vm-b", "prelaunch", false, NULL };
	int ra, rb, rb0;
	pid_t pa, pb, pb0;
	int64_t alone, during, started, gone;

	pb0 = vm_start(&b, &rb0);
	alone = served_ms(rb0, 5000);
	ok(alone >= 0, "B alone: identified in %lld ms", (long long)alone);
	vm_stop(pb0, rb0);

	pa = vm_start(&a, &ra);
	ok(wait_children(daemon, 1, 3000) >= 0,
	   "A: the daemon's watch inventory started a helper for tap " STUCK_TAP);
	started = cp_now_ms();
	pb = vm_start(&b, &rb);
	during = served_ms(rb, 3 * HELPER_MS);
	ok(during >= 0 && during < SERVED_MS,
	   "B, while A's helper hangs: identified in %lld ms (bound %d ms)", (long long)during,
	   SERVED_MS);
	diag("figures: B identified in %lld ms alone, %lld ms while A's tap helper hangs",
	     (long long)alone, (long long)during);
	gone = wait_children(daemon, 0, HELPER_MS + 3000);
	gone = gone < 0 ? -1 : cp_now_ms() - started;
	ok(gone >= HELPER_MS - 500 && gone <= HELPER_MS + 2000,
	   "A's helper killed and reaped at its deadline, no zombie left (%lld ms after it "
	   "started; deadline %d ms)",
	   (long long)gone, HELPER_MS);
	ok(log_has(log_path, "tap " STUCK_TAP, "killed"),
	   "the daemon's log names the tap whose helper was killed");
	vm_stop(pb, rb);
	vm_stop(pa, ra);
}

/**
 * test_vm_gone() - a VM that goes away while its helper hangs takes the
 * helper with it at once
 * @daemon:	the daemon's pid
 */
static void test_vm_gone(pid_t daemon)
{
	static const struct fake_vm a = { "vm-a2", "running", true, STUCK_TAP };
	int ra;
	pid_t pa = vm_start(&a, &ra);
	int64_t gone;

	ok(wait_children(daemon, 1, 3000) >= 0, "A2: its helper hangs");
	vm_stop(pa, ra);
	gone = wait_children(daemon, 0, HELPER_MS + 3000);
	ok(gone >= 0 && gone < 1000,
	   "A2's QEMU gone: its helper killed and reaped in %lld ms, not at its deadline",
	   (long long)gone);
}

/**
 * main() - run the tests
 *
 * Return: TAP exit status
 */
int main(void)
{
	char dir[] = "/tmp/cp-taphelper-XXXXXX", log_path[256];
	struct lab_proc daemon;
	struct cp_error err;
	struct stat st;
	int i;

	if (geteuid() != 0) {
		skip(1,
		     "needs root: the daemon's helper enters a network namespace (CAP_SYS_ADMIN)");
		return done_testing();
	}
	if (!mkdtemp(dir))
		bail_out("mkdtemp: %s", strerror(errno));
	snprintf(sock_path, sizeof(sock_path), "%s/d.sock", dir);
	snprintf(log_path, sizeof(log_path), "%s/serve.log", dir);
	setenv("COLDPLUG_TEST_TAPQ_STALL", STUCK_TAP, 1);
	{
		const char *const argv[] = { COLDPLUG_BINARY, "serve", "--socket",  sock_path,
					     "--qemu-user",   "root",  "--poll-ms", "20",
					     "--verbose",     NULL };

		if (lab_proc_start(&daemon, argv, log_path, &err) < 0)
			bail_out("start the daemon: %s", err.msg);
	}
	for (i = 0; i < 200 && stat(sock_path, &st) < 0; i++)
		usleep(10 * 1000);
	if (!S_ISSOCK(st.st_mode))
		bail_out("the daemon does not listen on %s", sock_path);
	/* The fake QEMUs, forked from now on, live in a namespace of their own. */
	if (unshare(CLONE_NEWNET) < 0)
		bail_out("unshare(CLONE_NEWNET): %s", strerror(errno));
	test_hang(daemon.pid, log_path);
	test_vm_gone(daemon.pid);
	ok(lab_proc_stop(&daemon, 2000, &err) == 0 && lab_proc_exited_ok(&daemon),
	   "SIGTERM stops the daemon cleanly (exit 0)");
	if (tap_failures()) {
		char line[1024];
		FILE *f = fopen(log_path, "r");

		while (f && fgets(line, sizeof(line), f))
			diag("daemon: %.*s", (int)strcspn(line, "\n"), line);
		if (f)
			fclose(f);
	}
	unlink(log_path);
	rmdir(dir);
	return done_testing();
}

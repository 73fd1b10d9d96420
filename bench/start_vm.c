/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One timed VM start of bench-start: the lab's Incus emulator starts a VM
 * with Incus's layout (the root disk and data disks as scsi-hd on
 * virtio-scsi, bridged virtio NICs on multi-queue taps), paused, no guest,
 * and with coldplug also runs, as a coldplug user's Incus would:
 *   config stage  `coldplug qemu-conf --disk-slots D --nic-mac ethI=MAC
 *                 --nic-tap ethI=TAP --nic-queues N [--vhost]` (the direct
 *                 NIC path: the taps have their names from this stage on),
 *                 its output given to QEMU with -readconfig;
 *   pre-start     `coldplug rehome --qmp SOCKET --json` on the second
 *                 monitor, which moves every disk and NIC onto its slot.
 * The start is timed from launch to `cont`. coldplug's two commands are
 * timed on their own, fork to exit, with a pidfd, so the figures have no
 * polling granularity (the lab's lab_run() reaps every 10 ms, as much as a
 * fifth of the target).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "incus.h"
#include "run.h"
#include "start.h"
#include "util.h"

#ifndef COLDPLUG_BINARY /* meson passes the built program's path */
#define COLDPLUG_BINARY "build/src/coldplug"
#endif

#define ARGV_MAX	  48
#define WORD_MAX	  64
#define OUTPUT_MAX	  (1 << 20)
#define CONF_TIMEOUT_MS	  30000
#define REHOME_TIMEOUT_MS 60000
#define MAX_NICS	  3

const char *const bench_start_stage_names[BENCH_START_STAGES] = { "inventory", "plan", "apply",
								  "verify" };

/**
 * struct start_ctx - one start's hooks: their input and where they write
 * @p:		parameters
 * @disks:	disks of the VM
 * @nics:	NICs of the VM
 * @dir:	scratch directory (the -readconfig file, the commands' output)
 * @conf:	the -readconfig file the config stage writes
 * @r:		the figures (the hooks fill @r->conf_us, @r->rehome_*)
 */
struct start_ctx {
	const struct bench_start_params *p;
	unsigned disks;
	unsigned nics;
	const char *dir;
	char conf[PATH_MAX];
	struct bench_start_vm *r;
};

/**
 * struct conf_words - the words conf_argv() formats (they outlive argv)
 * @slots:	the disk slot count
 * @queues:	the direct slots' queue count
 * @mac:	ethI=MAC, per NIC
 * @tap:	ethI=TAP, per NIC
 */
struct conf_words {
	char slots[16];
	char queues[16];
	char mac[MAX_NICS][WORD_MAX];
	char tap[MAX_NICS][WORD_MAX];
};

/**
 * child_exec() - in the forked child: output to @fd, die with the parent,
 * exec @argv
 * @argv:	program (absolute path) and arguments
 * @fd:		the output file (stdout and stderr)
 * @parent:	the parent's pid, to catch a parent that already left
 *
 * Only async-signal-safe calls: the parent has threads.
 */
static void child_exec(const char *const argv[], int fd, pid_t parent)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent ||
	    dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
		_exit(127);
	execv(argv[0], (char *const *)argv);
	_exit(127);
}

/**
 * wait_exit() - wait for @pid through its pidfd, at most @timeout_ms
 * @pid:	our child
 * @timeout_ms:	deadline; past it the child is killed
 * @status:	set to its wait status
 * @err:	filled on failure (the child is reaped either way)
 *
 * Return: 0, or -1
 */
static int wait_exit(pid_t pid, int timeout_ms, int *status, struct cp_error *err)
{
	int64_t deadline = cp_now_ms() + timeout_ms;
	cleanup_close int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
	int rc = -1, errnum = errno;

	while (pidfd >= 0 && (rc = poll(&pfd, 1, cp_deadline_left(deadline))) < 0 && errno == EINTR)
		;
	if (pidfd >= 0 && rc < 0)
		errnum = errno;
	if (rc <= 0)
		kill(pid, SIGKILL);
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
	if (rc < 0)
		return cp_error_set_errno(err, errnum, "waiting for pid %d", (int)pid);
	if (rc == 0)
		return cp_error_set(err, CP_ERR_TIMEOUT, "pid %d still running after %d ms",
				    (int)pid, timeout_ms);
	return 0;
}

/**
 * run_timed() - run a short command, timed from fork() to its exit
 * @argv:	program (absolute path), arguments, NULL
 * @dir:	directory for its output file
 * @timeout_ms:	deadline; past it the command is killed
 * @output:	set to its stdout and stderr (caller frees)
 * @us:		set to the time from fork() to its exit seen on the pidfd
 * @err:	filled on failure
 *
 * Return: its exit status (128 + N if killed by signal N), or -1
 */
static int run_timed(const char *const argv[], const char *dir, int timeout_ms, char **output,
		     int64_t *us, struct cp_error *err)
{
	char path[PATH_MAX];
	cleanup_close int fd = -1;
	pid_t parent = getpid(), pid;
	int64_t t0;
	int status = 0;

	lab_fmt(path, sizeof(path), "%s/cmd-XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return cp_error_set_errno(err, errno, "mkostemp %s", path);
	t0 = cp_now_us();
	pid = fork();
	if (pid < 0) {
		unlink(path);
		return cp_error_set_errno(err, errno, "fork");
	}
	if (pid == 0)
		child_exec(argv, fd, parent);
	if (wait_exit(pid, timeout_ms, &status, err) < 0) {
		unlink(path);
		return cp_error_prefix(err, "%s", argv[0]);
	}
	*us = cp_now_us() - t0;
	*output = lab_read_file(path, OUTPUT_MAX, err);
	unlink(path);
	if (!*output)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/**
 * conf_argv() - the `coldplug qemu-conf` words of a layout
 * @p:		parameters (queues, vhost)
 * @disks:	disk slots
 * @nics:	NICs (each a direct slot)
 * @macs:	each NIC's MAC
 * @taps:	each NIC's tap
 * @w:		buffers for the formatted words
 * @argv:	filled (NULL-terminated); borrows from @w
 */
static void conf_argv(const struct bench_start_params *p, unsigned disks, unsigned nics,
		      const char *const macs[], const char *const taps[], struct conf_words *w,
		      const char *argv[ARGV_MAX])
{
	size_t n = 0;
	unsigned i;

	argv[n++] = COLDPLUG_BINARY;
	argv[n++] = "qemu-conf";
	argv[n++] = "--quiet";
	lab_fmt(w->slots, sizeof(w->slots), "%u", disks);
	argv[n++] = "--disk-slots";
	argv[n++] = w->slots;
	for (i = 0; i < nics && i < MAX_NICS; i++) {
		lab_fmt(w->mac[i], sizeof(w->mac[i]), "eth%u=%s", i, macs[i]);
		lab_fmt(w->tap[i], sizeof(w->tap[i]), "eth%u=%s", i, taps[i]);
		argv[n++] = "--nic-mac";
		argv[n++] = w->mac[i];
		argv[n++] = "--nic-tap";
		argv[n++] = w->tap[i];
	}
	lab_fmt(w->queues, sizeof(w->queues), "%u", p->queues);
	argv[n++] = "--nic-queues";
	argv[n++] = w->queues;
	if (p->vhost)
		argv[n++] = "--vhost";
	argv[n] = NULL;
}

/**
 * rehome_argv() - the `coldplug rehome` words
 * @qmp:	the second monitor's socket
 * @argv:	filled (NULL-terminated)
 *
 * The default selection: every device of Incus's (dev-incus_), so every
 * disk and NIC; NICs onto their PCI slots (the direct ones here).
 */
static void rehome_argv(const char *qmp, const char *argv[ARGV_MAX])
{
	size_t n = 0;

	argv[n++] = COLDPLUG_BINARY;
	argv[n++] = "rehome";
	argv[n++] = "--quiet";
	argv[n++] = "--qmp";
	argv[n++] = qmp;
	argv[n++] = "--json";
	argv[n] = NULL;
}

/**
 * argv_text() - a command line as a shell would take it (the program as
 * "coldplug")
 * @argv:	words
 * @buf:	output
 * @size:	its size
 */
static void argv_text(const char *const *argv, char *buf, size_t size)
{
	size_t off = 0, i;

	buf[0] = '\0';
	for (i = 0; argv[i] && off < size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%s%s", i ? " " : "",
					i == 0 ? "coldplug" : argv[i]);
}

/**
 * bench_start_commands() - coldplug's two command lines for @res's layout,
 * with placeholders (MACs as MAC0.., taps as TAP0.., the socket as SOCKET)
 * @p:		parameters
 * @res:	@res->conf_cmd and @res->rehome_cmd filled
 */
void bench_start_commands(const struct bench_start_params *p, struct bench_start_result *res)
{
	static const char *const macs[MAX_NICS] = { "MAC0", "MAC1", "MAC2" };
	static const char *const taps[MAX_NICS] = { "TAP0", "TAP1", "TAP2" };
	struct conf_words w;
	const char *argv[ARGV_MAX];

	conf_argv(p, res->disks, res->nics, macs, taps, &w, argv);
	argv_text(argv, res->conf_cmd, sizeof(res->conf_cmd));
	rehome_argv("SOCKET", argv);
	argv_text(argv, res->rehome_cmd, sizeof(res->rehome_cmd));
}

/**
 * config_stage() - the emulator's config-stage hook: `coldplug qemu-conf`
 * with the MACs and the taps Incus just created, into the -readconfig file
 * @vm:		emulator, its devices started (the taps have their names)
 * @arg:	struct start_ctx
 * @err:	filled on failure (the start then fails)
 *
 * Return: 0, or -1
 */
static int config_stage(struct lab_incus *vm, void *arg, struct cp_error *err)
{
	struct start_ctx *c = arg;
	const char *macs[MAX_NICS] = { NULL }, *taps[MAX_NICS] = { NULL };
	const char *argv[ARGV_MAX];
	cleanup_free char *text = NULL;
	struct conf_words w;
	int64_t t0 = cp_now_us(), us = 0;
	char name[16];
	unsigned i;
	int rc;

	for (i = 0; i < c->nics && i < MAX_NICS; i++) {
		lab_fmt(name, sizeof(name), "eth%u", i);
		macs[i] = lab_incus_nic_mac(vm, name);
		taps[i] = lab_incus_nic_tap(vm, name);
		if (!macs[i] || !taps[i] || !taps[i][0])
			return cp_error_set(err, CP_ERR_FAILED, "%s has no tap at the config stage",
					    name);
	}
	conf_argv(c->p, c->disks, c->nics, macs, taps, &w, argv);
	rc = run_timed(argv, c->dir, CONF_TIMEOUT_MS, &text, &us, err);
	if (rc < 0 || !text)
		return -1;
	if (rc > 0)
		return cp_error_set(err, CP_ERR_FAILED, "coldplug qemu-conf exited %d: %s", rc,
				    text);
	if (lab_write_file(c->conf, text, err) < 0)
		return -1;
	c->r->conf_us = cp_now_us() - t0;
	return 0;
}

/**
 * report_start() - where rehome's JSON report starts in its output
 * @out:	stdout and stderr (with --quiet, only the report on success)
 *
 * Return: borrowed pointer to the first line starting with '{', or NULL
 */
static const char *report_start(const char *out)
{
	const char *s;

	if (out[0] == '{')
		return out;
	s = strstr(out, "\n{");
	return s ? s + 1 : NULL;
}

/**
 * parse_report() - rehome's --json report into @r
 * @out:	its output
 * @r:		rehome_ms, stage_us, moved, verified filled
 * @err:	filled if it is not a report of a run that re-homed
 *
 * Return: 0, or -1
 */
static int parse_report(const char *out, struct bench_start_vm *r, struct cp_error *err)
{
	const char *start = report_start(out);
	cleanup_json cp_json *doc = start ? cp_json_parse(start, strlen(start), err) : NULL;
	const cp_json *stages = doc ? cp_json_get_object(doc, "stage-us") : NULL;
	const cp_json *devs = doc ? cp_json_get_array(doc, "devices") : NULL;
	size_t i;

	if (!doc)
		return cp_error_set(err, CP_ERR_PROTOCOL, "no JSON report from rehome: %s", out);
	if (!stages || !devs || !cp_json_get_int(doc, "ms", &r->rehome_ms))
		return cp_error_set(err, CP_ERR_PROTOCOL,
				    "rehome's report has no ms, stage-us or devices: %s", out);
	for (i = 0; i < BENCH_START_STAGES; i++)
		if (!cp_json_get_int(stages, bench_start_stage_names[i], &r->stage_us[i]))
			return cp_error_set(err, CP_ERR_PROTOCOL, "stage-us has no %s: %s",
					    bench_start_stage_names[i], out);
	cp_json_get_bool(doc, "verified", &r->verified);
	for (i = 0; i < cp_json_len(devs); i++)
		r->moved += cp_streq(cp_json_get_str(cp_json_at(devs, i), "status"), "moved");
	if (!cp_streq(cp_json_get_str(doc, "result"), "ok"))
		return cp_error_set(err, CP_ERR_FAILED, "rehome's result is %s: %s",
				    cp_json_get_str(doc, "result"), out);
	return 0;
}

/**
 * pre_start() - the emulator's pre-start hook: `coldplug rehome --json`
 * @vm:		paused VM, every device hot-plugged
 * @arg:	struct start_ctx
 * @err:	filled on failure (the start then fails, as in Incus)
 *
 * Runs on a thread in the VM's network namespace, as coldplug runs on an
 * Incus host.
 *
 * Return: 0, or -1
 */
static int pre_start(struct lab_incus *vm, void *arg, struct cp_error *err)
{
	struct start_ctx *c = arg;
	const char *argv[ARGV_MAX];
	cleanup_free char *out = NULL;
	int rc;

	rehome_argv(lab_incus_coldplug_qmp(vm), argv);
	rc = run_timed(argv, c->dir, REHOME_TIMEOUT_MS, &out, &c->r->rehome_us, err);
	if (rc < 0 || !out)
		return -1;
	if (parse_report(out, c->r, err) < 0)
		return cp_error_prefix(err, "coldplug rehome exited %d", rc);
	if (rc != 0)
		return cp_error_set(err, CP_ERR_FAILED, "coldplug rehome exited %d: %s", rc, out);
	return 0;
}

/**
 * new_vm() - the VM of a layout, not started
 * @c:		the start (parameters, layout, hooks' context)
 * @coldplug:	with coldplug's hooks and -readconfig file
 * @net:	the test network (borrowed)
 * @err:	filled on failure
 *
 * Return: new emulator, or NULL
 */
static struct lab_incus *new_vm(struct start_ctx *c, bool coldplug, struct lab_net *net,
				struct cp_error *err)
{
	struct lab_incus_opts o;
	struct lab_incus *vm;
	char name[16];
	unsigned i;

	lab_incus_opts_init(&o);
	o.qemu = c->p->qemu;
	o.vcpus = c->p->vcpus;
	o.memory_mb = c->p->memory_mb;
	o.net = net;
	if (coldplug) {
		o.extra_conf[0] = c->conf;
		o.config = config_stage;
		o.config_arg = c;
		o.pre_start = pre_start;
		o.pre_start_arg = c;
	}
	vm = lab_incus_new(&o, err);
	for (i = 0; vm && i < c->disks; i++) {
		lab_fmt(name, sizeof(name), "data%u", i);
		if (lab_incus_add_disk(vm,
				       &(struct lab_disk_spec){ .name = i ? name : "root",
								.root = i == 0,
								.size = c->p->disk_size },
				       err) < 0)
			goto fail;
	}
	for (i = 0; vm && i < c->nics; i++) {
		lab_fmt(name, sizeof(name), "eth%u", i);
		if (lab_incus_add_nic(vm, &(struct lab_nic_spec){ .name = name }, err) < 0)
			goto fail;
	}
	return vm;
fail:
	lab_incus_free(vm);
	return NULL;
}

/**
 * timed_start() - launch, pre-start, resume, each timed
 * @vm:		emulator
 * @r:		the phases' times filled
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int timed_start(struct lab_incus *vm, struct bench_start_vm *r, struct cp_error *err)
{
	int64_t t0 = cp_now_us(), t1, t2, t3;

	if (lab_incus_launch(vm, err) < 0)
		return -1;
	t1 = cp_now_us();
	if (lab_incus_pre_start(vm, err) < 0)
		return -1;
	t2 = cp_now_us();
	if (lab_incus_resume(vm, err) < 0)
		return -1;
	t3 = cp_now_us();
	r->launch_us = t1 - t0;
	r->pre_start_us = t2 - t1;
	r->resume_us = t3 - t2;
	r->start_us = t3 - t0;
	return 0;
}

/**
 * bench_start_vm_run() - one timed start of a layout, then the VM stopped
 * @p:		parameters
 * @disks:	disks (root + data), at most LAB_INCUS_MAX_DISKS
 * @nics:	bridged NICs, at most 3 (coldplug's NIC slots)
 * @coldplug:	with coldplug's qemu-conf and rehome
 * @net:	the test network (borrowed; the taps stay on it)
 * @r:		filled: the figures, or @r->error
 * @version:	set to QEMU's version once it started
 * @size:	its size
 */
void bench_start_vm_run(const struct bench_start_params *p, unsigned disks, unsigned nics,
			bool coldplug, struct lab_net *net, struct bench_start_vm *r, char *version,
			size_t size)
{
	struct cp_error err = { 0 };
	cleanup_free char *dir = lab_scratch_dir("bench-start", &err);
	struct start_ctx c = { .p = p, .disks = disks, .nics = nics, .dir = dir, .r = r };
	struct lab_incus *vm = NULL;

	memset(r, 0, sizeof(*r));
	r->coldplug = coldplug;
	if (dir)
		lab_fmt(c.conf, sizeof(c.conf), "%s/coldplug.conf", dir);
	if (dir && (vm = new_vm(&c, coldplug, net, &err)) && timed_start(vm, r, &err) == 0)
		r->ok = true;
	if (r->ok && coldplug && r->moved != disks + nics) {
		r->ok = false;
		cp_error_set(&err, CP_ERR_FAILED, "rehome moved %u devices, not %u", r->moved,
			     disks + nics);
	}
	if (!r->ok)
		lab_fmt(r->error, sizeof(r->error), "%s", err.msg);
	if (vm && lab_incus_qemu_version(vm) && lab_incus_qemu_version(vm)[0])
		cp_strlcpy(version, lab_incus_qemu_version(vm), size);
	lab_incus_free(vm);
	if (dir)
		lab_remove_tree(dir);
}

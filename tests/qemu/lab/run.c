/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Short commands, scratch directories and files for the lab: see run.h.
 * Commands are children started through proc.h (PR_SET_PDEATHSIG, output to
 * a file, reaped with a deadline); a command for a network namespace runs
 * under nsenter(1), which execs it in place, so the pid we stop is the
 * command's own.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "proc.h"
#include "run.h"
#include "util.h"

#define LAB_RUN_MAX_ARGS   64
#define LAB_RUN_MAX_OUTPUT (4u << 20)
#define LAB_RUN_GRACE_MS   1000

/**
 * lab_tool() - absolute path of a system tool
 * @name:	e.g. "ip", "nsenter", "qemu-img", "ping"
 *
 * proc.h execs without a PATH search, so tools are looked up here, in the
 * usual system directories only. Results are cached per name.
 *
 * Return: static string (valid for the process), or @name if not found
 */
const char *lab_tool(const char *name)
{
	static const char *const dirs[] = { "/usr/sbin", "/usr/bin", "/sbin", "/bin" };
	static struct {
		char name[32];
		char path[256];
	} cache[16];
	static size_t ncache;
	char path[256];
	size_t i;

	for (i = 0; i < ncache; i++)
		if (!strcmp(cache[i].name, name))
			return cache[i].path;
	for (i = 0; i < CP_ARRAY_SIZE(dirs); i++) {
		snprintf(path, sizeof(path), "%s/%s", dirs[i], name);
		if (access(path, X_OK) == 0)
			break;
	}
	if (i == CP_ARRAY_SIZE(dirs) || ncache == CP_ARRAY_SIZE(cache) ||
	    strlen(name) >= sizeof(cache[0].name))
		return i == CP_ARRAY_SIZE(dirs) ? name : strdup(path);
	cp_strlcpy(cache[ncache].name, name, sizeof(cache[ncache].name));
	cp_strlcpy(cache[ncache].path, path, sizeof(cache[ncache].path));
	return cache[ncache++].path;
}

/**
 * build_argv() - @argv, prefixed with nsenter when @netns is set
 * @argv:	command
 * @netns:	namespace path or NULL
 * @out:	filled, NULL-terminated
 * @nsarg:	buffer for "--net=PATH"
 * @nssize:	its size
 * @err:	filled on failure
 *
 * Return: 0, or -1 if the command is too long
 */
static int build_argv(const char *const argv[], const char *netns, const char *out[], char *nsarg,
		      size_t nssize, struct cp_error *err)
{
	size_t n = 0, i;

	if (netns) {
		snprintf(nsarg, nssize, "--net=%s", netns);
		out[n++] = lab_tool("nsenter");
		out[n++] = nsarg;
		out[n++] = "--";
	}
	for (i = 0; argv[i]; i++) {
		if (n + 1 >= LAB_RUN_MAX_ARGS)
			return cp_error_set(err, CP_ERR_INVALID, "%s: too many arguments", argv[0]);
		out[n++] = argv[i];
	}
	out[n] = NULL;
	return 0;
}

/**
 * exit_code() - the command's exit status, or 128 + signal
 * @p:	reaped child
 *
 * Return: the code
 */
static int exit_code(const struct lab_proc *p)
{
	if (WIFEXITED(p->status))
		return WEXITSTATUS(p->status);
	return 128 + (WIFSIGNALED(p->status) ? WTERMSIG(p->status) : 0);
}

/**
 * lab_run() - run a command to completion, collecting its output
 * @argv:	absolute program path (see lab_tool()), arguments, NULL
 * @o:		options (netns, deadline, log directory)
 * @output:	set to stdout+stderr (caller frees), or NULL to discard it
 * @err:	filled on failure
 *
 * Return: the exit status (128 + N if killed by signal N), or -1 if it could
 * not be run or missed its deadline (then it was stopped)
 */
int lab_run(const char *const argv[], const struct lab_run_opts *o, char **output,
	    struct cp_error *err)
{
	const char *full[LAB_RUN_MAX_ARGS];
	char nsarg[300], log[512];
	struct lab_proc p;
	int rc, fd;

	if (build_argv(argv, o->netns, full, nsarg, sizeof(nsarg), err) < 0)
		return -1;
	/* mkstemp: a file of our own even in /tmp, and unique across threads */
	lab_fmt(log, sizeof(log), "%s/cplab-run-XXXXXX", o->log_dir ? o->log_dir : "/tmp");
	fd = mkstemp(log);
	if (fd < 0)
		return cp_error_set_errno(err, errno, "mkstemp %s", log);
	close(fd);
	if (lab_proc_start(&p, full, log, err) < 0) {
		unlink(log);
		return -1;
	}
	if (lab_proc_reap(&p, o->timeout_ms, err) < 0) {
		lab_proc_stop(&p, LAB_RUN_GRACE_MS, NULL);
		unlink(log);
		return cp_error_prefix(err, "%s did not finish within %d ms", argv[0],
				       o->timeout_ms);
	}
	rc = exit_code(&p);
	if (output) {
		*output = lab_read_file(log, LAB_RUN_MAX_OUTPUT, err);
		if (!*output)
			rc = -1;
	}
	unlink(log);
	return rc;
}

/**
 * lab_run_ok() - run a command that must succeed
 * @argv:	command (see lab_run())
 * @o:		options
 * @err:	filled on failure, with the command's output
 *
 * Return: 0, or -1
 */
int lab_run_ok(const char *const argv[], const struct lab_run_opts *o, struct cp_error *err)
{
	cleanup_free char *out = NULL;
	char cmd[512] = "";
	size_t i, off = 0;
	int rc = lab_run(argv, o, &out, err);

	if (rc == 0)
		return 0;
	if (rc < 0)
		return -1;
	for (i = 0; argv[i] && off + 2 < sizeof(cmd); i++)
		off += (size_t)snprintf(cmd + off, sizeof(cmd) - off, "%s%s", i ? " " : "",
					argv[i]);
	return cp_error_set(err, CP_ERR_FAILED, "'%s'%s%s failed (status %d): %s", cmd,
			    o->netns ? " in " : "", o->netns ? o->netns : "", rc, out ? out : "");
}

/**
 * lab_scratch_dir() - a new private directory under /tmp
 * @tag:	short word in its name
 * @err:	filled on failure
 *
 * Short on purpose: unix socket paths inside it must stay under 108 bytes.
 *
 * Return: its path (caller frees, and removes it with lab_remove_tree()), or
 * NULL
 */
char *lab_scratch_dir(const char *tag, struct cp_error *err)
{
	char *path = cp_asprintf(err, "/tmp/cplab-%s.XXXXXX", tag);

	if (!path)
		return NULL;
	if (!mkdtemp(path)) {
		cp_error_set_errno(err, errno, "mkdtemp %s", path);
		free(path);
		return NULL;
	}
	return path;
}

/**
 * remove_one() - nftw callback: remove a file or an emptied directory
 * @path:	entry
 * @sb:		unused
 * @type:	unused
 * @ftw:	unused
 *
 * Return: 0 (keeps going on errors)
 */
static int remove_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	remove(path);
	return 0;
}

/**
 * lab_remove_tree() - remove a scratch directory and everything in it
 * @path:	directory (refused unless under /tmp/cplab-)
 *
 * Return: 0, or -1
 */
int lab_remove_tree(const char *path)
{
	if (!cp_str_has_prefix(path, "/tmp/cplab-") || strstr(path, ".."))
		return -1;
	return nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/**
 * lab_read_file() - a whole (text) file
 * @path:	file
 * @max:	refuse files larger than this
 * @err:	filled on failure
 *
 * Return: its contents, NUL-terminated (caller frees), or NULL
 */
char *lab_read_file(const char *path, size_t max, struct cp_error *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	cleanup_free char *buf = NULL;
	size_t len = 0, cap = 4096;

	if (fd < 0)
		return cp_error_set_errno(err, errno, "open %s", path), NULL;
	buf = malloc(cap);
	while (buf) {
		ssize_t n;

		if (len + 1 >= cap) {
			char *nb = cap >= max ? NULL : realloc(buf, cap * 2);

			if (!nb)
				return cp_error_set(err, CP_ERR_INVALID,
						    "%s: larger than %zu bytes", path, max),
				       NULL;
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cp_error_set_errno(err, errno, "read %s", path), NULL;
		if (n == 0) {
			buf[len] = '\0';
			return steal_pointer(&buf);
		}
		len += (size_t)n;
	}
	return cp_error_set(err, CP_ERR_NOMEM, "out of memory"), NULL;
}

/**
 * lab_write_file() - replace a file's contents with @text
 * @path:	file (created 0644)
 * @text:	contents
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
int lab_write_file(const char *path, const char *text, struct cp_error *err)
{
	cleanup_close int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t len = strlen(text), off = 0;

	if (fd < 0)
		return cp_error_set_errno(err, errno, "create %s", path);
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cp_error_set_errno(err, errno, "write %s", path);
		off += (size_t)n;
	}
	return 0;
}

/**
 * lab_sleep_ms() - sleep, for pacing loops that poll
 * @ms:	milliseconds
 *
 * Return: 0
 */
int lab_sleep_ms(int ms)
{
	poll(NULL, 0, ms);
	return 0;
}

/**
 * lab_fmt() - snprintf() that reports truncation instead of warning about it
 * @buf:	output
 * @size:	its size
 * @fmt:	format
 *
 * Paths and names in the lab are short; a truncated one is a bug the caller
 * may check for.
 *
 * Return: true if the result fit
 */
bool lab_fmt(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < size;
}

/**
 * lab_num() - a decimal number at the start of @s
 * @s:	text, may be NULL
 *
 * For numbers the lab reads from tools' output and its own command lines.
 *
 * Return: the value, 0 if there is none
 */
unsigned long lab_num(const char *s)
{
	unsigned long v;
	char *end;

	if (!s)
		return 0;
	errno = 0;
	v = strtoul(s, &end, 10);
	return errno || end == s ? 0 : v;
}

/**
 * lab_num_list() - a comma-separated list of positive numbers ("1,2,4,8")
 * @s:		text (a command-line argument)
 * @out:	filled
 * @max:	room in @out
 *
 * Return: how many, or 0 if @s is not such a list or has more than @max
 */
size_t lab_num_list(const char *s, unsigned *out, size_t max)
{
	size_t n = 0;

	while (s && *s) {
		char *end;
		unsigned long v;

		errno = 0;
		v = strtoul(s, &end, 10);
		if (errno || end == s || v == 0 || v > 1024 || n == max || (*end && *end != ','))
			return 0;
		out[n++] = (unsigned)v;
		s = *end ? end + 1 : end;
	}
	return n;
}

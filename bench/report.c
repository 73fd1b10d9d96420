/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What every benchmark's report shares: see report.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "report.h"
#include "run.h"
#include "util.h"

#define JSON_MAX (4 << 20)

/**
 * file_line() - the first line of @path starting with @key, after ": "
 * @path:	file
 * @key:	line prefix
 * @buf:	set to the value, "-" if not found
 * @size:	its size
 */
static void file_line(const char *path, const char *key, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");
	char line[512];

	cp_strlcpy(buf, "-", size);
	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (strncmp(line, key, strlen(key)) || !colon)
			continue;
		colon += 1 + strspn(colon + 1, " \t");
		colon[strcspn(colon, "\n")] = '\0';
		cp_strlcpy(buf, colon, size);
		break;
	}
	if (f)
		fclose(f);
}

/**
 * loadavg() - the 1, 5 and 15 minute load averages
 * @buf:	set to "0.52 0.48 0.40", or "-"
 * @size:	its size
 */
static void loadavg(char *buf, size_t size)
{
	FILE *f = fopen("/proc/loadavg", "re");
	char line[128];
	size_t end = 0, fields = 0;

	cp_strlcpy(buf, "-", size);
	if (f && fgets(line, sizeof(line), f)) {
		while (line[end] && line[end] != '\n' && (line[end] != ' ' || ++fields < 3))
			end++;
		line[end] = '\0';
		cp_strlcpy(buf, line, size);
	}
	if (f)
		fclose(f);
}

/**
 * bench_run_begin() - note the start of a run: UTC time and load
 * @started:		set to "2026-12-04T19:00:00Z"
 * @started_size:	its size
 * @load:		set to /proc/loadavg's averages (the machine is shared)
 * @load_size:		its size
 */
void bench_run_begin(char *started, size_t started_size, char *load, size_t load_size)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(started, started_size, "%Y-%m-%dT%H:%M:%SZ", &tm);
	loadavg(load, load_size);
}

/**
 * bench_machine_json() - CPU, cores, kernel and load of this machine
 * @load_start:	the load when the run began (bench_run_begin())
 *
 * Return: new object
 */
cp_json *bench_machine_json(const char *load_start)
{
	cp_json *m = cp_json_new_object();
	struct utsname u;
	char buf[512];

	file_line("/proc/cpuinfo", "model name", buf, sizeof(buf));
	cp_json_set_str(m, "cpu", buf);
	cp_json_set_int(m, "cores", sysconf(_SC_NPROCESSORS_ONLN));
	if (uname(&u) == 0) {
		snprintf(buf, sizeof(buf), "%s %s %s", u.sysname, u.release, u.machine);
		cp_json_set_str(m, "kernel", buf);
		cp_json_set_str(m, "kernel_version", u.version);
	}
	cp_json_set_str(m, "load_start", load_start);
	loadavg(buf, sizeof(buf));
	cp_json_set_str(m, "load_end", buf);
	return m;
}

/**
 * bench_num() - an integer member, 0 if absent
 * @o:		object
 * @key:	member
 *
 * Return: its value
 */
int64_t bench_num(const cp_json *o, const char *key)
{
	int64_t v = 0;

	cp_json_get_int(o, key, &v);
	return v;
}

/**
 * bench_write_json() - a run's figures to @path (via a temporary file)
 * @doc:	the document
 * @path:	file
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
int bench_write_json(const cp_json *doc, const char *path, struct cp_error *err)
{
	cleanup_free char *text = cp_json_dump(doc, CP_JSON_PRETTY);
	cleanup_free char *line = NULL, *tmp = NULL;

	if (!text)
		return cp_error_set(err, CP_ERR_NOMEM, "dumping the JSON");
	if (!(line = cp_asprintf(err, "%s\n", text)) || !(tmp = cp_asprintf(err, "%s.tmp", path)) ||
	    lab_write_file(tmp, line, err) < 0)
		return -1;
	if (rename(tmp, path) < 0)
		return cp_error_set_errno(err, errno, "rename %s", tmp);
	return 0;
}

/**
 * read_doc() - one results file
 * @path:	its path
 * @key:	the array every file of this benchmark has ("configs", "layouts")
 * @tool:	the benchmark, for the message ("bench-nic")
 * @err:	filled on failure
 *
 * Return: new reference, or NULL
 */
static cp_json *read_doc(const char *path, const char *key, const char *tool, struct cp_error *err)
{
	cleanup_free char *text = lab_read_file(path, JSON_MAX, err);
	cp_json *doc = text ? cp_json_parse(text, strlen(text), err) : NULL;

	if (!doc)
		cp_error_prefix(err, "%s", path);
	else if (!cp_json_get_array(doc, key)) {
		cp_json_unref(doc);
		doc = NULL;
		cp_error_set(err, CP_ERR_PROTOCOL, "%s: not a %s result", path, tool);
	}
	return doc;
}

/**
 * bench_markdown() - a markdown file from the JSON files of runs
 * @out:	the markdown file (written via a temporary file)
 * @inputs:	JSON files, one per QEMU version
 * @n:		their count
 * @key:	the array every file of this benchmark has
 * @tool:	the benchmark, for messages
 * @header:	writes the file's head
 * @print:	writes one file's section
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
int bench_markdown(const char *out, char *const *inputs, size_t n, const char *key,
		   const char *tool, bench_header_fn header, bench_print_fn print,
		   struct cp_error *err)
{
	cleanup_free char *tmp = cp_asprintf(err, "%s.tmp", out);
	FILE *f;
	size_t i;

	if (!tmp)
		return -1;
	f = fopen(tmp, "we");
	if (!f)
		return cp_error_set_errno(err, errno, "open %s", tmp);
	header(f, inputs, n);
	for (i = 0; i < n; i++) {
		cleanup_json cp_json *doc = read_doc(inputs[i], key, tool, err);

		if (!doc) {
			fclose(f);
			unlink(tmp);
			return -1;
		}
		print(f, doc);
	}
	if (fclose(f) != 0 || rename(tmp, out) < 0) {
		unlink(tmp);
		return cp_error_set_errno(err, errno, "writing %s", out);
	}
	return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The test guest's console client: see guest.h. Lines end in "\r\n" (the
 * "\r" is dropped); anything before CP-REPORT-BEGIN is boot noise.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "guest.h"
#include "incus.h"
#include "run.h"
#include "util.h"

#define GUEST_LINE_MAX	 8192
#define GUEST_REPORT_MAX (1u << 20)
#define GUEST_WRITE_MS	 5000

struct lab_guest {
	int fd;
	FILE *log;
	char buf[GUEST_LINE_MAX * 2];
	size_t len;
	char lost[96]; /* a command whose reply never came: later ones cannot be matched */
};

/**
 * lab_guest_new_fd() - a console client on a connected socket
 * @fd:		the console socket (owned from now on, even on failure)
 * @log_path:	file to append everything read to, or NULL
 * @err:	filled on failure
 *
 * Return: new client (free with lab_guest_free()), or NULL
 */
struct lab_guest *lab_guest_new_fd(int fd, const char *log_path, struct cp_error *err)
{
	struct lab_guest *g;

	if (fd < 0)
		return cp_error_set(err, CP_ERR_INVALID, "no console descriptor"), NULL;
	g = cp_calloc(1, sizeof(*g), err);
	if (!g) {
		close(fd);
		return NULL;
	}
	g->fd = fd;
	if (log_path)
		g->log = fopen(log_path, "ae");
	return g;
}

/**
 * lab_guest_new() - take over the emulator's console connection
 * @vm:		launched emulator that boots the guest
 * @err:	filled on failure
 *
 * Return: new client, or NULL
 */
struct lab_guest *lab_guest_new(struct lab_incus *vm, struct cp_error *err)
{
	char log[4200];

	lab_fmt(log, sizeof(log), "%s/console.log", lab_incus_dir(vm));
	return lab_guest_new_fd(lab_incus_take_console(vm), log, err);
}

/**
 * lab_guest_free() - close the console
 * @g:	client, may be NULL
 */
void lab_guest_free(struct lab_guest *g)
{
	if (!g)
		return;
	close(g->fd);
	if (g->log)
		fclose(g->log);
	free(g);
}

/**
 * take_line() - move one complete line out of the buffer
 * @g:		client
 * @line:	output, NUL-terminated, without "\r\n"
 * @size:	its size (longer lines are truncated)
 *
 * Return: true if a line was there
 */
static bool take_line(struct lab_guest *g, char *line, size_t size)
{
	char *nl = memchr(g->buf, '\n', g->len);
	size_t n;

	if (!nl && g->len < sizeof(g->buf))
		return false;
	n = nl ? (size_t)(nl - g->buf) : g->len;
	cp_strlcpy(line, "", size);
	memcpy(line, g->buf, n < size - 1 ? n : size - 1);
	line[n < size - 1 ? n : size - 1] = '\0';
	if (n && line[strlen(line) - 1] == '\r')
		line[strlen(line) - 1] = '\0';
	n = nl ? n + 1 : n;
	memmove(g->buf, g->buf + n, g->len - n);
	g->len -= n;
	return true;
}

/**
 * read_line() - the next console line, waiting until @deadline
 * @g:		client
 * @line:	output
 * @size:	its size
 * @deadline:	cp_now_ms() time
 * @err:	filled on failure (CP_ERR_TIMEOUT, CP_ERR_EOF when QEMU closed)
 *
 * Return: 0, or -1
 */
static int read_line(struct lab_guest *g, char *line, size_t size, int64_t deadline,
		     struct cp_error *err)
{
	while (!take_line(g, line, size)) {
		struct pollfd p = { .fd = g->fd, .events = POLLIN };
		int left = cp_deadline_left(deadline);
		ssize_t n;

		if (left == 0 || poll(&p, 1, left) == 0)
			return cp_error_set(err, CP_ERR_TIMEOUT, "no console output in time");
		n = read(g->fd, g->buf + g->len, sizeof(g->buf) - g->len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return cp_error_set_errno(err, errno, "reading the console");
		if (n == 0)
			return cp_error_set(err, CP_ERR_EOF, "the console closed (QEMU exited?)");
		if (g->log) {
			fwrite(g->buf + g->len, 1, (size_t)n, g->log);
			fflush(g->log);
		}
		g->len += (size_t)n;
	}
	return 0;
}

/**
 * append_text() - add a line to a growing text
 * @text:	text (realloc'ed)
 * @len:	its length
 * @line:	line to add, with "\n"
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int append_text(char **text, size_t *len, const char *line, struct cp_error *err)
{
	size_t add = strlen(line);
	char *n;

	if (*len + add + 2 > GUEST_REPORT_MAX)
		return cp_error_set(err, CP_ERR_PROTOCOL, "guest output too long");
	n = realloc(*text, *len + add + 2);
	if (!n)
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory");
	memcpy(n + *len, line, add);
	n[*len + add] = '\n';
	n[*len + add + 1] = '\0';
	*len += add + 1;
	*text = n;
	return 0;
}

/**
 * lab_guest_read_report() - wait for the next report and parse it
 * @g:		client
 * @timeout_ms:	deadline for CP-REPORT-END (boot under TCG takes ~5-15 s)
 * @out:	set to the report (free with lab_guest_report_free())
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
int lab_guest_read_report(struct lab_guest *g, int timeout_ms, struct lab_guest_report **out,
			  struct cp_error *err)
{
	int64_t deadline = cp_now_ms() + timeout_ms;
	cleanup_free char *line = malloc(GUEST_LINE_MAX);
	cleanup_free char *text = NULL;
	size_t len = 0;
	bool in = false;

	if (!line)
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory");
	for (;;) {
		if (read_line(g, line, GUEST_LINE_MAX, deadline, err) < 0)
			return cp_error_prefix(err, "waiting for the guest's report (%s)",
					       in ? "inside it" : "not begun");
		if (!strcmp(line, "CP-REPORT-BEGIN")) {
			in = true;
			len = 0;
			continue;
		}
		if (in && !strcmp(line, "CP-REPORT-END"))
			return lab_guest_report_parse(text ? text : "", out, err);
		if (in && append_text(&text, &len, line, err) < 0)
			return -1;
	}
}

/**
 * lab_guest_command() - send one command and collect its framed output
 * @g:		client (after the report)
 * @cmd:	the command line, without "\n"
 * @timeout_ms:	deadline for CP-END
 * @output:	set to the lines between the frames (caller frees), or NULL
 * @rc:		set to the command's rc, or NULL
 * @err:	filled on failure (also when rc != 0 and @rc is NULL)
 *
 * Return: 0, or -1
 */
int lab_guest_command(struct lab_guest *g, const char *cmd, int timeout_ms, char **output, int *rc,
		      struct cp_error *err)
{
	int64_t deadline = cp_now_ms() + timeout_ms;
	cleanup_free char *line = malloc(GUEST_LINE_MAX), *text = NULL;
	char word[64], begin[80], end[80];
	size_t len = 0, off = 0, clen = strlen(cmd);
	bool in = false;

	if (!line || clen > 4000 || strchr(cmd, '\n'))
		return cp_error_set(err, CP_ERR_INVALID, "bad guest command");
	/* Frames carry only the command's first word: after a reply that never
	 * came, its late frame would pass for the next one's. */
	if (g->lost[0])
		return cp_error_set(err, CP_ERR_FAILED,
				    "guest command '%s' not sent: the reply to '%s' never came, so "
				    "replies can no longer be matched",
				    cmd, g->lost);
	sscanf(cmd, "%63s", word);
	lab_fmt(begin, sizeof(begin), "CP-BEGIN %s", word);
	lab_fmt(end, sizeof(end), "CP-END %s rc=", word);
	while (off <= clen) {
		const char *p = off < clen ? cmd + off : "\n";
		ssize_t n = write(g->fd, p, off < clen ? clen - off : 1);

		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return cp_error_set_errno(err, errno, "writing to the console");
		off += n > 0 ? (size_t)n : 0;
		if (cp_now_ms() > deadline)
			return cp_error_set(err, CP_ERR_TIMEOUT, "console not writable");
	}
	for (;;) {
		if (read_line(g, line, GUEST_LINE_MAX, deadline, err) < 0) {
			lab_fmt(g->lost, sizeof(g->lost), "%.80s", cmd);
			return cp_error_prefix(err, "guest command '%s'", word);
		}
		if (!in) {
			in = !strcmp(line, begin);
			continue;
		}
		if (!strncmp(line, end, strlen(end)))
			break;
		if (append_text(&text, &len, line, err) < 0)
			return -1;
	}
	if (rc)
		*rc = (int)lab_num(line + strlen(end));
	else if ((int)lab_num(line + strlen(end)) != 0)
		return cp_error_set(err, CP_ERR_FAILED, "guest command '%s' failed (%s): %s", cmd,
				    line + strlen(end) - 3, text ? text : "");
	if (output)
		*output = text ? steal_pointer(&text) : strdup("");
	return 0;
}

/**
 * parse_record() - split one line into a record (modifies @line)
 * @line:	"kind key=value ..."
 * @rec:	filled; its strings point into @line
 */
static void parse_record(char *line, struct lab_guest_record *rec)
{
	char *save = NULL, *tok;

	memset(rec, 0, sizeof(*rec));
	rec->kind = strtok_r(line, " ", &save);
	while ((tok = strtok_r(NULL, " ", &save)) && rec->n < LAB_GUEST_MAX_KV) {
		char *eq = strchr(tok, '=');

		if (!eq)
			continue;
		*eq = '\0';
		rec->keys[rec->n] = tok;
		rec->values[rec->n++] = eq + 1;
	}
}

/**
 * lab_guest_report_parse() - parse report text (the lines between markers)
 * @text:	the text
 * @out:	set to the report (free with lab_guest_report_free())
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
int lab_guest_report_parse(const char *text, struct lab_guest_report **out, struct cp_error *err)
{
	struct lab_guest_report *r = cp_calloc(1, sizeof(*r), err);
	char *copy, *line, *save = NULL;
	size_t lines = 1;

	if (!r)
		return -1;
	for (const char *p = text; *p; p++)
		lines += *p == '\n';
	r->text = strdup(text);
	copy = r->store = strdup(text);
	r->recs = calloc(lines, sizeof(*r->recs));
	if (!r->text || !copy || !r->recs) {
		lab_guest_report_free(r);
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory");
	}
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		parse_record(line, &r->recs[r->n]);
		if (r->recs[r->n].kind)
			r->n++;
	}
	*out = r;
	return 0;
}

/**
 * lab_guest_report_free() - free a report
 * @r:	report, may be NULL
 */
void lab_guest_report_free(struct lab_guest_report *r)
{
	if (!r)
		return;
	free(r->store);
	free(r->recs);
	free(r->text);
	free(r);
}

/**
 * lab_report_count() - how many records of a kind
 * @r:		report
 * @kind:	e.g. "blk"
 *
 * Return: the count
 */
size_t lab_report_count(const struct lab_guest_report *r, const char *kind)
{
	size_t i, n = 0;

	for (i = 0; i < r->n; i++)
		n += !strcmp(r->recs[i].kind, kind);
	return n;
}

/**
 * lab_report_at() - the @i-th record of a kind
 * @r:		report
 * @kind:	kind
 * @i:		index among that kind
 *
 * Return: borrowed record, or NULL
 */
const struct lab_guest_record *lab_report_at(const struct lab_guest_report *r, const char *kind,
					     size_t i)
{
	size_t k;

	for (k = 0; k < r->n; k++)
		if (!strcmp(r->recs[k].kind, kind) && i-- == 0)
			return &r->recs[k];
	return NULL;
}

/**
 * lab_report_find() - the first record of a kind whose @key is @value
 * @r:		report
 * @kind:	kind
 * @key:	key
 * @value:	value
 *
 * Return: borrowed record, or NULL
 */
const struct lab_guest_record *lab_report_find(const struct lab_guest_report *r, const char *kind,
					       const char *key, const char *value)
{
	size_t k;

	for (k = 0; k < r->n; k++)
		if (!strcmp(r->recs[k].kind, kind) &&
		    cp_streq(lab_record_get(&r->recs[k], key), value))
			return &r->recs[k];
	return NULL;
}

/**
 * lab_record_get() - a record's value for @key
 * @rec:	record, may be NULL
 * @key:	key
 *
 * Return: borrowed value, or NULL if absent
 */
const char *lab_record_get(const struct lab_guest_record *rec, const char *key)
{
	size_t i;

	for (i = 0; rec && i < rec->n; i++)
		if (!strcmp(rec->keys[i], key))
			return rec->values[i];
	return NULL;
}

/**
 * lab_guest_value() - run a guest command and take "key=value" from its
 * output (e.g. "size DEV" -> size)
 * @g:		console
 * @cmd:	command
 * @key:	key
 * @out:	output ("" on failure; the failure is a TAP-safe "# " line on
 *		stderr)
 * @size:	its size
 * @rc:		set to the command's rc, or NULL
 *
 * Return: @out
 */
const char *lab_guest_value(struct lab_guest *g, const char *cmd, const char *key, char *out,
			    size_t size, int *rc)
{
	struct cp_error err = { 0 };
	cleanup_free char *text = NULL;
	char pat[64];
	const char *p;

	out[0] = '\0';
	lab_fmt(pat, sizeof(pat), " %s=", key);
	if (lab_guest_command(g, cmd, LAB_GUEST_CMD_TIMEOUT_MS, &text, rc, &err) < 0 || !text) {
		fprintf(stderr, "# guest '%s': %s\n", cmd, err.msg);
		return out;
	}
	p = strstr(text, pat);
	if (p)
		lab_fmt(out, size, "%.*s", (int)strcspn(p + strlen(pat), " \n"), p + strlen(pat));
	return out;
}

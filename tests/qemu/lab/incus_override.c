/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Incus's raw.qemu.conf override and its qemu.conf writer, ported from
 * Incus's Go (lxc/incus be7afc5df3, unchanged since v6.0):
 * driver_qemu_config_override.go qemuRawCfgOverride() and
 * driver_qemu_templates.go qemuStringifyCfg(). Sections are in the form the
 * scriptlet sees them (cfg.Section as JSON): an array of
 * {"name": ..., "comment": ..., "entries": {key: value}}.
 *
 * The Go library calls the parser leans on are ported too, because their
 * corner cases are Incus's behaviour: bufio.Scanner's line splitting (a
 * trailing "\r" dropped; a line over 65535 bytes silently ends the parse,
 * since Incus never looks at scanner.Err()), strings.TrimSpace (Unicode
 * white space), strconv.Atoi (section indexes: an optional sign, digits,
 * int64 range) and strconv.Unquote (Go escapes; invalid UTF-8 becomes
 * U+FFFD), and %q for the error messages (strconv.Quote; "printable" is
 * approximated outside ASCII, see go_printable()).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coldplug/cleanup.h"
#include "incus_priv.h"
#include "util.h"

#define GO_MAX_SCAN_TOKEN 65536 /* bufio.MaxScanTokenSize */
#define GO_RUNE_ERROR	  0xfffdu
#define QUOTE_MAX	  1024 /* room for a %q'd line in an error message */

/**
 * struct ov_sec - one section while the override is applied
 * @name:	section name, e.g. `device "qemu_gpu"` (owned)
 * @index:	its index among the sections of that name
 * @comment:	comment (owned)
 * @entries:	key -> value object (owned)
 */
struct ov_sec {
	char *name;
	long long index;
	char *comment;
	cp_json *entries;
};

/**
 * struct ov - the sections in file order (Incus's orderedSections; the
 * lookup by name and index, its indexedSections, is a search of this list)
 * @v:		sections
 * @n:		count
 * @cap:	allocated
 */
struct ov {
	struct ov_sec *v;
	size_t n;
	size_t cap;
};

/* ---- Go's UTF-8, strings and strconv ---- */

/**
 * utf8_decode() - utf8.DecodeRuneInString
 * @s:		bytes
 * @n:		how many (> 0)
 * @r:		set to the rune, U+FFFD when invalid
 *
 * Return: its width; 1 with U+FFFD for an invalid or short sequence
 */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *r)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t w, i;

	*r = GO_RUNE_ERROR;
	if (c < 0x80)
		return *r = c, 1;
	if (c >= 0xc2 && c <= 0xdf)
		w = 2;
	else if (c >= 0xe0 && c <= 0xef)
		w = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		w = 4;
	else
		return 1;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < w || s[1] < lo || s[1] > hi)
		return 1;
	for (i = 2; i < w; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 1;
	*r = w == 2 ? (uint32_t)(c & 0x1f) : w == 3 ? (uint32_t)(c & 0x0f) : (uint32_t)(c & 0x07);
	for (i = 1; i < w; i++)
		*r = (*r << 6) | (uint32_t)(s[i] & 0x3f);
	return w;
}

/**
 * utf8_encode() - utf8.AppendRune into @out
 * @r:		a valid rune
 * @out:	at least 4 bytes
 *
 * Return: bytes written
 */
static size_t utf8_encode(uint32_t r, unsigned char *out)
{
	if (r < 0x80)
		return out[0] = (unsigned char)r, 1;
	if (r < 0x800) {
		out[0] = (unsigned char)(0xc0 | (r >> 6));
		out[1] = (unsigned char)(0x80 | (r & 0x3f));
		return 2;
	}
	if (r < 0x10000) {
		out[0] = (unsigned char)(0xe0 | (r >> 12));
		out[1] = (unsigned char)(0x80 | ((r >> 6) & 0x3f));
		out[2] = (unsigned char)(0x80 | (r & 0x3f));
		return 3;
	}
	out[0] = (unsigned char)(0xf0 | (r >> 18));
	out[1] = (unsigned char)(0x80 | ((r >> 12) & 0x3f));
	out[2] = (unsigned char)(0x80 | ((r >> 6) & 0x3f));
	out[3] = (unsigned char)(0x80 | (r & 0x3f));
	return 4;
}

/**
 * go_is_space() - unicode.IsSpace
 * @r:	rune
 *
 * Return: true for Unicode White_Space
 */
static bool go_is_space(uint32_t r)
{
	switch (r) {
	case '\t':
	case '\n':
	case '\v':
	case '\f':
	case '\r':
	case ' ':
	case 0x85:
	case 0xa0:
	case 0x1680:
	case 0x2028:
	case 0x2029:
	case 0x202f:
	case 0x205f:
	case 0x3000:
		return true;
	}
	return r >= 0x2000 && r <= 0x200a;
}

/**
 * last_rune_start() - where utf8.DecodeLastRuneInString starts decoding
 * @s:	bytes
 * @n:	how many (> 0)
 *
 * Return: offset of the last rune's first byte (a lone byte when invalid)
 */
static size_t last_rune_start(const unsigned char *s, size_t n)
{
	size_t start = n - 1, lim = n > 4 ? n - 4 : 0;
	uint32_t r;

	if (s[start] < 0x80)
		return start;
	while (start > lim && (s[start] & 0xc0) == 0x80)
		start--;
	if (utf8_decode(s + start, n - start, &r) != n - start)
		return n - 1;
	return start;
}

/**
 * go_trim_space() - strings.TrimSpace, in place
 * @s:		text
 * @len:	its length; set to the trimmed length
 *
 * Return: start of the trimmed text within @s
 */
static char *go_trim_space(char *s, size_t *len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t a = 0, b = *len, w, start;
	uint32_t r;

	while (a < b && (w = utf8_decode(u + a, b - a, &r)) && go_is_space(r))
		a += w;
	while (b > a) {
		start = last_rune_start(u + a, b - a) + a;
		utf8_decode(u + start, b - start, &r);
		if (!go_is_space(r))
			break;
		b = start;
	}
	*len = b - a;
	s[b] = '\0';
	return s + a;
}

/**
 * go_printable() - strconv.IsPrint, approximated outside ASCII
 * @r:	a valid rune
 *
 * Exact for ASCII; beyond it, the C1 controls, the non-ASCII spaces, the
 * common format characters, surrogates, private use and the
 * non-characters are not printable, everything else is (unassigned code
 * points, which Go escapes, are taken as printable).
 *
 * Return: true if %q leaves it as is
 */
static bool go_printable(uint32_t r)
{
	if (r < 0x80)
		return r >= 0x20 && r < 0x7f;
	if (r < 0xa0 || r == 0xad || go_is_space(r))
		return false;
	if ((r >= 0x600 && r <= 0x605) || r == 0x61c || r == 0x6dd || r == 0x70f || r == 0x180e)
		return false;
	if ((r >= 0x200b && r <= 0x200f) || (r >= 0x202a && r <= 0x202e) ||
	    (r >= 0x2060 && r <= 0x206f))
		return false;
	if ((r >= 0xd800 && r <= 0xf8ff) || r == 0xfeff || (r >= 0xfff9 && r <= 0xfffb))
		return false;
	return (r & 0xfffe) != 0xfffe && r <= 0x10ffff;
}

/**
 * go_quote() - strconv.Quote (fmt's %q of a string), truncated to @size
 * @s:		text (NUL-terminated)
 * @out:	buffer
 * @size:	its size
 *
 * Return: @out
 */
static const char *go_quote(const char *s, char *out, size_t size)
{
	static const char esc[] = "\a\b\f\n\r\t\v", letter[] = "abfnrtv";
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, off = 0, w;
	char tmp[16];
	uint32_t r;

	out[off++] = '"';
	while (i < n && off + 12 < size) {
		w = utf8_decode(u + i, n - i, &r);
		if (w == 1 && r == GO_RUNE_ERROR)
			snprintf(tmp, sizeof(tmp), "\\x%02x", u[i]);
		else if (r == '"' || r == '\\')
			snprintf(tmp, sizeof(tmp), "\\%c", (char)r);
		else if (go_printable(r))
			snprintf(tmp, sizeof(tmp), "%.*s", (int)w, s + i);
		else if (r && r < 0x80 && strchr(esc, (int)r))
			snprintf(tmp, sizeof(tmp), "\\%c", letter[strchr(esc, (int)r) - esc]);
		else if (r < ' ' || r == 0x7f)
			snprintf(tmp, sizeof(tmp), "\\x%02x", r);
		else if (r < 0x10000)
			snprintf(tmp, sizeof(tmp), "\\u%04x", r);
		else
			snprintf(tmp, sizeof(tmp), "\\U%08x", r);
		off += (size_t)snprintf(out + off, size - off, "%s", tmp);
		i += w;
	}
	out[off++] = '"';
	out[off] = '\0';
	return out;
}

/**
 * go_atoi() - strconv.Atoi on a 64-bit platform
 * @s:		text
 * @len:	its length
 * @out:	set to the value
 *
 * Return: true if @s is an optional sign and decimal digits within int64
 */
static bool go_atoi(const char *s, size_t len, long long *out)
{
	unsigned long long v = 0, lim;
	bool neg = false;
	size_t i = 0;

	if (len && (s[0] == '+' || s[0] == '-')) {
		neg = s[0] == '-';
		i++;
	}
	if (i == len)
		return false;
	lim = neg ? (unsigned long long)INT64_MAX + 1 : (unsigned long long)INT64_MAX;
	for (; i < len; i++) {
		unsigned d = (unsigned)(unsigned char)s[i] - '0';

		if (d > 9 || v > (lim - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = neg ? (long long)(0 - v) : (long long)v;
	return true;
}

/**
 * go_unhex() - one hex digit
 * @c:	character
 *
 * Return: its value, or -1
 */
static int go_unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/**
 * go_unquote_escape() - strconv.UnquoteChar after a backslash, quote '"'
 * @p:		at the character after the backslash; advanced past the escape
 * @end:	end of the text
 * @out:	bytes appended here
 * @o:		its length, incremented
 *
 * Return: true if the escape is valid
 */
static bool go_unquote_escape(const char **p, const char *end, unsigned char *out, size_t *o)
{
	static const char letter[] = "abfnrtv\\\"", value[] = "\a\b\f\n\r\t\v\\\"";
	const char *s = *p, *hit;
	uint32_t v = 0;
	size_t n = 0, j;

	if (s == end)
		return false;
	if (*s && (hit = strchr(letter, *s))) {
		out[(*o)++] = (unsigned char)value[hit - letter];
		*p = s + 1;
		return true;
	}
	if (*s == 'x' || *s == 'u' || *s == 'U') {
		n = *s == 'x' ? 2 : *s == 'u' ? 4 : 8;
		for (j = 0; j < n; j++) {
			if (s + 1 + j >= end || go_unhex(s[1 + j]) < 0)
				return false;
			v = (v << 4) | (uint32_t)go_unhex(s[1 + j]);
		}
		*p = s + 1 + n;
		if (*s == 'x')
			return out[(*o)++] = (unsigned char)v, true;
		if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
			return false;
		*o += utf8_encode(v, out + *o);
		return true;
	}
	if (*s >= '0' && *s <= '7') {
		for (j = 0; j < 3; j++) {
			if (s + j >= end || s[j] < '0' || s[j] > '7')
				return false;
			v = (v << 3) | (uint32_t)(s[j] - '0');
		}
		*p = s + 3;
		return v <= 255 && (out[(*o)++] = (unsigned char)v, true);
	}
	return false;
}

/**
 * go_unquote() - strconv.Unquote of a double-quoted Go string
 * @in:		text starting with '"' (NUL-terminated)
 * @out:	set to the unquoted bytes (caller frees), NUL-terminated
 * @out_len:	set to their count (they may hold NUL bytes)
 *
 * Return: true on success; false is Go's ErrSyntax
 */
static bool go_unquote(const char *in, char **out, size_t *out_len)
{
	size_t len = strlen(in), o = 0;
	const char *p = in + 1, *end = in + len;
	cleanup_free unsigned char *buf = malloc(3 * len + 4);
	uint32_t r;

	if (!buf || len < 2 || !memchr(in + 1, '"', len - 1))
		return false;
	while (p < end && *p != '"') {
		if (*p == '\n')
			return false;
		if (*p == '\\') {
			p++;
			if (!go_unquote_escape(&p, end, buf, &o))
				return false;
			continue;
		}
		if ((unsigned char)*p < 0x80) {
			buf[o++] = (unsigned char)*p++;
			continue;
		}
		p += utf8_decode((const unsigned char *)p, (size_t)(end - p), &r);
		o += utf8_encode(r, buf + o);
	}
	if (p >= end || p + 1 != end)
		return false;
	buf[o] = '\0';
	*out_len = o;
	*out = (char *)steal_pointer(&buf);
	return true;
}

/* ---- the sections ---- */

/**
 * ov_free() - release the working list
 * @o:	list
 */
static void ov_free(struct ov *o)
{
	size_t i;

	for (i = 0; i < o->n; i++) {
		free(o->v[i].name);
		free(o->v[i].comment);
		cp_json_unref(o->v[i].entries);
	}
	free(o->v);
}

/**
 * ov_add() - append a section
 * @o:		list
 * @name:	its name
 * @index:	its index
 * @comment:	its comment
 * @entries:	its entries (stolen)
 * @err:	filled on failure
 *
 * Return: its position, or -1
 */
static long ov_add(struct ov *o, const char *name, long long index, const char *comment,
		   cp_json *entries, struct cp_error *err)
{
	struct ov_sec *s;

	if (o->n == o->cap) {
		size_t cap = o->cap ? 2 * o->cap : 64;
		struct ov_sec *v = realloc(o->v, cap * sizeof(*v));

		if (!v) {
			cp_json_unref(entries);
			cp_error_set(err, CP_ERR_NOMEM, "out of memory");
			return -1;
		}
		o->v = v;
		o->cap = cap;
	}
	s = &o->v[o->n];
	s->name = strdup(name);
	s->comment = strdup(comment);
	s->entries = entries;
	s->index = index;
	if (!s->name || !s->comment || !entries) {
		free(s->name);
		free(s->comment);
		cp_json_unref(entries);
		cp_error_set(err, CP_ERR_NOMEM, "out of memory");
		return -1;
	}
	return (long)o->n++;
}

/**
 * ov_find() - the section with @name and @index (indexedSections lookup)
 * @o:		list
 * @name:	name
 * @index:	index
 *
 * Return: its position, or -1
 */
static long ov_find(const struct ov *o, const char *name, long long index)
{
	size_t i;

	for (i = 0; i < o->n; i++)
		if (o->v[i].index == index && !strcmp(o->v[i].name, name))
			return (long)i;
	return -1;
}

/**
 * ov_load() - the original sections, numbered per name in file order
 * @o:		list to fill
 * @conf:	sections (borrowed; entries are copied)
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int ov_load(struct ov *o, const cp_json *conf, struct cp_error *err)
{
	size_t i, j;

	for (i = 0; i < cp_json_len(conf); i++) {
		const cp_json *s = cp_json_at(conf, i);
		const char *name = cp_json_get_str(s, "name"),
			   *comment = cp_json_get_str(s, "comment");
		const cp_json *e = cp_json_get_object(s, "entries");
		long long index = 0;

		if (!name)
			return cp_error_set(err, CP_ERR_INVALID, "section %zu has no name", i);
		for (j = 0; j < o->n; j++)
			index += !strcmp(o->v[j].name, name);
		if (ov_add(o, name, index, comment ? comment : "",
			   e ? cp_json_copy(e) : cp_json_new_object(), err) < 0)
			return -1;
	}
	return 0;
}

/**
 * struct ov_parse - the override parser's state (Incus's locals)
 * @name:	currentSectionName (owned), NULL before the first header
 * @cur:	position of the current section, -1 before the first header
 * @changed:	whether the current header was followed by a key
 */
struct ov_parse {
	char *name;
	long cur;
	bool changed;
};

/**
 * ov_clear() - an empty section body: remove every entry of the current one
 * @o:		list
 * @st:		parser
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int ov_clear(struct ov *o, struct ov_parse *st, struct cp_error *err)
{
	cp_json *e;

	if (st->changed || st->cur < 0)
		return 0;
	e = cp_json_new_object();
	if (!e)
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory");
	cp_json_unref(o->v[st->cur].entries);
	o->v[st->cur].entries = e;
	return 0;
}

/**
 * ov_header() - a "[name]" or "[name][index]" line
 * @o:		list
 * @st:		parser
 * @line:	the trimmed line, starting with '['
 * @len:	its length
 * @err:	filled on failure (Incus's message)
 *
 * Return: 0, or -1
 */
static int ov_header(struct ov *o, struct ov_parse *st, char *line, size_t len,
		     struct cp_error *err)
{
	char *close = strchr(line, ']'), q[QUOTE_MAX], *name, *rest;
	size_t end = close ? (size_t)(close - line) : 0, nlen, rlen;
	long long index = 0;

	if (!close || end <= 1)
		return cp_error_set(err, CP_ERR_INVALID,
				    "Invalid section header (must be a section name enclosed in "
				    "square brackets): %s",
				    go_quote(line, q, sizeof(q)));
	if (ov_clear(o, st, err) < 0)
		return -1;
	st->changed = false;
	if (len > end + 1) {
		rest = line + end + 1;
		rlen = len - end - 1;
		if (rest[0] != '[' || rest[rlen - 1] != ']' || rlen < 2 ||
		    !go_atoi(rest + 1, rlen - 2, &index))
			return cp_error_set(err, CP_ERR_INVALID,
					    "Invalid section index (must be an integer enclosed in "
					    "square brackets): %s",
					    go_quote(rest, q, sizeof(q)));
	}
	*close = '\0';
	nlen = end - 1;
	name = go_trim_space(line + 1, &nlen);
	free(st->name);
	if (!(st->name = strdup(name)))
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory");
	st->cur = ov_find(o, st->name, index);
	if (st->cur < 0)
		st->cur = ov_add(o, st->name, index, "", cp_json_new_object(), err);
	return st->cur < 0 ? -1 : 0;
}

/**
 * ov_entry() - a "key = value" line
 * @o:		list
 * @st:		parser
 * @line:	the trimmed line
 * @len:	its length
 * @err:	filled on failure (Incus's message)
 *
 * Return: 0, or -1
 */
static int ov_entry(struct ov *o, struct ov_parse *st, char *line, size_t len, struct cp_error *err)
{
	char *eq = strchr(line, '='), q[QUOTE_MAX], *key, *value;
	cleanup_free char *unquoted = NULL;
	size_t klen, vlen, ulen = 0;

	if (!st->name || !st->name[0])
		return cp_error_set(err, CP_ERR_INVALID, "Expected section header, got: %s",
				    go_quote(line, q, sizeof(q)));
	if (!eq || eq == line)
		return cp_error_set(err, CP_ERR_INVALID,
				    "Invalid property override line (must be `key=value`): %s",
				    go_quote(line, q, sizeof(q)));
	*eq = '\0';
	klen = (size_t)(eq - line);
	vlen = len - klen - 1;
	key = go_trim_space(line, &klen);
	value = go_trim_space(eq + 1, &vlen);
	if (value[0] == '"') {
		if (!go_unquote(value, &unquoted, &ulen))
			return cp_error_set(err, CP_ERR_INVALID, "Invalid quoted value: \"\"");
		if (strlen(unquoted) != ulen)
			return cp_error_set(err, CP_ERR_INVALID,
					    "lab: a raw.qemu.conf value with a NUL byte (%s = %s) "
					    "cannot be emulated",
					    key, go_quote(value, q, sizeof(q)));
		value = unquoted;
	}
	st->changed = true;
	if (!value[0]) {
		cp_json_del(o->v[st->cur].entries, key);
		return 0;
	}
	if (cp_json_set_str(o->v[st->cur].entries, key, value) < 0)
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory");
	return 0;
}

/**
 * ov_apply() - parse the override text and apply it (the scanner loop)
 * @o:		list
 * @text:	raw.qemu.conf
 * @err:	filled on failure
 *
 * Lines as bufio.ScanLines cuts them; a line longer than 65535 bytes ends
 * the scan there without an error, as in Incus.
 *
 * Return: 0, or -1
 */
static int ov_apply(struct ov *o, const char *text, struct cp_error *err)
{
	struct ov_parse st = { .name = NULL, .cur = -1, .changed = true };
	const char *p = text;
	int rc = 0;

	while (rc == 0 && *p) {
		size_t raw = strcspn(p, "\n"), len = raw;
		cleanup_free char *copy = NULL;
		char *line;

		if (raw >= GO_MAX_SCAN_TOKEN)
			break;
		if (len && p[len - 1] == '\r')
			len--;
		copy = strndup(p, len);
		p += raw + (p[raw] == '\n');
		if (!copy) {
			rc = cp_error_set(err, CP_ERR_NOMEM, "out of memory");
			break;
		}
		line = go_trim_space(copy, &len);
		if (!len)
			continue;
		rc = line[0] == '[' ? ov_header(o, &st, line, len, err)
				    : ov_entry(o, &st, line, len, err);
	}
	if (rc == 0)
		rc = ov_clear(o, &st, err);
	free(st.name);
	return rc;
}

/**
 * any_member() - cp_json_object_each callback: stop at the first member
 * @key:	unused
 * @val:	unused
 * @userdata:	unused
 *
 * Return: 1
 */
static int any_member(const char *key, cp_json *val, void *userdata)
{
	(void)key;
	(void)val;
	(void)userdata;
	return 1;
}

/**
 * ov_result() - the sections that still have entries, in file order
 * @o:		list
 * @err:	filled on failure
 *
 * Return: new array, or NULL
 */
static cp_json *ov_result(const struct ov *o, struct cp_error *err)
{
	cleanup_json cp_json *res = cp_json_new_array();
	size_t i;

	if (!res)
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory"), NULL;
	for (i = 0; i < o->n; i++) {
		cp_json *s;

		if (!cp_json_object_each(o->v[i].entries, any_member, NULL))
			continue;
		s = cp_json_new_object();
		if (!s || cp_json_set_str(s, "name", o->v[i].name) < 0 ||
		    cp_json_set_str(s, "comment", o->v[i].comment) < 0 ||
		    cp_json_set(s, "entries", cp_json_ref(o->v[i].entries)) < 0 ||
		    cp_json_append(res, s) < 0)
			return cp_error_set(err, CP_ERR_NOMEM, "out of memory"), NULL;
	}
	return steal_pointer(&res);
}

/**
 * lab_incus_conf_override() - Incus's qemuRawCfgOverride()
 * @conf:	the generated sections (borrowed, not changed)
 * @override:	raw.qemu.conf
 * @err:	filled on failure, with Incus's message (the start fails with it)
 *
 * Existing sections are addressed as "[name]" (index 0) or "[name][N]"
 * (the Nth section of that name, counted in file order from 0); keys are
 * set, `key = ""` (or `key =`) deletes one, a header with no keys after it
 * empties its section, and sections left empty are dropped. A name/index
 * that does not exist appends a new section at the end, in the order the
 * override names them.
 *
 * Return: the new sections (new reference), or NULL
 */
cp_json *lab_incus_conf_override(const cp_json *conf, const char *override, struct cp_error *err)
{
	struct ov o = { .v = NULL, .n = 0, .cap = 0 };
	cp_json *res = NULL;

	if (ov_load(&o, conf, err) == 0 && ov_apply(&o, override ? override : "", err) == 0)
		res = ov_result(&o, err);
	ov_free(&o);
	return res;
}

/* Keys of one section, for sorting. */
struct key_list {
	const char **keys;
	size_t n;
	size_t cap;
};

/**
 * collect_key() - cp_json_object_each callback: remember a key
 * @key:	key
 * @val:	value (unused)
 * @userdata:	struct key_list
 *
 * Return: 0, or -1 when out of memory
 */
static int collect_key(const char *key, cp_json *val, void *userdata)
{
	struct key_list *l = userdata;

	(void)val;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		const char **k = realloc(l->keys, cap * sizeof(*k));

		if (!k)
			return -1;
		l->keys = k;
		l->cap = cap;
	}
	l->keys[l->n++] = key;
	return 0;
}

/**
 * key_cmp() - qsort comparator: bytewise, as Go's sort.Strings
 * @a:	const char **
 * @b:	const char **
 *
 * Return: strcmp order
 */
static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/**
 * write_section() - one section as qemuStringifyCfg() writes it
 * @f:	output
 * @s:	{"name", "comment", "entries"}
 *
 * Return: 0, or -1 when out of memory
 */
static int write_section(FILE *f, const cp_json *s)
{
	const char *comment = cp_json_get_str(s, "comment");
	struct key_list l = { .keys = NULL, .n = 0, .cap = 0 };
	size_t i;

	if (comment && comment[0])
		fprintf(f, "# %s\n", comment);
	fprintf(f, "[%s]\n", cp_json_get_str(s, "name") ? cp_json_get_str(s, "name") : "");
	if (cp_json_object_each(cp_json_get(s, "entries"), collect_key, &l) < 0) {
		free(l.keys);
		return -1;
	}
	if (l.n)
		qsort(l.keys, l.n, sizeof(*l.keys), key_cmp);
	for (i = 0; i < l.n; i++) {
		const char *v = cp_json_as_str(cp_json_get(cp_json_get(s, "entries"), l.keys[i]));

		if (v && v[0])
			fprintf(f, "%s = \"%s\"\n", l.keys[i], v);
	}
	fputc('\n', f);
	free(l.keys);
	return 0;
}

/**
 * lab_incus_conf_stringify() - Incus's qemuStringifyCfg(): the qemu.conf text
 * @conf:	sections
 *
 * Per section: "# comment" if there is one, "[name]", `key = "value"` in
 * sorted key order (values written as they are, empty ones left out), and
 * a blank line.
 *
 * Return: new string (caller frees), or NULL when out of memory
 */
char *lab_incus_conf_stringify(const cp_json *conf)
{
	char *text = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&text, &len);
	int rc = 0;

	if (!f)
		return NULL;
	for (i = 0; rc == 0 && i < cp_json_len(conf); i++)
		rc = write_section(f, cp_json_at(conf, i));
	if (fclose(f) != 0 || rc < 0) {
		free(text);
		return NULL;
	}
	return text;
}

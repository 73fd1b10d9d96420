/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The section list behind coldplug/qconf.h: see qconf_section.h. Apart
 * from the generators (qconf.c, macos.c) so that each builds on it
 * without depending on the other.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qconf_section.h"
#include "util.h"

/**
 * section_fail() - latch the first error of a build
 * @q:		configuration
 * @code:	error kind
 * @fmt:	printf format
 */
static void section_fail(struct qconf *q, enum cp_error_code code, const char *fmt, ...)
	CP_PRINTF(3, 4);
static void section_fail(struct qconf *q, enum cp_error_code code, const char *fmt, ...)
{
	va_list ap;

	if (q->failed)
		return;
	q->failed = true;
	cp_error_set(&q->err, code, "%s", "");
	va_start(ap, fmt);
	vsnprintf(q->err.msg, sizeof(q->err.msg), fmt, ap);
	va_end(ap);
}

/**
 * qconf_section_add() - append a section
 * @q:		configuration
 * @group:	section group
 * @id:		id, or NULL / "" for anonymous
 * @comment:	explanation for readconfig files, or NULL
 *
 * Return: the section, or NULL after a failure (latched in @q)
 */
struct qconf_section *qconf_section_add(struct qconf *q, const char *group, const char *id,
					const char *comment)
{
	struct qconf_section *n;

	if (q->failed)
		return NULL;
	n = realloc(q->s, (q->n + 1) * sizeof(*n));
	if (!n) {
		section_fail(q, CP_ERR_NOMEM, "out of memory");
		return NULL;
	}
	q->s = n;
	n = &q->s[q->n];
	memset(n, 0, sizeof(*n));
	/* A name that does not fit is an error, never a shorter name. */
	if (strlen(group) >= sizeof(n->group) || strlen(id ? id : "") >= sizeof(n->id)) {
		section_fail(q, CP_ERR_INVALID, "[%s \"%s\"]: the section's %s is too long", group,
			     id ? id : "", strlen(group) >= sizeof(n->group) ? "group" : "id");
		return NULL;
	}
	n->comment = strdup(comment ? comment : "");
	if (!n->comment) {
		section_fail(q, CP_ERR_NOMEM, "out of memory");
		return NULL;
	}
	cp_strlcpy(n->group, group, sizeof(n->group));
	cp_strlcpy(n->id, id ? id : "", sizeof(n->id));
	q->n++;
	return n;
}

/**
 * qconf_section_addf() - qconf_section_add() with a formatted comment
 * @q:		configuration
 * @group:	section group
 * @id:		id, or NULL / "" for anonymous
 * @fmt:	printf format of the comment
 *
 * Return: the section, or NULL after a failure (latched in @q)
 */
struct qconf_section *qconf_section_addf(struct qconf *q, const char *group, const char *id,
					 const char *fmt, ...)
{
	struct qconf_section *s;
	char *comment = NULL;
	va_list ap;
	int n;

	if (q->failed)
		return NULL;
	va_start(ap, fmt);
	n = vasprintf(&comment, fmt, ap);
	va_end(ap);
	if (n < 0) {
		section_fail(q, CP_ERR_NOMEM, "out of memory");
		return NULL;
	}
	s = qconf_section_add(q, group, id, comment);
	free(comment);
	return s;
}

/**
 * value_ok() - whether a value can be written between quotes in both formats
 * @v:	value
 *
 * QEMU's -readconfig parser has no escapes, so '"', '\\' and control
 * characters cannot appear.
 *
 * Return: true if it can
 */
static bool value_ok(const char *v)
{
	for (; *v; v++)
		if (*v == '"' || *v == '\\' || (unsigned char)*v < 0x20 || *v == 0x7f)
			return false;
	return true;
}

/**
 * qconf_section_set() - add key = "value" to a section
 * @q:		configuration
 * @s:		section, or NULL after an earlier failure (ignored then)
 * @key:	key
 * @fmt:	printf format of the value
 */
void qconf_section_set(struct qconf *q, struct qconf_section *s, const char *key, const char *fmt,
		       ...)
{
	struct qconf_entry *n;
	char value[sizeof(n->value) + 1];
	va_list ap;
	int len;

	if (q->failed || !s)
		return;
	va_start(ap, fmt);
	len = vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= sizeof(n->value) || !value_ok(value)) {
		section_fail(q, CP_ERR_INVALID,
			     "[%s] %s: the value cannot be written to a QEMU "
			     "configuration file (too long, or it holds a quote, backslash or "
			     "control character)",
			     s->group, key);
		return;
	}
	n = realloc(s->entries, (s->n + 1) * sizeof(*n));
	if (!n) {
		section_fail(q, CP_ERR_NOMEM, "out of memory");
		return;
	}
	s->entries = n;
	if (strlen(key) >= sizeof(n[s->n].key)) {
		section_fail(q, CP_ERR_INVALID, "[%s] %s: the key is too long", s->group, key);
		return;
	}
	cp_strlcpy(n[s->n].key, key, sizeof(n[s->n].key));
	cp_strlcpy(n[s->n].value, value, sizeof(n[s->n].value));
	s->n++;
}

/**
 * qconf_section_remove() - delete one of Incus's sections (Incus format only)
 * @q:		configuration
 * @group:	its group
 * @id:		its id
 * @comment:	why
 */
void qconf_section_remove(struct qconf *q, const char *group, const char *id, const char *comment)
{
	struct qconf_section *s = qconf_section_add(q, group, id, comment);

	if (s)
		s->remove = true;
}

/**
 * qconf_section_set_table() - add constant key = "value" lines to a section
 * @q:		configuration
 * @s:		section, or NULL after an earlier failure (ignored then)
 * @kv:		the lines, in order
 * @n:		their count
 */
void qconf_section_set_table(struct qconf *q, struct qconf_section *s, const struct qconf_kv *kv,
			     size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		qconf_section_set(q, s, kv[i].key, "%s", kv[i].value);
}

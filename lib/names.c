/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Names: see names.h.
 */
#include <string.h>

#include "names.h"
#include "util.h"

/**
 * names_parse_indexed() - match "<prefix><N><suffix>" and extract N
 * @name:	name to test, may be NULL
 * @prefix:	e.g. "coldplug-disk"
 * @suffix:	e.g. "" or "-uplink"
 * @index:	set to N on success
 *
 * N is decimal without leading zeros (so each slot has one name).
 *
 * Return: true if @name has that shape
 */
bool names_parse_indexed(const char *name, const char *prefix, const char *suffix, unsigned *index)
{
	size_t plen = strlen(prefix), slen = strlen(suffix), len;
	unsigned v = 0;
	size_t i;

	if (!name || strncmp(name, prefix, plen))
		return false;
	len = strlen(name);
	if (len < plen + 1 + slen || strcmp(name + len - slen, suffix))
		return false;
	if (name[plen] == '0' && len - slen > plen + 1)
		return false;
	for (i = plen; i < len - slen; i++) {
		if (name[i] < '0' || name[i] > '9' || v > 100000)
			return false;
		v = v * 10 + (unsigned)(name[i] - '0');
	}
	*index = v;
	return true;
}

/**
 * names_manager_name() - the manager's device name behind a qdev id
 * @id:		qdev id, e.g. "dev-incus_data--1-x"
 * @prefix:	the manager's id prefix, e.g. "dev-incus_"; NULL or "" to keep
 *		@id as it is
 * @out:	set to the name, e.g. "data-1/x" (Incus's PathNameEncode undone:
 *		"--" is "-", a single "-" is "/")
 * @size:	size of @out
 */
void names_manager_name(const char *id, const char *prefix, char *out, size_t size)
{
	const char *p;
	size_t o = 0;

	if (!prefix || !*prefix || !cp_str_has_prefix(id, prefix) || strcmp(prefix, "dev-incus_")) {
		cp_strlcpy(out, id, size);
		return;
	}
	for (p = id + strlen(prefix); *p && o + 1 < size; p++) {
		if (*p == '-' && p[1] == '-') {
			out[o++] = '-';
			p++;
		} else {
			out[o++] = *p == '-' ? '/' : *p;
		}
	}
	out[o] = '\0';
}

/**
 * names_is_placeholder() - whether a node is one of coldplug's placeholders
 * @node:	node-name
 *
 * Return: true for "coldplug-ph-disk<N>"
 */
bool names_is_placeholder(const char *node)
{
	unsigned i;

	return names_parse_indexed(node, NAMES_DISK_PLACEHOLDER, "", &i);
}

/**
 * names_qom_child_type() - the QOM type in a qom-list "child<type>" entry type
 * @t:		the entry's "type", may be NULL
 * @out:	the type
 * @size:	size of @out
 *
 * Return: true if @t is a child<...> property whose type fits @out
 */
bool names_qom_child_type(const char *t, char *out, size_t size)
{
	size_t len;

	if (!t || strncmp(t, "child<", 6))
		return false;
	len = strlen(t);
	if (len < 8 || t[len - 1] != '>' || len - 7 >= size)
		return false;
	memcpy(out, t + 6, len - 7);
	out[len - 7] = '\0';
	return true;
}

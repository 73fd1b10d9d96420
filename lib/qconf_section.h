/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The section list behind coldplug/qconf.h, shared by the generators
 * that add to it (frontends, the daemon's monitor, the macOS machine).
 */
#ifndef COLDPLUG_QCONF_SECTION_H
#define COLDPLUG_QCONF_SECTION_H

#include <stdbool.h>
#include <stddef.h>

#include "coldplug/error.h"

/**
 * struct qconf_entry - one key = "value" line
 * @key:	key
 * @value:	value (never contains '"', '\\' or a newline)
 */
struct qconf_entry {
	char key[48];
	char value[256];
};

/**
 * struct qconf_section - one [group "id"] section
 * @group:	"device", "drive", "netdev", "global", "chardev", "mon"
 * @id:		section id, "" for an anonymous one
 * @comment:	explanation (readconfig only), "" for none; allocated
 * @remove:	Incus format: delete this existing Incus section (rendered as
 *		an empty header); left out of readconfig files
 * @entries:	its lines
 * @n:		their count
 */
struct qconf_section {
	char group[16];
	char id[64];
	char *comment;
	bool remove;
	struct qconf_entry *entries;
	size_t n;
};

/**
 * struct qconf - an ordered list of sections
 * @s:		sections, in QEMU creation order
 * @n:		their count
 * @err:	the first error while building (out of memory, bad value)
 * @failed:	whether @err is set
 */
struct qconf {
	struct qconf_section *s;
	size_t n;
	struct cp_error err;
	bool failed;
};

/**
 * struct qconf_kv - one constant key = "value" line, for section tables
 * @key:	key
 * @value:	value
 */
struct qconf_kv {
	const char *key;
	const char *value;
};

struct qconf_section *qconf_section_add(struct qconf *q, const char *group, const char *id,
					const char *comment);
struct qconf_section *qconf_section_addf(struct qconf *q, const char *group, const char *id,
					 const char *fmt, ...) CP_PRINTF(4, 5);
void qconf_section_set(struct qconf *q, struct qconf_section *s, const char *key, const char *fmt,
		       ...) CP_PRINTF(4, 5);
void qconf_section_set_table(struct qconf *q, struct qconf_section *s, const struct qconf_kv *kv,
			     size_t n);
void qconf_section_remove(struct qconf *q, const char *group, const char *id, const char *comment);

#endif /* COLDPLUG_QCONF_SECTION_H */

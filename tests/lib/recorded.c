/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Recorded inventories for the tests: see recorded.h.
 */
#include <stdio.h>
#include <stdlib.h>

#include "recorded.h"
#include "tap.h"

/**
 * recorded_raw() - the raw document of a recording, to build or to edit
 * @name:	recording, without the version and .json ("incus-default")
 * @qemu_ver:	QEMU major.minor of the recording ("7.2", "10.0")
 *
 * Bails out (the test cannot go on) if the file cannot be read or parsed.
 *
 * Return: new reference, caller unrefs
 */
cp_json *recorded_raw(const char *name, const char *qemu_ver)
{
	char path[512], *buf;
	struct cp_error err;
	cp_json *raw;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/inventory/%s-%s.json", COLDPLUG_TEST_DATA, name, qemu_ver);
	f = fopen(path, "r");
	if (!f)
		bail_out("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
		bail_out("cannot read %s", path);
	fclose(f);
	raw = cp_json_parse(buf, (size_t)n, &err);
	free(buf);
	if (!raw)
		bail_out("%s: %s", path, err.msg);
	return raw;
}

/**
 * recorded_inventory() - build an inventory from a recording
 * @name:	recording, without the version and .json ("incus-default")
 * @qemu_ver:	QEMU major.minor of the recording ("7.2", "10.0")
 * @sel:	which devices are the manager's, or NULL for Incus's ids
 * @inv:	result
 *
 * Bails out (the test cannot go on) if the file cannot be read or built.
 */
void recorded_inventory(const char *name, const char *qemu_ver, const struct inv_select *sel,
			struct inventory *inv)
{
	const struct inv_select incus = { .id_prefix = INV_INCUS_PREFIX };
	cp_json *raw = recorded_raw(name, qemu_ver);
	struct cp_error err;

	if (inventory_build(raw, sel ? sel : &incus, inv, &err) < 0)
		bail_out("%s-%s: %s", name, qemu_ver, err.msg);
	cp_json_unref(raw);
}

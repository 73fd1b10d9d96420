/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Reading an Incus profile (YAML, as `incus profile show` prints it and
 * `coldplug incus-profile` writes it) for the emulator: its name and the
 * two config keys the emulator applies, raw.qemu.conf and
 * raw.qemu.scriptlet. Parsed with libyaml, as lib/incus_profile_check.c
 * does; other keys (raw.apparmor: the lab has no AppArmor) are ignored.
 */
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "incus.h"
#include "util.h"

/**
 * map_get() - the value under @key in a YAML mapping
 * @doc:	document
 * @map:	mapping node, or NULL
 * @key:	key
 *
 * Return: borrowed node, or NULL
 */
static yaml_node_t *map_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *p;

	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);

		if (k && k->type == YAML_SCALAR_NODE && !strcmp((char *)k->data.scalar.value, key))
			return yaml_document_get_node(doc, p->value);
	}
	return NULL;
}

/**
 * scalar_dup() - a copy of a scalar node's text
 * @n:		node, or NULL
 * @out:	set to the copy (caller frees), or NULL when @n is not a scalar
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int scalar_dup(const yaml_node_t *n, char **out, struct cp_error *err)
{
	*out = NULL;
	if (!n || n->type != YAML_SCALAR_NODE)
		return 0;
	*out = cp_strdup((const char *)n->data.scalar.value, err);
	return *out ? 0 : -1;
}

/**
 * lab_incus_profile_read() - a profile's name and raw.qemu.* keys
 * @yaml:		the profile
 * @len:		its length
 * @name:		set to its "name" (caller frees), NULL if none
 * @raw_qemu_conf:	set to config: raw.qemu.conf (caller frees), NULL if unset
 * @scriptlet:		set to config: raw.qemu.scriptlet (caller frees), NULL if
 *			unset
 * @err:		filled on failure
 *
 * Return: 0, or -1 (nothing set)
 */
int lab_incus_profile_read(const char *yaml, size_t len, char **name, char **raw_qemu_conf,
			   char **scriptlet, struct cp_error *err)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root, *config;
	int rc = 0;

	*name = *raw_qemu_conf = *scriptlet = NULL;
	if (!yaml_parser_initialize(&parser))
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
	if (!yaml_parser_load(&parser, &doc)) {
		rc = cp_error_set(err, CP_ERR_INVALID, "not valid YAML: %s at line %zu",
				  parser.problem ? parser.problem : "error",
				  parser.problem_mark.line + 1);
		yaml_parser_delete(&parser);
		return rc;
	}
	root = yaml_document_get_root_node(&doc);
	config = map_get(&doc, root, "config");
	if (!root || root->type != YAML_MAPPING_NODE)
		rc = cp_error_set(err, CP_ERR_INVALID, "not an Incus profile (no mapping)");
	else if (scalar_dup(map_get(&doc, root, "name"), name, err) < 0 ||
		 scalar_dup(map_get(&doc, config, "raw.qemu.conf"), raw_qemu_conf, err) < 0 ||
		 scalar_dup(map_get(&doc, config, "raw.qemu.scriptlet"), scriptlet, err) < 0)
		rc = -1;
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (rc < 0) {
		free(*name);
		free(*raw_qemu_conf);
		free(*scriptlet);
		*name = *raw_qemu_conf = *scriptlet = NULL;
	}
	return rc;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * HMP "info network" parser: see hmp_network.h.
 */
#include <stdlib.h>
#include <string.h>

#include "coldplug/cleanup.h"
#include "hmp_network.h"
#include "util.h"

/**
 * parse_item() - one key=value of a client's info
 * @cl:		client to fill
 * @key:	key
 * @value:	value
 * @err:	filled when a value does not fit its field
 *
 * Return: 1 for index=, 2 for type=, 0 for anything else, -1 on failure
 */
static int parse_item(struct hmp_net_client *cl, const char *key, const char *value,
		      struct cp_error *err)
{
	unsigned long long v;
	char *dst = NULL;
	size_t size = 0;

	if (!strcmp(key, "index"))
		return cp_parse_uint(value, 1 << 16, &v, NULL) == 0 ? (cl->index = (int)v, 1) : 0;
	if (!strcmp(key, "fd") && cp_parse_uint(value, 0x7fffffff, &v, NULL) == 0) {
		cl->fd = (int)v;
	} else if (!strcmp(key, "type")) {
		dst = cl->type;
		size = sizeof(cl->type);
	} else if (!strcmp(key, "model")) {
		dst = cl->model;
		size = sizeof(cl->model);
	} else if (!strcmp(key, "macaddr")) {
		dst = cl->mac;
		size = sizeof(cl->mac);
	} else if (!strcmp(key, "ifname")) {
		dst = cl->ifname;
		size = sizeof(cl->ifname);
	}
	if (dst && cp_strlcpy_checked(dst, value, size, err) < 0)
		return cp_error_prefix(err, "info network: %s's %s", cl->name, key);
	return dst == cl->type ? 2 : 0;
}

/**
 * parse_info() - fill @cl from "index=I,type=T,k=v,..." (the client info)
 * @cl:		client to fill (name already set)
 * @info:	the text after "NAME: "
 * @err:	filled when a value does not fit its field
 *
 * Return: 1 if it had at least a valid index= and a type=, 0 if not, -1 on
 * failure
 */
static int parse_info(struct hmp_net_client *cl, const char *info, struct cp_error *err)
{
	unsigned seen = 0;
	const char *p = info;

	while (*p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char item[256];
		char *eq;
		int rc;

		if (len < sizeof(item)) {
			memcpy(item, p, len);
			item[len] = '\0';
			eq = strchr(item, '=');
			if (eq) {
				*eq = '\0';
				rc = parse_item(cl, item, eq + 1, err);
				if (rc < 0)
					return -1;
				seen |= (unsigned)rc;
			}
		}
		p += len + (*(p + len) == ',');
	}
	return seen == 3;
}

/**
 * parse_client() - parse "NAME: index=..." into @cl
 * @text:	the text
 * @cl:		filled on success
 * @err:	filled when a value does not fit its field
 *
 * Return: 1 if @text is a client line, 0 if not, -1 on failure
 */
static int parse_client(const char *text, struct hmp_net_client *cl, struct cp_error *err)
{
	const char *colon = strstr(text, ": ");
	size_t len;

	memset(cl, 0, sizeof(*cl));
	cl->fd = -1;
	cl->hubid = -1;
	if (!colon || colon == text)
		return 0;
	len = (size_t)(colon - text);
	if (len >= sizeof(cl->name) || memchr(text, ' ', len))
		return 0;
	memcpy(cl->name, text, len);
	cl->name[len] = '\0';
	return parse_info(cl, colon + 2, err);
}

/**
 * add_client() - append a client to @net
 * @net:	parse result
 * @cl:		client, copied
 * @err:	filled on failure
 *
 * Return: 0, or -1 when out of memory
 */
static int add_client(struct hmp_network *net, const struct hmp_net_client *cl,
		      struct cp_error *err)
{
	struct hmp_net_client *n = realloc(net->clients, (net->n + 1) * sizeof(*n));

	if (!n)
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory");
	net->clients = n;
	net->clients[net->n++] = *cl;
	return 0;
}

/**
 * parse_hub_port() - " \ PORT: PEER: index=..." or " \ PORT" in a hub section
 * @net:	parse result
 * @text:	the text after " \ "
 * @hubid:	the current hub
 * @err:	filled on failure
 *
 * Records the hub port and, when printed, its peer.
 *
 * Return: 1 parsed, 0 not this shape, -1 out of memory or a value too long
 */
static int parse_hub_port(struct hmp_network *net, const char *text, int hubid,
			  struct cp_error *err)
{
	struct hmp_net_client port = { .index = 0, .fd = -1, .hubid = hubid };
	struct hmp_net_client peer;
	const char *colon = strstr(text, ": ");
	size_t len = colon ? (size_t)(colon - text) : strlen(text);
	int rc;

	if (!len || len >= sizeof(port.name) || memchr(text, ' ', len))
		return 0;
	memcpy(port.name, text, len);
	port.name[len] = '\0';
	cp_strlcpy(port.type, "hubport", sizeof(port.type));
	rc = colon ? parse_client(colon + 2, &peer, err) : 0;
	if (rc < 0)
		return -1;
	if (rc) {
		CP_FIELD_COPY(port.peer, peer.name);
		CP_FIELD_COPY(peer.peer, port.name);
		if (add_client(net, &peer, err) < 0)
			return -1;
	}
	return add_client(net, &port, err) < 0 ? -1 : 1;
}

/**
 * parse_line() - parse one line, given what came before
 * @net:	parse result so far
 * @line:	the line, without its end
 * @hubid:	in/out: current hub id, -1 outside a hub section
 * @last_nic:	in/out: index in @net of the last NIC line, -1 if none
 * @err:	filled on failure
 *
 * Return: 0, or -1 when out of memory or a value does not fit its field
 */
static int parse_line(struct hmp_network *net, const char *line, int *hubid, long *last_nic,
		      struct cp_error *err)
{
	struct hmp_net_client cl;
	unsigned long long v;
	int rc;

	if (!strncmp(line, "hub ", 4) && cp_parse_uint(line + 4, 1 << 30, &v, NULL) == 0) {
		*hubid = (int)v;
		*last_nic = -1;
		return 0;
	}
	if (!strncmp(line, " \\ ", 3)) {
		if (*hubid >= 0) {
			rc = parse_hub_port(net, line + 3, *hubid, err);
			if (rc)
				return rc < 0 ? -1 : 0;
		} else if (*last_nic >= 0) {
			rc = parse_client(line + 3, &cl, err);
			if (rc < 0)
				return -1;
			if (rc) {
				CP_FIELD_COPY(cl.peer, net->clients[*last_nic].name);
				CP_FIELD_COPY(net->clients[*last_nic].peer, cl.name);
				return add_client(net, &cl, err);
			}
		}
		net->skipped++;
		return 0;
	}
	if (!strcmp(line, "filters:") || !strncmp(line, "  - ", 4)) {
		if (net->n)
			net->clients[net->n - 1].filters = true;
		return 0;
	}
	*hubid = -1;
	*last_nic = -1;
	rc = parse_client(line, &cl, err);
	if (rc <= 0) {
		net->skipped += *line != '\0' && rc == 0;
		return rc;
	}
	if (!strcmp(cl.type, "nic"))
		*last_nic = (long)net->n;
	return add_client(net, &cl, err);
}

/**
 * hmp_network_parse() - parse the text of "info network"
 * @text:	the command's output (\r\n or \n line ends)
 * @out:	filled on success; free with hmp_network_free()
 * @err:	filled on failure
 *
 * Return: 0 (lines it does not understand are counted in @out->skipped), or
 * -1 when out of memory or a value QEMU printed does not fit its field
 */
int hmp_network_parse(const char *text, struct hmp_network *out, struct cp_error *err)
{
	cleanup_free char *copy = strdup(text);
	long last_nic = -1;
	int hubid = -1;
	char *save = NULL, *line;

	memset(out, 0, sizeof(*out));
	if (!copy)
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory");
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t len = strlen(line);

		if (len && line[len - 1] == '\r')
			line[len - 1] = '\0';
		if (parse_line(out, line, &hubid, &last_nic, err) < 0) {
			hmp_network_free(out);
			return -1;
		}
	}
	return 0;
}

/**
 * hmp_network_free() - free a parse result
 * @net:	parse result
 */
void hmp_network_free(struct hmp_network *net)
{
	free(net->clients);
	memset(net, 0, sizeof(*net));
}

/**
 * hmp_network_queues() - how many queues a netdev (or NIC) has
 * @net:	parse result
 * @name:	client name
 * @first:	set to the first matching client, may be NULL
 *
 * Return: number of clients named @name
 */
size_t hmp_network_queues(const struct hmp_network *net, const char *name,
			  const struct hmp_net_client **first)
{
	size_t i, n = 0;

	if (first)
		*first = NULL;
	for (i = 0; i < net->n; i++) {
		if (strcmp(net->clients[i].name, name))
			continue;
		if (!n && first)
			*first = &net->clients[i];
		n++;
	}
	return n;
}

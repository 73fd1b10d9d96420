/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The stub protocol: see coldplug/stub.h. The request comes from Incus's
 * side of the VM and is parsed strictly: anything unexpected is an error
 * the stub reports, never a crash or a silent default.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "coldplug/cleanup.h"
#include "coldplug/stub.h"
#include "util.h"

/**
 * ifname_ok() - a plausible Linux interface name
 * @s:	text
 *
 * Return: true for 1-15 characters of [A-Za-z0-9_.-]
 */
static bool ifname_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (!n || n > 15)
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return false;
	return true;
}

/**
 * add_tap() - cp_json_object_each callback: one "NIC": "tap" pair
 * @key:	NIC name
 * @val:	tap name
 * @userdata:	struct stub_request
 *
 * Return: 0, or -1 for a bad entry
 */
static int add_tap(const char *key, cp_json *val, void *userdata)
{
	struct stub_request *r = userdata;
	const char *tap = cp_json_as_str(val);

	if (!tap || !ifname_ok(tap) || strlen(key) >= sizeof(r->taps[0].name) ||
	    r->ntaps == STUB_MAX_TAPS)
		return -1;
	cp_strlcpy(r->taps[r->ntaps].name, key, sizeof(r->taps[0].name));
	cp_strlcpy(r->taps[r->ntaps].ifname, tap, sizeof(r->taps[0].ifname));
	r->ntaps++;
	return 0;
}

/**
 * parse_frontend() - the "nic-frontend" member, if any
 * @j:		request object
 * @r:		request to fill
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int parse_frontend(const cp_json *j, struct stub_request *r, struct cp_error *err)
{
	const char *f = cp_json_get_str(j, "nic-frontend");

	if (!cp_json_get(j, "nic-frontend"))
		return 0;
	if (plan_frontend_parse(f, &r->frontend) < 0)
		return cp_error_set(err, CP_ERR_INVALID, "nic-frontend must be \"pci\" or \"usb\"");
	r->has_frontend = true;
	return 0;
}

/**
 * stub_request_parse() - parse the stub's request
 * @text:	the request object's identity
 * @out:	filled on success
 * @err:	filled on failure
 *
 * Return: 0, or -1 (CP_ERR_INVALID)
 */
int stub_request_parse(const char *text, struct stub_request *out, struct cp_error *err)
{
	cleanup_json cp_json *j = NULL;
	const char *s;
	int64_t v;

	memset(out, 0, sizeof(*out));
	j = cp_json_parse(text, strlen(text), err);
	if (!j)
		return cp_error_prefix(err, "request from the Incus scriptlet");
	if (!cp_json_is_object(j) || !cp_json_get_int(j, "v", &v) || v != 1)
		return cp_error_set(err, CP_ERR_INVALID,
				    "request from the Incus scriptlet: not a version 1 request "
				    "(regenerate the profile with this coldplug's incus-profile)");
	s = cp_json_get_str(j, "instance");
	if (cp_strlcpy_checked(out->instance, s ? s : "", sizeof(out->instance), err) < 0)
		return cp_error_prefix(err, "request from the Incus scriptlet: instance");
	s = cp_json_get_str(j, "project");
	if (cp_strlcpy_checked(out->project, s ? s : "", sizeof(out->project), err) < 0)
		return cp_error_prefix(err, "request from the Incus scriptlet: project");
	if (parse_frontend(j, out, err) < 0)
		return cp_error_prefix(err, "request from the Incus scriptlet");
	if (cp_json_get(j, "usb-mac-fixed") &&
	    !cp_json_get_bool(j, "usb-mac-fixed", &out->usb_mac_fixed))
		return cp_error_set(
			err, CP_ERR_INVALID,
			"request from the Incus scriptlet: usb-mac-fixed is not a boolean");
	if (cp_json_get(j, "taps") && (!cp_json_is_object(cp_json_get(j, "taps")) ||
				       cp_json_object_each(cp_json_get(j, "taps"), add_tap, out)))
		return cp_error_set(
			err, CP_ERR_INVALID,
			"request from the Incus scriptlet: taps must map NIC names to at "
			"most %d interface names",
			STUB_MAX_TAPS);
	return 0;
}

/**
 * blank_controls() - control characters in @s become spaces
 * @s:	string, changed in place
 */
static void blank_controls(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

/**
 * stub_status_clean() - a status as the daemon may publish it: one line, at
 * most STUB_STATUS_MAX - 1 bytes
 * @text:	status ("done: ..." names devices the peer listed)
 * @out:	buffer
 * @size:	its size (at most STUB_STATUS_MAX is used)
 *
 * The stub reads the ringbuf line by line, so a newline in a status (a
 * device name, a QEMU error text) would cut it, and a next line starting
 * "done" would read as success: control characters become spaces.
 */
void stub_status_clean(const char *text, char *out, size_t size)
{
	if (size > STUB_STATUS_MAX)
		size = STUB_STATUS_MAX;
	snprintf(out, size, "%s", text);
	blank_controls(out);
}

/**
 * stub_status_failed() - the status text of a failure, on one line
 * @msg:	what went wrong
 * @out:	buffer, at least 16 bytes
 * @size:	its size (at most STUB_STATUS_MAX is used)
 *
 * Cleaned as stub_status_clean() does.
 */
void stub_status_failed(const char *msg, char *out, size_t size)
{
	if (size > STUB_STATUS_MAX)
		size = STUB_STATUS_MAX;
	snprintf(out, size, STUB_STATUS_FAILED ": %s", msg);
	blank_controls(out);
}

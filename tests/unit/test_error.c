/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The error convention (lib/error.c): setting, errno messages, context
 * prefixes (outermost first), QMP class and command, truncation without
 * overflow, and NULL errors that drop everything.
 */
#include <errno.h>
#include <string.h>

#include "coldplug/error.h"
#include "tap.h"

/**
 * test_set() - cp_error_set() and cp_error_set_errno()
 */
static void test_set(void)
{
	struct cp_error err;

	memset(&err, 0x55, sizeof(err));
	is_int(cp_error_set(&err, CP_ERR_INVALID, "bad %s %d", "thing", 3), -1, "set returns -1");
	is_int(err.code, CP_ERR_INVALID, "set: code");
	is_str(err.msg, "bad thing 3", "set: message");
	ok(err.sys_errno == 0 && !err.qmp_class[0] && !err.command[0], "set: clears the rest");
	cp_error_set_errno(&err, ENOENT, "open %s", "/x");
	is_int(err.code, CP_ERR_SYSTEM, "set_errno: CP_ERR_SYSTEM");
	is_int(err.sys_errno, ENOENT, "set_errno: errno kept");
	is_str(err.msg, "open /x: No such file or directory", "set_errno: strerror appended");
	ok(cp_error_is(&err, CP_ERR_SYSTEM) && !cp_error_is(&err, CP_ERR_EOF), "is");
	ok(!cp_error_is(NULL, CP_ERR_NONE), "is: NULL is no error of any kind");
	is_int(cp_error_set(NULL, CP_ERR_EOF, "x"), -1, "set on NULL returns -1");
	is_int(cp_error_set_errno(NULL, EIO, "x"), -1, "set_errno on NULL returns -1");
	is_int(cp_error_prefix(NULL, "x"), -1, "prefix on NULL returns -1");
	cp_error_set_qmp(NULL, "a", "b");
	cp_error_clear(NULL);
	cp_error_copy(NULL, &err);
	ok(1, "NULL errors are ignored by set_qmp, clear, copy");
}

/**
 * test_prefix() - context travels outward: the last prefix comes first
 */
static void test_prefix(void)
{
	struct cp_error err, copy;
	char big[3000];

	cp_error_set(&err, CP_ERR_EOF, "QEMU closed the connection");
	cp_error_prefix(&err, "QMP %s", "/run/vm.qmp");
	cp_error_prefix(&err, "device_del");
	is_str(err.msg, "device_del: QMP /run/vm.qmp: QEMU closed the connection",
	       "prefix: outermost context first");
	is_int(err.code, CP_ERR_EOF, "prefix keeps the code");
	cp_error_set_qmp(&err, "device_del", NULL);
	cp_error_set_qmp(&err, NULL, "DeviceNotFound");
	is_str(err.command, "device_del", "set_qmp: command");
	is_str(err.qmp_class, "DeviceNotFound", "set_qmp: class (NULL leaves the other alone)");
	cp_error_copy(&copy, &err);
	ok(!memcmp(&copy, &err, sizeof(err)), "copy");
	cp_error_copy(&err, &err);
	is_str(err.command, "device_del", "copy onto itself is harmless");
	cp_error_set_qmp(&err, "a-command-name-longer-than-the-sixty-four-bytes-of-the-field-xxxxx",
			 NULL);
	is_int((long long)strlen(err.command), (long long)sizeof(err.command) - 1,
	       "set_qmp: long command truncated");

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cp_error_set(&err, CP_ERR_PROTOCOL, "%s", big);
	is_int((long long)strlen(err.msg), CP_ERROR_MSG_MAX - 1, "set: long message truncated");
	cp_error_set(&err, CP_ERR_PROTOCOL, "root");
	cp_error_prefix(&err, "%s", big);
	is_int((long long)strlen(err.msg), CP_ERROR_MSG_MAX - 1, "prefix: long context truncated");
	cp_error_set(&err, CP_ERR_PROTOCOL, "%s", big);
	cp_error_prefix(&err, "ctx");
	ok(!strncmp(err.msg, "ctx: xxx", 8) && strlen(err.msg) == CP_ERROR_MSG_MAX - 1,
	   "prefix: onto a long message keeps the context, truncates the tail");
	cp_error_clear(&err);
	ok(err.code == CP_ERR_NONE && !err.msg[0], "clear");
}

/**
 * test_names() - every code has a distinct name
 */
static void test_names(void)
{
	int i, j;
	bool distinct = true;

	for (i = CP_ERR_NONE; i <= CP_ERR_NOMEM; i++)
		for (j = i + 1; j <= CP_ERR_NOMEM; j++)
			if (!strcmp(cp_error_code_name(i), cp_error_code_name(j)))
				distinct = false;
	ok(distinct, "code names are distinct");
	is_str(cp_error_code_name(CP_ERR_TIMEOUT), "timeout", "code name");
	is_str(cp_error_code_name((enum cp_error_code)99), "unknown", "out-of-range code name");
}

/**
 * main() - run the checks
 *
 * Return: TAP exit status
 */
int main(void)
{
	test_set();
	test_prefix();
	test_names();
	return done_testing();
}

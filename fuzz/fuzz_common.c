/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Checks shared by the fuzz targets: a classified message must carry every
 * field its kind promises, pointing into the message.
 */
#include <string.h>

#include "coldplug/qmp.h"
#include "fuzz.h"
#include "fuzz_common.h"

/**
 * fuzz_check_classified() - classify @msg and check the result's invariants
 * @msg:	a parsed JSON value (borrowed)
 *
 * Return: 0 if classified, -1 if rejected (with a message and a code)
 */
int fuzz_check_classified(cp_json *msg)
{
	struct cp_error err = { 0 };
	struct qmp_event_match any = { .event = "DEVICE_DELETED", .key = "device", .value = "x" };
	struct qmp_msg m;

	if (qmp_msg_classify(msg, &m, &err) < 0) {
		FUZZ_CHECK(err.code == CP_ERR_PROTOCOL && err.msg[0]);
		return -1;
	}
	FUZZ_CHECK(m.json == msg && cp_json_is_object(msg));
	switch (m.kind) {
	case QMP_MSG_GREETING:
		FUZZ_CHECK(cp_json_is_array(m.caps) && m.package);
		FUZZ_CHECK(m.ver_major >= 0 && m.ver_minor >= 0 && m.ver_micro >= 0);
		break;
	case QMP_MSG_EVENT:
		FUZZ_CHECK(m.event && m.event[0] && (!m.data || cp_json_is_object(m.data)));
		qmp_event_matches(msg, &any);
		break;
	case QMP_MSG_RETURN:
		FUZZ_CHECK(m.data && !cp_json_get(msg, "error"));
		break;
	case QMP_MSG_ERROR:
		FUZZ_CHECK(m.err_class && m.err_desc && !cp_json_get(msg, "return"));
		break;
	}
	FUZZ_CHECK(strcmp(qmp_msg_kind_name(m.kind), "?") != 0);
	return 0;
}

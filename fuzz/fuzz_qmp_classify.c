/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz target: parse the input as one JSON document (cp_json_parse, strict,
 * with its caps), then classify it as QMP greeting / event / reply and check
 * that the result carries every field its kind promises.
 */
#include "coldplug/cleanup.h"
#include "coldplug/json.h"
#include "fuzz.h"
#include "fuzz_common.h"

/**
 * LLVMFuzzerTestOneInput() - one input
 * @data:	the bytes
 * @size:	their count
 *
 * Return: 0 (libFuzzer's convention)
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cp_error err = { 0 };
	cleanup_json cp_json *v = cp_json_parse((const char *)data, size, &err);

	if (!v) {
		FUZZ_CHECK(err.code == CP_ERR_INVALID || err.code == CP_ERR_NOMEM);
		return 0;
	}
	fuzz_check_classified(v);
	return 0;
}

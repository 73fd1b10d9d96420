/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz target: coldplug incus-profile --check on a user's file (YAML, then
 * raw.qemu.conf in Incus's override syntax).
 */
#include <string.h>

#include "coldplug/incus_profile.h"
#include "fuzz.h"

/**
 * LLVMFuzzerTestOneInput() - one input, as a profile
 * @data:	the bytes
 * @size:	their count
 *
 * Return: 0
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct incus_profile_report rep;
	struct cp_error err;

	if (incus_profile_check((const char *)data, size, NULL, &rep, &err) < 0)
		FUZZ_CHECK(err.code == CP_ERR_INVALID || err.code == CP_ERR_NOMEM);
	FUZZ_CHECK(memchr(rep.socket, '\0', sizeof(rep.socket)) != NULL);
	FUZZ_CHECK(memchr(rep.warnings, '\0', sizeof(rep.warnings)) != NULL);
	return 0;
}

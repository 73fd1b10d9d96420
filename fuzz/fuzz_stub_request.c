/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz target: the request the Incus scriptlet stub sends the daemon (it
 * comes from the VM's side of the monitor). Parsed or refused, never more.
 */
#include <stdlib.h>
#include <string.h>

#include "coldplug/stub.h"
#include "fuzz.h"

/**
 * LLVMFuzzerTestOneInput() - one input, as the request text
 * @data:	the bytes
 * @size:	their count
 *
 * Return: 0
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct stub_request r;
	struct cp_error err;
	size_t i;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (stub_request_parse(text, &r, &err) == 0) {
		FUZZ_CHECK(r.ntaps <= STUB_MAX_TAPS);
		for (i = 0; i < r.ntaps; i++)
			FUZZ_CHECK(strlen(r.taps[i].ifname) >= 1 && strlen(r.taps[i].ifname) <= 15);
	} else {
		FUZZ_CHECK(err.code == CP_ERR_INVALID || err.code == CP_ERR_NOMEM);
	}
	free(text);
	return 0;
}

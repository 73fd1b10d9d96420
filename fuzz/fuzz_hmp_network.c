/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz target: the HMP "info network" parser. QEMU's text is not a stable
 * interface; whatever it prints must give clients with bounded fields, not
 * a crash.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hmp_network.h"

/**
 * LLVMFuzzerTestOneInput() - one input, as the text of "info network"
 * @data:	the bytes
 * @size:	their count
 *
 * Return: 0
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct hmp_network net;
	size_t i;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (hmp_network_parse(text, &net, NULL) == 0) {
		for (i = 0; i < net.n; i++) {
			FUZZ_CHECK(strlen(net.clients[i].name) > 0);
			FUZZ_CHECK(memchr(net.clients[i].name, ' ', strlen(net.clients[i].name)) ==
				   NULL);
			FUZZ_CHECK(net.clients[i].fd >= -1);
			FUZZ_CHECK(net.clients[i].index >= 0);
		}
		hmp_network_free(&net);
	}
	free(text);
	return 0;
}

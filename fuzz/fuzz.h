/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What every fuzz target defines (libFuzzer's entry point), and the check
 * the targets use for their invariants: a broken one is a finding, so it
 * aborts, and libFuzzer (or the corpus replay) reports the input.
 */
#ifndef COLDPLUG_FUZZ_H
#define COLDPLUG_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Statement-safe: one do-while. */
#define FUZZ_CHECK(expr)                                                                           \
	do {                                                                                       \
		if (!(expr)) {                                                                     \
			fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", #expr, __FILE__,    \
				__LINE__);                                                         \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#endif /* COLDPLUG_FUZZ_H */

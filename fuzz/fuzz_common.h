/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Checks shared by the fuzz targets (fuzz_common.c). */
#ifndef COLDPLUG_FUZZ_COMMON_H
#define COLDPLUG_FUZZ_COMMON_H

#include "qmp_stream.h"

int fuzz_check_classified(cp_json *msg);

#endif /* COLDPLUG_FUZZ_COMMON_H */

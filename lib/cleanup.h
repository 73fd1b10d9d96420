/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The cleanup helpers are public (coldplug/cleanup.h): the programs use them
 * too. This name stays for the library's many files that include it.
 */
#ifndef COLDPLUG_LIB_CLEANUP_H
#define COLDPLUG_LIB_CLEANUP_H

#include "coldplug/cleanup.h"

#endif /* COLDPLUG_LIB_CLEANUP_H */

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What every benchmark's report shares: when a run started and on what
 * machine, the JSON results it writes and reads back, and the markdown file
 * it writes from them (both through a temporary file, so a failed run
 * leaves the old one).
 */
#ifndef COLDPLUG_BENCH_REPORT_H
#define COLDPLUG_BENCH_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "coldplug/error.h"
#include "coldplug/json.h"

typedef void (*bench_header_fn)(FILE *f, char *const *inputs, size_t n);
typedef void (*bench_print_fn)(FILE *f, const cp_json *doc);

void bench_run_begin(char *started, size_t started_size, char *load, size_t load_size);
cp_json *bench_machine_json(const char *load_start);
int64_t bench_num(const cp_json *o, const char *key);
int bench_write_json(const cp_json *doc, const char *path, struct cp_error *err);
int bench_markdown(const char *out, char *const *inputs, size_t n, const char *key,
		   const char *tool, bench_header_fn header, bench_print_fn print,
		   struct cp_error *err);

#endif /* COLDPLUG_BENCH_REPORT_H */

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Small helpers every part of the lab uses: run a short command (ip,
 * qemu-img, ping, cptraffic) to completion with a deadline and its output
 * collected, optionally inside a network namespace; a private scratch
 * directory; whole-file reads and writes.
 */
#ifndef COLDPLUG_LAB_RUN_H
#define COLDPLUG_LAB_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coldplug/error.h"

/**
 * struct lab_run_opts - how to run a command with lab_run()
 * @netns:	path of a network namespace to run it in (/run/netns/NAME),
 *		or NULL for ours
 * @timeout_ms:	deadline; past it the command is stopped (SIGTERM, then
 *		SIGKILL) and lab_run() fails with CP_ERR_TIMEOUT
 * @log_dir:	directory for the command's output file, or NULL for /tmp
 */
struct lab_run_opts {
	const char *netns;
	int timeout_ms;
	const char *log_dir;
};

int lab_run(const char *const argv[], const struct lab_run_opts *o, char **output,
	    struct cp_error *err);
int lab_run_ok(const char *const argv[], const struct lab_run_opts *o, struct cp_error *err);
const char *lab_tool(const char *name);
char *lab_scratch_dir(const char *tag, struct cp_error *err);
int lab_remove_tree(const char *path);
char *lab_read_file(const char *path, size_t max, struct cp_error *err);
int lab_write_file(const char *path, const char *text, struct cp_error *err);
int lab_sleep_ms(int ms);
unsigned long lab_num(const char *s);
size_t lab_num_list(const char *s, unsigned *out, size_t max);
bool lab_fmt(char *buf, size_t size, const char *fmt, ...) CP_PRINTF(3, 4);

#endif /* COLDPLUG_LAB_RUN_H */

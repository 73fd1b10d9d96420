/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What bench-nic and bench-disk share about a running VM: its scratch
 * directory, the lab's Incus emulator, and its guest's console and report.
 */
#ifndef COLDPLUG_BENCH_VM_H
#define COLDPLUG_BENCH_VM_H

#include <stddef.h>

struct lab_incus;
struct lab_guest;
struct lab_guest_report;

/* bench_vm_report(): the guest never reported (the caller retries once). */
#define BENCH_VM_NO_REPORT (-2)

/**
 * struct bench_vm - one VM
 * @dir:	its scratch directory (logs, coldplug's -readconfig file), or NULL
 * @vm:		the emulator, or NULL
 * @g:		its guest's console, or NULL
 * @rep:	the guest's report, or NULL
 */
struct bench_vm {
	char *dir;
	struct lab_incus *vm;
	struct lab_guest *g;
	struct lab_guest_report *rep;
};

void bench_vm_stop(struct bench_vm *s);
int bench_vm_report(struct bench_vm *s, char *why, size_t size);

#endif /* COLDPLUG_BENCH_VM_H */

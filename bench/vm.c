/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A benchmark's running VM (vm.h): its guest's report awaited, and the VM
 * stopped with everything it held.
 */
#include <stdlib.h>
#include <string.h>

#include "guest.h"
#include "incus.h"
#include "run.h"
#include "util.h"
#include "vm.h"

/* A TCG boot of the lab's guest takes 20-60 s on this machine. */
#define REPORT_TIMEOUT_MS 120000

/**
 * bench_vm_stop() - stop a VM and free what it held
 * @s:		the VM (emptied; an empty one is left as it is)
 */
void bench_vm_stop(struct bench_vm *s)
{
	lab_guest_report_free(s->rep);
	lab_guest_free(s->g);
	lab_incus_free(s->vm);
	if (s->dir)
		lab_remove_tree(s->dir);
	free(s->dir);
	memset(s, 0, sizeof(*s));
}

/**
 * bench_vm_report() - wait for the guest's report of a started VM
 * @s:		the VM, @s->vm started (@s->g and @s->rep filled)
 * @why:	set to why the guest never reported (for the retry note)
 * @size:	its size
 *
 * Return: 0, or BENCH_VM_NO_REPORT with the VM stopped (a known TCG abort,
 * qemu-notes §9, or a boot that hung: the caller starts it once more)
 */
int bench_vm_report(struct bench_vm *s, char *why, size_t size)
{
	struct cp_error err = { 0 };

	if ((s->g = lab_guest_new(s->vm, &err)) &&
	    lab_guest_read_report(s->g, REPORT_TIMEOUT_MS, &s->rep, &err) == 0)
		return 0;
	lab_fmt(why, size, "the guest never reported (%s): %s",
		lab_incus_tcg_abort(s->vm) ? "QEMU aborted under TCG, qemu-notes §9"
					   : "a TCG boot hang",
		err.msg);
	bench_vm_stop(s);
	return BENCH_VM_NO_REPORT;
}

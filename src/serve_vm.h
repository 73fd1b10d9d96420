/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One VM served by coldplug serve (serve_vm.c), for the daemon's loop
 * (serve.c): its states are in serve.h. A VM knows the options it is given
 * here, not the daemon.
 */
#ifndef COLDPLUG_SERVE_VM_H
#define COLDPLUG_SERVE_VM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "coldplug/error.h"
#include "coldplug/rehome.h"

/**
 * struct vm_opts - what a VM needs of the daemon's configuration
 * @rehome:	pipeline defaults (the stub's request can override the NIC
 *		frontend); borrowed, must outlive the VM
 * @poll_ms:	how often to look for the stub's request
 * @watch_ms:	how often to look for a detach (query-fdsets)
 * @identify_ms: deadline for a new connection to say which VM it is
 * @trace:	log every QMP message
 */
struct vm_opts {
	const struct rehome_opts *rehome;
	int poll_ms;
	int watch_ms;
	int identify_ms;
	bool trace;
};

struct vm;

struct vm *vm_new(const struct vm_opts *o, int fd, struct cp_error *err);
void vm_free(struct vm *vm);
int vm_fd(const struct vm *vm);
pid_t vm_pid(const struct vm *vm);
bool vm_live(struct vm *vm);
bool vm_dead(const struct vm *vm);
void vm_readable(struct vm *vm);
bool vm_wants_write(const struct vm *vm);
void vm_writable(struct vm *vm);
void vm_timers(struct vm *vm, int64_t now);
int vm_helper_fd(const struct vm *vm, uint64_t *gen);
void vm_helper_ready(struct vm *vm);
int64_t vm_next_deadline(const struct vm *vm);
const char *vm_name(const struct vm *vm);
void vm_link_gone(struct vm *vm, int ifindex);
void vm_links_recheck(struct vm *vm);

#endif /* COLDPLUG_SERVE_VM_H */

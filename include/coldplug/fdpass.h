/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unix socket primitives in one place: sending bytes with file descriptors
 * attached (SCM_RIGHTS, in the same sendmsg() as the bytes, which is how QMP
 * getfd / add-fd find them), receiving them, and peer credentials.
 */
#ifndef COLDPLUG_FDPASS_H
#define COLDPLUG_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

#include "coldplug/error.h"

#define FDPASS_MAX_FDS 16

/**
 * struct fdpass_cred - who is at the other end of a unix socket
 * @pid:	process id (the QEMU process, for a QMP socket)
 * @uid:	user id
 * @gid:	group id
 */
struct fdpass_cred {
	pid_t pid;
	uid_t uid;
	gid_t gid;
};

long fdpass_send(int sock, const void *buf, size_t len, const int *fds, size_t nfds,
		 struct cp_error *err);
long fdpass_recv(int sock, void *buf, size_t len, int *fds, size_t *nfds, struct cp_error *err);
int fdpass_peer_cred(int sock, struct fdpass_cred *cred, struct cp_error *err);

#endif /* COLDPLUG_FDPASS_H */

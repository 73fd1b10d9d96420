/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * SCM_RIGHTS and SO_PEERCRED: see fdpass.h.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coldplug/fdpass.h"
#include "util.h"

/**
 * fdpass_send() - send bytes, with descriptors attached to the first byte
 * @sock:	connected unix stream socket
 * @buf:	bytes
 * @len:	their count (> 0: SCM_RIGHTS needs at least one byte)
 * @fds:	descriptors to pass, or NULL
 * @nfds:	their count, at most FDPASS_MAX_FDS
 * @err:	filled on failure
 *
 * One sendmsg(), retried on EINTR only. A short count means the rest must be
 * sent with fdpass_send(..., NULL, 0): the descriptors went with the first
 * byte. MSG_NOSIGNAL: a closed peer is an error, not a SIGPIPE.
 *
 * Return: bytes sent (> 0), 0 if the socket would block (nothing was sent),
 * or -1
 */
long fdpass_send(int sock, const void *buf, size_t len, const int *fds, size_t nfds,
		 struct cp_error *err)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * FDPASS_MAX_FDS)];
		struct cmsghdr align;
	} ctrl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	ssize_t n;

	if (nfds > FDPASS_MAX_FDS || (nfds && !len))
		return cp_error_set(err, CP_ERR_INVALID, "cannot pass %zu descriptors", nfds);
	if (nfds) {
		memset(&ctrl, 0, sizeof(ctrl));
		mh.msg_control = ctrl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	do {
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n < 0)
		return cp_error_set_errno(err, errno, "send");
	return (long)n;
}

/**
 * collect_fds() - take the descriptors out of a received control message
 * @mh:		the received message header
 * @fds:	array for descriptors, or NULL to close them all
 * @nfds:	in: capacity of @fds; out: descriptors stored
 *
 * Descriptors beyond the capacity are closed, so none leak.
 */
static void collect_fds(struct msghdr *mh, int *fds, size_t *nfds)
{
	size_t cap = (fds && nfds) ? *nfds : 0, got = 0;
	struct cmsghdr *cm;

	for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		size_t i, n;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (got < cap)
				fds[got++] = fd;
			else
				close(fd);
		}
	}
	if (nfds)
		*nfds = got;
}

/**
 * fdpass_recv() - receive bytes and any descriptors that came with them
 * @sock:	connected unix stream socket
 * @buf:	buffer
 * @len:	its size
 * @fds:	array for received descriptors (caller closes them), or NULL
 * @nfds:	in: capacity of @fds; out: number received (NULL: close them all)
 * @err:	filled on failure
 *
 * MSG_CMSG_CLOEXEC: received descriptors never leak into children.
 *
 * Return: bytes received, 0 at end of stream, -2 if it would block, or -1
 */
long fdpass_recv(int sock, void *buf, size_t len, int *fds, size_t *nfds, struct cp_error *err)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * FDPASS_MAX_FDS)];
		struct cmsghdr align;
	} ctrl;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	mh.msg_control = ctrl.buf;
	mh.msg_controllen = sizeof(ctrl.buf);
	do {
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return -2;
	if (n < 0)
		return cp_error_set_errno(err, errno, "receive");
	collect_fds(&mh, fds, nfds);
	return (long)n;
}

/**
 * fdpass_peer_cred() - credentials of the process at the other end
 * @sock:	connected unix socket
 * @cred:	filled on success
 * @err:	filled on failure
 *
 * The kernel records them at connect(); for a QMP socket that is QEMU.
 *
 * Return: 0, or -1
 */
int fdpass_peer_cred(int sock, struct fdpass_cred *cred, struct cp_error *err)
{
	struct ucred uc;
	socklen_t sl = sizeof(uc);

	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &uc, &sl) < 0)
		return cp_error_set_errno(err, errno, "SO_PEERCRED");
	cred->pid = uc.pid;
	cred->uid = uc.uid;
	cred->gid = uc.gid;
	return 0;
}

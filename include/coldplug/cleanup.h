/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Scope-bound cleanup, after bubblewrap's utils.h: every owned local is
 * declared at the top of its block with the attribute that releases it, and
 * ownership leaves the scope only through steal_pointer() / steal_fd(), so
 * early returns on error cannot leak.
 */
#ifndef COLDPLUG_CLEANUP_H
#define COLDPLUG_CLEANUP_H

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "coldplug/json.h"

/**
 * cleanup_freep() - free() the pointer that @p points to
 * @p:	address of a heap pointer (may hold NULL)
 */
static inline void cleanup_freep(void *p)
{
	void **pp = (void **)p;

	free(*pp);
}

/**
 * cleanup_closep() - close() the descriptor that @p points to, keeping errno
 * @p:	address of a descriptor (-1 means none)
 *
 * Never retries close() on EINTR: on Linux the descriptor is gone either way.
 */
static inline void cleanup_closep(int *p)
{
	int saved = errno;

	if (*p >= 0)
		close(*p);
	errno = saved;
}

/**
 * cleanup_jsonp() - drop the JSON reference that @p points to
 * @p:	address of a JSON value pointer (may hold NULL)
 */
static inline void cleanup_jsonp(cp_json **p)
{
	cp_json_unref(*p);
}

#define cleanup_free  __attribute__((cleanup(cleanup_freep)))
#define cleanup_close __attribute__((cleanup(cleanup_closep)))
#define cleanup_json  __attribute__((cleanup(cleanup_jsonp)))

/**
 * steal_pointer_impl() - return *@pp and set it to NULL
 * @pp:	address of a pointer
 */
static inline void *steal_pointer_impl(void *pp)
{
	void **ptr = (void **)pp;
	void *ret = *ptr;

	*ptr = NULL;
	return ret;
}

/* Type-checked: the result has the type of *pp. */
#define steal_pointer(pp) ((__typeof__(*(pp)))steal_pointer_impl(pp))

/**
 * steal_fd() - return *@fdp and set it to -1
 * @fdp:	address of a descriptor
 */
static inline int steal_fd(int *fdp)
{
	int fd = *fdp;

	*fdp = -1;
	return fd;
}

#endif /* COLDPLUG_CLEANUP_H */

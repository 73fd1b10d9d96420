/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The two digests the lab needs, without a crypto library: SHA-256 (Incus
 * hashes long device names into node names and serials with it, see
 * lab_incus_hash_value()) and MD5 (the test guest reports the md5 of the
 * first MiB of every disk, so a test computes the same on the host).
 */
#ifndef COLDPLUG_LAB_DIGEST_H
#define COLDPLUG_LAB_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include "coldplug/error.h"

#define LAB_SHA256_LEN 32
#define LAB_MD5_LEN    16

void lab_sha256(const void *data, size_t len, uint8_t out[LAB_SHA256_LEN]);
void lab_md5(const void *data, size_t len, uint8_t out[LAB_MD5_LEN]);
void lab_hex(const uint8_t *bin, size_t len, char *out);
void lab_base64url(const uint8_t *bin, size_t len, char *out, size_t size);
int lab_md5_file(const char *path, uint64_t length, char out[2 * LAB_MD5_LEN + 1],
		 struct cp_error *err);

#endif /* COLDPLUG_LAB_DIGEST_H */

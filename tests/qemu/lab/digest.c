/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * SHA-256 (FIPS 180-4) and MD5 (RFC 1321), one-shot over a buffer: see
 * digest.h. Small and slow on purpose; the lab hashes names and at most a
 * MiB of a disk image.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "digest.h"

#define ROR32(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define ROL32(x, n) (((x) << (n)) | ((x) >> (32 - (n))))

static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
};

/**
 * sha256_block() - fold one 64-byte block into the state
 * @h:	the eight state words
 * @p:	the block
 */
static void sha256_block(uint32_t h[8], const uint8_t *p)
{
	uint32_t w[64], v[8], t1, t2;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * (size_t)i] << 24 | (uint32_t)p[4 * (size_t)i + 1] << 16 |
		       (uint32_t)p[4 * (size_t)i + 2] << 8 | p[4 * (size_t)i + 3];
	for (; i < 64; i++)
		w[i] = w[i - 16] + (ROR32(w[i - 15], 7) ^ ROR32(w[i - 15], 18) ^ (w[i - 15] >> 3)) +
		       w[i - 7] + (ROR32(w[i - 2], 17) ^ ROR32(w[i - 2], 19) ^ (w[i - 2] >> 10));
	memcpy(v, h, sizeof(v));
	for (i = 0; i < 64; i++) {
		t1 = v[7] + (ROR32(v[4], 6) ^ ROR32(v[4], 11) ^ ROR32(v[4], 25)) +
		     ((v[4] & v[5]) ^ (~v[4] & v[6])) + sha256_k[i] + w[i];
		t2 = (ROR32(v[0], 2) ^ ROR32(v[0], 13) ^ ROR32(v[0], 22)) +
		     ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
		memmove(&v[1], &v[0], 7 * sizeof(v[0]));
		v[4] += t1;
		v[0] = t1 + t2;
	}
	for (i = 0; i < 8; i++)
		h[i] += v[i];
}

/**
 * pad_blocks() - run @fn over @data plus Merkle-Damgard padding
 * @data:	message
 * @len:	its length
 * @big:	length field big-endian (SHA-256) or little-endian (MD5)
 * @fn:		block function
 * @h:		state passed to @fn
 */
static void pad_blocks(const uint8_t *data, size_t len, int big,
		       void (*fn)(uint32_t *, const uint8_t *), uint32_t *h)
{
	uint64_t bits = (uint64_t)len * 8;
	uint8_t tail[128] = { 0 };
	size_t full = len / 64 * 64, rest = len - full, n, i;

	for (i = 0; i < full; i += 64)
		fn(h, data + i);
	memcpy(tail, data + full, rest);
	tail[rest] = 0x80;
	n = rest + 1 + 8 <= 64 ? 64 : 128;
	for (i = 0; i < 8; i++)
		tail[n - 8 + i] = (uint8_t)(big ? bits >> (56 - 8 * i) : bits >> (8 * i));
	for (i = 0; i < n; i += 64)
		fn(h, tail + i);
}

/**
 * lab_sha256() - SHA-256 of a buffer
 * @data:	bytes
 * @len:	their count
 * @out:	the 32-byte digest
 */
void lab_sha256(const void *data, size_t len, uint8_t out[LAB_SHA256_LEN])
{
	uint32_t h[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
			  0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
	int i;

	pad_blocks(data, len, 1, sha256_block, h);
	for (i = 0; i < 32; i++)
		out[i] = (uint8_t)(h[i / 4] >> (24 - 8 * (i % 4)));
}

static const uint32_t md5_k[64] = {
	0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
	0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
	0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
	0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
	0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
	0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
	0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
	0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
	0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
	0xeb86d391,
};

static const uint8_t md5_r[64] = { 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
				   5, 9,  14, 20, 5, 9,	 14, 20, 5, 9,	14, 20, 5, 9,  14, 20,
				   4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
				   6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21 };

/**
 * md5_block() - fold one 64-byte block into the state
 * @h:	the four state words
 * @p:	the block
 */
static void md5_block(uint32_t h[4], const uint8_t *p)
{
	uint32_t w[16], a = h[0], b = h[1], c = h[2], d = h[3], f, t;
	int i, g;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * (size_t)i] | (uint32_t)p[4 * (size_t)i + 1] << 8 |
		       (uint32_t)p[4 * (size_t)i + 2] << 16 | (uint32_t)p[4 * (size_t)i + 3] << 24;
	for (i = 0; i < 64; i++) {
		if (i < 16) {
			f = (b & c) | (~b & d);
			g = i;
		} else if (i < 32) {
			f = (d & b) | (~d & c);
			g = (5 * i + 1) % 16;
		} else if (i < 48) {
			f = b ^ c ^ d;
			g = (3 * i + 5) % 16;
		} else {
			f = c ^ (b | ~d);
			g = (7 * i) % 16;
		}
		t = d;
		d = c;
		c = b;
		b = b + ROL32(a + f + md5_k[i] + w[g], md5_r[i]);
		a = t;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
}

/**
 * lab_md5() - MD5 of a buffer
 * @data:	bytes
 * @len:	their count
 * @out:	the 16-byte digest
 */
void lab_md5(const void *data, size_t len, uint8_t out[LAB_MD5_LEN])
{
	uint32_t h[4] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476 };
	int i;

	pad_blocks(data, len, 0, md5_block, h);
	for (i = 0; i < 16; i++)
		out[i] = (uint8_t)(h[i / 4] >> (8 * (i % 4)));
}

/**
 * lab_hex() - lower-case hex of @len bytes
 * @bin:	bytes
 * @len:	their count
 * @out:	at least 2 * @len + 1 bytes
 */
void lab_hex(const uint8_t *bin, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[bin[i] >> 4];
		out[2 * i + 1] = digits[bin[i] & 15];
	}
	out[2 * len] = '\0';
}

/**
 * lab_base64url() - unpadded base64url (Go's base64.RawURLEncoding)
 * @bin:	bytes
 * @len:	their count
 * @out:	output, truncated to @size - 1 characters
 * @size:	size of @out
 */
void lab_base64url(const uint8_t *bin, size_t len, char *out, size_t size)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t i, o = 0, nbits = (len * 8 + 5) / 6;

	for (i = 0; i < nbits && o + 1 < size; i++) {
		size_t bit = i * 6, byte = bit / 8, shift = bit % 8;
		unsigned v = (unsigned)bin[byte] << 8 | (byte + 1 < len ? bin[byte + 1] : 0);

		out[o++] = tab[(v >> (10 - shift)) & 63];
	}
	if (size)
		out[o] = '\0';
}

/**
 * lab_md5_file() - md5 of the first @length bytes of a file (fewer if shorter)
 * @path:	file
 * @length:	how many bytes (the guest reports min(size, 1 MiB))
 * @out:	hex digest
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
int lab_md5_file(const char *path, uint64_t length, char out[2 * LAB_MD5_LEN + 1],
		 struct cp_error *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	cleanup_free uint8_t *buf = NULL;
	uint8_t dig[LAB_MD5_LEN];
	size_t got = 0;

	if (fd < 0)
		return cp_error_set_errno(err, errno, "open %s", path);
	buf = malloc(length ? length : 1);
	if (!buf)
		return cp_error_set(err, CP_ERR_NOMEM, "out of memory");
	while (got < length) {
		ssize_t n = read(fd, buf + got, length - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cp_error_set_errno(err, errno, "read %s", path);
		if (n == 0)
			break;
		got += (size_t)n;
	}
	lab_md5(buf, got, dig);
	lab_hex(dig, sizeof(dig), out);
	return 0;
}

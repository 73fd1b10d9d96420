/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Per-queue packet counters of a guest NIC: the `cptraffic queues` line
 * parsed, two readings subtracted, and the shares. See queues.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queues.h"

/* Chance above which "a queue got no flow" is too likely to assert against. */
#define ALL_QUEUES_MAX_MISS 1e-3

/**
 * value_end() - whether @c ends a value: a space, the line's end, the text's
 * @c:	the character after it
 *
 * Return: true if it does
 */
static bool value_end(char c)
{
	return c == ' ' || c == '\r' || c == '\n' || !c;
}

/**
 * parse_list() - "12,0,7" (or "-": none) into @v
 * @s:		the value, up to value_end()
 * @v:		LAB_QUEUES_MAX entries, filled
 * @n:		set to the count
 *
 * Return: 0, or -1 on anything but decimals separated by commas
 */
static int parse_list(const char *s, uint64_t *v, unsigned *n)
{
	char *end;

	*n = 0;
	if (s[0] == '-' && value_end(s[1]))
		return 0;
	for (;;) {
		if (*s < '0' || *s > '9' || *n == LAB_QUEUES_MAX)
			return -1;
		v[(*n)++] = strtoull(s, &end, 10);
		if (*end != ',')
			return value_end(*end) ? 0 : -1;
		s = end + 1;
	}
}

/**
 * parse_uint() - one decimal up to value_end()
 * @s:		the value
 * @out:	set
 *
 * Return: 0, or -1
 */
static int parse_uint(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtoul(s, &end, 10);
	if (!value_end(*end) || v > LAB_QUEUES_MAX)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/**
 * parse_pair() - one key=value of the queues line
 * @key:	the key (not NUL-terminated)
 * @klen:	its length
 * @v:		the value, up to value_end()
 * @out:	the field filled
 * @nrx:	set to rx='s count
 * @ntx:	set to tx='s count
 *
 * Return: the bit of a required key (max 1, combined 2, rx 4, tx 8), 0 for
 * was= and unknown keys, -1 for a bad value
 */
static int parse_pair(const char *key, size_t klen, const char *v, struct lab_queues *out,
		      unsigned *nrx, unsigned *ntx)
{
	if (klen == 3 && !strncmp(key, "max", 3))
		return parse_uint(v, &out->max) < 0 ? -1 : 1;
	if (klen == 8 && !strncmp(key, "combined", 8))
		return parse_uint(v, &out->combined) < 0 ? -1 : 2;
	if (klen == 3 && !strncmp(key, "was", 3))
		return parse_uint(v, &out->was) < 0 ? -1 : 0;
	if (klen == 2 && !strncmp(key, "rx", 2))
		return parse_list(v, out->rx, nrx) < 0 ? -1 : 4;
	if (klen == 2 && !strncmp(key, "tx", 2))
		return parse_list(v, out->tx, ntx) < 0 ? -1 : 8;
	return 0;
}

/**
 * lab_queues_parse() - the "queues ..." line of `cptraffic queues`
 * @text:	the command's output (other lines are skipped)
 * @out:	filled
 * @err:	filled on failure
 *
 * Needs max=, combined=, rx= and tx= (was= is optional); rx and tx must list
 * as many queues. Unknown keys are ignored, as the guest's README asks.
 *
 * Return: 0, or -1
 */
int lab_queues_parse(const char *text, struct lab_queues *out, struct cp_error *err)
{
	const char *line = text, *p;
	unsigned nrx = 0, ntx = 0, seen = 0;
	int bit = 0;

	while (line && strncmp(line, "queues ", 7) != 0) {
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
	if (!line)
		return cp_error_set(err, CP_ERR_PROTOCOL, "no queues line in: %.200s",
				    text ? text : "");
	memset(out, 0, sizeof(*out));
	for (p = line + 7; *p && *p != '\n' && *p != '\r' && bit >= 0;) {
		size_t klen = strcspn(p, "= \r\n");

		bit = p[klen] == '=' ? parse_pair(p, klen, p + klen + 1, out, &nrx, &ntx) : -1;
		seen |= bit > 0 ? (unsigned)bit : 0;
		p += strcspn(p, " \r\n");
		p += *p == ' ';
	}
	if (bit < 0 || seen != 15 || nrx != ntx)
		return cp_error_set(err, CP_ERR_PROTOCOL, "bad queues line: %.*s",
				    (int)strcspn(line, "\r\n"), line);
	out->n = nrx;
	return 0;
}

/**
 * lab_queues_delta() - what each queue carried between two readings
 * @before:	the first reading
 * @after:	the second
 * @out:	@after's channels, its counters minus @before's
 * @err:	filled on failure
 *
 * Return: 0, or -1 when the queues changed in between or a counter went
 * back (the driver resets its counters when the channels change)
 */
int lab_queues_delta(const struct lab_queues *before, const struct lab_queues *after,
		     struct lab_queues *out, struct cp_error *err)
{
	unsigned q;

	if (before->n != after->n)
		return cp_error_set(err, CP_ERR_FAILED, "the NIC's queues changed from %u to %u",
				    before->n, after->n);
	*out = *after;
	for (q = 0; q < after->n; q++) {
		if (after->rx[q] < before->rx[q] || after->tx[q] < before->tx[q])
			return cp_error_set(err, CP_ERR_FAILED,
					    "queue %u's counters went back (rx %" PRIu64
					    " -> %" PRIu64 ", tx %" PRIu64 " -> %" PRIu64 ")",
					    q, before->rx[q], after->rx[q], before->tx[q],
					    after->tx[q]);
		out->rx[q] = after->rx[q] - before->rx[q];
		out->tx[q] = after->tx[q] - before->tx[q];
	}
	return 0;
}

/**
 * lab_queues_carrying() - how many queues carried at least @min packets
 * @v:		per-queue packets (a delta)
 * @n:		queues
 * @min:	the least that counts as carrying (>= 1)
 *
 * Return: the count
 */
unsigned lab_queues_carrying(const uint64_t *v, unsigned n, uint64_t min)
{
	unsigned q, c = 0;

	for (q = 0; q < n; q++)
		c += v[q] >= (min ? min : 1);
	return c;
}

/**
 * lab_queues_split() - each queue's share of the packets, "51 % / 49 %"
 * @v:		per-queue packets (a delta)
 * @n:		queues
 * @buf:	filled ("-" with no queue or no packet)
 * @size:	its size
 *
 * Shares are rounded to whole percents, so they need not add up to 100.
 *
 * Return: strlen(@buf)
 */
size_t lab_queues_split(const uint64_t *v, unsigned n, char *buf, size_t size)
{
	uint64_t total = 0;
	size_t len = 0;
	unsigned q;

	for (q = 0; q < n; q++)
		total += v[q];
	if (!size)
		return 0;
	buf[0] = '\0';
	if (!total)
		return (size_t)snprintf(buf, size, "-");
	for (q = 0; q < n && len < size; q++) {
		int w = snprintf(buf + len, size - len, "%s%" PRIu64 " %%", q ? " / " : "",
				 (v[q] * 100 + total / 2) / total);

		len += w > 0 ? (size_t)w : 0;
	}
	return len < size ? len : size - 1;
}

/**
 * lab_queues_all_likely() - whether @flows flows all but surely reach every
 * one of @queues queues
 * @queues:	the tap's queues
 * @flows:	distinct flows sent to it
 *
 * A multi-queue tap puts a flow nobody answered on queue hash * n >> 32
 * (tun_automq_select_queue()): for a test, each flow on a queue drawn at
 * random. Some queue gets none with a chance below queues * (1 - 1/queues)
 * ^ flows (the union bound): 3e-5 for 16 flows on 2 queues, but 0.04 on 4
 * and 0.9 on 8 queues. Only where it is below 1e-3 may a test assert that
 * every queue carried traffic.
 *
 * Return: true if a queue without traffic is a fault, not chance
 */
bool lab_queues_all_likely(unsigned queues, unsigned flows)
{
	double miss = queues;
	unsigned f;

	if (queues <= 1)
		return true;
	for (f = 0; f < flows && miss >= ALL_QUEUES_MAX_MISS; f++)
		miss *= 1.0 - 1.0 / queues;
	return miss < ALL_QUEUES_MAX_MISS;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Traffic between the test network's peer namespace (the "host" side) and
 * the guest: ping, UDP streams, TCP throughput and TCP connection attempts,
 * each bounded in count and time, with the result parsed into numbers. See
 * guest.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coldplug/cleanup.h"
#include "coldplug/json.h"
#include "guest.h"
#include "netns.h"
#include "proc.h"
#include "queues.h"
#include "run.h"
#include "util.h"

#define UDP_PORT       5001
#define SETTLE_MS      2000
#define CTL_TIMEOUT_MS 60000

/**
 * loss_finish() - fill @lost and @loss_pct from @sent and @received
 * @l:	result
 */
static void loss_finish(struct lab_loss *l)
{
	l->lost = l->received < l->sent ? l->sent - l->received : 0;
	l->loss_pct = l->sent ? 100.0 * (double)l->lost / (double)l->sent : 0.0;
}

/**
 * lab_ping() - ping the guest from the peer namespace
 * @net:	network
 * @ip:		guest address
 * @count:	echo requests (1..100000)
 * @interval_ms: between requests (>= 1)
 * @out:	filled (one flow)
 * @err:	filled on failure
 *
 * Bounded: count * interval + 15 s.
 *
 * Return: 0, or -1
 */
int lab_ping(const struct lab_net *net, const char *ip, unsigned count, unsigned interval_ms,
	     struct lab_loss *out, struct cp_error *err)
{
	char c[16], i[16];
	const char *argv[] = {
		lab_tool("ping"), "-n", "-q", "-c", c, "-i", i, "-W", "2", ip, NULL
	};
	cleanup_free char *text = NULL;
	const char *p;
	unsigned long long tx = 0, rx = 0;
	int rc;

	if (!count || count > 100000 || !interval_ms)
		return cp_error_set(err, CP_ERR_INVALID, "ping: bad count or interval");
	lab_fmt(c, sizeof(c), "%u", count);
	lab_fmt(i, sizeof(i), "%u.%03u", interval_ms / 1000, interval_ms % 1000);
	rc = lab_net_run(net, LAB_NET_PEER, argv,
			 (int)((unsigned long long)count * interval_ms + 15000), &text, err);
	if (rc < 0)
		return -1;
	p = text ? strstr(text, " packets transmitted, ") : NULL;
	while (p && p > text && p[-1] != '\n')
		p--;
	if (!p || !strstr(p, " packets transmitted, "))
		return cp_error_set(err, CP_ERR_FAILED, "ping failed (%d): %s", rc,
				    text ? text : "");
	tx = lab_num(p);
	rx = lab_num(strstr(p, " packets transmitted, ") + strlen(" packets transmitted, "));
	memset(out, 0, sizeof(*out));
	out->sent = tx;
	out->received = rx;
	out->flows = 1;
	out->flows_complete = rx >= tx;
	loss_finish(out);
	return 0;
}

/**
 * guest_ctl() - a cptraffic control command run inside the guest
 * @g:		console
 * @cmd:	"reset" or "stats"
 * @err:	filled on failure
 *
 * Over the console and the guest's loopback, so it works however lossy
 * the network path is.
 *
 * Return: the reply line (caller frees), or NULL
 */
static char *guest_ctl(struct lab_guest *g, const char *cmd, struct cp_error *err)
{
	char line[128];
	char *out = NULL;

	lab_fmt(line, sizeof(line), "sh cptraffic ctl --to 127.0.0.1 %s", cmd);
	if (lab_guest_command(g, line, CTL_TIMEOUT_MS, &out, NULL, err) < 0)
		return NULL;
	return out;
}

/**
 * count_flows() - received packets of our flows from a stats reply
 * @stats:	{"udp_packets":N,"flows":{"IP:PORT":N,...},...}
 * @src:	our address (the peer's)
 * @flows:	flow count (ports 40000..)
 * @count:	packets sent in all (round-robin)
 * @out:	filled (received, flows_complete)
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int count_flows(const char *stats, const char *src, unsigned flows, unsigned count,
		       struct lab_loss *out, struct cp_error *err)
{
	cleanup_json cp_json *j = cp_json_parse(stats, strlen(stats), err);
	cp_json *f = j ? cp_json_get_object(j, "flows") : NULL;
	unsigned i;

	if (!f)
		return cp_error_set(err, CP_ERR_PROTOCOL, "bad stats from the guest: %s", stats);
	for (i = 0; i < flows; i++) {
		char key[64];
		int64_t n = 0;
		unsigned want = count / flows + (i < count % flows);

		lab_fmt(key, sizeof(key), "%s:%u", src, 40000 + i);
		cp_json_get_int(f, key, &n);
		out->received += (uint64_t)n;
		out->flows_complete += (uint64_t)n >= want;
	}
	return 0;
}

/**
 * peer_addr() - the peer's address in @ip's /24 (x.y.z.1)
 * @ip:		guest address
 * @buf:	output
 * @size:	its size
 *
 * Return: @buf
 */
static const char *peer_addr(const char *ip, char *buf, size_t size)
{
	char *dot;

	cp_strlcpy(buf, ip, size);
	dot = strrchr(buf, '.');
	if (dot && (size_t)(dot - buf) + 3 <= size)
		memcpy(dot, ".1", 3);
	return buf;
}

/**
 * udp_via_console() - our own sender, counted on the guest over the console
 * @net:	network
 * @g:		console
 * @ip:		guest address
 * @flows:	flows
 * @count:	packets
 * @rate:	packets per second
 * @out:	filled
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int udp_via_console(const struct lab_net *net, struct lab_guest *g, const char *ip,
			   unsigned flows, unsigned count, unsigned rate, struct lab_loss *out,
			   struct cp_error *err)
{
	cleanup_free char *reset = guest_ctl(g, "reset", err);
	cleanup_free char *stats = NULL;
	char src[32];

	if (!reset)
		return -1;
	if (lab_net_udp_send(net, ip, UDP_PORT, flows, count, rate, &out->sent, err) < 0)
		return -1;
	lab_sleep_ms(SETTLE_MS);
	stats = guest_ctl(g, "stats", err);
	if (!stats)
		return -1;
	return count_flows(stats, peer_addr(ip, src, sizeof(src)), flows, count, out, err);
}

/**
 * udp_via_cptraffic() - cptraffic udp in the peer (needs the control port)
 * @net:	network
 * @ip:		guest address
 * @flows:	flows
 * @count:	packets
 * @rate:	packets per second
 * @out:	filled
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int udp_via_cptraffic(const struct lab_net *net, const char *ip, unsigned flows,
			     unsigned count, unsigned rate, struct lab_loss *out,
			     struct cp_error *err)
{
	cleanup_free char *tool = lab_env_get("COLDPLUG_CPTRAFFIC"), *text = NULL;
	char f[16], c[16], r[16], secs[16];
	const char *argv[] = { tool,	    "udp", "--to",	    ip,	  "--flows", f,
			       "--count",   c,	   "--rate",	    r,	  "--wait",  "2",
			       "--timeout", "10",  "--max-seconds", secs, NULL };

	if (!tool)
		return cp_error_set(err, CP_ERR_INVALID, "COLDPLUG_CPTRAFFIC is not set (lab.env)");
	lab_fmt(f, sizeof(f), "%u", flows);
	lab_fmt(c, sizeof(c), "%u", count);
	lab_fmt(r, sizeof(r), "%u", rate);
	lab_fmt(secs, sizeof(secs), "%u", count / rate + 10);
	if (lab_net_run(net, LAB_NET_PEER, argv, (int)(count / rate + 40) * 1000, &text, err) != 0)
		return cp_error_set(err, CP_ERR_FAILED, "cptraffic udp: %s",
				    text ? text : err->msg);
	if (lab_cptraffic_udp_result(text, out) < 0)
		return cp_error_set(err, CP_ERR_PROTOCOL, "cptraffic udp printed: %s", text);
	return 0;
}

/**
 * lab_cptraffic_udp_result() - the result line `cptraffic udp` prints
 * @text:	its output (other lines, and a console's "\r", may surround it)
 * @out:	sent, received, flows and flows_complete filled
 *
 * Return: 0, or -1 if there is no such line
 */
int lab_cptraffic_udp_result(const char *text, struct lab_loss *out)
{
	const char *brace = text ? strstr(text, "{\"sent\"") : NULL;
	cleanup_json cp_json *j = NULL;
	struct cp_error err = { 0 };
	int64_t v = 0;

	j = brace ? cp_json_parse(brace, strcspn(brace, "\r\n"), &err) : NULL;
	if (!j)
		return -1;
	cp_json_get_int(j, "sent", &v);
	out->sent = (uint64_t)v;
	cp_json_get_int(j, "received", &v);
	out->received = (uint64_t)v;
	cp_json_get_int(j, "flows", &v);
	out->flows = (unsigned)v;
	cp_json_get_int(j, "flows_complete", &v);
	out->flows_complete = (unsigned)v;
	return 0;
}

/**
 * lab_udp() - a bounded multi-flow UDP stream to the guest, and its loss
 * @net:	network
 * @g:		the guest's console: counts are read there (robust to any
 *		loss); NULL to run cptraffic udp, which needs the guest's TCP
 *		control port reachable
 * @ip:		guest address
 * @flows:	flows (distinct source ports, so the tap hashes them apart)
 * @count:	packets in all
 * @rate:	packets per second
 * @out:	filled
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
int lab_udp(const struct lab_net *net, struct lab_guest *g, const char *ip, unsigned flows,
	    unsigned count, unsigned rate, struct lab_loss *out, struct cp_error *err)
{
	int rc;

	memset(out, 0, sizeof(*out));
	out->flows = flows;
	if (!flows || !count || !rate)
		return cp_error_set(err, CP_ERR_INVALID, "UDP: flows, count and rate must be > 0");
	rc = g ? udp_via_console(net, g, ip, flows, count, rate, out, err)
	       : udp_via_cptraffic(net, ip, flows, count, rate, out, err);
	if (rc == 0)
		loss_finish(out);
	return rc;
}

/**
 * lab_tcp() - TCP throughput with cptraffic (tx: to the guest's sink, rx:
 * from its source)
 * @net:	network
 * @ip:		guest address
 * @rx:		direction
 * @seconds:	duration (1..600)
 * @mbit_s:	set to the measured rate, may be NULL
 * @bytes:	set to the bytes moved, may be NULL
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
int lab_tcp(const struct lab_net *net, const char *ip, bool rx, unsigned seconds, double *mbit_s,
	    uint64_t *bytes, struct cp_error *err)
{
	cleanup_free char *tool = lab_env_get("COLDPLUG_CPTRAFFIC"), *text = NULL;
	char s[16];
	const char *argv[] = { tool,	    "tcp", "--to",	ip,   "--dir", rx ? "rx" : "tx",
			       "--seconds", s,	   "--timeout", "10", NULL };
	cleanup_json cp_json *j = NULL;
	const char *brace;
	int64_t b = 0;

	if (!tool || !seconds || seconds > 600)
		return cp_error_set(err, CP_ERR_INVALID, "tcp: no cptraffic or bad duration");
	lab_fmt(s, sizeof(s), "%u", seconds);
	if (lab_net_run(net, LAB_NET_PEER, argv, (int)(seconds + 40) * 1000, &text, err) != 0)
		return cp_error_set(err, CP_ERR_FAILED, "cptraffic tcp: %s",
				    text ? text : err->msg);
	brace = strstr(text, "{\"dir\"");
	j = brace ? cp_json_parse(brace, strcspn(brace, "\n"), err) : NULL;
	if (!j)
		return cp_error_set(err, CP_ERR_PROTOCOL, "cptraffic tcp printed: %s", text);
	cp_json_get_int(j, "bytes", &b);
	if (bytes)
		*bytes = (uint64_t)b;
	if (mbit_s) {
		const char *m = strstr(brace, "\"mbit_s\":");

		*mbit_s = m ? strtod(m + 9, NULL) : 0.0;
	}
	return 0;
}

/**
 * lab_tcp_connects() - how many new TCP connections to the guest succeed
 * @net:	network
 * @ip:		guest address
 * @count:	attempts (each a new flow: a new source port), at most 1000
 * @out:	filled: sent = attempts, received = successes
 * @err:	filled on failure
 *
 * Each attempt is `cptraffic ctl stats` with a 2 s budget (so at most
 * 2 s per lost flow).
 *
 * Return: 0, or -1
 */
int lab_tcp_connects(const struct lab_net *net, const char *ip, unsigned count,
		     struct lab_loss *out, struct cp_error *err)
{
	cleanup_free char *tool = lab_env_get("COLDPLUG_CPTRAFFIC");
	const char *argv[] = { tool, "ctl", "--to", ip, "--timeout", "2", "stats", NULL };
	unsigned i;

	if (!tool || !count || count > 1000)
		return cp_error_set(err, CP_ERR_INVALID, "tcp connects: no cptraffic or bad count");
	memset(out, 0, sizeof(*out));
	out->flows = count;
	for (i = 0; i < count; i++) {
		cleanup_free char *text = NULL;
		int rc = lab_net_run(net, LAB_NET_PEER, argv, 10000, &text, err);

		out->sent++;
		if (rc == 0 && text && strstr(text, "udp_packets"))
			out->received++;
	}
	out->flows_complete = (unsigned)out->received;
	loss_finish(out);
	return 0;
}

/**
 * lab_guest_queues() - read a guest NIC's per-queue packet counters
 * @g:		console
 * @iface:	the NIC's name in the guest (its report's `net name=`)
 * @all:	first put every queue pair the NIC offers in use (`ethtool -L
 *		IFACE combined MAX`); Linux's virtio_net uses only
 *		min(vCPUs, queue pairs) by default
 * @out:	filled
 * @err:	filled on failure
 *
 * Runs `cptraffic queues` in the guest (tests/qemu/guest/README.md).
 *
 * Return: 0, or -1
 */
int lab_guest_queues(struct lab_guest *g, const char *iface, bool all, struct lab_queues *out,
		     struct cp_error *err)
{
	cleanup_free char *text = NULL;
	char cmd[96];

	lab_fmt(cmd, sizeof(cmd), "sh cptraffic queues %s%s", iface, all ? " --combined 0" : "");
	if (lab_guest_command(g, cmd, CTL_TIMEOUT_MS, &text, NULL, err) < 0 ||
	    lab_queues_parse(text, out, err) < 0)
		return cp_error_prefix(err, "%s's queues in the guest", iface);
	return 0;
}

/**
 * lab_guest_cpusend() - UDP packets from the guest, from each of its CPUs
 * @g:		console
 * @ip:		where to (the peer namespace's address; nothing need listen)
 * @count:	packets per CPU (1..10000)
 * @err:	filled on failure
 *
 * `cptraffic cpusend`: one CPU after the other, the sender pinned to it,
 * so the guest's XPS map puts each CPU's packets on that CPU's TX queue.
 *
 * Return: 0, or -1
 */
int lab_guest_cpusend(struct lab_guest *g, const char *ip, unsigned count, struct cp_error *err)
{
	char cmd[96];

	lab_fmt(cmd, sizeof(cmd), "sh cptraffic cpusend --to %s --count %u", ip, count);
	if (lab_guest_command(g, cmd, CTL_TIMEOUT_MS, NULL, NULL, err) < 0)
		return cp_error_prefix(err, "cpusend from the guest");
	return 0;
}

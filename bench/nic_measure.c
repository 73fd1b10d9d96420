/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The measurements of one configuration, all between the test network's
 * peer namespace (the "host") and the guest's one NIC, each bounded in
 * count and time: pings, TCP each way (cptraffic tcp against the guest's
 * sink and source), UDP host -> guest (the lab's sender, counted on the
 * guest over the console, so a lossy path cannot hide its losses) and UDP
 * guest -> host (the guest's cptraffic udp against a cptraffic serve this
 * file starts in the peer namespace). Around each fixed-rate UDP run the
 * guest's per-queue counters are read, to see which queues carried it. A
 * measurement that cannot run keeps its error and the next one still runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coldplug/cleanup.h"
#include "guest.h"
#include "incus.h"
#include "netns.h"
#include "nic.h"
#include "proc.h"
#include "queues.h"
#include "run.h"
#include "util.h"

#define NIC_NAME	 "eth0"
#define PEER_SERVE_S	 "600"
#define PEER_READY_MS	 10000
#define PEER_STOP_MS	 2000
#define UDP_OUT_WAIT_S	 2
#define UDP_OUT_CTL_S	 10
#define UDP_OUT_SLACK_MS 60000

/**
 * set_error() - keep @err's message as a measurement's error, on one line
 * @dst:	the measurement's error buffer (BENCH_NIC_ERR_MAX)
 * @err:	the error
 */
static void set_error(char *dst, const struct cp_error *err)
{
	size_t len;
	char *nl;

	cp_strlcpy(dst, err->msg[0] ? err->msg : "failed", BENCH_NIC_ERR_MAX);
	while ((nl = strchr(dst, '\n')))
		*nl = ' ';
	len = strlen(dst);
	while (len && dst[len - 1] == ' ')
		dst[--len] = '\0';
}

/**
 * from_loss() - a lab_loss as a bench_udp
 * @l:		the lab's figures
 * @out:	filled, marked ok
 */
static void from_loss(const struct lab_loss *l, struct bench_udp *out)
{
	out->ok = true;
	out->sent = l->sent;
	out->received = l->received;
	out->flows = l->flows;
	out->flows_complete = l->flows_complete;
}

/**
 * measure_ping() - pings host -> guest
 * @net:	network
 * @ip:		the guest's address
 * @p:		parameters
 * @out:	filled
 */
static void measure_ping(const struct lab_net *net, const char *ip,
			 const struct bench_nic_params *p, struct bench_udp *out)
{
	struct cp_error err = { 0 };
	struct lab_loss l = { 0 };

	if (lab_ping(net, ip, p->pings, p->ping_interval_ms, &l, &err) < 0)
		set_error(out->error, &err);
	else
		from_loss(&l, out);
}

/**
 * tcp_run() - one more TCP run of one direction, unless it has had its
 * @p->tcp_rounds or a run failed (the next would wait for the same timeout)
 * @net:	network
 * @ip:		the guest's address
 * @rx:		guest -> host (from the guest's source), else host -> guest
 * @p:		parameters
 * @out:	the run's rate added; the best run so far is the figure
 *
 * Each run is a new connection. Load from other jobs only ever slows a run
 * down, so the best run is the figure.
 *
 * Return: true if a run was made and completed
 */
static bool tcp_run(const struct lab_net *net, const char *ip, bool rx,
		    const struct bench_nic_params *p, struct bench_tcp *out)
{
	struct cp_error err = { 0 };
	double mbit_s = 0.0;
	uint64_t bytes = 0;
	int64_t kbit_s;

	if (out->error[0] || out->rounds >= p->tcp_rounds || out->rounds >= BENCH_NIC_TCP_ROUNDS)
		return false;
	if (lab_tcp(net, ip, rx, p->tcp_seconds, &mbit_s, &bytes, &err) < 0) {
		set_error(out->error, &err);
		out->ok = false;
		return false;
	}
	kbit_s = (int64_t)(mbit_s * 1000.0 + 0.5);
	out->round_kbit_s[out->rounds++] = kbit_s;
	if (!out->ok || kbit_s > out->kbit_s) {
		out->kbit_s = kbit_s;
		out->bytes = bytes;
	}
	out->ok = true;
	return true;
}

/**
 * measure_udp_in() - UDP host -> guest, counted on the guest
 * @net:	network
 * @g:		console
 * @ip:		the guest's address
 * @count:	packets
 * @rate:	packets/s
 * @p:		parameters
 * @out:	filled
 */
static void measure_udp_in(const struct lab_net *net, struct lab_guest *g, const char *ip,
			   unsigned count, unsigned rate, const struct bench_nic_params *p,
			   struct bench_udp *out)
{
	struct cp_error err = { 0 };
	struct lab_loss l = { 0 };

	out->rate = rate;
	if (lab_udp(net, g, ip, p->udp_flows, count, rate, &l, &err) < 0)
		set_error(out->error, &err);
	else
		from_loss(&l, out);
}

/**
 * queues_before() - the guest's per-queue counters before a run
 * @g:		console
 * @r:		the result (its @iface)
 * @before:	filled
 * @out:	its error, on failure
 *
 * Return: true if read
 */
static bool queues_before(struct lab_guest *g, const struct bench_nic_result *r,
			  struct lab_queues *before, struct bench_queues *out)
{
	struct cp_error err = { 0 };

	if (lab_guest_queues(g, r->iface, false, before, &err) == 0)
		return true;
	set_error(out->error, &err);
	return false;
}

/**
 * queues_after() - what each queue carried since queues_before()
 * @g:		console
 * @r:		the result (its @iface)
 * @before:	the first reading
 * @rx:		count received packets (host -> guest), else sent ones
 * @out:	filled (ok, or its error)
 */
static void queues_after(struct lab_guest *g, const struct bench_nic_result *r,
			 const struct lab_queues *before, bool rx, struct bench_queues *out)
{
	struct lab_queues after, d;
	struct cp_error err = { 0 };
	unsigned q;

	if (lab_guest_queues(g, r->iface, false, &after, &err) < 0 ||
	    lab_queues_delta(before, &after, &d, &err) < 0) {
		set_error(out->error, &err);
		return;
	}
	out->ok = true;
	out->max = d.max;
	out->combined = d.combined;
	out->n = d.n < BENCH_NIC_QUEUES ? d.n : BENCH_NIC_QUEUES;
	for (q = 0; q < out->n; q++)
		out->packets[q] = rx ? d.rx[q] : d.tx[q];
}

/**
 * peer_serve_start() - cptraffic serve in the peer namespace, ready
 * @net:	network
 * @dir:	directory for its log
 * @proc:	filled; stop it with lab_proc_stop()
 * @err:	filled on failure
 *
 * Bounded by --seconds even if we die without stopping it (it also gets
 * PR_SET_PDEATHSIG through lab_proc_start()). Ready once its control port
 * answers on the peer's loopback.
 *
 * Return: 0, or -1
 */
static int peer_serve_start(const struct lab_net *net, const char *dir, struct lab_proc *proc,
			    struct cp_error *err)
{
	cleanup_free char *tool = lab_env_get("COLDPLUG_CPTRAFFIC");
	const char *argv[] = { lab_tool("ip"),
			       "netns",
			       "exec",
			       lab_net_ns_name(net, LAB_NET_PEER),
			       tool,
			       "serve",
			       "--seconds",
			       PEER_SERVE_S,
			       NULL };
	const char *ctl[] = { tool, "ctl", "--to", "127.0.0.1", "--timeout", "5", "reset", NULL };
	char log[4096];

	if (!tool)
		return cp_error_set(err, CP_ERR_INVALID, "COLDPLUG_CPTRAFFIC is not set (lab.env)");
	lab_fmt(log, sizeof(log), "%s/peer-serve.log", dir);
	if (lab_proc_start(proc, argv, log, err) < 0)
		return -1;
	if (lab_net_run(net, LAB_NET_PEER, ctl, PEER_READY_MS, NULL, err) != 0) {
		lab_proc_stop(proc, PEER_STOP_MS, NULL);
		return cp_error_prefix(err, "cptraffic serve in the peer namespace");
	}
	return 0;
}

/**
 * parse_udp_out() - the guest's `cptraffic udp` result line
 * @text:	the command's output
 * @out:	filled
 *
 * Return: true if the line was there
 */
static bool parse_udp_out(const char *text, struct bench_udp *out)
{
	struct lab_loss l = { 0 };

	if (lab_cptraffic_udp_result(text, &l) < 0)
		return false;
	out->ok = true;
	out->sent = l.sent;
	out->received = l.received;
	out->flows = l.flows;
	out->flows_complete = l.flows_complete;
	return true;
}

/**
 * last_line() - the last non-empty line of @text, into @buf
 * @text:	output, may be NULL
 * @buf:	output buffer
 * @size:	its size
 *
 * Return: @buf
 */
static const char *last_line(const char *text, char *buf, size_t size)
{
	size_t end = text ? strlen(text) : 0, start;

	while (end && (text[end - 1] == '\n' || text[end - 1] == '\r'))
		end--;
	start = end;
	while (start && text[start - 1] != '\n')
		start--;
	snprintf(buf, size, "%.*s", (int)(end - start), text ? text + start : "");
	return buf;
}

/**
 * measure_udp_out() - UDP guest -> host: the guest's cptraffic udp
 * @g:		console
 * @peer:	the peer's address in the NIC's subnet
 * @count:	packets
 * @rate:	packets/s, 0 for unpaced
 * @p:		parameters
 * @out:	filled
 *
 * cptraffic udp resets and reads the peer server's counters over TCP on
 * the same NIC; when that connection cannot be made, nothing is sent and
 * the figure is reported as not measured, with the reason.
 */
static void measure_udp_out(struct lab_guest *g, const char *peer, unsigned count, unsigned rate,
			    const struct bench_nic_params *p, struct bench_udp *out)
{
	unsigned max_s = count / (rate ? rate : 1000) + 10;
	struct cp_error err = { 0 };
	cleanup_free char *text = NULL;
	char cmd[256], line[BENCH_NIC_ERR_MAX / 2];
	int rc = -1;

	out->rate = rate;
	lab_fmt(cmd, sizeof(cmd),
		"sh cptraffic udp --to %s --count %u --flows %u --rate %u --wait %u --timeout %u "
		"--max-seconds %u",
		peer, count, p->udp_flows, rate, UDP_OUT_WAIT_S, UDP_OUT_CTL_S, max_s);
	if (lab_guest_command(g, cmd, (int)max_s * 1000 + UDP_OUT_SLACK_MS, &text, &rc, &err) < 0) {
		set_error(out->error, &err);
		return;
	}
	if (rc == 0 && parse_udp_out(text, out))
		return;
	lab_fmt(out->error, sizeof(out->error), "cptraffic udp in the guest (rc %d): %s", rc,
		last_line(text, line, sizeof(line)));
}

/**
 * measure_out() - every UDP run guest -> host, with the peer's server
 * @vm:		running VM
 * @g:		console
 * @peer:	the peer's address in the NIC's subnet
 * @p:		parameters
 * @r:		filled
 *
 * A control connection that failed once fails again: the later runs then
 * keep the first run's error instead of waiting for their own timeouts.
 */
static void measure_out(struct lab_incus *vm, struct lab_guest *g, const char *peer,
			const struct bench_nic_params *p, struct bench_nic_result *r)
{
	struct cp_error err = { 0 };
	struct lab_proc serve = { 0 };
	struct lab_queues before;
	bool have;
	size_t i;

	if (peer_serve_start(lab_incus_net(vm), lab_incus_dir(vm), &serve, &err) < 0) {
		set_error(r->udp_out.error, &err);
		cp_strlcpy(r->queues_out.error, r->udp_out.error, BENCH_NIC_ERR_MAX);
	} else {
		have = queues_before(g, r, &before, &r->queues_out);
		measure_udp_out(g, peer, p->udp_count, p->udp_rate, p, &r->udp_out);
		if (have)
			queues_after(g, r, &before, false, &r->queues_out);
	}
	for (i = 0; i < BENCH_NIC_LADDER; i++) {
		r->ladder_out[i].rate = p->ladder_rates[i];
		if (r->udp_out.ok)
			measure_udp_out(g, peer, p->burst_count, p->ladder_rates[i], p,
					&r->ladder_out[i]);
		else
			cp_strlcpy(r->ladder_out[i].error, r->udp_out.error, BENCH_NIC_ERR_MAX);
	}
	if (r->udp_out.ok)
		measure_udp_out(g, peer, p->burst_count, 0, p, &r->burst_out);
	else
		cp_strlcpy(r->burst_out.error, r->udp_out.error, BENCH_NIC_ERR_MAX);
	lab_proc_stop(&serve, PEER_STOP_MS, NULL);
}

/**
 * progress() - one line on stderr per measurement
 * @what:	its name
 * @u:		a packet run, or NULL
 * @t:		a TCP run, or NULL
 */
static void progress(const char *what, const struct bench_udp *u, const struct bench_tcp *t)
{
	char rate[32] = "";

	if (u && u->rate)
		lab_fmt(rate, sizeof(rate), " at %u/s", u->rate);
	else if (u && strstr(what, "UDP"))
		cp_strlcpy(rate, " at max rate", sizeof(rate));
	if (u && u->ok)
		fprintf(stderr, "bench-nic:   %s%s: %llu of %llu arrived\n", what, rate,
			(unsigned long long)u->received, (unsigned long long)u->sent);
	else if (t && t->ok)
		fprintf(stderr, "bench-nic:   %s: %.1f Mbit/s\n", what, (double)t->kbit_s / 1000.0);
	else
		fprintf(stderr, "bench-nic:   %s%s: not measured: %s\n", what, rate,
			u ? u->error : t->error);
}

/**
 * progress_queues() - the queues a run used, one line on stderr
 * @what:	the run
 * @dir:	"RX" or "TX"
 * @q:		its queues
 */
static void progress_queues(const char *what, const char *dir, const struct bench_queues *q)
{
	char split[128];

	if (!q->ok) {
		fprintf(stderr, "bench-nic:   %s: %s per queue not read: %s\n", what, dir,
			q->error);
		return;
	}
	lab_queues_split(q->packets, q->n, split, sizeof(split));
	fprintf(stderr, "bench-nic:   %s: %u queue pairs in use of %u; %s per queue: %s\n", what,
		q->combined, q->max, dir, split);
}

/**
 * bench_nic_ready() - the peer namespace's static ARP entry for the guest's
 * NIC, before any measurement (a failure is only reported: ARP then does
 * the job)
 * @vm:		running VM whose guest reported eth0 with @r->mac
 * @r:		its result
 */
void bench_nic_ready(struct lab_incus *vm, const struct bench_nic_result *r)
{
	struct cp_error err = { 0 };
	char ip[32];

	lab_incus_nic_ip(vm, NIC_NAME, ip, sizeof(ip));
	if (lab_net_neigh(lab_incus_net(vm), ip, r->mac, &err) < 0)
		fprintf(stderr, "bench-nic: static ARP entry: %s\n", err.msg);
}

/**
 * bench_nic_tcp_turn() - one TCP run of one direction, for configurations
 * measured side by side (their runs taking turns); bench_nic_measure() then
 * makes only the runs still missing
 * @vm:		running VM, bench_nic_ready() done
 * @p:		parameters
 * @rx:		guest -> host, else host -> guest
 * @r:		its result (@r->tcp_out or @r->tcp_in gains the run)
 */
void bench_nic_tcp_turn(struct lab_incus *vm, const struct bench_nic_params *p, bool rx,
			struct bench_nic_result *r)
{
	struct bench_tcp *t = rx ? &r->tcp_out : &r->tcp_in;
	char ip[32];

	lab_incus_nic_ip(vm, NIC_NAME, ip, sizeof(ip));
	if (tcp_run(lab_incus_net(vm), ip, rx, p, t))
		fprintf(stderr, "bench-nic:   %s: TCP %s run %u: %.1f Mbit/s\n", r->cfg->key,
			rx ? "guest->host" : "host->guest", t->rounds,
			(double)t->round_kbit_s[t->rounds - 1] / 1000.0);
	else if (t->error[0])
		fprintf(stderr, "bench-nic:   %s: TCP %s: %s\n", r->cfg->key,
			rx ? "guest->host" : "host->guest", t->error);
}

/**
 * bench_nic_measure() - every measurement of one configuration that @r does
 * not have yet (the TCP runs bench_nic_tcp_turn() made are kept)
 * @vm:		running VM, bench_nic_ready() done
 * @g:		its console
 * @p:		parameters
 * @r:		filled (each measurement's figures or error)
 */
void bench_nic_measure(struct lab_incus *vm, struct lab_guest *g, const struct bench_nic_params *p,
		       struct bench_nic_result *r)
{
	struct lab_net *net = lab_incus_net(vm);
	struct lab_queues before;
	char ip[32], peer[32];
	bool have;
	size_t i;

	lab_incus_nic_ip(vm, NIC_NAME, ip, sizeof(ip));
	lab_net_host_ip_for(net, 0, peer, sizeof(peer));
	measure_ping(net, ip, p, &r->ping);
	progress("ping", &r->ping, NULL);
	while (tcp_run(net, ip, false, p, &r->tcp_in))
		;
	progress("TCP host->guest", NULL, &r->tcp_in);
	while (tcp_run(net, ip, true, p, &r->tcp_out))
		;
	progress("TCP guest->host", NULL, &r->tcp_out);
	have = queues_before(g, r, &before, &r->queues_in);
	measure_udp_in(net, g, ip, p->udp_count, p->udp_rate, p, &r->udp_in);
	if (have)
		queues_after(g, r, &before, true, &r->queues_in);
	progress("UDP host->guest", &r->udp_in, NULL);
	progress_queues("UDP host->guest", "RX", &r->queues_in);
	for (i = 0; i < BENCH_NIC_LADDER; i++) {
		measure_udp_in(net, g, ip, p->burst_count, p->ladder_rates[i], p, &r->ladder_in[i]);
		progress("UDP host->guest", &r->ladder_in[i], NULL);
	}
	measure_udp_in(net, g, ip, p->burst_count, p->burst_rate, p, &r->burst_in);
	progress("UDP host->guest", &r->burst_in, NULL);
	measure_out(vm, g, peer, p, r);
	progress("UDP guest->host", &r->udp_out, NULL);
	progress_queues("UDP guest->host", "TX", &r->queues_out);
	for (i = 0; i < BENCH_NIC_LADDER; i++)
		progress("UDP guest->host", &r->ladder_out[i], NULL);
	progress("UDP guest->host", &r->burst_out, NULL);
}

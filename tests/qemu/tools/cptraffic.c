/*
 * cptraffic - bounded traffic generator and sink for coldplug's QEMU tests.
 *
 * One static binary used on both sides of a test network:
 *   in the guest:  cptraffic serve            (UDP/TCP sink, TCP source, control port)
 *   on the host:   cptraffic udp | tcp | ctl  (inside a test network namespace)
 * plus `cptraffic pattern`, the reference generator of the disk test pattern
 * (tests/qemu/guest/README.md), so host and guest compute the same bytes,
 * and `cptraffic dio`, timed O_DIRECT sequential reads or writes of a block
 * device in the guest (bench/disk: busybox dd there prints no timing),
 * `cptraffic queues`, a NIC's per-queue packet counters in the guest (the
 * guest has no ethtool binary), and `cptraffic cpusend`, UDP packets sent
 * from every CPU of the guest in turn (so each TX queue gets some).
 *
 * Every client mode is bounded in packet count and in time. Addresses are
 * numeric IPv4 only: no name resolution, so a typo can never turn into
 * traffic towards somewhere unexpected.
 *
 * Build: gcc -static -O2 -Wall -Wextra -std=c11 -o cptraffic cptraffic.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "queue_stats.h"

#define DEFAULT_CTL_PORT       5000
#define DEFAULT_UDP_PORT       5001
#define DEFAULT_TCP_PORT       5002 /* sink; the source listens on this + 1 */
#define MAX_FLOWS_TRACKED      1024 /* server side; further flows are only summed */
#define MAX_CLIENT_FLOWS       1024
#define MAX_CONNS	       64
#define MAX_SOURCE_SECONDS     600 /* a TCP source never runs longer than this */
#define DEFAULT_SOURCE_SECONDS 10
#define SOURCE_LINE_WAIT       1.0 /* seconds a source waits for the client's duration line */
#define CTL_LINE_MAX	       256
#define IO_CHUNK	       65536
#define PAYLOAD_MAGIC	       0x43505431u /* "CPT1" */
#define PATTERN_RECORD	       64

/* ------------------------------------------------------------------ */
/* errors and small utilities                                          */
/* ------------------------------------------------------------------ */

enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

static const char *g_mode = "cptraffic";

static void die_with(int code, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 2, 3)));
static void die_with(int code, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "cptraffic %s: error: ", g_mode);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

#define usage_error(...) die_with(EXIT_USAGE, __VA_ARGS__)
#define fatal(...)	 die_with(EXIT_RUNTIME, __VA_ARGS__)

static double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Milliseconds until `deadline`, clamped to [0, cap_ms], for poll(). */
static int ms_until(double deadline, int cap_ms)
{
	double ms = (deadline - now_mono()) * 1000.0;
	if (ms <= 0)
		return 0;
	if (ms > cap_ms)
		return cap_ms;
	return (int)ms + 1;
}

static void sleep_until(double deadline)
{
	double d = deadline - now_mono();
	if (d <= 0)
		return;
	struct timespec ts = { .tv_sec = (time_t)d,
			       .tv_nsec = (long)((d - (double)(time_t)d) * 1e9) };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void set_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		fatal("fcntl(O_NONBLOCK): %s", strerror(errno));
}

/* A growable string, used to build JSON replies. */
struct strbuf {
	char *s;
	size_t len, cap;
};

static void sb_printf(struct strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void sb_printf(struct strbuf *sb, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		size_t room = sb->cap - sb->len;
		va_start(ap, fmt);
		int n = vsnprintf(sb->s ? sb->s + sb->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			fatal("vsnprintf failed");
		if ((size_t)n < room) {
			sb->len += (size_t)n;
			return;
		}
		size_t cap = sb->cap ? sb->cap * 2 : 1024;
		while (cap - sb->len <= (size_t)n)
			cap *= 2;
		char *p = realloc(sb->s, cap);
		if (!p)
			fatal("out of memory");
		sb->s = p;
		sb->cap = cap;
	}
}

static void format_addr(const struct sockaddr_in *sa, char *out, size_t outlen)
{
	char ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &sa->sin_addr, ip, sizeof ip);
	snprintf(out, outlen, "%s:%u", ip, (unsigned)ntohs(sa->sin_port));
}

/* ------------------------------------------------------------------ */
/* option parsing: --name VALUE or --name=VALUE, strict                */
/* ------------------------------------------------------------------ */

enum opt_kind { OPT_U64, OPT_IPV4, OPT_DIR };

struct opt {
	const char *name; /* without the leading "--" */
	enum opt_kind kind;
	void *dst; /* uint64_t*, struct in_addr*, or int* (OPT_DIR) */
	uint64_t min, max;
	bool required;
	bool seen;
};

static uint64_t parse_u64(const char *name, const char *s, uint64_t min, uint64_t max)
{
	char *end;
	if (*s < '0' || *s > '9')
		usage_error("--%s: '%s' is not a non-negative decimal integer", name, s);
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		usage_error("--%s: '%s' is not a valid decimal integer", name, s);
	if (v < min || v > max)
		usage_error("--%s: %llu is out of range [%" PRIu64 ", %" PRIu64 "]", name, v, min,
			    max);
	return (uint64_t)v;
}

static void parse_value(struct opt *o, const char *val)
{
	switch (o->kind) {
	case OPT_U64:
		*(uint64_t *)o->dst = parse_u64(o->name, val, o->min, o->max);
		break;
	case OPT_IPV4:
		/* inet_pton accepts only dotted-quad numerics: no DNS, by design. */
		if (inet_pton(AF_INET, val, o->dst) != 1)
			usage_error("--%s: '%s' is not a numeric IPv4 address", o->name, val);
		break;
	case OPT_DIR:
		if (strcmp(val, "tx") == 0)
			*(int *)o->dst = 0;
		else if (strcmp(val, "rx") == 0)
			*(int *)o->dst = 1;
		else
			usage_error("--%s: expected tx or rx, got '%s'", o->name, val);
		break;
	}
}

static struct opt *find_opt(struct opt *opts, size_t n, const char *name, size_t namelen)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(opts[i].name) == namelen && strncmp(opts[i].name, name, namelen) == 0)
			return &opts[i];
	return NULL;
}

/*
 * Parse argv[first..] against `opts`. Non-option words are returned through
 * `positional` (at most `max_pos` of them). `--help` prints `usage` and exits 0.
 */
static size_t parse_opts(int argc, char **argv, int first, struct opt *opts, size_t n,
			 const char *usage, char **positional, size_t max_pos)
{
	size_t npos = 0;
	for (int i = first; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage, stdout);
			exit(0);
		}
		if (strncmp(a, "--", 2) != 0) {
			if (npos >= max_pos)
				usage_error("unexpected argument '%s' (see --help)", a);
			positional[npos++] = argv[i];
			continue;
		}
		const char *name = a + 2, *eq = strchr(name, '=');
		size_t namelen = eq ? (size_t)(eq - name) : strlen(name);
		struct opt *o = find_opt(opts, n, name, namelen);
		if (!o)
			usage_error("unknown option '%s' (see --help)", a);
		if (o->seen)
			usage_error("option --%s given twice", o->name);
		const char *val = eq ? eq + 1 : NULL;
		if (!val) {
			if (i + 1 >= argc)
				usage_error("option --%s needs a value", o->name);
			val = argv[++i];
		}
		parse_value(o, val);
		o->seen = true;
	}
	for (size_t i = 0; i < n; i++)
		if (opts[i].required && !opts[i].seen)
			usage_error("missing required option --%s (see --help)", opts[i].name);
	return npos;
}

/* ------------------------------------------------------------------ */
/* socket helpers                                                      */
/* ------------------------------------------------------------------ */

static int listen_socket(int type, uint16_t port)
{
	int fd = socket(AF_INET, type, 0);
	if (fd < 0)
		fatal("socket: %s", strerror(errno));
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_ANY) };
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		fatal("bind to port %u: %s", (unsigned)port, strerror(errno));
	if (type == SOCK_STREAM && listen(fd, 16) < 0)
		fatal("listen on port %u: %s", (unsigned)port, strerror(errno));
	set_nonblocking(fd);
	return fd;
}

/* One non-blocking connect attempt, waited for until `deadline`. -1 on failure. */
static int connect_once(const struct sockaddr_in *sa, double deadline)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		fatal("socket: %s", strerror(errno));
	set_nonblocking(fd);
	if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int err = 0;
	socklen_t len = sizeof err;
	if (poll(&p, 1, ms_until(deadline, 60000)) != 1 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Connect, retrying (a guest may still be starting its server) until `timeout` s. */
static int connect_retry(struct in_addr ip, uint16_t port, double timeout)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr = ip };
	double deadline = now_mono() + timeout;
	for (;;) {
		double attempt_end = now_mono() + 2.0;
		int fd = connect_once(&sa, attempt_end < deadline ? attempt_end : deadline);
		if (fd >= 0)
			return fd;
		if (now_mono() >= deadline)
			fatal("cannot connect to %s:%u within %.0f s", inet_ntoa(ip),
			      (unsigned)port, timeout);
		sleep_until(now_mono() + 0.2);
	}
}

/* Send all of buf, waiting for writability until `deadline`. false on failure. */
static bool send_all(int fd, const char *buf, size_t len, double deadline)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return false;
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		if (poll(&p, 1, ms_until(deadline, 1000)) <= 0 && now_mono() >= deadline)
			return false;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* serve: the guest side                                               */
/* ------------------------------------------------------------------ */

struct flow_count {
	struct sockaddr_in src;
	uint64_t packets;
};

struct counters {
	uint64_t udp_packets, udp_bytes, tcp_bytes;
	uint64_t untracked_packets; /* packets of flows beyond MAX_FLOWS_TRACKED */
	size_t nflows;
	struct flow_count flows[MAX_FLOWS_TRACKED];
};

enum conn_kind { CONN_FREE, CONN_SINK, CONN_SOURCE_WAIT, CONN_SOURCE, CONN_CTL };

struct conn {
	int fd;
	enum conn_kind kind;
	double deadline; /* CONN_SOURCE_WAIT: start anyway; CONN_SOURCE: stop */
	size_t len;
	char line[CTL_LINE_MAX];
};

struct server {
	int udp_fd, sink_fd, source_fd, ctl_fd;
	struct counters c;
	struct conn conns[MAX_CONNS];
	char buf[IO_CHUNK];
};

static void count_udp(struct counters *c, const struct sockaddr_in *src, size_t bytes)
{
	c->udp_packets++;
	c->udp_bytes += bytes;
	for (size_t i = 0; i < c->nflows; i++) {
		struct flow_count *f = &c->flows[i];
		if (f->src.sin_addr.s_addr == src->sin_addr.s_addr &&
		    f->src.sin_port == src->sin_port) {
			f->packets++;
			return;
		}
	}
	if (c->nflows == MAX_FLOWS_TRACKED) {
		c->untracked_packets++;
		return;
	}
	c->flows[c->nflows].src = *src;
	c->flows[c->nflows].packets = 1;
	c->nflows++;
}

static void drain_udp(struct server *s)
{
	/* Bounded batch so TCP connections are not starved by a UDP flood. */
	for (int i = 0; i < 256; i++) {
		struct sockaddr_in src;
		socklen_t len = sizeof src;
		ssize_t n = recvfrom(s->udp_fd, s->buf, sizeof s->buf, 0, (struct sockaddr *)&src,
				     &len);
		if (n < 0)
			return;
		count_udp(&s->c, &src, (size_t)n);
	}
}

static void stats_json(const struct counters *c, struct strbuf *sb)
{
	sb_printf(sb, "{\"udp_packets\":%" PRIu64 ",\"udp_bytes\":%" PRIu64 ",\"flows\":{",
		  c->udp_packets, c->udp_bytes);
	for (size_t i = 0; i < c->nflows; i++) {
		char key[48];
		format_addr(&c->flows[i].src, key, sizeof key);
		sb_printf(sb, "%s\"%s\":%" PRIu64, i ? "," : "", key, c->flows[i].packets);
	}
	sb_printf(sb, "},\"untracked_packets\":%" PRIu64 ",\"tcp_bytes\":%" PRIu64 "}\n",
		  c->untracked_packets, c->tcp_bytes);
}

static void conn_close(struct conn *k)
{
	close(k->fd);
	k->fd = -1;
	k->kind = CONN_FREE;
}

static void accept_conn(struct server *s, int lfd, enum conn_kind kind)
{
	int fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		return;
	for (size_t i = 0; i < MAX_CONNS; i++) {
		struct conn *k = &s->conns[i];
		if (k->kind != CONN_FREE)
			continue;
		set_nonblocking(fd);
		*k = (struct conn){ .fd = fd,
				    .kind = kind,
				    .deadline = now_mono() + SOURCE_LINE_WAIT };
		return;
	}
	close(fd); /* table full: refuse rather than grow without bound */
}

static void ctl_command(struct server *s, struct conn *k, const char *cmd)
{
	struct strbuf sb = { 0 };
	if (strcmp(cmd, "reset") == 0) {
		memset(&s->c, 0, sizeof s->c);
		sb_printf(&sb, "ok\n");
	} else if (strcmp(cmd, "stats") == 0) {
		stats_json(&s->c, &sb);
	} else if (strcmp(cmd, "quit") == 0) {
		conn_close(k);
		return;
	} else {
		sb_printf(&sb, "error unknown command '%s' (reset|stats|quit)\n", cmd);
	}
	if (!send_all(k->fd, sb.s, sb.len, now_mono() + 2.0))
		conn_close(k);
	free(sb.s);
}

/* Accumulate bytes into k->line; returns true when a full line is there (newline stripped). */
static bool read_line(struct conn *k, const char *data, size_t n, size_t *used)
{
	for (*used = 0; *used < n;) {
		char ch = data[(*used)++];
		if (ch == '\n') {
			k->line[k->len] = '\0';
			if (k->len && k->line[k->len - 1] == '\r')
				k->line[k->len - 1] = '\0';
			k->len = 0;
			return true;
		}
		if (k->len < CTL_LINE_MAX - 1)
			k->line[k->len++] = ch;
	}
	return false;
}

static void ctl_readable(struct server *s, struct conn *k)
{
	ssize_t n = recv(k->fd, s->buf, sizeof s->buf, 0);
	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			conn_close(k);
		return;
	}
	size_t off = 0, used;
	while (k->kind == CONN_CTL && off < (size_t)n) {
		if (!read_line(k, s->buf + off, (size_t)n - off, &used))
			break;
		off += used;
		ctl_command(s, k, k->line);
	}
}

static void sink_readable(struct server *s, struct conn *k)
{
	ssize_t n = recv(k->fd, s->buf, sizeof s->buf, 0);
	if (n > 0)
		s->c.tcp_bytes += (uint64_t)n;
	else if (n == 0 || (errno != EAGAIN && errno != EINTR))
		conn_close(
			k); /* client finished (or failed): closing tells a tx client all was read */
}

static void source_start(struct conn *k, uint64_t seconds)
{
	if (seconds == 0 || seconds > MAX_SOURCE_SECONDS)
		seconds = seconds ? MAX_SOURCE_SECONDS : DEFAULT_SOURCE_SECONDS;
	k->kind = CONN_SOURCE;
	k->deadline = now_mono() + (double)seconds;
}

/* A source client may first send "<seconds>\n"; anything else after that means "stop". */
static void source_readable(struct server *s, struct conn *k)
{
	ssize_t n = recv(k->fd, s->buf, sizeof s->buf, 0);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		conn_close(k);
		return;
	}
	size_t used;
	if (n > 0 && k->kind == CONN_SOURCE_WAIT && read_line(k, s->buf, (size_t)n, &used))
		source_start(k, strtoull(k->line, NULL, 10));
}

static void source_writable(struct server *s, struct conn *k)
{
	ssize_t n = send(k->fd, s->buf, sizeof s->buf, MSG_NOSIGNAL);
	if (n < 0 && errno != EAGAIN && errno != EINTR)
		conn_close(k);
}

static void conn_timers(struct conn *k)
{
	if (k->kind == CONN_SOURCE_WAIT && now_mono() >= k->deadline)
		source_start(k, DEFAULT_SOURCE_SECONDS);
	else if (k->kind == CONN_SOURCE && now_mono() >= k->deadline)
		conn_close(k); /* time bound reached: the close is the client's end marker */
}

static short conn_events(const struct conn *k)
{
	return k->kind == CONN_SOURCE ? (POLLIN | POLLOUT) : POLLIN;
}

static void conn_ready(struct server *s, struct conn *k, short revents)
{
	if (revents & (POLLIN | POLLHUP | POLLERR)) {
		switch (k->kind) {
		case CONN_SINK:
			sink_readable(s, k);
			break;
		case CONN_CTL:
			ctl_readable(s, k);
			break;
		case CONN_SOURCE_WAIT:
		case CONN_SOURCE:
			source_readable(s, k);
			break;
		case CONN_FREE:
			break;
		}
	}
	if (k->kind == CONN_SOURCE && (revents & POLLOUT))
		source_writable(s, k);
}

static int nearest_timer_ms(const struct server *s)
{
	int ms = 1000;
	for (size_t i = 0; i < MAX_CONNS; i++) {
		const struct conn *k = &s->conns[i];
		if (k->kind == CONN_SOURCE_WAIT || k->kind == CONN_SOURCE) {
			int t = ms_until(k->deadline, ms);
			ms = t < ms ? t : ms;
		}
	}
	return ms;
}

static void serve_once(struct server *s)
{
	struct pollfd p[4 + MAX_CONNS];
	struct conn *owner[4 + MAX_CONNS];
	int lfds[4] = { s->udp_fd, s->sink_fd, s->source_fd, s->ctl_fd };
	nfds_t n = 0;
	for (int i = 0; i < 4; i++) {
		owner[n] = NULL;
		p[n++] = (struct pollfd){ .fd = lfds[i], .events = POLLIN };
	}
	for (size_t i = 0; i < MAX_CONNS; i++) {
		if (s->conns[i].kind == CONN_FREE)
			continue;
		owner[n] = &s->conns[i];
		p[n++] = (struct pollfd){ .fd = s->conns[i].fd,
					  .events = conn_events(&s->conns[i]) };
	}
	if (poll(p, n, nearest_timer_ms(s)) < 0 && errno != EINTR)
		fatal("poll: %s", strerror(errno));
	if (p[0].revents & POLLIN)
		drain_udp(s);
	if (p[1].revents & POLLIN)
		accept_conn(s, s->sink_fd, CONN_SINK);
	if (p[2].revents & POLLIN)
		accept_conn(s, s->source_fd, CONN_SOURCE_WAIT);
	if (p[3].revents & POLLIN)
		accept_conn(s, s->ctl_fd, CONN_CTL);
	for (nfds_t i = 4; i < n; i++)
		if (owner[i]->kind != CONN_FREE && p[i].revents)
			conn_ready(s, owner[i], p[i].revents);
	for (size_t i = 0; i < MAX_CONNS; i++)
		conn_timers(&s->conns[i]);
}

static const char serve_usage[] =
	"usage: cptraffic serve [--udp-port 5001] [--tcp-port 5002] [--ctl-port 5000] [--seconds S]\n"
	"  UDP sink on --udp-port, counting packets per source IP:port.\n"
	"  TCP sink on --tcp-port (reads and discards, counting bytes).\n"
	"  TCP source on --tcp-port + 1: the client may send \"<seconds>\\n\"; the server then\n"
	"    sends as fast as it can until the client closes or that many seconds (default 10,\n"
	"    max 600) have passed, then closes.\n"
	"  TCP control on --ctl-port: line commands reset -> ok, stats -> one JSON line, quit.\n"
	"  Runs until killed, or for --seconds S if given (0 = forever).\n";

static int cmd_serve(int argc, char **argv)
{
	uint64_t udp = DEFAULT_UDP_PORT, tcp = DEFAULT_TCP_PORT, ctl = DEFAULT_CTL_PORT, secs = 0;
	struct opt opts[] = {
		{ "udp-port", OPT_U64, &udp, 1, 65535, false, false },
		{ "tcp-port", OPT_U64, &tcp, 1, 65534, false, false },
		{ "ctl-port", OPT_U64, &ctl, 1, 65535, false, false },
		{ "seconds", OPT_U64, &secs, 0, UINT32_MAX, false, false },
	};
	parse_opts(argc, argv, 2, opts, sizeof opts / sizeof opts[0], serve_usage, NULL, 0);

	static struct server s; /* large: keep it off the stack */
	memset(s.buf, 'x', sizeof s.buf);
	for (size_t i = 0; i < MAX_CONNS; i++)
		s.conns[i] = (struct conn){ .fd = -1, .kind = CONN_FREE };
	s.udp_fd = listen_socket(SOCK_DGRAM, (uint16_t)udp);
	s.sink_fd = listen_socket(SOCK_STREAM, (uint16_t)tcp);
	s.source_fd = listen_socket(SOCK_STREAM, (uint16_t)(tcp + 1));
	s.ctl_fd = listen_socket(SOCK_STREAM, (uint16_t)ctl);
	/* A bigger receive buffer absorbs bursts while a slow (TCG) guest is busy
	 * elsewhere; FORCE (root, as in the guest) goes past net.core.rmem_max. */
	int rcvbuf = 4 << 20;
	if (setsockopt(s.udp_fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
		setsockopt(s.udp_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);

	fprintf(stderr,
		"cptraffic serve: udp %" PRIu64 ", tcp sink %" PRIu64 ", tcp source %" PRIu64
		", ctl %" PRIu64 "\n",
		udp, tcp, tcp + 1, ctl);
	double end = secs ? now_mono() + (double)secs : 0;
	while (!end || now_mono() < end)
		serve_once(&s);
	return 0;
}

/* ------------------------------------------------------------------ */
/* control-port client                                                 */
/* ------------------------------------------------------------------ */

/* Send one command and read one reply line into `out` (malloc'd). Dies on failure. */
static char *ctl_request(struct in_addr ip, uint16_t port, const char *cmd, double timeout)
{
	int fd = connect_retry(ip, port, timeout);
	double deadline = now_mono() + timeout;
	char line[CTL_LINE_MAX];
	int n = snprintf(line, sizeof line, "%s\n", cmd);
	if (!send_all(fd, line, (size_t)n, deadline))
		fatal("control port %s:%u: cannot send '%s'", inet_ntoa(ip), (unsigned)port, cmd);
	struct strbuf sb = { 0 };
	for (;;) {
		char buf[4096];
		ssize_t r = recv(fd, buf, sizeof buf, 0);
		if (r > 0) {
			sb_printf(&sb, "%.*s", (int)r, buf);
			if (memchr(buf, '\n', (size_t)r))
				break;
		} else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
			fatal("control port %s:%u closed before replying to '%s'", inet_ntoa(ip),
			      (unsigned)port, cmd);
		}
		if (now_mono() >= deadline) /* even if bytes keep coming without a newline */
			fatal("control port %s:%u: no reply to '%s' within %.0f s", inet_ntoa(ip),
			      (unsigned)port, cmd, timeout);
		if (r > 0)
			continue;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		poll(&p, 1, ms_until(deadline, 1000));
	}
	close(fd);
	sb.s[strcspn(sb.s, "\r\n")] = '\0';
	return sb.s;
}

/* The value of `"key":<number>` inside `json`, or 0 when the key is absent. */
static uint64_t json_u64(const char *json, const char *key)
{
	char pat[80];
	snprintf(pat, sizeof pat, "\"%s\":", key);
	const char *p = strstr(json, pat);
	return p ? strtoull(p + strlen(pat), NULL, 10) : 0;
}

static const char ctl_usage[] =
	"usage: cptraffic ctl --to IP [--ctl-port 5000] [--timeout 10] reset|stats\n"
	"  Sends one control command to a server and prints its one-line reply.\n";

static int cmd_ctl(int argc, char **argv)
{
	struct in_addr to;
	uint64_t ctl = DEFAULT_CTL_PORT, timeout = 10;
	struct opt opts[] = {
		{ "to", OPT_IPV4, &to, 0, 0, true, false },
		{ "ctl-port", OPT_U64, &ctl, 1, 65535, false, false },
		{ "timeout", OPT_U64, &timeout, 1, 600, false, false },
	};
	char *pos[1];
	if (parse_opts(argc, argv, 2, opts, sizeof opts / sizeof opts[0], ctl_usage, pos, 1) != 1)
		usage_error("expected one command: reset or stats");
	if (strcmp(pos[0], "reset") != 0 && strcmp(pos[0], "stats") != 0)
		usage_error("unknown command '%s': expected reset or stats", pos[0]);
	char *reply = ctl_request(to, (uint16_t)ctl, pos[0], (double)timeout);
	puts(reply);
	free(reply);
	return 0;
}

/* ------------------------------------------------------------------ */
/* udp: the host-side generator                                        */
/* ------------------------------------------------------------------ */

struct udp_flow {
	int fd;
	char key[48]; /* "localip:port", as the server names the flow */
	uint64_t sent, received;
};

struct udp_job {
	struct in_addr to;
	uint64_t port, ctl_port, flows, count, rate, size, timeout, wait, src_port, max_seconds;
	uint64_t send_errors;
	struct udp_flow *f;
};

/* One UDP socket per flow, bound to an explicit source port so flows are distinct 5-tuples. */
static void open_flow(struct udp_job *j, uint64_t i)
{
	struct udp_flow *f = &j->f[i];
	f->fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (f->fd < 0)
		fatal("socket: %s", strerror(errno));
	struct sockaddr_in local = { .sin_family = AF_INET,
				     .sin_port = htons((uint16_t)(j->src_port + i)),
				     .sin_addr.s_addr = htonl(INADDR_ANY) };
	if (bind(f->fd, (struct sockaddr *)&local, sizeof local) < 0)
		fatal("bind UDP source port %" PRIu64 ": %s", j->src_port + i, strerror(errno));
	struct sockaddr_in dst = { .sin_family = AF_INET,
				   .sin_port = htons((uint16_t)j->port),
				   .sin_addr = j->to };
	if (connect(f->fd, (struct sockaddr *)&dst, sizeof dst) < 0)
		fatal("connect UDP to %s: %s", inet_ntoa(j->to), strerror(errno));
	/* After connect() the kernel has chosen the source address the server will see. */
	socklen_t len = sizeof local;
	getsockname(f->fd, (struct sockaddr *)&local, &len);
	format_addr(&local, f->key, sizeof f->key);
}

static void fill_payload(unsigned char *buf, uint64_t size, uint32_t flow, uint32_t seq,
			 uint32_t total)
{
	uint32_t words[4] = { htonl(PAYLOAD_MAGIC), htonl(flow), htonl(seq), htonl(total) };
	memset(buf, 0, size);
	memcpy(buf, words, sizeof words);
}

/* Round-robin over the flows, paced at j->rate packets/s (0 = unpaced). */
static void send_packets(struct udp_job *j)
{
	unsigned char *buf = malloc(j->size);
	if (!buf)
		fatal("out of memory");
	double t0 = now_mono(), stop = t0 + (double)j->max_seconds;
	for (uint64_t i = 0; i < j->count; i++) {
		if (j->rate)
			sleep_until(t0 + (double)i / (double)j->rate);
		if (now_mono() >= stop) {
			fprintf(stderr,
				"cptraffic udp: --max-seconds reached after %" PRIu64 " packets\n",
				i);
			break;
		}
		struct udp_flow *f = &j->f[i % j->flows];
		fill_payload(buf, j->size, (uint32_t)(i % j->flows), (uint32_t)(i / j->flows),
			     (uint32_t)j->count);
		if (send(f->fd, buf, j->size, 0) == (ssize_t)j->size)
			f->sent++;
		else
			j->send_errors++; /* e.g. ECONNREFUSED from an earlier ICMP error, ENOBUFS */
	}
	free(buf);
}

static uint64_t total_sent(const struct udp_job *j)
{
	uint64_t n = 0;
	for (uint64_t i = 0; i < j->flows; i++)
		n += j->f[i].sent;
	return n;
}

/* Fetch stats and fill each flow's received count; returns their sum. */
static uint64_t collect_received(struct udp_job *j)
{
	char *json = ctl_request(j->to, (uint16_t)j->ctl_port, "stats", (double)j->timeout);
	const char *flows = strstr(json, "\"flows\":{");
	uint64_t sum = 0;
	for (uint64_t i = 0; i < j->flows; i++) {
		j->f[i].received = flows ? json_u64(flows, j->f[i].key) : 0;
		sum += j->f[i].received;
	}
	free(json);
	return sum;
}

/* Poll the server until everything arrived, counts stop changing, or --wait runs out. */
static void wait_for_arrival(struct udp_job *j)
{
	uint64_t sent = total_sent(j), last = UINT64_MAX;
	int stable = 0;
	double deadline = now_mono() + (double)j->wait;
	for (;;) {
		uint64_t got = collect_received(j);
		stable = got == last ? stable + 1 : 0;
		last = got;
		if (got >= sent || stable >= 2 || now_mono() >= deadline)
			return;
		sleep_until(now_mono() + 0.25);
	}
}

static void print_udp_result(const struct udp_job *j)
{
	uint64_t sent = total_sent(j), recv = 0, complete = 0;
	for (uint64_t i = 0; i < j->flows; i++) {
		recv += j->f[i].received;
		complete += j->f[i].received >= j->f[i].sent;
	}
	printf("{\"sent\":%" PRIu64 ",\"received\":%" PRIu64 ",\"lost\":%" PRIu64
	       ",\"flows\":%" PRIu64 ",\"flows_complete\":%" PRIu64 ",\"send_errors\":%" PRIu64
	       ",\"per_flow\":[",
	       sent, recv, recv < sent ? sent - recv : 0, j->flows, complete, j->send_errors);
	for (uint64_t i = 0; i < j->flows; i++)
		printf("%s{\"src\":\"%s\",\"sent\":%" PRIu64 ",\"received\":%" PRIu64 "}",
		       i ? "," : "", j->f[i].key, j->f[i].sent, j->f[i].received);
	printf("]}\n");
}

static const char udp_usage[] =
	"usage: cptraffic udp --to IP --count N [--flows 16] [--rate 1000] [--size 64]\n"
	"                     [--port 5001] [--ctl-port 5000] [--src-port 40000]\n"
	"                     [--timeout 10] [--wait 2] [--max-seconds 60]\n"
	"  Resets the server's counters, sends N packets round-robin over F flows (UDP source\n"
	"  ports src-port .. src-port+F-1), paced at --rate packets/s (0 = unpaced), waits up\n"
	"  to --wait s for the counts to settle, and prints one JSON line:\n"
	"  {\"sent\":N,\"received\":N,\"lost\":N,\"flows\":F,\"flows_complete\":K,\"send_errors\":E,\n"
	"   \"per_flow\":[{\"src\":\"IP:PORT\",\"sent\":n,\"received\":m},...]}\n"
	"  Exit 0 even with loss; non-zero on errors (control port unreachable within\n"
	"  --timeout s, bad options). Sending stops after --max-seconds whatever the count.\n";

static int cmd_udp(int argc, char **argv)
{
	struct udp_job j = { .port = DEFAULT_UDP_PORT,
			     .ctl_port = DEFAULT_CTL_PORT,
			     .flows = 16,
			     .rate = 1000,
			     .size = 64,
			     .timeout = 10,
			     .wait = 2,
			     .src_port = 40000,
			     .max_seconds = 60 };
	struct opt opts[] = {
		{ "to", OPT_IPV4, &j.to, 0, 0, true, false },
		{ "count", OPT_U64, &j.count, 1, 10000000, true, false },
		{ "flows", OPT_U64, &j.flows, 1, MAX_CLIENT_FLOWS, false, false },
		{ "rate", OPT_U64, &j.rate, 0, 10000000, false, false },
		{ "size", OPT_U64, &j.size, 16, 65507, false, false },
		{ "port", OPT_U64, &j.port, 1, 65535, false, false },
		{ "ctl-port", OPT_U64, &j.ctl_port, 1, 65535, false, false },
		{ "src-port", OPT_U64, &j.src_port, 1, 65535, false, false },
		{ "timeout", OPT_U64, &j.timeout, 1, 600, false, false },
		{ "wait", OPT_U64, &j.wait, 0, 600, false, false },
		{ "max-seconds", OPT_U64, &j.max_seconds, 1, 3600, false, false },
	};
	parse_opts(argc, argv, 2, opts, sizeof opts / sizeof opts[0], udp_usage, NULL, 0);
	if (j.src_port + j.flows - 1 > 65535)
		usage_error("--src-port %" PRIu64 " + --flows %" PRIu64 " exceeds port 65535",
			    j.src_port, j.flows);

	free(ctl_request(j.to, (uint16_t)j.ctl_port, "reset", (double)j.timeout));
	j.f = calloc(j.flows, sizeof *j.f);
	if (!j.f)
		fatal("out of memory");
	for (uint64_t i = 0; i < j.flows; i++)
		open_flow(&j, i);
	send_packets(&j);
	wait_for_arrival(&j);
	print_udp_result(&j);
	for (uint64_t i = 0; i < j.flows; i++)
		close(j.f[i].fd);
	free(j.f);
	return 0;
}

/* ------------------------------------------------------------------ */
/* tcp: the host-side throughput probe                                 */
/* ------------------------------------------------------------------ */

/* Send for `seconds`, then half-close and wait for the sink's close, which it
 * does only after reading everything: so `bytes` were all received. */
static uint64_t tcp_tx(int fd, double seconds, double timeout)
{
	static char buf[IO_CHUNK];
	memset(buf, 'c', sizeof buf);
	uint64_t bytes = 0;
	double stop = now_mono() + seconds;
	while (now_mono() < stop) {
		ssize_t n = send(fd, buf, sizeof buf, MSG_NOSIGNAL);
		if (n > 0) {
			bytes += (uint64_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			fatal("send: %s", strerror(errno));
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		poll(&p, 1, ms_until(stop, 200));
	}
	shutdown(fd, SHUT_WR);
	double deadline = now_mono() + timeout;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof buf, 0);
		if (n == 0)
			return bytes;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			fatal("waiting for the sink to finish: %s", strerror(errno));
		if (now_mono() >= deadline) /* even if the sink keeps sending */
			fatal("sink did not finish reading within %.0f s of the end", timeout);
		if (n > 0)
			continue;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		poll(&p, 1, ms_until(deadline, 1000));
	}
}

/* Ask the source for `seconds` of data and read until it closes (bounded by a grace period). */
static uint64_t tcp_rx(int fd, uint64_t seconds, double timeout)
{
	static char buf[IO_CHUNK];
	char line[32];
	int len = snprintf(line, sizeof line, "%" PRIu64 "\n", seconds);
	if (!send_all(fd, line, (size_t)len, now_mono() + timeout))
		fatal("cannot send the duration to the source");
	uint64_t bytes = 0;
	double deadline = now_mono() + (double)seconds + timeout;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof buf, 0);
		if (n > 0)
			bytes += (uint64_t)n;
		else if (n == 0)
			return bytes;
		else if (errno != EAGAIN && errno != EINTR)
			fatal("recv: %s", strerror(errno));
		if (now_mono() >= deadline) { /* checked even while data flows */
			fprintf(stderr,
				"cptraffic tcp: source still sending after %.0f s; stopping\n",
				(double)seconds + timeout);
			return bytes;
		}
		if (n > 0)
			continue;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		poll(&p, 1, ms_until(deadline, 1000));
	}
}

static const char tcp_usage[] =
	"usage: cptraffic tcp --to IP --dir tx|rx [--seconds 5] [--port 5002] [--timeout 10]\n"
	"  tx: send to the server's TCP sink (--port) for S seconds; counts bytes the sink read.\n"
	"  rx: receive from the server's TCP source (--port + 1) for S seconds.\n"
	"  Prints {\"dir\":\"tx\",\"bytes\":N,\"seconds\":S,\"mbit_s\":X} (seconds = measured).\n";

static int cmd_tcp(int argc, char **argv)
{
	struct in_addr to;
	int dir = 0;
	uint64_t seconds = 5, port = DEFAULT_TCP_PORT, timeout = 10;
	struct opt opts[] = {
		{ "to", OPT_IPV4, &to, 0, 0, true, false },
		{ "dir", OPT_DIR, &dir, 0, 0, true, false },
		{ "seconds", OPT_U64, &seconds, 1, MAX_SOURCE_SECONDS, false, false },
		{ "port", OPT_U64, &port, 1, 65534, false, false },
		{ "timeout", OPT_U64, &timeout, 1, 600, false, false },
	};
	parse_opts(argc, argv, 2, opts, sizeof opts / sizeof opts[0], tcp_usage, NULL, 0);

	int fd = connect_retry(to, (uint16_t)(dir ? port + 1 : port), (double)timeout);
	double t0 = now_mono();
	uint64_t bytes = dir ? tcp_rx(fd, seconds, (double)timeout)
			     : tcp_tx(fd, (double)seconds, (double)timeout);
	double elapsed = now_mono() - t0;
	close(fd);
	printf("{\"dir\":\"%s\",\"bytes\":%" PRIu64 ",\"seconds\":%.3f,\"mbit_s\":%.2f}\n",
	       dir ? "rx" : "tx", bytes, elapsed,
	       elapsed > 0 ? (double)bytes * 8.0 / elapsed / 1e6 : 0.0);
	return 0;
}

/* ------------------------------------------------------------------ */
/* pattern: the disk test pattern (reference implementation)          */
/* ------------------------------------------------------------------ */

/*
 * The device is cut into 64-byte records at absolute offsets 64*k. Record k is
 * the ASCII text "CP seed=<seed> off=<64*k as 20 decimal digits>", padded with
 * '.' to 63 bytes, then '\n'. A write of [offset, offset+length) writes exactly
 * those bytes of that infinite sequence, so any region is checkable on its own
 * and a misplaced write shows the wrong off= in a hex dump.
 */
static void pattern_record(uint64_t seed, uint64_t k, char rec[PATTERN_RECORD])
{
	char text[PATTERN_RECORD + 1];
	int n = snprintf(text, sizeof text, "CP seed=%" PRIu64 " off=%020" PRIu64, seed,
			 k * PATTERN_RECORD);
	memset(rec, '.', PATTERN_RECORD - 1);
	memcpy(rec, text, (size_t)n);
	rec[PATTERN_RECORD - 1] = '\n';
}

static const char pattern_usage[] =
	"usage: cptraffic pattern --seed S --offset O --length L\n"
	"  Writes to stdout the bytes [O, O+L) of the disk test pattern for seed S\n"
	"  (64-byte records \"CP seed=S off=<20-digit offset>\" padded with '.' + '\\n').\n";

static int cmd_pattern(int argc, char **argv)
{
	uint64_t seed = 0, offset = 0, length = 0;
	struct opt opts[] = {
		{ "seed", OPT_U64, &seed, 0, UINT64_MAX, true, false },
		{ "offset", OPT_U64, &offset, 0, (uint64_t)1 << 56, true, false },
		{ "length", OPT_U64, &length, 0, (uint64_t)1 << 40, true, false },
	};
	parse_opts(argc, argv, 2, opts, sizeof opts / sizeof opts[0], pattern_usage, NULL, 0);

	static char out[IO_CHUNK];
	size_t used = 0;
	for (uint64_t pos = offset; pos < offset + length;) {
		char rec[PATTERN_RECORD];
		pattern_record(seed, pos / PATTERN_RECORD, rec);
		uint64_t from = pos % PATTERN_RECORD, n = PATTERN_RECORD - from;
		if (n > offset + length - pos)
			n = offset + length - pos;
		if (used + n > sizeof out) {
			if (fwrite(out, 1, used, stdout) != used)
				fatal("write to stdout: %s", strerror(errno));
			used = 0;
		}
		memcpy(out + used, rec + from, n);
		used += n;
		pos += n;
	}
	if (fwrite(out, 1, used, stdout) != used || fflush(stdout) != 0)
		fatal("write to stdout: %s", strerror(errno));
	return 0;
}

/* ------------------------------------------------------------------ */
/* dio: timed O_DIRECT sequential I/O on a block device (in the guest)  */
/* ------------------------------------------------------------------ */

#define DIO_ALIGN 4096

static const char dio_usage[] =
	"usage: cptraffic dio read|write DEV --bs N --count C\n"
	"  Reads or writes C blocks of N bytes of DEV, sequentially from offset 0, with\n"
	"  O_DIRECT (N a multiple of 4096); a write ends with fdatasync(). Prints\n"
	"  \"dio dir=read|write bs=N count=C bytes=B ns=T\", T the monotonic time from the\n"
	"  first block to the last (the fdatasync included). A write overwrites DEV.\n";

/* One block at a time from offset 0; every short transfer is an error. */
static void dio_transfer(int fd, bool wr, unsigned char *buf, uint64_t bs, uint64_t count)
{
	for (uint64_t i = 0; i < count; i++) {
		ssize_t n = wr ? pwrite(fd, buf, bs, (off_t)(i * bs))
			       : pread(fd, buf, bs, (off_t)(i * bs));
		if (n < 0 && errno == EINTR) {
			i--;
			continue;
		}
		if (n != (ssize_t)bs)
			fatal("%s block %" PRIu64 ": %s", wr ? "write" : "read", i,
			      n < 0 ? strerror(errno) : "short transfer");
	}
	if (wr && fdatasync(fd) < 0)
		fatal("fdatasync: %s", strerror(errno));
}

static int cmd_dio(int argc, char **argv)
{
	uint64_t bs = 0, count = 0;
	struct opt opts[] = {
		{ "bs", OPT_U64, &bs, DIO_ALIGN, (uint64_t)64 << 20, true, false },
		{ "count", OPT_U64, &count, 1, (uint64_t)1 << 32, true, false },
	};
	char *pos[2] = { NULL, NULL };
	if (parse_opts(argc, argv, 2, opts, sizeof opts / sizeof opts[0], dio_usage, pos, 2) != 2)
		usage_error("need read|write and a device (see --help)");
	bool wr = strcmp(pos[0], "write") == 0;
	if (!wr && strcmp(pos[0], "read") != 0)
		usage_error("expected read or write, got '%s'", pos[0]);
	if (bs % DIO_ALIGN)
		usage_error("--bs: %" PRIu64 " is not a multiple of %d", bs, DIO_ALIGN);
	unsigned char *buf;
	if (posix_memalign((void **)&buf, DIO_ALIGN, bs) != 0)
		fatal("out of memory");
	memset(buf, 0x5a, bs);
	int fd = open(pos[1], (wr ? O_WRONLY : O_RDONLY) | O_DIRECT | O_CLOEXEC);
	if (fd < 0)
		fatal("open %s: %s", pos[1], strerror(errno));
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	dio_transfer(fd, wr, buf, bs, count);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	close(fd);
	free(buf);
	int64_t ns = (int64_t)(t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec);
	printf("dio dir=%s bs=%" PRIu64 " count=%" PRIu64 " bytes=%" PRIu64 " ns=%" PRId64 "\n",
	       wr ? "write" : "read", bs, count, bs * count, ns);
	return 0;
}

/* ------------------------------------------------------------------ */
/* queues: a NIC's per-queue packet counters (in the guest)             */
/* ------------------------------------------------------------------ */

static const char queues_usage[] =
	"usage: cptraffic queues IFACE [--combined N]\n"
	"  Prints \"queues iface=IFACE max=M combined=C was=W rx=R0,R1,... tx=T0,T1,...\":\n"
	"  M the most combined channels (queue pairs) the NIC offers, C those in use,\n"
	"  W those in use before this command, Rq/Tq the packets received/sent on\n"
	"  queue q (ethtool statistics rx_queue_<q>_packets / tx_queue_<q>_packets,\n"
	"  virtio_net's names; \"-\" when the driver has none). --combined N first sets\n"
	"  the channels in use to N (0: to M), as `ethtool -L IFACE combined N`.\n";

/* One SIOCETHTOOL request on @ifname; -1 with errno set on failure. */
static int ethtool_call(int fd, const char *ifname, void *cmd)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
	ifr.ifr_data = cmd;
	return ioctl(fd, SIOCETHTOOL, &ifr);
}

/* The channels; -1 (errno) when the driver has none to report. */
static int channels_get(int fd, const char *ifname, struct ethtool_channels *ch)
{
	memset(ch, 0, sizeof *ch);
	ch->cmd = ETHTOOL_GCHANNELS;
	return ethtool_call(fd, ifname, ch);
}

/* ETHTOOL_SCHANNELS: @want combined channels in use (0: the most offered). */
static void channels_set(int fd, const char *ifname, struct ethtool_channels *ch, uint64_t want)
{
	if (!want)
		want = ch->max_combined;
	if (want == ch->combined_count)
		return;
	if (!want || want > ch->max_combined)
		fatal("%s: %" PRIu64 " combined channels asked, the NIC offers %u", ifname, want,
		      ch->max_combined);
	ch->cmd = ETHTOOL_SCHANNELS;
	ch->combined_count = (uint32_t)want;
	if (ethtool_call(fd, ifname, ch) < 0)
		fatal("%s: ETHTOOL_SCHANNELS combined %" PRIu64 ": %s", ifname, want,
		      strerror(errno));
	if (channels_get(fd, ifname, ch) < 0)
		fatal("%s: ETHTOOL_GCHANNELS: %s", ifname, strerror(errno));
}

/* How many ETH_SS_STATS strings the driver has (0: none, as for lo). */
static uint32_t stats_count(int fd, const char *ifname)
{
	struct ethtool_sset_info *si = calloc(1, sizeof *si + sizeof(uint32_t));
	uint32_t n = 0;

	if (!si)
		fatal("out of memory");
	si->cmd = ETHTOOL_GSSET_INFO;
	si->sset_mask = 1ULL << ETH_SS_STATS;
	if (ethtool_call(fd, ifname, si) < 0 && errno != EOPNOTSUPP)
		fatal("%s: ETHTOOL_GSSET_INFO: %s", ifname, strerror(errno));
	if (si->sset_mask & (1ULL << ETH_SS_STATS))
		n = si->data[0];
	free(si);
	return n;
}

/*
 * The per-queue packet counters into @rx / @tx (QSTAT_MAX_QUEUES each);
 * returns one more than the highest queue seen (0: none). The names and the
 * values are read by two calls: a change of channels between them would
 * change their count, which the caller rules out by setting them first.
 */
static unsigned queue_counters(int fd, const char *ifname, uint64_t *rx, uint64_t *tx)
{
	uint32_t n = stats_count(fd, ifname);
	struct ethtool_gstrings *names;
	struct ethtool_stats *vals;
	unsigned nq = 0;

	if (!n)
		return 0;
	names = calloc(1, sizeof *names + (size_t)n * ETH_GSTRING_LEN);
	vals = calloc(1, sizeof *vals + (size_t)n * sizeof(uint64_t));
	if (!names || !vals)
		fatal("out of memory");
	names->cmd = ETHTOOL_GSTRINGS;
	names->string_set = ETH_SS_STATS;
	names->len = n;
	vals->cmd = ETHTOOL_GSTATS;
	vals->n_stats = n;
	if (ethtool_call(fd, ifname, names) < 0 || ethtool_call(fd, ifname, vals) < 0)
		fatal("%s: ETHTOOL_GSTRINGS/GSTATS: %s", ifname, strerror(errno));
	if (names->len != n || vals->n_stats != n)
		fatal("%s: the statistics changed while read (%u names, %u values, %u expected)",
		      ifname, names->len, vals->n_stats, n);
	for (uint32_t i = 0; i < n; i++) {
		unsigned q = 0;
		enum qstat_dir d = qstat_name_parse((const char *)names->data +
							    (size_t)i * ETH_GSTRING_LEN,
						    ETH_GSTRING_LEN, &q);

		if (d == QSTAT_NONE)
			continue;
		(d == QSTAT_RX ? rx : tx)[q] = vals->data[i];
		if (q + 1 > nq)
			nq = q + 1;
	}
	free(names);
	free(vals);
	return nq;
}

/* "rx=1,2" or "rx=-" */
static void print_counters(const char *key, const uint64_t *v, unsigned n)
{
	printf(" %s=", key);
	if (!n)
		fputs("-", stdout);
	for (unsigned q = 0; q < n; q++)
		printf("%s%" PRIu64, q ? "," : "", v[q]);
}

static int cmd_queues(int argc, char **argv)
{
	uint64_t combined = 0, rx[QSTAT_MAX_QUEUES] = { 0 }, tx[QSTAT_MAX_QUEUES] = { 0 };
	struct opt opts[] = {
		{ "combined", OPT_U64, &combined, 0, QSTAT_MAX_QUEUES, false, false },
	};
	struct ethtool_channels ch;
	char *pos[1] = { NULL };
	unsigned was, nq;
	int fd;

	if (parse_opts(argc, argv, 2, opts, 1, queues_usage, pos, 1) != 1)
		usage_error("need an interface (see --help)");
	if (strlen(pos[0]) >= IFNAMSIZ)
		usage_error("'%s' is not an interface name", pos[0]);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fatal("socket: %s", strerror(errno));
	if (channels_get(fd, pos[0], &ch) < 0) {
		if (opts[0].seen)
			fatal("%s: ETHTOOL_GCHANNELS: %s", pos[0], strerror(errno));
		memset(&ch, 0, sizeof ch); /* no channels: a single-queue NIC */
	}
	was = ch.combined_count;
	if (opts[0].seen)
		channels_set(fd, pos[0], &ch, combined);
	nq = queue_counters(fd, pos[0], rx, tx);
	close(fd);
	printf("queues iface=%s max=%u combined=%u was=%u", pos[0], ch.max_combined,
	       ch.combined_count, was);
	print_counters("rx", rx, nq);
	print_counters("tx", tx, nq);
	putchar('\n');
	return 0;
}

/* ------------------------------------------------------------------ */
/* cpusend: UDP packets from every CPU in turn (in the guest)           */
/* ------------------------------------------------------------------ */

static const char cpusend_usage[] =
	"usage: cptraffic cpusend --to IPV4 [--port P] [--count N]\n"
	"  Sends N UDP packets (default 20, 64-byte payload) to IPV4:P (default 5001)\n"
	"  from each online CPU in turn, the process pinned to that CPU, each CPU's\n"
	"  from a new unconnected socket: the kernel then picks each packet's TX queue\n"
	"  by the sending CPU (XPS), so every CPU's queue carries some. Prints\n"
	"  \"cpusend cpus=C count=N sent=S\".\n";

/* @count packets from a new socket; returns those the kernel took. */
static uint64_t cpusend_burst(const struct sockaddr_in *to, uint64_t count)
{
	unsigned char payload[64] = { 0 };
	uint64_t sent = 0;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		fatal("socket: %s", strerror(errno));
	for (uint64_t i = 0; i < count; i++)
		if (sendto(fd, payload, sizeof payload, 0, (const struct sockaddr *)to,
			   sizeof *to) == (ssize_t)sizeof payload)
			sent++;
	close(fd);
	return sent;
}

static int cmd_cpusend(int argc, char **argv)
{
	struct sockaddr_in to = { .sin_family = AF_INET };
	uint64_t port = DEFAULT_UDP_PORT, count = 20, sent = 0;
	struct opt opts[] = {
		{ "to", OPT_IPV4, &to.sin_addr, 0, 0, true, false },
		{ "port", OPT_U64, &port, 1, 65535, false, false },
		{ "count", OPT_U64, &count, 1, 10000, false, false },
	};
	cpu_set_t online;
	unsigned cpus = 0;

	parse_opts(argc, argv, 2, opts, sizeof opts / sizeof opts[0], cpusend_usage, NULL, 0);
	to.sin_port = htons((uint16_t)port);
	if (sched_getaffinity(0, sizeof online, &online) < 0)
		fatal("sched_getaffinity: %s", strerror(errno));
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		cpu_set_t one;

		if (!CPU_ISSET(cpu, &online))
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		/* the migration is done when the call returns */
		if (sched_setaffinity(0, sizeof one, &one) < 0)
			fatal("sched_setaffinity CPU %d: %s", cpu, strerror(errno));
		sent += cpusend_burst(&to, count);
		cpus++;
	}
	printf("cpusend cpus=%u count=%" PRIu64 " sent=%" PRIu64 "\n", cpus, count, sent);
	return 0;
}

/* ------------------------------------------------------------------ */

static const char main_usage[] =
	"usage: cptraffic MODE [options]   (cptraffic MODE --help for details)\n"
	"  serve    UDP/TCP sink, TCP source and control port (runs in the guest)\n"
	"  udp      send N UDP packets over F flows and report per-flow delivery\n"
	"  tcp      measure TCP throughput to (tx) or from (rx) a server\n"
	"  ctl      send one control command (reset|stats) and print the reply\n"
	"  pattern  print a region of the disk test pattern\n"
	"  dio      timed O_DIRECT sequential reads or writes of a block device\n"
	"  queues   a NIC's per-queue packet counters; sets its channels in use\n"
	"  cpusend  UDP packets from every CPU in turn (each CPU's TX queue)\n"
	"Numeric IPv4 addresses only. Every client mode is bounded in count and time.\n";

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} modes[] = {
		{ "serve", cmd_serve },	  { "udp", cmd_udp },	      { "tcp", cmd_tcp },
		{ "ctl", cmd_ctl },	  { "pattern", cmd_pattern }, { "dio", cmd_dio },
		{ "queues", cmd_queues }, { "cpusend", cmd_cpusend },
	};
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(main_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		if (strcmp(argv[1], modes[i].name) == 0) {
			g_mode = modes[i].name;
			return modes[i].fn(argc, argv);
		}
	}
	usage_error(
		"unknown mode '%s' (serve, udp, tcp, ctl, pattern, dio, queues, cpusend; see --help)",
		argv[1]);
}

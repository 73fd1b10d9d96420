/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The lab's test network: see netns.h.
 *
 * Namespaces, the bridge, the veth pair and addresses are set up with ip(8)
 * (setup only). Everything that must happen *inside* a namespace from C,
 * creating a tap and opening its queues the way Incus does, runs on a
 * short-lived thread that setns()es into it: a tap queue opened by name
 * from another namespace would silently create a new tap there. The
 * descriptors such a thread opens belong to the whole process.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>
#include <dirent.h>

#include "coldplug/cleanup.h"
#include "netns.h"
#include "run.h"
#include "util.h"

#define NETNS_DIR	   "/run/netns"
#define NETNS_PREFIX	   "cplab-"
#define NET_MAX_REGISTERED 64
#define NET_IP_TIMEOUT_MS  10000
#define NET_SUBNET_FMT	   "10.%u.%u"
#define NET_FIRST_OCTET2   77
#define NET_SUBNETS	   4
#define NET_BRIDGE	   "br0"
#define NET_VETH_BR	   "veth-br"
#define NET_VETH_PEER	   "veth-peer"
#define NET_NOISE_FLOWS	   16
#define NET_NOISE_PORT	   9 /* discard */

struct lab_net {
	unsigned index;
	char name[2][64];
	char path[2][96];
	char host_ip[32];
	pthread_t noise_thread;
	bool noise_running;
	atomic_bool noise_stop;
	atomic_ullong noise_sent;
	unsigned noise_rate, noise_seconds;
};

/* Every namespace this process created and has not deleted yet, for the
 * exit and signal paths. Written only outside signal handlers; the handler
 * reads it and calls only async-signal-safe functions. */
static char registered[NET_MAX_REGISTERED][96];
static volatile sig_atomic_t nregistered;
static bool handlers_installed;

/**
 * ns_delete_path() - delete a named namespace: what `ip netns del` does
 * @path:	/run/netns/NAME
 *
 * Async-signal-safe. The namespace itself goes away once no process (QEMU,
 * which dies with us) holds it any more.
 */
static void ns_delete_path(const char *path)
{
	umount2(path, MNT_DETACH);
	unlink(path);
}

/**
 * cleanup_registered() - delete every namespace still registered
 */
static void cleanup_registered(void)
{
	int i;

	for (i = 0; i < nregistered; i++)
		if (registered[i][0])
			ns_delete_path(registered[i]);
	nregistered = 0;
}

/**
 * on_fatal_signal() - delete our namespaces, then die of the same signal
 * @sig:	SIGTERM, SIGINT or SIGHUP (meson's timeout sends SIGTERM)
 */
static void on_fatal_signal(int sig)
{
	cleanup_registered();
	signal(sig, SIG_DFL);
	raise(sig);
}

/**
 * install_handlers() - atexit and signal handlers, once, where still default
 */
static void install_handlers(void)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	struct sigaction sa = { .sa_handler = on_fatal_signal };
	size_t i;

	if (handlers_installed)
		return;
	handlers_installed = true;
	atexit(cleanup_registered);
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < CP_ARRAY_SIZE(sigs); i++) {
		struct sigaction old;

		if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL)
			sigaction(sigs[i], &sa, NULL);
	}
}

/**
 * register_ns() - remember a namespace for the exit paths
 * @path:	its path
 */
static void register_ns(const char *path)
{
	int i;

	for (i = 0; i < nregistered; i++)
		if (!registered[i][0])
			break;
	if (i == NET_MAX_REGISTERED)
		return;
	cp_strlcpy(registered[i], path, sizeof(registered[i]));
	if (i == nregistered)
		nregistered = i + 1;
}

/**
 * unregister_ns() - forget a namespace deleted normally
 * @path:	its path
 */
static void unregister_ns(const char *path)
{
	int i;

	for (i = 0; i < nregistered; i++)
		if (!strcmp(registered[i], path))
			registered[i][0] = '\0';
}

/**
 * sweep_stale() - delete cplab-<pid>-* namespaces whose test process is gone
 *
 * Only names of exactly our pattern are touched, and only when kill(pid, 0)
 * says the pid no longer exists.
 */
static void sweep_stale(void)
{
	DIR *d = opendir(NETNS_DIR);
	struct dirent *e;

	/* cppcheck-suppress readdirCalled ; one thread reads this DIR (readdir_r is deprecated) */
	while (d && (e = readdir(d))) {
		char path[300];
		char *end;
		long pid;

		if (strncmp(e->d_name, NETNS_PREFIX, strlen(NETNS_PREFIX)))
			continue;
		pid = strtol(e->d_name + strlen(NETNS_PREFIX), &end, 10);
		if (pid <= 0 || *end != '-' || pid == getpid() ||
		    !(kill((pid_t)pid, 0) < 0 && errno == ESRCH))
			continue;
		lab_fmt(path, sizeof(path), "%s/%s", NETNS_DIR, e->d_name);
		ns_delete_path(path);
	}
	if (d)
		closedir(d);
}

/**
 * struct ns_call - a function to run on a thread inside a namespace
 * @path:	namespace path
 * @fn:		the function
 * @arg:	its argument
 * @rc:		its result
 * @err:	its error
 */
struct ns_call {
	const char *path;
	lab_net_fn fn;
	void *arg;
	int rc;
	struct cp_error err;
};

/**
 * ns_enter() - move the calling thread into a network namespace
 * @path:	namespace path
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int ns_enter(const char *path, struct cp_error *err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return cp_error_set_errno(err, errno, "open %s", path);
	if (setns(fd, CLONE_NEWNET) < 0)
		return cp_error_set_errno(err, errno, "setns %s", path);
	return 0;
}

/**
 * ns_thread() - thread body: enter the namespace, run the function
 * @p:	the struct ns_call
 *
 * Return: NULL
 */
static void *ns_thread(void *p)
{
	struct ns_call *c = p;

	c->rc = ns_enter(c->path, &c->err);
	if (c->rc == 0)
		c->rc = c->fn(c->arg, &c->err);
	return NULL;
}

/**
 * lab_net_call() - run @fn on a thread inside one of the namespaces
 * @net:	network
 * @side:	which namespace
 * @fn:		function; descriptors it opens stay open for the process,
 *		sockets it creates stay in that namespace
 * @arg:	its argument
 * @err:	filled on failure (with @fn's error)
 *
 * Return: @fn's result, or -1 if the thread could not run it
 */
int lab_net_call(const struct lab_net *net, enum lab_net_side side, lab_net_fn fn, void *arg,
		 struct cp_error *err)
{
	struct ns_call c = { .path = net->path[side], .fn = fn, .arg = arg, .rc = -1 };
	pthread_t t;
	int e = pthread_create(&t, NULL, ns_thread, &c);

	if (e)
		return cp_error_set_errno(err, e, "pthread_create");
	pthread_join(t, NULL);
	if (c.rc < 0)
		cp_error_copy(err, &c.err);
	return c.rc;
}

/**
 * lab_net_run() - run a short command inside one of the namespaces
 * @net:	network
 * @side:	which namespace
 * @argv:	absolute program path (lab_tool()), arguments, NULL
 * @timeout_ms:	deadline (the command is stopped past it)
 * @output:	set to its output (caller frees), or NULL
 * @err:	filled on failure
 *
 * Return: its exit status, or -1 (see lab_run())
 */
int lab_net_run(const struct lab_net *net, enum lab_net_side side, const char *const argv[],
		int timeout_ms, char **output, struct cp_error *err)
{
	struct lab_run_opts o = { .netns = net->path[side], .timeout_ms = timeout_ms };

	return lab_run(argv, &o, output, err);
}

/**
 * ip_argv() - run `ip ARGS...`, which must succeed
 * @err:	filled on failure
 * @args:	arguments, NULL-terminated
 *
 * Return: 0, or -1
 */
static int ip_argv(struct cp_error *err, const char *const *args)
{
	struct lab_run_opts o = { .timeout_ms = NET_IP_TIMEOUT_MS };
	const char *argv[24];
	size_t n = 0;

	argv[n++] = lab_tool("ip");
	while (n + 1 < CP_ARRAY_SIZE(argv) && args[n - 1]) {
		argv[n] = args[n - 1];
		n++;
	}
	argv[n] = NULL;
	return lab_run_ok(argv, &o, err);
}

/* ip_cmd(err, "link", "set", ...): the arguments as a NULL-terminated array. */
#define ip_cmd(err, ...) ip_argv(err, (const char *const[]){ __VA_ARGS__, NULL })

/**
 * write_sysctl() - lab_net_fn: write "1" to the /proc/sys file @arg
 * @arg:	path
 * @err:	filled on failure
 *
 * Runs inside a namespace: /proc/sys/net shows the calling thread's.
 *
 * Return: 0, or -1
 */
static int write_sysctl(void *arg, struct cp_error *err)
{
	return lab_write_file(arg, "1\n", err);
}

/**
 * quiet_ipv6() - disable IPv6 in a namespace (no router/neighbour chatter)
 * @net:	network
 * @side:	which namespace
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int quiet_ipv6(struct lab_net *net, enum lab_net_side side, struct cp_error *err)
{
	static const char *const files[] = { "/proc/sys/net/ipv6/conf/all/disable_ipv6",
					     "/proc/sys/net/ipv6/conf/default/disable_ipv6" };
	size_t i;

	for (i = 0; i < CP_ARRAY_SIZE(files); i++)
		if (access(files[i], F_OK) == 0 &&
		    lab_net_call(net, side, write_sysctl, (void *)files[i], err) < 0)
			return -1;
	return 0;
}

/**
 * add_namespaces() - create both namespaces, registered for cleanup
 * @net:	network with names set
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int add_namespaces(struct lab_net *net, struct cp_error *err)
{
	int s;

	for (s = LAB_NET_VM; s <= LAB_NET_PEER; s++) {
		if (ip_cmd(err, "netns", "add", net->name[s]) < 0)
			return -1;
		register_ns(net->path[s]);
		if (quiet_ipv6(net, (enum lab_net_side)s, err) < 0 ||
		    ip_cmd(err, "-n", net->name[s], "link", "set", "lo", "up") < 0)
			return -1;
	}
	return 0;
}

/**
 * add_links() - the bridge, the veth pair and the host-side address
 * @net:	network with both namespaces
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int add_links(struct lab_net *net, struct cp_error *err)
{
	const char *vm = net->name[LAB_NET_VM], *peer = net->name[LAB_NET_PEER];
	char cidr[48];
	unsigned i;

	if (ip_cmd(err, "-n", vm, "link", "add", NET_BRIDGE, "type", "bridge") < 0 ||
	    ip_cmd(err, "-n", vm, "link", "set", NET_BRIDGE, "up") < 0 ||
	    ip_cmd(err, "-n", vm, "link", "add", NET_VETH_BR, "type", "veth", "peer", "name",
		   NET_VETH_PEER, "netns", peer) < 0 ||
	    ip_cmd(err, "-n", vm, "link", "set", NET_VETH_BR, "master", NET_BRIDGE, "up") < 0)
		return -1;
	for (i = 0; i < NET_SUBNETS; i++) {
		char ip[32];

		lab_net_host_ip_for(net, i, ip, sizeof(ip));
		lab_fmt(cidr, sizeof(cidr), "%s/24", ip);
		if (ip_cmd(err, "-n", peer, "addr", "add", cidr, "brd", "+", "dev", NET_VETH_PEER) <
		    0)
			return -1;
	}
	return ip_cmd(err, "-n", peer, "link", "set", NET_VETH_PEER, "up");
}

/**
 * lab_net_new() - create a test network (two namespaces, bridge, veth)
 * @err:	filled on failure
 *
 * Return: new network (free with lab_net_free(), which deletes it), or NULL
 */
struct lab_net *lab_net_new(struct cp_error *err)
{
	static unsigned counter;
	struct lab_net *net;
	int s;

	if (geteuid() != 0)
		return cp_error_set(err, CP_ERR_INVALID,
				    "the lab network needs root (network namespaces, taps)"),
		       NULL;
	install_handlers();
	sweep_stale();
	net = cp_calloc(1, sizeof(*net), err);
	if (!net)
		return NULL;
	net->index = counter++ % 250;
	for (s = LAB_NET_VM; s <= LAB_NET_PEER; s++) {
		lab_fmt(net->name[s], sizeof(net->name[s]), NETNS_PREFIX "%d-%u-%s", (int)getpid(),
			net->index, s == LAB_NET_VM ? "vm" : "peer");
		lab_fmt(net->path[s], sizeof(net->path[s]), NETNS_DIR "/%s", net->name[s]);
	}
	lab_net_host_ip_for(net, 0, net->host_ip, sizeof(net->host_ip));
	if (add_namespaces(net, err) < 0 || add_links(net, err) < 0) {
		cp_error_prefix(err, "setting up the test network");
		lab_net_free(net);
		return NULL;
	}
	return net;
}

/**
 * lab_net_free() - delete the network (stops the noise generator first)
 * @net:	network, may be NULL
 *
 * Taps and veths go with their namespace. Stop QEMU first, or the VM
 * namespace lingers (unnamed) until QEMU exits.
 */
void lab_net_free(struct lab_net *net)
{
	int s;

	if (!net)
		return;
	lab_net_noise_stop(net);
	for (s = LAB_NET_VM; s <= LAB_NET_PEER; s++) {
		ns_delete_path(net->path[s]);
		unregister_ns(net->path[s]);
	}
	free(net);
}

/**
 * lab_net_ns_path() - path of a namespace, for setns() or nsenter --net=
 * @net:	network
 * @side:	which one
 *
 * Return: borrowed string, valid while @net is
 */
const char *lab_net_ns_path(const struct lab_net *net, enum lab_net_side side)
{
	return net->path[side];
}

/**
 * lab_net_ns_name() - name of a namespace, for `ip -n` / `ip netns exec`
 * @net:	network
 * @side:	which one
 *
 * Return: borrowed string, valid while @net is
 */
const char *lab_net_ns_name(const struct lab_net *net, enum lab_net_side side)
{
	return net->name[side];
}

/**
 * lab_net_bridge() - the bridge in the VM namespace that taps join
 * @net:	network
 *
 * Return: "br0"
 */
const char *lab_net_bridge(const struct lab_net *net)
{
	(void)net;
	return NET_BRIDGE;
}

/**
 * lab_net_host_ip() - the peer namespace's first address (the "host" side)
 * @net:	network
 *
 * Return: borrowed string, e.g. "10.77.0.1"
 */
const char *lab_net_host_ip(const struct lab_net *net)
{
	return net->host_ip;
}

/**
 * lab_net_host_ip_for() - the peer's address in guest NIC @index's subnet
 * @net:	network
 * @index:	NIC number 0, 1, ...
 * @buf:	output, e.g. "10.78.0.1" for index 1
 * @size:	its size
 *
 * Each of the first four NICs has its own /24 (10.77-80.<k>.0), all on the
 * one bridge, so a guest with several NICs answers each through the NIC
 * that was addressed.
 */
void lab_net_host_ip_for(const struct lab_net *net, unsigned index, char *buf, size_t size)
{
	lab_fmt(buf, size, NET_SUBNET_FMT ".1", NET_FIRST_OCTET2 + index % NET_SUBNETS, net->index);
}

/**
 * lab_net_guest_ip() - the address for the guest's NIC number @index
 * @net:	network
 * @index:	0, 1, ...
 * @buf:	output, e.g. "10.77.0.10", "10.78.0.10"
 * @size:	its size
 */
void lab_net_guest_ip(const struct lab_net *net, unsigned index, char *buf, size_t size)
{
	lab_fmt(buf, size, NET_SUBNET_FMT ".%u", NET_FIRST_OCTET2 + index % NET_SUBNETS, net->index,
		10 + index / NET_SUBNETS);
}

/**
 * struct tap_req - a TUNSETIFF to do inside the VM namespace
 * @name:	interface name
 * @flags:	ifr_flags
 * @create:	create a persistent tap (Incus's networkCreateTap), else open
 *		one queue of an existing one
 * @fd:		the queue opened (open only)
 */
struct tap_req {
	const char *name;
	short flags;
	bool create;
	int fd;
};

/**
 * tap_ioctls() - lab_net_fn: TUNSETIFF, and for a new tap what Incus adds
 * @arg:	struct tap_req
 * @err:	filled on failure
 *
 * Creation is vishvananda/netlink's Tuntap path as Incus uses it: one fd,
 * TUNSETIFF IFF_TAP|IFF_MULTI_QUEUE|IFF_NO_PI, TUNSETOWNER 0, TUNSETGROUP 0,
 * TUNSETPERSIST 1, close. A queue is one fd with Incus's devFile() flags.
 *
 * Return: 0, or -1
 */
static int tap_ioctls(void *arg, struct cp_error *err)
{
	struct tap_req *r = arg;
	cleanup_close int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	struct ifreq ifr;

	if (fd < 0)
		return cp_error_set_errno(err, errno, "open /dev/net/tun");
	memset(&ifr, 0, sizeof(ifr));
	cp_strlcpy(ifr.ifr_name, r->name, sizeof(ifr.ifr_name));
	ifr.ifr_flags = r->flags;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		return cp_error_set_errno(err, errno, "TUNSETIFF %s", r->name);
	if (!r->create) {
		r->fd = steal_fd(&fd);
		return 0;
	}
	if (ioctl(fd, TUNSETOWNER, 0UL) < 0 || ioctl(fd, TUNSETGROUP, 0UL) < 0 ||
	    ioctl(fd, TUNSETPERSIST, 1UL) < 0)
		return cp_error_set_errno(err, errno, "TUNSETOWNER/GROUP/PERSIST %s", r->name);
	return 0;
}

/**
 * lab_net_tap_add() - create a tap as Incus does, on the bridge, link up
 * @net:	network
 * @name:	set to the new name, "tap" + 8 random hex digits (Incus's
 *		network.RandomDevName)
 * @err:	filled on failure
 *
 * Persistent, multi-queue, no vnet header at creation, owner and group 0.
 * It lives until the VM namespace is deleted.
 *
 * Return: 0, or -1
 */
int lab_net_tap_add(struct lab_net *net, char name[LAB_NET_IFNAMSIZ], struct cp_error *err)
{
	struct tap_req r = { .name = name,
			     .flags = IFF_TAP | IFF_MULTI_QUEUE | IFF_NO_PI,
			     .create = true };
	uint32_t rnd;

	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		return cp_error_set_errno(err, errno, "getrandom");
	lab_fmt(name, LAB_NET_IFNAMSIZ, "tap%08x", rnd);
	if (lab_net_call(net, LAB_NET_VM, tap_ioctls, &r, err) < 0)
		return cp_error_prefix(err, "creating tap %s", name);
	return ip_cmd(err, "-n", net->name[LAB_NET_VM], "link", "set", name, "master", NET_BRIDGE,
		      "up");
}

/**
 * lab_net_tap_open_queue() - open one queue of a tap, as Incus's NIC hook
 * @net:	network
 * @ifname:	the tap (in the VM namespace)
 * @err:	filled on failure
 *
 * TUNSETIFF IFF_TAP|IFF_NO_PI|IFF_ONE_QUEUE|IFF_MULTI_QUEUE|IFF_VNET_HDR,
 * done inside the VM namespace.
 *
 * Return: the queue's descriptor (O_CLOEXEC; caller closes), or -1
 */
int lab_net_tap_open_queue(const struct lab_net *net, const char *ifname, struct cp_error *err)
{
	struct tap_req r = { .name = ifname,
			     .fd = -1,
			     .flags = IFF_TAP | IFF_NO_PI | IFF_ONE_QUEUE | IFF_MULTI_QUEUE |
				      IFF_VNET_HDR };

	if (lab_net_call(net, LAB_NET_VM, tap_ioctls, &r, err) < 0)
		return cp_error_prefix(err, "opening a queue of %s", ifname);
	return r.fd;
}

/**
 * lab_net_tap_queues() - the kernel's view of a tap's queues
 * @net:	network
 * @ifname:	the tap
 * @numqueues:	set to the attached queues
 * @numdisabled: set to the detached (disabled) queues
 * @err:	filled on failure
 *
 * From `ip -d link show`: "multi_queue numqueues N numdisabled M".
 *
 * Return: 0, or -1
 */
int lab_net_tap_queues(const struct lab_net *net, const char *ifname, int *numqueues,
		       int *numdisabled, struct cp_error *err)
{
	struct lab_run_opts o = { .timeout_ms = NET_IP_TIMEOUT_MS };
	const char *argv[] = { lab_tool("ip"), "-n",   net->name[LAB_NET_VM],
			       "-d",	       "link", "show",
			       "dev",	       ifname, NULL };
	cleanup_free char *out = NULL;
	const char *q, *d;

	if (lab_run(argv, &o, &out, err) != 0)
		return cp_error_set(err, CP_ERR_FAILED, "ip -d link show %s: %s", ifname,
				    out ? out : "failed");
	q = strstr(out, "numqueues ");
	d = strstr(out, "numdisabled ");
	if (!q || !d)
		return cp_error_set(err, CP_ERR_PROTOCOL, "no queue counts for %s in: %s", ifname,
				    out);
	*numqueues = (int)lab_num(q + strlen("numqueues "));
	*numdisabled = (int)lab_num(d + strlen("numdisabled "));
	return 0;
}

/**
 * noise_open() - lab_net_fn: the broadcast sockets, created in the peer
 * @arg:	int[NET_NOISE_FLOWS], filled
 * @err:	filled on failure
 *
 * One socket per source port, so the tap's flow hash spreads the frames
 * over all of its queues.
 *
 * Return: 0, or -1
 */
static int noise_open(void *arg, struct cp_error *err)
{
	int *fds = arg, one = 1, i;

	for (i = 0; i < NET_NOISE_FLOWS; i++) {
		struct sockaddr_in sa = { .sin_family = AF_INET,
					  .sin_port = htons((uint16_t)(41000 + i)) };

		fds[i] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fds[i] < 0 || setsockopt(fds[i], SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) ||
		    bind(fds[i], (struct sockaddr *)&sa, sizeof(sa)) < 0)
			return cp_error_set_errno(err, errno, "broadcast socket");
	}
	return 0;
}

/**
 * noise_loop() - thread body: send broadcast frames until told to stop
 * @p:	the network
 *
 * Bounded twice: by @net->noise_seconds and by rate * seconds frames.
 *
 * Return: NULL
 */
static void *noise_loop(void *p)
{
	struct lab_net *net = p;
	int fds[NET_NOISE_FLOWS], i;
	uint64_t max = (uint64_t)net->noise_rate * net->noise_seconds, n;
	int64_t t0 = cp_now_ms(), period = 1000 / (net->noise_rate ? net->noise_rate : 1);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(NET_NOISE_PORT) };
	char bcast[32];
	struct cp_error e;

	for (i = 0; i < NET_NOISE_FLOWS; i++)
		fds[i] = -1;
	lab_fmt(bcast, sizeof(bcast), NET_SUBNET_FMT ".255", NET_FIRST_OCTET2, net->index);
	inet_pton(AF_INET, bcast, &to.sin_addr);
	if (lab_net_call(net, LAB_NET_PEER, noise_open, fds, &e) == 0)
		for (n = 0; n < max && !atomic_load(&net->noise_stop); n++) {
			int64_t next = t0 + (int64_t)(n + 1) * period;

			if (sendto(fds[n % NET_NOISE_FLOWS], "cplab-noise", 11, 0,
				   (struct sockaddr *)&to, sizeof(to)) == 11)
				atomic_fetch_add(&net->noise_sent, 1);
			while (!atomic_load(&net->noise_stop) && cp_now_ms() < next)
				lab_sleep_ms(
					(int)(next - cp_now_ms() < 20 ? next - cp_now_ms() : 20));
		}
	for (i = 0; i < NET_NOISE_FLOWS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return NULL;
}

/**
 * lab_net_noise_start() - broadcast traffic on the bridge, from the peer
 * @net:		network
 * @per_second:		frames per second (a live Incus bridge carries ~20)
 * @max_seconds:	it stops by itself after this long
 * @err:		filled on failure
 *
 * UDP to the subnet's broadcast address, port 9, from 16 source ports:
 * the bridge floods every frame to every tap, paused VM or not.
 *
 * Return: 0, or -1
 */
int lab_net_noise_start(struct lab_net *net, unsigned per_second, unsigned max_seconds,
			struct cp_error *err)
{
	int e;

	if (net->noise_running)
		return cp_error_set(err, CP_ERR_INVALID, "noise already running");
	if (per_second == 0 || per_second > 1000 || max_seconds == 0 || max_seconds > 600)
		return cp_error_set(err, CP_ERR_INVALID, "noise: rate 1..1000/s, 1..600 s");
	net->noise_rate = per_second;
	net->noise_seconds = max_seconds;
	atomic_store(&net->noise_stop, false);
	atomic_store(&net->noise_sent, 0);
	e = pthread_create(&net->noise_thread, NULL, noise_loop, net);
	if (e)
		return cp_error_set_errno(err, e, "pthread_create");
	net->noise_running = true;
	return 0;
}

/**
 * lab_net_noise_stop() - stop the broadcast traffic
 * @net:	network
 *
 * Return: frames sent since lab_net_noise_start() (0 if it was not running)
 */
uint64_t lab_net_noise_stop(struct lab_net *net)
{
	if (!net->noise_running)
		return atomic_load(&net->noise_sent);
	atomic_store(&net->noise_stop, true);
	pthread_join(net->noise_thread, NULL);
	net->noise_running = false;
	return atomic_load(&net->noise_sent);
}

/**
 * lab_net_neigh() - a permanent neighbour entry in the peer namespace
 * @net:	network
 * @ip:		the guest's address
 * @mac:	the MAC the guest's NIC really has (from its report)
 * @err:	filled on failure
 *
 * Takes ARP out of a loss measurement: a request that lands on a dead tap
 * queue would otherwise turn into the loss of a whole stream.
 *
 * Return: 0, or -1
 */
int lab_net_neigh(const struct lab_net *net, const char *ip, const char *mac, struct cp_error *err)
{
	return ip_cmd(err, "-n", net->name[LAB_NET_PEER], "neigh", "replace", ip, "lladdr", mac,
		      "dev", NET_VETH_PEER, "nud", "permanent");
}

/**
 * struct udp_job - a bounded UDP stream from the peer namespace
 * @to:		destination
 * @flows:	one socket per flow, source ports 40000 + i
 * @nflows:	flow count
 * @count:	packets in all
 * @rate:	packets per second (0: unpaced)
 * @sent:	packets the kernel accepted
 */
struct udp_job {
	struct sockaddr_in to;
	int flows[256];
	unsigned nflows, count, rate;
	uint64_t sent;
};

/**
 * udp_open() - lab_net_fn: the flow sockets, created in the peer namespace
 * @arg:	struct udp_job
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int udp_open(void *arg, struct cp_error *err)
{
	struct udp_job *j = arg;
	unsigned i;

	for (i = 0; i < j->nflows; i++) {
		struct sockaddr_in sa = { .sin_family = AF_INET,
					  .sin_port = htons((uint16_t)(40000 + i)) };

		j->flows[i] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (j->flows[i] < 0 || bind(j->flows[i], (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    connect(j->flows[i], (struct sockaddr *)&j->to, sizeof(j->to)) < 0)
			return cp_error_set_errno(err, errno, "UDP flow socket %u", i);
	}
	return 0;
}

/**
 * udp_send_all() - send the packets round-robin over the flows, paced
 * @j:	job with open sockets
 *
 * The payload starts like cptraffic's ("CPT1", flow, seq, total), so the
 * guest's cptraffic serve counts it per flow.
 */
static void udp_send_all(struct udp_job *j)
{
	int64_t t0 = cp_now_ms(), stop = t0 + 600000;
	unsigned i;

	for (i = 0; i < j->count && cp_now_ms() < stop; i++) {
		uint32_t words[16] = { htonl(0x43505431u), htonl(i % j->nflows),
				       htonl(i / j->nflows), htonl(j->count) };

		if (j->rate) {
			int64_t due = t0 + (int64_t)i * 1000 / j->rate;

			if (due > cp_now_ms())
				lab_sleep_ms((int)(due - cp_now_ms()));
		}
		if (send(j->flows[i % j->nflows], words, sizeof(words), 0) ==
		    (ssize_t)sizeof(words))
			j->sent++;
	}
}

/**
 * lab_net_udp_send() - a bounded multi-flow UDP stream to the guest
 * @net:	network
 * @ip:		guest address
 * @port:	UDP port (cptraffic serve: 5001)
 * @flows:	flows (source ports 40000..40000+flows-1), at most 256
 * @count:	packets in all (at most 1000000)
 * @rate:	packets per second, 1..100000 (the stream is bounded to 600 s)
 * @sent:	set to the packets sent
 * @err:	filled on failure
 *
 * Needs no control connection, so it works however lossy the path is;
 * read the counts on the guest (see lab_udp()).
 *
 * Return: 0, or -1
 */
int lab_net_udp_send(const struct lab_net *net, const char *ip, uint16_t port, unsigned flows,
		     unsigned count, unsigned rate, uint64_t *sent, struct cp_error *err)
{
	struct udp_job j = { .to = { .sin_family = AF_INET, .sin_port = htons(port) },
			     .nflows = flows,
			     .count = count,
			     .rate = rate };
	unsigned i;
	int rc;

	if (!flows || flows > CP_ARRAY_SIZE(j.flows) || !count || count > 1000000 || !rate ||
	    rate > 100000 || inet_pton(AF_INET, ip, &j.to.sin_addr) != 1)
		return cp_error_set(err, CP_ERR_INVALID, "UDP stream: bad parameters");
	for (i = 0; i < CP_ARRAY_SIZE(j.flows); i++)
		j.flows[i] = -1;
	rc = lab_net_call(net, LAB_NET_PEER, udp_open, &j, err);
	if (rc == 0)
		udp_send_all(&j);
	for (i = 0; i < flows; i++)
		if (j.flows[i] >= 0)
			close(j.flows[i]);
	*sent = j.sent;
	return rc;
}

/**
 * lab_net_noise_sync() - return right after the generator sent a frame
 * @net:	network with the generator running
 *
 * The caller then has one frame period (50 ms at 20/s) of quiet, for a
 * step that must not see a frame in between. Bounded to 2 s.
 */
void lab_net_noise_sync(struct lab_net *net)
{
	uint64_t n = atomic_load(&net->noise_sent);
	int64_t until = cp_now_ms() + 2000;

	while (net->noise_running && atomic_load(&net->noise_sent) == n && cp_now_ms() < until)
		lab_sleep_ms(1);
}

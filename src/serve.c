/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * coldplug serve's event loop: see serve.h. One thread, one epoll set: the
 * listening socket, a signalfd, and every VM's QMP socket, each tagged with
 * its kind (and table slot) in the epoll data, after passt. Deadlines (QMP
 * replies, polls) become the epoll_wait timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coldplug/cleanup.h"
#include "coldplug/fdpass.h"
#include "coldplug/linkwatch.h"
#include "coldplug/log.h"
#include "coldplug/util.h"
#include "serve.h"
#include "serve_vm.h"

#define SERVE_EVENTS 64
/* How long the listener rests when we are out of descriptors. */
#define SERVE_ACCEPT_PAUSE_MS 1000
/*
 * Refused connections are logged once per uid and reason, then counted: a
 * peer that dials again and again (a refused user's loop, or a QEMU refused
 * for --max-vms, which reconnects every second) must not flood the journal.
 * The count is logged at most once a minute, and at exit. The table is
 * fixed: only root and QEMU's user can reach the socket (mode 0600), so a
 * few uids at a time is all a host sees; beyond that, refusals are counted
 * together.
 */
#define SERVE_REFUSED_PEERS	 16
#define SERVE_REFUSED_SUMMARY_MS 60000

/* Why a connection is refused. */
enum serve_refusal {
	SERVE_REFUSE_USER,
	SERVE_REFUSE_PID,
	SERVE_REFUSE_FULL,
};

static const char *const serve_refusal_text[] = {
	[SERVE_REFUSE_USER] = "its user may not use coldplug",
	[SERVE_REFUSE_PID] = "that process has a connection already (QEMU dials once)",
	[SERVE_REFUSE_FULL] = "too many VMs (--max-vms)",
};

/**
 * struct refused - the refusals of one uid for one reason
 * @used:	the entry is in use
 * @uid:	the peer's user
 * @why:	enum serve_refusal
 * @more:	refusals since the last line, not logged yet
 * @last_pid:	the process refused last
 * @logged:	cp_now_ms() of the last line
 */
struct refused {
	bool used;
	uid_t uid;
	enum serve_refusal why;
	unsigned long more;
	pid_t last_pid;
	int64_t logged;
};

/* What an epoll event is about. */
enum serve_kind {
	SERVE_LISTEN = 1,
	SERVE_SIGNAL,
	SERVE_VM,
	SERVE_LINK,
	SERVE_HELPER,
};

/**
 * struct helper_watch - the tap helper epoll watches for a VM's slot
 * @fd:		its pidfd, -1 for none
 * @gen:	which of the VM's helpers (a descriptor number comes back)
 */
struct helper_watch {
	int fd;
	uint64_t gen;
};

/**
 * struct serve - the daemon
 * @o:		options
 * @vm_opts:	what each VM is given of them (its rehome points into @o)
 * @lfd:	listening socket
 * @sfd:	signalfd
 * @efd:	epoll
 * @vms:	table of VMs (NULL for free slots), o.max_vms entries
 * @out:	per slot: whether epoll watches the VM's socket for output too
 *		(its commands wait for QEMU to read them)
 * @helpers:	per slot: the VM's tap helper epoll watches
 * @qemu_uid:	the user QEMU runs as, who may connect (with @has_qemu_user)
 * @has_qemu_user: whether @qemu_uid is set
 * @sock_ino:	inode of the socket we bound, to remove only ours at exit
 * @listen_resume: cp_now_ms() time to watch the listener again after
 *		accept() ran out of descriptors, -1 while it is watched
 * @starved:	accept() ran out of descriptors and has not succeeded since
 *		(said once per episode)
 * @stop:	a signal asked to stop
 * @lw:		rtnetlink watch of deleted interfaces (direct NIC slots' taps),
 *		NULL if it could not be opened
 * @refused:	refusals logged lately, by uid and reason
 * @refused_other: refusals the table had no room for, not logged yet
 * @other_since: cp_now_ms() of the first of them
 */
struct serve {
	struct serve_opts o;
	struct vm_opts vm_opts;
	int lfd;
	int sfd;
	int efd;
	struct vm **vms;
	bool *out;
	struct helper_watch *helpers;
	uid_t qemu_uid;
	bool has_qemu_user;
	ino_t sock_ino;
	int64_t listen_resume;
	bool starved;
	bool stop;
	struct linkwatch *lw;
	struct refused refused[SERVE_REFUSED_PEERS];
	unsigned long refused_other;
	int64_t other_since;
};

/**
 * serve_opts_init() - the defaults
 * @o:	options to initialise
 */
void serve_opts_init(struct serve_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->socket = "/run/coldplug/coldplug.sock";
	rehome_opts_init(&o->rehome);
	o->poll_ms = 100;
	o->watch_ms = 1000;
	o->identify_ms = SERVE_IDENTIFY_MS;
	o->max_vms = 256;
}

/**
 * ref() - epoll data for an event source
 * @kind:	enum serve_kind
 * @idx:	table slot (SERVE_VM)
 *
 * Return: the packed value
 */
static uint64_t ref(enum serve_kind kind, size_t idx)
{
	return ((uint64_t)kind << 32) | (uint32_t)idx;
}

/**
 * epoll_add() - watch @fd for input
 * @s:		daemon
 * @fd:		descriptor
 * @data:	ref()
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int epoll_add(struct serve *s, int fd, uint64_t data, struct cp_error *err)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.u64 = data };

	if (epoll_ctl(s->efd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return cp_error_set_errno(err, errno, "epoll_ctl");
	return 0;
}

/**
 * notify_systemd() - tell systemd (Type=notify) how we are, if it asked
 * @state:	"READY=1", "STOPPING=1", ...
 */
static void notify_systemd(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	cleanup_close int fd = -1;
	socklen_t len;

	if (!path || !*path || strlen(path) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, strlen(path));
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0)
		sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
}

/**
 * clear_stale() - remove a socket file no daemon listens on any more
 * @path:	socket path
 * @err:	filled if another daemon is listening
 *
 * Return: 0, or -1
 */
static int clear_stale(const char *path, struct cp_error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct stat st;

	if (lstat(path, &st) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode))
		return cp_error_set(err, CP_ERR_INVALID, "%s exists and is not a socket", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return cp_error_set(err, CP_ERR_INVALID,
				    "another coldplug serve is listening on %s", path);
	unlink(path);
	return 0;
}

/* How long the user lookup may take (NSS may ask a remote directory). */
#define USER_LOOKUP_MS 10000

/**
 * struct user_answer - what the lookup child found
 * @rc:		getpwnam_r()'s error, 0 if none
 * @found:	the user exists
 * @uid:	its uid
 */
struct user_answer {
	int rc;
	bool found;
	uid_t uid;
};

/**
 * lookup_child() - in the child: look @name up ("auto": incus, else nobody),
 * write the answer to @fd and exit
 * @name:	the user
 * @fd:		the pipe's write end
 * @parent:	the daemon's pid, to notice it died before PR_SET_PDEATHSIG
 */
static _Noreturn void lookup_child(const char *name, int fd, pid_t parent)
{
	struct user_answer a = { 0 };
	struct passwd pw, *p = NULL;
	char buf[4096];

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(1);
	if (!strcmp(name, "auto")) {
		a.rc = getpwnam_r("incus", &pw, buf, sizeof(buf), &p);
		if (!a.rc && !p)
			a.rc = getpwnam_r("nobody", &pw, buf, sizeof(buf), &p);
	} else {
		a.rc = getpwnam_r(name, &pw, buf, sizeof(buf), &p);
	}
	a.found = !a.rc && p;
	a.uid = a.found ? p->pw_uid : 0;
	_exit(write(fd, &a, sizeof(a)) == (ssize_t)sizeof(a) ? 0 : 1);
}

/**
 * lookup_user() - look a user up in a child process
 * @name:	the user, or "auto"
 * @a:		filled
 * @err:	filled on failure
 *
 * NSS loads its modules into the process that asks and never unloads them:
 * with nsswitch.conf's "systemd", libnss_systemd, libcap and libm. Asked
 * from a child, they never enter the daemon, whose idle memory stays its own
 * (2.9 MiB resident with them, 2 MiB without), and a module that misbehaves
 * or a directory that does not answer costs a child, not the daemon.
 *
 * Return: 0, or -1
 */
static int lookup_user(const char *name, struct user_answer *a, struct cp_error *err)
{
	int fds[2], status = 0, n;
	pid_t parent = getpid(), pid;
	struct pollfd pfd;
	ssize_t got = -1;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return cp_error_set_errno(err, errno, "looking up user '%s': pipe", name);
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return cp_error_set_errno(err, errno, "looking up user '%s': fork", name);
	}
	if (pid == 0) {
		close(fds[0]);
		lookup_child(name, fds[1], parent);
	}
	close(fds[1]);
	pfd = (struct pollfd){ .fd = fds[0], .events = POLLIN };
	do
		n = poll(&pfd, 1, USER_LOOKUP_MS);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		got = read(fds[0], a, sizeof(*a));
	close(fds[0]);
	if (n <= 0)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (n == 0)
		return cp_error_set(err, CP_ERR_FAILED,
				    "looking up user '%s' took more than %d s (the name service "
				    "does not answer: see /etc/nsswitch.conf)",
				    name, USER_LOOKUP_MS / 1000);
	if (got != (ssize_t)sizeof(*a))
		return cp_error_set(err, CP_ERR_FAILED,
				    "looking up user '%s': the lookup process failed", name);
	return 0;
}

/**
 * resolve_qemu_user() - the uid behind --qemu-user
 * @s:		daemon
 * @err:	filled if the user does not exist
 *
 * "auto" is Incus's own choice (internal/server/sys/os.go): the user incus
 * if it exists, else nobody (Debian's incus package creates no user incus).
 * "root" means no other user: only root and the daemon's own user connect.
 *
 * Return: 0, or -1
 */
static int resolve_qemu_user(struct serve *s, struct cp_error *err)
{
	const char *name = s->o.qemu_user ? s->o.qemu_user : "auto";
	struct user_answer a = { 0 };

	if (!strcmp(name, "root"))
		return 0;
	if (lookup_user(name, &a, err) < 0)
		return -1;
	if (a.rc)
		return cp_error_set_errno(err, a.rc, "looking up user '%s'", name);
	if (!a.found)
		return cp_error_set(err, CP_ERR_INVALID,
				    "user '%s' does not exist (--qemu-user names the user QEMU "
				    "runs as: nobody under Debian's Incus, incus under Zabbly's)",
				    name);
	s->qemu_uid = a.uid;
	s->has_qemu_user = a.uid != 0;
	return 0;
}

/**
 * grant_user() - a POSIX ACL on @path: its owner and user @uid may read and
 * write, nobody else (the owner of a file may set one, no privilege needed)
 * @path:	the socket
 * @uid:	the user to let in
 *
 * The xattr is built by hand (linux/posix_acl_xattr.h: version 2, entries
 * sorted by tag), not with libacl, for five entries.
 *
 * Return: 0, or -1 with errno (EOPNOTSUPP: the file system has no ACLs)
 */
static int grant_user(const char *path, uid_t uid)
{
	enum { USER_OBJ = 0x01, USER = 0x02, GROUP_OBJ = 0x04, MASK = 0x10, OTHER = 0x20 };
	const uint32_t none = UINT32_MAX;
	struct {
		uint16_t tag;
		uint16_t perm;
		uint32_t id;
	} acl[] = {
		{ USER_OBJ, 6, none }, { USER, 6, (uint32_t)uid }, { GROUP_OBJ, 0, none },
		{ MASK, 6, none },     { OTHER, 0, none },
	};
	char buf[4 + sizeof(acl)];
	uint32_t version = 2;

	memcpy(buf, &version, 4);
	memcpy(buf + 4, acl, sizeof(acl));
	return setxattr(path, "system.posix_acl_access", buf, sizeof(buf), 0);
}

/**
 * set_socket_access() - who may connect, as the kernel enforces it: root,
 * the daemon's user, and QEMU's user
 * @s:		daemon
 * @err:	filled on failure
 *
 * Mode 0600, and an ACL entry that lets QEMU's user in (no privilege
 * needed: we own the socket). Where the file system has no ACLs, mode 0666,
 * and the check of each peer's uid (peer_allowed()) is what refuses the
 * others.
 *
 * Return: 0, or -1
 */
static int set_socket_access(struct serve *s, struct cp_error *err)
{
	const char *path = s->o.socket;
	struct stat st;

	if (chmod(path, 0600) < 0)
		return cp_error_set_errno(err, errno, "chmod %s", path);
	if (!s->has_qemu_user || geteuid() == s->qemu_uid) {
		/* only root and us */
	} else if (grant_user(path, s->qemu_uid) < 0) {
		if (errno != EOPNOTSUPP)
			return cp_error_set_errno(err, errno,
						  "let QEMU's user (uid %u) in with an ACL on %s",
						  (unsigned)s->qemu_uid, path);
		cp_log_warn("%s: no ACLs on this file system: the socket is open to every user, "
			    "and only each connection's uid check refuses the others",
			    path);
		if (chmod(path, 0666) < 0)
			return cp_error_set_errno(err, errno, "chmod %s", path);
	}
	if (stat(path, &st) < 0)
		return cp_error_set_errno(err, errno, "stat %s", path);
	s->sock_ino = st.st_ino;
	return 0;
}

/**
 * open_listener() - bind and listen on the socket QEMU dials
 * @s:		daemon
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int open_listener(struct serve *s, struct cp_error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = s->o.socket;
	cleanup_free char *dir = cp_strdup(path, err);
	char *slash;

	if (!dir)
		return -1;
	if (strlen(path) >= sizeof(sa.sun_path))
		return cp_error_set(err, CP_ERR_INVALID, "socket path too long: %s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return cp_error_set_errno(err, errno, "create %s", dir);
	}
	if (clear_stale(path, err) < 0)
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(s->lfd, 128) < 0)
		return cp_error_set_errno(err, errno, "listen on %s", path);
	return set_socket_access(s, err);
}

/**
 * open_signals() - SIGTERM, SIGINT and SIGHUP through a signalfd
 * @s:		daemon
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int open_signals(struct serve *s, struct cp_error *err)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return cp_error_set_errno(err, errno, "sigprocmask");
	signal(SIGPIPE, SIG_IGN);
	s->sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s->sfd < 0)
		return cp_error_set_errno(err, errno, "signalfd");
	return 0;
}

/**
 * peer_allowed() - whether a connecting process may use the daemon
 * @s:		daemon
 * @cred:	its credentials (SO_PEERCRED)
 *
 * Only the user: a group (Incus's incus group holds its restricted users)
 * would let in more than QEMU.
 *
 * Return: true for root, our own user, or QEMU's user (--qemu-user)
 */
static bool peer_allowed(const struct serve *s, const struct fdpass_cred *cred)
{
	if (cred->uid == 0 || cred->uid == geteuid())
		return true;
	return s->has_qemu_user && cred->uid == s->qemu_uid;
}

/**
 * pid_connected() - whether process @pid already has a live connection
 * @s:		daemon
 * @pid:	the connecting process (0: the kernel did not say)
 *
 * A QEMU's monitor chardev holds one connection at a time; a second from
 * the same process is not a VM, and would take a second slot. A connection
 * whose peer has just closed does not count (vm_live()): QEMU may dial
 * again before the loop has read the hang-up.
 *
 * Return: true if a VM in the table is @pid's and still live
 */
static bool pid_connected(const struct serve *s, pid_t pid)
{
	size_t i;

	for (i = 0; pid > 0 && i < s->o.max_vms; i++)
		if (s->vms[i] && vm_pid(s->vms[i]) == pid && vm_live(s->vms[i]))
			return true;
	return false;
}

/**
 * free_slot() - a free entry in the VM table
 * @s:	daemon
 *
 * Return: its index, or -1 when the table is full
 */
static long free_slot(const struct serve *s)
{
	size_t i;

	for (i = 0; i < s->o.max_vms; i++)
		if (!s->vms[i])
			return (long)i;
	return -1;
}

/**
 * pause_listener() - stop watching the listener for a while
 * @s:		daemon
 * @errnum:	why accept() failed (out of descriptors or memory)
 *
 * The connection stays queued and epoll is level-triggered: watching the
 * listener would wake the loop at once, again and again. It is watched
 * again after SERVE_ACCEPT_PAUSE_MS (resume_listener()), when VMs that
 * went away may have given descriptors back.
 */
static void pause_listener(struct serve *s, int errnum)
{
	struct epoll_event ev = { .events = 0, .data.u64 = ref(SERVE_LISTEN, 0) };

	if (!s->starved)
		cp_log_warn("cannot accept connections: %s; trying again every %d ms",
			    strerror(errnum), SERVE_ACCEPT_PAUSE_MS);
	s->starved = true;
	epoll_ctl(s->efd, EPOLL_CTL_MOD, s->lfd, &ev);
	s->listen_resume = cp_now_ms() + SERVE_ACCEPT_PAUSE_MS;
}

/**
 * resume_listener() - watch the listener again once its pause is over
 * @s:	daemon
 */
static void resume_listener(struct serve *s)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP,
				  .data.u64 = ref(SERVE_LISTEN, 0) };

	if (s->listen_resume < 0 || cp_now_ms() < s->listen_resume)
		return;
	if (epoll_ctl(s->efd, EPOLL_CTL_MOD, s->lfd, &ev) < 0) {
		cp_log_err("watching the listener again: %s", strerror(errno));
		s->listen_resume = cp_now_ms() + SERVE_ACCEPT_PAUSE_MS;
		return;
	}
	s->listen_resume = -1;
}

/**
 * refused_entry() - the table entry of @uid's refusals for @why
 * @s:		daemon
 * @uid:	the peer's user
 * @why:	enum serve_refusal
 * @now:	cp_now_ms()
 * @found:	set to whether the entry was in use (its first line is out)
 *
 * Return: the entry; else a free one, or one whose last line is a minute old
 * with nothing counted since (reused); NULL when every entry is busy
 */
static struct refused *refused_entry(struct serve *s, uid_t uid, enum serve_refusal why,
				     int64_t now, bool *found)
{
	struct refused *spare = NULL;
	size_t i;

	for (i = 0; i < SERVE_REFUSED_PEERS; i++) {
		struct refused *r = &s->refused[i];

		if (r->used && r->uid == uid && r->why == why) {
			*found = true;
			return r;
		}
		if (!spare &&
		    (!r->used || (!r->more && now - r->logged >= SERVE_REFUSED_SUMMARY_MS)))
			spare = r;
	}
	*found = false;
	return spare;
}

/**
 * refuse() - close a connection the daemon will not serve; say why the
 * first time, count the rest
 * @s:		daemon
 * @fd:		the connection (closed here)
 * @cred:	its peer
 * @why:	enum serve_refusal
 *
 * Return: true (accept_one()'s "one was handled")
 */
static bool refuse(struct serve *s, int fd, const struct fdpass_cred *cred, enum serve_refusal why)
{
	int64_t now = cp_now_ms();
	bool found;
	struct refused *r = refused_entry(s, cred->uid, why, now, &found);

	if (!r) {
		if (!s->refused_other++)
			s->other_since = now;
	} else if (found) {
		r->more++;
		r->last_pid = cred->pid;
	} else {
		cp_log_warn("refused a connection from uid %u (pid %d): %s; more of these are "
			    "counted, and summed up at most once a minute",
			    (unsigned)cred->uid, (int)cred->pid, serve_refusal_text[why]);
		*r = (struct refused){ .used = true, .uid = cred->uid, .why = why, .logged = now };
	}
	/* After the line: a peer that sees the close finds it logged. */
	close(fd);
	return true;
}

/**
 * refusals_summary() - log the refusals counted a minute or more ago (all
 * of them with @all); forget the uids that have been quiet for a minute
 * @s:		daemon
 * @all:	log every count now (at exit)
 */
static void refusals_summary(struct serve *s, bool all)
{
	int64_t now = cp_now_ms();
	size_t i;

	for (i = 0; i < SERVE_REFUSED_PEERS; i++) {
		struct refused *r = &s->refused[i];
		bool due = r->used && now - r->logged >= SERVE_REFUSED_SUMMARY_MS;

		if (!r->used || !(r->more ? all || due : due))
			continue;
		if (!r->more) {
			r->used = false;
			continue;
		}
		cp_log_warn(
			"refused %lu more connection%s from uid %u in %lld s (the last from pid "
			"%d): %s",
			r->more, r->more == 1 ? "" : "s", (unsigned)r->uid,
			(long long)((now - r->logged) / 1000), (int)r->last_pid,
			serve_refusal_text[r->why]);
		r->more = 0;
		r->logged = now;
	}
	if (s->refused_other && (all || now - s->other_since >= SERVE_REFUSED_SUMMARY_MS)) {
		cp_log_warn(
			"refused %lu connection%s in %lld s from more uids than the daemon names "
			"one by one",
			s->refused_other, s->refused_other == 1 ? "" : "s",
			(long long)((now - s->other_since) / 1000));
		s->refused_other = 0;
	}
}

/**
 * refusals_deadline() - when refusals_summary() has a count to log
 * @s:	daemon
 *
 * Return: cp_now_ms() time, or -1 for none
 */
static int64_t refusals_deadline(const struct serve *s)
{
	int64_t d = s->refused_other ? s->other_since + SERVE_REFUSED_SUMMARY_MS : -1, v;
	size_t i;

	for (i = 0; i < SERVE_REFUSED_PEERS; i++) {
		if (!s->refused[i].used || !s->refused[i].more)
			continue;
		v = s->refused[i].logged + SERVE_REFUSED_SUMMARY_MS;
		if (d < 0 || v < d)
			d = v;
	}
	return d;
}

/**
 * accept_one() - take one pending connection
 * @s:	daemon
 *
 * Return: true if one was accepted (or refused), false when none is pending
 */
static bool accept_one(struct serve *s)
{
	struct fdpass_cred cred;
	struct cp_error err;
	struct vm *vm;
	long slot;
	int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)) {
		pause_listener(s, errno);
		return false;
	}
	if (fd < 0)
		return errno == EINTR || errno == ECONNABORTED;
	s->starved = false;
	if (fdpass_peer_cred(fd, &cred, NULL) < 0) {
		cp_log_warn("refused a connection: its credentials cannot be read");
		close(fd);
		return true;
	}
	if (!peer_allowed(s, &cred))
		return refuse(s, fd, &cred, SERVE_REFUSE_USER);
	if (pid_connected(s, cred.pid))
		return refuse(s, fd, &cred, SERVE_REFUSE_PID);
	slot = free_slot(s);
	if (slot < 0)
		return refuse(s, fd, &cred, SERVE_REFUSE_FULL);
	vm = vm_new(&s->vm_opts, fd, &err);
	if (!vm || epoll_add(s, fd, ref(SERVE_VM, (size_t)slot), &err) < 0) {
		cp_log_err("new connection: %s", err.msg);
		vm_free(vm);
		return true;
	}
	s->vms[slot] = vm;
	cp_log_debug("new connection from %s", vm_name(vm));
	return true;
}

/**
 * read_signals() - act on SIGTERM / SIGINT (stop) and SIGHUP (ignored)
 * @s:	daemon
 */
static void read_signals(struct serve *s)
{
	struct signalfd_siginfo si;

	while (read(s->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			cp_log_info(
				"SIGHUP: nothing to reload (restart the service to change options)");
			continue;
		}
		cp_log_info("signal %u: stopping; QEMUs will reconnect to the next daemon",
			    si.ssi_signo);
		s->stop = true;
	}
}

/**
 * loop_timeout() - ms until the earliest deadline (VMs, the listener's
 * pause, a count of refusals to log), for epoll_wait
 * @s:	daemon
 *
 * Return: -1 for none
 */
static int loop_timeout(const struct serve *s)
{
	int64_t d = s->listen_resume, v = refusals_deadline(s);
	size_t i;

	if (v >= 0 && (d < 0 || v < d))
		d = v;

	for (i = 0; i < s->o.max_vms; i++) {
		if (!s->vms[i])
			continue;
		v = vm_next_deadline(s->vms[i]);
		if (v >= 0 && (d < 0 || v < d))
			d = v;
	}
	return cp_deadline_left(d);
}

/**
 * reap_vms() - run due timers, then free VMs whose connection is over
 * @s:	daemon
 *
 * When the last VM goes, the heap's free memory goes back to the kernel
 * (malloc_trim()): a daemon that served 50 starts at once keeps no more
 * than an idle one (issue 12's idle figure, tests/security/test_hostile.c).
 */
static void reap_vms(struct serve *s)
{
	int64_t now = cp_now_ms();
	bool freed = false, any = false;
	size_t i;

	for (i = 0; i < s->o.max_vms; i++) {
		if (!s->vms[i])
			continue;
		vm_timers(s->vms[i], now);
		if (!vm_dead(s->vms[i])) {
			any = true;
			continue;
		}
		epoll_ctl(s->efd, EPOLL_CTL_DEL, vm_fd(s->vms[i]), NULL);
		vm_free(s->vms[i]);
		s->vms[i] = NULL;
		s->out[i] = false;
		s->helpers[i].fd = -1; /* vm_free() killed it: its pidfd is closed */
		freed = true;
	}
	if (freed && !any)
		malloc_trim(0);
}

/**
 * watch_output() - watch each VM's socket for output exactly while its
 * commands wait for QEMU to read them: never a blocking write, and no
 * wake-ups for a socket with nothing to send
 * @s:	daemon
 */
static void watch_output(struct serve *s)
{
	struct epoll_event ev;
	size_t i;
	bool want;

	for (i = 0; i < s->o.max_vms; i++) {
		if (!s->vms[i])
			continue;
		want = vm_wants_write(s->vms[i]);
		if (want == s->out[i])
			continue;
		ev = (struct epoll_event){ .events = EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0),
					   .data.u64 = ref(SERVE_VM, i) };
		if (epoll_ctl(s->efd, EPOLL_CTL_MOD, vm_fd(s->vms[i]), &ev) == 0)
			s->out[i] = want;
	}
}

/**
 * watch_helpers() - watch each VM's tap helper (its pidfd) while one runs:
 * the VM's pipeline waits for it without holding up the loop
 * @s:	daemon
 *
 * A helper's pidfd leaves the epoll set by itself when the library closes
 * it at the end of its watch (nothing else holds it: the helpers close what
 * they inherit), so it is never deleted here: its number may belong to
 * another descriptor by now.
 */
static void watch_helpers(struct serve *s)
{
	struct helper_watch *h;
	uint64_t gen;
	size_t i;
	int fd;

	for (i = 0; i < s->o.max_vms; i++) {
		if (!s->vms[i])
			continue;
		h = &s->helpers[i];
		fd = vm_helper_fd(s->vms[i], &gen);
		if (fd == h->fd && gen == h->gen)
			continue;
		h->fd = -1;
		h->gen = gen;
		if (fd >= 0 && epoll_add(s, fd, ref(SERVE_HELPER, i), NULL) == 0)
			h->fd = fd;
	}
}

/**
 * on_link_gone() - linkwatch_fn: tell every VM an interface was deleted
 * @ifindex:	its ifindex
 * @ifname:	its name
 * @userdata:	the daemon
 */
static void on_link_gone(int ifindex, const char *ifname, void *userdata)
{
	struct serve *s = userdata;
	size_t i;

	cp_log_debug("interface %s (ifindex %d) deleted", ifname, ifindex);
	for (i = 0; i < s->o.max_vms; i++)
		if (s->vms[i])
			vm_link_gone(s->vms[i], ifindex);
}

/**
 * read_links() - deleted interfaces; after lost notifications, every VM
 * checks its taps itself
 * @s:	daemon
 */
static void read_links(struct serve *s)
{
	struct cp_error e;
	size_t i;
	int rc = linkwatch_read(s->lw, on_link_gone, s, &e);

	if (rc == LINKWATCH_LOST) {
		cp_log_warn("interface notifications were lost; checking every direct NIC's tap");
		for (i = 0; i < s->o.max_vms; i++)
			if (s->vms[i])
				vm_links_recheck(s->vms[i]);
	} else if (rc < 0) {
		cp_log_err("watching interfaces: %s; a NIC detached from now on leaves its "
			   "direct slot's netdev in QEMU until the VM stops",
			   e.msg);
		epoll_ctl(s->efd, EPOLL_CTL_DEL, linkwatch_fd(s->lw), NULL);
		linkwatch_close(s->lw);
		s->lw = NULL;
	}
}

/**
 * open_links() - watch deleted interfaces (no privilege needed); without
 * it the daemon still runs
 * @s:	daemon
 */
static void open_links(struct serve *s)
{
	struct cp_error e;

	s->lw = linkwatch_open(&e);
	if (s->lw && epoll_add(s, linkwatch_fd(s->lw), ref(SERVE_LINK, 0), &e) == 0)
		return;
	cp_log_warn("cannot watch interfaces (%s): a NIC detached from a running VM leaves its "
		    "direct slot's netdev in QEMU until the VM stops",
		    e.msg);
	linkwatch_close(s->lw);
	s->lw = NULL;
}

/**
 * dispatch() - handle one epoll event
 * @s:	daemon
 * @ev:	the event
 */
static void dispatch(struct serve *s, const struct epoll_event *ev)
{
	enum serve_kind kind = (enum serve_kind)(ev->data.u64 >> 32);
	size_t idx = (uint32_t)ev->data.u64;

	switch (kind) {
	case SERVE_LISTEN:
		while (accept_one(s))
			;
		break;
	case SERVE_SIGNAL:
		read_signals(s);
		break;
	case SERVE_VM:
		if (idx < s->o.max_vms && s->vms[idx] && (ev->events & EPOLLOUT))
			vm_writable(s->vms[idx]);
		if (idx < s->o.max_vms && s->vms[idx] && (ev->events & ~(uint32_t)EPOLLOUT))
			vm_readable(s->vms[idx]);
		break;
	case SERVE_LINK:
		if (s->lw)
			read_links(s);
		break;
	case SERVE_HELPER:
		if (idx < s->o.max_vms && s->vms[idx])
			vm_helper_ready(s->vms[idx]);
		break;
	}
}

/**
 * serve_loop() - run until a signal asks to stop
 * @s:		daemon, set up
 * @err:	filled on failure
 *
 * Return: 0, or -1
 */
static int serve_loop(struct serve *s, struct cp_error *err)
{
	struct epoll_event evs[SERVE_EVENTS];
	int n, i;

	while (!s->stop) {
		n = epoll_wait(s->efd, evs, SERVE_EVENTS, loop_timeout(s));
		if (n < 0 && errno != EINTR)
			return cp_error_set_errno(err, errno, "epoll_wait");
		for (i = 0; i < n; i++)
			dispatch(s, &evs[i]);
		reap_vms(s);
		watch_output(s);
		watch_helpers(s);
		resume_listener(s);
		refusals_summary(s, false);
	}
	return 0;
}

/**
 * serve_cleanup() - close everything; remove our socket file
 * @s:	daemon
 */
static void serve_cleanup(struct serve *s)
{
	struct stat st;
	size_t i;

	refusals_summary(s, true);
	for (i = 0; s->vms && i < s->o.max_vms; i++)
		vm_free(s->vms[i]);
	free(s->vms);
	free(s->out);
	free(s->helpers);
	if (s->lfd >= 0) {
		close(s->lfd);
		if (s->sock_ino && stat(s->o.socket, &st) == 0 && st.st_ino == s->sock_ino)
			unlink(s->o.socket);
	}
	if (s->sfd >= 0)
		close(s->sfd);
	if (s->efd >= 0)
		close(s->efd);
	linkwatch_close(s->lw);
}

/**
 * serve_run() - the daemon: listen, serve, stop on SIGTERM
 * @o:		options
 * @err:	filled on failure
 *
 * Return: 0 after a clean stop, or -1
 */
int serve_run(const struct serve_opts *o, struct cp_error *err)
{
	struct serve s = { .o = *o, .lfd = -1, .sfd = -1, .efd = -1, .listen_resume = -1 };
	int rc = -1;
	size_t i;

	s.vm_opts = (struct vm_opts){ .rehome = &s.o.rehome,
				      .poll_ms = o->poll_ms,
				      .watch_ms = o->watch_ms,
				      .identify_ms = o->identify_ms,
				      .trace = o->trace };
	s.vms = cp_calloc(o->max_vms ? o->max_vms : 1, sizeof(*s.vms), err);
	s.out = s.vms ? cp_calloc(o->max_vms ? o->max_vms : 1, sizeof(*s.out), err) : NULL;
	s.helpers = s.out ? cp_calloc(o->max_vms ? o->max_vms : 1, sizeof(*s.helpers), err) : NULL;
	for (i = 0; s.helpers && i < o->max_vms; i++)
		s.helpers[i].fd = -1;
	s.efd = epoll_create1(EPOLL_CLOEXEC);
	if (s.helpers && s.efd < 0)
		cp_error_set_errno(err, errno, "epoll_create1");
	else if (s.helpers && resolve_qemu_user(&s, err) == 0 && open_signals(&s, err) == 0 &&
		 open_listener(&s, err) == 0 &&
		 epoll_add(&s, s.lfd, ref(SERVE_LISTEN, 0), err) == 0 &&
		 epoll_add(&s, s.sfd, ref(SERVE_SIGNAL, 0), err) == 0) {
		open_links(&s);
		cp_log_info("listening on %s (root and uid %u may connect)", o->socket,
			    (unsigned)(s.has_qemu_user ? s.qemu_uid : 0));
		notify_systemd("READY=1");
		rc = serve_loop(&s, err);
		notify_systemd("STOPPING=1");
	}
	serve_cleanup(&s);
	return rc;
}

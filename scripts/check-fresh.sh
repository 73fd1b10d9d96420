#!/bin/bash
# make check-fresh: the README's promise, tested on a fresh Debian 12.
#
#   scripts/check-fresh.sh [--keep] [--rebase] [--mirror URL]
#
# Builds a minbase Debian 12 root (debootstrap --variant=minbase bookworm),
# clones the committed HEAD of this checkout into it (/root/coldplug: what is
# committed is tested, uncommitted changes are not), installs make (which a
# fresh Debian 12 lacks; git is left to scripts/deps.sh), and runs there, as
# root in a chroot, what the README tells a new user to run: `make demo`, then
# `make check`. Both always run; both results are reported, with timings, and
# the script exits non-zero if either failed. Its last line is
# "make check-fresh: passed" or "make check-fresh: failed: <which>".
#
#   --keep        keep the root afterwards (its path is printed; unmounted)
#   --rebase      debootstrap the base again instead of using the cached one
#   --mirror URL  Debian mirror (default http://deb.debian.org/debian)
#
# Caches, in $COLDPLUG_CACHE/fresh (default ~/.cache/coldplug/fresh): the
# debootstrapped base as a tarball (made once, then each run unpacks a pristine
# copy of it), the .debs apt downloads in the root (archives/, bind-mounted on
# its /var/cache/apt/archives: packages are still installed afresh, only not
# downloaded again) and the logs of the last run (logs/: each command's
# output, and the suite's meson test logs and build logs from the root). The lab's own
# downloads inside the root (QEMU 10.0, the test guest) are made afresh.
#
# The chroot: its root is a mount point (mount --bind DIR DIR, made private),
# because `ip netns exec` runs `mount --make-rslave /`; /dev is its own (a
# tmpfs with a copy of the host's device nodes, /dev/net/tun among them, and
# its own /dev/pts and /dev/shm), /sys is the host's (a recursive slave bind,
# cgroups included), /run is a fresh tmpfs, /etc/resolv.conf is copied in for
# apt. Each command runs in its own
# PID and mount namespace (unshare --pid --mount-proc): /proc is that
# namespace's, what the tests mount goes away with it, and no process the
# suite started outlives it. On every exit path (a trap) every mount under the
# root is undone and checked with findmnt, and the root is removed unless
# --keep (never while something is still mounted under it).
#
# Needs root and Debian's mirror; debootstrap is installed with apt-get if
# missing (scripts/deps.sh fresh). Takes about 40 minutes on 2 cores without
# KVM (debootstrap about 2, once; make demo with its package installs 2-5;
# make check about 33, plus the real-Incus suite). Not part of .ci/run (it is slow): run it before resolving an issue
# that touches set-up (scripts/deps.sh, the Makefile, meson options, the lab).
set -uo pipefail

# The whole script is one compound command, which bash reads before it runs
# it: editing this file during a run (it takes more than half an hour) cannot
# derail that run.
{
PROG="make check-fresh"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MIRROR=http://deb.debian.org/debian
SUITE=bookworm
KEEP=no
REBASE=no

usage() { sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
while [ $# -gt 0 ]; do
	case "$1" in
	--keep) KEEP=yes ;;
	--rebase) REBASE=yes ;;
	--mirror) [ $# -ge 2 ] || { usage >&2; exit 2; }; MIRROR=$2; shift ;;
	--mirror=*) MIRROR=${1#*=} ;;
	-h | --help) usage; exit 0 ;;
	*) echo "check-fresh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
	shift
done

CACHE=${COLDPLUG_CACHE:-${HOME:-/root}/.cache/coldplug}/fresh
BASE_TAR=$CACHE/$SUITE-minbase.tar.gz
ARCHIVES=$CACHE/archives
LOGS=$CACHE/logs
ROOT=""     # the fresh root, once made
BASEDIR=""  # a base being debootstrapped, until it is packed
RUNPID=""   # the unshare of the command running in the root
stage="setup"
results=()  # "name|rc|seconds|summary"
t_start=$(date +%s)

say() { printf '== check-fresh: %s\n' "$*"; }
dur() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# Every mount at or under DIR, deepest (latest) first.
mounts_under() { # dir
	awk -v d="$1" '{ t = $5; gsub(/\\040/, " ", t); if (t == d || index(t, d "/") == 1) print t }' \
		/proc/self/mountinfo | tac
}

unmount_all() { # dir: unmount everything under it; 0 if nothing is left
	local dir=$1 t tries
	for tries in 1 2 3; do
		while read -r t; do
			[ -n "$t" ] || continue
			umount "$t" 2>/dev/null || { [ "$tries" -eq 3 ] && umount -l "$t" 2>/dev/null; }
		done < <(mounts_under "$dir")
		[ -z "$(mounts_under "$dir")" ] && return 0
		sleep 1
	done
	[ -z "$(mounts_under "$dir")" ]
}

cleanup_failed=""
cleanup() {
	local d
	if [ -n "$RUNPID" ] && kill -0 "$RUNPID" 2>/dev/null; then
		# unshare waits out SIGTERM; on SIGKILL, --kill-child kills the
		# namespace's init, and so every process in the namespace.
		kill -KILL "$RUNPID" 2>/dev/null
		wait "$RUNPID" 2>/dev/null
	fi
	RUNPID=""
	# The suite's own logs outlive the root.
	if [ -n "$ROOT" ] && [ -d "$ROOT/root/coldplug" ]; then
		for f in "$ROOT"/root/coldplug/build*/meson-logs/testlog*.txt; do
			[ -f "$f" ] || continue
			d=${f%/meson-logs/*}
			cp "$f" "$LOGS/${d##*/}-${f##*/}"
		done
		for f in "$ROOT"/root/coldplug/build*.log "$ROOT"/root/coldplug/build/*.log; do
			[ -f "$f" ] && cp "$f" "$LOGS/"
		done
	fi
	for d in "$BASEDIR" "$ROOT"; do
		[ -n "$d" ] || continue
		if ! unmount_all "$d"; then
			echo "check-fresh: error: still mounted under $d:" >&2
			findmnt -rn -o TARGET | grep -F "$d" >&2
			cleanup_failed="mounts left under $d"
			continue
		fi
		# Nothing is mounted under it (checked just above): removing it
		# cannot reach the host's /dev or the apt cache.
		if [ "$d" = "$BASEDIR" ] || [ "$KEEP" = no ]; then
			rm -rf --one-file-system "$d"
		fi
	done
	BASEDIR=""
	if [ -n "$ROOT" ] && [ "$KEEP" = yes ] && [ -d "$ROOT" ]; then
		say "the root is kept (unmounted) in $ROOT"
	fi
	ROOT=""
}

finish() {
	local rc=$? r name code secs summary failed=""
	trap - EXIT INT TERM
	cleanup
	echo
	say "results"
	for r in "${results[@]}"; do
		IFS='|' read -r name code secs summary <<<"$r"
		if [ "$code" -eq 0 ]; then
			printf '  %-11s passed in %s%s\n' "$name:" "$(dur "$secs")" "${summary:+ ($summary)}"
		else
			printf '  %-11s FAILED (exit status %s) in %s%s\n' "$name:" "$code" "$(dur "$secs")" \
				"${summary:+ ($summary)}"
			failed="$failed${failed:+, }$name"
		fi
	done
	printf '  %-11s %s\n' "total:" "$(dur $(($(date +%s) - t_start)))"
	[ ${#results[@]} -gt 0 ] && printf '  %-11s %s\n' "logs:" "$LOGS"
	case "$stage, $failed, " in
	done,* | *", $stage, "*) ;;
	*) failed="$failed${failed:+, }$stage" ;;
	esac
	if [ -n "$cleanup_failed" ]; then
		failed="$failed${failed:+, }cleanup ($cleanup_failed)"
	fi
	if [ -z "$failed" ] && [ "$rc" -eq 0 ]; then
		echo "make check-fresh: passed"
		exit 0
	fi
	echo "make check-fresh: failed: ${failed:-exit status $rc}"
	[ "$rc" -ne 0 ] || rc=1
	exit "$rc"
}
trap finish EXIT
trap 'echo "check-fresh: interrupted" >&2; exit 130' INT TERM

die() { echo "check-fresh: error: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] ||
	die "needs root: it runs debootstrap, chroot and mount (run 'sudo make check-fresh')"
command -v git >/dev/null || die "git is needed to clone the checkout"
HEAD=$(git -C "$SRC" rev-parse --verify HEAD^{commit}) || die "$SRC has no HEAD commit"
if [ -n "$(git -C "$SRC" status --porcelain --untracked-files=no)" ]; then
	say "note: $SRC has uncommitted changes; they are not tested (the committed HEAD is)"
fi
say "testing $(git -C "$SRC" log -1 --format='%h %s' "$HEAD")"

# --- the base: debootstrap once, then a tarball -----------------------------
stage="base"
if ! command -v debootstrap >/dev/null; then
	"$SRC/scripts/deps.sh" fresh || die "debootstrap cannot be installed"
fi
mkdir -p "$CACHE" "$ARCHIVES" "$LOGS" || die "cannot create $CACHE"
# One run at a time: runs share the base, the apt archive cache and logs/.
exec 9>"$CACHE/lock"
flock -n 9 || die "another make check-fresh is running (it holds $CACHE/lock)"
rm -f "$LOGS"/*.log "$LOGS"/*.txt
t0=$(date +%s)
if [ "$REBASE" = yes ] || [ ! -s "$BASE_TAR" ]; then
	say "debootstrap --variant=minbase $SUITE from $MIRROR (once; cached as $BASE_TAR)"
	BASEDIR=$(mktemp -d /var/tmp/coldplug-fresh-base.XXXXXX) || die "mktemp failed"
	debootstrap --variant=minbase "$SUITE" "$BASEDIR" "$MIRROR" >"$LOGS/debootstrap.log" 2>&1 ||
		{ tail -n 30 "$LOGS/debootstrap.log" >&2; die "debootstrap failed (log: $LOGS/debootstrap.log)"; }
	unmount_all "$BASEDIR" || die "debootstrap left mounts under $BASEDIR"
	# The sources a Debian 12 installation has: the release, its updates
	# and its security updates.
	{
		echo "deb $MIRROR $SUITE main"
		echo "deb $MIRROR $SUITE-updates main"
		case "$MIRROR" in */debian) echo "deb ${MIRROR%/debian}/debian-security $SUITE-security main" ;; esac
	} >"$BASEDIR/etc/apt/sources.list"
	chroot "$BASEDIR" apt-get clean
	rm -rf "$BASEDIR"/var/lib/apt/lists/* "$BASEDIR"/var/log/apt/* "$BASEDIR/etc/resolv.conf"
	chmod 755 "$BASEDIR" # mktemp made it 0700: the root's / would be root's only
	tar --numeric-owner --xattrs -C "$BASEDIR" -czf "$BASE_TAR.tmp" . ||
		die "cannot pack the base into $BASE_TAR.tmp"
	mv "$BASE_TAR.tmp" "$BASE_TAR"
	rm -rf --one-file-system "$BASEDIR"
	BASEDIR=""
	results+=("debootstrap|0|$(($(date +%s) - t0))|")
else
	say "using the cached base $BASE_TAR ($(date -r "$BASE_TAR" '+%F %R'); --rebase makes it again)"
fi

# --- a pristine root, the clone, the mounts ---------------------------------
stage="root"
t0=$(date +%s)
ROOT=$(mktemp -d /var/tmp/coldplug-fresh.XXXXXX) || die "mktemp failed"
tar --numeric-owner --xattrs -C "$ROOT" -xzf "$BASE_TAR" || die "cannot unpack $BASE_TAR"
# / as on any machine (tar gave it the mode of the directory the base was
# made in): other users (nobody, QEMU's user) must get through it.
chmod 755 "$ROOT"
git clone --quiet --no-hardlinks --no-checkout "$SRC" "$ROOT/root/coldplug" ||
	die "git clone of $SRC failed"
git -C "$ROOT/root/coldplug" checkout --quiet --detach "$HEAD" ||
	die "cannot check out $HEAD in the clone (is it on a branch?)"
rm -f "$ROOT/etc/resolv.conf"
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" || die "cannot copy /etc/resolv.conf"
# A chroot has no init: no package's service is started in it.
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d" && chmod 755 "$ROOT/usr/sbin/policy-rc.d"

mount --bind "$ROOT" "$ROOT" && mount --make-private "$ROOT" || die "cannot bind-mount $ROOT on itself"
# /dev: the root's own (a tmpfs with a copy of the host's device nodes, its
# own /dev/pts and /dev/shm), so that what the suite creates there (the
# real-Incus lab's /dev/kvm or /dev/vhost-vsock) never reaches the host's.
mount -t tmpfs -o mode=755,nosuid tmpfs "$ROOT/dev" || die "cannot mount /dev"
cp -ax /dev/. "$ROOT/dev/" || die "cannot copy the device nodes into $ROOT/dev"
mkdir -p "$ROOT/dev/pts" "$ROOT/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5 devpts "$ROOT/dev/pts" ||
	die "cannot mount /dev/pts"
rm -f "$ROOT/dev/ptmx" && ln -s pts/ptmx "$ROOT/dev/ptmx"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$ROOT/dev/shm" || die "cannot mount /dev/shm"
[ -c "$ROOT/dev/net/tun" ] || die "the root has no /dev/net/tun (the host has none?)"
# /sys as the host has it, with its cgroup hierarchies (a slave: nothing
# unmounted there reaches the host).
mount --rbind /sys "$ROOT/sys" && mount --make-rslave "$ROOT/sys" || die "cannot bind /sys"
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs "$ROOT/run" || die "cannot mount /run"
mkdir -p -m 1777 "$ROOT/run/lock"
mount --bind "$ARCHIVES" "$ROOT/var/cache/apt/archives" || die "cannot bind the apt archive cache"
say "fresh root $ROOT ready in $(dur $(($(date +%s) - t0)))"

# run_in NAME COMMAND: COMMAND in the root, in /root/coldplug, as root with
# a login-like environment, in its own PID and mount namespace.
run_in() {
	local name=$1 cmd=$2 log="$LOGS/${1// /-}.log" t rc summary
	say "running '$cmd' in the fresh root (log: $log)"
	t=$(date +%s)
	unshare --pid --kill-child --mount-proc="$ROOT/proc" \
		chroot "$ROOT" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb USER=root LOGNAME=root \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		/bin/sh -c "cd /root/coldplug && $cmd" </dev/null >"$log" 2>&1 9>&- &
	RUNPID=$!
	tail -n +1 -f --pid="$RUNPID" "$log"
	wait "$RUNPID"
	rc=$?
	RUNPID=""
	summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	results+=("$name|$rc|$(($(date +%s) - t))|$summary")
	say "'$cmd': exit status $rc after $(dur $(($(date +%s) - t)))"
	return "$rc"
}

# What a new user has before typing `make demo`: the clone (git is not
# installed here: scripts/deps.sh check must bring it for the style checks)
# and make, which a minbase root, like a fresh Debian 12, lacks.
stage="apt-get install make"
run_in "make itself" "apt-get update -q && DEBIAN_FRONTEND=noninteractive \
apt-get install -y -q --no-install-recommends make" ||
	die "make cannot be installed in the root"
stage="make demo"
run_in "make demo" "make demo"
stage="make check"
run_in "make check" "make check"
stage="done"
exit 0
}

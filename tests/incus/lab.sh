#!/bin/bash
# tests/incus/lab.sh: real Incus (Debian's 6.0 LTS from bookworm-backports) for
# the test suite, without touching the host's Incus, apt sources or packages.
#
#   lab.sh fetch                 download and unpack Incus into $COLDPLUG_CACHE/incus
#   lab.sh start STATE           start incusd with its state in STATE/incus; writes STATE/env
#   lab.sh stop STATE            stop every instance, incusd and what start made
#
# What stays private:
#   * Incus's packages (incus-base, incus-client, incus-agent, libcowsql0,
#     libraft0: the ones bookworm lacks) are fetched with a private apt
#     configuration, as tests/qemu/fetch-qemu.sh does for QEMU, and unpacked
#     with dpkg-deb -x. Their bookworm dependencies (liblxc1, ovmf, ...) are
#     ordinary Debian packages that scripts/deps.sh installs.
#   * incusd runs with INCUS_DIR=STATE/incus: its database, storage pool (a dir
#     pool), logs and sockets live there, and stop.sh removes the lot. No
#     managed network: the tests' NICs are nictype=bridged on bridges they make.
#   * QEMU is bookworm-backports' 10.0 (tests/qemu/fetch-qemu.sh, with the spice
#     and opengl modules Incus's -spice needs), through STATE/bin first in
#     incusd's PATH; the system QEMU 7.2 stays as it is.
#
# The sandbox workarounds (tests/incus/README.md says why each one exists) are
# applied only where this machine needs them; each is detected here and listed
# in STATE/workarounds. A host with usable KVM and vhost_vsock needs none.
set -euo pipefail

PROG=incus-lab
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
CACHE=${COLDPLUG_CACHE:-${HOME:-/root}/.cache/coldplug}
ICACHE=$CACHE/incus
SUITE=bookworm-backports
MIRROR=${COLDPLUG_DEBIAN_MIRROR:-http://deb.debian.org/debian}
PKGS=(incus-base incus-client incus-agent libcowsql0 libraft0)

die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
note() { printf '%s: %s\n' "$PROG" "$*" >&2; }

# fetch: the Incus packages into ICACHE/debs, unpacked into ICACHE/root.
fetch() {
	local apt=$ICACHE/apt debs=$ICACHE/debs root=$ICACHE/root missing=() p f stamp
	mkdir -p "$debs"
	for p in "${PKGS[@]}"; do
		ls "$debs/${p}"_*.deb >/dev/null 2>&1 || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		note "downloading ${missing[*]} from $SUITE"
		mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
		printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' \
			"$MIRROR" "$SUITE" >"$apt/sources.list"
		: >"$apt/status"
		local o=(-o "Dir::Etc::sourcelist=$apt/sources.list" -o "Dir::Etc::sourceparts=-"
			-o "Dir::State::Lists=$apt/lists" -o "Dir::State::status=$apt/status"
			-o "Dir::Cache=$apt/cache" -o "APT::Sandbox::User=root")
		apt-get -q "${o[@]}" update >&2 || die "apt-get update failed for $SUITE (private config in $apt)"
		local specs=()
		for p in "${missing[@]}"; do specs+=("$p/$SUITE"); done
		(cd "$debs" && apt-get -q "${o[@]}" download "${specs[@]}" >&2) ||
			die "apt-get download failed for ${missing[*]}"
	fi
	stamp=$(cd "$debs" && ls -- *.deb)
	if [ -f "$root/.unpacked" ] && [ "$(cat "$root/.unpacked")" = "$stamp" ]; then
		return 0
	fi
	rm -rf "$root"
	mkdir -p "$root"
	for f in "$debs"/*.deb; do dpkg-deb -x "$f" "$root" || die "dpkg-deb -x $f failed"; done
	printf '%s\n' "$stamp" >"$root/.unpacked"
	local lib=$root/usr/lib/x86_64-linux-gnu
	if LD_LIBRARY_PATH=$lib ldd "$root/usr/libexec/incus/incusd" | grep -q 'not found'; then
		LD_LIBRARY_PATH=$lib ldd "$root/usr/libexec/incus/incusd" | grep 'not found' >&2
		die "incusd lacks the libraries above: run scripts/deps.sh check (liblxc1, libuv1, ...)"
	fi
	note "Incus $(dpkg-deb -f "$debs"/incus-base_*.deb Version) unpacked in $root"
}

# kvm_usable: whether QEMU can run Incus's VMs with KVM here. /dev/kvm alone
# does not say: this sandbox has a kvm_pvm /dev/kvm that runs only PVM guest
# kernels, not OVMF. VMX/SVM hardware KVM is kvm_intel or kvm_amd.
kvm_usable() {
	[ -e /dev/kvm ] && { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }
}

# vsock_host_bindable: whether incusd can listen on vsock CID 2 (the host's),
# which needs a host-side transport (vhost_vsock). A machine that is itself a
# VM guest (vmw_vsock_virtio_transport only) gets EADDRNOTAVAIL.
vsock_host_bindable() {
	python3 - <<'EOF'
import socket, sys
try:
    s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    s.bind((2, socket.VMADDR_PORT_ANY))
except OSError:
    sys.exit(1)
EOF
}

start() {
	local state=$1 w=() incusd bin=$1/bin pid
	fetch
	mkdir -p "$state/incus" "$bin" "$state/vsock"
	state=$(cd "$state" && pwd)
	bin=$state/bin
	STATE=$state
	: >"$state/workarounds"
	local qemu
	qemu=$("$SRC/tests/qemu/fetch-qemu.sh" --cache "$ICACHE/qemu" \
		--extra qemu-system-modules-spice --extra qemu-system-modules-opengl) ||
		die "fetching QEMU 10.0 failed"
	# Every wrapper is generated from its file in tests/incus/bin, with what it
	# must know written into it (incusd re-executes itself with a clean env).
	install -m 0755 "$HERE/bin/qemu-system-x86_64" "$bin/qemu-system-x86_64"
	sed -i "s|@QEMU@|$qemu|; s|@LOG@|$state/qemu-wrapper.log|" "$bin/qemu-system-x86_64"
	if kvm_usable; then
		sed -i 's|@TCG@|0|' "$bin/qemu-system-x86_64"
	else
		sed -i 's|@TCG@|1|' "$bin/qemu-system-x86_64"
		w+=("tcg: no usable KVM (/dev/kvm missing, or not kvm_intel/kvm_amd): QEMU gets -accel tcg")
		# Incus only stat()s /dev/kvm (driver_qemu.go Info()); QEMU never opens it here.
		if [ ! -e /dev/kvm ]; then
			mknod -m 0600 /dev/kvm c 10 232
			touch "$state/dev-kvm.created"
			w+=("dev-kvm: no /dev/kvm: a node that Incus stats and nobody opens")
		fi
	fi

	incusd=$ICACHE/root/usr/libexec/incus/incusd
	if ! vsock_host_bindable; then
		python3 "$HERE/patch-incusd.py" "$incusd" "$state/incusd" >/dev/null ||
			die "cannot patch incusd's vsock listener (see tests/incus/patch-incusd.py)"
		incusd=$state/incusd
		w+=("vsock-cid: this machine is a vsock guest: incusd's agent listener binds VMADDR_CID_ANY")
	fi

	if [ ! -e /dev/vhost-vsock ] && ! modprobe -q vhost_vsock 2>/dev/null; then
		cc -O2 -Wall -o "$state/fake-vhost-vsock" "$HERE/fake-vhost-vsock.c" \
			$(pkg-config --cflags --libs fuse3) || die "building fake-vhost-vsock failed (libfuse3-dev)"
		setsid "$state/fake-vhost-vsock" "$state/vsock" -f >"$state/fake-vsock.log" 2>&1 </dev/null &
		echo $! >"$state/fake-vsock.pid"
		for _ in $(seq 50); do [ -e "$state/vsock/vhost-vsock" ] && break; sleep 0.1; done
		[ -e "$state/vsock/vhost-vsock" ] || die "fake-vhost-vsock did not mount"
		ln -s "$state/vsock/vhost-vsock" /dev/vhost-vsock
		touch "$state/dev-vhost-vsock.created"
		install -m 0755 "$HERE/bin/modprobe" "$bin/modprobe"
		sed -i 's|@TCG@|1|' "$bin/qemu-system-x86_64"
		sed -i 's|^DROP_VSOCK=.*|DROP_VSOCK=1|' "$bin/qemu-system-x86_64"
		w+=("vhost-vsock: no vhost_vsock: a FUSE /dev/vhost-vsock, modprobe answers for it, QEMU gets no vsock device")
	fi

	# The suite's VMs have up to 4 vCPUs; Incus sizes maxcpus by the host.
	if [ "$(nproc)" -lt 4 ]; then
		sed -i 's|^MAXCPUS=.*|MAXCPUS=4|' "$bin/qemu-system-x86_64"
		w+=("maxcpus: this host has $(nproc) CPUs and Incus refuses limits.cpu above QEMU's maxcpus (the host's count): QEMU gets maxcpus=4")
	fi

	local execpath=$incusd
	if ! prlimit --memlock=unlimited:unlimited true 2>/dev/null; then
		install -m 0755 "$HERE/bin/incusd-exec" "$bin/incusd-exec"
		sed -i "s|@INCUSD@|$incusd|" "$bin/incusd-exec"
		execpath=$bin/incusd-exec
		w+=("memlock: root lacks CAP_SYS_RESOURCE: incusd forklimits drops limit=memlock")
	fi
	printf '%s\n' "${w[@]}" >"$state/workarounds"

	cat >"$state/env" <<EOF
INCUS_DIR=$state/incus
PATH=$bin:$ICACHE/root/usr/bin:$ICACHE/root/usr/libexec/incus:/usr/sbin:/usr/bin:/sbin:/bin
LD_LIBRARY_PATH=$ICACHE/root/usr/lib/x86_64-linux-gnu
INCUS_EXEC_PATH=$execpath
INCUS_AGENT_PATH=$ICACHE/root/usr/libexec/incus
INCUS_SKIP_INSTANCE_TYPES=true
INCUS_EDK2_PATH=/usr/share/OVMF
EOF
	(
		set -a
		. "$state/env"
		set +a
		exec setsid "$incusd" --group root --logfile="$state/incusd.log" >"$state/incusd.out" 2>&1 </dev/null
	) &
	pid=$!
	echo "$pid" >"$state/incusd.pid"
	for _ in $(seq 120); do
		kill -0 "$pid" 2>/dev/null || { tail -20 "$state/incusd.log" "$state/incusd.out" >&2; die "incusd (pid $pid) exited"; }
		if [ -S "$state/incus/unix.socket" ] && lab_incus query /1.0 >/dev/null 2>&1; then
			lab_incus admin init --preseed <"$HERE/preseed.yaml" ||
				die "incus admin init --preseed failed"
			note "incusd ready: pid $pid, state $state"
			return 0
		fi
		sleep 1
	done
	die "incusd (pid $pid) not ready after 120 s"
}

# lab_incus ARGS: the incus client against STATE's incusd.
lab_incus() {
	(set -a; . "$STATE/env"; set +a; exec timeout 120 incus "$@")
}

stop_pid() { # NAME PIDFILE
	local pid
	[ -s "$2" ] || return 0
	pid=$(cat "$2")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
		if kill -0 "$pid" 2>/dev/null; then
			note "$1 (pid $pid) ignored SIGTERM for 30 s: SIGKILL"
			kill -KILL "$pid"
		fi
	fi
	rm -f "$2"
}

stop() {
	local state=$1 vm
	[ -d "$state" ] || return 0
	if [ -s "$state/incusd.pid" ] && kill -0 "$(cat "$state/incusd.pid")" 2>/dev/null; then
		for vm in $(lab_incus list --format csv -c n 2>/dev/null); do
			lab_incus stop --force "$vm" >/dev/null 2>&1 || true
			lab_incus delete --force "$vm" >/dev/null 2>&1 || true
		done
		lab_incus admin shutdown --force >/dev/null 2>&1 &
		local sd=$!
		for _ in $(seq 60); do kill -0 "$(cat "$state/incusd.pid")" 2>/dev/null || break; sleep 0.5; done
		kill "$sd" 2>/dev/null || true
		wait "$sd" 2>/dev/null || true
	fi
	stop_pid incusd "$state/incusd.pid"
	stop_pid fake-vhost-vsock "$state/fake-vsock.pid"
	mountpoint -q "$state/vsock" && umount "$state/vsock"
	[ -e "$state/dev-vhost-vsock.created" ] && rm -f /dev/vhost-vsock
	[ -e "$state/dev-kvm.created" ] && rm -f /dev/kvm
	# Incus's own mounts under its state (the dir pool's, shmounts, guestapi).
	findmnt -rn -o TARGET | grep -F "$state/" | sort -r | while read -r m; do umount -l "$m"; done
	rm -rf "$state"
}

case "${1:-}" in
fetch) fetch ;;
start) [ $# -eq 2 ] || die "usage: lab.sh start STATE"; STATE=$2; start "$2" ;;
stop) [ $# -eq 2 ] || die "usage: lab.sh stop STATE"; STATE=$2; stop "$2" ;;
*) die "usage: lab.sh fetch | start STATE | stop STATE" ;;
esac

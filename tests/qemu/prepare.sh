#!/bin/bash
# prepare.sh BUILD_DIR: get the real-QEMU lab ready and write BUILD_DIR/lab.env.
#
#   COLDPLUG_QEMU_7_2      the system QEMU (/usr/bin/qemu-system-x86_64, Debian 7.2)
#   COLDPLUG_QEMU_10_0     QEMU 10.0 from bookworm-backports (tests/qemu/fetch-qemu.sh wrapper)
#   COLDPLUG_GUEST_KERNEL  the test guest's kernel    (tests/qemu/guest/build-guest.sh)
#   COLDPLUG_GUEST_INITRD  the test guest's initramfs
#   COLDPLUG_CPTRAFFIC     the static traffic tool meson built (BUILD_DIR/tests/qemu/lab/cptraffic)
#
# Downloads go to $COLDPLUG_CACHE (default ~/.cache/coldplug): qemu/ for QEMU
# 10.0, guest/ for the kernel and busybox .debs. Both helpers reuse what is
# cached, so a warm run makes no network access and takes about a second.
# The lab tests find lab.env through $COLDPLUG_LAB_ENV (meson sets it).
# lab.env is replaced atomically, and only after every step succeeded.
set -euo pipefail

PROG=prepare.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
note() { printf '%s: %s\n' "$PROG" "$*" >&2; }

usage() {
	cat <<'EOF'
usage: tests/qemu/prepare.sh BUILD_DIR

Prepares the real-QEMU lab for the meson build in BUILD_DIR (configured with
-Dqemu_tests=true): builds cptraffic if needed, fetches QEMU 10.0, builds the
test guest, and writes BUILD_DIR/lab.env. Cache: $COLDPLUG_CACHE
(default ~/.cache/coldplug). Run as root (the lab tests need network
namespaces and taps).
EOF
}

[ $# -eq 1 ] || { usage >&2; exit 2; }
case "$1" in -h | --help) usage; exit 0 ;; esac

BUILD=$1
[ -f "$BUILD/build.ninja" ] || die "'$BUILD' is not a configured meson build directory (run meson setup first)"
BUILD=$(cd "$BUILD" && pwd)
CACHE=${COLDPLUG_CACHE:-${HOME:-/root}/.cache/coldplug}
mkdir -p "$CACHE" || die "cannot create the cache directory $CACHE"

QEMU72=/usr/bin/qemu-system-x86_64
[ -x "$QEMU72" ] || die "$QEMU72 not found: install Debian's qemu-system-x86 (7.2)"
command -v qemu-img >/dev/null || die "qemu-img not found: install qemu-utils"

# The static traffic tool: meson builds it; build just that target if the
# caller has not built the tree yet.
CPTRAFFIC=$BUILD/tests/qemu/lab/cptraffic
if ! ninja -C "$BUILD" tests/qemu/lab/cptraffic >"$BUILD/prepare-cptraffic.log" 2>&1; then
	cat "$BUILD/prepare-cptraffic.log" >&2
	die "building cptraffic failed (is the build configured with -Dqemu_tests=true?)"
fi
[ -x "$CPTRAFFIC" ] || die "$CPTRAFFIC missing after the build"

QEMU100=$("$HERE/fetch-qemu.sh" --cache "$CACHE/qemu") || die "fetching QEMU 10.0 failed (see above)"
[ -x "$QEMU100" ] || die "fetch-qemu.sh printed '$QEMU100', which is not executable"

"$HERE/guest/build-guest.sh" --cache "$CACHE/guest" --traffic "$CPTRAFFIC" --out-dir "$BUILD/guest" ||
	die "building the test guest failed (see above)"
KERNEL=$BUILD/guest/vmlinuz
INITRD=$BUILD/guest/initramfs.cpio.gz
[ -s "$KERNEL" ] && [ -s "$INITRD" ] || die "the guest build left no $KERNEL / $INITRD"

{
	printf 'COLDPLUG_QEMU_7_2=%s\n' "$QEMU72"
	printf 'COLDPLUG_QEMU_10_0=%s\n' "$QEMU100"
	printf 'COLDPLUG_GUEST_KERNEL=%s\n' "$KERNEL"
	printf 'COLDPLUG_GUEST_INITRD=%s\n' "$INITRD"
	printf 'COLDPLUG_CPTRAFFIC=%s\n' "$CPTRAFFIC"
} >"$BUILD/lab.env.tmp"
mv -f "$BUILD/lab.env.tmp" "$BUILD/lab.env"
note "wrote $BUILD/lab.env"

#!/bin/sh
# Make sure the Debian packages a make target needs are installed.
#   scripts/deps.sh [--no-install] GROUP...    GROUP: build check demo fuzz fresh deb
# As root, missing packages are installed with apt-get; otherwise, or with
# --no-install (what plain `make` uses: it never runs apt-get behind the
# user's back), the script names them and fails. Nothing else is ever
# downloaded by this script. Run it before meson configures a build
# directory: optional parts (the Starlark runner) are looked for then.
set -eu

install=yes
if [ "${1:-}" = "--no-install" ]; then
	install=no
	shift
fi

pkgs_build="meson ninja-build pkg-config gcc libc6-dev libjson-c-dev libyaml-dev"
# check: a clang build with sanitizers, style checks, the real-QEMU lab (QEMU,
# the tools that build the test guest and its network), the plist parser, and
# Go with the Starlark interpreter Incus uses (for the scriptlet stub tests),
# and git (the style checks list the C files with git ls-files).
pkgs_check="clang libclang-rt-14-dev clang-format qemu-system-x86 qemu-utils iproute2 \
cpio kmod gzip iputils-ping libplist-utils golang-go golang-starlark-dev cppcheck clang-tidy git"
pkgs_demo="qemu-system-x86 qemu-utils iproute2 cpio kmod gzip iputils-ping golang-go golang-starlark-dev"
pkgs_fuzz="clang libclang-rt-14-dev"
# fresh: make check-fresh (scripts/check-fresh.sh) builds a Debian root.
pkgs_fresh="debootstrap git"
# deb: make deb (scripts/deb.sh): debian/control's Build-Depends beyond the
# build group, dpkg-buildpackage, lintian, and git to copy the tree.
pkgs_deb="debhelper dpkg-dev build-essential fakeroot lintian python3 git"
# check: the man page test (tests/style/check-man.sh) renders with man-db,
# and the real-Incus suite installs the package scripts/deb.sh builds.
pkgs_check="$pkgs_check man-db $pkgs_deb"
# check: the real-Incus suite (tests/incus). Incus itself comes from
# bookworm-backports through a private apt configuration (tests/incus/lab.sh);
# these are its bookworm dependencies (incusd's libraries, the UEFI firmware,
# what incusd runs), libfuse3 for the stand-in /dev/vhost-vsock where the
# machine has none, and the tools the suite uses (script, setpriv: util-linux;
# sysctl: procps, which a minbase root lacks).
pkgs_incus="liblxc1 libuv1 liblz4-1 libsqlite3-0 libacl1 libudev1 ovmf attr rsync \
squashfs-tools xz-utils acl fuse3 libfuse3-dev python3 util-linux iproute2 iputils-ping genisoimage procps"
pkgs_check="$pkgs_check $pkgs_incus"

want=""
for group in "$@"; do
	case "$group" in
	build) want="$want $pkgs_build" ;;
	check) want="$want $pkgs_build $pkgs_check" ;;
	demo) want="$want $pkgs_build $pkgs_demo" ;;
	fuzz) want="$want $pkgs_build $pkgs_fuzz" ;;
	fresh) want="$want $pkgs_fresh" ;;
	deb) want="$want $pkgs_build $pkgs_deb" ;;
	*) echo "deps.sh: unknown group '$group' (build, check, demo, fuzz, fresh, deb)" >&2; exit 2 ;;
	esac
done

missing=""
for p in $want; do
	case " $missing " in *" $p "*) continue ;; esac
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$install" = no ]; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo "
	echo "coldplug needs these Debian packages, which are not installed:$missing" >&2
	echo "Install them with:  ${sudo}apt-get install --no-install-recommends$missing" >&2
	echo "(or run '${sudo}make demo' or '${sudo}make check', which install what they need)" >&2
	exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "coldplug needs these Debian packages, which are not installed:$missing" >&2
	echo "Install them with:  sudo apt-get install --no-install-recommends$missing" >&2
	echo "(or run this make target as root, and it installs them itself)" >&2
	exit 1
fi
echo "Installing missing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
# Wait for another apt or dpkg run (up to 10 minutes) instead of failing.
lock="-o DPkg::Lock::Timeout=600"
if ! apt-get install -y -q $lock --no-install-recommends $missing; then
	apt-get update -q $lock
	apt-get install -y -q $lock --no-install-recommends $missing
fi

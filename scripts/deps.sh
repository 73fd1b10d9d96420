#!/bin/sh
# Make sure the Debian packages a make target needs are installed.
#   scripts/deps.sh GROUP...    GROUP: build check demo fuzz
# As root, missing packages are installed with apt-get; otherwise the script
# names them and fails. Nothing else is ever downloaded by this script.
set -eu

pkgs_build="meson ninja-build pkg-config gcc libc6-dev libjson-c-dev libyaml-dev"
# check: a clang build with sanitizers, style checks, the real-QEMU lab (QEMU,
# the tools that build the test guest and its network), the plist parser, and
# Go with the Starlark interpreter Incus uses (for the scriptlet stub tests).
pkgs_check="clang libclang-rt-14-dev clang-format qemu-system-x86 qemu-utils iproute2 \
cpio kmod gzip iputils-ping libplist-utils golang-go golang-starlark-dev cppcheck clang-tidy"
pkgs_demo="qemu-system-x86 qemu-utils iproute2 cpio kmod gzip iputils-ping golang-go golang-starlark-dev"
pkgs_fuzz="clang libclang-rt-14-dev"

want=""
for group in "$@"; do
	case "$group" in
	build) want="$want $pkgs_build" ;;
	check) want="$want $pkgs_build $pkgs_check" ;;
	demo) want="$want $pkgs_build $pkgs_demo" ;;
	fuzz) want="$want $pkgs_build $pkgs_fuzz" ;;
	*) echo "deps.sh: unknown group '$group' (build, check, demo, fuzz)" >&2; exit 2 ;;
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

if [ "$(id -u)" -ne 0 ]; then
	echo "coldplug needs these Debian packages, which are not installed:$missing" >&2
	echo "Install them with:  sudo apt-get install --no-install-recommends$missing" >&2
	echo "(or run this make target as root, and it installs them itself)" >&2
	exit 1
fi
echo "Installing missing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q --no-install-recommends $missing; then
	apt-get update -q
	apt-get install -y -q --no-install-recommends $missing
fi

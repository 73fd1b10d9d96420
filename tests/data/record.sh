#!/bin/sh
# Re-record the QMP transcripts in this directory from a real QEMU.
#
#   tests/data/record.sh BUILDDIR [NAME...]
#
# BUILDDIR is a meson build directory of coldplug (it holds the recorder,
# tests/unit/qmp-record). NAME is a transcript without .qmp (default: all of
# them). QEMU defaults to /usr/bin/qemu-system-x86_64 (set $QEMU to change).
# For each NAME, QEMU is started paused under TCG with the command line
# written at the top of NAME.qmp, NAME.script is run over one QMP connection,
# and NAME.qmp is rewritten. Every QEMU runs under timeout(1) and is reaped.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: record.sh BUILDDIR [NAME...]}
shift
rec=$build/tests/unit/qmp-record
qemu=${QEMU:-/usr/bin/qemu-system-x86_64}
[ -x "$rec" ] || { echo "record.sh: $rec not built (ninja -C $build)" >&2; exit 1; }
tmp=$(mktemp -d /tmp/coldplug-record.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
truncate -s 64M "$tmp/disk.img"
[ $# -gt 0 ] || set -- basic inventory device-del errors hmp fdpass

base="-S -machine q35 -nodefaults -no-user-config -display none -accel tcg"
# Incus cold-plugs its PCIe root ports and hot-plugs devices into them; with
# ACPI hotplug on bridges off, device_del completes without a guest.
ports="-global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off"
ports="$ports -device pcie-root-port,id=rp1,bus=pcie.0,chassis=1,addr=0x4"

# extra_args NAME: what NAME needs beyond the base command line
extra_args() {
	case $1 in
	inventory | device-del | hmp) echo "$ports" ;;
	*) echo "" ;;
	esac
}

# record NAME: run QEMU, the recorder, and write NAME.qmp
record() {
	name=$1
	sock=$tmp/qmp
	args="$base $(extra_args "$name")"
	args="${args% } -qmp unix:$sock,server=on,wait=off"
	rm -f "$sock"
	sed "s#DISK#$tmp/disk.img#g" "$here/$name.script" >"$tmp/$name.script"
	# shellcheck disable=SC2086 # $args is a word list
	timeout 60 "$qemu" $args >"$tmp/$name.log" 2>&1 &
	pid=$!
	rc=0
	"$rec" "$sock" "$tmp/$name.script" "$tmp/$name.out" || rc=$?
	kill "$pid" 2>/dev/null || true
	wait "$pid" || true
	if [ "$rc" -ne 0 ]; then
		cat "$tmp/$name.log" >&2
		echo "record.sh: recording $name failed" >&2
		exit 1
	fi
	{
		echo "# Recorded by tests/data/record.sh from $("$qemu" --version | head -n 1)"
		echo "# qemu-system-x86_64 $args" | sed "s#$tmp#/tmp/rec#g"
		sed "s#$tmp#/tmp/rec#g" "$tmp/$name.out"
	} >"$here/$name.qmp"
	echo "record.sh: wrote $here/$name.qmp ($(grep -c '^[<>]' "$here/$name.qmp") messages)" >&2
}

for name in "$@"; do
	record "$name"
done

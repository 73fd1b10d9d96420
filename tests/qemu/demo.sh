#!/bin/sh
# make demo: coldplug at work on a throwaway VM.
#
#   tests/qemu/demo.sh BUILD_DIR
#
# A VM is started the way Incus starts one (the lab's Incus emulator over
# real QEMU, a Linux test guest under TCG): a root disk, a data disk, an ISO
# and a NIC, all hot-plugged onto PCIe root ports while the VM is paused.
# First without coldplug, then with the profile `coldplug incus-profile`
# prints and `coldplug serve` running; each time the guest reports what it
# sees, and the second time it is pinged 1000 times from the test network.
# Everything runs in network namespaces the demo creates and deletes; the
# host's own interfaces are never touched.
set -eu

PROG=demo
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: tests/qemu/demo.sh BUILD_DIR"
BUILD=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] ||
	die "the demo needs root: it creates network namespaces and taps for its throwaway VM (run 'sudo make demo')"

CP=$BUILD/src/coldplug
EMU=$BUILD/tests/qemu/lab/incus-emu
[ -x "$CP" ] && [ -x "$EMU" ] || die "$CP or $EMU is missing: run 'make' first"

echo "== Preparing the lab (QEMU 10.0 and the test guest are fetched once into ~/.cache/coldplug)"
"$HERE/prepare.sh" "$BUILD" >"$BUILD/demo-prepare.log" 2>&1 ||
	{ cat "$BUILD/demo-prepare.log" >&2; die "tests/qemu/prepare.sh failed (output above)"; }
export COLDPLUG_LAB_ENV="$BUILD/lab.env"

dir=$(mktemp -d /tmp/coldplug-demo.XXXXXX)
daemon=""
cleanup() {
	if [ -n "$daemon" ]; then
		kill "$daemon" 2>/dev/null || true
		wait "$daemon" 2>/dev/null || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

VM="--qemu 7.2 --name demo --vcpus 2 --disk root:scsi:64M --disk data:virtio-blk:32M --iso iso:4M --nic eth0:virtio"

# show REPORT: the guest's disks and NICs, and where each one sits.
show() {
	awk '
	function where(path,   a) {
		if (match(path, /^pci0000:00\/0000:00:1f\.2\//))
			return "q35 AHCI, built in"
		if (match(path, /^pci0000:00\/0000:00:[0-9a-f][0-9a-f]\.[0-7]\/0000:/)) {
			a = substr(path, 20, 4)
			return "behind PCIe root port 00:" a ", hot-plugged"
		}
		if (match(path, /^pci0000:00\/0000:00:[0-9a-f][0-9a-f]\.[0-7]\//)) {
			a = substr(path, 20, 4)
			return "pcie.0 slot " a ", cold-plugged"
		}
		return path
	}
	function val(k,   i, kv) {
		for (i = 2; i <= NF; i++) {
			split($i, kv, "=")
			if (kv[1] == k)
				return substr($i, length(k) + 2)
		}
		return "-"
	}
	$1 == "blk" && val("size") != "0" {
		printf "  disk %-8s %6.1f MiB  %-10s serial %-16s %s\n", val("name"),
		       val("size") / 1048576, val("driver"), val("serial"), where(val("path"))
	}
	$1 == "net" {
		printf "  NIC  %-8s MAC %s  %-10s %s\n", val("name"), val("mac"), val("driver"),
		       where(val("path"))
	}
	$1 == "ping" { print "  " $0 }
	' "$1"
}

echo
echo "== 1. The VM as Incus starts it, without coldplug"
echo "   Incus hot-plugs every disk and NIC onto PCIe root ports while the VM is paused."
echo "   Linux sees them; macOS, which has no PCI hotplug, would see none of them."
# shellcheck disable=SC2086
"$EMU" $VM --report >"$dir/before.txt" 2>"$dir/before.err" ||
	{ cat "$dir/before.err" >&2; die "the VM without coldplug did not start"; }
show "$dir/before.txt"

echo
echo "== 2. The same VM with coldplug: its profile, and the daemon QEMU dials"
"$CP" incus-profile --socket "$dir/coldplug.sock" --qemu-version 7.2 >"$dir/profile.yaml"
"$CP" incus-profile --check "$dir/profile.yaml" --socket "$dir/coldplug.sock" >/dev/null
echo "   coldplug incus-profile > profile.yaml     (checked: coldplug incus-profile --check)"
"$CP" serve --socket "$dir/coldplug.sock" >"$dir/serve.log" 2>&1 &
daemon=$!
for _ in $(seq 50); do [ -S "$dir/coldplug.sock" ] && break; sleep 0.1; done
[ -S "$dir/coldplug.sock" ] || { cat "$dir/serve.log" >&2; die "coldplug serve did not start"; }
echo "   coldplug serve --socket ...               (pid $daemon)"
# shellcheck disable=SC2086
"$EMU" $VM --profile "$dir/profile.yaml" --report --ping 1000 >"$dir/after.txt" 2>"$dir/after.err" ||
	{ cat "$dir/after.err" "$dir/serve.log" >&2; die "the VM with coldplug did not start"; }
echo
echo "   What the daemon did (while the VM was paused, before Incus's cont):"
sed -n 's/^coldplug: vm [^:]*: /     /p' "$dir/serve.log" | grep -v "connected\|closed its monitor" || true
echo "   What the scriptlet told Incus:"
grep -o 'coldplug: done: [^"]*' "$dir/after.err" "$dir/after.txt" 2>/dev/null | sed 's/^[^:]*:/     /' | head -1
echo
echo "   What the guest sees now:"
show "$dir/after.txt"
echo
if grep -q "^ping .* loss 0.0%" "$dir/after.txt"; then
	echo "== Done: every disk and the NIC are on cold-plugged frontends, on Incus's own block"
	echo "   nodes and tap, and the guest answered every ping."
else
	die "the guest lost pings through the re-homed NIC (see above)"
fi

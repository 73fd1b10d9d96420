#!/bin/bash
# tests/incus/test_incus.sh: coldplug against real Incus (Debian's 6.0 LTS, as
# tests/incus/lab.sh runs it), used as a user uses it: the profile from
# `coldplug incus-profile`, `coldplug serve` run as the shipped unit runs it,
# and the `incus` client. Prints TAP.
#
#   COLDPLUG_LAB_ENV=BUILD/lab.env tests/incus/test_incus.sh COLDPLUG.deb [SCENARIO...]
#
# coldplug comes from its Debian package (`make deb`), unpacked as dpkg would
# install it: the binary and the systemd unit the daemon is run as. (A bare
# binary works too, with COLDPLUG_UNIT naming a unit file, for debugging.) Scenarios (default: all): disks-nic-2,
# disks-nic-4, usb-nics, restart, lifecycle, no-daemon, baseline-usb,
# baseline-seed, live-attach. COLDPLUG_INCUS_RECORD=DIR
# keeps Incus's qemu.conf and QMP log of the disks-nic VMs there. Each VM runs the
# project's Linux test guest (tests/qemu/guest) through raw.qemu -kernel.
#
# Network: one bridge with no address (cpinc<pid>), a veth from it into a
# network namespace that holds the only addresses (10.91.0.1/24, the guests
# 10.91.0.1x); nothing else. Everything started here is stopped by pid, and
# the bridge, the namespace and Incus's state are removed on every exit path.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PKG=${1:?usage: test_incus.sh COLDPLUG.deb|COLDPLUG [SCENARIO...]}
shift
SCENARIOS=${*:-disks-nic-2 disks-nic-4 usb-nics restart lifecycle no-daemon baseline-usb baseline-seed live-attach}
[ -n "${COLDPLUG_LAB_ENV:-}" ] && [ -r "$COLDPLUG_LAB_ENV" ] ||
	{ echo "Bail out! COLDPLUG_LAB_ENV names no lab.env (run tests/qemu/prepare.sh BUILD)"; exit 1; }
# shellcheck disable=SC1090
. "$COLDPLUG_LAB_ENV"

T=0
FAILED=0
ok() { # COND-STATUS DESCRIPTION
	T=$((T + 1))
	if [ "$1" -eq 0 ]; then echo "ok $T - $2"; else echo "not ok $T - $2"; FAILED=$((FAILED + 1)); fi
}
check() { # DESCRIPTION COMMAND...: ok if COMMAND succeeds; its output is
	# shown (as diagnostics) only when it fails
	local d=$1 rc
	shift
	"$@" >"$RUN/check.out" 2>&1
	rc=$?
	ok $rc "$d"
	[ $rc -eq 0 ] || sed 's/^/#   /' "$RUN/check.out"
}
diag() { printf '# %s\n' "$*"; }

RUN=$(mktemp -d /tmp/cp-incus.XXXXXX)
chmod 0755 "$RUN"
STATE=$RUN/lab
BR=cpinc$$
NS=cpinc$$
SERVE_PID=""
SOCK=/run/coldplug/coldplug.sock

inc() { (set -a; . "$STATE/env"; set +a; exec timeout "${INC_TIMEOUT:-180}" incus "$@"); }

cleanup() {
	stop_serve
	"$HERE/lab.sh" stop "$STATE" >/dev/null 2>&1
	ip netns del "$NS" 2>/dev/null
	ip link del "$BR" 2>/dev/null
	ip link del "${BR}v" 2>/dev/null
	rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ daemon

# start_serve [privileged]: coldplug serve as coldplug.service runs it: its
# ExecStart, User and Group, RuntimeDirectory (mode, owner), UMask and
# capability bounding set, read from the unit the package installs. No
# systemd here: this does what systemd would. The package's sysusers entry
# creates user coldplug when it is installed; unpacked here, a free uid
# stands in for it. "privileged" applies the README's drop-in instead
# (User=root, CAP_NET_ADMIN and CAP_SYS_PTRACE), for the NICs that need it.
start_serve() {
	local exec caps rtdir rtmode umask user uid
	exec=$(sed -n 's/^ExecStart=//p' "$UNIT" | sed "s|^[^ ]*/coldplug |$CP |")
	caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT")
	user=$(sed -n 's/^User=//p' "$UNIT")
	rtdir=/run/$(sed -n 's/^RuntimeDirectory=//p' "$UNIT")
	rtmode=$(sed -n 's/^RuntimeDirectoryMode=//p' "$UNIT")
	umask=$(sed -n 's/^UMask=//p' "$UNIT")
	if [ "${1:-}" = privileged ]; then
		user=root caps="CAP_NET_ADMIN CAP_SYS_PTRACE"
	fi
	uid=$(getent passwd "${user:-root}" | cut -d: -f3)
	if [ -z "$uid" ]; then
		uid=64999
		while getent passwd "$uid" >/dev/null; do uid=$((uid - 1)); done
	fi
	caps=$(printf '%s' "$caps" | tr 'A-Z ' 'a-z,' | sed 's/cap_/+/g')
	mkdir -p "$rtdir" && chmod "${rtmode:-0755}" "$rtdir" && chown "$uid:$uid" "$rtdir"
	# shellcheck disable=SC2086
	(umask "${umask:-0022}"; exec setsid setpriv --reuid "$uid" --regid "$uid" --clear-groups \
		--bounding-set "-all${caps:+,$caps}" --inh-caps "-all" $exec --verbose) \
		>>"$RUN/serve.log" 2>&1 </dev/null &
	SERVE_PID=$!
	for _ in $(seq 50); do grep -q "listening on" "$RUN/serve.log" 2>/dev/null && return 0; sleep 0.1; done
	echo "Bail out! coldplug serve did not start: $(tail -3 "$RUN/serve.log")"
	exit 1
}

stop_serve() {
	[ -n "$SERVE_PID" ] || return 0
	kill -TERM "$SERVE_PID" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$SERVE_PID" 2>/dev/null && kill -KILL "$SERVE_PID"
	wait "$SERVE_PID" 2>/dev/null
	SERVE_PID=""
}

# ------------------------------------------------------------------ VMs

# new_vm NAME VCPUS [EXTRA-KERNEL-ARGS]: an Incus VM with the coldplug profile
# ($PROFILE: another one, or none),
# a 64 MiB root disk and the test guest booted by -kernel.
new_vm() {
	local name=$1 cpus=$2 extra=${3:-} profiles=(-p default)
	[ "${PROFILE:-coldplug}" = none ] || profiles+=(-p "${PROFILE:-coldplug}")
	inc init --empty --vm "$name" "${profiles[@]}" -c security.secureboot=false \
		-c limits.cpu="$cpus" -c limits.memory=512MiB -d root,size=64MiB >"$RUN/init.out" 2>&1 &&
		inc config set "$name" raw.qemu="-kernel $COLDPLUG_GUEST_KERNEL -initrd $COLDPLUG_GUEST_INITRD -append \"console=ttyS0 panic=-1 cp.settle=5 $extra\""
}

# report NAME: wait for the guest's boot report (at most 120 s) and print its
# records, one per line.
report() {
	local i
	[ "$(inc list "$1" -c s -f csv)" = RUNNING ] || return 0
	for i in $(seq 60); do
		inc console "$1" --show-log 2>/dev/null | grep -q CP-REPORT-END && break
		sleep 2
	done
	inc console "$1" --show-log 2>/dev/null | tr -d '\r' |
		sed -n '/^CP-REPORT-BEGIN/,/^CP-REPORT-END/p' | tail -n +2
}

# guest NAME COMMAND: run one guest command on the VM's console (through a
# pty: `incus console` needs one) and print its output. An empty line goes
# first: the first byte typed into a fresh console session can be lost.
guest() {
	local out=$RUN/console.$$
	(set -a; . "$STATE/env"; set +a
	 (sleep 1; printf '\r'; sleep 0.5; printf '%s\r' "$2"; sleep "${GUEST_WAIT:-4}") |
		timeout 30 script -qfec "incus console $1" /dev/null >"$out" 2>&1)
	tr -d '\r' <"$out" | sed -n "/^CP-BEGIN/,/^CP-END/p"
	rm -f "$out"
}

# field RECORD-LINE KEY: the value of KEY=... in a report record.
field() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }

# pings ADDR: 1000 pings 2 ms apart from the namespace; prints the loss %.
pings() {
	ip netns exec "$NS" ping -q -n -c 1000 -i 0.002 -W 1 -w 20 "$1" 2>/dev/null |
		sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p'
}

# udp_lost ADDR: 1600 UDP packets over 16 flows (source ports), 1000/s, from
# the namespace to the guest's cptraffic sink; prints "LOST SENT INTACT-FLOWS".
# Pings are one flow, which the tap hashes to one queue: only many flows
# show a queue that nothing reads.
udp_lost() {
	ip netns exec "$NS" "$COLDPLUG_CPTRAFFIC" udp --to "$1" --count 1600 --flows 16 --rate 1000 \
		--timeout 10 --max-seconds 30 2>/dev/null |
		sed -n 's/.*"sent":\([0-9]*\),"received":[0-9]*,"lost":\([0-9]*\),"flows":[0-9]*,"flows_complete":\([0-9]*\).*/\2 \1 \3/p'
}

# pattern SEED OFFSET LENGTH: the md5 of the disk test pattern (cptraffic's).
pattern() { "$COLDPLUG_CPTRAFFIC" pattern --seed "$1" --offset "$2" --length "$3" | md5sum | cut -d' ' -f1; }

volume_file() { echo "$STATE/incus/storage-pools/default/custom/default_$1/root.img"; }

# ------------------------------------------------------------------ scenarios

# disks_nic VCPUS: root disk, a data volume written from the host, an ISO, a
# bridged NIC: each on coldplug's frontend in the guest with its size and
# bytes, the NIC with Incus's MAC, and no ping or UDP packet lost.
scenario_disks_nic() {
	local cpus=$1 vm=dn$1 rep rec mac ip=10.91.0.1$1 loss iso tap
	inc storage volume create default "data$cpus" --type=block size=32MiB >/dev/null
	dd if=/dev/zero of="$(volume_file "data$cpus")" bs=1M count=1 conv=notrunc status=none
	"$COLDPLUG_CPTRAFFIC" pattern --seed 7 --offset 0 --length 1048576 |
		dd of="$(volume_file "data$cpus")" conv=notrunc status=none
	mkdir -p "$RUN/iso$cpus" && head -c 1572864 /dev/urandom >"$RUN/iso$cpus/payload" &&
		genisoimage -quiet -o "$RUN/cd$cpus.iso" "$RUN/iso$cpus" &&
		inc storage volume import default "$RUN/cd$cpus.iso" "iso$cpus" --type=iso >/dev/null 2>&1 ||
		diag "cannot make or import the ISO"
	new_vm "$vm" "$cpus" "cp.net=any,$ip/24"
	inc config device add "$vm" data disk pool=default source="data$cpus" >/dev/null
	inc config device add "$vm" cd disk pool=default source="iso$cpus" >/dev/null
	inc config device add "$vm" eth0 nic nictype=bridged parent="$BR" >/dev/null
	check "$cpus vCPUs: incus start succeeds with the coldplug profile" inc start "$vm"
	rep=$(report "$vm")
	if [ -n "${COLDPLUG_INCUS_RECORD:-}" ]; then
		# What Incus gave QEMU and said to it (tests/data/incus-6.0/).
		cp "$STATE/incus/run/$vm/qemu.conf" "$COLDPLUG_INCUS_RECORD/qemu-$cpus.conf"
		cp "$STATE/incus/logs/$vm/qemu.qmp.log" "$COLDPLUG_INCUS_RECORD/qemu.qmp-$cpus.log"
	fi
	grep -E '^(blk|net) ' <<<"$rep" | grep -v ' size=0 ' | sed 's/^/# guest: /'
	rec=$(grep '^blk .*serial=coldplug-disk0' <<<"$rep")
	check "$cpus vCPUs: the root disk is on coldplug-disk0 (pcie.0 slot 10), 64 MiB" \
		test "$(field "$rec" size)" = 67108864 -a "$(field "$rec" driver)" = virtio_blk -a \
		"${rec#*path=pci0000:00/0000:00:10.0/}" != "$rec"
	rec=$(grep '^blk .*serial=coldplug-disk1' <<<"$rep")
	check "$cpus vCPUs: the data volume is on coldplug-disk1, 32 MiB, with the host's bytes" \
		test "$(field "$rec" size)" = 33554432 -a "$(field "$rec" sum)" = "$(pattern 7 0 1048576)"
	# Incus's import pads the ISO to 4 KiB: the guest sees the volume's size.
	iso=$STATE/incus/storage-pools/default/custom/default_iso$cpus.iso/root.img
	rec=$(grep '^blk .*driver=sr ' <<<"$rep" | grep '/usb')
	check "$cpus vCPUs: the ISO is on coldplug's USB CD drive, $(stat -c %s "$iso") bytes, its first MiB intact" \
		test -n "$rec" -a "$(field "$rec" size)" = "$(stat -c %s "$iso")" -a \
		"$(field "$rec" sum)" = "$(head -c 1048576 "$RUN/cd$cpus.iso" | md5sum | cut -d' ' -f1)"
	check "$cpus vCPUs: no disk is left behind a PCIe root port or on virtio-scsi (USB's xHCI is Incus's, there from the start)" \
		bash -c '[ -n "$1" ] && ! grep -v "/usb" <<<"$1" | grep -E "^blk .*(driver=sd |path=pci0000:00/0000:00:0[1-9a-f]\.[0-7]/0000:0[1-9])"' _ "$rep"
	rec=$(grep '^net ' <<<"$rep")
	mac=$(inc config get "$vm" volatile.eth0.hwaddr)
	check "$cpus vCPUs: one NIC, on coldplug-nic0 (pcie.0 slot 1c), with Incus's MAC $mac" \
		test "$(grep -c '^net ' <<<"$rep")" = 1 -a "$(field "$rec" mac)" = "$mac" -a \
		"${rec#*path=pci0000:00/0000:00:1c.0/}" != "$rec"
	tap=$(inc config get "$vm" volatile.eth0.host_name)
	set -- $(ip -d link show "$tap" | sed -n 's/.*numqueues \([0-9]*\) numdisabled \([0-9]*\).*/\1 \2/p')
	check "$cpus vCPUs: the direct path: Incus's tap $tap keeps the slot's $((cpus > 2 ? cpus : 2)) queues, no hub, no fresh queue (${1:-?} queues, ${2:-?} disabled)" \
		test "$((${1:-0} + ${2:-0}))" = "$((cpus > 2 ? cpus : 2))"
	loss=$(pings "$ip")
	check "$cpus vCPUs: 1000 pings from the bridge, 0 lost (lost: ${loss:-?}%)" test "${loss:-x}" = 0
	set -- $(udp_lost "$ip")
	check "$cpus vCPUs: 1600 UDP packets in 16 flows, 0 lost (lost ${1:-?} of ${2:-?}, ${3:-?}/16 flows intact)" \
		test "${1:-x}" = 0 -a "${2:-0}" = 1600
	inc delete --force "$vm" >/dev/null
	inc storage volume delete default "data$cpus" >/dev/null
	inc storage volume delete default "iso$cpus" >/dev/null
}

# live_attach: a volume attached to the running VM (Incus hot-adds a scsi-hd
# LUN on its virtio-scsi, which macOS cannot drive) reaches a free disk slot,
# in a guest without PCI hotplug (pcie_ports=compat; the profile turns ACPI
# PCI hotplug off): with its size and the host's bytes, a guest write lands
# in the volume, and a detach empties the slot again (size 0, no I/O error).
# The guest is Linux, which also sees the LUN come and go: the checks look
# at the slot, never at "a disk somewhere".
scenario_live_attach() {
	local vm=la out size i vol
	vol=$(volume_file datala)
	inc storage volume create default datala --type=block size=32MiB >/dev/null
	"$COLDPLUG_CPTRAFFIC" pattern --seed 11 --offset 0 --length 1048576 |
		dd of="$vol" conv=notrunc status=none
	new_vm "$vm" 2 "pcie_ports=compat"
	check "live: incus start succeeds" inc start "$vm"
	report "$vm" >/dev/null
	out=$(guest "$vm" "sh ls /sys/bus/pci/slots 2>/dev/null | wc -l; ls /sys/bus/pci_express/devices 2>/dev/null | wc -l")
	out=$(grep -v CP- <<<"$out" | tr -d ' ' | tr '\n' ' ')
	check "live: the guest has no PCI hotplug (PCI slots, PCIe port services: ${out:-?})" \
		test "$out" = "0 0 "
	out=$(guest "$vm" "size coldplug-disk1")
	check "live: before the attach, coldplug-disk1 is an empty slot ($(sed -n 's/^size .*size=//p' <<<"$out"))" \
		test "$(sed -n 's/^size .*size=//p' <<<"$out")" = 0
	check "live: incus config device add (a 32 MiB volume, while running) succeeds" \
		inc config device add "$vm" data disk pool=default source=datala
	size=
	for i in $(seq 6); do
		out=$(guest "$vm" "size coldplug-disk1")
		size=$(sed -n 's/^size .*size=//p' <<<"$out")
		[ "$size" = 33554432 ] && break
	done
	check "live: the guest sees the volume on coldplug-disk1, 32 MiB (size ${size:-?}, after $i look(s))" \
		test "$size" = 33554432
	out=$(guest "$vm" "sum coldplug-disk1 0 1048576")
	check "live: coldplug-disk1 holds the bytes the host wrote before the attach" \
		test "$(sed -n 's/^sum .*sum=//p' <<<"$out")" = "$(pattern 11 0 1048576)"
	out=$(GUEST_WAIT=6 guest "$vm" "write coldplug-disk1 13 2097152 65536")
	check "live: a guest write on coldplug-disk1 lands in the volume ($(grep -o 'match=[0-9]*' <<<"$out"))" \
		test "$(dd if="$vol" bs=65536 skip=32 count=1 status=none | md5sum | cut -d' ' -f1)" = "$(pattern 13 2097152 65536)"
	out=$(guest "$vm" "sh ls /sys/block")
	check "live: no disk is left on Incus's virtio-scsi (the guest's disks: $(grep -v CP- <<<"$out" | tr '\n' ' '))" \
		bash -c '! grep -q "^sd" <<<"$1"' _ "$out"
	check "live: the daemon's journal says where the disk went" \
		grep -q "$vm.*data.*coldplug-disk1" "$RUN/serve.log"
	check "live: incus config device remove succeeds" inc config device remove "$vm" data
	size=
	for i in $(seq 4); do
		out=$(guest "$vm" "size coldplug-disk1")
		size=$(sed -n 's/^size .*size=//p' <<<"$out")
		[ "$size" = 0 ] && break
	done
	check "live: after the detach, coldplug-disk1 is empty again (size ${size:-?})" test "$size" = 0
	# An ISO attached while running, then changed (Incus: a detach, then an
	# attach): each time a USB CD drive with that medium, never a tray move
	# (Incus 6.0.4 ejects on DEVICE_TRAY_MOVED).
	for i in 1 2; do
		mkdir -p "$RUN/liso$i" && head -c $((i * 786432)) /dev/urandom >"$RUN/liso$i/payload" &&
			genisoimage -quiet -o "$RUN/live$i.iso" "$RUN/liso$i" &&
			inc storage volume import default "$RUN/live$i.iso" "liso$i" --type=iso >/dev/null 2>&1 ||
			diag "cannot make or import ISO $i"
	done
	for i in 1 2; do
		[ "$i" = 1 ] || inc config device remove "$vm" cd >/dev/null
		check "live: incus config device add of ISO $i (while running) succeeds" \
			inc config device add "$vm" cd disk pool=default source="liso$i"
		vol=$STATE/incus/storage-pools/default/custom/default_liso$i.iso/root.img
		out=
		for _ in 1 2 3 4; do
			out=$(guest "$vm" report | grep '^blk .*driver=sr ' | grep '/usb' |
				grep " size=$(stat -c %s "$vol") ")
			[ -n "$out" ] && break
		done
		check "live: ISO $i is on a USB CD drive, $(stat -c %s "$vol") bytes, its first MiB intact" \
			test -n "$out" -a "$(field "$out" sum)" = "$(head -c 1048576 "$RUN/live$i.iso" | md5sum | cut -d' ' -f1)"
	done
	# Incus logs its commands, not QEMU's events: a tray move shows as the
	# eject Incus answers it with (qmp/monitor.go).
	check "live: Incus ejected nothing (no tray moved)" \
		bash -c 'grep -q "\"execute\":\"device_add\"" "$1" && ! grep -q "\"execute\":\"eject\"" "$1"' _ \
		"$STATE/incus/logs/$vm/qemu.qmp.log"
	inc delete --force "$vm" >/dev/null
	inc storage volume delete default datala >/dev/null
	inc storage volume delete default liso1 >/dev/null
	inc storage volume delete default liso2 >/dev/null
}

# usb_nics: the usb-net frontend (a second profile), two NICs, beside the
# three usb-redir devices Incus 6.0's SPICE puts on the xHCI.
scenario_usb_nics() {
	local vm=usbn rep i mac rec loss out
	"$CP" incus-profile --nic-frontend usb | inc profile create coldplug-usb >/dev/null
	PROFILE=coldplug-usb new_vm "$vm" 2 "cp.net=any,10.91.0.21/24;any,10.91.0.22/24"
	# usb-net before QEMU 10.2 shows a CDC-ECM guest a MAC whose first byte
	# is 0x40 (coldplug refuses others, and says so): the MACs a user gives.
	inc config device add "$vm" eth0 nic nictype=bridged parent="$BR" hwaddr=40:66:6a:00:00:10 >/dev/null
	inc config device add "$vm" eth1 nic nictype=bridged parent="$BR" hwaddr=40:66:6a:00:00:11 >/dev/null
	# usb-net needs a new queue on each tap: the unit's daemon, which has
	# no privilege and takes no tap name from a VM, refuses it and says why.
	out=$(inc start "$vm" 2>&1)
	ok $((! $?)) "usb NICs: with the unit's unprivileged daemon, incus start fails"
	check "usb NICs: ...saying why and what to do ($(grep -o 'coldplug: .\{0,90\}' <<<"$out" | head -1))" \
		bash -c 'grep -q "takes no tap name from a VM" <<<"$1" && grep -q "CAP_NET_ADMIN" <<<"$1"' _ "$out"
	inc stop --force "$vm" >/dev/null 2>&1
	stop_serve
	start_serve privileged
	check "usb NICs: with the README's drop-in (root, CAP_NET_ADMIN, CAP_SYS_PTRACE), incus start succeeds" inc start "$vm"
	rep=$(report "$vm")
	for i in 0 1; do
		mac=40:66:6a:00:00:1$i
		rec=$(grep "^net .*mac=$mac" <<<"$rep")
		check "usb NICs: eth$i is a usb-net (cdc_ether) with its Incus MAC $mac" \
			test "$(field "$rec" driver)" = cdc_ether
	done
	for i in 1 2; do
		loss=$(pings "10.91.0.2$i")
		check "usb NICs: 1000 pings to NIC $i, 0 lost (lost: ${loss:-?}%)" test "${loss:-x}" = 0
		set -- $(udp_lost "10.91.0.2$i")
		check "usb NICs: 1600 UDP packets in 16 flows to NIC $i, 0 lost (lost ${1:-?} of ${2:-?})" \
			test "${1:-x}" = 0 -a "${2:-0}" = 1600
	done
	inc delete --force "$vm" >/dev/null
	inc profile delete coldplug-usb >/dev/null
	stop_serve
	start_serve
}

# qemu_reconnected VM SINCE-LINE: the daemon's log, after line SINCE, shows
# a connection from the VM's QEMU.
qemu_reconnected() {
	local pid
	pid=$(cat "$STATE/incus/run/$1/qemu.pid" 2>/dev/null) || return 1
	tail -n +"$2" "$RUN/serve.log" | grep -q "new connection from pid $pid\b"
}

# restart: the daemon restarts while the VM runs; QEMU (now nobody) dials
# again within 5 s, and a detach of the data disk then completes within 30 s
# with what the guest wrote in the volume.
scenario_restart() {
	local vm=rst since i t0 t1
	inc storage volume create default datar --type=block size=32MiB >/dev/null
	new_vm "$vm" 2 "cp.writepat=coldplug-disk1,9,1048576,1048576"
	inc config device add "$vm" data disk pool=default source=datar >/dev/null
	check "restart: incus start succeeds" inc start "$vm"
	report "$vm" | grep -q '^write .*match=1'
	ok $? "restart: the guest wrote its pattern on coldplug-disk1"
	stop_serve
	since=$(($(wc -l <"$RUN/serve.log") + 1))
	start_serve
	for i in $(seq 50); do qemu_reconnected "$vm" "$since" && break; sleep 0.1; done
	qemu_reconnected "$vm" "$since"
	ok $? "restart: QEMU dials the restarted daemon again within 5 s ($((i / 10)).$((i % 10)) s)"
	t0=$(date +%s%N)
	INC_TIMEOUT=30 inc config device remove "$vm" data >/dev/null
	ok $? "restart: incus config device remove data completes"
	t1=$(date +%s%N)
	diag "detach took $(((t1 - t0) / 1000000)) ms"
	check "restart: the volume holds the guest's writes" \
		test "$(dd if="$(volume_file datar)" bs=1M skip=1 count=1 status=none | md5sum | cut -d' ' -f1)" = \
		"$(pattern 9 1048576 1048576)"
	inc delete --force "$vm" >/dev/null
	inc storage volume delete default datar >/dev/null
}

# taps: the host's tap interfaces, one per line.
taps() { ip -o link show type tun 2>/dev/null | awk -F': ' '{print $2}' | sort; }

# lifecycle: NIC detach, incus restart, a resize that reaches the guest,
# and ten stop/start cycles that leak no daemon fd, no tap and no slot.
scenario_lifecycle() {
	local vm=life rep out fds0 fds1 taps0 i n=0 rec mac tap
	inc storage volume create default datal --type=block size=32MiB >/dev/null
	new_vm "$vm" 2 "cp.net=any,10.91.0.31/24"
	inc config device add "$vm" data disk pool=default source=datal >/dev/null
	inc config device add "$vm" eth0 nic nictype=bridged parent="$BR" >/dev/null
	taps0=$(taps)
	fds0=$(ls "/proc/$SERVE_PID/fd" | wc -l)
	check "lifecycle: incus start succeeds" inc start "$vm"
	report "$vm" >/dev/null
	tap=$(inc config get "$vm" volatile.eth0.host_name)
	check "lifecycle: the guest answers on eth0 before the detach" \
		ip netns exec "$NS" ping -q -n -c 3 -W 2 10.91.0.31
	inc config device remove "$vm" eth0 >/dev/null
	ok $? "lifecycle: NIC detach completes"
	check "lifecycle: Incus's tap $tap is gone after the detach" \
		bash -c '! ip link show "$1"' _ "$tap"
	check "lifecycle: the daemon saw the tap go and removed the direct slot's netdev (log)" \
		bash -c 'for _ in $(seq 100); do grep -q "tap $2 is gone (the NIC was detached): removing coldplug-nic0" "$1" && exit 0; sleep 0.1; done; exit 1' _ "$RUN/serve.log" "$tap"
	check "lifecycle: the guest no longer answers on the detached NIC" \
		bash -c '! ip netns exec "$1" ping -q -n -c 3 -W 1 10.91.0.31' _ "$NS"
	inc config device add "$vm" eth0 nic nictype=bridged parent="$BR" >/dev/null
	check "lifecycle: incus restart succeeds (the NIC re-added while running comes back at start)" \
		inc restart --force "$vm"
	rep=$(report "$vm")
	mac=$(inc config get "$vm" volatile.eth0.hwaddr)
	rec=$(grep "^net .*mac=$mac" <<<"$rep")
	check "lifecycle: after the restart the NIC is on coldplug-nic0 with Incus's MAC" \
		test -n "$rec" -a "${rec#*path=pci0000:00/0000:00:1c.0/}" != "$rec"
	# Resize: on a dir pool Incus grows an in-use volume only at the next
	# start (it defers a running VM's root quota, and refuses a custom
	# volume "In use"), so both grow while the VM is stopped.
	inc stop --force "$vm" >/dev/null
	check "lifecycle: incus config device set root size=96MiB (VM stopped)" \
		inc config device set "$vm" root size=96MiB
	check "lifecycle: incus storage volume set datal size=48MiB (VM stopped)" \
		inc storage volume set default datal size=48MiB
	check "lifecycle: incus start after the resize" inc start "$vm"
	report "$vm" >/dev/null
	out=$(guest "$vm" "size vda")$'\n'$(guest "$vm" "size vdb")
	check "lifecycle: the guest sees coldplug-disk0 at 96 MiB and coldplug-disk1 at 48 MiB (${out//$'\n'/ })" \
		bash -c 'grep -q "size dev=vda size=100663296" <<<"$1" && grep -q "size dev=vdb size=50331648" <<<"$1"' _ "$out"
	for i in $(seq 10); do
		inc stop --force "$vm" >/dev/null && inc start "$vm" >/dev/null && n=$((n + 1))
	done
	check "lifecycle: 10 stop/start cycles, all started ($n)" test "$n" = 10
	rep=$(report "$vm")
	check "lifecycle: after them the data disk is still on coldplug-disk1 (no slot leaked)" \
		grep -q '^blk .*size=50331648 .*serial=coldplug-disk1' <<<"$rep"
	inc stop --force "$vm" >/dev/null
	sleep 1
	fds1=$(ls "/proc/$SERVE_PID/fd" | wc -l)
	check "lifecycle: the daemon holds as many fds as before ($fds0 -> $fds1)" test "$fds1" -le "$fds0"
	check "lifecycle: no tap is left behind" test "$(taps)" = "$taps0"
	inc delete --force "$vm" >/dev/null
	inc storage volume delete default datal >/dev/null
}

# no_daemon: with the daemon stopped, incus start fails at once with
# coldplug's message, and leaves no QEMU behind.
scenario_no_daemon() {
	local vm=nod out t0 t1 rc
	new_vm "$vm" 1
	stop_serve
	t0=$(date +%s)
	out=$(inc start "$vm" 2>&1)
	rc=$?
	t1=$(date +%s)
	start_serve
	check "no daemon: incus start fails" test "$rc" -ne 0
	check "no daemon: within the profile's timeout ($((t1 - t0)) s), saying coldplug serve is not there" \
		bash -c '[ "$1" -le 120 ] && grep -q "coldplug" <<<"$2"' _ "$((t1 - t0))" "$out"
	diag "incus start said: $(grep -m1 coldplug <<<"$out")"
	check "no daemon: the VM is stopped" test "$(inc list "$vm" -c s -f csv)" = STOPPED
	inc delete --force "$vm" >/dev/null
}

# baseline NAME VM IP: start VM (set up without coldplug) and measure what its
# usb-net NIC loses; the figures are reported. Pings are one flow; usb-net flushes only queue 0 of a
# multi-queue tap (reference/qemu-notes.md §3), so the UDP flows hashed to
# another queue are lost.
baseline() {
	local name=$1 vm=$2 ip=$3 rep loss
	check "baseline $name: incus start succeeds without coldplug" inc start "$vm"
	rep=$(report "$vm")
	check "baseline $name: the guest has its usb-net NIC" grep -q '^net .*driver=cdc_ether' <<<"$rep"
	loss=$(pings "$ip")
	set -- $(udp_lost "$ip")
	diag "baseline $name: ${loss:-?}% of 1000 pings lost, ${1:-?} of ${2:-?} UDP packets lost, ${3:-?}/16 flows intact"
	inc delete --force "$vm" >/dev/null
}

# baseline_usb: Incus's own io.bus=usb NIC, what users have without coldplug.
scenario_baseline_usb() {
	PROFILE=none new_vm busb 2 "cp.net=any,10.91.0.41/24"
	inc config device add busb eth0 nic nictype=bridged parent="$BR" io.bus=usb hwaddr=40:66:6a:00:00:41 >/dev/null
	# Reported, not asserted: the tap's automatic flow steering learns that
	# replies leave on queue 0 and may move every flow there (0 of 1600 lost
	# in one run, 796 in others).
	baseline io.bus=usb busb 10.91.0.41
}

# baseline_seed: the original write-up's scriptlet (tests/incus/seed-scriptlet.star),
# the method coldplug replaces. Its loss is reported, not asserted: on Incus
# 6.0.4 with QEMU 10.0 it lost nothing in the first minute here, where the
# emulator on 7.2 and 10.0 loses everything and the write-up saw the network
# work for about 20 s, then stop for minutes.
scenario_baseline_seed() {
	PROFILE=none new_vm bseed 2 "cp.net=any,10.91.0.51/24"
	inc config device add bseed eth0 nic nictype=bridged parent="$BR" hwaddr=40:66:6a:00:00:51 >/dev/null
	check "baseline seed method: Incus takes the write-up's scriptlet" \
		inc config set bseed raw.qemu.scriptlet="$(cat "$HERE/seed-scriptlet.star")"
	baseline "seed method" bseed 10.91.0.51
}

# ------------------------------------------------------------------ main

case $PKG in
*.deb)
	mkdir -p "$RUN/pkg" && dpkg-deb -x "$PKG" "$RUN/pkg" ||
		{ echo "Bail out! cannot unpack $PKG"; exit 1; }
	CP=$RUN/pkg/usr/bin/coldplug
	UNIT=$(ls "$RUN"/pkg/lib/systemd/system/coldplug.service "$RUN"/pkg/usr/lib/systemd/system/coldplug.service 2>/dev/null | head -1)
	;;
*) CP=$PKG UNIT=${COLDPLUG_UNIT:-} ;;
esac
[ -x "$CP" ] && [ -r "$UNIT" ] || { echo "Bail out! no coldplug binary ($CP) or unit ($UNIT)"; exit 1; }
diag "coldplug: $("$CP" --version 2>&1 | head -1), from $PKG"


if ! "$HERE/lab.sh" start "$STATE" >"$RUN/lab.log" 2>&1; then
	cat "$RUN/lab.log" | sed 's/^/# /'
	echo "Bail out! real Incus did not start (above)"
	exit 1
fi
while read -r w; do diag "sandbox workaround: $w"; done <"$STATE/workarounds"
diag "Incus $(inc version 2>/dev/null | sed -n 's/^Server version: //p'), QEMU $("$STATE/bin/qemu-system-x86_64" --version | head -1)"

ip link add "$BR" type bridge && ip link set "$BR" addrgenmode none &&
	sysctl -q -w "net.ipv6.conf.$BR.disable_ipv6=1" && ip link set "$BR" up &&
	ip netns add "$NS" && ip link add "${BR}v" type veth peer name eth0 netns "$NS" &&
	ip link set "${BR}v" master "$BR" addrgenmode none up &&
	ip netns exec "$NS" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 &&
	ip netns exec "$NS" ip addr add 10.91.0.1/24 dev eth0 &&
	ip netns exec "$NS" ip link set eth0 up ||
	{ echo "Bail out! cannot build the test network"; exit 1; }

start_serve
"$CP" incus-profile | inc profile create coldplug >/dev/null ||
	{ echo "Bail out! incus profile create coldplug failed"; exit 1; }

for s in $SCENARIOS; do
	t0=$(date +%s)
	case $s in
	disks-nic-2) scenario_disks_nic 2 ;;
	disks-nic-4) scenario_disks_nic 4 ;; # lab.sh's maxcpus workaround on a small host
	usb-nics) scenario_usb_nics ;;
	restart) scenario_restart ;;
	lifecycle) scenario_lifecycle ;;
	no-daemon) scenario_no_daemon ;;
	baseline-usb) scenario_baseline_usb ;;
	baseline-seed) scenario_baseline_seed ;;
	live-attach) scenario_live_attach ;;
	*) echo "Bail out! unknown scenario $s"; exit 1 ;;
	esac
	diag "scenario $s: $(($(date +%s) - t0)) s"
done
if [ "$FAILED" -gt 0 ]; then
	diag "coldplug serve's log:"
	tail -40 "$RUN/serve.log" | sed 's/^/#   /'
fi
echo "1..$T"
[ "$FAILED" -eq 0 ]

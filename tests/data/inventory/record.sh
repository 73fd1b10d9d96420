#!/bin/bash
# Re-record the raw inventory documents (coldplug inventory --raw) that the
# unit tests build inventories and plans from. Needs root (a network
# namespace and a tap for the NIC variants) and a built coldplug:
#   tests/data/inventory/record.sh [BUILD_DIR] [QEMU]
# Files are named after QEMU's major.minor; the tests read 7.2 and 10.0.
# Each variant starts a paused q35 like Incus's, hot-plugs devices the way
# Incus does (incus-qmp.md), and saves the raw document. The taps live in a
# namespace this script creates and deletes; no host interface is touched.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../../build}" && pwd)
qemu=${2:-/usr/bin/qemu-system-x86_64}
cp="$build/src/coldplug"
ver=$("$qemu" --version | sed -n 's/^QEMU emulator version \([0-9]*\.[0-9]*\).*/\1/p')
work=$(mktemp -d /tmp/cp-record.XXXXXX)
ns=cprec-$$
qpid=
cleanup() {
	[ -n "$qpid" ] && kill "$qpid" 2>/dev/null && wait "$qpid" 2>/dev/null
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

incus_layout() { # the part of Incus's qemu.conf the devices hang off
	cat <<'CONF'
[device "qemu_pcie0"]
  driver = "pcie-root-port"
  bus = "pcie.0"
  addr = "1.0"
  chassis = "0"
  multifunction = "on"
[device "qemu_usb"]
  driver = "qemu-xhci"
  bus = "qemu_pcie0"
  addr = "00.0"
  p2 = "8"
  p3 = "8"
[device "qemu_pcie1"]
  driver = "pcie-root-port"
  bus = "pcie.0"
  addr = "1.1"
  chassis = "1"
[device "qemu_scsi"]
  driver = "virtio-scsi-pci"
  bus = "qemu_pcie1"
  addr = "00.0"
[device "qemu_pcie4"]
  driver = "pcie-root-port"
  bus = "pcie.0"
  addr = "1.4"
  chassis = "4"
[device "qemu_pcie5"]
  driver = "pcie-root-port"
  bus = "pcie.0"
  addr = "1.5"
  chassis = "5"
CONF
}

start() { # conf-file
	rm -f "$work/q.sock"
	ip netns exec "$ns" timeout 120 "$qemu" -S -machine q35 -nodefaults -no-user-config \
		-display none -accel tcg -readconfig "$1" \
		-qmp "unix:$work/q.sock,server=on,wait=off" >"$work/qemu.log" 2>&1 &
	qpid=$!
}

q() { "$cp" qmp --qmp "$work/q.sock" --compact "$@" >/dev/null; }

disk() { # node fdset opaque-mode
	q --fd "$work/$1.img$([ "$3" = rdonly ] && echo :ro)" add-fd "{\"opaque\":\"$3:incus_$1\"}"
	q blockdev-add "{\"aio\":\"threads\",\"cache\":{\"direct\":false,\"no-flush\":false},\"discard\":\"unmap\",\"driver\":\"file\",\"filename\":\"/dev/fdset/$2\",\"locking\":\"off\",\"node-name\":\"incus_$1\",\"read-only\":$([ "$3" = rdonly ] && echo true || echo false)}"
}

stop_save() { # name
	"$cp" inventory --qmp "$work/q.sock" --raw >"$here/$1-$ver.json"
	q quit || true
	wait "$qpid" || true
	qpid=
	echo "recorded $1-$ver.json"
}

ip netns add "$ns"
ip -n "$ns" tuntap add dev tapcp0 mode tap multi_queue
ip -n "$ns" link set tapcp0 up
for f in root data iso nv usb; do truncate -s 64M "$work/$f.img"; done
truncate -s 2M "$work/iso.img"

# 1. Incus's default layout: scsi root, virtio-blk data, ISO, 4-queue NIC.
"$cp" qemu-conf --disk-slots 2 --nic-mac eth0=10:66:6a:ab:cd:ef >"$work/c.conf"
incus_layout >>"$work/c.conf"
start "$work/c.conf"
disk root 0 rdwr
q device_add '{"bootindex":0,"bus":"qemu_scsi.0","channel":0,"device_id":"incus_root","drive":"incus_root","driver":"scsi-hd","id":"dev-incus_root","lun":1,"serial":"incus_root"}'
disk data 1 rdwr
q device_add '{"addr":"00.0","bus":"qemu_pcie5","drive":"incus_data","driver":"virtio-blk","id":"dev-incus_data","multifunction":false,"serial":"incus_data"}'
disk iso 2 rdonly
q device_add '{"bootindex":2,"bus":"qemu_scsi.0","channel":0,"device_id":"incus_iso","drive":"incus_iso","driver":"scsi-cd","id":"dev-incus_iso","lun":1,"serial":"incus_iso"}'
q netdev_add '{"id":"incus_eth0","type":"tap","ifname":"tapcp0","script":"no","downscript":"no","queues":4,"vhost":false}'
q device_add '{"addr":"00.0","bootindex":1,"bus":"qemu_pcie4","driver":"virtio-net-pci","id":"dev-incus_eth0","mac":"10:66:6a:ab:cd:ef","mq":true,"netdev":"incus_eth0","vectors":10}'
"$cp" inventory --qmp "$work/q.sock" --raw >"$here/incus-default-$ver.json"
echo "recorded incus-default-$ver.json"
"$cp" rehome --qmp "$work/q.sock" >/dev/null
stop_save incus-default-rehomed

# 2. io.bus=usb disk (usb-bot + scsi-hd), io.bus=nvme disk, io.bus=usb NIC,
#    and no ICH9-LPC global (ACPI PCI hotplug).
"$cp" qemu-conf --disk-slots 2 --no-hotplug-global >"$work/c.conf"
incus_layout >>"$work/c.conf"
start "$work/c.conf"
disk usb 0 rdwr
q device_add '{"bus":"qemu_usb.0","driver":"usb-bot","id":"usb_dev-incus_usb"}'
q device_add '{"bus":"usb_dev-incus_usb.0","channel":0,"device_id":"incus_usb","drive":"incus_usb","driver":"scsi-hd","id":"dev-incus_usb","lun":0,"serial":"incus_usb"}'
q qom-set '{"path":"usb_dev-incus_usb","property":"attached","value":true}'
disk nv 1 rdwr
q device_add '{"addr":"00.0","bus":"qemu_pcie5","drive":"incus_nv","driver":"nvme","id":"dev-incus_nv","serial":"incus_nv"}'
q netdev_add '{"id":"incus_eth0","type":"tap","ifname":"tapcp0","script":"no","downscript":"no","queues":2,"vhost":false}'
q device_add '{"bootindex":1,"bus":"qemu_usb.0","driver":"usb-net","id":"dev-incus_eth0","mac":"10:66:6a:ab:cd:ef","netdev":"incus_eth0"}'
stop_save incus-usb-nvme-acpi

# 3. The QMP transcript of a whole 'coldplug rehome' of disks (root, data,
#    ISO, an io.bus=usb disk) for the pipeline's replay test. NICs are left
#    out: their step opens a real tap on the host.
"$cp" qemu-conf --disk-slots 3 >"$work/c.conf"
incus_layout >>"$work/c.conf"
start "$work/c.conf"
disk root 0 rdwr
q device_add '{"bootindex":0,"bus":"qemu_scsi.0","channel":0,"device_id":"incus_root","drive":"incus_root","driver":"scsi-hd","id":"dev-incus_root","lun":1,"serial":"incus_root"}'
disk data 1 rdwr
q device_add '{"addr":"00.0","bus":"qemu_pcie5","drive":"incus_data","driver":"virtio-blk","id":"dev-incus_data","multifunction":false,"serial":"incus_data"}'
disk iso 2 rdonly
q device_add '{"bootindex":2,"bus":"qemu_scsi.0","channel":0,"device_id":"incus_iso","drive":"incus_iso","driver":"scsi-cd","id":"dev-incus_iso","lun":1,"serial":"incus_iso"}'
disk usb 3 rdwr
q device_add '{"bus":"qemu_usb.0","driver":"usb-bot","id":"usb_dev-incus_usb"}'
q device_add '{"bus":"usb_dev-incus_usb.0","channel":0,"device_id":"incus_usb","drive":"incus_usb","driver":"scsi-hd","id":"dev-incus_usb","lun":0,"serial":"incus_usb"}'
q qom-set '{"path":"usb_dev-incus_usb","property":"attached","value":true}'
COLDPLUG_QMP_TRACE=1 "$cp" rehome --qmp "$work/q.sock" --verbose 2>"$work/trace" >/dev/null
{
	echo "# coldplug rehome of four Incus disks (scsi-hd root, virtio-blk data, ISO,"
	echo "# io.bus=usb) on $("$qemu" --version | head -1), recorded by record.sh."
	echo "# Reply ids are the ones QEMU sent: the replay keeps them."
	sed -n 's/^coldplug: debug: qmp [^ ]* \([<>]\) /\1 /p' "$work/trace"
} >"$here/../transcripts/rehome-disks-$ver.qmp"
q quit || true
wait "$qpid" || true
qpid=
echo "recorded transcripts/rehome-disks-$ver.qmp"

#!/bin/bash
# Build coldplug's test guest: Debian bookworm's kernel plus a busybox initramfs
# whose /init reports the guest's devices on the serial console (see README.md).
#
#   build-guest.sh --cache DIR --traffic PATH/TO/cptraffic --out-dir OUTDIR
#
# Nothing is installed on the host: the kernel and busybox-static .debs are
# fetched with `apt-get download` into DIR and unpacked there with dpkg-deb.
# Outputs OUTDIR/vmlinuz and OUTDIR/initramfs.cpio.gz, rebuilt only when an
# input changed (this script, init, the cptraffic binary, the .deb names).
set -euo pipefail

PROG=build-guest.sh
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF=$SCRIPT_DIR/$(basename "${BASH_SOURCE[0]}")
INIT_SRC=$SCRIPT_DIR/init

# Modules the guest loads (with their dependencies). Anything the Debian
# config builds in is skipped with a note; a name that exists neither as a
# module nor as a builtin is an error, so a kernel update cannot silently drop
# a driver the tests rely on.
MODULES=(
	virtio_pci virtio_blk virtio_net virtio_scsi
	sd_mod sr_mod cdrom isofs
	nvme ahci libahci libata
	xhci_pci xhci_hcd usb_storage uas
	usbnet cdc_ether rndis_host
	vmxnet3 e1000 e1000e
	usbhid hid_generic
	af_packet
)

die() { echo "$PROG: error: $*" >&2; exit 1; }
note() { echo "$PROG: $*" >&2; }

usage() {
	cat <<'EOF'
usage: build-guest.sh --cache DIR --traffic PATH/TO/cptraffic --out-dir OUTDIR

  --cache DIR      where the .debs are downloaded and unpacked (reused when present)
  --traffic PATH   the statically linked cptraffic binary to put in the guest
  --out-dir OUTDIR receives vmlinuz and initramfs.cpio.gz

Rebuilds only when this script, init, cptraffic or the resolved .deb names change.
Needs: apt-get, apt-cache, dpkg-deb, depmod and modprobe (kmod), cpio, gzip.
EOF
}

parse_args() {
	CACHE='' TRAFFIC='' OUT=''
	while [ $# -gt 0 ]; do
		case "$1" in
		--cache | --traffic | --out-dir)
			[ $# -ge 2 ] || die "$1 needs a value"
			case "$1" in
			--cache) CACHE=$2 ;;
			--traffic) TRAFFIC=$2 ;;
			--out-dir) OUT=$2 ;;
			esac
			shift 2
			;;
		--cache=*) CACHE=${1#*=}; shift ;;
		--traffic=*) TRAFFIC=${1#*=}; shift ;;
		--out-dir=*) OUT=${1#*=}; shift ;;
		-h | --help) usage; exit 0 ;;
		*) die "unknown argument '$1' (see --help)" ;;
		esac
	done
	[ -n "$CACHE" ] || die "missing --cache DIR (see --help)"
	[ -n "$TRAFFIC" ] || die "missing --traffic PATH (see --help)"
	[ -n "$OUT" ] || die "missing --out-dir OUTDIR (see --help)"
}

check_inputs() {
	local t
	for t in apt-get apt-cache dpkg-deb dpkg depmod modprobe cpio gzip sha256sum flock; do
		command -v "$t" >/dev/null || die "required tool '$t' not found"
	done
	[ -f "$INIT_SRC" ] || die "guest init script not found at $INIT_SRC"
	[ -f "$TRAFFIC" ] && [ -x "$TRAFFIC" ] || die "--traffic: '$TRAFFIC' is not an executable file"
	# The guest has no libc: a dynamically linked cptraffic would fail only at run time.
	if command -v readelf >/dev/null && readelf -l "$TRAFFIC" 2>/dev/null | grep -q 'Requesting program interpreter'; then
		die "--traffic: '$TRAFFIC' is dynamically linked; build it with gcc -static"
	fi
	mkdir -p "$CACHE" "$OUT" || die "cannot create $CACHE or $OUT"
	CACHE=$(cd "$CACHE" && pwd)
	OUT=$(cd "$OUT" && pwd)
	TRAFFIC=$(cd "$(dirname "$TRAFFIC")" && pwd)/$(basename "$TRAFFIC")
}

# The real kernel package behind the linux-image-amd64 metapackage.
resolve_kernel_pkg() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 ~ /^\|?Depends:$/ && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}

resolve_packages() {
	KPKG=$(resolve_kernel_pkg || true)
	if [ -z "$KPKG" ]; then
		note "cannot resolve linux-image-amd64 from the apt lists; running apt-get update once"
		apt-get update -qq >/dev/null 2>&1 || die "apt-get update failed"
		KPKG=$(resolve_kernel_pkg || true)
		[ -n "$KPKG" ] || die "apt-cache depends linux-image-amd64 names no linux-image-<version> package"
	fi
	KVER=${KPKG#linux-image-}
}

candidate_version() {
	apt-cache policy "$1" 2>/dev/null | awk '$1 == "Candidate:" { print $2; exit }'
}

# Download package $1 into the cache unless its candidate .deb is already there;
# prints the .deb path.
fetch_deb() {
	local pkg=$1 ver arch file
	ver=$(candidate_version "$pkg")
	[ -n "$ver" ] && [ "$ver" != "(none)" ] || die "package '$pkg' has no installable candidate in the apt lists"
	arch=$(dpkg --print-architecture)
	file="$CACHE/${pkg}_${ver//:/%3a}_${arch}.deb"
	if [ -s "$file" ]; then
		echo "$file"
		return
	fi
	note "downloading $pkg $ver"
	(cd "$CACHE" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >/dev/null 2>"$CACHE/.apt-err") ||
		die "apt-get download $pkg failed: $(tail -n 3 "$CACHE/.apt-err")"
	[ -s "$file" ] || die "apt-get download $pkg succeeded but $file is missing"
	echo "$file"
}

# Unpack a .deb once into CACHE/unpacked/<deb name>; prints that directory.
unpack_deb() {
	local deb=$1 dir
	dir="$CACHE/unpacked/$(basename "$deb" .deb)"
	if [ ! -e "$dir/.complete" ]; then
		rm -rf "$dir" "$dir.tmp"
		mkdir -p "$dir.tmp"
		dpkg-deb -x "$deb" "$dir.tmp" || die "dpkg-deb -x $deb failed"
		touch "$dir.tmp/.complete"
		mv "$dir.tmp" "$dir"
	fi
	echo "$dir"
}

inputs_stamp() {
	{
		sha256sum "$SELF" "$INIT_SRC" "$TRAFFIC" | awk '{ print $1 }'
		basename "$KDEB"
		basename "$BBDEB"
	} | sha256sum | awk '{ print $1 }'
}

up_to_date() {
	[ -s "$OUT/vmlinuz" ] && [ -s "$OUT/initramfs.cpio.gz" ] && [ -f "$OUT/.stamp" ] &&
		[ "$(cat "$OUT/.stamp")" = "$STAMP" ]
}

# Resolve MODULES to .ko files (dependencies first) using kmod on the unpacked
# tree; the host's /etc/modprobe.d is kept out with an empty config dir.
module_closure() {
	local moddir=$KROOT/lib/modules/$KVER m out
	[ -f "$moddir/modules.dep" ] || depmod -b "$KROOT" "$KVER" || die "depmod on the unpacked kernel failed"
	mkdir -p "$STAGE/.noconf"
	for m in "${MODULES[@]}"; do
		if grep -Eq "/${m//_/[-_]}\.ko\$" "$moddir/modules.builtin"; then
			note "module $m is built into $KVER; not loading it"
			continue
		fi
		out=$(modprobe -C "$STAGE/.noconf" -d "$KROOT" -S "$KVER" -D "$m" 2>&1) ||
			die "module '$m' not found in $KPKG: $out"
		printf '%s\n' "$out" | awk '$1 == "insmod" { print $2 }'
	done | awk '!seen[$0]++'
	rmdir "$STAGE/.noconf"
}

stage_busybox() {
	local bb=$BBROOT/bin/busybox link
	[ -x "$bb" ] || die "busybox not found in $BBDEB"
	mkdir -p "$STAGE/bin" "$STAGE/sbin" "$STAGE/usr/bin" "$STAGE/usr/sbin"
	cp "$bb" "$STAGE/bin/busybox"
	for link in $("$bb" --list-full); do
		[ -e "$STAGE/$link" ] || ln -s /bin/busybox "$STAGE/$link"
	done
}

stage_modules() {
	local moddir=$KROOT/lib/modules/$KVER dst=$STAGE/lib/modules/$KVER ko rel name
	mkdir -p "$dst"
	: >"$STAGE/etc/cp-modules"
	module_closure >"$STAGE.modlist"
	while read -r ko; do
		rel=${ko#"$moddir"/}
		mkdir -p "$dst/$(dirname "$rel")"
		cp "$ko" "$dst/$rel"
		name=$(basename "$ko" .ko)
		echo "${name//-/_}" >>"$STAGE/etc/cp-modules"
	done <"$STAGE.modlist"
	cp "$moddir/modules.order" "$moddir/modules.builtin" "$moddir/modules.builtin.modinfo" "$dst/"
	depmod -b "$STAGE" "$KVER" || die "depmod -b on the initramfs tree failed"
}

stage_tree() {
	mkdir -p "$STAGE"/{dev,proc,sys,tmp,run,etc,root}
	stage_busybox
	stage_modules
	install -m 0755 "$INIT_SRC" "$STAGE/init"
	install -m 0755 "$TRAFFIC" "$STAGE/bin/cptraffic"
	printf 'kernel=%s\nbusybox=%s\n' "$(basename "$KDEB")" "$(basename "$BBDEB")" >"$STAGE/etc/cp-build"
	# The kernel opens /dev/console on the rootfs before /init runs; without the
	# node /init would start with no stdio (init reopens it after devtmpfs too).
	if [ "$(id -u)" = 0 ]; then
		mknod -m 600 "$STAGE/dev/console" c 5 1
		mknod -m 666 "$STAGE/dev/null" c 1 3
	fi
}

write_outputs() {
	(cd "$STAGE" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
		cpio --null -o -H newc --owner=0:0 --reproducible --quiet) | gzip -9n >"$OUT/initramfs.cpio.gz.tmp"
	cp "$KROOT/boot/vmlinuz-$KVER" "$OUT/vmlinuz.tmp"
	mv "$OUT/initramfs.cpio.gz.tmp" "$OUT/initramfs.cpio.gz"
	mv "$OUT/vmlinuz.tmp" "$OUT/vmlinuz"
	echo "$STAMP" >"$OUT/.stamp"
}

main() {
	parse_args "$@"
	check_inputs
	# One build at a time per cache: concurrent test runs share downloads and unpacking.
	exec 9>"$CACHE/.lock"
	flock 9 || die "cannot lock $CACHE/.lock"
	resolve_packages
	KDEB=$(fetch_deb "$KPKG")
	BBDEB=$(fetch_deb busybox-static)
	STAMP=$(inputs_stamp)
	if up_to_date; then
		note "up to date: $OUT ($KPKG)"
		return 0
	fi
	KROOT=$(unpack_deb "$KDEB")
	BBROOT=$(unpack_deb "$BBDEB")
	[ -f "$KROOT/boot/vmlinuz-$KVER" ] || die "$KDEB has no boot/vmlinuz-$KVER"
	STAGE=$(mktemp -d "$CACHE/stage.XXXXXX")
	trap 'rm -rf "$STAGE" "$STAGE.modlist"' EXIT
	stage_tree
	write_outputs
	note "built $OUT/vmlinuz and $OUT/initramfs.cpio.gz ($KPKG, $(du -k "$OUT/initramfs.cpio.gz" | cut -f1) KiB)"
}

main "$@"

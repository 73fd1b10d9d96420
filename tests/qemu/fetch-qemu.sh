#!/bin/bash
# fetch-qemu.sh --cache DIR [--suite SUITE] [--mirror URL] [--extra PKG]...
#
# Fetches a second QEMU (by default bookworm-backports' 10.0.x) next to the
# system one, without installing anything and without touching /etc/apt:
#   * a private apt configuration under DIR/apt (its own sources.list, lists,
#     cache and an empty dpkg status) is used for `apt-get update` and
#     `apt-get download`;
#   * the packages are unpacked with `dpkg-deb -x` into DIR/qemu-<version>/;
#   * a wrapper DIR/qemu-<version>/qemu-system-x86_64 is generated that runs
#     the unpacked binary with its own firmware (-L) and modules
#     (QEMU_MODULE_DIR), so it never loads the system QEMU's modules from
#     /usr/lib/<multiarch>/qemu.
# Prints exactly one line on stdout: the wrapper's path. Everything else goes
# to stderr.
#
# Cached: when the .debs are already in DIR/debs, no network is used; when the
# tree is already unpacked from the same .debs, nothing is unpacked again.
#
# Packages: qemu-system-x86, qemu-system-common, qemu-system-data (the
# emulator, its modules and its data files) and seabios (10.0 depends on
# seabios >> 1.16.3, newer than bookworm's 1.16.2). The binary's shared
# libraries come from the host (bookworm's libs are enough for 10.0.2: checked
# with ldd below); iPXE option ROMs (efi-virtio.rom, needed by virtio-net-pci)
# come from the host's ipxe-qemu package. Anything else can be added with
# --extra PKG (its /usr/lib/<multiarch> then goes on LD_LIBRARY_PATH).

set -euo pipefail

prog=${0##*/}
die() { printf '%s: error: %s\n' "$prog" "$*" >&2; exit 1; }
log() { printf '%s: %s\n' "$prog" "$*" >&2; }
usage() {
    cat >&2 <<EOF
usage: $prog --cache DIR [--suite SUITE] [--mirror URL] [--extra PKG]...
  --cache DIR    where to keep the apt state, the .debs and the unpacked tree
  --suite SUITE  Debian suite to fetch from (default: bookworm-backports)
  --mirror URL   Debian mirror (default: http://deb.debian.org/debian)
  --extra PKG    also fetch and unpack PKG (repeatable), e.g. a library the
                 host lacks; its libraries are put on LD_LIBRARY_PATH
Prints the path of the generated qemu-system-x86_64 wrapper on stdout.
EOF
    exit 2
}

cache=""
suite="bookworm-backports"
mirror="http://deb.debian.org/debian"
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --cache)  [ $# -ge 2 ] || usage; cache=$2; shift 2 ;;
        --cache=*) cache=${1#*=}; shift ;;
        --suite)  [ $# -ge 2 ] || usage; suite=$2; shift 2 ;;
        --suite=*) suite=${1#*=}; shift ;;
        --mirror) [ $# -ge 2 ] || usage; mirror=$2; shift 2 ;;
        --mirror=*) mirror=${1#*=}; shift ;;
        --extra)  [ $# -ge 2 ] || usage; extra+=("$2"); shift 2 ;;
        --extra=*) extra+=("${1#*=}"); shift ;;
        -h|--help) usage ;;
        *) printf '%s: unknown argument: %s\n' "$prog" "$1" >&2; usage ;;
    esac
done
[ -n "$cache" ] || { printf '%s: --cache DIR is required\n' "$prog" >&2; usage; }

for tool in apt-get dpkg-deb ldd; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found in PATH"
done

mkdir -p "$cache" || die "cannot create cache directory $cache"
cache=$(cd "$cache" && pwd -P)
debs="$cache/debs"
aptdir="$cache/apt"
mkdir -p "$debs"

packages=(qemu-system-x86 qemu-system-common qemu-system-data seabios "${extra[@]}")

# The newest cached .deb of a package (by dpkg version order), or nothing.
cached_deb() {
    local pkg=$1 f best="" bestv="" v
    for f in "$debs/${pkg}"_*.deb; do
        [ -e "$f" ] || continue
        [ "$(dpkg-deb -f "$f" Package 2>/dev/null)" = "$pkg" ] || continue
        v=$(dpkg-deb -f "$f" Version)
        if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$bestv"; then
            best=$f; bestv=$v
        fi
    done
    printf '%s' "$best"
}

missing=()
for p in "${packages[@]}"; do
    [ -n "$(cached_deb "$p")" ] || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
    log "downloading ${missing[*]} from $suite ($mirror)"
    mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial" \
             "$aptdir/preferences.d" "$aptdir/sources.list.d"
    signedby=""
    if [ -r /usr/share/keyrings/debian-archive-keyring.gpg ]; then
        signedby=" [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]"
    fi
    printf 'deb%s %s %s main\n' "$signedby" "$mirror" "$suite" > "$aptdir/sources.list"
    : > "$aptdir/status"
    aptopts=(
        -o "Dir::Etc::sourcelist=$aptdir/sources.list"
        -o "Dir::Etc::sourceparts=-"
        -o "Dir::Etc::preferences=$aptdir/preferences"
        -o "Dir::Etc::preferencesparts=$aptdir/preferences.d"
        -o "Dir::State::Lists=$aptdir/lists"
        -o "Dir::State::status=$aptdir/status"
        -o "Dir::Cache=$aptdir/cache"
    )
    # As root, apt would drop to _apt, which cannot write into a private
    # cache owned by root; download as root instead (nothing is installed).
    if [ "$(id -u)" -eq 0 ]; then
        aptopts+=(-o "APT::Sandbox::User=root")
    fi
    if ! apt-get -q "${aptopts[@]}" update >&2; then
        die "apt-get update failed for '$suite' at $mirror (private config in $aptdir)"
    fi
    specs=()
    for p in "${missing[@]}"; do specs+=("$p/$suite"); done
    if ! (cd "$debs" && apt-get -q "${aptopts[@]}" download "${specs[@]}" >&2); then
        die "apt-get download failed for: ${missing[*]} (suite $suite)"
    fi
    for p in "${missing[@]}"; do
        [ -n "$(cached_deb "$p")" ] || die "package $p was not downloaded into $debs"
    done
else
    log "using cached packages in $debs (no network)"
fi

main_deb=$(cached_deb qemu-system-x86)
full_version=$(dpkg-deb -f "$main_deb" Version)
version=$(printf '%s' "$full_version" | sed -E 's/^[0-9]+://; s/[+~-].*$//')
[ -n "$version" ] || die "cannot parse version from $main_deb ($full_version)"

# The qemu-system-* packages must be of the same version.
for p in qemu-system-common qemu-system-data; do
    v=$(dpkg-deb -f "$(cached_deb "$p")" Version)
    [ "$v" = "$full_version" ] || die "$p is $v but qemu-system-x86 is $full_version: remove $debs/*.deb and retry"
done

root="$cache/qemu-$version"
stamp="$root/.unpacked"
want_stamp=$(for p in "${packages[@]}"; do basename "$(cached_deb "$p")"; done)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want_stamp" ] && [ -x "$root/usr/bin/qemu-system-x86_64" ]; then
    log "already unpacked in $root"
else
    log "unpacking into $root"
    rm -rf "$root"
    mkdir -p "$root"
    for p in "${packages[@]}"; do
        dpkg-deb -x "$(cached_deb "$p")" "$root" || die "dpkg-deb -x failed for $p"
    done
    printf '%s\n' "$want_stamp" > "$stamp"
fi

bin="$root/usr/bin/qemu-system-x86_64"
[ -x "$bin" ] || die "$bin missing after unpacking"

# Module directory: the one holding the accel/hw modules of this build.
moddir=""
for d in "$root"/usr/lib/*/qemu "$root"/usr/lib/qemu; do
    if [ -d "$d" ] && ls "$d"/*.so >/dev/null 2>&1; then moddir=$d; break; fi
done
[ -n "$moddir" ] || die "no QEMU module directory found under $root/usr/lib"
multiarch_libdir=$(dirname "$moddir")

datadir="$root/usr/share/qemu"
[ -d "$datadir" ] || die "$datadir missing (qemu-system-data not unpacked?)"
biosdir="$root/usr/share/seabios"
[ -r "$biosdir/bios-256k.bin" ] || die "$biosdir/bios-256k.bin missing (seabios not unpacked?)"
fwdirs=("$datadir" "$biosdir")
if [ -d "$root/usr/lib/ipxe/qemu" ]; then
    fwdirs+=("$root/usr/lib/ipxe/qemu")
elif [ -d /usr/lib/ipxe/qemu ]; then
    fwdirs+=(/usr/lib/ipxe/qemu)
else
    die "no iPXE option ROMs (efi-virtio.rom): install ipxe-qemu or pass --extra ipxe-qemu"
fi

ldpath=""
if [ ${#extra[@]} -gt 0 ]; then
    ldpath=$multiarch_libdir
fi

# Check that every library the binary and its modules need resolves.
notfound=$( { LD_LIBRARY_PATH=${ldpath:+$ldpath} ldd "$bin"; \
              for m in "$moddir"/*.so; do LD_LIBRARY_PATH=${ldpath:+$ldpath} ldd "$m" | sed "s|^|${m##*/}: |"; done; } \
            2>/dev/null | grep 'not found' || true)
# Modules for optional UIs/backends (gtk, spice, ...) are not shipped in the
# packages we fetch, so only the binary itself is fatal; module gaps warn.
if printf '%s\n' "$notfound" | grep -v '^[^ ]*\.so: ' | grep -q 'not found'; then
    die "$bin needs libraries the host lacks:
$(printf '%s\n' "$notfound" | grep -v '^[^ ]*\.so: ')
install them, or pass --extra <package> for each"
fi
if [ -n "$notfound" ]; then
    log "warning: some modules cannot load on this host:"
    printf '%s\n' "$notfound" | sed 's/^/  /' >&2
fi

# Single-quote a word for /bin/sh.
sq() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }

wrapper="$root/qemu-system-x86_64"
{
    printf '#!/bin/sh\n'
    printf '# Generated by fetch-qemu.sh: QEMU %s from %s, unpacked in %s.\n' "$full_version" "$suite" "$root"
    printf '# Own firmware (-L) and modules (QEMU_MODULE_DIR); all arguments pass through.\n'
    printf 'QEMU_MODULE_DIR=%s\nexport QEMU_MODULE_DIR\n' "$(sq "$moddir")"
    if [ -n "$ldpath" ]; then
        printf 'LD_LIBRARY_PATH=%s${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}\nexport LD_LIBRARY_PATH\n' "$(sq "$ldpath")"
    fi
    printf 'exec %s' "$(sq "$bin")"
    for d in "${fwdirs[@]}"; do printf ' -L %s' "$(sq "$d")"; done
    printf ' "$@"\n'
} > "$wrapper.tmp"
chmod 0755 "$wrapper.tmp"
mv -f "$wrapper.tmp" "$wrapper"

# Smoke test: the wrapper runs and reports the expected version.
out=$("$wrapper" -version 2>&1) || die "wrapper failed to run: $out"
case "$out" in
    *"version $version"*) ;;
    *) die "wrapper reports an unexpected version: $out" ;;
esac

printf '%s\n' "$wrapper"

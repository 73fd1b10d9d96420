#!/bin/sh
# make deb: build coldplug's Debian package and check it with lintian.
#   scripts/deb.sh [OUT]    OUT: default build/deb
# The package is built from a copy of the working tree in OUT/src (the files
# git tracks or would track; .gitignore'd ones left out), so that no debian/
# build artefacts land in the tree. The copy's debian/ is what is built.
# It is a full build (source and binary: the source package is made so that
# lintian checks debian/ too); lintian runs on the result with --pedantic,
# and any error or warning fails (debian/*lintian-overrides say why the few
# overridden tags are unavoidable).
# Output: everything goes to stderr except one line on stdout, the path of
# the .deb, OUT/coldplug_VERSION_ARCH.deb (tests/run-checks.sh reads it).
# Needs the packages of scripts/deps.sh deb (make deb installs them).
set -eu
exec 3>&1 1>&2
cd "$(dirname "$0")/.."
out=${1:-build/deb}
src=$out/src

rm -rf "$out"
mkdir -p "$src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# shellcheck disable=SC2016 # $f is the inner shell's
	git ls-files -z --cached --others --exclude-standard |
		xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
		tar -c --null -T - | tar -x -C "$src"
else
	tar -c --exclude='./build*' --exclude=./.git . | tar -x -C "$src"
fi
[ -f "$src/debian/changelog" ] || { echo "deb: no debian/changelog" >&2; exit 1; }

name=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Source)
version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
upstream=${version%-*}
arch=$(dpkg --print-architecture)
# The upstream tarball of the "3.0 (quilt)" source package: the same tree
# without debian/.
tar -c -J -f "$out/${name}_$upstream.orig.tar.xz" -C "$src" --exclude=./debian \
	--transform "s,^\./,$name-$upstream/," .

echo "deb: dpkg-buildpackage in $src"
(cd "$src" && dpkg-buildpackage -us -uc -Jauto)

deb=$out/${name}_${version}_$arch.deb
changes=$out/${name}_${version}_$arch.changes
[ -f "$deb" ] || { echo "deb: dpkg-buildpackage made no $deb" >&2; exit 1; }
echo "deb: lintian --pedantic $changes"
lintian --pedantic --display-info --fail-on error,warning "$changes"
echo "deb: lintian: no error or warning"
dpkg-deb -c "$deb"
echo "$deb" >&3

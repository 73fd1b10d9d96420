#!/bin/sh
# The man pages as a test: doc/man/coldplug.1 and doc/man/coldplug-serve.8
# must render with man-db without a single warning (as lintian renders them),
# and must not fall behind the program: every command of `coldplug --help`
# has its section in coldplug(1), and every long option of each command's
# --help is named in its page (serve's in coldplug-serve(8)).
#   check-man.sh COLDPLUG    COLDPLUG: the built program
set -u
prog=${1:?usage: check-man.sh BUILT-COLDPLUG}
case $prog in /*) ;; *) prog=$PWD/$prog ;; esac # meson: relative to the build dir
cd "$(dirname "$0")/../.." || exit 1
if ! command -v man >/dev/null 2>&1; then
	echo "check-man: man is not installed (Debian: man-db)" >&2
	exit 1
fi
bad=0
for page in doc/man/coldplug.1 doc/man/coldplug-serve.8; do
	warnings=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 \
		man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null)
	if [ -n "$warnings" ]; then
		echo "$page: man --warnings:"
		echo "$warnings"
		bad=$((bad + 1))
	fi
done

# The page's text with roff's escapes for - and font changes taken out.
plain() {
	sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' "$1"
}
commands=$("$prog" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z-]*\) .*/\1/p')
[ -n "$commands" ] || { echo "check-man: no commands in '$prog --help'" >&2; exit 1; }
for cmd in $commands; do
	page=doc/man/coldplug.1
	[ "$cmd" = serve ] && page=doc/man/coldplug-serve.8
	if ! plain doc/man/coldplug.1 | grep -q "^\.SS \"coldplug $cmd"; then
		echo "doc/man/coldplug.1: no section .SS \"coldplug $cmd ...\""
		bad=$((bad + 1))
	fi
	for opt in $("$prog" "$cmd" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
		if ! plain "$page" | grep -q -- "$opt\([^a-z-]\|$\)"; then
			echo "$page: 'coldplug $cmd --help' has $opt, the page does not"
			bad=$((bad + 1))
		fi
	done
done
echo "check-man: 2 pages, $(echo "$commands" | wc -l) commands, $bad problems"
[ "$bad" -eq 0 ]

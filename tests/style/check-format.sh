#!/bin/sh
# Style as a test: every C file in git must be exactly as clang-format 14
# formats it with the repository's .clang-format. Nothing is excluded.
# Fix with `make format` (clang-format -i on the same files).
set -u
cd "$(dirname "$0")/../.." || exit 1
cf=$(command -v clang-format-14 || command -v clang-format || true)
if [ -z "$cf" ]; then
	echo "check-format: clang-format 14 is not installed (Debian: clang-format)" >&2
	exit 1
fi
case $("$cf" --version) in
*" version 14."*) ;;
*) echo "check-format: $cf is not clang-format 14: $("$cf" --version)" >&2; exit 1 ;;
esac
if ! git rev-parse --git-dir >/dev/null 2>&1; then
	echo "check-format: not a git checkout; cannot list the files" >&2
	exit 1
fi
files=$(git ls-files '*.c' '*.h')
[ -n "$files" ] || { echo "check-format: no files" >&2; exit 1; }
bad=0
for f in $files; do
	if ! "$cf" --dry-run -Werror --style=file "$f" >/dev/null 2>&1; then
		echo "not formatted: $f"
		"$cf" --style=file "$f" | diff -u "$f" - | head -n 20
		bad=$((bad + 1))
	fi
done
echo "check-format: $(echo "$files" | wc -l) files, $bad not formatted"
[ "$bad" -eq 0 ]

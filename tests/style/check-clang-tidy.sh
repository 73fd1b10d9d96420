#!/bin/sh
# Static analysis as a test: clang-tidy 14 over every C file in git that the
# build compiles (BUILDDIR/compile_commands.json gives the flags).
#
#   tests/style/check-clang-tidy.sh BUILDDIR
#
# Enabled: clang-analyzer-* (path-sensitive bugs: null dereferences, use
# after free, leaks of malloc'd memory, dead stores), bugprone-*, cert-*,
# misc-*, performance-*, portability-*, and two readability checks that find
# bugs (misleading indentation, redundant declarations).
# Disabled, with the reason:
#   clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling
#       asks for C11 Annex K (memcpy_s, ...), which glibc does not have;
#       every memcpy here has its bound next to it.
#   clang-analyzer-valist.Uninitialized
#       false positive in clang 14 on every vsnprintf() after va_start()
#       inside a variadic function (cp_error_set, cp_log, ...).
#   bugprone-easily-swappable-parameters
#       flags any two adjacent parameters of one type (buf, len); taste.
#   bugprone-sizeof-expression
#       flags calloc(n, sizeof(*p)) where *p is itself a pointer (arrays
#       of cp_json *), which is the right size.
#   cert-err33-c
#       wants every snprintf/vsnprintf result used; messages here are
#       bounded buffers truncated on purpose (error.c, log.c).
#   clang-analyzer-optin.performance.Padding
#       struct members are ordered for the reader; a few bytes of padding
#       in structs that are never in arrays of thousands cost nothing.
#   clang-analyzer-unix.Malloc
#       does not model __attribute__((cleanup)): every cleanup_free local
#       is a "potential leak" on some path. Leaks, double frees and uses
#       after free are caught at run time instead: every unit and fuzz test
#       runs under ASan with LeakSanitizer in make check.
#   bugprone-suspicious-string-compare
#       flags `!strcmp(a, b)`, the house idiom (as in the kernel, passt).
#   bugprone-narrowing-conversions
#       flags `out[i] = c == '-' ? '/' : c` (a char through int promotion)
#       and similar conversions whose range is evident; -Wconversion noise.
#   misc-no-recursion
#       the JSON walkers recurse on purpose, bounded by the depth cap.
#   bugprone-reserved-identifier, cert-dcl37-c, cert-dcl51-cpp
#       LLVMFuzzerTestOneInput and _GNU_SOURCE-style names are required.
set -u
cd "$(dirname "$0")/../.." || exit 1
build=${1:?usage: check-clang-tidy.sh BUILDDIR}
ct=$(command -v clang-tidy-14 || command -v clang-tidy || true)
if [ -z "$ct" ]; then
	echo "check-clang-tidy: clang-tidy 14 is not installed (Debian: clang-tidy)" >&2
	exit 1
fi
checks='-*,clang-analyzer-*,bugprone-*,cert-*,misc-*,performance-*,portability-*'
checks="$checks,readability-misleading-indentation,readability-redundant-declaration"
checks="$checks,-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling"
checks="$checks,-clang-analyzer-valist.Uninitialized,-bugprone-easily-swappable-parameters"
checks="$checks,-bugprone-sizeof-expression,-cert-err33-c,-misc-no-recursion"
checks="$checks,-clang-analyzer-unix.Malloc,-bugprone-suspicious-string-compare"
checks="$checks,-clang-analyzer-optin.performance.Padding,-bugprone-narrowing-conversions"
checks="$checks,-bugprone-reserved-identifier,-cert-dcl37-c,-cert-dcl51-cpp"
files=""
for f in $(git ls-files '*.c'); do
	grep -q "\"file\": \"[^\"]*/$f\"" "$build/compile_commands.json" && files="$files $f"
done
[ -n "$files" ] || { echo "check-clang-tidy: no compiled files found in $build" >&2; exit 1; }
# shellcheck disable=SC2086 # $files is a word list
out=$("$ct" -p "$build" --quiet --checks="$checks" --warnings-as-errors='*' $files 2>&1)
rc=$?
echo "$out" | grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$'
echo "check-clang-tidy: $(echo "$files" | wc -w) files, exit $rc"
exit $rc

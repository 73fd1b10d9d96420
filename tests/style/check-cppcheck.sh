#!/bin/sh
# Static analysis as a test: cppcheck over every C file in git.
#
#   tests/style/check-cppcheck.sh BUILDDIR
#
# Enabled: warning, portability, performance (real bugs, quiet). Not
# enabled: style (taste, not bugs) and information.
# Suppressed, with the reason:
#   memleak, resourceLeak  cppcheck does not model __attribute__((cleanup)),
#                          which owns every local allocation and descriptor
#                          here (STYLE.md), so each cleanup_free /
#                          cleanup_close is reported as a leak. Leaks are
#                          caught at run time instead: every unit and fuzz
#                          test runs under LeakSanitizer in make check.
#   missingInclude*        system headers are not analysed (json-c, libc);
#                          cppcheck's own library models stand for them.
#   unmatchedSuppression   the suppressions apply to all files at once.
set -u
cd "$(dirname "$0")/../.." || exit 1
build=${1:?usage: check-cppcheck.sh BUILDDIR}
if ! command -v cppcheck >/dev/null; then
	echo "check-cppcheck: cppcheck is not installed (Debian: cppcheck)" >&2
	exit 1
fi
files=$(git ls-files '*.c')
# shellcheck disable=SC2086 # $files is a word list
cppcheck -q --std=c11 --enable=warning,portability,performance --error-exitcode=1 \
	--inline-suppr --library=posix -D_GNU_SOURCE -DCOLDPLUG_TEST_DATA='"tests/data"' \
	--suppress=memleak --suppress=resourceLeak --suppress=missingInclude \
	--suppress=missingIncludeSystem --suppress=unmatchedSuppression \
	-I include -I lib -I tests/lib -I fuzz -I "$build" $files
rc=$?
echo "check-cppcheck: $(echo "$files" | wc -l) files, exit $rc"
exit $rc

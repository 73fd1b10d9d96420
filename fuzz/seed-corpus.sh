#!/bin/sh
# Derive the fuzz seed corpus from the QMP transcripts recorded from real
# QEMU (tests/data/*.qmp), plus a few hand-made malformed inputs.
#
#   fuzz/seed-corpus.sh [CORPUS-DIR]     (default: fuzz/corpus)
#
# fuzz_qmp_classify gets each message QEMU sent, alone; fuzz_qmp_stream gets
# each message with QEMU's CRLF, and each transcript's whole stream from QEMU
# as QEMU sent it. Files are named by the SHA-1 of their content, as
# libFuzzer names them, so running this again adds nothing twice.
set -eu
cd "$(dirname "$0")/.."
out=${1:-fuzz/corpus}
stream=$out/fuzz_qmp_stream
classify=$out/fuzz_qmp_classify
mkdir -p "$stream" "$classify"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

# add DIR: store $tmp in DIR under its SHA-1
add() {
	cp "$tmp" "$1/$(sha1sum "$tmp" | cut -c1-40)"
}

for t in tests/data/*.qmp; do
	grep '^< ' "$t" | cut -c3- | while IFS= read -r line; do
		printf '%s' "$line" >"$tmp"
		add "$classify"
		printf '%s\r\n' "$line" >"$tmp"
		add "$stream"
	done
	grep '^< ' "$t" | cut -c3- | sed 's/$/\r/' >"$tmp"
	add "$stream"
done

# Malformed and edge inputs the recordings do not have.
for s in \
	'{"QMP": {"version": {"qemu": {"major": 7}}, "capabilities": []}}' \
	'{"QMP": {"version": {"qemu": {"micro": 0, "minor": 0, "major": 10}}, "capabilities": {}}}' \
	'{"error": {"class": "GenericError"}, "id": 3}' \
	'{"return": {}, "error": {"class": "a", "desc": "b"}, "id": 1}' \
	'{"event": "", "data": {}}' \
	'{"event": "X", "data": [1]}' \
	'{"return": "caf\303\251 \360\237\222\276 \\ud83d\\udcbe", "id": 2}' \
	'{"return": "\355\240\200"}' \
	'{"return": [[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]}' \
	'[1, 2] {"return": {}}' \
	'{"return": {}, "id": -1}{"return": {}, "id": 18446744073709551615}'; do
	# shellcheck disable=SC2059 # the seeds are printf formats (octal escapes)
	printf "$s" >"$tmp"
	add "$classify"
	add "$stream"
done
printf '{"return": {}}\r\n{"ret\000urn": 1}' >"$tmp"
add "$stream"
echo "seed-corpus: $(ls "$stream" | wc -l) stream inputs, $(ls "$classify" | wc -l) classify inputs" >&2

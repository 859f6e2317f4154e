#!/usr/bin/env bash
# Runs emitter.js under Node and its port, the emitter program, and
# compares their outputs line by line.
#
#   bash examples/emitter/compare.sh PATH/TO/emitter
#
# Exit 0: the same lines; 1: they differ (the diff is shown); 77 (a
# skip for ctest): no node on PATH, outside CI.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exe=${1:?usage: compare.sh PATH/TO/emitter}
if ! command -v node >/dev/null 2>&1; then
	[[ ${CI:-} == true ]] && { echo "compare: no node (CI=true)" >&2; exit 1; }
	echo "compare: SKIPPED: no node on PATH"
	exit 77
fi
js=$(node "$here/emitter.js")
c=$("$exe")
if ! diff -u --label emitter.js <(echo "$js") --label emitter.c <(echo "$c"); then
	echo "compare: emitter.js and emitter.c differ" >&2
	exit 1
fi
echo "compare: emitter.js and emitter.c print the same $(wc -l <<<"$c") lines"

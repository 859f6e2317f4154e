#!/usr/bin/env bash
# The generated parts of weir's documentation.
#
#   bash scripts/docs.sh [api]   the API reference from the public headers
#                                (Doxygen, docs/Doxyfile) into
#                                build/docs/api/html; any warning fails
#   bash scripts/docs.sh diagrams  re-renders docs/diagrams/*.dot to
#                                docs/diagrams/*.svg (Graphviz); commit both
#   bash scripts/docs.sh charts  docs/charts/*.svg from bench/results
#                                (scripts/charts.sh)
#   bash scripts/docs.sh all     the three
#
# WEIR_DOCS_OUT=DIR writes the diagrams and charts to DIR instead of
# docs/ (the test suite's `docs` stage does, to check they still build).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

api() {
	local out=build/docs/api version
	version=$(awk '/#define WEIR_VERSION_(MAJOR|MINOR|PATCH) /{
	    v = v (v == "" ? "" : ".") $3 } END { print v }' \
	    include/weir/weir.h)
	rm -rf "$out"
	mkdir -p "$out"
	# Doxygen reads both from the environment ($(VAR) in the Doxyfile).
	if ! WEIR_DOC_OUT=$out WEIR_DOC_VERSION=$version \
	    doxygen docs/Doxyfile >"$out/doxygen.log" 2>&1 ||
	    [[ -s "$out/warnings.log" ]]; then
		cat "$out/warnings.log" "$out/doxygen.log" >&2
		echo "docs: Doxygen warnings (docs/Doxyfile fails on any)" >&2
		exit 1
	fi
	echo "docs: API reference of weir $version in $out/html/index.html" \
	    "(0 warnings)"
}

diagrams() {
	local dir=${WEIR_DOCS_OUT:-docs/diagrams} f n=0
	mkdir -p "$dir"
	for f in docs/diagrams/*.dot; do
		dot -Tsvg "$f" -o "$dir/$(basename "${f%.dot}").svg"
		n=$((n + 1))
	done
	echo "docs: $n diagrams rendered into $dir ($(dot -V 2>&1))"
}

charts() {
	bash scripts/charts.sh bench/results "${WEIR_DOCS_OUT:-docs/charts}"
}

what=${1:-api}
case "$what" in
api | diagrams | charts) "$what" ;;
all) api && diagrams && charts ;;
*)
	echo "docs.sh: unknown target '$what' (api, diagrams, charts, all)" >&2
	exit 2
	;;
esac

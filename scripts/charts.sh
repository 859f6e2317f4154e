#!/usr/bin/env bash
# Draws the charts of docs/benchmarks.md from the benchmarks' JSON lines,
# with jq (JSON to columns) and gnuplot (SVG):
#
#   bash scripts/charts.sh [RESULTS_DIR [OUT_DIR]]
#
# RESULTS_DIR (default bench/results) holds core_bench.jsonl,
# store_bench.jsonl and label.txt (the caption every chart carries);
# OUT_DIR (default docs/charts) receives
#   core_ns.svg     ns per event, weir and its peer in the same run
#   core_ratio.svg  weir's throughput over the peer's, with the targets
#   store_rate.svg  weir::store against bare SQLite, events per second
# A file that is missing is skipped with a note; none at all fails.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
results=${1:-bench/results}
out=${2:-docs/charts}
mkdir -p "$out"
work=$(mktemp -d /tmp/weir-charts.XXXXXX)
trap 'rm -rf "$work"' EXIT

label=""
if [[ -f "$results/label.txt" ]]; then
	label=$(head -1 "$results/label.txt")
fi
# gnuplot strings are double-quoted here: keep the caption plain.
label=${label//\"/\'}

# The peers' names as people say them.
peer_names='{"node_eventemitter":"Node EventEmitter",
	"fnptr_floor":"fn-pointer floor",
	"zmq_inproc_pubsub":"ZeroMQ inproc",
	"mutex_condvar_queue":"mutex+condvar queue",
	"match_emit_10_others":"10 others",
	"match_publish_10_others":"10 others"}'

terminal='set terminal svg size 900,520 dynamic font "sans,11" background "#ffffff"'
drawn=0

core=$results/core_bench.jsonl
if [[ -f "$core" ]]; then
	# name, peer, weir ns, peer ns, ratio, target (or -1)
	jq -r --argjson p "$peer_names" '[
	    (.name | sub("_100000_others"; " (100k others)")),
	    ($p[.peer] // .peer), .ns_per_event, .peer_ns_per_event, .ratio,
	    (.target_ratio // -1)] | @tsv' "$core" >"$work/core.tsv"
	gnuplot <<-GP
		$terminal
		set output "$out/core_ns.svg"
		set datafile separator "\t"
		set title "core\\\\_bench: ns per event, weir and its peer (lower is faster)\n{/*0.8 $label}"
		set style data histograms
		set style histogram clustered gap 1
		set style fill solid 0.85 border -1
		set boxwidth 0.9
		set logscale y
		set ylabel "ns per event (log scale)"
		set grid ytics
		set xtics rotate by 30 right noenhanced font ",10"
		set key top left
		set bmargin 11
		set lmargin 16
		plot "$work/core.tsv" using 3:xticlabels(sprintf("%s vs %s", strcol(1), strcol(2))) title "weir" lc rgb "#1f6fb4", \
		     "" using 4 title "peer" lc rgb "#e08a1e"
	GP
	gnuplot <<-GP
		$terminal
		set output "$out/core_ratio.svg"
		set datafile separator "\t"
		set title "core\\\\_bench: weir's throughput / the peer's (above 1: weir is faster)\n{/*0.8 $label}"
		set style fill solid 0.85 border -1
		set boxwidth 0.6
		set xrange [-0.6:*]
		set yrange [0:*]
		set offsets 0, 0.6, 0.4, 0
		set ylabel "ratio"
		set grid ytics
		set xtics rotate by 30 right noenhanced font ",10"
		set bmargin 11
		set lmargin 16
		set key top right
		set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lc rgb "#555555"
		plot "$work/core.tsv" using 0:5:xticlabels(sprintf("%s vs %s", strcol(1), strcol(2))) with boxes title "ratio" lc rgb "#1f6fb4", \
		     "" using 0:(\$6 > 0 ? \$6 : 1/0) with points pt 7 ps 1.2 lc rgb "#c0392b" title "target (issue)"
	GP
	drawn=$((drawn + 2))
else
	echo "charts: no $core: core charts skipped" >&2
fi

store=$results/store_bench.jsonl
if [[ -f "$store" ]]; then
	# name, weir events/s, bare SQLite events/s, ratio
	jq -r '[(.name | sub("^store_"; "")), .events_per_s,
	    .peer_events_per_s, .ratio] | @tsv' "$store" >"$work/store.tsv"
	gnuplot <<-GP
		$terminal
		set output "$out/store_rate.svg"
		set datafile separator "\t"
		set title "store\\\\_bench: weir::store and bare SQLite, same run (higher is faster)\n{/*0.8 $label}"
		set style data histograms
		set style histogram clustered gap 1
		set style fill solid 0.85 border -1
		set boxwidth 0.9
		set yrange [0:*]
		set ylabel "thousand events per second"
		set grid ytics
		set xtics noenhanced
		set key top left
		plot "$work/store.tsv" using (\$2 / 1000):xticlabels(1) title "weir::store" lc rgb "#1f6fb4", \
		     "" using (\$3 / 1000) title "bare SQLite" lc rgb "#e08a1e"
	GP
	drawn=$((drawn + 1))
else
	echo "charts: no $store: store chart skipped" >&2
fi

if ((drawn == 0)); then
	echo "charts: no JSON lines in $results" >&2
	exit 1
fi
echo "charts: $drawn charts in $out"

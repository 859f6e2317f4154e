#!/usr/bin/env bash
# Builds an optimised tree in build/bench and runs the core benchmark
# (weir::core against Node's EventEmitter, a function-pointer floor,
# ZeroMQ inproc PUB/SUB and a mutex+condvar queue), printing the machine
# first. Arguments go to core_bench (see `core_bench --help`); the JSON
# lines are also kept in build/bench/core_bench.jsonl.
#
# The other benchmarks are run from the same tree by hand (see
# docs/benchmarks.md): store_bench, loops_bench, latency_bench, and
# bridge_bench (needs the brokers of scripts/brokers.sh).
# weir is linked as an application links it: static archives built
# without link-time optimisation (build/bench), the headline. With --lto
# first, the tree build/bench-lto optimises weir and the bench together
# across files; its JSON lines say "build":"lto". With --fanout (after
# --lto, if any) the bench run is fanout_bench instead (fan-out 1 -> 4
# against ZeroMQ PUB -> 4 SUB, 4 producers -> 1 against a mutex queue;
# `fanout_bench --help`), its lines kept in build/bench/fanout_bench.jsonl.
#
#   bash scripts/bench.sh
#   bash scripts/bench.sh --cross 2000000 --reps 5
#   bash scripts/bench.sh --lto --only emit
#   bash scripts/bench.sh --fanout --reps 5
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

tree=build/bench
lto=OFF
if [ "${1:-}" = "--lto" ]; then
	shift
	tree=build/bench-lto
	lto=ON
fi
bench=core_bench
if [ "${1:-}" = "--fanout" ]; then
	shift
	bench=fanout_bench
fi
cmake -S . -B "$tree" -G Ninja -DCMAKE_BUILD_TYPE=Release -DWEIR_LTO=$lto \
    -DWEIR_TESTS=OFF -DWEIR_EXAMPLES=OFF -DWEIR_BENCH=ON >&2
cmake --build "$tree" --parallel "${WEIR_JOBS:-2}" --target "$bench" >&2

{
	echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p')"
	echo "kernel:  $(uname -sr)"
	echo "gcc:     $(gcc -dumpfullversion)"
	echo "node:    $(node --version 2>/dev/null || echo none)"
	echo "load:    $(cut -d' ' -f1-3 /proc/loadavg)"
} >&2

# CPU seconds all processes have used so far (user+nice+system+irq+
# softirq+steal from /proc/stat, in USER_HZ ticks).
cpu_busy() {
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}
# The children's CPU seconds, user + system, from bash's `times` (run in
# this shell: a command substitution would see its own children only).
times_file=$tree/times.txt
child_cpu() {
	awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/)
		print u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$times_file"
}

hz=$(getconf CLK_TCK)
busy0=$(cpu_busy)
times >"$times_file"
own0=$(child_cpu)
start=$(date +%s.%N)
"$tree/bench/$bench" "$@" >"$tree/$bench.jsonl"
cat "$tree/$bench.jsonl"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
end=$(date +%s.%N)
times >"$times_file"
own1=$(child_cpu)
busy1=$(cpu_busy)
# Other processes competing for the 2 cores make the cross-thread figures
# meaningless; say how much CPU they took during the run.
awk -v b0="$busy0" -v b1="$busy1" -v o0="$own0" -v o1="$own1" \
    -v t0="$start" -v t1="$end" -v hz="$hz" -v bench="$bench" 'BEGIN {
	wall = t1 - t0; all = (b1 - b0) / hz; own = o1 - o0
	other = all - own; if (other < 0) other = 0
	printf "run: %.1f s wall, %s %.1f CPU s, other processes " \
	    "%.1f CPU s (%.2f cores on average)\n", wall, bench, own, other,
	    other / wall }' >&2

#!/usr/bin/env bash
# Builds an optimised tree in build/bench and runs the core benchmark
# (weir::core against Node's EventEmitter, a function-pointer floor,
# ZeroMQ inproc PUB/SUB and a mutex+condvar queue), printing the machine
# first. Arguments go to core_bench (see `core_bench --help`); the JSON
# lines are also kept in build/bench/core_bench.jsonl.
#
#   bash scripts/bench.sh
#   bash scripts/bench.sh --cross 2000000 --reps 5
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DWEIR_TESTS=OFF -DWEIR_EXAMPLES=OFF -DWEIR_BENCH=ON >/dev/null
cmake --build build/bench --parallel "${WEIR_JOBS:-2}" --target core_bench

{
	echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p')"
	echo "kernel:  $(uname -sr)"
	echo "gcc:     $(gcc -dumpfullversion)"
	echo "node:    $(node --version 2>/dev/null || echo none)"
	echo "load:    $(cut -d' ' -f1-3 /proc/loadavg)"
} >&2
build/bench/bench/core_bench "$@" | tee build/bench/core_bench.jsonl

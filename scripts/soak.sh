#!/usr/bin/env bash
# The long reliability runs of issue 12 (docs/reliability.md), which the
# test command runs in a shortened form:
#   overload  tests/soak/overload.c: 60 s per policy (ctest: 3 s)
#   crash     tests/store/crash_test.c: 200 SIGKILLs per writer mode
#             (ctest: 20)
#   chaos     tests/chaos/chaos.py: `weir gateway` SIGKILLed 20 times and
#             its own nats-server stopped for 30 s while 10,000 events/s
#             flow for 60 s, to JetStream and the shared Kafka
#             (WEIR_KAFKA_BOOTSTRAP or build/brokers/env; ctest: 3 kills,
#             a 5 s outage, 1,000 events/s for 15 s). Not in the default
#             list: it needs the brokers. Run it alone: soak.sh chaos
# Builds an -O2 tree in build/soak and prints the JSON lines of each
# run; they are also kept in build/soak/soak.jsonl. Exits non-zero when
# a run fails. About 8 minutes on an idle 2-core machine.
#
#   bash scripts/soak.sh              # both
#   bash scripts/soak.sh overload     # or: crash
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
runs=("$@")
[[ ${#runs[@]} -gt 0 ]] || runs=(overload crash)

cmake -S . -B build/soak -G Ninja -DWEIR_WERROR=ON >&2
cmake --build build/soak --parallel "${WEIR_JOBS:-2}" \
    --target soak_overload store_crash_test weir_cli chaos_check >&2
out=build/soak/soak.jsonl
log=build/soak/soak.log
: >"$out"
# Runs "$@", showing all it prints, keeping its JSON lines.
keep() {
	local rc=0
	"$@" >"$log" 2>&1 || rc=$?
	cat "$log" >&2
	grep '^{' "$log" >>"$out" || true
	return "$rc"
}
for run in "${runs[@]}"; do
	case $run in
	overload)
		echo "== overload: 60 s per policy" >&2
		keep build/soak/tests/soak/soak_overload --seconds 60
		;;
	crash)
		echo "== crash: 200 kills per writer mode" >&2
		WEIR_CRASH_KILLS=200 keep build/soak/tests/store/store_crash_test
		;;
	chaos)
		echo "== chaos: 20 gateway kills, a 30 s nats-server outage, 10,000 events/s for 60 s" >&2
		keep python3 tests/chaos/chaos.py --weir build/soak/src/cli/weir \
		    --check build/soak/tests/chaos/chaos_check --source . \
		    --dir build/soak/chaos.d --seconds 60 --rate 10000 \
		    --kills 20 --outage 30
		;;
	*)
		echo "soak.sh: unknown run '$run' (overload, crash, chaos)" >&2
		exit 2
		;;
	esac
done
cat "$out"
echo "soak: ok ($out)" >&2

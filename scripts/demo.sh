#!/usr/bin/env bash
# README's run command: builds weir (build/release), then runs a demo on
# the embedded default, the in-process bus and a SQLite log in a
# temporary directory:
#
#   1. account events, generated here as NDJSON, flow through
#      `weir gateway` into the log and out on its routes: to the `mem`
#      backend always, and to NATS JetStream / Kafka when a broker is up
#      (WEIR_NATS_URL / WEIR_KAFKA_BOOTSTRAP, or build/brokers/env);
#   2. `weir replay` reads them back out of the log;
#   3. examples/balances rebuilds the read model (account balances) from
#      the log and checks it against the balances this script computed
#      while generating the events;
#   4. a summary of what happened.
#
#   bash scripts/demo.sh              build, then the demo
#   WEIR_DEMO_BUILD=DIR bash scripts/demo.sh
#                                     the demo with the programs of an
#                                     existing build tree (no build)
#
# Environment: WEIR_DEMO_EVENTS (default 1000), WEIR_JOBS (default 2).
# Exit 0 when every step checked out; non-zero otherwise.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
n=${WEIR_DEMO_EVENTS:-1000}

bin=${WEIR_DEMO_BUILD:-}
if [[ -z $bin ]]; then
	bin=build/release
	echo "== building weir in $bin"
	cmake -S . -B "$bin" -G Ninja -DCMAKE_BUILD_TYPE=Release \
	    -DWEIR_TESTS=OFF -DWEIR_BENCH=OFF >/dev/null
	cmake --build "$bin" --parallel "${WEIR_JOBS:-2}"
fi
weir=$bin/src/cli/weir
balances=$bin/examples/balances/balances
for exe in "$weir" "$balances"; do
	[[ -x $exe ]] || { echo "demo: $exe is not built" >&2; exit 1; }
done
start=$SECONDS

tmp=$(mktemp -d "${TMPDIR:-/tmp}/weir-demo.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# A broker counts when its address answers (a build/brokers/env left by
# brokers that were stopped uncleanly must not fail the demo).
if [[ -z ${WEIR_NATS_URL:-}${WEIR_KAFKA_BOOTSTRAP:-} &&
	-f build/brokers/env ]]; then
	set -a
	# shellcheck disable=SC1091
	. build/brokers/env
	set +a
fi
answers() { # host:port
	timeout 2 bash -c "exec 3<>/dev/tcp/${1%:*}/${1##*:}" 2>/dev/null
}
nats=${WEIR_NATS_URL:-} kafka=${WEIR_KAFKA_BOOTSTRAP:-}
if [[ -n $nats ]] && ! answers "$(sed -E 's#^[a-z]+://([^@/]*@)?##; s#[/,].*##' <<<"$nats")"; then
	echo "note: WEIR_NATS_URL does not answer: no NATS route"
	nats=
fi
if [[ -n $kafka ]] && ! answers "${kafka%%,*}"; then
	echo "note: WEIR_KAFKA_BOOTSTRAP does not answer: no Kafka route"
	kafka=
fi

# Only the backends this weir was built with (weir --version lists them).
backends=$("$weir" --version | sed -n 's/^backends: //p')
if [[ -n $nats && " $backends " != *" nats "* ]]; then
	echo "note: this weir has no NATS backend: no NATS route"
	nats=
fi
if [[ -n $kafka && " $backends " != *" kafka "* ]]; then
	echo "note: this weir has no Kafka backend: no Kafka route"
	kafka=
fi

fail() {
	echo "demo: FAILED: $*" >&2
	exit 1
}

# 1. The producer: account events as NDJSON, and the balances they must
# give (a withdrawal larger than the balance is refused, as in
# examples/balances/balances.c).
awk -v n="$n" -v ev="$tmp/events.ndjson" -v want="$tmp/expected.txt" '
BEGIN {
	srand(7)
	split("alice bob carol dave erin frank grace heidi", who, " ")
	for (i = 1; i <= n; i++) {
		w = who[1 + int(rand() * 8)]
		kind = rand() < 0.35 ? "withdraw" : "deposit"
		cents = 100 + int(rand() * 40000)
		printf "{\"topic\":\"bank.%s.%s\",\"key\":\"%s\",\"payload\":\"%d\"}\n",
		    w, kind, w, cents > ev
		if (kind == "deposit")
			bal[w] += cents
		else if (bal[w] >= cents)
			bal[w] -= cents
	}
	for (w in bal)
		printf "%s %d\n", w, bal[w] > want
}'

# Names of this run's own on the brokers, so that runs never share a
# stream or topic. The demo's stream is kept in the server's memory: it
# holds demo events only (docs/guarantees.md: real data wants file
# storage).
sfx=$RANDOM$RANDOM
{
	printf '[store]\npath = %s/events.db\n\n' "$tmp"
	printf '[mem]\nrecord_path = %s/relayed-mem.txt\n\n' "$tmp"
	printf '[route to-mem]\npattern = bank.>\nscheme = mem\ndest = {topic}\n\n'
	if [[ -n $nats ]]; then
		printf '[nats]\nurl = %s\nstream = WEIRDEMO%s\n' "$nats" "$sfx"
		printf 'stream.subjects = weirdemo%s.>\nstream.storage = memory\n\n' "$sfx"
		printf '[route to-nats]\npattern = bank.>\nscheme = nats\n'
		printf 'dest = weirdemo%s.{topic}\n\n' "$sfx"
	fi
	if [[ -n $kafka ]]; then
		printf '[kafka]\nbootstrap.servers = %s\n\n' "$kafka"
		printf '[route to-kafka]\npattern = bank.>\nscheme = kafka\n'
		printf 'dest = weirdemo%s-bank\n' "$sfx"
	fi
} >"$tmp/demo.ini"
if [[ -z $nats$kafka ]]; then
	echo "note: no broker up (WEIR_NATS_URL / WEIR_KAFKA_BOOTSTRAP unset, no build/brokers/env): routing to the mem backend only"
fi

echo "== weir gateway -c demo.ini --ack < events.ndjson   ($n events)"
"$weir" gateway -c "$tmp/demo.ini" --ack --drain-timeout 60 \
    <"$tmp/events.ndjson" >"$tmp/acks.ndjson" 2>"$tmp/gateway.err" ||
	fail "weir gateway exited $?: $(cat "$tmp/gateway.err")"
sed 's/^/   /' "$tmp/gateway.err"
accepted=$(grep -c '"ok":true' "$tmp/acks.ndjson" || true)
((accepted == n)) || fail "$accepted of $n events acknowledged"
stored=$("$weir" stats -s "$tmp/events.db" | jq -r .store.last_seq)
((stored == n)) || fail "the log holds $stored events, not $n"
relayed=()
for r in to-mem ${nats:+to-nats} ${kafka:+to-kafka}; do
	acked=$(sed -nE "s/^weir: route $r: ([0-9]+) acked, 0 dead, 0 left$/\1/p" \
	    "$tmp/gateway.err")
	[[ ${acked:-0} == "$n" ]] || fail "route $r: not all $n acknowledged"
	relayed+=("$r $acked")
done

echo "== weir replay -s events.db -t 'bank.>'"
"$weir" replay -s "$tmp/events.db" -t 'bank.>' >"$tmp/replayed.ndjson" \
    2>"$tmp/replay.err" || fail "weir replay exited $?: $(cat "$tmp/replay.err")"
sed 's/^/   /' "$tmp/replay.err"
head -2 "$tmp/replayed.ndjson" | sed 's/^/   /'
replayed=$(wc -l <"$tmp/replayed.ndjson")
((replayed == n)) || fail "$replayed of $n events replayed"
ids() { grep -o '"id":"[^"]*"' "$1" | sort; }
cmp -s <(ids "$tmp/acks.ndjson") <(ids "$tmp/replayed.ndjson") ||
	fail "the replayed ids are not the acknowledged ones"

echo "== balances --rebuild -s events.db --expect expected.txt"
model=OK
"$balances" --rebuild -s "$tmp/events.db" --expect "$tmp/expected.txt" \
    >"$tmp/model.txt" || model=FAILED
sed 's/^/   /' "$tmp/model.txt"
[[ $model == OK ]] || fail "the rebuilt model differs from the producer's"
accounts=$(wc -l <"$tmp/expected.txt")

printf '\n== summary (%ds after the build)\n' $((SECONDS - start))
printf '   %-12s %s\n' \
    generated "$n account events, NDJSON on the gateway's stdin" \
    accepted "$accepted (acknowledged after their commit)" \
    stored "$stored (the SQLite log's last seq)" \
    relayed "$(IFS=,; sed 's/,/, /g' <<<"${relayed[*]}") (acknowledged per route)" \
    replayed "$replayed (weir replay; the ids the gateway acknowledged)" \
    "model check" "OK ($accounts account balances rebuilt from the log match the producer's)"

#!/usr/bin/env bash
# The service_gateway example, run as a test.
#
#   bash examples/gateway/check.sh mem|brokers PATH/TO/service_gateway SRC
#
# mem: no broker in the environment; the program must say so in one line
# and deliver every order to the mem backend. brokers: the brokers of
# WEIR_NATS_URL / WEIR_KAFKA_BOOTSTRAP (or SRC/build/brokers/env); every
# order must be acknowledged by each; no broker: skipped (exit 77),
# unless CI=true.
set -euo pipefail
mode=${1:?} exe=${2:?} src=${3:?}
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
case $mode in
mem)
	env -u WEIR_NATS_URL -u WEIR_KAFKA_BOOTSTRAP "$exe" -n 300 >"$out" ||
		fail "exit $?: $(cat "$out")"
	[[ $(grep -c '^no broker' "$out") == 1 ]] ||
		fail "one 'no broker' line expected: $(cat "$out")"
	grep -q '^route to-mem: 300 sent, 300 acked, 0 dead' "$out" ||
		fail "300 acked on to-mem: $(cat "$out")"
	grep -q '^stored: last seq 300 ' "$out" || fail "$(cat "$out")"
	;;
brokers)
	if [[ -z ${WEIR_NATS_URL:-}${WEIR_KAFKA_BOOTSTRAP:-} &&
		-f $src/build/brokers/env ]]; then
		set -a
		# shellcheck disable=SC1091
		. "$src/build/brokers/env"
		set +a
	fi
	if [[ -z ${WEIR_NATS_URL:-}${WEIR_KAFKA_BOOTSTRAP:-} ]]; then
		[[ ${CI:-} == true ]] && fail "no broker (CI=true)"
		echo "example_gateway_brokers: SKIPPED: no broker in the environment"
		exit 77
	fi
	# A name of its own, so that runs never share a stream or topic.
	prefix=gwex$RANDOM$RANDOM
	"$exe" -n 200 --prefix "$prefix" --timeout 60 >"$out" ||
		fail "exit $?: $(cat "$out")"
	grep -q '^no broker' "$out" && fail "brokers were set: $(cat "$out")"
	if [[ -n ${WEIR_NATS_URL:-} ]]; then
		grep -q '^route to-nats: 200 sent, 200 acked, 0 dead' "$out" ||
			fail "200 acked by NATS: $(cat "$out")"
	fi
	if [[ -n ${WEIR_KAFKA_BOOTSTRAP:-} ]]; then
		grep -q '^route to-kafka: 200 sent, 200 acked, 0 dead' "$out" ||
			fail "200 acked by Kafka: $(cat "$out")"
	fi
	;;
*) fail "mode must be mem or brokers" ;;
esac
grep -q '^delivered: every order acknowledged' "$out" || fail "$(cat "$out")"
cat "$out"

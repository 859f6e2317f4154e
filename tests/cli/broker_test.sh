# A gateway with routes to the real NATS (JetStream) and Kafka brokers
# (WEIR_NATS_URL / WEIR_KAFKA_BOOTSTRAP, from the environment or
# build/brokers/env): every event is acknowledged by the broker. No
# broker: skipped, unless CI=true. Then replay --to bus sends them again.
source "$(dirname "$0")/lib.sh"

for env in "$SRC/build/brokers/env"; do
	if [[ -z ${WEIR_NATS_URL:-}${WEIR_KAFKA_BOOTSTRAP:-} && -f $env ]]; then
		set -a
		# shellcheck disable=SC1090
		. "$env"
		set +a
	fi
done
if [[ -z ${WEIR_NATS_URL:-} && -z ${WEIR_KAFKA_BOOTSTRAP:-} ]]; then
	[[ ${CI:-} == true ]] && fail "no broker (CI=true)"
	echo "broker_test: SKIPPED: no WEIR_NATS_URL / WEIR_KAFKA_BOOTSTRAP"
	exit 0
fi
sfx=$RANDOM$RANDOM
for i in $(seq 1 50); do
	printf '{"topic":"cli.t%s.e","key":"k%d","payload":"%d"}\n' "$sfx" $((i % 5)) "$i"
done >in.ndjson
{
	printf '[store]\npath = b.db\n'
	if [[ -n ${WEIR_NATS_URL:-} ]]; then
		printf '[nats]\nurl = %s\nstream = CLI%s\nstream.subjects = cli%s.>\n' \
			"$WEIR_NATS_URL" "$sfx" "$sfx"
		printf '[route n1]\npattern = cli.>\nscheme = nats\ndest = cli%s.{2}\n' "$sfx"
	fi
	if [[ -n ${WEIR_KAFKA_BOOTSTRAP:-} ]]; then
		printf '[kafka]\nbootstrap.servers = %s\n' "$WEIR_KAFKA_BOOTSTRAP"
		printf '[route k1]\npattern = cli.>\nscheme = kafka\ndest = cli-%s\n' "$sfx"
	fi
} >b.ini
expect_rc 0 "$WEIR" gateway -c b.ini --ack --drain-timeout 60 <in.ndjson
[[ $(grep -c '"ok":true' out) == 50 ]] || fail "50 acks expected"
for r in n1 k1; do
	if grep -q "route $r" b.ini; then
		contains err "route $r: 50 acked, 0 dead, 0 left"
	fi
done
expect_rc 0 "$WEIR" replay -s b.db --to bus -c b.ini --drain-timeout 60
contains err "50 acked, 0 not delivered, 0 unanswered"
# A config key the backend refuses is blamed on its line.
printf '[store]\npath = b2.db\n[kafka]\nbootstrap.servers = 127.0.0.1:1\nno.such.option = 1\n[route k1]\npattern = a.>\nscheme = kafka\ndest = x\n' >bad.ini
if [[ -n ${WEIR_KAFKA_BOOTSTRAP:-} ]]; then
	expect_rc 3 "$WEIR" gateway -c bad.ini </dev/null
	contains err "bad.ini:5:"
	contains err "kafka.no.such.option"
fi
# dlq retry through a route whose destination Kafka refuses at run time
# (a topic name with '/'): not delivered, one more attempt, exit 4.
if [[ -n ${WEIR_KAFKA_BOOTSTRAP:-} ]]; then
	echo '{"topic":"cli.dead","payload":"x"}' >dead.ndjson
	expect_rc 0 "$WEIR" gateway -s d.db <dead.ndjson
	"$SEED" d.db kbad
	printf '[kafka]\nbootstrap.servers = %s\n[route kbad]\npattern = cli.>\nscheme = kafka\ndest = cli/bad%s\n' \
		"$WEIR_KAFKA_BOOTSTRAP" "$sfx" >kbad.ini
	expect_rc 4 "$WEIR" dlq retry -s d.db -c kbad.ini --timeout 30
	contains err "weir: dlq retry: route kbad: 0 delivered, 1 failed"
	expect_rc 0 "$WEIR" dlq list -s d.db
	contains out '"error":"weir dlq retry: not acknowledged","attempts":2'
fi
echo "broker_test: ok"

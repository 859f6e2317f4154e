# SIGTERM while a gateway takes a stream of events: it exits 0, and
# every event it acknowledged is in the store (nothing acked is lost).
source "$(dirname "$0")/lib.sh"

mkfifo in.fifo
"$WEIR" gateway -s sig.db --ack <in.fifo >acks 2>gw.err &
gw=$!
# A writer that would go on for long: 200000 events.
(for i in $(seq 1 200000); do
	printf '{"topic":"sig.t","key":"k%d","payload":"%d"}\n' $((i % 7)) "$i"
done >in.fifo) 2>/dev/null &
writer=$!
trap 'kill $gw $writer 2>/dev/null || true' EXIT
acked_at_least() {
	local n
	n=$(grep -c '"ok":true' acks 2>/dev/null) || true
	((${n:-0} >= $1))
}
wait_for 30 acked_at_least 200
kill -TERM "$gw"
rc=0
wait "$gw" || rc=$?
kill "$writer" 2>/dev/null || true
wait "$writer" 2>/dev/null || true
[[ $rc == 0 ]] || { cat gw.err >&2; fail "gateway exited $rc after SIGTERM"; }
contains gw.err "weir: gateway:"
"$WEIR" replay -s sig.db >stored 2>/dev/null
acked=$(grep -c '"ok":true' acks)
missing=$(comm -23 <(grep -o '"id":"[^"]*"' acks | sort -u) \
	<(grep -o '"id":"[^"]*"' stored | sort -u) | wc -l)
[[ $missing == 0 ]] || fail "$missing of $acked acked events are not stored"
((acked < 200000)) || fail "the gateway read everything before SIGTERM"
echo "signal_test: ok ($acked acked, all stored)"

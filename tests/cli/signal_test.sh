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

# SIGINT during a paced replay stops it at once, not when the pacing
# wait ends: two events 100 s apart, replayed at real speed; the replay
# must be gone within 20 s of the signal (it used to take the 100 s).
printf '%s\n' '{"topic":"p.t","payload":"1","ts":1000000000000}' \
	'{"topic":"p.t","payload":"2","ts":1100000000000}' |
	"$WEIR" gateway -s pace.db >/dev/null 2>&1 || fail "seeding pace.db"
"$WEIR" replay -s pace.db --speed real >paced 2>paced.err &
rp=$!
trap 'kill $gw $writer $rp 2>/dev/null || true' EXIT
wait_for 30 grep -q '"p.t"' paced
kill -INT "$rp"
gone() { ! kill -0 "$rp" 2>/dev/null; }
wait_for 20 gone
rc=0
wait "$rp" || rc=$?
[[ $rc == 0 ]] || { cat paced.err >&2; fail "replay exited $rc after SIGINT"; }
[[ $(grep -c '"p.t"' paced) == 1 ]] || fail "the second event was replayed"
echo "signal_test: paced replay stopped by SIGINT"

# SIGINT during a paced replay --to bus ends it as it ends the stdout
# one: not an error (exit 0, no "canceled"), with the routes' report;
# the event sent before the signal was acked, so nothing is partial.
printf '[mem]\nrecord_path = rec.txt\n[route r1]\npattern = p.>\nscheme = mem\ndest = x\n' >pace.ini
"$WEIR" replay -s pace.db --speed real --to bus -c pace.ini 2>bus.err &
rp=$!
one_record() { [[ -s rec.txt && $(wc -l <rec.txt) == 1 ]]; }
wait_for 30 one_record
kill -INT "$rp"
wait_for 20 gone
rc=0
wait "$rp" || rc=$?
[[ $rc == 0 ]] || { cat bus.err >&2; fail "replay --to bus exited $rc after SIGINT"; }
contains bus.err "weir: route r1: 1 acked, 0 not delivered, 0 unanswered"
grep -q "canceled" bus.err && fail "replay --to bus reported the SIGINT as an error"
[[ $(wc -l <rec.txt) == 1 ]] || fail "the second event was sent"
echo "signal_test: paced replay --to bus stopped by SIGINT"

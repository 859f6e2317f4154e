# weir gateway, replay, tail and stats without a broker: acks, refused
# lines named by line and field (skip and stop), nothing accepted lost,
# config errors by file:line, replay reproduces what was appended.
source "$(dirname "$0")/lib.sh"

# --- happy path: every line acked with its seq, replay gives it back
cat >in.ndjson <<'IN'
{"topic":"shop.eu.order","key":"k1","headers":{"traceparent":"00-1"},"payload":"one"}
{"topic":"shop.us.order","payload":{"amount":5}}
{"topic":"shop.eu.order","key_b64":"AP8=","payload_b64":"AAECAw=="}
{"topic":"acct.1","stream":"acct-1","payload":"opened"}
IN
expect_rc 0 "$WEIR" gateway -s a.db --ack <in.ndjson
[[ $(grep -c '"ok":true' out) == 4 ]] || fail "4 acks expected"
contains out '"seq":4'
expect_rc 0 "$WEIR" replay -s a.db
cp out replayed
[[ $(wc -l <replayed) == 4 ]] || fail "replay: 4 lines expected"
contains replayed '"key":"k1","headers":{"traceparent":"00-1"},"payload":"one"'
contains replayed '"payload":"{\"amount\":5}"'
contains replayed '"key_b64":"AP8=","payload_b64":"AAECAw=="'
contains replayed '"stream":"acct-1","version":1'
contains err "replayed 4 events"
# Acked ids are the replayed ids.
diff <(grep -o '"id":"[^"]*"' replayed | sort) \
	<("$WEIR" gateway -s b.db --ack <replayed 2>/dev/null |
		grep -o '"id":"[^"]*"' | sort) ||
	fail "replayed events fed to a gateway keep their ids"

# --- filters and speeds
expect_rc 0 "$WEIR" replay -s a.db -t 'shop.*.order' --from-seq 2 --speed x1000
[[ $(wc -l <out) == 2 ]] || fail "filtered replay: 2 lines expected"
expect_rc 0 "$WEIR" replay -s a.db --stream acct-1 --speed real
[[ $(wc -l <out) == 1 ]] || fail "stream replay: 1 line expected"
expect_rc 0 "$WEIR" replay -s a.db --since -1h --until "$(date +%s).999"
[[ $(wc -l <out) == 4 ]] || fail "time replay: 4 lines expected"
expect_rc 2 "$WEIR" replay -s a.db --speed fast
contains err "--speed: bad value 'fast'"

# --- tail and stats
expect_rc 0 "$WEIR" tail -s a.db -n 2
[[ $(wc -l <out) == 2 ]] || fail "tail -n 2: 2 lines expected"
contains out '"seq":4'
expect_rc 0 "$WEIR" stats -s a.db
contains out '"last_seq":4'
contains out '"shop.eu.order":2'
expect_rc 0 "$WEIR" stats -s a.db --watch --count 2 --interval 0.1
contains out 'shop.eu.order'
contains out 'RATE/s'

# --- bad lines: skip goes on, stop stops; both exit 3, nothing lost
printf '%s\n' '{"topic":"t.a","payload":"1"}' '{"topic":"t.a",' \
	'{"topic":"t.a","headers":{"h":3}}' '{"topic":"t.a","payload":"4"}' >bad.ndjson
expect_rc 3 "$WEIR" gateway -s skip.db --ack --on-error=skip <bad.ndjson
contains err "stdin line 2: not JSON"
contains err "stdin line 3: field 'headers.h': must be a string"
[[ $(grep -c '"ok":true' out) == 2 ]] || fail "skip: 2 accepted"
expect_rc 0 "$WEIR" replay -s skip.db
[[ $(wc -l <out) == 2 ]] || fail "skip: 2 stored"
expect_rc 3 "$WEIR" gateway -s stop.db --ack --on-error stop <bad.ndjson
contains err "stdin line 2: not JSON"
grep -q "line 3" err && fail "stop: line 3 was read"
contains out '"line":1'
expect_rc 0 "$WEIR" replay -s stop.db
[[ $(wc -l <out) == 1 ]] || fail "stop: line 1 is stored"

# --- config errors name file:line and the key
printf '[store]\npath = c.db\n\n[bridge]\nwindow = 8\nno_such = 1\n' >bad1.ini
expect_rc 3 "$WEIR" gateway -c bad1.ini </dev/null
contains err "bad1.ini:6: [bridge]: unknown key 'no_such'"
printf '[store]\npath = c.db\n[route r1]\npattern = a.>\nscheme = mem\nfrom = x\n' >bad2.ini
expect_rc 3 "$WEIR" gateway -c bad2.ini </dev/null
contains err "bad2.ini:6: [route r1]: unknown key 'from'"
printf '[store]\npath = c.db\n[route r1]\npattern = a.>\nscheme = mem\n' >bad3.ini
expect_rc 3 "$WEIR" gateway -c bad3.ini </dev/null
contains err "bad3.ini:4: [route r1]: 'dest' is missing"
printf '[stor]\npath = c.db\n' >bad4.ini
expect_rc 3 "$WEIR" gateway -c bad4.ini </dev/null
contains err "bad4.ini:2: unknown section [stor]"
printf '[store]\npath = c.db\n[bridge]\nwindow = 0\n[route r1]\npattern = a.>\nscheme = mem\ndest = {topic}\n' >bad5.ini
expect_rc 3 "$WEIR" gateway -c bad5.ini </dev/null
contains err "bad5.ini:4: window: value out of range"

# --- a route to the mem backend, and the stats socket
printf '[store]\npath = m.db\n[mem]\nrecord_path = rec.txt\n[route r1]\npattern = shop.>\nscheme = mem\ndest = out.{2}\n' >mem.ini
expect_rc 0 "$WEIR" gateway -c mem.ini --ack <in.ndjson
contains err "route r1: 3 acked, 0 dead, 0 left"
[[ $(wc -l <rec.txt) == 3 ]] || fail "mem route: 3 records expected"
# two routes of one scheme share its backend (registered once)
printf '[store]\npath = m2.db\n[mem]\nrecord_path = rec2.txt\n[route r1]\npattern = shop.eu.>\nscheme = mem\ndest = eu\n[route r2]\npattern = shop.>\nscheme = mem\ndest = all\n' >mem2.ini
expect_rc 0 "$WEIR" gateway -c mem2.ini <in.ndjson
contains err "route r1: 2 acked, 0 dead, 0 left"
contains err "route r2: 3 acked, 0 dead, 0 left"
[[ $(wc -l <rec2.txt) == 5 ]] || fail "two mem routes: 5 records expected"
# --- two socket clients with acks, and the stats socket
"$WEIR" gateway -s sock.db -S in.sock --stats-socket st.sock --ack \
	2>sock.err &
gw=$!
trap 'kill $gw 2>/dev/null || true' EXIT
wait_for 20 test -S st.sock
for c in 1 2; do
	python3 - "$c" >"acks$c" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect("in.sock")
c = sys.argv[1].encode()
s.sendall(b'{"topic":"sock.c%s"}\n{"topic":"sock.c%s"}\n' % (c, c))
s.shutdown(socket.SHUT_WR)
print(s.makefile().read(), end="")
PY
	[[ $(grep -c '"ok":true' "acks$c") == 2 ]] || fail "client $c: 2 acks"
done
expect_rc 0 "$WEIR" stats -S st.sock
contains out '"accepted":4'
contains out '"sock.c1":2'
kill -TERM "$gw"
wait "$gw" || fail "socket gateway exited $? after SIGTERM"
[[ ! -e in.sock ]] || fail "the socket file is left behind"
echo "gateway_test: ok"

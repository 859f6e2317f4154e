# The gateway's input edges: CR LF and blank lines, a last line without
# a newline, a line over 16 MiB, an append the store refuses, SIGUSR1's
# stats, socket paths already taken or too long, the 257th socket
# client turned away, a client gone before its ack, acks to a stdout
# that cannot be written, and a gateway without a store.
source "$(dirname "$0")/lib.sh"

# --- CR LF, trailing blanks, blank lines, no final newline: line
# numbers still count every line
printf '{"topic":"io.a"}\r\n\n   \r\n{"topic":"io.b"}  \n{"topic":"io.c"}' >crlf.ndjson
expect_rc 0 "$WEIR" gateway -s io.db --ack <crlf.ndjson
[[ $(grep -c '"ok":true' out) == 3 ]] || fail "crlf: 3 acks expected"
contains out '"line":4'
contains out '"line":5'
contains err "weir: gateway: 5 lines, 3 stored, 0 refused, 0 not stored"

# --- an input that fails to read (a directory) is an error, exit 1: it
# ended as if at EOF, and the gateway exited 0
expect_rc 1 "$WEIR" gateway -s dir.db <.
contains err "weir: stdin line 1: cannot read: Is a directory"

# --- a line over 16 MiB is refused, the lines around it are taken
{
	echo '{"topic":"io.before"}'
	head -c $((17 * 1024 * 1024)) /dev/zero | tr '\0' 'x'
	echo
	echo '{"topic":"io.after"}'
} >long.ndjson
expect_rc 3 "$WEIR" gateway -s long.db --ack <long.ndjson
contains out '{"ok":false,"field":"","error":"line longer than 16 MiB","line":2}'
contains out '"line":3'
[[ $(grep -c '"ok":true' out) == 2 ]] || fail "long: 2 acks expected"

# --- an append the store refuses (over [store] max_event): "not
# stored", answered ok:false, exit 1; with --on-error stop too (lines of
# the same read pass as the refused one are still taken)
printf '[store]\npath = small.db\nmax_event = 256\n' >small.ini
big=$(head -c 400 /dev/zero | tr '\0' 'y')
printf '{"topic":"io.s","payload":"%s"}\n{"topic":"io.t"}\n' "$big" >big.ndjson
expect_rc 1 "$WEIR" gateway -c small.ini --ack <big.ndjson
contains err "weir: stdin line 1: not stored:"
contains out '"ok":false'
contains out '"line":2'
expect_rc 1 "$WEIR" gateway -c small.ini --ack --on-error stop <big.ndjson
contains err "weir: stdin line 1: not stored: event of 404 bytes exceeds"
contains out '{"ok":false,"field":"","error":"too large","line":1}'

# --- SIGUSR1: the stats JSON on stderr, the gateway goes on
mkfifo in.fifo
"$WEIR" gateway -s usr.db --ack <in.fifo >usr.out 2>usr.err &
gw=$!
exec 3>in.fifo
trap 'exec 3>&-; kill $gw 2>/dev/null || true' EXIT
echo '{"topic":"usr.a"}' >&3
acked() { grep -q '"ok":true' usr.out; }
wait_for 20 acked
kill -USR1 "$gw"
stats_printed() { grep -q '"gateway":{' usr.err; }
wait_for 20 stats_printed
contains usr.err '"accepted":1'
contains usr.err '"usr.a":1'
echo '{"topic":"usr.b"}' >&3
exec 3>&-
rc=0
wait "$gw" || rc=$?
trap - EXIT
[[ $rc == 0 ]] || fail "gateway exited $rc after SIGUSR1 and EOF"
[[ $(grep -c '"ok":true' usr.out) == 2 ]] || fail "after SIGUSR1: 2 acks"

# --- a socket path in use by a live gateway, a path too long
"$WEIR" gateway -s s1.db -S in.sock --stats-socket st.sock 2>s1.err &
gw=$!
trap 'kill $gw 2>/dev/null || true' EXIT
wait_for 20 test -S st.sock
expect_rc 1 "$WEIR" gateway -s s2.db -S in.sock
contains err "weir: in.sock: another process listens there"
expect_rc 1 "$WEIR" gateway -s s2.db -S other.sock --stats-socket st.sock
contains err "weir: st.sock: another process listens there"
# a socket client's refused line is blamed on "client N line L"
python3 - <<'PY'
import socket
s = socket.socket(socket.AF_UNIX)
s.connect("in.sock")
s.sendall(b'{"topic":"ok.a"}\nnot json\n')
s.shutdown(socket.SHUT_WR)
s.recv(1)
PY
# (the probes of the two gateways above were clients too)
grep -qE "^weir: client [0-9]+ line 2: not JSON" s1.err ||
	fail "no 'client N line 2' in s1.err"
kill -TERM "$gw"
rc=0
wait "$gw" || rc=$?
[[ $rc == 3 ]] || fail "socket gateway exited $rc, not 3 (a line refused)"
trap - EXIT
long=$(printf 'd%.0s' $(seq 1 120))
expect_rc 1 "$WEIR" stats -S "$long.sock"
contains err "weir: socket path too long"
expect_rc 1 "$WEIR" stats -S nobody.sock
contains err "weir: cannot connect to nobody.sock"

# --- 256 socket clients at once are served; the 257th is turned away
# ("too many clients", closed at once), and the gateway goes on
"$WEIR" gateway -s many.db -S many.sock --ack 2>many.err &
gw=$!
trap 'kill $gw 2>/dev/null || true' EXIT
wait_for 20 test -S many.sock
python3 - <<'PY'
import socket
cs = []
for i in range(256):
    s = socket.socket(socket.AF_UNIX)
    s.connect("many.sock")  # blocking: waits while the backlog is full
    s.settimeout(20)
    s.sendall(b'{"topic":"many.a"}\n')
    cs.append((s, s.makefile("rb")))
for s, f in cs:  # every line acknowledged: all 256 are connected
    assert b'"ok":true' in f.readline()
extra = socket.socket(socket.AF_UNIX)
extra.connect("many.sock")
extra.settimeout(20)
assert extra.recv(1) == b"", "the 257th client was not closed"
extra.close()
s, f = cs[0]  # an earlier client is still served
s.sendall(b'{"topic":"many.b"}\n')
assert b'"ok":true' in f.readline()
for s, f in cs:
    f.close()
    s.close()
PY
contains many.err "weir: too many clients"
# a client that is gone before its ack: the gateway (stopped meanwhile)
# stores its line, fails to answer, drops the client and goes on
kill -STOP "$gw"
python3 - <<'PY'
import socket
s = socket.socket(socket.AF_UNIX)
s.connect("many.sock")
s.sendall(b'{"topic":"many.c"}\n')
s.close()
PY
kill -CONT "$gw"
stored() { "$WEIR" replay -s many.db >many.out 2>/dev/null && [[ $(wc -l <many.out) == "$1" ]]; }
wait_for 20 stored 258
kill -0 "$gw" || fail "the gateway died when a client went away"
kill -TERM "$gw"
rc=0
wait "$gw" || rc=$?
trap - EXIT
[[ $rc == 0 ]] || fail "gateway with 257 clients exited $rc"
expect_rc 0 "$WEIR" replay -s many.db
[[ $(wc -l <out) == 258 ]] || fail "258 events stored (256 + 1 + 1)"

# --- --ack to a stdout that cannot be written (/dev/full): the events
# are stored, the acks are lost: said once, exit 1 (it was exit 0, and
# nothing said)
printf '{"topic":"f.a"}\n{"topic":"f.b"}\n' >full.ndjson
rc=0
"$WEIR" gateway -s full.db --ack <full.ndjson >/dev/full 2>full.err || rc=$?
[[ $rc == 1 ]] || { cat full.err >&2; fail "--ack to /dev/full exited $rc, not 1"; }
[[ $(grep -c "^weir: cannot write acks to stdout: " full.err) == 1 ]] ||
	{ cat full.err >&2; fail "--ack to /dev/full: one 'cannot write acks' line"; }
expect_rc 0 "$WEIR" replay -s full.db
[[ $(wc -l <out) == 2 ]] || fail "--ack to /dev/full: 2 events stored"

# --- without a store (a direct route): each line is published at once,
# answered ok with seq 0 (at-most-once), and the route acknowledges it
printf '[mem]\nrecord_path = drec.txt\n[route r1]\npattern = d.>\nscheme = mem\ndest = out\ndirect = true\n' >direct.ini
printf '{"topic":"d.a","payload":"1"}\n{"topic":"d.b","payload":"2"}\n' >direct.ndjson
expect_rc 0 "$WEIR" gateway -c direct.ini --ack <direct.ndjson
[[ $(grep -c '"ok":true,"seq":0,' out) == 2 ]] || fail "direct: 2 acks with seq 0"
contains err "weir: route r1: 2 acked, 0 dead, 0 left"
[[ $(wc -l <drec.txt) == 2 ]] || fail "direct: the route got 2 events"

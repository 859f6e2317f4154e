# weir stats: a store's cursors and dead letters, a gateway's socket
# that sends no JSON or goes away, --watch on a terminal, of a
# gateway's socket and until SIGINT, a store that cannot be read, and
# bad --interval values.
source "$(dirname "$0")/lib.sh"

printf '[store]\npath = s.db\n[mem]\nrecord_path = rec.txt\n[route r1]\npattern = st.>\nscheme = mem\ndest = out\n' >mem.ini
printf '{"topic":"st.a"}\n{"topic":"st.b"}\n{"topic":"st.a"}\n' >in.ndjson
expect_rc 0 "$WEIR" gateway -c mem.ini <in.ndjson
"$SEED" s.db r1
expect_rc 0 "$WEIR" stats -s s.db
contains out '"cursors":{"bridge.route.r1":3}'
contains out '"dead_letters":3'
contains out '"topics":{"st.a":2,"st.b":1}'
expect_rc 1 "$WEIR" stats -s .
contains err "weir: store '.'"

# --- --interval: a day at most (a larger one overflowed the sleep's
# milliseconds: --interval 1e300 slept for ever instead of refreshing)
expect_rc 2 timeout 20 "$WEIR" stats -s s.db --watch --interval 86401
contains err "--interval: bad value '86401'"
expect_rc 2 timeout 20 "$WEIR" stats -s s.db --watch --count 2 --interval 1e300
contains err "--interval: bad value '1e300'"
expect_rc 2 "$WEIR" stats -s s.db --watch --interval 1e999
contains err "--interval: bad value '1e999'"

# --- --watch on a terminal clears the screen before each table
script -qec "'$WEIR' stats -s s.db --watch --count 2 --interval 0.05" \
	/dev/null >tty.txt
contains tty.txt $'\033[H\033[2J'
[[ $(grep -o "TOPIC" tty.txt | wc -l) == 2 ]] || fail "watch: 2 tables expected"

# --- a stats socket that sends no JSON, then one that is gone
python3 - <<'PY' &
import os, socket
s = socket.socket(socket.AF_UNIX)
s.bind("bad.sock")
s.listen(4)
for _ in range(2):
    c, _ = s.accept()
    c.sendall(b"not json")
    c.close()
s.close()
os.unlink("bad.sock")
PY
srv=$!
wait_for 20 test -S bad.sock
expect_rc 1 "$WEIR" stats -S bad.sock
contains err "weir: stats: bad.sock sent no JSON"
expect_rc 1 "$WEIR" stats -S bad.sock --watch --count 3
contains err "weir: stats: bad.sock sent no JSON"
wait "$srv"

# --- a store that opens but cannot be read (a table dropped): the
# store's own message, exit 1
cp s.db nocursors.db
sqlite3 nocursors.db "DROP TABLE cursors"
expect_rc 1 "$WEIR" stats -s nocursors.db
contains err "weir: stats: cursors: no such table: cursors"
[[ ! -s out ]] || fail "stats of a damaged store printed figures"

# --- --watch of a gateway's socket: the table shows the gateway's
# topics and their rate
python3 - <<'PY' &
import os, socket
s = socket.socket(socket.AF_UNIX)
s.bind("gw.sock")
s.listen(4)
for n in (4, 10):
    c, _ = s.accept()
    c.sendall(b'{"gateway":{"topics":{"g.a":%d}},"bus":{}}\n' % n)
    c.close()
s.close()
os.unlink("gw.sock")
PY
srv=$!
wait_for 20 test -S gw.sock
expect_rc 0 "$WEIR" stats -S gw.sock --watch --count 2 --interval 1
[[ $(grep -c "^g.a  *4 " out) == 1 && $(grep -c "^g.a  *10  *6.0$" out) == 1 ]] ||
	{ cat out >&2; fail "watch -S: g.a at 4, then 10 at 6.0/s expected"; }
wait "$srv"

# --- --watch without --count refreshes until SIGINT, then exits 0
"$WEIR" stats -s s.db --watch --interval 0.05 >w.out 2>w.err &
watch=$!
tables() { [[ $(grep -c TOPIC w.out) -ge 2 ]]; }
wait_for 20 tables
kill -INT "$watch"
rc=0
wait "$watch" || rc=$?
[[ $rc == 0 ]] || fail "stats --watch after SIGINT exited $rc"
[[ ! -s w.err ]] || fail "stats --watch wrote to stderr: $(cat w.err)"

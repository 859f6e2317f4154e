# weir stats: a store's cursors and dead letters, a gateway's socket
# that sends no JSON or goes away, --watch on a terminal, and bad
# --interval values.
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

# weir tail: the last N events, its options, -f following a store
# that a gateway appends to meanwhile (one with events, an empty one),
# and a damaged row.
source "$(dirname "$0")/lib.sh"

for i in $(seq 1 50); do
	printf '{"topic":"t.a","payload":"p%d"}\n' "$i"
done >in.ndjson
printf '%s\n' '{"topic":"t.s","stream":"acct-1","payload":"s1"}' >>in.ndjson
expect_rc 0 "$WEIR" gateway -s t.db <in.ndjson

# --- the last 10 (default), oldest first
expect_rc 0 "$WEIR" tail -s t.db -t 't.a'
[[ $(wc -l <out) == 10 ]] || fail "tail: $(wc -l <out) lines, not 10"
head -1 out | grep -qF '"payload":"p41"' || fail "tail: first is not p41"
tail -1 out | grep -qF '"payload":"p50"' || fail "tail: last is not p50"
expect_rc 0 "$WEIR" tail -s t.db -n 0
[[ ! -s out ]] || fail "tail -n 0 printed something"
expect_rc 0 "$WEIR" tail -s t.db --stream acct-1
contains out '"stream":"acct-1"'
[[ $(wc -l <out) == 1 ]] || fail "tail --stream: not 1 line"

# --- a huge -n is "all of them": the arrays for the last N were
# allocated for N + 1 up front, so -n 2^64-1 wrapped to calloc(0) and
# overflowed the heap (abort), and -n 10^11 failed with "no error".
expect_rc 0 "$WEIR" tail -s t.db -n 18446744073709551615
[[ $(wc -l <out) == 51 ]] || fail "tail -n 2^64-1: $(wc -l <out) lines"
expect_rc 0 "$WEIR" tail -s t.db -n 100000000000 -t 't.a'
[[ $(wc -l <out) == 50 ]] || fail "tail -n 1e11: $(wc -l <out) lines"

# --- replay to a full device: an error, exit 1, not a short output
rc=0
"$WEIR" replay -s t.db --to stdout >/dev/full 2>err || rc=$?
[[ $rc == 1 ]] || fail "replay >/dev/full exited $rc, not 1"
contains err "weir: replay: cannot write to stdout"

# --- options: each bad value is a usage error naming it
expect_rc 2 "$WEIR" tail -s t.db -n ten
contains err "--lines: bad value 'ten'"
expect_rc 2 "$WEIR" tail -s t.db -f --interval 0
contains err "--interval: bad value '0'"
expect_rc 2 "$WEIR" tail -s t.db --interval 60001
contains err "--interval: bad value '60001'"
expect_rc 2 "$WEIR" tail -s t.db extra
contains err "unexpected argument 'extra'"
expect_rc 2 "$WEIR" tail -n 3
contains err "--store is required"
expect_rc 2 "$WEIR" tail -s
contains err "missing argument for option '-s'"
expect_rc 0 "$WEIR" tail --help
contains out "usage: weir tail"
expect_rc 1 "$WEIR" tail -s .
contains err "weir: store '.'"

# --- -f: prints the last N, then what a gateway appends, until SIGTERM
# (exit 0). late.0 is the one event of the last N: once it is printed,
# tail follows, so the next three come through -f.
echo '{"topic":"late.0"}' >late0.ndjson
expect_rc 0 "$WEIR" gateway -s t.db <late0.ndjson
"$WEIR" tail -s t.db -f -n 5 -t 'late.*' --interval 20 >fout 2>ferr &
tpid=$!
count() { [[ $(wc -l <fout) == "$1" ]]; }
wait_for 20 count 1
printf '{"topic":"late.%d","payload":"n%d"}\n' 1 1 2 2 3 3 >late.ndjson
expect_rc 0 "$WEIR" gateway -s t.db <late.ndjson
wait_for 20 count 4
kill -TERM "$tpid"
rc=0
wait "$tpid" || rc=$?
[[ $rc == 0 ]] || fail "tail -f exited $rc after SIGTERM"
head -1 fout | grep -qF '"topic":"late.0"' || fail "tail -f: first is not late.0"
tail -1 fout | grep -qF '"topic":"late.3"' || fail "tail -f: last is not late.3"
grep -qF '"seq":53,' fout || fail "tail -f: late.1 is not seq 53"

# --- a damaged row (an id that is not 16 bytes): the store's word,
# exit 1
cp t.db bad.db
sqlite3 bad.db "UPDATE events SET id = X'00' WHERE seq = 1"
expect_rc 1 "$WEIR" tail -s bad.db -n 100
contains err "weir: tail: event at seq 1: malformed"

# --- -f on an empty store: nothing at first, then what a gateway
# appends (seq 1 and 2), until SIGINT: exit 0
expect_rc 0 "$WEIR" gateway -s empty.db </dev/null
"$WEIR" tail -s empty.db -f --interval 20 >eout 2>eerr &
tpid=$!
printf '{"topic":"e.%d"}\n' 1 2 >e.ndjson
expect_rc 0 "$WEIR" gateway -s empty.db <e.ndjson
ecount() { [[ $(wc -l <eout) == 2 ]]; }
wait_for 20 ecount
kill -INT "$tpid"
rc=0
wait "$tpid" || rc=$?
[[ $rc == 0 ]] || fail "tail -f of an empty store exited $rc after SIGINT"
head -1 eout | grep -qF '"seq":1,' || fail "tail -f: first is not seq 1"
tail -1 eout | grep -qF '"topic":"e.2"' || fail "tail -f: last is not e.2"

# --- -f when nothing in the store matches: it follows from the store's
# end (an event of another topic is not printed), until SIGINT
printf '{"topic":"x.1"}\n' >x.ndjson
expect_rc 0 "$WEIR" gateway -s other.db <x.ndjson
"$WEIR" tail -s other.db -f -t 'e.*' --interval 20 >oout 2>oerr &
tpid=$!
expect_rc 0 "$WEIR" gateway -s other.db <x.ndjson
expect_rc 0 "$WEIR" gateway -s other.db <e.ndjson
ocount() { [[ $(wc -l <oout) == 2 ]]; }
wait_for 20 ocount
kill -INT "$tpid"
rc=0
wait "$tpid" || rc=$?
[[ $rc == 0 ]] || fail "tail -f -t exited $rc after SIGINT"
head -1 oout | grep -qF '"seq":3,' || fail "tail -f -t: first is not seq 3"
grep -qF '"x.1"' oout && fail "tail -f -t printed another topic"
expect_rc 2 "$WEIR" tail -s t.db -f --interval abc
contains err "--interval: bad value 'abc'"

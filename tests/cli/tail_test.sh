# weir tail: the last N events, its options, and -f following a store
# that a gateway appends to meanwhile.
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

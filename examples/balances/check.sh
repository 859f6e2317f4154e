#!/usr/bin/env bash
# The balances example, run as a test: the live run agrees with its
# rebuild; a second live run into the same log checks only its own
# events; rebuilding the log against the saved live model passes, and
# against a model with one balance changed fails with exit 1.
#
#   bash examples/balances/check.sh PATH/TO/balances SCRATCH_DIR
set -euo pipefail
exe=${1:?usage: check.sh PATH/TO/balances SCRATCH_DIR}
tmp=${2:?usage: check.sh PATH/TO/balances SCRATCH_DIR}
rm -rf "$tmp"
mkdir -p "$tmp"
cd "$tmp"
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

"$exe" >out || fail "the live run (temporary store) failed: $(cat out)"
grep -q '^model check OK' out || fail "no 'model check OK' in: $(cat out)"

"$exe" -n 3000 -s events.db --save live.txt >out || fail "$(cat out)"
"$exe" -n 500 -s events.db >out || fail "a second run into the log: $(cat out)"
grep -q 'seq 3001 on' out || fail "the second run rebuilt from seq 3001: $(cat out)"

# The whole log holds both runs; --expect from the first alone differs
# unless the second run's events are taken out, so rebuild a copy of
# the first run's log instead.
"$exe" -n 3000 -s first.db --save first.txt >out || fail "$(cat out)"
"$exe" --rebuild -s first.db --expect first.txt >out ||
	fail "rebuild against the saved live model: $(cat out)"
grep -q '^rebuilt: 3000 events' out || fail "3000 events rebuilt: $(cat out)"
grep -q '^model check OK' out || fail "$(cat out)"

# One balance off by a cent: the check must fail, and say which.
awk 'NR == 1 { $2 = $2 + 1 } { print }' first.txt >wrong.txt
acct=$(awk 'NR == 1 { print $1 }' first.txt)
rc=0
"$exe" --rebuild -s first.db --expect wrong.txt >out || rc=$?
[[ $rc == 1 ]] || fail "a wrong model exited $rc, expected 1: $(cat out)"
grep -q "^mismatch: $acct:" out || fail "the mismatch names $acct: $(cat out)"
grep -q '^model check FAILED' out || fail "$(cat out)"

rc=0
"$exe" --no-such-flag >out 2>&1 || rc=$?
[[ $rc == 2 ]] || fail "an unknown flag exited $rc, expected 2"
echo "balances check: ok"

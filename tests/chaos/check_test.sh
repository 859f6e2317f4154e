#!/usr/bin/env bash
# chaos_check finds what it is there to find, with no broker: a log made
# by the gateway with one (key, n) under two ids and two events out of
# per-key order, and an acknowledged id the log does not hold, must give
# lost 1, duplicated 1, reordered 2 and exit 1; the same log without
# them gives all 0 and exit 0.
#   check_test.sh WEIR CHAOS_CHECK DIR
set -euo pipefail
weir=$1 check=$2 dir=$3
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
printf '[store]\npath = bad.db\n' >bad.ini
printf '[store]\npath = good.db\n' >good.ini
ev() { printf '{"topic":"a.k0","key":"k0","id":"%s","payload":"0:%s"}\n' \
	"$(python3 -c 'import uuid; print(uuid.uuid4())')" "$1"; }
ids() { python3 -c 'import sys, json; [print(json.loads(l)["id"]) for l in sys.stdin]'; }
{ ev 0; ev 2; ev 1; ev 1; } | "$weir" gateway -c bad.ini --ack | ids >bad.txt
echo 00000000-0000-4000-8000-000000000000 >>bad.txt
{ ev 0; ev 1; ev 2; } | "$weir" gateway -c good.ini --ack | ids >good.txt
rc=0
out=$("$check" --store bad.db --acked bad.txt) || rc=$?
echo "$out"
[[ $rc == 1 ]] || { echo "FAIL: exit $rc, not 1"; exit 1; }
for want in '"lost":1' '"duplicated_after_dedupe":1' '"reordered_per_key":2'; do
	[[ $out == *"$want"* ]] || { echo "FAIL: no $want"; exit 1; }
done
out=$("$check" --store good.db --acked good.txt)
echo "$out"
[[ $out == *'"lost":0,"duplicated_after_dedupe":0,"reordered_per_key":0,'* ]] ||
	{ echo "FAIL: a clean log gave counts"; exit 1; }
echo "check_test: ok"

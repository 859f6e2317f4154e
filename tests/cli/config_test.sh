# The INI config reader: what the ini fuzz target found (tests/fuzz,
# docs/reliability.md, Fuzzing). Every line is read whole and blamed by
# its own number.
source "$(dirname "$0")/lib.sh"
: >empty

# --- a NUL byte in a line is refused: inih stopped at it, so the rest of
# the line was dropped unseen (here "junk"), and a NUL in a line longer
# than inih's buffer split the line in two: its tail was read as an
# entry and every later line was blamed one line too far.
printf '[store]\npath = c.db\0junk\n' >nul.ini
expect_rc 3 "$WEIR" gateway -c nul.ini <empty
contains err "nul.ini:2: a NUL byte in the line"
{
	printf '[store]\npath = c.db\n[mem]\nrecord_path = r.txt\0'
	printf 'x%.0s' {1..300}
	printf ' = 1\n[stor]\n'
} >split.ini
expect_rc 3 "$WEIR" gateway -c split.ini <empty
contains err "split.ini:4: a NUL byte in the line"

# --- wiring the config into a bridge: each refusal names file:line
printf '[route r1]\npattern = a.>\nscheme = carrier\ndest = x\n' >scheme.ini
expect_rc 3 "$WEIR" gateway -c scheme.ini </dev/null
contains err "weir: scheme.ini:2: [route r1] scheme 'carrier': "
printf '[route r1]\npattern = a.>\nscheme = mem\ndest = x\n' >nostore.ini
expect_rc 3 "$WEIR" gateway -c nostore.ini </dev/null
contains err "nostore.ini:2: r1: a store route needs a store"
printf '[store]\npath = c.db\n[route r1]\npattern = a..b\nscheme = mem\ndest = x\n' >pattern.ini
expect_rc 3 "$WEIR" gateway -c pattern.ini </dev/null
contains err "pattern.ini:4: route: "
# a value refused after one that is fine and an entry of another section:
# the refused one is blamed, found by trying each [bridge] entry alone
printf '[store]\npath = c.db\n[mem]\nordered = 1\n[bridge]\nqueue_capacity = 8\npolicy = sideways\n[route r1]\npattern = a.>\nscheme = mem\ndest = x\n' >bad6.ini
expect_rc 3 "$WEIR" gateway -c bad6.ini </dev/null
contains err "weir: bad6.ini:7: policy: value out of range"
# a backend that cannot start: the mem backend's record file in a
# directory that does not exist; blamed on that line, with the reason
printf '[store]\npath = c.db\n[mem]\nrecord_path = no/such/dir/r.txt\n[route r1]\npattern = a.>\nscheme = mem\ndest = x\n' >init.ini
expect_rc 3 "$WEIR" gateway -c init.ini </dev/null
contains err "weir: init.ini:4: [route r1] scheme 'mem': backend mem: init: mem: cannot open mem.record_path 'no/such/dir/r.txt': No such file or directory"
# --store overrides [store] path; a store that is a directory
printf '[store]\npath = elsewhere.db\ndurability = normal\nmax_event = 4096\n' >store.ini
echo '{"topic":"a.b"}' >one.ndjson
expect_rc 0 "$WEIR" gateway -c store.ini -s over.db <one.ndjson
[[ -f over.db && ! -e elsewhere.db ]] || fail "--store did not override"
expect_rc 1 "$WEIR" gateway -s . <one.ndjson
contains err "weir: store '.'"
expect_rc 1 "$WEIR" replay -s missing.db
contains err "weir: store 'missing.db': No such file or directory"

# --- replay --to bus -r: only that route; another one is left alone
printf '[mem]\nrecord_path = rec.txt\n[route r1]\npattern = a.>\nscheme = mem\ndest = x\n[route r2]\npattern = a.>\nscheme = mem\ndest = y\n' >two.ini
expect_rc 0 "$WEIR" replay -s over.db --to bus -c two.ini -r r2
contains err "weir: route r2: 1 acked, 0 not delivered, 0 unanswered"
grep -q "route r1" err && fail "replay -r r2 reported route r1"
[[ $(wc -l <rec.txt) == 1 ]] || fail "replay -r r2: not 1 record"
expect_rc 3 "$WEIR" replay -s over.db --to bus -c scheme.ini
contains err "scheme 'carrier'"

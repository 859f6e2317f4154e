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

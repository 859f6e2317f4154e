# The NDJSON decoder: what the ndjson fuzz target found (tests/fuzz,
# docs/reliability.md, Fuzzing). A line that the gateway accepts must
# replay to a line that decodes to the same event.
source "$(dirname "$0")/lib.sh"

# --- a header name in both "headers" and "headers_b64" is refused:
# accepted, it gave an event with two headers of one name, and replay
# (one JSON object per kind) wrote back only one of them.
printf '%s\n' '{"topic":"t.a","headers":{"x":"1"},"headers_b64":{"x":"Mg=="}}' \
	'{"topic":"t.a","headers":{"x":"1"},"headers_b64":{"y":"Mg=="}}' >dup.ndjson
expect_rc 3 "$WEIR" gateway -s dup.db --ack --on-error=skip <dup.ndjson
contains err "stdin line 1: field 'headers_b64.x': header 'x' is given twice"
[[ $(grep -c '"ok":true' out) == 1 ]] || fail "dup: line 2 accepted"
expect_rc 0 "$WEIR" replay -s dup.db
contains out '"headers":{"x":"1","y":"2"}'

# weir dlq list / show / retry / purge, with dead letters seeded by a
# helper (as a route that failed would leave them) and a mem route for
# the retry; purge of an id that is not there and in a damaged store.
source "$(dirname "$0")/lib.sh"

printf '%s\n' '{"topic":"d.a","payload":"1"}' '{"topic":"d.b","payload":"2"}' \
	'{"topic":"d.c","payload":"3"}' >in.ndjson
expect_rc 0 "$WEIR" gateway -s d.db --ack <in.ndjson
"$SEED" d.db r1
expect_rc 0 "$WEIR" dlq list -s d.db
[[ $(wc -l <out) == 3 ]] || fail "3 dead letters expected"
contains out '"route":"r1","code":"WEIR_EBACKEND","error":"Broker: Message size too large (seeded)","attempts":1'
id=$(head -1 out | sed 's/^{"id":\([0-9]*\).*/\1/')
expect_rc 0 "$WEIR" dlq show -s d.db --id "$id"
contains out '"payload":"1"'
expect_rc 1 "$WEIR" dlq show -s d.db --id 999999
expect_rc 2 "$WEIR" dlq purge -s d.db
contains err "purge needs --route, --id or --all"
expect_rc 2 "$WEIR" dlq retry -s d.db
contains err "retry needs --config"

# retry: an unknown route keeps them (exit 4), the mem route sends them.
printf '[mem]\nrecord_path = rec.txt\n[route other]\npattern = d.>\nscheme = mem\ndest = x\n' >none.ini
expect_rc 4 "$WEIR" dlq retry -s d.db -c none.ini
contains err "has no [route r1]"
printf '[mem]\nrecord_path = rec.txt\n[route r1]\npattern = d.>\nscheme = mem\ndest = out.{2}\n' >mem.ini
expect_rc 0 "$WEIR" dlq retry -s d.db -c mem.ini --id "$id"
[[ $(wc -l <rec.txt) == 1 ]] || fail "retry --id: 1 record expected"
expect_rc 0 "$WEIR" dlq list -s d.db
[[ $(wc -l <out) == 2 ]] || fail "2 dead letters left"
expect_rc 0 "$WEIR" dlq retry -s d.db -c mem.ini --route r1
[[ $(wc -l <rec.txt) == 3 ]] || fail "retry: 3 records expected"
expect_rc 0 "$WEIR" dlq list -s d.db
[[ ! -s out ]] || fail "no dead letter left after retry"

# purge: by route and all
"$SEED" d.db r2
expect_rc 0 "$WEIR" dlq purge -s d.db --route r2
contains out '{"purged":3}'
"$SEED" d.db r3
expect_rc 0 "$WEIR" dlq purge -s d.db --all
contains out '{"purged":3}'
expect_rc 0 "$WEIR" dlq list -s d.db
[[ ! -s out ]] || fail "purge left dead letters"

# retry: dead letters of two routes, r1 sent, r2's route refused by the
# bridge (nothing sent, its dead letters stay, exit 4); purge --id
"$SEED" d.db r1
"$SEED" d.db r2
printf '[mem]\nrecord_path = rec2.txt\n[route r1]\npattern = d.>\nscheme = mem\ndest = out.{2}\n[route r2]\npattern = d.>\nscheme = mem\ndest = out.{7}\n' >two.ini
expect_rc 4 "$WEIR" dlq retry -s d.db -c two.ini --timeout 20
contains err "weir: dlq retry: route r1: 3 delivered, 0 failed"
contains err "two.ini:8: route: route 'r2': destination: {7}"
expect_rc 0 "$WEIR" dlq list -s d.db
[[ $(wc -l <out) == 3 ]] || fail "3 dead letters of r2 expected"
[[ $(grep -c '"route":"r2"' out) == 3 ]] || fail "not r2's dead letters"
id=$(head -1 out | sed 's/^{"id":\([0-9]*\).*/\1/')
expect_rc 0 "$WEIR" dlq purge -s d.db --id "$id"
contains out '{"purged":1}'
expect_rc 0 "$WEIR" dlq list -s d.db -r r2
[[ $(wc -l <out) == 2 ]] || fail "2 dead letters left after purge --id"
expect_rc 1 "$WEIR" dlq list -s missing.db
contains err "weir: store 'missing.db'"
# purge: an id that is not there, a store without its dead-letter table
expect_rc 1 "$WEIR" dlq purge -s d.db --id 999999
contains err "weir: dlq purge: no such dead letter"
cp d.db nodl.db
sqlite3 nodl.db "DROP TABLE dead_letters"
expect_rc 1 "$WEIR" dlq purge -s nodl.db --all
contains err "weir: dlq purge: dead letters: no such table: dead_letters"
[[ ! -s out ]] || fail "a failed purge printed a count"
echo "dlq_test: ok"

# Usage errors and help of every subcommand: each bad option or value is
# exit 2 with a sentence naming it; --help is exit 0 on stdout. Also the
# replay progress bar on a terminal (a pseudo-tty made by script(1)).
source "$(dirname "$0")/lib.sh"

# --- weir itself
expect_rc 2 "$WEIR"
contains err "usage: weir <command>"
expect_rc 0 "$WEIR" -h
contains out "commands (weir <command> --help for each):"
expect_rc 0 "$WEIR" -V
contains out "backends: mem"
expect_rc 2 "$WEIR" frobnicate
contains err "weir: unknown command 'frobnicate'"

# --- option parsing (opts.c), through tail's table
expect_rc 2 "$WEIR" replay --no-such-option
contains err "weir: unknown option '--no-such-option'"
contains err "(--help for the options)"
expect_rc 2 "$WEIR" replay -s
contains err "missing argument for option '-s'"
expect_rc 2 "$WEIR" replay --to
contains err "missing argument for option '--to'"
expect_rc 0 "$WEIR" replay -h
contains out "  -s, --store PATH"
contains out "      --from-seq N"
contains out "exit codes:"

printf '{"topic":"t.a","payload":"p%d"}\n' 1 2 3 >in.ndjson
expect_rc 0 "$WEIR" gateway -s u.db <in.ndjson

# --- replay: every value that is refused, then the ones accepted
for bad in "--from-seq -1" "--from-seq 1x" "--to-seq 99999999999999999999" \
	"--since 2024-13" "--since -5y" "--since -m" "--since -1mm" \
	"--since 2024-05-06T07:08:09" "--since 2024-05-06T07:08:09+0200" \
	"--until nan" "--until inf" "--speed x0" "--speed xx" "--to file" \
	"--drain-timeout -1" "--since=" "--until 2262-04-12T00:00:00Z" \
	"--until 2999-01-01T00:00:00Z" "--until 99999999999" \
	"--since -1e300d" "--since 1700000000.5Z" "--since -nans" \
	"--since 2024-05-06T07:08:09Zx" "--since 2024-05-06T07:08:09+02:00x" \
	"--since 0001-01-01T00:00:00Z" "--drain-timeout="; do
	expect_rc 2 "$WEIR" replay -s u.db $bad
	contains err "bad value"
done
# (a time past 2262-04-11, the last nanosecond int64 holds, overflowed
# into a negative time: "--until 2999-01-01T00:00:00Z" replayed nothing,
# exit 0; each is now refused)
expect_rc 2 "$WEIR" replay -s u.db extra
contains err "unexpected argument 'extra'"
expect_rc 2 "$WEIR" replay --speed max
contains err "--store is required"
expect_rc 2 "$WEIR" replay -s u.db --to bus
contains err "--to bus needs --config"
expect_rc 0 "$WEIR" replay -s u.db --to stdout --speed max --to-seq 2 \
	--since 2000-01-01T00:00:00.5Z --until 2200-01-01T00:00:00+02:00 \
	--stream no-such-stream
[[ ! -s out ]] || fail "replay --stream no-such-stream: printed events"
expect_rc 0 "$WEIR" replay -s u.db --to-seq 2 --since 1.5 \
	--until 2200-01-01T00:00:00.25-01:30
[[ $(wc -l <out) == 2 ]] || fail "replay --to-seq 2: $(wc -l <out) lines"
expect_rc 0 "$WEIR" replay -s u.db --since -1d --until 2262-04-11T00:00:00z
[[ $(wc -l <out) == 3 ]] || fail "replay --since -1d: $(wc -l <out) lines"
expect_rc 0 "$WEIR" replay -s u.db --since -0.5h --from-seq 3 --since -60s
[[ $(wc -l <out) == 1 ]] || fail "replay --from-seq 3: $(wc -l <out) lines"
expect_rc 0 "$WEIR" replay -s u.db --until 1000
[[ ! -s out ]] || fail "replay --until 1000: printed events"
expect_rc 3 "$WEIR" replay -s u.db --to bus -c missing.ini
contains err "missing.ini: cannot open"

# --- stats
expect_rc 2 "$WEIR" stats
contains err "give one of --store and --socket"
expect_rc 2 "$WEIR" stats -s u.db -S x.sock
contains err "give one of --store and --socket"
expect_rc 2 "$WEIR" stats -s u.db --interval 0
contains err "--interval: bad value '0'"
expect_rc 2 "$WEIR" stats -s u.db --count many
contains err "--count: bad value 'many'"
expect_rc 2 "$WEIR" stats -s u.db more
contains err "unexpected argument 'more'"
expect_rc 0 "$WEIR" stats --help
contains out "usage: weir stats"

# --- gateway
expect_rc 2 "$WEIR" gateway -s g.db --on-error maybe
contains err "--on-error: bad value 'maybe'"
expect_rc 2 "$WEIR" gateway -s g.db --drain-timeout -2
contains err "--drain-timeout: bad value '-2'"
expect_rc 2 "$WEIR" gateway -s g.db stray
contains err "unexpected argument 'stray'"
expect_rc 2 "$WEIR" gateway --nope
contains err "unknown option '--nope'"
expect_rc 2 "$WEIR" gateway </dev/null
contains err "usage: weir gateway"
expect_rc 0 "$WEIR" gateway --help
contains out "--stats-socket PATH"

# --- dlq
expect_rc 2 "$WEIR" dlq list -s u.db --id x
contains err "--id: bad value 'x'"
expect_rc 2 "$WEIR" dlq retry -s u.db -c m.ini --timeout soon
contains err "--timeout: bad value 'soon'"
# durations are 0 to 86400 s: a negative --timeout was taken (no wait
# at all), and 1e300 s overflowed the deadline's int64 nanoseconds
for bad in -1 1e300 86401; do
	expect_rc 2 "$WEIR" dlq retry -s u.db -c m.ini --timeout "$bad"
	contains err "--timeout: bad value '$bad'"
	expect_rc 2 "$WEIR" gateway -s g.db --drain-timeout "$bad"
	contains err "--drain-timeout: bad value '$bad'"
	expect_rc 2 "$WEIR" replay -s u.db --drain-timeout "$bad"
	contains err "--drain-timeout: bad value '$bad'"
done
expect_rc 2 "$WEIR" dlq -s u.db list extra
contains err "unexpected argument 'extra'"
expect_rc 2 "$WEIR" dlq -s u.db
contains err "give one of list, show, retry, purge"
expect_rc 2 "$WEIR" dlq drop -s u.db
contains err "give one of list, show, retry, purge"
expect_rc 2 "$WEIR" dlq list
contains err "--store is required"
expect_rc 2 "$WEIR" dlq show -s u.db
contains err "show needs --id"
expect_rc 2 "$WEIR" dlq --bad
contains err "unknown option '--bad'"
expect_rc 0 "$WEIR" dlq --help
contains out "purge: delete them"
expect_rc 0 "$WEIR" dlq -s u.db list
[[ ! -s out ]] || fail "dlq list: dead letters in a new store"

# --- the progress bar: stderr on a terminal gets "[###...] 100% ..."
# redrawn in place, then cleared before the summary line.
script -qec "'$WEIR' replay -s u.db >replay.out" /dev/null >tty.txt
contains tty.txt "[##############################] 100% 3/3"
contains tty.txt "weir: replayed 3 events"
[[ $(wc -l <replay.out) == 3 ]] || fail "replay on a tty: not 3 events"
# 250 events: the first redraw (at 100 done) shows a part-filled bar
for i in $(seq 1 250); do echo '{"topic":"t.p"}'; done >p.ndjson
expect_rc 0 "$WEIR" gateway -s p.db <p.ndjson
script -qec "'$WEIR' replay -s p.db >replay.out" /dev/null >tty.txt
contains tty.txt "[############..................]  40% 100/250"
contains tty.txt "weir: replayed 250 events"

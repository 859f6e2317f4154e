# Every subcommand's --help exits 0 and names every option its getopt
# table (the cli_opt array in src/cli/<cmd>.c) accepts, and nothing
# else; its man page names them too. Unknown flags exit 2 with usage.
source "$(dirname "$0")/lib.sh"

# The long names of the table <cmd>_opts[] in src/cli/<cmd>.c.
table_opts() {
	awk -v t="$2_opts\\[\\]" '$0 ~ t {on=1; next} on && /^};/ {exit}
		on {while (match($0, /\{ "[a-z-]+"/)) {
			print substr($0, RSTART + 3, RLENGTH - 4)
			$0 = substr($0, RSTART + RLENGTH)}}' "$SRC/src/cli/$1.c"
}

expect_rc 0 "$WEIR" --help
for cmd in gateway replay tail dlq stats; do
	contains out "$cmd"
done
expect_rc 0 "$WEIR" --version
contains out "weir "

for cmd in gateway replay tail dlq stats; do
	mapfile -t opts < <(table_opts "$cmd" "$cmd")
	((${#opts[@]} >= 3)) || fail "$cmd: no option table found"
	expect_rc 0 "$WEIR" "$cmd" --help
	cp out help
	man="$SRC/man/weir-$cmd.1"
	[[ -f $man ]] || fail "no man page $man"
	man_text=$(sed 's/\\//g' "$man")
	for o in "${opts[@]}" help; do
		grep -qE -- "--$o( |$)" help || fail "$cmd --help lacks --$o"
		grep -qE -- "--$o( |$)" <<<"$man_text" ||
			fail "$man lacks --$o"
	done
	# ... and the help lists no option the table does not have.
	while read -r o; do
		[[ $o == help ]] && continue
		# A here-string, not `printf | grep -q`: under pipefail, grep -q
		# leaving at its first match can kill printf with SIGPIPE and
		# fail the pipeline (a flake seen in CI).
		grep -qx -- "$o" <<<"$(printf '%s\n' "${opts[@]}")" ||
			fail "$cmd --help names --$o, which the table lacks"
	done < <(grep -oE '^  (-[a-zA-Z], )?--[a-z-]+' help | sed 's/.*--//')
	contains help "exit codes:"
	expect_rc 2 "$WEIR" "$cmd" --no-such-flag
	contains err "unknown option '--no-such-flag'"
	contains err "usage: weir $cmd"
done
expect_rc 2 "$WEIR" frobnicate
contains err "unknown command 'frobnicate'"
expect_rc 2 "$WEIR" replay
contains err "--store is required"
[[ -f $SRC/man/weir.1 ]] || fail "no man/weir.1"
echo "help_test: ok"

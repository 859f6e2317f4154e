# Shared by the tests/cli scripts: arguments, a scratch directory and
# small assertion helpers. Sourced, not run.
set -euo pipefail
WEIR=$1
SRC=$2
TMP=$3
SEED=${4:-}
rm -rf "$TMP"
mkdir -p "$TMP"
cd "$TMP"

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
# expect_rc CODE CMD...: runs CMD (stdout -> out, stderr -> err).
expect_rc() {
	local want=$1
	shift
	local rc=0
	"$@" >out 2>err || rc=$?
	[[ $rc == "$want" ]] || {
		cat err >&2
		fail "'$*' exited $rc, expected $want"
	}
}
# contains FILE TEXT
contains() {
	grep -qF -- "$2" "$1" || {
		cat "$1" >&2
		fail "$1 does not contain: $2"
	}
}
# wait_for SECONDS CMD...: until CMD succeeds (bounded).
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		((SECONDS < deadline)) || fail "timed out waiting for: $*"
		sleep 0.05
	done
}

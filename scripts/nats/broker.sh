# nats-server with JetStream for scripts/brokers.sh (sourced by it; uses
# its helpers). The newest release is built with the Go on PATH when that
# Go is new enough; Debian's nats-server (2.9, which also has JetStream
# and Nats-Msg-Id de-duplication) is the fallback.

nats_dir=$state/nats
nats_built=$cache/nats-server-$nats_version/nats-server
nats_grace=10
# What this checkout's server has on its command line (broker_pid).
nats_cmd="-sd $nats_dir/jetstream"

# Builds nats-server $nats_version into the cache. A build that failed is
# not tried again with the same Go (it takes a while to fail: the module
# is downloaded first), so the fallback is quick the next time.
nats_build() {
	local failed=$nats_built.failed gover t0 tmp
	command -v go >/dev/null || return 1
	gover=$(go version)
	if [[ -f $failed && $(<"$failed") == "$gover" ]]; then
		return 1
	fi
	say "building nats-server $nats_version with $gover (a minute or two the first time)"
	t0=$(now)
	mkdir -p "$(dirname "$nats_built")"
	tmp=$(mktemp -d "$cache/.nats-server.XXXXXX")
	if ! GOTOOLCHAIN=local CGO_ENABLED=0 GOBIN=$tmp \
	    go install "github.com/nats-io/nats-server/v2@$nats_version" \
	    >"$nats_built.log" 2>&1; then
		rm -rf "$tmp"
		echo "$gover" >"$failed"
		say "could not build nats-server $nats_version (see $nats_built.log):"
		tail -n 5 "$nats_built.log" >&2
		return 1
	fi
	mv -f "$tmp/nats-server" "$nats_built"
	rm -rf "$tmp" "$failed"
	say "built nats-server $nats_version in $(since "$t0") s"
}

# Prints the nats-server to run: $WEIR_NATS_SERVER, the cached build,
# a fresh build, or Debian's, in that order.
nats_binary() {
	if [[ -n ${WEIR_NATS_SERVER:-} ]]; then
		echo "$WEIR_NATS_SERVER"
	elif [[ -x $nats_built ]] || nats_build; then
		echo "$nats_built"
	elif command -v nats-server; then
		:
	elif [[ -x /usr/sbin/nats-server ]]; then
		echo /usr/sbin/nats-server
	else
		return 1
	fi
}

# Waits until the server on port $1 (pid $2) answers a JetStream API
# request. Returns 1 if it died, 2 if the deadline passed.
nats_wait_ready() {
	local port=$1 pid=$2 t0
	t0=$(now)
	while awk -v t="$(since "$t0")" -v d="$deadline_s" 'BEGIN { exit !(t < d) }'; do
		launched_alive "$pid" || return 1
		if port_open "$port" &&
		    python3 "$root/scripts/nats/jetstream_check.py" info \
		    "nats://127.0.0.1:$port" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	return 2
}

# One try at starting the server on new ports. Returns 0 when it is
# ready, 1 when it died (3 when because a port was taken), 2 on timeout.
nats_try_start() {
	local bin=$1 ports
	mapfile -t ports < <(free_ports 2)
	nats_launch "$bin" "${ports[0]}" "${ports[1]}"
}

# Starts the server on port $2 (monitoring on $3) with the JetStream
# store in $nats_dir/jetstream, as it is; returns as nats_try_start.
nats_launch() {
	local bin=$1 port=$2 mport=$3 pid rc=0 t0
	rm -f "$nats_dir/log"
	t0=$(now)
	"$bin" -a 127.0.0.1 -p "$port" -m "$mport" -js \
	    -sd "$nats_dir/jetstream" -l "$nats_dir/log" \
	    </dev/null >"$nats_dir/stdout" 2>&1 &
	pid=$!
	echo "$pid" >"$nats_dir/pid"
	echo "nats://127.0.0.1:$port" >"$nats_dir/address"
	echo "http://127.0.0.1:$mport" >"$nats_dir/monitor"
	nats_wait_ready "$port" "$pid" || rc=$?
	if ((rc == 0)); then
		say "nats ready on nats://127.0.0.1:$port (pid $pid, $("$bin" --version)," \
		    "monitoring http://127.0.0.1:$mport) in $(since "$t0") s," \
		    "RSS $(rss_mib "$pid") MiB"
	elif ((rc == 1)) && cat "$nats_dir/log" "$nats_dir/stdout" 2>/dev/null |
	    grep -q 'address already in use'; then
		rc=3
	fi
	return "$rc"
}

nats_start() {
	local pid bin try rc
	if pid=$(broker_pid nats "$nats_cmd"); then
		say "nats already running (pid $pid)"
		cat "$nats_dir/address"
		return 0
	fi
	mkdir -p "$nats_dir"
	rm -rf "$nats_dir/pid" "$nats_dir/address" "$nats_dir/jetstream"
	need python3 || {
		start_failed nats "a program it needs is missing"
		return
	}
	bin=$(nats_binary) || {
		start_failed nats "no nats-server (none built, none on PATH)"
		return
	}
	for try in 1 2 3; do
		rc=0
		nats_try_start "$bin" || rc=$?
		((rc == 3)) || break
		say "nats: a port was taken before the server bound it; new ports"
	done
	case $rc in
	0) cat "$nats_dir/address" ;;
	2)
		nats_stop
		start_failed nats "not ready within ${deadline_s} s" \
		    "$nats_dir/log" "$nats_dir/stdout"
		;;
	*)
		start_failed nats "the server exited" \
		    "$nats_dir/log" "$nats_dir/stdout"
		;;
	esac
}

# Stops the server (SIGTERM to its pid, as stop) and starts it again on
# the same ports with the same JetStream store, so that clients
# reconnect to the address they know and the streams keep what they
# held: the "broker restarted" of the fault tests.
nats_restart() {
	local addr mon bin rc=0
	if ! broker_pid nats "$nats_cmd" >/dev/null; then
		say "nats restart: nats is not running"
		return 1
	fi
	addr=$(<"$nats_dir/address") mon=$(<"$nats_dir/monitor")
	bin=$(nats_binary) || return 1
	nats_stop
	nats_launch "$bin" "${addr##*:}" "${mon##*:}" || rc=$?
	if ((rc != 0)); then
		start_failed nats "restart on ${addr##*:} failed ($rc)" \
		    "$nats_dir/log" "$nats_dir/stdout"
		return 1
	fi
	cat "$nats_dir/address"
}

nats_stop() {
	local pid
	if pid=$(broker_pid nats "$nats_cmd"); then
		stop_pid nats "$pid" "$nats_grace" "$nats_cmd"
	fi
	rm -f "$nats_dir/pid"
}

nats_status() {
	local pid
	if pid=$(broker_pid nats "$nats_cmd"); then
		echo "nats: running, pid $pid, $(<"$nats_dir/address"), RSS $(rss_mib "$pid") MiB"
	else
		echo "nats: not running"
		return 1
	fi
}

# Publishes one record twice with the same Nats-Msg-Id to a new stream
# and checks the stream kept one.
nats_selftest() {
	broker_pid nats "$nats_cmd" >/dev/null || {
		say "nats selftest: nats is not running"
		return 1
	}
	python3 "$root/scripts/nats/jetstream_check.py" dedup \
	    "$(<"$nats_dir/address")" >&2 || {
		say "nats selftest: JetStream de-duplication check failed"
		return 1
	}
	say "nats selftest: passed"
}

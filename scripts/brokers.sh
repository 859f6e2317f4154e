#!/usr/bin/env bash
# Starts, checks and stops real brokers on 127.0.0.1 for weir's bridge
# tests: a single-node Apache Kafka 4.4.0 (KRaft, broker and controller
# in one JVM) and a nats-server with JetStream. Each listens on ports the
# kernel hands out, so several checkouts (or engineers) can run their own.
#
#   bash scripts/brokers.sh start    [kafka|nats|all]   (default: all)
#   bash scripts/brokers.sh stop     [kafka|nats|all]
#   bash scripts/brokers.sh status   [kafka|nats|all]
#   bash scripts/brokers.sh selftest [kafka|nats|all]
#   bash scripts/brokers.sh restart  nats   (same port, store kept)
#
# `start` prints each broker's address on stdout and keeps
# build/brokers/env up to date for the tests to source:
#   WEIR_KAFKA_BOOTSTRAP=127.0.0.1:PORT
#   WEIR_NATS_URL=nats://127.0.0.1:PORT
# State (pid files, logs, configuration, data) lives in build/brokers/;
# what is downloaded or built (Kafka's jars, nats-server) is cached in
# ${WEIR_BROKER_CACHE:-$HOME/.cache/weir} and reused. A running broker is
# left alone by `start`; `stop` signals the pid in its pid file only.
#
# With CI=true a broker that does not start is a failure (exit 1, its
# log's tail printed); otherwise the script says so and exits 0, so a
# developer without Java or Go can still run the rest.
#
# Tunables: WEIR_BROKER_DEADLINE (seconds a broker has to become ready,
# default 90), WEIR_NATS_SERVER (a nats-server binary to use instead of
# building or finding one), WEIR_BROKER_CACHE.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state=$root/build/brokers
cache=${WEIR_BROKER_CACHE:-$HOME/.cache/weir}
deadline_s=${WEIR_BROKER_DEADLINE:-90}
kafka_version=4.4.0
nats_version=v2.15.2

say() { echo "brokers: $*" >&2; }

now() { date +%s.%N; }

# Seconds since $1 (a `now` value), one decimal.
since() { awk -v t0="$1" -v t1="$(now)" 'BEGIN { printf "%.1f", t1 - t0 }'; }

# True when every command named is on PATH; says which is missing.
need() {
	local c
	for c in "$@"; do
		if ! command -v "$c" >/dev/null; then
			say "no $c on PATH (scripts/install-deps.sh installs it)"
			return 1
		fi
	done
}

# Prints $1 distinct free TCP ports of 127.0.0.1, one a line. All the
# sockets stay bound until every port is drawn, so the ports differ; the
# broker binds them a moment later (a port taken in between makes the
# broker fail to bind, and the start is tried again with new ports).
free_ports() {
	python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print("\n".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# True when something accepts connections on 127.0.0.1:$1.
port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Prints the pid in build/brokers/$1/pid when that process is alive and
# is still the broker (its command line holds $2); a pid reused by some
# other process, or a zombie, is not the broker.
broker_pid() {
	local pidfile=$state/$1/pid pid
	[[ -r $pidfile ]] || return 1
	pid=$(<"$pidfile")
	[[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
	local cmd
	cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline") # whole: no SIGPIPE race
	[[ $cmd == *"$2"* ]] || return 1
	echo "$pid"
}

# True while the process just launched as pid $1 is alive. Right after
# the fork it may not have exec'd the broker yet (it still shows this
# script's command line, which broker_pid rejects), so a ready-wait must
# not call that death; a process that exited is a zombie until reaped,
# and a zombie's command line is empty.
launched_alive() {
	local cmd
	cmd=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
	[[ -n $cmd ]]
}

# Resident memory of pid $1 in MiB.
rss_mib() {
	awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status" \
	    2>/dev/null || echo "?"
}

# SIGTERM to pid $2 (broker $1), SIGKILL if it is still there after $3
# seconds. Only that pid is signalled.
stop_pid() {
	local name=$1 pid=$2 grace=$3 pattern=$4 t0
	t0=$(now)
	kill -TERM "$pid" 2>/dev/null || return 0
	while broker_pid "$name" "$pattern" >/dev/null; do
		if awk -v t="$(since "$t0")" -v g="$grace" 'BEGIN { exit !(t > g) }'; then
			say "$name (pid $pid) ignored SIGTERM for ${grace} s: SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
		fi
		sleep 0.1
	done
	say "$name stopped (pid $pid, $(since "$t0") s)"
}

# Reports that broker $1 did not start (why: $2) with the tails of the
# log files that follow; fails in CI only.
start_failed() {
	local name=$1 why=$2 logfile
	shift 2
	say "$name did not start: $why"
	for logfile in "$@"; do
		if [[ -s $logfile ]]; then
			say "last lines of $logfile:"
			tail -n 30 "$logfile" >&2
		fi
	done
	if [[ ${CI:-} == true ]]; then
		return 1
	fi
	say "$name is not running; tests that need it cannot run (in CI this fails)"
}

# Rewrites build/brokers/env from the brokers that are running now.
write_env() {
	mkdir -p "$state"
	{
		echo "# Written by scripts/brokers.sh; the brokers running now."
		if broker_pid kafka "$kafka_cmd" >/dev/null; then
			echo "WEIR_KAFKA_BOOTSTRAP=$(<"$state/kafka/address")"
		fi
		if broker_pid nats "$nats_cmd" >/dev/null; then
			echo "WEIR_NATS_URL=$(<"$state/nats/address")"
			echo "WEIR_NATS_MONITOR_URL=$(<"$state/nats/monitor")"
		fi
	} >"$state/env.tmp"
	mv -f "$state/env.tmp" "$state/env"
}

# Each broker's kafka_start, kafka_stop, ... / nats_start, nats_stop, ...
# shellcheck source=scripts/kafka/broker.sh
source "$root/scripts/kafka/broker.sh"
# shellcheck source=scripts/nats/broker.sh
source "$root/scripts/nats/broker.sh"

usage() {
	sed -n '7,11s/^# *//p' "${BASH_SOURCE[0]}" >&2
	exit 2
}

main() {
	local cmd=${1:-} which=${2:-all} b names=()
	(($# <= 2)) || usage
	case $which in
	all) names=(kafka nats) ;;
	kafka | nats) names=("$which") ;;
	*) usage ;;
	esac
	case $cmd in
	start | stop | status | selftest) ;;
	restart) [[ $which == nats ]] || usage ;;
	*) usage ;;
	esac
	local rc=0
	for b in "${names[@]}"; do
		"${b}_${cmd}" || rc=1
	done
	if [[ $cmd == start || $cmd == stop || $cmd == restart ]]; then
		write_env
	fi
	return "$rc"
}

main "$@"

#!/usr/bin/env bash
# Installs, as root on Debian 12, every package that weir's build, tests
# and benchmarks need. Idempotent and non-interactive; when everything is
# already installed it touches neither apt nor the network.
#
#   bash scripts/install-deps.sh
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

# Build: the compiler (with GCC's sanitizer runtimes: ASan, UBSan, TSan),
# CMake and Ninja, pkg-config.
pkgs=(
	build-essential gcc libc6-dev libasan8 libubsan1 libtsan2
	cmake ninja-build pkg-config git ca-certificates
)
# Tests: cmocka; the store's SQLite; valgrind; clang and clang-format for
# the format check.
pkgs+=(libcmocka-dev libsqlite3-dev sqlite3 valgrind clang clang-format)
# Fuzzing (the fuzz stage): libFuzzer and clang's sanitizer runtimes.
# Coverage (the coverage stage): gcovr over gcc's gcov data.
pkgs+=(libclang-rt-14-dev gcovr)
# Static analysis (the analyze stage): clang's analyzer comes with
# clang; cppcheck; jq reads the build's compile_commands.json.
pkgs+=(cppcheck jq)
# Documentation (scripts/docs.sh, scripts/charts.sh; the docs stage):
# Doxygen for the API reference, Graphviz for the diagrams, gnuplot for
# the benchmark charts. Packaging (tests/install/deb.sh): dpkg-dev for
# dpkg-shlibdeps and file, which CPack's DEB generator both use.
pkgs+=(doxygen graphviz gnuplot-nox dpkg-dev file)
# Benchmark peers and loop adapters: ZeroMQ, libuv, libevent.
pkgs+=(libzmq3-dev libuv1-dev libevent-dev)
# The weir tool (src/cli): INI files with libinih, JSON with jansson.
pkgs+=(libinih-dev libjansson-dev)
# Node.js runs bench/node_emit.js (EventEmitter). Any node on PATH will
# do; Debian's package only when there is none (a NodeSource node and
# Debian's nodejs package must not be mixed).
if ! command -v node >/dev/null 2>&1; then
	pkgs+=(nodejs)
fi

# Real brokers for the bridge's tests (scripts/brokers.sh): Kafka runs
# on a JVM from jars that Maven fetches; kcat drives it; curl reads
# nats-server's monitoring port; Debian's nats-server is the fallback when the newest one
# cannot be built with the Go on PATH; librdkafka and cnats are the
# clients the bridge links; python3 draws free ports and checks
# JetStream. A JDK, Maven, Go or Python from elsewhere will do: Debian's
# packages only when there is none on PATH.
pkgs+=(kcat nats-server librdkafka-dev libnats-dev curl)
# openssl makes the CA and certificates of the TLS tests (nats_tls).
pkgs+=(openssl)
# chattr: the store's tests make a file immutable (tests/store/file_test.c).
pkgs+=(e2fsprogs)
if ! command -v python3 >/dev/null 2>&1; then
	pkgs+=(python3)
fi
if ! command -v java >/dev/null 2>&1; then
	pkgs+=(openjdk-17-jre-headless)
fi
if ! command -v mvn >/dev/null 2>&1; then
	pkgs+=(maven)
fi
if ! command -v go >/dev/null 2>&1; then
	pkgs+=(golang-go)
fi

missing=()
for p in "${pkgs[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
	if [[ "$status" != ii* ]]; then
		missing+=("$p")
	fi
done

if ((${#missing[@]} == 0)); then
	echo "install-deps: all ${#pkgs[@]} packages already installed"
	exit 0
fi

if ((EUID != 0)); then
	echo "install-deps: run as root; missing: ${missing[*]}" >&2
	exit 1
fi

echo "install-deps: installing ${missing[*]}"
# Wait for a dpkg lock held by another apt (e.g. unattended upgrades on
# a machine that just booted) instead of failing at once.
apt_opts=(-q -o DPkg::Lock::Timeout=600)
apt-get "${apt_opts[@]}" update
apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}"
echo "install-deps: done"

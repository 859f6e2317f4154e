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
# Benchmark peers and loop adapters: ZeroMQ, libuv, libevent.
pkgs+=(libzmq3-dev libuv1-dev libevent-dev)
# Node.js runs bench/node_emit.js (EventEmitter). Any node on PATH will
# do; Debian's package only when there is none (a NodeSource node and
# Debian's nodejs package must not be mixed).
if ! command -v node >/dev/null 2>&1; then
	pkgs+=(nodejs)
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

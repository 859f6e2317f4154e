#!/usr/bin/env bash
# weir's whole test suite: the command README.md and .ci/run give.
#
#   bash scripts/test.sh            every stage, in order
#   bash scripts/test.sh asan tsan  only the stages named
#
# Stages (docs/testing.md says more):
#   werror  normal build, warnings are errors, all tests, bench smoke run
#   asan    ASan+UBSan build (LeakSanitizer on), all tests
#   tsan    TSan build, the tests labelled `concurrency`
#   shared  BUILD_SHARED_LIBS=ON build, runs the example (also under
#           valgrind)
#   poll    the poll loop backend (a pipe for wake-ups), as macOS and the
#           BSDs build it: no Linux-only header compiled, all tests
#   format  clang-format --dry-run -Werror over src include tests bench
#           examples (any difference fails; WEIR_FORMAT=warn only
#           lists them)
#
# Build trees go to build/<stage> in the repository (gitignored); each
# stage reconfigures its tree, so a stale cache cannot hide a failure.
# Environment: WEIR_JOBS (default 2) for the build and ctest;
# WEIR_FORMAT=strict|warn (default strict) for the format stage.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

jobs=${WEIR_JOBS:-2}
all_stages=(werror asan tsan shared poll format)
if (($# > 0)); then
	stages=("$@")
else
	stages=("${all_stages[@]}")
fi

# Optimised but with assertions on (RelWithDebInfo would define NDEBUG).
opt_flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo
	"-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 -g")
# Sanitizer builds: -O1 keeps the stress tests fast and the stacks usable.
san_flags=(-DCMAKE_BUILD_TYPE=Debug "-DCMAKE_C_FLAGS_DEBUG=-O1 -g")

stage_start=0
header() {
	stage_start=$SECONDS
	printf '\n==================================================\n'
	printf '== weir test stage: %s\n' "$1"
	printf '==================================================\n'
}
footer() {
	printf '== stage %s passed (%ds)\n' "$1" $((SECONDS - stage_start))
}

# configure DIR ARGS...: a fresh configure of build/DIR with Ninja.
configure() {
	local dir=build/$1
	shift
	rm -f "$dir/CMakeCache.txt"
	cmake -S . -B "$dir" -G Ninja -DWEIR_WERROR=ON "$@"
}

build() {
	cmake --build "build/$1" --parallel "$jobs"
}

# run_ctest DIR ARGS...: every test of build/DIR (or those ARGS select);
# finding no test at all is a failure, never a silent pass.
run_ctest() {
	local dir=build/$1
	shift
	(cd "$dir" && ctest --output-on-failure --no-tests=error \
	    --parallel "$jobs" "$@")
}

stage_werror() {
	header "werror: normal build, -DWEIR_WERROR=ON, all tests"
	configure werror "${opt_flags[@]}"
	build werror
	run_ctest werror
	# The benchmark is a program, not a test; a tiny run checks that it
	# and its peers still work end to end (it fails on a lost event).
	# The same for the store's and the loops' benchmarks.
	echo "-- bench smoke runs (tiny N, timings meaningless)"
	build/werror/bench/core_bench --smoke >/dev/null
	build/werror/bench/store_bench --smoke >/dev/null
	build/werror/bench/loops_bench 20000 1 >/dev/null
	footer werror
}

stage_asan() {
	header "asan: ASan+UBSan build, all tests, leaks checked"
	configure asan "${san_flags[@]}" -DWEIR_SANITIZER=address \
	    -DWEIR_BENCH=OFF
	build asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	    run_ctest asan
	footer asan
}

stage_tsan() {
	header "tsan: TSan build, tests labelled concurrency"
	configure tsan "${san_flags[@]}" -DWEIR_SANITIZER=thread \
	    -DWEIR_BENCH=OFF -DWEIR_EXAMPLES=OFF
	build tsan
	# GCC 12's TSan runtime cannot map its shadow memory when the kernel
	# randomises mmap with more than 28 bits; run without ASLR then.
	local pre=()
	local bits
	bits=$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 0)
	if ((bits > 28)); then
		echo "-- vm.mmap_rnd_bits=$bits: running TSan under setarch -R"
		pre=(setarch "$(uname -m)" -R)
	fi
	(cd build/tsan &&
	    TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
	    "${pre[@]}" ctest --output-on-failure --no-tests=error \
	    --parallel "$jobs" -L concurrency)
	footer tsan
}

stage_shared() {
	header "shared: BUILD_SHARED_LIBS=ON, run the example"
	configure shared "${opt_flags[@]}" -DBUILD_SHARED_LIBS=ON \
	    -DWEIR_TESTS=OFF -DWEIR_BENCH=OFF
	build shared
	local exe=build/shared/examples/hello_bus
	# The example must load weir from the shared library, not embed it.
	if ! ldd "$exe" | grep -q 'libweir\.so'; then
		echo "shared: $exe is not linked against libweir.so" >&2
		ldd "$exe" >&2
		exit 1
	fi
	"$exe"
	echo "-- a program built against the installed headers and library"
	bash tests/install/check.sh build/shared
	if command -v valgrind >/dev/null 2>&1; then
		echo "-- the example under valgrind memcheck"
		valgrind -q --error-exitcode=1 --leak-check=full \
		    --errors-for-leak-kinds=definite,indirect "$exe" >/dev/null
	fi
	footer shared
}

# Poll: the build macOS and the BSDs get (WEIR_LOOP_BACKEND=auto picks
# poll off Linux), on Linux: the whole suite, and a check, from the
# compiler's own dependency lists, that no compiled file included a
# Linux-only header. The benchmarks pin threads with a GNU call and are
# left out.
stage_poll() {
	header "poll: the poll loop backend, no Linux-only header, all tests"
	configure poll "${opt_flags[@]}" -DWEIR_LOOP_BACKEND=poll \
	    -DWEIR_BENCH=OFF
	build poll
	# The compiler's dependency lists: every header every object used.
	# Linux-only APIs must not be among them, even indirectly; linux/*
	# headers come in through glibc's own, so for them only the
	# project's files are checked, for a direct include.
	local deps hits
	deps=$(ninja -C build/poll -t deps)
	hits=$(grep -E '/sys/(epoll|eventfd|signalfd|timerfd|inotify)\.h' \
	    <<<"$deps" | sort -u || true)
	hits+=$(grep -oE "^ +$root/[^ ]+" <<<"$deps" | sort -u |
	    xargs grep -lE '^[[:space:]]*#[[:space:]]*include[[:space:]]*<linux/' ||
	    true)
	if [[ -n "$hits" ]]; then
		echo "poll: Linux-only headers in the poll build:" >&2
		echo "$hits" >&2
		exit 1
	fi
	echo "-- no Linux-only header in the $(grep -c ': #deps' <<<"$deps")" \
	    "objects of the poll build"
	run_ctest poll
	footer poll
}

# Format: clang-format over the C sources. Any difference fails;
# WEIR_FORMAT=warn only lists the files. docs/testing.md says why.
stage_format() {
	header "format: clang-format --dry-run -Werror"
	local files=() bad=() f n
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		mapfile -t files < <(git ls-files --cached --others \
		    --exclude-standard -- src include tests bench examples |
		    grep -E '\.(c|h)$' || true)
	else
		mapfile -t files < <(find src include tests bench examples \
		    -name '*.[ch]' 2>/dev/null | sort)
	fi
	if ((${#files[@]} == 0)); then
		echo "format: no C files found" >&2
		exit 1
	fi
	echo "-- $(clang-format --version)"
	echo "-- checking ${#files[@]} files"
	for f in "${files[@]}"; do
		n=$(clang-format "$f" | diff "$f" - | grep -c '^>' || true)
		if ((n > 0)); then
			printf '   %-44s %4s lines to reformat\n' "$f" "$n"
			bad+=("$f")
		fi
	done
	if ((${#bad[@]} == 0)); then
		echo "-- all ${#files[@]} files formatted"
	elif [[ "${WEIR_FORMAT:-strict}" == strict ]]; then
		clang-format --dry-run -Werror "${bad[@]}" 2>&1 | head -100 ||
		    true
		echo "format: ${#bad[@]} files differ; run clang-format -i" \
		    "on them" >&2
		exit 1
	else
		echo "-- ${#bad[@]} of ${#files[@]} files differ from" \
		    ".clang-format (WEIR_FORMAT=warn: not failing)"
		echo "-- fix: clang-format -i ${bad[*]}"
	fi
	footer format
}

for s in "${stages[@]}"; do
	case "$s" in
	werror | asan | tsan | shared | poll | format) "stage_$s" ;;
	*)
		echo "test.sh: unknown stage '$s' (stages: ${all_stages[*]})" >&2
		exit 2
		;;
	esac
done
printf '\n== weir test suite: stages passed: %s\n' "${stages[*]}"

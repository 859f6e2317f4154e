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
#           valgrind); programs built against the installed tree with
#           CMake and pkg-config; the .deb built and unpacked
#   nobrokers  WEIR_WITH_KAFKA=OFF and WEIR_WITH_NATS=OFF: builds, the
#           bridge/cli/example tests pass; each broker client is
#           included by one file only
#   poll    the poll loop backend (a pipe for wake-ups), as macOS and the
#           BSDs build it: no Linux-only header compiled, all tests
#   format  clang-format --dry-run -Werror over src include tests bench
#           examples (any difference fails; WEIR_FORMAT=warn only
#           lists them)
#   analyze static analysis of every C file of src/: clang --analyze
#           and cppcheck, with the build's flags; any finding fails
#   docs    the API reference (Doxygen; any warning fails), and the
#           diagrams and benchmark charts drawn into a scratch folder
#   fuzz    libFuzzer targets (tests/fuzz), WEIR_FUZZ_SECONDS each
#   coverage  gcov build, the tests, gcovr line/branch table of src/
#
# Build trees go to build/<stage> in the repository (gitignored); each
# stage reconfigures its tree, so a stale cache cannot hide a failure.
# Environment: WEIR_JOBS (default 2) for the build and ctest;
# WEIR_FORMAT=strict|warn (default strict) for the format stage;
# WEIR_FUZZ_SECONDS (default 60) per fuzz target.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

jobs=${WEIR_JOBS:-2}
all_stages=(werror asan tsan shared nobrokers poll format analyze docs fuzz coverage)
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
	build/werror/bench/mem_bench --smoke >/dev/null
	# The bridge's, against the brokers started above (skips a broker
	# that is not there unless CI=true).
	if [[ -x build/werror/bench/bridge_bench ]]; then
		build/werror/bench/bridge_bench --quick >/dev/null
	fi
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
	header "shared: BUILD_SHARED_LIBS=ON, the example, install, .deb"
	configure shared "${opt_flags[@]}" -DBUILD_SHARED_LIBS=ON \
	    -DWEIR_TESTS=OFF -DWEIR_BENCH=OFF
	build shared
	local exe=build/shared/examples/hello_bus
	# The example must load weir from the shared library, not embed it.
	# ldd's output is read whole first: `ldd | grep -q` under pipefail
	# fails when grep exits early and ldd gets SIGPIPE.
	local deps
	deps=$(ldd "$exe")
	if ! grep -q 'libweir\.so' <<<"$deps"; then
		echo "shared: $exe is not linked against libweir.so" >&2
		ldd "$exe" >&2
		exit 1
	fi
	"$exe"
	echo "-- hardening of the shared libraries (scripts/check-hardening.sh)"
	local so
	for so in build/shared/src/*/libweir*.so; do
		bash scripts/check-hardening.sh "$so"
	done
	echo "-- programs built against the installed tree (CMake, pkg-config)"
	bash tests/install/check.sh build/shared
	echo "-- the Debian package (cpack -G DEB), unpacked in a scratch root"
	bash tests/install/deb.sh build/shared
	if command -v valgrind >/dev/null 2>&1; then
		echo "-- the example under valgrind memcheck"
		valgrind -q --error-exitcode=1 --leak-check=full \
		    --errors-for-leak-kinds=definite,indirect "$exe" >/dev/null
	fi
	footer shared
}

# Nobrokers: the build without the broker clients (WEIR_WITH_KAFKA=OFF,
# WEIR_WITH_NATS=OFF) still builds, and the bridge (mem backend and
# source), the tool and the examples pass their tests; and each client
# library is included by one file only (src/bridge/kafka.c, nats.c).
stage_nobrokers() {
	header "nobrokers: no Kafka, no NATS: build, bridge/cli/example tests"
	local f want
	for f in kafka:librdkafka/rdkafka.h nats:nats/nats.h; do
		want="src/bridge/${f%%:*}.c"
		local got
		got=$(grep -rl --include='*.[ch]' "#include <${f#*:}>" src include |
		    sort | tr '\n' ' ')
		if [[ "$got" != "$want " ]]; then
			echo "nobrokers: <${f#*:}> is included by: $got(want $want)" >&2
			exit 1
		fi
	done
	configure nobrokers "${opt_flags[@]}" -DWEIR_WITH_KAFKA=OFF \
	    -DWEIR_WITH_NATS=OFF -DWEIR_BENCH=OFF -DWEIR_LTO=OFF
	build nobrokers
	if [[ -n "$(find build/nobrokers -name 'libweir_kafka*' -o \
	    -name 'libweir_nats*' | head -1)" ]]; then
		echo "nobrokers: a broker backend was built" >&2
		exit 1
	fi
	# Broker addresses in the environment mean nothing to this build.
	(unset WEIR_KAFKA_BOOTSTRAP WEIR_NATS_URL
	    run_ctest nobrokers -L 'bridge|cli|example' -LE integration)
	footer nobrokers
}

# Poll: the build macOS and the BSDs get (WEIR_LOOP_BACKEND=auto picks
# poll off Linux), on Linux: the whole suite, and a check, from the
# compiler's own dependency lists, that no compiled file included a
# Linux-only header. The benchmarks pin threads with a GNU call and are
# left out.
stage_poll() {
	header "poll: the poll loop backend, no Linux-only header, all tests"
	configure poll "${opt_flags[@]}" -DWEIR_LOOP_BACKEND=poll \
	    -DWEIR_SCACHE_FENCE=portable -DWEIR_BENCH=OFF
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

# Static analysis: the clang static analyzer and cppcheck over every C
# file of src/, each compiled with its build's own flags, taken from a
# clang-configured tree's compile_commands.json (nothing is built).
# Zero findings: any diagnostic fails. A false positive is silenced in
# the source, next to a comment that says why (an assert the analyzer
# can see, or `// cppcheck-suppress id` with the reason).
stage_analyze() {
	header "analyze: clang --analyze and cppcheck over src/"
	local dir=build/analyze
	# Debug: assertions stay in, so the analyzer learns the invariants
	# they state.
	configure analyze -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DWEIR_BENCH=OFF \
	    -DWEIR_EXAMPLES=OFF >/dev/null
	analyze_db "$dir"
	echo "-- $(clang --version | head -1)"
	echo "-- clang --analyze: $(jq length "$dir/analyze.json") files"
	local logs=$root/$dir/analyzer-logs
	rm -rf "$logs"
	mkdir -p "$logs"
	# One clang per compilation, in parallel, each into its own log.
	jq -j '.[] | .directory, "\u0000", .command, "\u0000"' \
	    "$dir/analyze.json" | xargs -0 -n2 -P "$jobs" bash -c '
		log=$(mktemp "$0/XXXXXX")
		cd "$1" && eval "$2 --analyze -Xanalyzer -analyzer-output=text \
		    -o /dev/null" >"$log" 2>&1 ||
		    echo "clang --analyze exited $?" >>"$log"' "$logs"
	local found=0
	if [[ -n "$(cat "$logs"/*)" ]]; then
		cat "$logs"/*
		echo "analyze: the clang static analyzer has findings" >&2
		found=1
	fi
	echo "-- $(cppcheck --version)"
	mkdir -p "$dir/cppcheck"
	if ! cppcheck --project="$dir/analyze.json" \
	    --enable=warning,performance,portability --inline-suppr \
	    --library=posix --error-exitcode=1 -q -j "$jobs" \
	    --cppcheck-build-dir="$dir/cppcheck" --template=gcc; then
		echo "analyze: cppcheck has findings" >&2
		found=1
	fi
	if ((found)); then
		exit 1
	fi
	footer analyze
}

# Docs: the generated parts still build. The API reference from the
# public headers with zero Doxygen warnings (docs/Doxyfile fails on
# any); the diagrams and charts drawn into a scratch folder, so that a
# broken .dot file or chart script fails here, not on the next re-render
# (the committed SVGs are left alone).
stage_docs() {
	header "docs: API reference (Doxygen), diagrams, charts"
	bash scripts/docs.sh api
	local out
	out=$(mktemp -d /tmp/weir-docs.XXXXXX)
	WEIR_DOCS_OUT=$out bash scripts/docs.sh diagrams
	WEIR_DOCS_OUT=$out bash scripts/docs.sh charts
	rm -rf "$out"
	footer docs
}

# Fuzz: the libFuzzer targets of tests/fuzz (docs/reliability.md,
# Fuzzing), built with clang, every object instrumented with ASan and
# UBSan, each run for WEIR_FUZZ_SECONDS (default 60) from its seed
# corpus, leaks checked. A crash, a mismatch (the target aborts), a leak
# or a timeout fails the stage; the input is kept under
# build/fuzz/run/<target>/ and printed in hex. The bridge is built: the
# ndjson and ini targets link the weir tool's decoders, which use it.
fuzz_targets=(topic codec row ndjson ini)
stage_fuzz() {
	local secs=${WEIR_FUZZ_SECONDS:-60} t dir a execs
	header "fuzz: libFuzzer, ${secs}s per target (${fuzz_targets[*]})"
	configure fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	    "-DCMAKE_C_FLAGS_DEBUG=-O1 -g" -DWEIR_FUZZ=ON -DWEIR_TESTS=OFF \
	    -DWEIR_BENCH=OFF -DWEIR_EXAMPLES=OFF -DWEIR_WITH_KAFKA=OFF \
	    -DWEIR_WITH_NATS=OFF >/dev/null
	cmake --build build/fuzz --parallel "$jobs" --target weir_fuzz
	for t in "${fuzz_targets[@]}"; do
		dir=$root/build/fuzz/run/$t
		rm -rf "$dir"
		mkdir -p "$dir/corpus"
		if ! (cd "$dir" && "$root/build/fuzz/tests/fuzz/${t}_fuzz" \
		    -max_total_time="$secs" -detect_leaks=1 -timeout=30 \
		    -print_final_stats=1 -artifact_prefix="$dir/" corpus \
		    "$root/tests/fuzz/corpus/$t") >"$dir/log" 2>&1; then
			tail -40 "$dir/log"
			for a in "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* \
			    "$dir"/oom-*; do
				[[ -f "$a" ]] || continue
				echo "-- kept: $a"
				od -An -tx1 -v "$a" | head -64
			done
			echo "fuzz: target $t failed" >&2
			exit 1
		fi
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' \
		    "$dir/log")
		printf -- '-- %-6s %10s inputs in %ss, 0 crashes, 0 leaks\n' \
		    "$t" "$execs" "$secs"
	done
	footer fuzz
}

# Coverage: a gcc --coverage build (-O0), the tests (those labelled
# integration only when brokers are up: started by an earlier stage of
# the same run, or named by WEIR_KAFKA_BOOTSTRAP and WEIR_NATS_URL;
# this stage starts none itself), then gcovr's line and branch
# summaries of src/ per file with totals (docs/reliability.md,
# Coverage). Reports figures; no threshold fails the stage. Counters
# are updated atomically: the threaded tests otherwise race on them and
# gcov prints negative counts that gcovr refuses. Only the test
# libraries' objects are read: the installed libraries' copies of the
# same files never run, and gcovr 5.2 fails merging them.
stage_coverage() {
	header "coverage: gcc --coverage, the tests, gcovr over src/"
	# From scratch: a stale .gcno of a renamed test breaks gcovr.
	rm -rf build/coverage
	configure coverage -DCMAKE_BUILD_TYPE=Debug \
	    "-DCMAKE_C_FLAGS_DEBUG=-O0 -g --coverage -fprofile-update=atomic" \
	    -DCMAKE_EXE_LINKER_FLAGS=--coverage \
	    -DCMAKE_SHARED_LINKER_FLAGS=--coverage -DWEIR_LTO=OFF \
	    -DWEIR_BENCH=OFF -DWEIR_EXAMPLES=OFF >/dev/null
	build coverage
	find build/coverage -name '*.gcda' -delete
	local sel=()
	if [[ -z "${WEIR_KAFKA_BOOTSTRAP:-}" || -z "${WEIR_NATS_URL:-}" ]]; then
		echo "-- no brokers: tests labelled integration left out"
		sel=(-LE integration)
	fi
	run_ctest coverage "${sel[@]}"
	local g=(gcovr -r "$root" --object-directory "$root/build/coverage"
	    --filter "$root/src/" --exclude-unreachable-branches
	    --exclude-directories '.*/CMakeFiles/weir(_store|_bridge|_kafka|_nats)?\.dir$')
	echo "-- lines"
	"${g[@]}" --txt
	echo "-- branches"
	"${g[@]}" --txt --branches
	# The summary's report goes to a file in the tree: gcovr replaces its
	# output file, and as root `-o /dev/null` replaced the device.
	"${g[@]}" --print-summary -o build/coverage/summary.txt
	footer coverage
}

# analyze_db DIR: DIR/analyze.json, the compilations of src/ from
# DIR/compile_commands.json, one per file: the library's own, or for a
# file that only a test library builds (loop_poll.c) that one's. The
# test libraries differ only by -DWEIR_TESTING, which adds a counter to
# tree.c; analysing each file twice doubled the stage's time for it. A
# file of src/ that this platform does not build (clock_posix.c on
# x86-64) is added with the flags of another file of its directory.
analyze_db() {
	local dir=$1 f sib
	local db=$dir/compile_commands.json
	jq --arg src "$root/src/" '[.[] | select(.file | startswith($src))
	    | .command |= sub(" -o [^ ]+"; "") | del(.output)]
	    | group_by(.file)
	    | map(sort_by(.command | test("-DWEIR_TESTING")) | .[0])' \
	    "$db" >"$dir/analyze.json"
	while IFS= read -r f; do
		f=$root/$f
		if jq -e --arg f "$f" 'any(.[]; .file == $f)' \
		    "$dir/analyze.json" >/dev/null; then
			continue
		fi
		sib=$(jq -c --arg d "$(dirname "$f")/" 'first(.[] |
		    select(.file | startswith($d)))' "$dir/analyze.json")
		if [[ -z "$sib" ]]; then
			echo "analyze: no flags for $f" >&2
			exit 1
		fi
		echo "-- $f is not built here: analysed with a sibling's flags"
		jq --argjson e "$sib" --arg f "$f" '. + [$e
		    | .command |= sub(" -c [^ ]+$"; " -c " + $f)
		    | .file = $f]' "$dir/analyze.json" >"$dir/analyze.tmp"
		mv "$dir/analyze.tmp" "$dir/analyze.json"
	done < <(git ls-files -- 'src/*.c' 2>/dev/null ||
	    find src -name '*.c' | sort)
}

# Real brokers for the tests labelled `integration` (the Kafka and NATS
# backends): started once for the stages that run them, on free ports,
# and stopped by pid when the run ends, however it ends. With CI=true a
# broker that does not start fails the run (scripts/brokers.sh); without
# it the integration tests say they skip.
brokers_up=0
start_brokers() {
	((brokers_up)) && return 0
	header "brokers: Kafka (KRaft) and nats-server on 127.0.0.1"
	trap 'bash scripts/brokers.sh stop all >/dev/null 2>&1 || true' EXIT
	bash scripts/brokers.sh start all
	if [[ -f build/brokers/env ]]; then
		set -a
		# shellcheck disable=SC1091
		. build/brokers/env
		set +a
	fi
	brokers_up=1
	footer brokers
}

for s in "${stages[@]}"; do
	case "$s" in
	werror | asan | poll) start_brokers ;;
	esac
done

for s in "${stages[@]}"; do
	case "$s" in
	werror | asan | tsan | shared | nobrokers | poll | format | analyze | docs | fuzz | coverage)
		"stage_$s"
		;;
	*)
		echo "test.sh: unknown stage '$s' (stages: ${all_stages[*]})" >&2
		exit 2
		;;
	esac
done
printf '\n== weir test suite: stages passed: %s\n' "${stages[*]}"

# nats_in_bench: inbound from JetStream into weir (bridge with an inbound
# "nats" route: store and bus) against a bare cnats Fetch + Ack loop on
# the same server and stream, interleaved rounds, medians with min-max,
# JSON lines. Included by bench/CMakeLists.txt when weir_nats is built.
# Needs WEIR_NATS_URL (scripts/brokers.sh start nats); see
# docs/benchmarks.md.
find_package(PkgConfig REQUIRED)
pkg_check_modules(BENCH_IN_LIBNATS REQUIRED IMPORTED_TARGET libnats)
add_executable(nats_in_bench ${CMAKE_CURRENT_LIST_DIR}/nats_in_bench.c)
weir_target_warnings(nats_in_bench)
target_link_libraries(nats_in_bench PRIVATE weir_nats weir::bridge
                      weir::store weir::core PkgConfig::BENCH_IN_LIBNATS)
target_compile_definitions(nats_in_bench PRIVATE _GNU_SOURCE)

# bridge_bench: weir::bridge (store FULL, relay to a real broker) against
# bare broker clients in the same run: an idempotent rd_kafka_producev
# loop (bench/peer_kafka.c) and async JetStream publish
# (bench/peer_jetstream.c), each built when weir's backend for that
# broker is. Included by bench/CMakeLists.txt when weir::bridge is built.
# Needs the brokers of scripts/brokers.sh (WEIR_KAFKA_BOOTSTRAP,
# WEIR_NATS_URL); see docs/benchmarks.md.
find_package(Threads REQUIRED)

add_executable(bridge_bench ${CMAKE_CURRENT_LIST_DIR}/bridge_bench.c)
weir_target_warnings(bridge_bench)
target_link_libraries(bridge_bench PRIVATE weir::bridge weir::store
                      weir::core Threads::Threads)
target_compile_definitions(bridge_bench PRIVATE _GNU_SOURCE
  WEIR_BENCH_SOURCE_DIR="${CMAKE_CURRENT_LIST_DIR}")
if(TARGET weir_kafka)
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(BENCH_RDKAFKA REQUIRED IMPORTED_TARGET rdkafka)
  target_sources(bridge_bench PRIVATE ${CMAKE_CURRENT_LIST_DIR}/peer_kafka.c)
  target_link_libraries(bridge_bench PRIVATE weir_kafka
                        PkgConfig::BENCH_RDKAFKA)
  target_compile_definitions(bridge_bench PRIVATE WEIR_BENCH_KAFKA)
endif()
if(TARGET weir_nats)
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(BENCH_LIBNATS REQUIRED IMPORTED_TARGET libnats)
  target_sources(bridge_bench PRIVATE
                 ${CMAKE_CURRENT_LIST_DIR}/peer_jetstream.c)
  target_link_libraries(bridge_bench PRIVATE weir_nats
                        PkgConfig::BENCH_LIBNATS)
  target_compile_definitions(bridge_bench PRIVATE WEIR_BENCH_NATS)
endif()

# kafka_in_bench: inbound from Kafka into weir (bridge with an inbound
# "kafka" route: store and bus) against a bare librdkafka consumer loop
# on the same broker and topic, interleaved rounds, medians with min-max,
# JSON lines. Included by bench/CMakeLists.txt when weir_kafka is built.
# Needs WEIR_KAFKA_BOOTSTRAP (scripts/brokers.sh start kafka); see
# docs/benchmarks.md.
find_package(PkgConfig REQUIRED)
pkg_check_modules(BENCH_IN_RDKAFKA REQUIRED IMPORTED_TARGET rdkafka)
add_executable(kafka_in_bench ${CMAKE_CURRENT_LIST_DIR}/kafka_in_bench.c)
weir_target_warnings(kafka_in_bench)
target_link_libraries(kafka_in_bench PRIVATE weir_kafka weir::bridge
                      weir::store weir::core PkgConfig::BENCH_IN_RDKAFKA)
target_compile_definitions(kafka_in_bench PRIVATE _GNU_SOURCE)

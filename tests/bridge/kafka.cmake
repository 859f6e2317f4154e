# The Kafka backend's test (label `integration`: it talks to a real Kafka
# started by scripts/brokers.sh, and to librdkafka's mock cluster).
# Until the bridge library lands, the test carries its own tiny sink and
# config (KAFKA_TEST_STUB_BRIDGE).
find_package(PkgConfig REQUIRED)
pkg_check_modules(RDKAFKA IMPORTED_TARGET rdkafka)
weir_test(bridge_kafka_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/kafka_test.c
  LIBS weir_kafka_testing PkgConfig::RDKAFKA
  LABELS integration TIMEOUT 240)
target_compile_definitions(bridge_kafka_test PRIVATE _GNU_SOURCE
  KAFKA_TEST_STUB_BRIDGE WEIR_SOURCE_DIR="${PROJECT_SOURCE_DIR}")

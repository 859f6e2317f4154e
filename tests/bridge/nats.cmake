# tests/bridge/nats_test.c: the NATS backends against a real nats-server
# (scripts/brokers.sh start nats). It compiles src/bridge/nats.c itself
# with a stand-in for the bridge's sink and config (the backend contract
# only), so it does not depend on weir_bridge.
weir_test(nats_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/nats_test.c
          ${PROJECT_SOURCE_DIR}/src/bridge/nats.c
  LIBS weir_testing PkgConfig::LIBNATS Threads::Threads
  LABELS integration
  TIMEOUT 300)
target_compile_definitions(nats_test PRIVATE _GNU_SOURCE
  WEIR_SOURCE_DIR="${PROJECT_SOURCE_DIR}")

# fanout_bench: fan-out 1 -> 4 subscriptions against ZeroMQ PUB -> 4 SUB,
# and 4 producers -> 1 subscription against a mutex+condvar queue with 4
# producers (issue 13 item 4). Included by bench/CMakeLists.txt.
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(ZMQ REQUIRED IMPORTED_TARGET libzmq)

add_executable(fanout_bench
  ${CMAKE_CURRENT_LIST_DIR}/fanout_bench.c
  ${CMAKE_CURRENT_LIST_DIR}/peer_mutexq.c
  ${CMAKE_CURRENT_LIST_DIR}/peer_zmq.c
  ${CMAKE_CURRENT_LIST_DIR}/peer_zmq_fan.c)
weir_target_warnings(fanout_bench)
target_link_libraries(fanout_bench PRIVATE weir::core PkgConfig::ZMQ
                      Threads::Threads)

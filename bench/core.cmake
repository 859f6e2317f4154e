# core_bench: weir::core against Node's EventEmitter, a function-pointer
# floor, ZeroMQ inproc PUB/SUB and PUSH/PULL, a mutex+condvar queue and a
# bare SPSC ring, in one run.
# Included by bench/CMakeLists.txt. Build with -DCMAKE_BUILD_TYPE=Release
# for figures worth recording (scripts/bench.sh does).
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(ZMQ REQUIRED IMPORTED_TARGET libzmq)

add_executable(core_bench
  ${CMAKE_CURRENT_LIST_DIR}/core_bench.c
  ${CMAKE_CURRENT_LIST_DIR}/peer_mutexq.c
  ${CMAKE_CURRENT_LIST_DIR}/peer_node.c
  ${CMAKE_CURRENT_LIST_DIR}/peer_spsc.c
  ${CMAKE_CURRENT_LIST_DIR}/peer_zmq.c)
weir_target_warnings(core_bench)
target_link_libraries(core_bench PRIVATE weir::core PkgConfig::ZMQ
                      Threads::Threads)
# node_emit.js is found beside the executable (copied at configure time,
# re-copied when it changes), else in the source tree.
target_compile_definitions(core_bench PRIVATE
  WEIR_BENCH_SOURCE_DIR="${CMAKE_CURRENT_LIST_DIR}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/node_emit.js
               ${CMAKE_CURRENT_BINARY_DIR}/node_emit.js COPYONLY)

# emit_count: a fixed number of emits or publishes, for callgrind's
# instruction counts (deterministic on a loaded machine).
add_executable(emit_count ${CMAKE_CURRENT_LIST_DIR}/emit_count.c)
weir_target_warnings(emit_count)
target_link_libraries(emit_count PRIVATE weir::core Threads::Threads)

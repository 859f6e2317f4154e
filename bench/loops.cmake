# loops_bench (1 vs 2 loop threads, publish to dispatch) and
# latency_bench (publish-to-handler percentiles, idle and under load,
# with and without spin). Included by bench/CMakeLists.txt.
find_package(Threads REQUIRED)
foreach(b loops_bench latency_bench)
  add_executable(${b} ${CMAKE_CURRENT_LIST_DIR}/${b}.c)
  weir_target_warnings(${b})
  target_compile_definitions(${b} PRIVATE _GNU_SOURCE)
  target_link_libraries(${b} PRIVATE weir::core Threads::Threads)
endforeach()
# mem_bench: bytes per idle subscription, queued event, tree node and
# listener, through a counting allocator hook.
add_executable(mem_bench ${CMAKE_CURRENT_LIST_DIR}/mem_bench.c)
weir_target_warnings(mem_bench)
target_link_libraries(mem_bench PRIVATE weir::core)

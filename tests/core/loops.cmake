# Tests of issue 3 (loops at scale), included by tests/CMakeLists.txt.
# Threaded ones carry the `concurrency` label (they run under TSan).

function(loops_test name)
  weir_test(${name} SOURCES ${CMAKE_CURRENT_LIST_DIR}/${name}.c ${ARGN})
  target_compile_definitions(${name} PRIVATE _GNU_SOURCE)
  target_include_directories(${name} PRIVATE ${CMAKE_CURRENT_LIST_DIR})
endfunction()

loops_test(threads_test LIBS weir_testing LABELS core concurrency TIMEOUT 120)
loops_test(embed_test LIBS weir_testing LABELS core concurrency TIMEOUT 120)
loops_test(async_test LIBS weir_testing LABELS core concurrency TIMEOUT 120)
loops_test(storm_test LIBS weir_testing LABELS core concurrency TIMEOUT 300)
loops_test(retry_test LIBS weir_testing LABELS core TIMEOUT 60)

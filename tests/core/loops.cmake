# Tests of issue 3 (loops at scale), included by tests/CMakeLists.txt.
# Threaded ones carry the `concurrency` label (they run under TSan).

function(loops_test name)
  weir_test(${name} SOURCES ${CMAKE_CURRENT_LIST_DIR}/${name}.c ${ARGN})
  target_compile_definitions(${name} PRIVATE _GNU_SOURCE)
  target_include_directories(${name} PRIVATE ${CMAKE_CURRENT_LIST_DIR})
endfunction()

loops_test(threads_test LIBS weir_testing LABELS core concurrency TIMEOUT 120)
loops_test(embed_test LIBS weir_testing LABELS core concurrency TIMEOUT 120)
loops_test(gather_test LIBS weir_testing LABELS core concurrency TIMEOUT 60)
loops_test(async_test LIBS weir_testing LABELS core concurrency TIMEOUT 120)
loops_test(storm_test LIBS weir_testing LABELS core concurrency TIMEOUT 300)
loops_test(retry_test LIBS weir_testing LABELS core TIMEOUT 60)
loops_test(stats_test LIBS weir_testing LABELS core TIMEOUT 60)
# stats_test makes vsnprintf fail on demand: its calls from the library
# go to the test's __wrap_vsnprintf (GNU ld and lld).
target_link_options(stats_test PRIVATE -Wl,--wrap=vsnprintf)
loops_test(oom_flow_test LIBS weir_testing LABELS core TIMEOUT 300)

# The adapters are header-only; only their tests link the host library.
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBUV IMPORTED_TARGET libuv)
if(LIBUV_FOUND)
  loops_test(adapter_libuv_test LIBS weir_testing PkgConfig::LIBUV
             LABELS core concurrency TIMEOUT 60)
endif()
pkg_check_modules(LIBEVENT IMPORTED_TARGET libevent)
if(LIBEVENT_FOUND)
  loops_test(adapter_libevent_test LIBS weir_testing PkgConfig::LIBEVENT
             LABELS core concurrency TIMEOUT 60)
endif()

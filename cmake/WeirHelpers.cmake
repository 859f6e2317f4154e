# Shared compile settings and the weir_test() helper.

set(WEIR_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes
    -Wmissing-prototypes)
if(WEIR_WERROR)
  list(APPEND WEIR_WARNINGS -Werror)
endif()

if(WEIR_SANITIZER STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(WEIR_SANITIZER STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(NOT WEIR_SANITIZER STREQUAL "none")
  message(FATAL_ERROR "WEIR_SANITIZER must be none, address or thread")
endif()

# Hardening, in every build (issue 12): a stack protector, format-string
# checks (with -Werror, a non-literal format without arguments fails),
# full RELRO (-z relro -z now: the GOT is read-only after start-up) and,
# where the build optimises and no sanitizer runs, _FORTIFY_SOURCE=2
# (which needs optimisation; -U first, for toolchains that define it).
# scripts/check-hardening.sh checks the shared library in the `shared`
# stage of scripts/test.sh.
add_compile_options(-fstack-protector-strong -Wformat -Wformat-security)
if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
  add_link_options(-Wl,-z,relro,-z,now)
endif()
if(WEIR_SANITIZER STREQUAL "none")
  add_compile_options(
    "$<$<NOT:$<CONFIG:Debug>>:-U_FORTIFY_SOURCE;-D_FORTIFY_SOURCE=2>")
endif()

# WEIR_FUZZ: every object instrumented for libFuzzer, with ASan and UBSan;
# the fuzz targets add libFuzzer's main (tests/fuzz/CMakeLists.txt).
if(WEIR_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID STREQUAL "Clang" OR NOT WEIR_SANITIZER STREQUAL "none")
    message(FATAL_ERROR "WEIR_FUZZ needs clang and WEIR_SANITIZER=none")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined
                      -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# weir_target_warnings(target): the house warnings on one target.
function(weir_target_warnings target)
  target_compile_options(${target} PRIVATE ${WEIR_WARNINGS})
endfunction()

# weir_test(name SOURCES files... LIBS libs... LABELS labels... [TIMEOUT s])
# One executable per concept, registered with ctest.
function(weir_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  add_executable(${name} ${T_SOURCES})
  weir_target_warnings(${name})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests/support
                             ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${name} PRIVATE ${T_LIBS} ${CMOCKA_LIBRARIES})
  target_include_directories(${name} PRIVATE ${CMOCKA_INCLUDE_DIRS})
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT}
                       LABELS "${T_LABELS}")
endfunction()

# weir_resolve_loop_backend(): sets WEIR_LOOP_BACKEND_USED (the backend of
# weir::core) from WEIR_LOOP_BACKEND (auto: epoll on Linux, poll
# elsewhere), and WEIR_LOOP_BACKENDS, the backends the tests build: the
# one used, plus poll, which every POSIX system has. A poll build thus
# compiles nothing Linux-only, as it would on macOS or a BSD.
macro(weir_resolve_loop_backend)
  if(WEIR_LOOP_BACKEND STREQUAL "auto")
    if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
      set(WEIR_LOOP_BACKEND_USED epoll)
    else()
      set(WEIR_LOOP_BACKEND_USED poll)
    endif()
  elseif(WEIR_LOOP_BACKEND MATCHES "^(epoll|poll)$")
    set(WEIR_LOOP_BACKEND_USED ${WEIR_LOOP_BACKEND})
  else()
    message(FATAL_ERROR "WEIR_LOOP_BACKEND must be auto, epoll or poll")
  endif()
  if(WEIR_LOOP_BACKEND_USED STREQUAL "epoll"
     AND NOT CMAKE_SYSTEM_NAME STREQUAL "Linux")
    message(FATAL_ERROR "the epoll loop backend needs Linux")
  endif()
  set(WEIR_LOOP_BACKENDS ${WEIR_LOOP_BACKEND_USED})
  if(NOT WEIR_LOOP_BACKEND_USED STREQUAL "poll")
    list(APPEND WEIR_LOOP_BACKENDS poll)
  endif()
  message(STATUS "weir: loop backend ${WEIR_LOOP_BACKEND_USED}"
                 " (tests: ${WEIR_LOOP_BACKENDS})")
endmacro()

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

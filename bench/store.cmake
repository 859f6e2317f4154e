# store_bench: weir::store against bare SQLite on the same disk, in one
# run (group-commit append vs a prepared INSERT loop; replay into a bus
# vs a bare SELECT scan). Included by bench/CMakeLists.txt when
# WEIR_WITH_STORE is on. Build with -DCMAKE_BUILD_TYPE=Release for
# figures worth recording; run `store_bench --dir <dir on disk>`.
find_package(Threads REQUIRED)
find_package(SQLite3 REQUIRED)

add_executable(store_bench ${CMAKE_CURRENT_LIST_DIR}/store_bench.c)
weir_target_warnings(store_bench)
target_link_libraries(store_bench PRIVATE weir::store weir::core
                      SQLite::SQLite3 Threads::Threads)
target_compile_definitions(store_bench PRIVATE _GNU_SOURCE)

# writer_count: the store writer's instructions per plain or inbox append,
# for callgrind (full batches). It calls the writer's internal functions,
# which only the static archive lets a program reach.
get_target_property(_weir_store_type weir_store TYPE)
if(_weir_store_type STREQUAL "STATIC_LIBRARY")
  add_executable(writer_count ${CMAKE_CURRENT_LIST_DIR}/writer_count.c)
  weir_target_warnings(writer_count)
  target_include_directories(writer_count PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(writer_count PRIVATE weir::store weir::core
                        SQLite::SQLite3 Threads::Threads)
  target_compile_definitions(writer_count PRIVATE _GNU_SOURCE)
endif()

# weir_kafka: the Kafka backend (src/bridge/kafka.c, the only file that
# includes librdkafka), built when WEIR_WITH_KAFKA is ON and pkg-config
# finds rdkafka; otherwise weir builds and passes without it. When the
# bridge's own CMakeLists (src/bridge/CMakeLists.txt) already defines
# the target, this file adds nothing.
if(WEIR_WITH_KAFKA AND NOT TARGET weir_kafka)
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(RDKAFKA IMPORTED_TARGET rdkafka)
  if(RDKAFKA_FOUND)
    foreach(kind lib testing)
      if(kind STREQUAL "lib")
        set(name weir_kafka)
        add_library(${name} ${CMAKE_CURRENT_LIST_DIR}/kafka.c)
        target_link_libraries(${name} PUBLIC weir PRIVATE PkgConfig::RDKAFKA)
      else()
        set(name weir_kafka_testing)
        add_library(${name} STATIC ${CMAKE_CURRENT_LIST_DIR}/kafka.c)
        target_link_libraries(${name} PUBLIC weir_testing PkgConfig::RDKAFKA)
        set_target_properties(${name} PROPERTIES EXCLUDE_FROM_ALL ON
                              C_VISIBILITY_PRESET default)
      endif()
      weir_target_warnings(${name})
      target_include_directories(${name}
        PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
               $<INSTALL_INTERFACE:include>
        PRIVATE ${PROJECT_SOURCE_DIR}/src)
      target_compile_definitions(${name} PRIVATE _GNU_SOURCE)
    endforeach()
    add_library(weir::kafka ALIAS weir_kafka)
  else()
    message(STATUS "weir: weir_kafka: pkg-config finds no rdkafka, not built")
  endif()
endif()

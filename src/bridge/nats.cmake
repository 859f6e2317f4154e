# weir_nats: the NATS backends ("nats" = JetStream, "natscore"), built
# only when cnats is found through pkg-config (libnats). Included from the
# top-level CMakeLists.txt when WEIR_WITH_NATS is ON; without cnats the
# rest of weir builds and passes as before.
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(LIBNATS QUIET IMPORTED_TARGET libnats)
endif()
if(NOT LIBNATS_FOUND)
  message(STATUS "weir: no libnats (pkg-config): weir_nats is not built")
  return()
endif()
message(STATUS "weir: NATS backends with libnats ${LIBNATS_VERSION}")
find_package(Threads REQUIRED)

add_library(weir_nats ${CMAKE_CURRENT_LIST_DIR}/nats.c)
add_library(weir::nats ALIAS weir_nats)
weir_target_warnings(weir_nats)
target_include_directories(weir_nats
  PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
         $<INSTALL_INTERFACE:include>)
# weir_sink_ack and weir_bridge_config_* come from weir_bridge.
if(TARGET weir_bridge)
  target_link_libraries(weir_nats PUBLIC weir_bridge)
endif()
target_link_libraries(weir_nats PUBLIC weir PRIVATE PkgConfig::LIBNATS
                      Threads::Threads)
target_compile_definitions(weir_nats PRIVATE _GNU_SOURCE)

include(GNUInstallDirs)
install(TARGETS weir_nats EXPORT weir-targets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${PROJECT_SOURCE_DIR}/include/weir/nats.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/weir)

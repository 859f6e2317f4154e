# What `cmake --install` adds beyond the libraries and headers (whose
# install() rules sit beside their targets in src/*/CMakeLists.txt): the
# CMake package (config, version and targets files) and the pkg-config
# files. Included last by the top-level CMakeLists.txt, once every
# target exists. docs/packaging.md describes the installed tree.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# The imported targets' names: weir::core, weir::store, weir::bridge,
# weir::kafka, weir::nats (the build tree's aliases have the same names).
set(WEIR_INSTALL_COMPONENTS core)
set_target_properties(weir PROPERTIES EXPORT_NAME core)
foreach(comp store bridge kafka nats)
  if(TARGET weir_${comp})
    set_target_properties(weir_${comp} PROPERTIES EXPORT_NAME ${comp})
    list(APPEND WEIR_INSTALL_COMPONENTS ${comp})
  endif()
endforeach()
# The backends are shipped libraries too: versioned like the others.
foreach(b weir_kafka weir_nats)
  if(TARGET ${b})
    set_target_properties(${b} PROPERTIES VERSION ${PROJECT_VERSION}
                          SOVERSION ${PROJECT_VERSION_MAJOR})
  endif()
endforeach()
string(REPLACE ";" " " WEIR_INSTALL_COMPONENTS "${WEIR_INSTALL_COMPONENTS}")
foreach(comp store kafka nats)
  string(TOUPPER ${comp} up)
  if(TARGET weir_${comp})
    set(WEIR_INSTALL_${up} TRUE)
  else()
    set(WEIR_INSTALL_${up} FALSE)
  endif()
endforeach()
# The pkg-config prefixes the backends were found with: a static weir's
# exported targets name PkgConfig::<prefix>, so its config re-creates
# them (src/bridge/CMakeLists.txt, weir_bridge_backend: <name>_PC).
# kafka.h and nats.h are installed there too, with their libraries.
set(WEIR_KAFKA_PC weir_kafka_PC)
set(WEIR_NATS_PC weir_nats_PC)

set(WEIR_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/weir)
install(EXPORT weir-targets NAMESPACE weir::
        DESTINATION ${WEIR_CMAKE_DIR})
configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/weir-config.cmake.in
  ${PROJECT_BINARY_DIR}/weir-config.cmake
  INSTALL_DESTINATION ${WEIR_CMAKE_DIR})
# SameMajorVersion: a request for X.Y is met by any X.y.z at or above
# it (0.x included: 0.1.0 meets a request for 0.1, not for 0.2).
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/weir-config-version.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/weir-config.cmake
              ${PROJECT_BINARY_DIR}/weir-config-version.cmake
        DESTINATION ${WEIR_CMAKE_DIR})

# pkg-config: one file per library. `prefix` is relative to the file
# itself (${pcfiledir}), so an installed tree can be moved, or unpacked
# from the .deb into a scratch root, and still be used.
set(WEIR_PC_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
file(RELATIVE_PATH WEIR_PC_PREFIX_REL /prefix/${WEIR_PC_DIR} /prefix)
string(REGEX REPLACE "/$" "" WEIR_PC_PREFIX_REL "${WEIR_PC_PREFIX_REL}")
set(WEIR_PC_CFLAGS "")
if(NOT BUILD_SHARED_LIBS)
  set(WEIR_PC_CFLAGS " -DWEIR_STATIC_DEFINE")
endif()
foreach(comp core store bridge kafka nats)
  if(comp STREQUAL "core" OR TARGET weir_${comp})
    configure_file(${CMAKE_CURRENT_LIST_DIR}/pkgconfig/weir-${comp}.pc.in
                   ${PROJECT_BINARY_DIR}/pkgconfig/weir-${comp}.pc @ONLY)
    install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/weir-${comp}.pc
            DESTINATION ${WEIR_PC_DIR})
  endif()
endforeach()

include(${CMAKE_CURRENT_LIST_DIR}/WeirPackage.cmake)

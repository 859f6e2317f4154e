# CPack: `cpack -G DEB` in a build tree makes one Debian package of
# everything `cmake --install` installs (libraries, headers, the CMake
# package, pkg-config files, and the `weir` tool and its man pages when
# src/cli builds them). Its run-time Depends come from dpkg-shlibdeps
# (libsqlite3-0, librdkafka1, libnats3.x, ... as linked), so a package
# built without a backend does not depend on its client library.
set(CPACK_PACKAGE_NAME weir)
set(CPACK_PACKAGE_VENDOR "weir")
set(CPACK_PACKAGE_CONTACT "weir maintainers <weir@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "embeddable event bus in C11: in-process bus, SQLite log, broker bridge")
set(CPACK_PACKAGE_DESCRIPTION
    "weir is an embeddable event bus written in C11: an in-process bus
(weir::core, libc and pthreads only), an SQLite event log (weir::store)
and a bridge that routes chosen topics to Kafka and NATS through the log
(weir::bridge). This package holds the libraries, their headers, a CMake
package and pkg-config files.")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libs)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The headers and .pc files name the client libraries' development
# files (pkg-config's Requires.private): recommended, not required, so
# that a machine which only runs the tool or a program does not need them.
set(weir_deb_recommends pkg-config libsqlite3-dev)
if(TARGET weir_kafka)
  list(APPEND weir_deb_recommends librdkafka-dev)
endif()
if(TARGET weir_nats)
  list(APPEND weir_deb_recommends libnats-dev)
endif()
string(REPLACE ";" ", " CPACK_DEBIAN_PACKAGE_RECOMMENDS
       "${weir_deb_recommends}")
set(CPACK_GENERATOR DEB)
# Build trees, .git and the like never go into a source package.
set(CPACK_SOURCE_IGNORE_FILES "/build/" "/\\\\.git/" "~$")
include(CPack)

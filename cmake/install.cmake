# Install rules: binaries, the client library (shared and static), public
# headers, pkg-config file, CMake package, license.
install(TARGETS rhai_client rhai_client_static EXPORT rhaiTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# rhai-executor sits beside rhaid: the pool looks for it there.
install(TARGETS rhaid rhai-executor rhaictl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES include/rhai/error.h include/rhai/client.h include/rhai/async.h include/rhai/log.h include/rhai/cron.h include/rhai/events.h
  include/rhai/rhai.h ${PROJECT_BINARY_DIR}/include/rhai/version.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/rhai)
install(FILES LICENSE DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/rhailib)

# pkg-config: written at configure time, but relocatable: the prefix is
# found from where the .pc lies (${pcfiledir}), so `cmake --install
# --prefix X`, DESTDIR staging and a moved tree all give X's paths. An
# absolute CMAKE_INSTALL_LIBDIR/INCLUDEDIR (a distribution's choice) is
# written as it is.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(RHAI_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(RHAI_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  # from <prefix>/<libdir>/pkgconfig back up to <prefix>: "../.." or more
  file(RELATIVE_PATH _rhai_pc_up "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
  string(REGEX REPLACE "/$" "" _rhai_pc_up "${_rhai_pc_up}")
  set(RHAI_PC_PREFIX "\${pcfiledir}/${_rhai_pc_up}")
  set(RHAI_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(RHAI_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(RHAI_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file(cmake/rhai-client.pc.in ${PROJECT_BINARY_DIR}/rhai-client.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/rhai-client.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

set(RHAI_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/rhai)
install(EXPORT rhaiTargets NAMESPACE rhai:: DESTINATION ${RHAI_CMAKE_DIR})
configure_package_config_file(cmake/rhaiConfig.cmake.in
  ${PROJECT_BINARY_DIR}/rhaiConfig.cmake INSTALL_DESTINATION ${RHAI_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/rhaiConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/rhaiConfig.cmake
  ${PROJECT_BINARY_DIR}/rhaiConfigVersion.cmake DESTINATION ${RHAI_CMAKE_DIR})

# systemd unit template and man pages
configure_file(src/daemon/rhaid@.service.in ${PROJECT_BINARY_DIR}/rhaid@.service @ONLY)
set(RHAI_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING "where rhaid@.service goes, relative to the prefix")
# The installed unit's ExecStart names the prefix installed to, known only
# then: `cmake --install --prefix X` must not give a unit that starts the
# configure-time prefix's rhaid (or none). DESTDIR is not part of it.
if(IS_ABSOLUTE "${CMAKE_INSTALL_BINDIR}")
  set(_rhai_unit_bindir "${CMAKE_INSTALL_BINDIR}")
else()
  set(_rhai_unit_bindir "\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}")
endif()
install(CODE "
  set(CMAKE_INSTALL_FULL_BINDIR \"${_rhai_unit_bindir}\")
  configure_file(\"${PROJECT_SOURCE_DIR}/src/daemon/rhaid@.service.in\"
                 \"${PROJECT_BINARY_DIR}/install-unit/rhaid@.service\" @ONLY)
")
install(FILES ${PROJECT_BINARY_DIR}/install-unit/rhaid@.service DESTINATION ${RHAI_SYSTEMD_UNIT_DIR})
# the user the unit runs as (User=rhaid): systemd-sysusers makes it
set(RHAI_SYSUSERS_DIR "lib/sysusers.d" CACHE STRING "where rhaid's sysusers.d file goes, relative to the prefix")
install(FILES src/daemon/rhaid.sysusers DESTINATION ${RHAI_SYSUSERS_DIR} RENAME rhaid.conf)
# examples an operator copies to /etc/rhaid/ (never installed there: a
# reinstall must not overwrite the operator's settings)
install(FILES examples/rhaid.conf examples/rhaid.env
  DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/rhailib/examples)
install(FILES docs/man/rhaid.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES docs/man/rhaictl.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

# rhai-web (src/web): the binary, its unit (ExecStart names the prefix
# installed to, as rhaid@.service's does) and its example config
install(TARGETS rhai-web RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(IS_ABSOLUTE "${CMAKE_INSTALL_DATADIR}")
  set(_rhai_unit_datadir "${CMAKE_INSTALL_DATADIR}")
else()
  set(_rhai_unit_datadir "\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DATADIR}")
endif()
install(CODE "
  set(CMAKE_INSTALL_FULL_BINDIR \"${_rhai_unit_bindir}\")
  set(CMAKE_INSTALL_FULL_DATADIR \"${_rhai_unit_datadir}\")
  configure_file(\"${PROJECT_SOURCE_DIR}/src/web/rhai-web.service.in\"
                 \"${PROJECT_BINARY_DIR}/install-unit/rhai-web.service\" @ONLY)
")
install(FILES ${PROJECT_BINARY_DIR}/install-unit/rhai-web.service DESTINATION ${RHAI_SYSTEMD_UNIT_DIR})
install(FILES examples/rhai-web.conf DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/rhailib/examples)
install(FILES docs/web.md DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/rhailib)

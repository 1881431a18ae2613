# What `cmake --install` puts under the prefix, and the Debian package (docs/install.md).
# Paths that depend on the prefix (the unit's, /etc for the prefix /usr) are worked out when
# installing, so `cmake --install build --prefix X` and cpack (prefix /usr) both get theirs.

install(FILES ${CMAKE_SOURCE_DIR}/LICENSE ${CMAKE_SOURCE_DIR}/README.md
  ${CMAKE_SOURCE_DIR}/README.zh-CN.md ${CMAKE_SOURCE_DIR}/conf/pacewatch.conf.example
  DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${CMAKE_SOURCE_DIR}/LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR} RENAME copyright)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}
  FILES_MATCHING PATTERN "*.md")
# Man pages (man/): pacewatch(1), pacewatch.conf(5), pacewatchd(8), compressed with gzip -9n
# as Debian installs them (reproducible: no name or time stamp in the .gz).
set(PW_MAN_GZ)
foreach(page IN ITEMS pacewatch.1 pacewatch.conf.5 pacewatchd.8)
  add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/man/${page}.gz
    COMMAND ${CMAKE_COMMAND} -E copy ${CMAKE_SOURCE_DIR}/man/${page} ${CMAKE_BINARY_DIR}/man/${page}
    COMMAND gzip -9nf ${CMAKE_BINARY_DIR}/man/${page}
    DEPENDS ${CMAKE_SOURCE_DIR}/man/${page} VERBATIM)
  string(REGEX MATCH "[0-9]$" section ${page})
  install(FILES ${CMAKE_BINARY_DIR}/man/${page}.gz
    DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
  list(APPEND PW_MAN_GZ ${CMAKE_BINARY_DIR}/man/${page}.gz)
endforeach()
add_custom_target(pw_man ALL DEPENDS ${PW_MAN_GZ})
install(FILES ${CMAKE_SOURCE_DIR}/conf/dist/sysusers.conf DESTINATION lib/sysusers.d
  RENAME pacewatch.conf)
install(FILES ${CMAKE_SOURCE_DIR}/conf/dist/tmpfiles.conf DESTINATION lib/tmpfiles.d
  RENAME pacewatch.conf)
# For Prometheus and Grafana users (docs/install.md "Prometheus and Grafana").
install(FILES ${CMAKE_SOURCE_DIR}/conf/prometheus/pacewatch.rules.yml
  DESTINATION ${CMAKE_INSTALL_DATADIR}/pacewatch/prometheus)
install(FILES ${CMAKE_SOURCE_DIR}/conf/grafana/pacewatch.json
  DESTINATION ${CMAKE_INSTALL_DATADIR}/pacewatch/grafana)

set(PW_DIST_DIR ${CMAKE_SOURCE_DIR}/conf/dist)
set(PW_UNIT_IN ${CMAKE_SOURCE_DIR}/conf/pacewatchd.service.in)
set(PW_UNIT_OUT ${CMAKE_BINARY_DIR}/pacewatchd.service)
install(CODE "
  set(pw_src \"${PW_DIST_DIR}\")
  set(pw_unit_in \"${PW_UNIT_IN}\")
  set(pw_unit_out \"${PW_UNIT_OUT}\")
  set(pw_docdir \"${CMAKE_INSTALL_DOCDIR}\")
  set(pw_bindir \"${CMAKE_INSTALL_BINDIR}\")
")
install(SCRIPT ${CMAKE_SOURCE_DIR}/conf/install_etc.cmake)

# The Debian package: `./quickstart.sh package` (cpack -G DEB).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME pacewatch)
set(CPACK_PACKAGE_VENDOR "pacewatch")
set(CPACK_PACKAGE_CONTACT "pacewatch maintainers <pacewatch@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "public-service indicator monitor: polls, judges progress against targets, alerts")
set(CPACK_RESOURCE_FILE_LICENSE ${CMAKE_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# dpkg-shlibdeps also reads the plugins, which live in a private directory.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS /usr/lib/pacewatch/plugins)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "systemd (>= 247), tzdata, fonts-noto-cjk")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "rrdcached")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PW_DIST_DIR}/debian/conffiles
  ${PW_DIST_DIR}/debian/postinst ${PW_DIST_DIR}/debian/prerm ${PW_DIST_DIR}/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)

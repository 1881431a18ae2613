# Run by `cmake --install` (conf/install.cmake sets pw_src, pw_unit_in, pw_unit_out, pw_docdir,
# pw_bindir): the files whose paths depend on the prefix chosen when installing.
# The prefix /usr keeps its configuration in /etc, any other in PREFIX/etc (GNU coding
# standards, as GNUInstallDirs does).
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(pw_etc "/etc")
else()
  set(pw_etc "${CMAKE_INSTALL_PREFIX}/etc")
endif()
set(PW_BINDIR "${CMAKE_INSTALL_PREFIX}/${pw_bindir}")
set(PW_CONFDIR "${pw_etc}/pacewatch")
set(PW_DOCDIR "${CMAKE_INSTALL_PREFIX}/${pw_docdir}")
configure_file("${pw_unit_in}" "${pw_unit_out}" @ONLY)
file(INSTALL "${pw_unit_out}" DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
# The configuration holds secrets or their names: readable by root and the pacewatch group
# only (the package's postinst gives it to that group).
file(INSTALL "${pw_src}/pacewatch.conf" DESTINATION "${pw_etc}/pacewatch"
  PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)
# No logrotate file: pacewatchd rotates audit.log itself (daemon.audit_max_bytes, docs/storage.md).

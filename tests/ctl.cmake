# tests of src/ctl (rhaictl) and examples/: shell tests that drive the
# built binaries. The unit test needs no Redis; the integration test starts
# its own redis-server and rhaid on free loopback ports.
add_test(NAME test_ctl_run
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_ctl_run.sh
          ${PROJECT_BINARY_DIR}/bin ${PROJECT_SOURCE_DIR})
set_tests_properties(test_ctl_run PROPERTIES TIMEOUT 120 LABELS unit)

add_test(NAME test_ctl
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_ctl.sh
          ${PROJECT_BINARY_DIR}/bin ${PROJECT_SOURCE_DIR} ${REDIS_SERVER} ${REDIS_CLI})
set_tests_properties(test_ctl PROPERTIES TIMEOUT 180 LABELS integration)

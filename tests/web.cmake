# tests of src/web (rhai-web): the pure request parsing as a unit test, and
# the JSON API over HTTP against real redis-server, rhaid and rhai-web.
rhai_test(test_web_http unit 30 rhai_web_http)
# credentials, sessions and the login limit (src/web/auth.c)
rhai_test(test_web_auth unit 30 rhai_web_core)

rhai_test(test_web_api integration 300 PkgConfig::JANSSON)
add_dependencies(test_web_api rhai-web rhaid rhaictl)

# rhai-web.service, the example config and docs/web.md agree with rhai-web
add_test(NAME test_web_unit
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_web_unit.sh
          ${PROJECT_SOURCE_DIR}/src/web/rhai-web.service.in $<TARGET_FILE:rhai-web>
          ${PROJECT_SOURCE_DIR})
set_tests_properties(test_web_unit PROPERTIES TIMEOUT 60 LABELS unit)

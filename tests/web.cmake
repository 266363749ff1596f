# tests of src/web (rhai-web): the pure request parsing as a unit test, and
# the JSON API over HTTP against real redis-server, rhaid and rhai-web.
rhai_test(test_web_http unit 30 rhai_web_http)

rhai_test(test_web_api integration 300 PkgConfig::JANSSON)
add_dependencies(test_web_api rhai-web rhaid rhaictl)

# The web console (src/web/assets) in a real headless chromium, driven
# through chromedriver by tests/integration/web_browser.js (Node's built-in
# fetch, no npm package): tests/integration/test_web_browser.sh starts
# redis-server, rhaid, rhai-web and chromedriver on free loopback ports.
# Skipped (77) only when chromium is not installed. Label browser.
# RHAI_SCREENSHOTS=DIR in the environment saves the main pages as PNGs.
if(TARGET rhai-web AND TARGET rhaid)
  add_test(NAME test_web_browser
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_web_browser.sh
            ${PROJECT_BINARY_DIR}/bin ${PROJECT_SOURCE_DIR} ${REDIS_SERVER} ${REDIS_CLI})
  set_tests_properties(test_web_browser PROPERTIES TIMEOUT 300 LABELS "browser;integration"
    SKIP_RETURN_CODE 77)
endif()

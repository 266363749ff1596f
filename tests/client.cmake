# tests of src/client
rhai_test(test_client unit 30 rhai_client_static PkgConfig::HIREDIS)
rhai_test(test_client_sync integration 120 rhai_client_static PkgConfig::HIREDIS)
rhai_test(test_client_async integration 120 rhai_client_static PkgConfig::HIREDIS
  PkgConfig::LIBUV)
rhai_test(test_client_log integration 60 rhai_client_static PkgConfig::LIBUV)
rhai_test(test_client_submit integration 60 rhai_client_static)

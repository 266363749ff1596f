# tests of src/client
rhai_test(test_client unit 30 rhai_client_static PkgConfig::HIREDIS)
# the synchronous client: submit, status and cancel; wait and run;
# connections (helpers and the fake worker in tests/integration/client_sync.h)
foreach(t test_client_sync_submit test_client_sync_wait test_client_sync_connect)
  rhai_test(${t} integration 120 rhai_client_static PkgConfig::HIREDIS)
endforeach()
rhai_test(test_client_async integration 120 rhai_client_static PkgConfig::HIREDIS
  PkgConfig::LIBUV)
rhai_test(test_client_log integration 60 rhai_client_static PkgConfig::LIBUV)
rhai_test(test_client_submit integration 60 rhai_client_static)
# issue 20: rhai/events.h (consumer groups over a context's event stream)
rhai_test(test_events_client integration 60 rhai_client_static PkgConfig::HIREDIS)

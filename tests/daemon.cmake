# tests of src/daemon (rhaid)
rhai_test(test_daemon_config unit 30 rhai_daemon)
rhai_test(test_daemon_execuser unit 30 rhai_daemon)
rhai_test(test_daemon integration 300 rhai_commonlib)
add_dependencies(test_daemon rhaid)
rhai_test(test_recovery integration 400 rhai_client_static PkgConfig::LIBUV)
add_dependencies(test_recovery rhaid)
rhai_test(test_protocol_walkthrough integration 120 rhai_commonlib)
add_dependencies(test_protocol_walkthrough rhaid)
target_compile_definitions(test_protocol_walkthrough PRIVATE TH_REDIS_CLI_PATH="${REDIS_CLI}")
add_test(NAME test_docs_config COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_docs_config.sh
  $<TARGET_FILE:rhaid> ${PROJECT_SOURCE_DIR}/docs/operations.md)
set_tests_properties(test_docs_config PROPERTIES TIMEOUT 30 LABELS unit)
rhai_test(test_e2e integration 300 rhai_client_static PkgConfig::LIBUV)
add_dependencies(test_e2e rhaid)
rhai_test(test_operate integration 120 rhai_commonlib)
add_dependencies(test_operate rhaid)
# batched takes and finishes, and tasks queued behind a busy executor
# (helpers in tests/integration/batch.h)
foreach(t test_batch_take test_batch_finish test_batch_queued)
  rhai_test(${t} integration 120 rhai_commonlib)
  add_dependencies(${t} rhaid)
endforeach()
rhai_test(test_metrics_http integration 60 rhai_commonlib)
add_dependencies(test_metrics_http rhaid)
rhai_test(test_daemon_start integration 60 rhai_commonlib)
add_dependencies(test_daemon_start rhaid)
rhai_test(test_daemon_logs integration 60 rhai_commonlib)
add_dependencies(test_daemon_logs rhaid)
add_test(NAME test_systemd_unit COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_systemd_unit.sh
  ${PROJECT_SOURCE_DIR}/src/daemon/rhaid@.service.in $<TARGET_FILE:rhaid> ${PROJECT_SOURCE_DIR})
set_tests_properties(test_systemd_unit PROPERTIES TIMEOUT 60 LABELS unit)
rhai_test(test_signatures integration 120 rhai_client_static PkgConfig::LIBUV)
add_dependencies(test_signatures rhaid)
add_test(NAME test_ctl_signed COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_ctl_signed.sh
  ${PROJECT_BINARY_DIR}/bin ${REDIS_SERVER} ${REDIS_CLI})
set_tests_properties(test_ctl_signed PROPERTIES TIMEOUT 120 LABELS integration)
# the processing list re-read after a reconnect, when Redis refuses it once
rhai_test(test_daemon_rescan integration 60 rhai_commonlib)
add_dependencies(test_daemon_rescan rhaid)
# executors of a root rhaid: unprivileged, hard limits, Landlock, seccomp
rhai_test(test_confine integration 120 rhai_dsl rhai_commonlib)
add_dependencies(test_confine rhaid)
# issue 16: oversized fields, poisoned counters, killed connections, restarts
rhai_test(test_daemon_faults integration 300 rhai_commonlib)
add_dependencies(test_daemon_faults rhaid)
# a data dir read-only for a while: retried for store_retry_ms, not a
# number of runs (issue 16, item 10)
rhai_test(test_store_outage integration 180 rhai_dsl rhai_commonlib)
add_dependencies(test_store_outage rhaid)
# pool.c, worker.c, take.c and start.c on a real libuv loop, with a fake executor
# (tests/support/fake_executor.c: each task's script says how it answers)
# in place of rhai-executor (wk_config.executor_path); no Redis.
add_executable(fake_executor support/fake_executor.c)
target_link_libraries(fake_executor PRIVATE rhai_engine rhai_commonlib rhai_warnings)
foreach(t test_daemon_pool test_daemon_worker test_daemon_take)
  rhai_test(${t} unit 120 rhai_daemon)
  target_compile_definitions(${t} PRIVATE FAKE_EXECUTOR="$<TARGET_FILE:fake_executor>")
  add_dependencies(${t} fake_executor)
endforeach()
# issue 17: with the sqlite store, a second instance of a worker id on
# another data dir refuses to start (the split guard)
rhai_test(test_daemon_split integration 120 rhai_commonlib)
add_dependencies(test_daemon_split rhaid)
# cron schedules fired by rhaid (src/daemon/cron.c)
rhai_test(test_cron_daemon integration 180 rhai_client_static PkgConfig::LIBUV)
add_dependencies(test_cron_daemon rhaid)
# rhaictl cron against rhaid (issue 19)
add_test(NAME test_ctl_cron COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_ctl_cron.sh
  ${PROJECT_BINARY_DIR}/bin ${REDIS_SERVER} ${REDIS_CLI})
set_tests_properties(test_ctl_cron PROPERTIES TIMEOUT 120 LABELS integration)
# issue 19: delayed tasks, their promotion by every instance, cancel,
# retries with backoff, ctx.attempt, the dead set once retries ran out
# the start script, several tasks per call (issue 18, item 5)
rhai_test(test_start_batch integration 60 rhai_daemon rhai_commonlib)
rhai_test(test_start_defer integration 120 rhai_commonlib)
add_dependencies(test_start_defer rhaid)
rhai_test(test_delay integration 300 rhai_daemon rhai_dsl rhai_client_static rhai_commonlib)
add_dependencies(test_delay rhaid rhai-executor)
# rhaictl submit --in/--at/--retries/--backoff, tasks --status scheduled,
# task show of a retried task, cancel of a scheduled one (issue 19)
add_test(NAME test_ctl_delay COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_ctl_delay.sh
  ${PROJECT_BINARY_DIR}/bin ${REDIS_SERVER} ${REDIS_CLI})
set_tests_properties(test_ctl_delay PROPERTIES TIMEOUT 120 LABELS integration)
# issue 20: events relayed by rhaid (subscribers, stream, traces), both backends
rhai_test(test_events integration 300 rhai_dsl rhai_store rhai_client_static rhai_commonlib)
add_dependencies(test_events rhaid rhaictl)
rhai_test_pg(test_events 300)
# issue 20: rhaid's check of the events a result carries (relay.c)
rhai_test(test_daemon_relay unit 30 rhai_daemon)

# Key layout v2 on a one-node Redis Cluster (CROSSSLOT refused), protocol v1 refusal.
rhai_test(test_keys_v2 integration 300 rhai_dsl rhai_store rhai_client_static rhai_commonlib)
add_dependencies(test_keys_v2 rhaid rhaictl)
set_tests_properties(test_keys_v2 PROPERTIES LABELS "integration;cluster")
# rhaid out of memory at the n-th allocation of its loop, n = 1..120
add_test(NAME test_daemon_oom COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_daemon_oom.sh
  ${PROJECT_BINARY_DIR}/bin ${REDIS_SERVER} ${REDIS_CLI})
set_tests_properties(test_daemon_oom PROPERTIES TIMEOUT 300 LABELS integration)
# an executor out of memory at the n-th allocation of its loop, n = 1..50
add_test(NAME test_executor_oom COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_executor_oom.sh
  ${PROJECT_BINARY_DIR}/bin ${REDIS_SERVER} ${REDIS_CLI})
set_tests_properties(test_executor_oom PROPERTIES TIMEOUT 300 LABELS integration)

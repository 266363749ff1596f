# Chaos suite (tests/integration/test_chaos.c, its variants, with
# chaos_faults.c and chaos_run.c): tasks through several rhaid
# instances while instances, executors and redis-server are killed,
# restarted and frozen; every task must be answered exactly once. ctest
# runs the short variants; tools/chaos runs them long (same binary,
# configured by CHAOS_* environment variables).
rhai_test(test_chaos integration 300 rhai_dsl rhai_commonlib)
if(TARGET test_chaos)
  target_sources(test_chaos PRIVATE integration/chaos_faults.c integration/chaos_run.c)
  add_dependencies(test_chaos rhaid)
  target_compile_definitions(test_chaos PRIVATE TH_REDIS_CLI_PATH="${REDIS_CLI}")
  # issue 17: the "postgres" variant, on a throwaway postgres server
  if(EXISTS ${PROJECT_SOURCE_DIR}/tools/with-postgres.sh)
    add_test(NAME test_chaos_pg COMMAND ${PROJECT_SOURCE_DIR}/tools/with-postgres.sh
      $<TARGET_FILE:test_chaos>)
    set_tests_properties(test_chaos_pg PROPERTIES TIMEOUT 300 LABELS "integration;postgres"
      ENVIRONMENT "CMOCKA_MESSAGE_OUTPUT=STDOUT;CHAOS_ONLY=postgres")
  endif()
endif()

# rhai_load (tools/loadgen/load.c, run by tools/load): open-loop load with
# per-second latency percentiles, backlog and rhaid's resident memory.
# Built here because it drives rhaid through the test harness. Its ctest
# only checks that a short run answers every task: figures are reported
# (docs/reliability.md), never asserted.
add_executable(rhai_load ${PROJECT_SOURCE_DIR}/tools/loadgen/load.c)
target_link_libraries(rhai_load PRIVATE rhai_test_support rhai_commonlib rhai_warnings)
add_dependencies(rhai_load rhaid)
add_test(NAME test_load COMMAND rhai_load --rate 200 --seconds 3 --instances 2)
set_tests_properties(test_load PROPERTIES TIMEOUT 120 LABELS integration)

# rhai_bench_floor (tools/bench/floor.c, run by tools/bench.sh) still runs
# end to end: every task through both relays comes back. Its figures are
# not checked.
if(TARGET rhai_bench_floor)
  add_test(NAME bench_floor_runs
    COMMAND ${PROJECT_SOURCE_DIR}/tools/with-redis.sh sh -c "exec \"$0\" \"$RHAI_REDIS_URL\" 2000 64"
            $<TARGET_FILE:rhai_bench_floor>)
  set_tests_properties(bench_floor_runs PROPERTIES TIMEOUT 120 LABELS integration)
endif()

# issue 19: cron under chaos (tests/integration/test_cron_chaos.c): 100
# schedules every second for 20 s across 3 instances killed -9 in turn;
# tools/chaos cron runs 1000 schedules for minutes.
rhai_test(test_cron_chaos integration 180 rhai_commonlib)
if(TARGET test_cron_chaos)
  add_dependencies(test_cron_chaos rhaid)
  set_tests_properties(test_cron_chaos PROPERTIES ENVIRONMENT "CMOCKA_MESSAGE_OUTPUT=STDOUT")
endif()

# issue 20: events under chaos (tests/integration/test_events_chaos.c):
# 1000 tasks each emitting one event to a subscriber that writes one row,
# 3 instance kills and a Redis restart; subscriber rows must equal the
# committed emitting tasks exactly. tools/chaos events runs 10000.
rhai_test(test_events_chaos integration 300 rhai_dsl rhai_store rhai_commonlib)
if(TARGET test_events_chaos)
  add_dependencies(test_events_chaos rhaid)
  rhai_test_pg(test_events_chaos 300)
endif()

# issue 18: chaos mode "cluster" (tools/chaos cluster): three worker ids on
# three shards of a 3+3 Redis Cluster while a master fails over, a slot is
# resharded and a master is killed -9; short here, CCHAOS_TASKS for more.
rhai_test(test_chaos_cluster integration 300 rhai_dsl rhai_commonlib)
if(TARGET test_chaos_cluster)
  add_dependencies(test_chaos_cluster rhaid)
  set_tests_properties(test_chaos_cluster PROPERTIES LABELS "integration;cluster;chaos")
endif()

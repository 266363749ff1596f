# Chaos suite (tests/integration/test_chaos.c): tasks through several rhaid
# instances while instances, executors and redis-server are killed,
# restarted and frozen; every task must be answered exactly once. ctest
# runs the short variants; tools/chaos runs them long (same binary,
# configured by CHAOS_* environment variables).
rhai_test(test_chaos integration 300 rhai_commonlib)
if(TARGET test_chaos)
  add_dependencies(test_chaos rhaid)
  target_compile_definitions(test_chaos PRIVATE TH_REDIS_CLI_PATH="${REDIS_CLI}")
endif()

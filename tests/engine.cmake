# tests of src/engine
rhai_test(test_engine unit 60 rhai_engine)
rhai_test(test_engine_limits unit 120 rhai_engine)
# the executor messages (task, result) and the executor loop; helpers
# shared in tests/unit/engine_message.h
foreach(t test_engine_message_task test_engine_message_result test_engine_message_executor)
  rhai_test(${t} unit 60 rhai_engine)
endforeach()
rhai_test(test_engine_arena unit 60 rhai_engine)
# The sandbox benchmark still runs end to end (one round; every executor
# round trip must answer done): tools/bench.sh depends on it, and a
# change of the executor messages once broke it without a test noticing.
# Its figures are not checked: speed is measured by tools/bench.sh only.
add_test(NAME bench_engine_runs
  COMMAND $<TARGET_FILE:rhai_bench_engine> $<TARGET_FILE:rhai-executor> 1)
set_tests_properties(bench_engine_runs PROPERTIES TIMEOUT 120 LABELS unit)
# issue 21: the session rhaictl repl keeps across entries (session.c)
rhai_test(test_engine_session unit 60 rhai_engine)

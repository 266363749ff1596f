# tests of src/engine
rhai_test(test_engine unit 60 rhai_engine)
rhai_test(test_engine_limits unit 120 rhai_engine)
rhai_test(test_engine_message unit 60 rhai_engine)
rhai_test(test_engine_arena unit 60 rhai_engine)

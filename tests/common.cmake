# tests of src/common
rhai_test(test_common unit 30 rhai_commonlib)
rhai_test(test_log unit 30 rhai_commonlib)
rhai_test(test_harness integration 60 rhai_commonlib)
rhai_test(test_uvredis integration 120 rhai_commonlib)
rhai_test(test_redisconn integration 60 rhai_commonlib)
rhai_test(test_cron unit 30 rhai_commonlib)
# issue 19: backoff specs and delays, durations, times (src/common/sched.c)
rhai_test(test_sched unit 30 rhai_commonlib)

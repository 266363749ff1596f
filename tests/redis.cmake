# issue 18: the Redis connection layer (src/common/rconn*.c, rtls.c)
rhai_test(test_rconn_cfg unit 30 rhai_commonlib)
rhai_test(test_rconn integration 120 rhai_commonlib)
rhai_test(test_rconn_tls integration 120 rhai_commonlib)

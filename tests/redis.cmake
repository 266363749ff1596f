# issue 18: the Redis connection layer (src/common/rconn*.c, rtls.c)
rhai_test(test_rconn_cfg unit 30 rhai_commonlib)
rhai_test(test_rconn integration 120 rhai_commonlib)
rhai_test(test_rconn_tls integration 120 rhai_commonlib)
# wave 2: rhaid, the client and rhaictl over TLS end to end (th_tls)
rhai_test(test_tls_e2e integration 180 rhai_client_static PkgConfig::LIBUV)
# wave 2: rhaid instances for 3 worker ids + the clients on a 3+3 cluster
# (needs key layout v2: CROSSSLOT on v1)
rhai_test(test_cluster_smoke integration 240 rhai_client_static PkgConfig::LIBUV)
set_tests_properties(test_cluster_smoke PROPERTIES LABELS "integration;cluster")
# wave 3: rhaid follows its slot: ASK during a migration, MOVED after it,
# a kill -9 of its master (the map re-read from the other nodes)
rhai_test(test_cluster_failover integration 240 rhai_client_static PkgConfig::LIBUV)
set_tests_properties(test_cluster_failover PROPERTIES LABELS "integration;cluster")
# rhaid started while its cluster did not answer: routes by slot from the
# first redirect on (and remaps after a kill -9 of its master)
rhai_test(test_cluster_late integration 240 rhai_client_static)
set_tests_properties(test_cluster_late PROPERTIES LABELS "integration;cluster")
add_dependencies(test_cluster_late rhaid)
# a shard lost for good (no replica left) and CLUSTERDOWN: rhaictl and the
# sync client serve the other worker ids and say "unreachable" (exit 5)
rhai_test(test_cluster_lost_shard integration 240 rhai_client_static)
set_tests_properties(test_cluster_lost_shard PROPERTIES LABELS "integration;cluster")
add_dependencies(test_cluster_lost_shard rhaictl rhai-web)

# The Redis-touching integration tests again, each on a 3+3 Redis Cluster of
# its own (tools/with-redis-cluster.sh): NAME_cluster, label "cluster".
# ctest -L cluster runs them. See docs/operations.md "Redis Cluster" for
# what this covers and tests/cluster.cmake's list below for what it leaves out.
foreach(t test_client_sync_submit test_client_sync_wait test_client_sync_connect test_client_submit
    test_client_log test_events_client test_daemon test_e2e test_delay test_cron_daemon test_events
    test_recovery test_operate test_dsl_redelivery test_dsl_ledger_daemon test_dsl_authz_daemon
    test_keys_v2 test_protocol_walkthrough test_web_api test_ctl_repl_remote test_signatures
    test_daemon_split test_daemon_rescan test_store_shared test_metrics_http test_daemon_faults
    test_daemon_start test_daemon_logs test_confine test_store_outage test_store_down test_harness
    test_rlink test_rconn test_batch_finish test_batch_queued test_batch_take test_client_async)
  if(TEST ${t})
    rhai_test_cluster(${t} 300)
  endif()
endforeach()

# issue 18: the Redis-touching integration tests again, each on a 3-master,
# 3-replica Redis Cluster of its own (tools/with-redis-cluster.sh):
# NAME_cluster, labels KIND and "cluster" (ctest -L cluster). The harness
# hands out the cluster's seed node (flushed) instead of a new redis-server
# and routes the tests' own hiredis commands by slot (tests/support/
# th_route.c); rhaid, the clients and rhaictl route by themselves.
#
# On the cluster: the sync client (submit, status, cancel, wait, run), the
# daemon's worker (DSL effects, ledger, authz, redelivery, confinement,
# signatures, store outages), delay/retry/dead, cron, events (relay and
# the consumer API), batching, the async client (test_e2e), rhaictl's
# remote repl, the web API, keys v2; and rhaictl's shell tests (below).
set(RHAI_CLUSTER_TESTS
  test_client_sync_submit test_client_sync_wait test_events_client
  test_delay test_cron_daemon test_events test_dsl_redelivery test_dsl_ledger_daemon
  test_dsl_authz_daemon test_keys_v2 test_web_api test_ctl_repl_remote test_signatures
  test_store_shared test_daemon_start test_daemon_logs test_confine test_store_outage
  test_store_down test_batch_queued test_batch_take test_e2e)
# Left out, and why (docs/operations.md "Redis Cluster"):
# - restart or kill redis-server by pid, or AOF (one server's fault
#   injection): test_client_submit, test_client_sync_connect, test_recovery,
#   test_harness, test_rconn, test_rlink
# - test_client_async (restarts its server), test_client_log (expects the
#   notices of one server going away)
# - CONFIG SET / ACL / CLIENT KILL / SCRIPT FLUSH / INFO on the one node the
#   test talks to, or per-server metrics and logs: test_daemon, test_operate,
#   test_metrics_http, test_daemon_faults, test_daemon_rescan (MULTI over
#   keys of a redirected slot), test_daemon_split
# - redis-cli without -c: test_protocol_walkthrough (the walkthrough is
#   one server's; keys v2 runs on a one-node cluster in test_keys_v2)
# - test_batch_finish restarts its server
# - test_chaos*: chaos on a cluster is test_chaos_cluster (tests/chaos.cmake)
# - the shell tests that FLUSHALL between rounds (test_daemon_oom,
#   test_executor_oom), drive a browser (test_web_browser) or run the
#   quickstart (its own server)
foreach(t ${RHAI_CLUSTER_TESTS})
  if(TEST ${t})
    rhai_test_cluster(${t} 180)
  endif()
endforeach()

# rhaictl's shell tests (tests/support/lib.sh uses the cluster of
# RHAI_TEST_CLUSTER_NODES instead of a redis-server of its own, and
# redis-cli -c): every command of rhaictl that talks to Redis.
set(RHAI_CLUSTER_CTL_TESTS  # NAME:ARGS after the bin dir (SRC: the source dir)
  test_ctl:SRC test_ctl_acl:SRC test_ctl_monitor:SRC test_ctl_triage test_ctl_drain
  test_ctl_errors test_ctl_dead test_ctl_pause test_ctl_cron test_ctl_delay test_ctl_signed)
foreach(spec ${RHAI_CLUSTER_CTL_TESTS})
  string(REPLACE ":" ";" parts ${spec})
  list(GET parts 0 t)
  set(extra "")
  if(spec MATCHES ":SRC$")
    set(extra ${PROJECT_SOURCE_DIR})
  endif()
  if(TEST ${t})
    get_test_property(${t} LABELS kind)
    add_test(NAME ${t}_cluster COMMAND ${PROJECT_SOURCE_DIR}/tools/with-redis-cluster.sh
      bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/${t}.sh ${PROJECT_BINARY_DIR}/bin ${extra})
    set_tests_properties(${t}_cluster PROPERTIES TIMEOUT 300 LABELS "${kind};cluster")
  endif()
endforeach()

# tests of src/store (per-context SQLite, migrations, ledger)
rhai_test(test_store unit 60 rhai_store)
# owners, grants, the authorization decision and the audit log (acl.c)
rhai_test(test_acl unit 60 rhai_store)
# a data dir read-only for a while: contexts written again afterwards
rhai_test(test_store_readonly unit 60 rhai_store)
# store URLs: which backend, and passwords masked (store.c)
rhai_test(test_store_url unit 30 rhai_store)
# issue 17: two rhaid instances of one worker id, one context, one truth
# (sqlite: one shared data dir; _pg: one postgres database)
rhai_test(test_store_shared integration 180 rhai_dsl rhai_commonlib)
add_dependencies(test_store_shared rhaid)
rhai_test_pg(test_store_shared 180)
# moving a context: export, import, the checks on a file (move.c)
rhai_test(test_store_move unit 60 rhai_store)
# ... and sqlite -> postgres -> sqlite (RHAI_TEST_PG_URL from with-postgres.sh)
rhai_test_pg(test_store_move 120)
# issue 17: the same store and acl suites on a postgres store (a throwaway
# server, a fresh database per test case)
rhai_test_pg(test_store 120)
rhai_test_pg(test_acl 120)
# what only the postgres store has: reconnects after a server restart,
# serialization conflicts, two connections on one context, masked
# passwords, round trips per call (skipped without a server)
rhai_test(test_store_postgres unit 60 rhai_store)
rhai_test_pg(test_store_postgres 120)
# the same behind PgBouncer in transaction pooling (no session state may
# cross a transaction), when pgbouncer is installed (tools/deps.sh)
find_program(PGBOUNCER pgbouncer PATHS /usr/sbin /usr/local/sbin)
if(PGBOUNCER AND EXISTS ${PROJECT_SOURCE_DIR}/tools/with-postgres.sh)
  add_test(NAME test_store_postgres_pgbouncer COMMAND
    ${PROJECT_SOURCE_DIR}/tools/with-postgres.sh $<TARGET_FILE:test_store_postgres>)
  set_tests_properties(test_store_postgres_pgbouncer PROPERTIES TIMEOUT 120
    LABELS "unit;postgres" ENVIRONMENT
    "CMOCKA_MESSAGE_OUTPUT=STDOUT;RHAI_TEST_BACKEND=postgres;RHAI_TEST_PGBOUNCER=1")
endif()
# issue 17: a postgres store down when rhaid starts: said once, shown in
# /healthz and rhaictl workers, tasks wait (_pg: the server comes back)
rhai_test(test_store_down integration 120 rhai_dsl rhai_commonlib)
add_dependencies(test_store_down rhaid rhaictl)
rhai_test_pg(test_store_down 180)
# issue 20: the outbox (a row only with its commit, replay and sweep
# queries, marking relayed from another thread) and subscriptions
rhai_test(test_store_events unit 60 rhai_store)
rhai_test_pg(test_store_events 120)

# tests of dsl/ (schemas, bindings, domain invariants, atomic tasks)
rhai_test(test_dsl unit 120 rhai_dsl)
rhai_test(test_dsl_bind unit 60 rhai_dsl)
# docs/dsl.md is checked in; it must be what dslgen makes from the schemas
# (refresh it with `cmake --build BUILD --target dsl_docs`).
add_test(NAME test_dsl_docs COMMAND ${CMAKE_COMMAND} -E compare_files
  ${RHAI_DSL_MD} ${PROJECT_SOURCE_DIR}/docs/dsl.md)
set_tests_properties(test_dsl_docs PROPERTIES TIMEOUT 30 LABELS unit)
rhai_test(test_dsl_redelivery integration 120 rhai_dsl rhai_commonlib)
add_dependencies(test_dsl_redelivery rhaid)
rhai_test(test_dsl_ctl unit 120 rhai_commonlib)
add_dependencies(test_dsl_ctl rhaictl)
# authorization of every DSL call: the matrix of issue 4, acl/audit,
# unknown contexts and dev mode (in-process, so fast under ASan)
rhai_test(test_dsl_authz unit 300 rhai_dsl)
# issue 22: references between models, on_delete restrict and cascade,
# with the authorization of cascaded deletes
rhai_test(test_dsl_refs unit 120 rhai_dsl)
# the same through a real rhaid and redis-server: error kinds denied and
# invalid, rhaid --dev-mode
rhai_test(test_dsl_authz_daemon integration 120 rhai_dsl rhai_commonlib)
add_dependencies(test_dsl_authz_daemon rhaid)
# issue 16: a reused task id reveals nothing and plants nothing, through a
# real rhaid and redis-server
rhai_test(test_dsl_ledger_daemon integration 120 rhai_dsl rhai_commonlib)
add_dependencies(test_dsl_ledger_daemon rhaid)
# issue 17: the same DSL, authorization and reference suites on a postgres
# store (a throwaway server per test, a fresh database per test case)
rhai_test_pg(test_dsl 300)
rhai_test_pg(test_dsl_bind 120)
rhai_test_pg(test_dsl_authz 600)
rhai_test_pg(test_dsl_refs 300)
rhai_test_pg(test_dsl_redelivery 180)
rhai_test_pg(test_dsl_authz_daemon 180)
rhai_test_pg(test_dsl_ledger_daemon 180)
# issue 20: emit() -- an event if and only if its task commits, replay,
# repair sweep, depth limit, cap, refusals, subscriptions, ctx.event
rhai_test(test_dsl_events unit 120 rhai_dsl)
rhai_test_pg(test_dsl_events 240)

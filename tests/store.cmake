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

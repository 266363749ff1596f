# tests of src/store (per-context SQLite, migrations, ledger)
rhai_test(test_store unit 60 rhai_store)
# owners, grants, the authorization decision and the audit log (acl.c)
rhai_test(test_acl unit 60 rhai_store)

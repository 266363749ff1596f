# tests of src/store (per-context SQLite, migrations, ledger)
rhai_test(test_store unit 60 rhai_store)

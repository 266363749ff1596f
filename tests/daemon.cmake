# tests of src/daemon (rhaid)
rhai_test(test_daemon integration 300 rhai_commonlib)
add_dependencies(test_daemon rhaid)

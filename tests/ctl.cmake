# tests of src/ctl (rhaictl) and examples/: shell tests that drive the
# built binaries. The unit test needs no Redis; the integration test starts
# its own redis-server and rhaid on free loopback ports.
add_test(NAME test_ctl_run
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_ctl_run.sh
          ${PROJECT_BINARY_DIR}/bin ${PROJECT_SOURCE_DIR})
set_tests_properties(test_ctl_run PROPERTIES TIMEOUT 120 LABELS unit)

# context, acl and audit on a local data dir (no Redis), with the usage
# errors of their remote mode.
add_test(NAME test_ctl_admin
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_ctl_admin.sh
          ${PROJECT_BINARY_DIR}/bin ${PROJECT_SOURCE_DIR})
set_tests_properties(test_ctl_admin PROPERTIES TIMEOUT 180 LABELS unit)

add_test(NAME test_ctl
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_ctl.sh
          ${PROJECT_BINARY_DIR}/bin ${PROJECT_SOURCE_DIR} ${REDIS_SERVER} ${REDIS_CLI})
set_tests_properties(test_ctl PROPERTIES TIMEOUT 180 LABELS integration)

# acl and audit through a worker (owner tasks calling the DSL's acl/audit
# objects), checked against local mode on the worker's data dir.
add_test(NAME test_ctl_acl
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_ctl_acl.sh
          ${PROJECT_BINARY_DIR}/bin ${PROJECT_SOURCE_DIR} ${REDIS_SERVER} ${REDIS_CLI})
set_tests_properties(test_ctl_acl PROPERTIES TIMEOUT 240 LABELS integration)

# workers, queues, tasks, task retry, queue purge|requeue-dead and top
# (in tmux) against two rhaid instances.
add_test(NAME test_ctl_monitor
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_ctl_monitor.sh
          ${PROJECT_BINARY_DIR}/bin ${PROJECT_SOURCE_DIR} ${REDIS_SERVER} ${REDIS_CLI})
set_tests_properties(test_ctl_monitor PROPERTIES TIMEOUT 240 LABELS integration)

# Install into a temporary prefix and build examples/ against it through
# find_package(rhai) and through pkg-config (needs the install rules, which
# exist once client, rhaid and rhaictl all do).
if(TARGET rhai_client AND TARGET rhaid)
  set(_ctl_san "")
  if(RHAI_SANITIZE)
    string(REPLACE ";" "," _ctl_s "${RHAI_SANITIZE}")
    set(_ctl_san "-fsanitize=${_ctl_s} -fno-omit-frame-pointer")
  endif()
  add_test(NAME test_ctl_install
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_ctl_install.sh
            ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR} "${_ctl_san}")
  set_tests_properties(test_ctl_install PROPERTIES TIMEOUT 300 LABELS unit)
endif()

# rhaictl triage: submit's timeout and liveness, task show, tasks lists,
# retry_of, queue purge --dry-run (real redis-server and rhaid).
add_test(NAME test_ctl_triage
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_ctl_triage.sh
          ${PROJECT_BINARY_DIR}/bin ${REDIS_SERVER} ${REDIS_CLI})
set_tests_properties(test_ctl_triage PROPERTIES TIMEOUT 240 LABELS integration)
add_test(NAME test_ctl_drain
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_ctl_drain.sh
          ${PROJECT_BINARY_DIR}/bin ${REDIS_SERVER} ${REDIS_CLI})
set_tests_properties(test_ctl_drain PROPERTIES TIMEOUT 120 LABELS integration)
add_test(NAME test_ctl_errors
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_ctl_errors.sh
          ${PROJECT_BINARY_DIR}/bin ${REDIS_SERVER} ${REDIS_CLI})
set_tests_properties(test_ctl_errors PROPERTIES TIMEOUT 120 LABELS integration)

# README command 1: tools/quickstart.sh with the suite's binaries.
add_test(NAME test_quickstart
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_quickstart.sh
          ${PROJECT_BINARY_DIR}/bin ${PROJECT_SOURCE_DIR})
set_tests_properties(test_quickstart PROPERTIES TIMEOUT 300 LABELS integration)

# --data-url for the local commands, context export and import (no Redis;
# the postgres part under tools/with-postgres.sh).
add_test(NAME test_ctl_move
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_ctl_move.sh
          ${PROJECT_BINARY_DIR}/bin ${PROJECT_SOURCE_DIR})
set_tests_properties(test_ctl_move PROPERTIES TIMEOUT 180 LABELS unit)
if(EXISTS ${PROJECT_SOURCE_DIR}/tools/with-postgres.sh)
  add_test(NAME test_ctl_move_pg
    COMMAND ${PROJECT_SOURCE_DIR}/tools/with-postgres.sh
            bash ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_ctl_move.sh
            ${PROJECT_BINARY_DIR}/bin ${PROJECT_SOURCE_DIR})
  set_tests_properties(test_ctl_move_pg PROPERTIES TIMEOUT 240 LABELS "unit;postgres")
endif()
# issue 17: the documented postgres demo (tools/quickstart.sh --postgres)
add_test(NAME test_quickstart_pg
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_quickstart_pg.sh
          ${PROJECT_BINARY_DIR}/bin ${PROJECT_SOURCE_DIR})
set_tests_properties(test_quickstart_pg PROPERTIES TIMEOUT 300 LABELS "integration;postgres")

# issue 19: dead-letter sets (crashes to rhai:dead:{W}, rhaictl dead ...,
# trims by size and age) and pause/resume of a worker id's queue
add_test(NAME test_ctl_dead
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_ctl_dead.sh
          ${PROJECT_BINARY_DIR}/bin ${REDIS_SERVER} ${REDIS_CLI})
set_tests_properties(test_ctl_dead PROPERTIES TIMEOUT 240 LABELS integration)
add_test(NAME test_ctl_pause
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_ctl_pause.sh
          ${PROJECT_BINARY_DIR}/bin ${REDIS_SERVER} ${REDIS_CLI})
set_tests_properties(test_ctl_pause PROPERTIES TIMEOUT 180 LABELS integration)
# rhaictl's filters of bulk commands (src/ctl/filter.c): durations, kinds
rhai_test(test_ctl_filter unit 30 rhai_commonlib)
target_sources(test_ctl_filter PRIVATE ${PROJECT_SOURCE_DIR}/src/ctl/filter.c)
target_include_directories(test_ctl_filter PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(test_ctl_filter PRIVATE PkgConfig::HIREDIS PkgConfig::JANSSON)

# issue 20: rhaictl on add|list|show|pause|resume|rm on a local data dir,
# audited, --as owners only, and the subscriptions emit() stores with an event
add_test(NAME test_ctl_on
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_ctl_on.sh
          ${PROJECT_BINARY_DIR}/bin ${PROJECT_SOURCE_DIR})
set_tests_properties(test_ctl_on PROPERTIES TIMEOUT 120 LABELS unit)
# issue 21: rhaictl repl -- the scanner and remote mode's carry (no Redis;
# the remote script runs through eng_run), the REPL in a pseudo-terminal,
# and remote mode against real redis-server and rhaid.
rhai_test(test_ctl_repl unit 60 rhai_engine rhai_commonlib)
target_sources(test_ctl_repl PRIVATE ${PROJECT_SOURCE_DIR}/src/ctl/repl_scan.c
  ${PROJECT_SOURCE_DIR}/src/ctl/repl_carry.c)
target_include_directories(test_ctl_repl PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(test_ctl_repl PRIVATE PkgConfig::JANSSON)
rhai_test(test_ctl_repl_pty integration 120)
target_include_directories(test_ctl_repl_pty PRIVATE ${PROJECT_SOURCE_DIR}/src)
add_dependencies(test_ctl_repl_pty rhaictl)
rhai_test(test_ctl_repl_remote integration 180)
target_include_directories(test_ctl_repl_remote PRIVATE ${PROJECT_SOURCE_DIR}/src)
add_dependencies(test_ctl_repl_remote rhaictl rhaid)

# Fuzz harnesses of tests/fuzz: one LLVMFuzzerTestOneInput per parser of
# outside input, each with a seed corpus in tests/fuzz/corpus/<name>/.
#
#  * Normal builds (any compiler): fuzz_<name>_replay links the harness
#    with replay.c, a cmocka driver that replays the corpus plus 3000
#    deterministic mutations; ctest runs it as fuzz_<name> (label unit),
#    under whatever sanitizers the build has (tools/test.sh: ASan+UBSan).
#  * RHAI_FUZZ=ON (clang): fuzz_<name> is a libFuzzer binary built with
#    -fsanitize=fuzzer,address,undefined; ctest runs each for 5 s as
#    fuzz_<name>_smoke. tools/fuzz runs them for longer.
set(RHAI_FUZZ_COMMON frame task reply url sign log cron)
set(RHAI_FUZZ_ENGINE msg_task msg_result args)
set(RHAI_FUZZ_DAEMON config relay)   # relay: issue 20, a result's events
set(RHAI_FUZZ_DSL schema)
set(RHAI_FUZZ_STORE import)
list(APPEND RHAI_FUZZ_COMMON sched)   # issue 19: backoff, durations, times
list(APPEND RHAI_FUZZ_COMMON rcluster) # issue 18: MOVED/ASK, CLUSTER SHARDS/SLOTS, keyslot

function(rhai_fuzz name)
  set(src ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_${name}.c)
  set(seeds ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/${name})
  if(RHAI_FUZZ)
    add_executable(fuzz_${name} ${src})
    target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(fuzz_${name} PRIVATE ${ARGN} rhai_warnings)
    set(work ${CMAKE_CURRENT_BINARY_DIR}/fuzz-work/${name})
    file(MAKE_DIRECTORY ${work})
    add_test(NAME fuzz_${name}_smoke
      COMMAND fuzz_${name} -max_total_time=5 -timeout=10 -rss_limit_mb=2048
              -print_final_stats=1 ${work} ${seeds})
    set_tests_properties(fuzz_${name}_smoke PROPERTIES TIMEOUT 60 LABELS unit)
  else()
    add_executable(fuzz_${name}_replay ${src} ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/replay.c)
    target_link_libraries(fuzz_${name}_replay PRIVATE ${ARGN} PkgConfig::CMOCKA rhai_warnings)
    add_test(NAME fuzz_${name} COMMAND fuzz_${name}_replay ${seeds} 3000)
    set_tests_properties(fuzz_${name} PROPERTIES TIMEOUT 120 LABELS unit
      ENVIRONMENT "CMOCKA_MESSAGE_OUTPUT=STDOUT")
  endif()
endfunction()

foreach(h ${RHAI_FUZZ_COMMON})
  rhai_fuzz(${h} rhai_commonlib)
endforeach()
foreach(h ${RHAI_FUZZ_ENGINE})
  rhai_fuzz(${h} rhai_engine)
endforeach()
foreach(h ${RHAI_FUZZ_DAEMON})
  rhai_fuzz(${h} rhai_daemon)
endforeach()
foreach(h ${RHAI_FUZZ_STORE})
  rhai_fuzz(${h} rhai_store)
endforeach()
if(TARGET rhai_dsl)
  foreach(h ${RHAI_FUZZ_DSL})
    rhai_fuzz(${h} rhai_dsl)
    foreach(t fuzz_${h} fuzz_${h}_replay)
      if(TARGET ${t})
        target_compile_definitions(${t} PRIVATE FZ_SCHEMA_DIR="${PROJECT_SOURCE_DIR}/dsl/schema")
      endif()
    endforeach()
  endforeach()
endif()

# rhaictl's bulk-command filters (src/ctl/filter.c, compiled in: rhaictl
# has no library)
rhai_fuzz(ctl_filter rhai_commonlib)
foreach(t fuzz_ctl_filter fuzz_ctl_filter_replay)
  if(TARGET ${t})
    target_sources(${t} PRIVATE ${PROJECT_SOURCE_DIR}/src/ctl/filter.c)
    target_include_directories(${t} PRIVATE ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(${t} PRIVATE PkgConfig::HIREDIS PkgConfig::JANSSON)
  endif()
endforeach()

# issue 21: rhaictl repl's scanner and its reading of a remote entry's output
rhai_fuzz(ctl_repl rhai_engine rhai_commonlib)
foreach(t fuzz_ctl_repl fuzz_ctl_repl_replay)
  if(TARGET ${t})
    target_sources(${t} PRIVATE ${PROJECT_SOURCE_DIR}/src/ctl/repl_scan.c
      ${PROJECT_SOURCE_DIR}/src/ctl/repl_carry.c)
    target_include_directories(${t} PRIVATE ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(${t} PRIVATE PkgConfig::JANSSON)
  endif()
endforeach()

# rhai-web's request parsing (src/web/http.c: routes, cookies, bearer
# tokens, CSRF, query integers, error lines)
rhai_fuzz(web_http rhai_web_http)

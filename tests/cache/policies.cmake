# Tests of the eviction policies and the trace replay; included by tests/cache/CMakeLists.txt.
chunkcache_add_test(policy_conformance_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/policy_conformance_test.cc
  LIBS chunkcache_policies)
chunkcache_add_test(policy_keyed_queue_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/policy_keyed_queue_test.cc
  LIBS chunkcache_policies)
chunkcache_add_test(policy_behaviour_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/policy_behaviour_test.cc
  LIBS chunkcache_policies)
chunkcache_add_test(trace_reader_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/trace_reader_test.cc
  LIBS chunkcache_trace)
chunkcache_add_test(trace_replay_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/trace_replay_test.cc
  LIBS chunkcache_trace)
chunkcache_add_test(trace_sim_command_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/trace_sim_command_test.cc
  LIBS chunkcache_sim_command)

# The `chunkcache sim` subcommand alone, for bench/trace_replay.sh.
add_executable(chunkcache_sim ${CMAKE_CURRENT_LIST_DIR}/trace_sim_main.cc)
target_link_libraries(chunkcache_sim PRIVATE chunkcache_sim_command)
chunkcache_add_test(trace_chunk_cache_replay_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/trace_chunk_cache_replay_test.cc
  LIBS chunkcache_cache_replay LABELS tsan)
chunkcache_add_test(trace_live_restore_model_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/trace_live_restore_model_test.cc
  LIBS chunkcache_trace)
chunkcache_add_test(index_aware_policy_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/index_aware_policy_test.cc
  LIBS chunkcache_trace)

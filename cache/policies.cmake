# Eviction policies (cache/policies/) and block-trace replay (cache/trace/), included by
# cache/CMakeLists.txt. Targets: chunkcache_policies, chunkcache_trace and
# chunkcache_sim_command (the `chunkcache sim` subcommand, linked into the CLI).
add_library(chunkcache_policies STATIC
  ${CMAKE_CURRENT_LIST_DIR}/policies/arc_policy.cc
  ${CMAKE_CURRENT_LIST_DIR}/policies/expert_switch_policy.cc
  ${CMAKE_CURRENT_LIST_DIR}/policies/index_aware_policy.cc
  ${CMAKE_CURRENT_LIST_DIR}/policies/lru_policy.cc
  ${CMAKE_CURRENT_LIST_DIR}/policies/policy_factory.cc
  ${CMAKE_CURRENT_LIST_DIR}/policies/prefetch_fifo_policy.cc
  ${CMAKE_CURRENT_LIST_DIR}/policies/s3fifo_policy.cc
  ${CMAKE_CURRENT_LIST_DIR}/policies/sieve_policy.cc
  ${CMAKE_CURRENT_LIST_DIR}/policies/two_queue_policy.cc
)
target_include_directories(chunkcache_policies PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(chunkcache_policies
  PUBLIC chunkcache_format absl::btree absl::flat_hash_map absl::flat_hash_set absl::function_ref
         absl::status absl::statusor absl::strings)

add_library(chunkcache_trace STATIC
  ${CMAKE_CURRENT_LIST_DIR}/trace/block_request.cc
  ${CMAKE_CURRENT_LIST_DIR}/trace/chunk_accesses.cc
  ${CMAKE_CURRENT_LIST_DIR}/trace/concurrent_restores.cc
  ${CMAKE_CURRENT_LIST_DIR}/trace/csv_trace_reader.cc
  ${CMAKE_CURRENT_LIST_DIR}/trace/live_restore_mix.cc
  ${CMAKE_CURRENT_LIST_DIR}/trace/optimal_replay.cc
  ${CMAKE_CURRENT_LIST_DIR}/trace/policy_replay.cc
  ${CMAKE_CURRENT_LIST_DIR}/trace/qemu_live_restore.cc
  ${CMAKE_CURRENT_LIST_DIR}/trace/replay_access.cc
  ${CMAKE_CURRENT_LIST_DIR}/trace/replay_workload.cc
  ${CMAKE_CURRENT_LIST_DIR}/trace/trace_file.cc
  ${CMAKE_CURRENT_LIST_DIR}/trace/vscsi_reader.cc
)
target_include_directories(chunkcache_trace PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(chunkcache_trace
  PUBLIC chunkcache_policies absl::flat_hash_set absl::span absl::status absl::statusor
         absl::strings)

add_library(chunkcache_sim_command STATIC ${PROJECT_SOURCE_DIR}/client/cli/sim_command.cc)
target_include_directories(chunkcache_sim_command PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(chunkcache_sim_command
  PUBLIC chunkcache_trace chunkcache_cli_commands CLI11::CLI11 absl::status absl::strings)

# Replay through the real ChunkCache (chunkcache_cache, defined by cache/CMakeLists.txt).
add_library(chunkcache_cache_replay STATIC ${CMAKE_CURRENT_LIST_DIR}/trace/chunk_cache_replay.cc)
target_include_directories(chunkcache_cache_replay PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(chunkcache_cache_replay
  PUBLIC chunkcache_trace chunkcache_cache chunkcache_upstream absl::flat_hash_map
         absl::status absl::statusor absl::synchronization absl::time)

# The eviction policies' memory: heap bytes per tracked key (policy_memory_bench).
add_executable(policy_memory_bench ${CMAKE_CURRENT_LIST_DIR}/policy_memory_bench.cc)
target_link_libraries(policy_memory_bench PRIVATE chunkcache_policies)

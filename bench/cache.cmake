# The cache's benchmarks (bench/RESULTS.md, "Cache"): hit latency (cache_bench) and anonymous
# memory against cache size (rss_bench).
add_executable(cache_bench ${CMAKE_CURRENT_LIST_DIR}/cache_bench.cc)
target_link_libraries(cache_bench PRIVATE chunkcache_cache chunkcache_upstream
                      benchmark::benchmark)

add_executable(rss_bench ${CMAKE_CURRENT_LIST_DIR}/rss_bench.cc)
target_link_libraries(rss_bench PRIVATE chunkcache_cache chunkcache_format absl::strings)

# arena_fill_bench: CPU per GiB of filling fresh arena pages by mmap write faults,
# MADV_POPULATE_WRITE or pwrite (bench/RESULTS.md, "Restores from a PBS server").
add_executable(arena_fill_bench ${CMAKE_CURRENT_LIST_DIR}/arena_fill_bench.cc)
target_link_libraries(arena_fill_bench PRIVATE CLI11::CLI11)

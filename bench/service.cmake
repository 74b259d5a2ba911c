# noop_server: the gRPC baseline of the hit-path benchmarks (bench/RESULTS.md, "Service hits").
add_executable(noop_server ${CMAKE_CURRENT_LIST_DIR}/noop_server.cc)
target_link_libraries(noop_server PRIVATE chunkcache_proto CLI11::CLI11)
# throttled_server: chunkcached behind a FaultyUpstream with latency and a bandwidth cap
# (bench/RESULTS.md, "Cold restore through a slow link").
add_executable(throttled_server ${CMAKE_CURRENT_LIST_DIR}/throttled_server.cc)
target_link_libraries(throttled_server PRIVATE chunkcache_service)
# bench_datastore: a snapshot of distinct chunks of a chosen size for the service benchmarks.
add_executable(bench_datastore ${CMAKE_CURRENT_LIST_DIR}/bench_datastore.cc)
target_link_libraries(bench_datastore PRIVATE chunkcache_upstream chunkcache_format CLI11::CLI11)

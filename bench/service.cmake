# noop_server: the gRPC baseline of the hit-path benchmarks (bench/RESULTS.md, "Service hits").
add_executable(noop_server ${CMAKE_CURRENT_LIST_DIR}/noop_server.cc)
target_link_libraries(noop_server PRIVATE chunkcache_proto CLI11::CLI11)

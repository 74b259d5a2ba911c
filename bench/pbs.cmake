# pbs_fetch_cpu_bench: CPU per GB fetched through the pbs upstream (TLS + HTTP/2 + decode +
# verify) against the datastore directory, in one process (bench/RESULTS.md, "Restores from a
# PBS server"); bench/pbs_fetch_cpu_bench.sh runs it against the test server.
add_executable(pbs_fetch_cpu_bench ${CMAKE_CURRENT_LIST_DIR}/pbs_fetch_cpu_bench.cc)
target_link_libraries(pbs_fetch_cpu_bench PRIVATE chunkcache_upstream_pbs chunkcache_format
                      CLI11::CLI11 absl::strings absl::time)

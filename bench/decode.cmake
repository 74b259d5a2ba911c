# decode_bench: DataBlob decode throughput of a 4 MiB chunk (bench/RESULTS.md, "Decode").
add_executable(decode_bench ${CMAKE_CURRENT_LIST_DIR}/decode_bench.cc)
target_link_libraries(decode_bench PRIVATE chunkcache_format benchmark::benchmark ZLIB::ZLIB)

# Tests of the client library and of the remote subcommands (read, restore, stat, bench).
# Included from tests/client/CMakeLists.txt.
chunkcache_add_test(client_lib_unit_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/client_lib_byte_size_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/client_lib_fd_archive_sink_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/client_lib_latency_histogram_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/client_lib_progress_meter_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/client_lib_remote_flags_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/client_lib_retry_policy_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/client_lib_snapshot_ref_test.cc
  LIBS chunkcache_cli_remote chunkcache_client nlohmann_json::nlohmann_json)

# A ChunkCache server over an in-memory archive, for the end-to-end client tests only.
# With a throwaway CA for the TLS tests.
add_library(chunkcache_client_test_server STATIC
  ${CMAKE_CURRENT_LIST_DIR}/client_lib_test_pki.cc
  ${CMAKE_CURRENT_LIST_DIR}/client_lib_test_server.cc)
target_include_directories(chunkcache_client_test_server PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(chunkcache_client_test_server
  PUBLIC chunkcache_proto gRPC::grpc++ GTest::gtest PRIVATE OpenSSL::Crypto)

chunkcache_add_test(client_lib_end_to_end_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/client_lib_end_to_end_test.cc
          ${CMAKE_CURRENT_LIST_DIR}/client_lib_tsan_suppressions.cc
  LIBS chunkcache_client_test_server chunkcache_cli_remote chunkcache_client
       nlohmann_json::nlohmann_json
  LABELS tsan)

# chunkcache_client: the C++ client library of the chunkcache gRPC API. Depends on the API
# (chunkcache_proto) and gRPC only, so restore agents can link it without the service.
# Included from client/CMakeLists.txt.
add_library(chunkcache_client STATIC
  ${CMAKE_CURRENT_LIST_DIR}/chunkcache_client.cc
  ${CMAKE_CURRENT_LIST_DIR}/client_channel.cc
  ${CMAKE_CURRENT_LIST_DIR}/fd_archive_sink.cc
  ${CMAKE_CURRENT_LIST_DIR}/pipelined_range_reader.cc
  ${CMAKE_CURRENT_LIST_DIR}/retry_policy.cc
  ${CMAKE_CURRENT_LIST_DIR}/stall_watchdog.cc
  ${CMAKE_CURRENT_LIST_DIR}/status_conversion.cc
)
target_include_directories(chunkcache_client PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(chunkcache_client
  PUBLIC chunkcache_proto gRPC::grpc++ absl::status absl::statusor
  PRIVATE absl::strings Threads::Threads)

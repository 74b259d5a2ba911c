# chunkcache_cli_remote: the `chunkcache` subcommands that talk to a chunkcached server
# (read, restore, stat, bench, health) over the client library. Included from client/CMakeLists.txt;
# the chunkcache executable links it and calls their Register…Command functions.
add_library(chunkcache_cli_remote STATIC
  ${CMAKE_CURRENT_LIST_DIR}/bench_command.cc
  ${CMAKE_CURRENT_LIST_DIR}/bench_report.cc
  ${CMAKE_CURRENT_LIST_DIR}/byte_size.cc
  ${CMAKE_CURRENT_LIST_DIR}/health_command.cc
  ${CMAKE_CURRENT_LIST_DIR}/latency_histogram.cc
  ${CMAKE_CURRENT_LIST_DIR}/load_generator.cc
  ${CMAKE_CURRENT_LIST_DIR}/progress_meter.cc
  ${CMAKE_CURRENT_LIST_DIR}/read_command.cc
  ${CMAKE_CURRENT_LIST_DIR}/remote_command_body.cc
  ${CMAKE_CURRENT_LIST_DIR}/remote_flags.cc
  ${CMAKE_CURRENT_LIST_DIR}/restore_command.cc
  ${CMAKE_CURRENT_LIST_DIR}/sha256_sink.cc
  ${CMAKE_CURRENT_LIST_DIR}/snapshot_info_format.cc
  ${CMAKE_CURRENT_LIST_DIR}/snapshot_ref_parse.cc
  ${CMAKE_CURRENT_LIST_DIR}/stat_command.cc
)
target_include_directories(chunkcache_cli_remote PUBLIC ${PROJECT_SOURCE_DIR})
# chunkcache_cli_commands provides the shared command ending (command_status.h); format/ the
# snapshot-name rules shared with the server.
target_link_libraries(chunkcache_cli_remote
  PUBLIC chunkcache_client chunkcache_cli_commands chunkcache_format CLI11::CLI11
         absl::status absl::statusor
  PRIVATE absl::strings absl::str_format absl::time OpenSSL::Crypto
          nlohmann_json::nlohmann_json Threads::Threads)

// Reads chunkcached's JSON config file into the chunkcache.v1.Config message
// (proto/chunkcache/v1/config.proto): proto3 JSON mapping, so field names are either
// lowerCamelCase or the proto's snake_case. Unknown fields are an error naming the field, so a
// typo never silently falls back to a default.
//
//   absl::StatusOr<v1::Config> config = LoadConfigFile("/etc/chunkcache/chunkcached.json");
//   absl::StatusOr<v1::Config> same = ParseConfigJson(R"({"listen": "0.0.0.0:7070"})", "inline");
#ifndef CHUNKCACHE_SERVICE_CONFIG_FILE_H_
#define CHUNKCACHE_SERVICE_CONFIG_FILE_H_

#include <filesystem>
#include <string_view>

#include "absl/status/statusor.h"
#include "chunkcache/v1/config.pb.h"

namespace chunkcache {

// NOT_FOUND / PERMISSION_DENIED when the file cannot be read; INVALID_ARGUMENT (naming the
// file and the protobuf parser's complaint) for bad JSON, unknown fields or wrong types.
absl::StatusOr<v1::Config> LoadConfigFile(const std::filesystem::path& path);
absl::StatusOr<v1::Config> ParseConfigJson(std::string_view json, std::string_view source);

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_CONFIG_FILE_H_

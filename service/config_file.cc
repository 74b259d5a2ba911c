#include "service/config_file.h"

#include <google/protobuf/util/json_util.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "format/string_view_compat.h"

namespace chunkcache {

absl::StatusOr<v1::Config> ParseConfigJson(std::string_view json, std::string_view source) {
  v1::Config config;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status =
      google::protobuf::util::JsonStringToMessage(std::string(json), &config, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("config file ", ToAbsl(source), ": ", std::string(status.message())));
  }
  return config;
}

absl::StatusOr<v1::Config> LoadConfigFile(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    const int error = errno;
    const std::string message =
        absl::StrCat("config file ", path.string(), ": cannot open: ", std::strerror(error));
    if (error == EACCES) return absl::PermissionDeniedError(message);
    return absl::NotFoundError(message);
  }
  std::ostringstream contents;
  contents << file.rdbuf();
  if (file.bad()) {
    return absl::UnavailableError(absl::StrCat("config file ", path.string(), ": read error"));
  }
  return ParseConfigJson(contents.str(), path.string());
}

}  // namespace chunkcache

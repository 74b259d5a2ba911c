#include "service/log_setup.h"

#include <array>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "format/string_view_compat.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace chunkcache {
namespace {

constexpr std::array<std::pair<std::string_view, spdlog::level::level_enum>, 5> kLevels = {{
    {"trace", spdlog::level::trace},
    {"debug", spdlog::level::debug},
    {"info", spdlog::level::info},
    {"warn", spdlog::level::warn},
    {"error", spdlog::level::err},
}};

}  // namespace

absl::Status ValidateLogLevel(std::string_view level) {
  for (const auto& [name, value] : kLevels) {
    if (name == level) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("log_level: unknown level '", ToAbsl(level),
                                                 "'; use trace, debug, info, warn or error"));
}

absl::Status ConfigureLogging(std::string_view level) {
  if (absl::Status valid = ValidateLogLevel(level); !valid.ok()) return valid;
  // Not registered by name: configuring twice (tests) must not throw.
  auto logger = std::make_shared<spdlog::logger>("chunkcached",
                                                 std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z level=%l %v");
  for (const auto& [name, value] : kLevels) {
    if (name == level) logger->set_level(value);
  }
  // Every line is complete on its own; flush it so operators and tests see it at once.
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
  return absl::OkStatus();
}

std::string LogValue(std::string_view value) {
  bool plain = !value.empty();
  for (char c : value) {
    if (c == ' ' || c == '"' || c == '\\' || c == '=' || static_cast<unsigned char>(c) < 0x20) {
      plain = false;
    }
  }
  if (plain) return std::string(value);
  std::string quoted = "\"";
  for (char c : value) {
    switch (c) {
      case '"':
        quoted += "\\\"";
        break;
      case '\\':
        quoted += "\\\\";
        break;
      case '\n':
        quoted += "\\n";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          quoted += absl::StrFormat("\\x%02x", static_cast<unsigned char>(c));
        } else {
          quoted.push_back(c);
        }
    }
  }
  quoted.push_back('"');
  return quoted;
}

std::string LogValue(absl::string_view value) { return LogValue(ToStd(value)); }
std::string LogValue(const std::string& value) { return LogValue(std::string_view(value)); }
std::string LogValue(const char* value) { return LogValue(std::string_view(value)); }

}  // namespace chunkcache

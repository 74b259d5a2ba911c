// chunkcached's log lines: one line per notable event on stderr, structured as key=value after
// a timestamp and the level, e.g.
//
//   2026-01-01T00:00:00.123+0000 level=info event=datastore_opened datastore=store1 path=/srv/pbs
//
//   absl::Status s = ConfigureLogging("info");   // once, before anything logs
//   spdlog::info("event=shutdown grace_seconds={}", 10);
//   spdlog::warn("event=read_failed error={}", LogValue(status.message()));
#ifndef CHUNKCACHE_SERVICE_LOG_SETUP_H_
#define CHUNKCACHE_SERVICE_LOG_SETUP_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace chunkcache {

// "trace", "debug", "info", "warn", "error". INVALID_ARGUMENT for anything else.
absl::Status ConfigureLogging(std::string_view level);
absl::Status ValidateLogLevel(std::string_view level);

// A value for a key=value field: as is when it has no spaces, quotes or control characters,
// otherwise double-quoted with \" \\ \n escaped, so one event stays on one line.
std::string LogValue(std::string_view value);
std::string LogValue(absl::string_view value);
std::string LogValue(const std::string& value);
std::string LogValue(const char* value);

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_LOG_SETUP_H_

// Canonical JSON as PBS signs it (proxmox-serde `to_canonical_json`, spec §4.3): object keys
// sorted bytewise, no whitespace, strings escaped as serde_json does (only `"`, `\` and
// control characters), arrays in order, and `null` anywhere is an error. Internal to format/.
//
//   absl::StatusOr<std::string> text = CanonicalJson(parsed_value);
//
// Floats (which PBS never puts in signed content) are written by nlohmann's shortest
// round-trip formatter with serde-style exponents; exotic values may differ from serde_json.
#ifndef CHUNKCACHE_FORMAT_CANONICAL_JSON_H_
#define CHUNKCACHE_FORMAT_CANONICAL_JSON_H_

#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"

namespace chunkcache {

// INVALID_ARGUMENT naming the path of the first `null` found.
absl::StatusOr<std::string> CanonicalJson(const nlohmann::json& value);

}  // namespace chunkcache

#endif  // CHUNKCACHE_FORMAT_CANONICAL_JSON_H_

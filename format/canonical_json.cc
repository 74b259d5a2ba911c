#include "format/canonical_json.h"

#include <algorithm>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "format/string_view_compat.h"

namespace chunkcache {
namespace {

// serde_json's escaping: the two mandatory escapes, short forms for five control
// characters, \u00xx (lowercase hex) for the other control characters, everything else
// (including DEL and non-ASCII UTF-8) as is.
void AppendString(std::string_view s, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out.push_back(kHex[u >> 4]);
          out.push_back(kHex[u & 0xf]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

// Deeper nesting is refused rather than recursed into: the input may be hostile.
constexpr int kMaxDepth = 128;

absl::Status Append(const nlohmann::json& value, int depth, std::string& path, std::string& out) {
  using Type = nlohmann::json::value_t;
  if (depth > kMaxDepth) {
    return absl::InvalidArgumentError(
        absl::StrCat("JSON nested more than ", kMaxDepth, " levels deep (at ", path, ")"));
  }
  switch (value.type()) {
    case Type::null:
    case Type::discarded:
      return absl::InvalidArgumentError(
          absl::StrCat("canonical JSON cannot contain null (found at ",
                       path.empty() ? "the top level" : path, ")"));
    case Type::boolean:
      out += value.get<bool>() ? "true" : "false";
      return absl::OkStatus();
    case Type::number_integer:
      absl::StrAppend(&out, value.get<int64_t>());
      return absl::OkStatus();
    case Type::number_unsigned:
      absl::StrAppend(&out, value.get<uint64_t>());
      return absl::OkStatus();
    case Type::number_float:
      // nlohmann writes "1e+20" where serde_json writes "1e20".
      out += absl::StrReplaceAll(value.dump(), {{"e+", "e"}});
      return absl::OkStatus();
    case Type::string:
      AppendString(value.get_ref<const std::string&>(), out);
      return absl::OkStatus();
    case Type::binary:
      return absl::InvalidArgumentError("canonical JSON cannot contain binary values");
    case Type::array: {
      out.push_back('[');
      for (size_t i = 0; i < value.size(); ++i) {
        if (i > 0) out.push_back(',');
        size_t path_len = path.size();
        absl::StrAppend(&path, "[", i, "]");
        absl::Status s = Append(value[i], depth + 1, path, out);
        path.resize(path_len);
        if (!s.ok()) return s;
      }
      out.push_back(']');
      return absl::OkStatus();
    }
    case Type::object: {
      std::vector<std::string_view> keys;
      keys.reserve(value.size());
      for (const auto& item : value.items()) keys.push_back(item.key());
      // string_view comparison is bytewise (unsigned), as Rust's str ordering.
      std::sort(keys.begin(), keys.end());
      out.push_back('{');
      for (size_t i = 0; i < keys.size(); ++i) {
        if (i > 0) out.push_back(',');
        AppendString(keys[i], out);
        out.push_back(':');
        size_t path_len = path.size();
        absl::StrAppend(&path, path.empty() ? "" : ".", ToAbsl(keys[i]));
        absl::Status s = Append(value.find(std::string(keys[i])).value(), depth + 1, path, out);
        path.resize(path_len);
        if (!s.ok()) return s;
      }
      out.push_back('}');
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError("canonical JSON: unknown value type");
}

}  // namespace

absl::StatusOr<std::string> CanonicalJson(const nlohmann::json& value) {
  std::string out;
  std::string path;
  absl::Status s = Append(value, 0, path, out);
  if (!s.ok()) return s;
  return out;
}

}  // namespace chunkcache

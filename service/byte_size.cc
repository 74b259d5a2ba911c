#include "service/byte_size.h"

#include <array>
#include <cctype>
#include <limits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "format/string_view_compat.h"

namespace chunkcache {
namespace {

struct Unit {
  std::string_view name;  // lowercase
  uint64_t factor;
};

constexpr uint64_t kKiB = uint64_t{1} << 10;
constexpr std::array<Unit, 14> kUnits = {{
    {"", 1},
    {"b", 1},
    {"k", kKiB},
    {"kib", kKiB},
    {"m", kKiB << 10},
    {"mib", kKiB << 10},
    {"g", kKiB << 20},
    {"gib", kKiB << 20},
    {"t", kKiB << 30},
    {"tib", kKiB << 30},
    {"kb", 1000},
    {"mb", 1000 * 1000},
    {"gb", 1000 * 1000 * 1000},
    {"tb", uint64_t{1000} * 1000 * 1000 * 1000},
}};

absl::Status Invalid(std::string_view text, std::string_view field, std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat(ToAbsl(field), ": '", ToAbsl(text), "' is not a byte size (", ToAbsl(why),
                   "); write a whole number with an optional unit, e.g. 4096, 256MiB or 8GiB"));
}

}  // namespace

absl::StatusOr<uint64_t> ParseByteSize(std::string_view text, std::string_view field) {
  size_t pos = 0;
  while (pos < text.size() && text[pos] == ' ') ++pos;
  const size_t digits_begin = pos;
  uint64_t number = 0;
  while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
    const uint64_t digit = static_cast<uint64_t>(text[pos] - '0');
    if (number > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
      return Invalid(text, field, "too large");
    }
    number = number * 10 + digit;
    ++pos;
  }
  if (pos == digits_begin) return Invalid(text, field, "no number");
  while (pos < text.size() && text[pos] == ' ') ++pos;
  std::string unit = absl::AsciiStrToLower(ToAbsl(text.substr(pos)));
  while (!unit.empty() && unit.back() == ' ') unit.pop_back();
  uint64_t factor = 0;
  for (const Unit& candidate : kUnits) {
    if (candidate.name == unit) factor = candidate.factor;
  }
  if (factor == 0) return Invalid(text, field, absl::StrCat("unknown unit '", unit, "'"));
  if (number > std::numeric_limits<uint64_t>::max() / factor) {
    return Invalid(text, field, "too large");
  }
  return number * factor;
}

std::string FormatByteSize(uint64_t bytes) {
  constexpr std::array<std::pair<std::string_view, int>, 4> kBinary = {
      {{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}}};
  if (bytes == 0) return "0B";
  for (const auto& [name, shift] : kBinary) {
    const uint64_t factor = uint64_t{1} << shift;
    if (bytes % factor == 0) return absl::StrCat(bytes / factor, ToAbsl(name));
  }
  return absl::StrCat(bytes, "B");
}

}  // namespace chunkcache

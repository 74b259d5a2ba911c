#include "client/cli/byte_size.h"

#include <array>
#include <cctype>
#include <limits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"

namespace chunkcache {
namespace {

struct Unit {
  std::string_view name;  // lowercase
  uint64_t factor;
};

constexpr uint64_t kKi = 1024;
constexpr std::array<Unit, 18> kUnits = {{
    {"", 1},
    {"b", 1},
    {"bytes", 1},
    {"k", kKi},
    {"kib", kKi},
    {"kb", 1000},
    {"m", uint64_t{1} << 20},
    {"mib", uint64_t{1} << 20},
    {"mb", 1'000'000},
    {"g", uint64_t{1} << 30},
    {"gib", uint64_t{1} << 30},
    {"gb", 1'000'000'000},
    {"t", uint64_t{1} << 40},
    {"tib", uint64_t{1} << 40},
    {"tb", 1'000'000'000'000},
    {"p", uint64_t{1} << 50},
    {"pib", uint64_t{1} << 50},
    {"pb", 1'000'000'000'000'000},
}};

absl::Status Invalid(std::string_view flag, std::string_view text, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrFormat(
      "%s: \"%s\" %s (write a whole number of bytes, optionally with a unit: 4096, 64KiB, 4MiB, "
      "1GiB, 1GB)",
      flag, text, why));
}

}  // namespace

absl::StatusOr<uint64_t> ParseByteSize(std::string_view text, std::string_view flag) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) {
    ++digits;
  }
  if (digits == 0) return Invalid(flag, text, "does not start with a number");
  uint64_t number = 0;
  for (size_t i = 0; i < digits; ++i) {
    const uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (number > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
      return Invalid(flag, text, "is too large");
    }
    number = number * 10 + digit;
  }
  std::string_view unit_text = text.substr(digits);
  if (!unit_text.empty() && unit_text.front() == ' ') unit_text.remove_prefix(1);
  const std::string unit = absl::AsciiStrToLower(std::string(unit_text));
  for (const Unit& candidate : kUnits) {
    if (candidate.name != unit) continue;
    if (number > std::numeric_limits<uint64_t>::max() / candidate.factor) {
      return Invalid(flag, text, "is too large");
    }
    return number * candidate.factor;
  }
  return Invalid(flag, text, "has an unknown unit");
}

std::string FormatBytes(uint64_t bytes) {
  static constexpr std::array<const char*, 6> kNames = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < kKi) return absl::StrFormat("%d B", bytes);
  double value = static_cast<double>(bytes) / kKi;
  size_t index = 0;
  while (value >= 1024.0 && index + 1 < kNames.size()) {
    value /= 1024.0;
    ++index;
  }
  return absl::StrFormat("%.2f %s", value, kNames[index]);
}

}  // namespace chunkcache

// Conversions between std::string_view (our APIs) and absl::string_view, which Debian's
// Abseil 20220623 builds as a separate class (ABSL_OPTION_USE_STD_STRING_VIEW 0), so that
// absl::StrCat, absl::Status and friends do not accept std::string_view directly.
//
//   absl::StrCat("chunk ", ToAbsl(label));      std::string_view m = ToStd(status.message());
#ifndef CHUNKCACHE_FORMAT_STRING_VIEW_COMPAT_H_
#define CHUNKCACHE_FORMAT_STRING_VIEW_COMPAT_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace chunkcache {

inline absl::string_view ToAbsl(std::string_view s) { return {s.data(), s.size()}; }
inline std::string_view ToStd(absl::string_view s) { return {s.data(), s.size()}; }

}  // namespace chunkcache

#endif  // CHUNKCACHE_FORMAT_STRING_VIEW_COMPAT_H_

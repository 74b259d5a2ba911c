#include "nbd/export_name.h"

#include "absl/strings/str_cat.h"
#include "format/string_view_compat.h"

namespace chunkcache::nbd {
namespace {

constexpr char kShape[] = "DATASTORE/[ns/NS/...]TYPE/ID/YYYY-MM-DDTHH:MM:SSZ/ARCHIVE";

absl::Status Invalid(std::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("export name '", ToAbsl(text.substr(0, 300)),
                                                 "': ", why, " (expected ", kShape, ")"));
}

}  // namespace

absl::StatusOr<ExportName> ParseExportName(std::string_view text) {
  if (text.empty()) return Invalid(text, "empty; there is no default export");
  const size_t first = text.find('/');
  const size_t last = text.rfind('/');
  if (first == std::string_view::npos || first == last) {
    return Invalid(text, "too few components");
  }
  ExportName name;
  name.datastore = std::string(text.substr(0, first));
  if (name.datastore.empty()) return Invalid(text, "empty datastore");
  name.archive = std::string(text.substr(last + 1));
  if (absl::Status valid = ValidateArchiveName(name.archive); !valid.ok()) {
    return Invalid(text, valid.message());
  }
  absl::StatusOr<SnapshotName> snapshot =
      SnapshotName::Parse(text.substr(first + 1, last - first - 1));
  if (!snapshot.ok()) return Invalid(text, snapshot.status().message());
  name.snapshot = *std::move(snapshot);
  return name;
}

std::string FormatExportName(std::string_view datastore, const SnapshotName& snapshot,
                             std::string_view archive) {
  return absl::StrCat(ToAbsl(datastore), "/", snapshot.RelativeDir(), "/", ToAbsl(archive));
}

}  // namespace chunkcache::nbd

#include <gtest/gtest.h>

#include "client/cli/snapshot_ref_parse.h"

namespace chunkcache {
namespace {

TEST(ParseSnapshotRef, RootNamespace) {
  absl::StatusOr<v1::SnapshotRef> ref =
      ParseSnapshotRef("store1", "vm/100/2026-01-02T00:00:00Z", "drive-scsi0.img.fidx");
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->datastore(), "store1");
  EXPECT_EQ(ref->namespace_(), "");
  EXPECT_EQ(ref->backup_type(), "vm");
  EXPECT_EQ(ref->backup_id(), "100");
  EXPECT_EQ(ref->backup_time(), 1767312000);  // 2026-01-02T00:00:00Z
  EXPECT_EQ(ref->archive(), "drive-scsi0.img.fidx");
}

TEST(ParseSnapshotRef, NestedNamespaceAndTimeOfDay) {
  absl::StatusOr<v1::SnapshotRef> ref =
      ParseSnapshotRef("s", "ns/prod/ns/db/ct/web-1/1970-01-01T00:01:05Z", "root.pxar.didx");
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->namespace_(), "prod/db");
  EXPECT_EQ(ref->backup_type(), "ct");
  EXPECT_EQ(ref->backup_id(), "web-1");
  EXPECT_EQ(ref->backup_time(), 65);
  EXPECT_EQ(DescribeSnapshotRef(*ref),
            "s:ns/prod/ns/db/ct/web-1/1970-01-01T00:01:05Z/root.pxar.didx");
}

TEST(ParseSnapshotRef, ShortArchiveNamesGetTheirIndexExtension) {
  EXPECT_EQ(ArchiveFileName("drive-scsi0.img"), "drive-scsi0.img.fidx");
  EXPECT_EQ(ArchiveFileName("root.pxar"), "root.pxar.didx");
  EXPECT_EQ(ArchiveFileName("index.json.blob"), "index.json.blob");
  absl::StatusOr<v1::SnapshotRef> ref =
      ParseSnapshotRef("s", "host/h1/2026-01-02T00:00:00Z", "drive-scsi0.img");
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->archive(), "drive-scsi0.img.fidx");
}

TEST(ParseSnapshotRef, RejectsBadNamesAsUsageErrors) {
  struct Case {
    const char* datastore;
    const char* snapshot;
    const char* archive;
    const char* mentions;
  };
  const Case cases[] = {
      {"", "vm/100/2026-01-02T00:00:00Z", "a.img.fidx", "--datastore"},
      {"/srv/store", "vm/100/2026-01-02T00:00:00Z", "a.img.fidx", "--datastore"},
      {"s", "vm/100/2026-01-02 00:00:00", "a.img.fidx", "--snapshot"},
      {"s", "vm/100/2026-01-02T00:00:00+01:00", "a.img.fidx", "--snapshot"},
      {"s", "vm/100", "a.img.fidx", "--snapshot"},
      {"s", "disk/100/2026-01-02T00:00:00Z", "a.img.fidx", "--snapshot"},
      {"s", "ns/../vm/100/2026-01-02T00:00:00Z", "a.img.fidx", "--snapshot"},
      {"s", "vm/100/2026-01-02T00:00:00Z", "../a.img.fidx", "--archive"},
      {"s", "vm/100/2026-01-02T00:00:00Z", "notes.txt", "--archive"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<v1::SnapshotRef> ref = ParseSnapshotRef(c.datastore, c.snapshot, c.archive);
    ASSERT_FALSE(ref.ok()) << c.datastore << " " << c.snapshot << " " << c.archive;
    EXPECT_EQ(ref.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(ref.status().message().find(c.mentions), absl::string_view::npos) << ref.status();
  }
}

}  // namespace
}  // namespace chunkcache

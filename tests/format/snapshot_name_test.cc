// SnapshotName, namespace and archive name validation (spec §4.2).
#include "format/snapshot_name.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "tests/format/format_test_util.h"

namespace chunkcache {
namespace {

using ::chunkcache::testing::Message;
using ::testing::HasSubstr;

TEST(PbsSnapshotName, ParsesRootAndNamespacedNames) {
  absl::StatusOr<SnapshotName> s = SnapshotName::Parse("vm/100/2026-01-01T00:00:00Z");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->namespace_components.empty());
  EXPECT_EQ(s->backup_type, "vm");
  EXPECT_EQ(s->backup_id, "100");
  EXPECT_EQ(s->backup_time, 1767225600);
  EXPECT_EQ(s->RelativeDir(), "vm/100/2026-01-01T00:00:00Z");
  EXPECT_EQ(s->GroupDir(), "vm/100");
  EXPECT_EQ(s->NamespaceName(), "");

  s = SnapshotName::Parse("ns/a/ns/b.c-d_e/host/my-host.example/2024-05-07T14:25:51Z");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->namespace_components, (std::vector<std::string>{"a", "b.c-d_e"}));
  EXPECT_EQ(s->NamespaceName(), "a/b.c-d_e");
  EXPECT_EQ(s->backup_time, 1715091951);
  EXPECT_EQ(s->RelativeDir(), "ns/a/ns/b.c-d_e/host/my-host.example/2024-05-07T14:25:51Z");
  EXPECT_EQ(s->ToString(), s->RelativeDir());

  // "ns" is a valid backup id and namespace component.
  s = SnapshotName::Parse("ns/ns/ct/ns/2026-01-02T00:00:00Z");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->namespace_components, (std::vector<std::string>{"ns"}));
  EXPECT_EQ(s->backup_id, "ns");
}

TEST(PbsSnapshotName, FromFieldsMatchesParse) {
  absl::StatusOr<SnapshotName> a = SnapshotName::FromFields("enc", "vm", "100", 1767312000);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->RelativeDir(), "ns/enc/vm/100/2026-01-02T00:00:00Z");
  EXPECT_EQ(*a, SnapshotName::Parse("ns/enc/vm/100/2026-01-02T00:00:00Z").value());
}

TEST(PbsSnapshotName, RejectsBadNames) {
  struct Case {
    std::string text;
    const char* message;
  };
  std::string seven_levels, eight_levels;
  for (int i = 0; i < 7; ++i) seven_levels += "ns/n" + std::to_string(i) + "/";
  eight_levels = seven_levels + "ns/x/";
  std::string long_ns = "ns/" + std::string(200, 'a') + "/ns/" + std::string(60, 'b') + "/";
  for (const Case& c : std::vector<Case>{
           {"", "it is empty"},
           {"/vm/100/2026-01-01T00:00:00Z", "absolute path"},
           {"vm//100/2026-01-01T00:00:00Z", "empty path component"},
           {"vm/100/2026-01-01T00:00:00Z/", "empty path component"},
           {"vm/../2026-01-01T00:00:00Z", "'.' or '..'"},
           {"ns/../vm/100/2026-01-01T00:00:00Z", "'.' or '..'"},
           {"ns/a/../vm/100/2026-01-01T00:00:00Z", "'.' or '..'"},
           {std::string("vm/1\0/2026-01-01T00:00:00Z", 26), "NUL byte"},
           {"VM/100/2026-01-01T00:00:00Z", "invalid backup type 'VM'"},
           {"lxc/100/2026-01-01T00:00:00Z", "expected vm, ct or host"},
           {"vm/-100/2026-01-01T00:00:00Z", "invalid backup id '-100'"},
           {"vm/a b/2026-01-01T00:00:00Z", "invalid backup id"},
           {"vm/a\\b/2026-01-01T00:00:00Z", "invalid backup id"},
           {"vm/100", "expected TYPE/ID/TIME"},
           {"x/a/vm/100/2026-01-01T00:00:00Z", "expected 'ns' or the backup type, got 'x'"},
           {"ns/.hidden/vm/100/2026-01-01T00:00:00Z", "invalid namespace component"},
           {eight_levels + "vm/100/2026-01-01T00:00:00Z", "namespace has 8 levels"},
           {long_ns + "vm/100/2026-01-01T00:00:00Z", "at most 256 are allowed"},
           {"vm/100/2026-01-01 00:00:00Z", "wrong format"},
           {"vm/100/2026-01-01T00:00:00+00:00", "wrong format"},
           {"vm/100/2026-1-01T00:00:00Z", "wrong format"},
           {"vm/100/2026-02-30T00:00:00Z", "no such date or time"},
           {"vm/100/2026-01-01T24:00:00Z", "no such date or time"},
           {"vm/100/2026-01-01T00:60:00Z", "no such date or time"},
           {"vm/100/1970-01-01T00:00:00Z", "before 1970-01-01T00:00:01Z"},
       }) {
    SCOPED_TRACE(c.text);
    absl::StatusOr<SnapshotName> s = SnapshotName::Parse(c.text);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(Message(s.status()), HasSubstr(c.message));
  }
  EXPECT_TRUE(SnapshotName::Parse(seven_levels + "vm/100/2026-01-01T00:00:00Z").ok());
  EXPECT_TRUE(SnapshotName::Parse("vm/100/2024-02-29T23:59:59Z").ok());
}

TEST(PbsSnapshotName, FromFieldsRejectsBadFields) {
  EXPECT_THAT(Message(SnapshotName::FromFields("a//b", "vm", "1", 5).status()),
              HasSubstr("invalid namespace component ''"));
  EXPECT_THAT(Message(SnapshotName::FromFields("/a", "vm", "1", 5).status()),
              HasSubstr("invalid namespace component"));
  EXPECT_THAT(Message(SnapshotName::FromFields("", "vm", "../1", 5).status()),
              HasSubstr("invalid backup id '../1'"));
  EXPECT_THAT(Message(SnapshotName::FromFields("", "host", "x", 0).status()),
              HasSubstr("backup time 0 is out of range"));
  EXPECT_THAT(Message(SnapshotName::FromFields("", "host", "x", INT64_MAX).status()),
              HasSubstr("out of range"));
  EXPECT_EQ(SnapshotName::FromFields("", "vm", "1", 5).status().code(), absl::StatusCode::kOk);
}

TEST(PbsNamespaceName, ParsesAndValidates) {
  EXPECT_TRUE(ParseNamespaceName("").value().empty());
  EXPECT_EQ(ParseNamespaceName("a/b").value(), (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(ParseNamespaceName("a/").ok());
  EXPECT_FALSE(ParseNamespaceName("a/../b").ok());
  EXPECT_FALSE(ParseNamespaceName(std::string("a\0b", 3)).ok());
  EXPECT_FALSE(ParseNamespaceName("1/2/3/4/5/6/7/8").ok());
  EXPECT_TRUE(ParseNamespaceName("1/2/3/4/5/6/7").ok());
}

TEST(PbsArchiveName, Validation) {
  for (const char* good : {"drive-scsi0.img.fidx", "root.pxar.didx", "index.json.blob",
                           "catalog.pcat1.didx", "_x.blob"}) {
    EXPECT_TRUE(ValidateArchiveName(good).ok()) << good;
  }
  for (const char* bad :
       {"", ".fidx", "../x.fidx", "a/b.fidx", "x.img", "x.fidx.tmp", "-x.blob", "x y.blob"}) {
    absl::Status s = ValidateArchiveName(bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(Message(s), HasSubstr("archive name")) << bad;
  }
}

TEST(PbsBackupTime, FormatAndParse) {
  EXPECT_EQ(FormatBackupTime(1767225600), "2026-01-01T00:00:00Z");
  EXPECT_EQ(FormatBackupTime(1715091951), "2024-05-07T14:25:51Z");
  EXPECT_EQ(ParseBackupTime("2024-05-07T14:25:51Z").value(), 1715091951);
  EXPECT_EQ(ParseBackupTime("9999-12-31T23:59:59Z").value(), 253402300799);
  for (int64_t t : {int64_t{1}, int64_t{951782400}, int64_t{1767225600}}) {
    EXPECT_EQ(ParseBackupTime(FormatBackupTime(t)).value(), t);
  }
}

}  // namespace
}  // namespace chunkcache

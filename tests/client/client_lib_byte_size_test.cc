#include <gtest/gtest.h>

#include "client/cli/byte_size.h"

namespace chunkcache {
namespace {

TEST(ParseByteSize, PlainNumbersAndBinaryUnits) {
  EXPECT_EQ(*ParseByteSize("0"), 0u);
  EXPECT_EQ(*ParseByteSize("4096"), 4096u);
  EXPECT_EQ(*ParseByteSize("4096B"), 4096u);
  EXPECT_EQ(*ParseByteSize("64KiB"), 64u * 1024);
  EXPECT_EQ(*ParseByteSize("64k"), 64u * 1024);
  EXPECT_EQ(*ParseByteSize("4MiB"), 4u << 20);
  EXPECT_EQ(*ParseByteSize("4 MiB"), 4u << 20);
  EXPECT_EQ(*ParseByteSize("4mib"), 4u << 20);
  EXPECT_EQ(*ParseByteSize("8GiB"), uint64_t{8} << 30);
  EXPECT_EQ(*ParseByteSize("2T"), uint64_t{2} << 40);
}

TEST(ParseByteSize, DecimalUnits) {
  EXPECT_EQ(*ParseByteSize("1KB"), 1000u);
  EXPECT_EQ(*ParseByteSize("3MB"), 3'000'000u);
  EXPECT_EQ(*ParseByteSize("1GB"), 1'000'000'000u);
}

TEST(ParseByteSize, RejectsGarbageWithTheFlagName) {
  for (const char* bad : {"", "MiB", "-1", "1.5GiB", "4 XiB", "4  MiB", "0x10", " 4"}) {
    absl::StatusOr<uint64_t> parsed = ParseByteSize(bad, "--length");
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find("--length"), absl::string_view::npos);
  }
}

TEST(ParseByteSize, RejectsOverflow) {
  EXPECT_EQ(*ParseByteSize("18446744073709551615"), UINT64_MAX);
  EXPECT_FALSE(ParseByteSize("18446744073709551616").ok());
  EXPECT_FALSE(ParseByteSize("16777216TiB").ok());  // 2^24 * 2^40 = 2^64
  EXPECT_EQ(*ParseByteSize("16777215TiB"), (uint64_t{16777215}) << 40);
}

TEST(FormatBytes, UsesPowersOf1024) {
  EXPECT_EQ(FormatBytes(0), "0 B");
  EXPECT_EQ(FormatBytes(1023), "1023 B");
  EXPECT_EQ(FormatBytes(1024), "1.00 KiB");
  EXPECT_EQ(FormatBytes(4u << 20), "4.00 MiB");
  EXPECT_EQ(FormatBytes(uint64_t{3} << 29), "1.50 GiB");
  EXPECT_EQ(FormatBytes(UINT64_MAX), "16.00 EiB");
}

}  // namespace
}  // namespace chunkcache

// The vscsi and CSV trace readers, on the shared cloudPhysicsIO trace and on malformed input.
#include <cstdint>
#include <string>
#include <vector>

#include "cache/trace/csv_trace_reader.h"
#include "cache/trace/trace_file.h"
#include "cache/trace/vscsi_reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_env.h"

namespace chunkcache {
namespace {

using ::testing::HasSubstr;

constexpr size_t kTraceRequests = 113872;

std::string TracePath(const std::string& name) {
  return (testing::SharedDir() / "traces" / name).string();
}

std::string VscsiBytes() { return testing::ReadFileBytes(TracePath("cloudPhysicsIO.vscsi")); }

void PutLittleEndian(std::string& bytes, size_t at, uint64_t value, int width) {
  for (int i = 0; i < width; ++i) bytes[at + i] = static_cast<char>((value >> (8 * i)) & 0xff);
}

TEST(VscsiReaderTest, ReadsTheSharedTrace) {
  absl::StatusOr<std::vector<BlockRequest>> requests = ParseVscsiTrace(VscsiBytes());
  ASSERT_TRUE(requests.ok()) << requests.status();
  ASSERT_EQ(requests->size(), kTraceRequests);
  const BlockRequest& first = (*requests)[0];
  EXPECT_EQ(first.length, 512u);
  EXPECT_EQ(first.op, BlockOp::kWrite);
  EXPECT_EQ(first.offset, 42932745ull * 512);
  EXPECT_EQ(first.time_us, 5633898368802ull);
  EXPECT_EQ((*requests)[3].length, 6656u);
  EXPECT_EQ((*requests)[3].offset, 40409911ull * 512);
  EXPECT_EQ(requests->back().time_us, 5641098458687ull);
  size_t reads = 0, writes = 0;
  for (const BlockRequest& request : *requests) {
    reads += request.op == BlockOp::kRead;
    writes += request.op == BlockOp::kWrite;
  }
  EXPECT_EQ(reads, 46974u);
  EXPECT_EQ(writes, 66898u);
}

TEST(VscsiReaderTest, ReadsVersion2Records) {
  std::string bytes(80, '\0');
  for (size_t record = 0; record < 2; ++record) {
    const size_t base = record * 40;
    PutLittleEndian(bytes, base + 0, 0x28, 2);           // cmd
    PutLittleEndian(bytes, base + 2, 0x0200, 2);         // version 2
    PutLittleEndian(bytes, base + 8, 4096, 4);           // len
    PutLittleEndian(bytes, base + 16, 100 + record, 8);  // lbn
    PutLittleEndian(bytes, base + 24, 7, 8);             // ts
  }
  absl::StatusOr<std::vector<BlockRequest>> requests = ParseVscsiTrace(bytes);
  ASSERT_TRUE(requests.ok()) << requests.status();
  ASSERT_EQ(requests->size(), 2u);
  EXPECT_EQ((*requests)[1].offset, 101u * 512);
  EXPECT_EQ((*requests)[1].length, 4096u);
  EXPECT_EQ((*requests)[1].op, BlockOp::kRead);
}

TEST(VscsiReaderTest, TruncatedFileIsAnErrorNamingTheLastRecord) {
  std::string bytes = VscsiBytes();
  bytes.resize(bytes.size() - 5);
  absl::StatusOr<std::vector<BlockRequest>> requests = ParseVscsiTrace(bytes);
  ASSERT_FALSE(requests.ok());
  EXPECT_EQ(requests.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(requests.status().message(), HasSubstr("truncated"));
  EXPECT_THAT(requests.status().message(), HasSubstr("record 113871"));
}

TEST(VscsiReaderTest, RecordWithAnotherVersionIsAnError) {
  std::string bytes = VscsiBytes().substr(0, 32 * 10);
  PutLittleEndian(bytes, 5 * 32 + 14, 0x0300, 2);
  absl::StatusOr<std::vector<BlockRequest>> requests = ParseVscsiTrace(bytes);
  ASSERT_FALSE(requests.ok());
  EXPECT_THAT(requests.status().message(), HasSubstr("record 5"));
  EXPECT_THAT(requests.status().message(), HasSubstr("version 3"));
}

TEST(VscsiReaderTest, EmptyOrForeignBytesAreErrors) {
  EXPECT_EQ(ParseVscsiTrace("").status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<std::vector<BlockRequest>> text = ParseVscsiTrace(std::string(96, 'x'));
  ASSERT_FALSE(text.ok());
  EXPECT_THAT(text.status().message(), HasSubstr("not a vscsi trace"));
}

TEST(VscsiReaderTest, HugeLbnIsAnError) {
  std::string bytes = VscsiBytes().substr(0, 64);
  PutLittleEndian(bytes, 32 + 16, ~0ull, 8);
  absl::StatusOr<std::vector<BlockRequest>> requests = ParseVscsiTrace(bytes);
  ASSERT_FALSE(requests.ok());
  EXPECT_THAT(requests.status().message(), HasSubstr("record 1"));
}

TEST(CsvTraceReaderTest, ReadsTheSameRequestsAsTheVscsiFile) {
  absl::StatusOr<std::vector<BlockRequest>> from_csv =
      ReadBlockTraceFile(TracePath("cloudPhysicsIO.csv"), TraceFormat::kCsv);
  absl::StatusOr<std::vector<BlockRequest>> from_vscsi =
      ReadBlockTraceFile(TracePath("cloudPhysicsIO.vscsi"), TraceFormat::kVscsi);
  ASSERT_TRUE(from_csv.ok()) << from_csv.status();
  ASSERT_TRUE(from_vscsi.ok()) << from_vscsi.status();
  ASSERT_EQ(from_csv->size(), kTraceRequests);
  ASSERT_EQ(from_vscsi->size(), kTraceRequests);
  for (size_t i = 0; i < kTraceRequests; ++i) {
    const BlockRequest& csv = (*from_csv)[i];
    const BlockRequest& vscsi = (*from_vscsi)[i];
    ASSERT_EQ(csv.offset, vscsi.offset) << "request " << i;
    ASSERT_EQ(csv.length, vscsi.length) << "request " << i;
    ASSERT_EQ(csv.op, vscsi.op) << "request " << i;
    ASSERT_EQ(csv.time_us, vscsi.time_us / 1000000 * 1000000) << "request " << i;
  }
}

TEST(CsvTraceReaderTest, AcceptsHeaderlessTextWithCrLf) {
  absl::StatusOr<std::vector<BlockRequest>> requests =
      ParseCsvTrace("1,5,28,512,10\r\n\r\n1,6,2A,1024,11\r\n");
  ASSERT_TRUE(requests.ok()) << requests.status();
  ASSERT_EQ(requests->size(), 2u);
  EXPECT_EQ((*requests)[1].op, BlockOp::kWrite);
  EXPECT_EQ((*requests)[1].length, 1024u);
  EXPECT_EQ((*requests)[1].time_us, 6000000u);
}

TEST(CsvTraceReaderTest, BadLineIsAnErrorWithItsLineNumber) {
  absl::StatusOr<std::vector<BlockRequest>> short_line =
      ParseCsvTrace("version,time,op,size,lbn\n1,5,28,512,10\n1,6,28,512\n");
  ASSERT_FALSE(short_line.ok());
  EXPECT_EQ(short_line.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(short_line.status().message(), HasSubstr("line 3"));
  EXPECT_THAT(short_line.status().message(), HasSubstr("expected 5"));

  absl::StatusOr<std::vector<BlockRequest>> bad_op =
      ParseCsvTrace("version,time,op,size,lbn\n1,5,zz,512,10\n");
  ASSERT_FALSE(bad_op.ok());
  EXPECT_THAT(bad_op.status().message(), HasSubstr("line 2"));
  EXPECT_THAT(bad_op.status().message(), HasSubstr("op"));

  absl::StatusOr<std::vector<BlockRequest>> bad_header = ParseCsvTrace("time,obj_id,size\n");
  ASSERT_FALSE(bad_header.ok());
  EXPECT_THAT(bad_header.status().message(), HasSubstr("header"));

  absl::StatusOr<std::vector<BlockRequest>> negative = ParseCsvTrace("1,5,28,-512,10\n");
  ASSERT_FALSE(negative.ok());
  EXPECT_THAT(negative.status().message(), HasSubstr("size"));
}

TEST(TraceFileTest, FormatComesFromTheNameOrTheExtension) {
  EXPECT_EQ(*TraceFormatForPath("a.vscsi", ""), TraceFormat::kVscsi);
  EXPECT_EQ(*TraceFormatForPath("a.CSV", ""), TraceFormat::kCsv);
  EXPECT_EQ(*TraceFormatForPath("a.bin", "csv"), TraceFormat::kCsv);
  EXPECT_EQ(TraceFormatForPath("a.bin", "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TraceFormatForPath("a.csv", "json").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(TraceFileTest, MissingFileIsNotFoundAndMalformedContentNamesThePath) {
  EXPECT_EQ(ReadBlockTraceFile("/nonexistent/trace.vscsi", TraceFormat::kVscsi).status().code(),
            absl::StatusCode::kNotFound);
  testing::ScratchDir scratch;
  const std::string path = (scratch / "bad.csv").string();
  testing::WriteFileBytes(path, "1,2,3\n");
  absl::StatusOr<std::vector<BlockRequest>> requests = ReadBlockTraceFile(path, TraceFormat::kCsv);
  ASSERT_FALSE(requests.ok());
  EXPECT_THAT(requests.status().message(), HasSubstr(path));
  EXPECT_THAT(requests.status().message(), HasSubstr("line 1"));
}

}  // namespace
}  // namespace chunkcache

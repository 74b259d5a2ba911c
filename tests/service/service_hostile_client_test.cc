// chunkcached against hostile clients: Prefetch requests whose
// ranges cover a 1 TiB image many times over, too many ranges, and a client that opens every
// archive it can list while another client reads. Real server, real datastore on disk, real
// gRPC clients; the big archives are indexes only (their chunks are never read).
#include <grpcpp/create_channel.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "chunkcache/v1/chunkcache.grpc.pb.h"
#include "format/blob.h"
#include "format/chunk_index.h"
#include "format/digest.h"
#include "format/manifest.h"
#include "format/snapshot_name.h"
#include "tests/service/service_test_env.h"
#include "upstream/datastore_writer.h"

namespace chunkcache::testing {
namespace {

constexpr char kDisk[] = "drive-scsi0.img.fidx";
constexpr uint64_t kChunk = uint64_t{4} << 20;
constexpr uint64_t kTiB = uint64_t{1} << 40;

// Adds `snapshot`/drive-scsi0.img.fidx to the datastore at `path`: a fixed index of `size`
// bytes in 4 MiB chunks with distinct digests (derived from `seed`) whose chunk files do not
// exist, and a manifest listing it. Opening, statting and prefetching it work; reading fails.
void AddIndexOnlyArchive(const std::filesystem::path& path, const std::string& snapshot,
                         uint64_t size, int seed) {
  absl::StatusOr<std::unique_ptr<DatastoreWriter>> store = DatastoreWriter::Create(path);
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<SnapshotName> name = SnapshotName::Parse(snapshot);
  ASSERT_TRUE(name.ok()) << name.status();
  std::vector<ChunkDigest> digests;
  digests.reserve(size / kChunk);
  for (uint64_t i = 0; i < size / kChunk; ++i) {
    digests.push_back(Sha256(absl::StrCat("index-only chunk ", seed, " ", i)));
  }
  absl::StatusOr<std::string> index = EncodeFixedIndex(size, kChunk, digests, IndexHeaderFields{});
  ASSERT_TRUE(index.ok()) << index.status();
  absl::StatusOr<ChunkIndex> parsed = ChunkIndex::Parse(*index);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ManifestContent manifest;
  manifest.backup_type = name->backup_type;
  manifest.backup_id = name->backup_id;
  manifest.backup_time = name->backup_time;
  manifest.files.push_back(ManifestFile{kDisk, CryptMode::kNone, size, parsed->index_csum()});
  absl::StatusOr<std::string> blob =
      EncodeBlob(EncodeManifestJson(manifest, nullptr), BlobEncodeOptions{});
  ASSERT_TRUE(blob.ok()) << blob.status();
  ASSERT_TRUE((*store)->WriteSnapshotFile(*name, kDisk, *index).ok());
  ASSERT_TRUE((*store)->WriteSnapshotFile(*name, "index.json.blob", *blob).ok());
  ASSERT_TRUE((*store)->EnsureGroupOwner(*name).ok());
}

class ServiceHostileClientTest : public ::testing::Test {
 protected:
  void StartServer(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"--datastore", "store=" + (dir_.path() / "ds").string(),
                                     "--cache-bytes", "64MiB"};
    args.insert(args.end(), extra.begin(), extra.end());
    server_ = ChunkcachedProcess::Start(args);
    ASSERT_NE(server_, nullptr);
    stub_ = v1::ChunkCache::NewStub(
        grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()));
  }

  // A Prefetch of `ranges` on `ref` that must be answered within `deadline`.
  grpc::Status Prefetch(const v1::SnapshotRef& ref, const std::vector<v1::ByteRange>& ranges,
                        v1::PrefetchResponse* response,
                        std::chrono::seconds deadline = std::chrono::seconds(20)) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + deadline);
    v1::PrefetchRequest request;
    *request.mutable_snapshot() = ref;
    for (const v1::ByteRange& range : ranges) *request.add_ranges() = range;
    return stub_->Prefetch(&context, request, response);
  }

  static v1::ByteRange Range(uint64_t offset, uint64_t length) {
    v1::ByteRange range;
    range.set_offset(offset);
    range.set_length(length);
    return range;
  }

  ScratchDir dir_;
  std::unique_ptr<ChunkcachedProcess> server_;
  std::unique_ptr<v1::ChunkCache::Stub> stub_;
};

TEST_F(ServiceHostileClientTest, PrefetchOfATebibyteImageManyTimesOverIsBoundedAndPrompt) {
  const std::string snapshot = "vm/300/2026-01-01T00:00:00Z";
  AddIndexOnlyArchive(dir_.path() / "ds", snapshot, kTiB, 1);
  StartServer();
  const v1::SnapshotRef ref = Ref("store", snapshot, kDisk);
  // The archive is opened first, so that the Prefetch runs on the gRPC thread as it would
  // for an archive someone is restoring.
  std::unique_ptr<ChunkCacheClient> client = ConnectClient(server_->address());
  absl::StatusOr<v1::SnapshotInfo> info = client->Stat(ref);
  ASSERT_TRUE(info.ok()) << info.status();
  ASSERT_EQ(info->chunk_count(), kTiB / kChunk);
  EXPECT_EQ(info->distinct_chunks(), kTiB / kChunk);

  // 1000 ranges, each from a different chunk to past the end of the archive (2^63 bytes):
  // walked one by one that is 1000 x 262144 index entries.
  std::vector<v1::ByteRange> ranges;
  for (uint64_t i = 0; i < 1000; ++i) ranges.push_back(Range(i * 7 * kChunk, uint64_t{1} << 63));
  v1::PrefetchResponse response;
  const grpc::Status status = Prefetch(ref, ranges, &response, std::chrono::seconds(10));
  ASSERT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
  // Their union is the whole archive: each entry is accounted for once, and only a bounded
  // part of them was walked.
  EXPECT_EQ(
      response.chunks_requested() + response.chunks_already_cached() + response.chunks_dropped(),
      kTiB / kChunk);
  EXPECT_LE(response.chunks_requested() + response.chunks_already_cached(), 4096u);
  EXPECT_GE(response.chunks_requested(), 1u);

  // The server still answers at once.
  absl::StatusOr<v1::SnapshotInfo> again = client->Stat(ref);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->size(), kTiB);
}

TEST_F(ServiceHostileClientTest, TooManyPrefetchRangesAreInvalidArgument) {
  const std::string snapshot = "vm/300/2026-01-01T00:00:00Z";
  AddIndexOnlyArchive(dir_.path() / "ds", snapshot, kTiB, 1);
  StartServer();
  const v1::SnapshotRef ref = Ref("store", snapshot, kDisk);

  // Just over the cap: refused with a message that says what to do.
  std::vector<v1::ByteRange> ranges(1025, Range(0, 1));
  v1::PrefetchResponse response;
  grpc::Status status = Prefetch(ref, ranges, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_NE(status.error_message().find("at most 1024"), std::string::npos)
      << status.error_message();

  // A request of nearly 4 MiB, all {length: 2^63} ranges (about 45 minutes of one server
  // thread when each is walked through the index).
  ranges.assign(180000, Range(0, uint64_t{1} << 63));
  for (size_t i = 0; i < ranges.size(); ++i) ranges[i].set_offset(i * kChunk);
  v1::PrefetchRequest huge;
  for (const v1::ByteRange& range : ranges) *huge.add_ranges() = range;
  ASSERT_LT(huge.ByteSizeLong(), uint64_t{4} << 20);  // within gRPC's default message limit
  ASSERT_GT(huge.ByteSizeLong(), uint64_t{3} << 20);
  status = Prefetch(ref, ranges, &response, std::chrono::seconds(10));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();

  // At the cap it works.
  ranges.assign(1024, Range(0, 1));
  status = Prefetch(ref, ranges, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.chunks_requested() + response.chunks_dropped(), 1u);
}

TEST_F(ServiceHostileClientTest, ClientOpeningEveryArchiveStaysWithinTheBudget) {
  // The reader's archive: real chunks, read and verified throughout.
  const std::string image = PseudoRandomBytes(3 * kChunk + 12345, 7);
  WriteFileBytes(dir_.path() / "disk.img", image);
  CreateArchive(dir_.path() / "ds", "vm/100/2026-01-01T00:00:00Z", kDisk, dir_.path() / "disk.img");
  const v1::SnapshotRef reader_ref = Ref("store", "vm/100/2026-01-01T00:00:00Z", kDisk);
  // 24 archives of 64 GiB: each index holds 16384 entries, and an open one is charged at least
  // 16384 x (32 + 4) bytes (digests, distinct chunks) plus 16 KiB: about 592 KiB.
  constexpr int kArchives = 24;
  for (int i = 0; i < kArchives; ++i) {
    AddIndexOnlyArchive(dir_.path() / "ds", absl::StrFormat("vm/400/2026-01-01T00:%02d:00Z", i),
                        uint64_t{64} << 30, 100 + i);
  }
  const std::filesystem::path config = dir_.path() / "config.json";
  WriteFileBytes(config, R"({"sessions": {"maxOpenIndexBytes": "4MiB"}})");
  StartServer({"--config", config.string()});

  std::atomic<bool> stop{false};
  std::atomic<int> reads{0};
  std::atomic<int> bad_reads{0};
  std::string first_error;
  std::thread reader([&] {
    std::unique_ptr<ChunkCacheClient> client = ConnectClient(server_->address());
    for (uint64_t i = 0; !stop.load() || reads.load() < 20; ++i) {
      const uint64_t offset = (i * 1234567) % image.size();
      absl::StatusOr<std::string> bytes = client->Read(reader_ref, offset, 65536);
      const std::string expected = image.substr(offset, 65536);
      if (!bytes.ok() || *bytes != expected) {
        if (bad_reads.fetch_add(1) == 0) {
          first_error = bytes.ok() ? "wrong bytes" : bytes.status().ToString();
        }
      }
      reads.fetch_add(1);
    }
  });

  std::unique_ptr<ChunkCacheClient> opener = ConnectClient(server_->address());
  double most_open = 0;
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < kArchives; ++i) {
      const v1::SnapshotRef ref =
          Ref("store", absl::StrFormat("vm/400/2026-01-01T00:%02d:00Z", i), kDisk);
      absl::StatusOr<v1::SnapshotInfo> info = opener->Stat(ref);
      ASSERT_TRUE(info.ok()) << i << ": " << info.status();
      EXPECT_EQ(info->chunk_count(), 16384u);
      most_open = std::max(most_open, server_->Metric("chunkcache_snapshots_open").value_or(1e9));
    }
  }
  stop.store(true);
  reader.join();
  // 4 MiB holds six of the big ones and the reader's small index, never more (25 without a
  // budget).
  EXPECT_LE(most_open, 7);
  EXPECT_GE(most_open, 2);
  EXPECT_EQ(bad_reads.load(), 0) << first_error;
  EXPECT_GE(reads.load(), 20);
}

}  // namespace
}  // namespace chunkcache::testing

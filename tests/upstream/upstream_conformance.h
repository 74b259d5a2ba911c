// The conformance suite every Upstream implementation runs: exact bytes for snapshot files and
// chunks, with or without the chunk's crypt mode (ChunkReadOptions) (or, for an upstream that
// serves verified plaintext rather than stored blobs and says so with DeliversPlaintext, blobs
// that decode to the same chunk under the same checks), NOT_FOUND for what is absent,
// INVALID_ARGUMENT for names that could escape a datastore, ListSnapshots contents and order, and
// concurrent reads.
//
// To run it against an implementation, give a factory that builds an upstream holding exactly
// a fixture, and instantiate the suite (see upstream_conformance_test.cc):
//
//   absl::StatusOr<std::shared_ptr<Upstream>> MakeMine(const UpstreamFixture& fixture,
//                                                      const std::filesystem::path& scratch) {
//     ... put fixture.snapshot_files and fixture.chunks into a new upstream ...
//   }
//   INSTANTIATE_TEST_SUITE_P(Mine, UpstreamConformanceTest,
//                            ::testing::Values(UpstreamImplementation{"mine", MakeMine}),
//                            UpstreamImplementationName);
//
// Link the test with chunkcache_upstream_conformance (an object library, so the TEST_Ps are
// always linked in).
#ifndef CHUNKCACHE_TESTS_UPSTREAM_UPSTREAM_CONFORMANCE_H_
#define CHUNKCACHE_TESTS_UPSTREAM_UPSTREAM_CONFORMANCE_H_

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "format/crypt_config.h"
#include "format/digest.h"
#include "format/snapshot_name.h"
#include "tests/testing/test_env.h"
#include "upstream/memory_upstream.h"
#include "upstream/upstream.h"

namespace chunkcache::testing {

// What an upstream under test holds. The standard fixture is real data: chunks are encoded
// DataBlobs, indexes and manifests are consistent with them, so it also suits tests of code
// that decodes what an upstream returns.
struct UpstreamFixture {
  struct SnapshotFile {
    SnapshotName snapshot;
    std::string name;
    std::string bytes;
  };
  std::vector<SnapshotFile> snapshot_files;
  std::vector<std::pair<ChunkDigest, std::string>> chunks;  // digest, raw blob bytes
  // For each chunk, a snapshot and archive whose index references it: what a reader passes in
  // ChunkReadOptions (a pbs upstream serves a chunk only for such a snapshot).
  struct ChunkReference {
    ChunkDigest digest;
    SnapshotName snapshot;
    std::string archive;
  };
  std::vector<ChunkReference> chunk_references;
  // The snapshots that have an index.json.blob: what ListSnapshots returns, in its order.
  std::vector<SnapshotName> listed_snapshots;
  // The key of the fixture's encrypted chunk.
  RawKey key{};
};

// Two snapshots of one VM group in the root namespace (fixed index, manifest, a config blob;
// the second also has an encrypted archive), a CT snapshot in namespace "a/b" (dynamic index),
// an unfinished host snapshot without a manifest, and the chunks they reference (plain 64 KiB
// chunks, a short last chunk, and a chunk encrypted with the vectors' key).
UpstreamFixture StandardUpstreamFixture();

// One VM snapshot of `chunks` incompressible chunks of `chunk_size` bytes (as a restore of a
// real disk image reads: 4 MiB chunks, each far larger than one read from the connection).
UpstreamFixture LargeChunkUpstreamFixture(size_t chunk_size, int chunks);

// The read options naming a snapshot and archive that reference `digest` in `fixture` (only
// the snapshot of the first one listed when none does, e.g. for an absent digest).
ChunkReadOptions ReferenceFor(const UpstreamFixture& fixture, const ChunkDigest& digest);

// Builds an upstream holding exactly `fixture`. `scratch` is an empty directory that outlives
// the upstream, for implementations that need files.
using UpstreamFactory = std::function<absl::StatusOr<std::shared_ptr<Upstream>>(
    const UpstreamFixture& fixture, const std::filesystem::path& scratch)>;

// How ReadChunk's bytes must relate to the stored blob.
enum class ChunkBytes {
  kExact,       // byte for byte (a datastore, memory)
  kEquivalent,  // another DataBlob that decodes, with the fixture's key and every check the
                // stored blob passes (crypt mode, digest, size), to the same chunk (a chunkcache
                // upstream, which sends verified plaintext: DeliversPlaintext, and an encrypted
                // chunk is accepted by its keyed digest)
};

struct UpstreamImplementation {
  std::string name;  // becomes the test name suffix: letters, digits and '_' only
  UpstreamFactory make;
  ChunkBytes chunk_bytes = ChunkBytes::kExact;
};

std::string UpstreamImplementationName(
    const ::testing::TestParamInfo<UpstreamImplementation>& info);

// Ready-made pieces for factories: the fixture in a new MemoryUpstream, or written as a PBS
// datastore directory at `dir`.
absl::StatusOr<std::shared_ptr<MemoryUpstream>> MakeMemoryUpstreamWith(
    const UpstreamFixture& fixture);
absl::Status WriteFixtureDatastore(const UpstreamFixture& fixture,
                                   const std::filesystem::path& dir);

class UpstreamConformanceTest : public ::testing::TestWithParam<UpstreamImplementation> {
 protected:
  void SetUp() override;
  // Whether `got` is what ReadChunk(digest) may return for the stored blob `stored`.
  bool SameChunk(const ChunkDigest& digest, const std::string& got,
                 const std::string& stored) const;
  // The crypt mode of the archive that names the stored blob `stored`.
  static CryptMode ModeOf(const std::string& stored);

  UpstreamFixture fixture_;
  ScratchDir scratch_;
  std::shared_ptr<Upstream> upstream_;
};

}  // namespace chunkcache::testing

#endif  // CHUNKCACHE_TESTS_UPSTREAM_UPSTREAM_CONFORMANCE_H_

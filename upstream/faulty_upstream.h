// FaultyUpstream: wraps any Upstream and adds the trouble a real one has — latency, a shared
// bandwidth cap, failures, corrupt bytes, calls that hang — and observes concurrency. For tests
// and benchmarks of the cache and the service.
//
//   auto faulty = std::make_shared<FaultyUpstream>(memory_upstream);
//   faulty->SetLatency(absl::Milliseconds(20));
//   faulty->SetBandwidthLimit(100 << 20);                     // 100 MiB/s across all calls
//   faulty->FailNextCalls(2, absl::UnavailableError("down"));
//   faulty->HoldCalls();  ...  faulty->WaitForHeldCalls(4, absl::Seconds(5));
//   EXPECT_EQ(faulty->max_calls_in_flight(), 4);  faulty->ReleaseCalls();
//
// "Data calls" are ReadChunk and ReadSnapshotFile. Each goes through, in order: being counted
// in flight, the hold gate, the latency, the injected failures (SetDown, FailNextCalls,
// FailChunk), the wrapped upstream, the bandwidth cap (on the returned bytes) and corruption.
// ListSnapshots and CheckReadable only honour SetDown. With nothing configured it is a
// transparent wrapper. All methods are thread-safe and may be called while calls are running.
#ifndef CHUNKCACHE_UPSTREAM_FAULTY_UPSTREAM_H_
#define CHUNKCACHE_UPSTREAM_FAULTY_UPSTREAM_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "upstream/upstream.h"

namespace chunkcache {

class FaultyUpstream final : public Upstream {
 public:
  explicit FaultyUpstream(std::shared_ptr<Upstream> inner);
  // Releases held calls; the object must outlive every call that is running.
  ~FaultyUpstream() override;

  // Sleeps this long in every data call (before the wrapped upstream is asked).
  void SetLatency(absl::Duration per_call);
  // Token bucket over the bytes returned by data calls, shared by all concurrent calls:
  // `bytes_per_second` 0 means unlimited; `burst_bytes` may be sent at once after idling.
  void SetBandwidthLimit(uint64_t bytes_per_second, uint64_t burst_bytes = 0);
  // The next `count` data calls fail with `status` (an OK status becomes UNKNOWN).
  void FailNextCalls(int count, absl::Status status);
  // Every ReadChunk of `digest` fails with `status` until cleared.
  void FailChunk(const ChunkDigest& digest, absl::Status status);
  void ClearChunkFailure(const ChunkDigest& digest);
  // Every call (including ListSnapshots and CheckReadable) fails with `status` until
  // SetDown(absl::OkStatus()).
  void SetDown(absl::Status status);
  // Returned copies of this chunk have their last byte flipped (inside the blob payload, so
  // CRC and digest checks must catch it), until cleared.
  void CorruptChunk(const ChunkDigest& digest);
  void ClearChunkCorruption(const ChunkDigest& digest);
  // The next `count` successful ReadChunk results are corrupted the same way.
  void CorruptNextChunks(int count);

  // Data calls block (after being counted in flight) until ReleaseCalls.
  void HoldCalls();
  void ReleaseCalls();
  // Waits until at least `count` calls are blocked by HoldCalls; false on timeout.
  bool WaitForHeldCalls(int count, absl::Duration timeout);
  // Lets the held ReadChunk calls of `digest` (and later ones) through while others stay held.
  void ReleaseChunk(const ChunkDigest& digest);
  // The digests of the ReadChunk calls blocked by HoldCalls now, in the order they arrived.
  std::vector<ChunkDigest> held_chunks() const;

  // Observations.
  int calls_in_flight() const;
  int max_calls_in_flight() const;  // the most data calls running at once since reset
  void ResetMaxCallsInFlight();
  uint64_t total_calls() const;     // data calls started
  uint64_t bytes_returned() const;  // bytes of successful data calls

  absl::StatusOr<std::string> ReadSnapshotFile(const SnapshotName& snapshot,
                                               std::string_view file_name) override;
  absl::StatusOr<std::string> ReadChunk(const ChunkDigest& digest,
                                        const ChunkReadOptions& options = {}) override;
  bool DeliversPlaintext() const override { return inner_->DeliversPlaintext(); }
  absl::StatusOr<std::vector<SnapshotName>> ListSnapshots() override;
  absl::Status CheckReadable() override;
  std::string Describe() const override;

 private:
  // Everything before and after the wrapped call; `digest` is null for snapshot files.
  absl::StatusOr<std::string> RunDataCall(const ChunkDigest* digest,
                                          const std::function<absl::StatusOr<std::string>()>& call);
  absl::Status InjectedFailure(const ChunkDigest* digest);
  void ThrottleBandwidth(uint64_t bytes);
  bool TakeCorruption(const ChunkDigest& digest);

  const std::shared_ptr<Upstream> inner_;

  // std::mutex rather than absl::Mutex: the distribution's Abseil is not built for
  // ThreadSanitizer, which then cannot see absl::Mutex's ordering.
  mutable std::mutex mu_;
  std::condition_variable hold_changed_;  // holding_ or held_calls_ changed
  absl::Duration latency_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  int fail_next_count_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status fail_next_status_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<ChunkDigest, absl::Status> failing_chunks_ ABSL_GUARDED_BY(mu_);
  absl::Status down_status_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<ChunkDigest> corrupt_chunks_ ABSL_GUARDED_BY(mu_);
  int corrupt_next_count_ ABSL_GUARDED_BY(mu_) = 0;
  bool holding_ ABSL_GUARDED_BY(mu_) = false;
  int held_calls_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<ChunkDigest> held_chunks_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<ChunkDigest> released_chunks_ ABSL_GUARDED_BY(mu_);
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  int max_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t total_calls_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t bytes_returned_ ABSL_GUARDED_BY(mu_) = 0;

  // The token bucket has its own lock so throttled callers never block configuration.
  mutable std::mutex bucket_mu_;
  uint64_t bytes_per_second_ ABSL_GUARDED_BY(bucket_mu_) = 0;
  double burst_bytes_ ABSL_GUARDED_BY(bucket_mu_) = 0;
  double tokens_ ABSL_GUARDED_BY(bucket_mu_) = 0;  // negative: bytes owed by waiting callers
  absl::Time last_refill_ ABSL_GUARDED_BY(bucket_mu_);
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_UPSTREAM_FAULTY_UPSTREAM_H_

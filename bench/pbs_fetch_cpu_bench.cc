// pbs_fetch_cpu_bench: the CPU this process spends per GB of chunks fetched through the `pbs`
// upstream (TLS + HTTP/2 + decode + verify) against the datastore-directory upstream reading
// the same datastore (read + decode + verify): the CPU target, without the service
// around it (bench/RESULTS.md, "Restores from a PBS server").
//
// Every chunk of one archive is fetched with --in-flight threads calling ReadChunk at once, as
// the cache's fetch workers do (threads that live across rounds), and decoded with
// DecodeBlobInto exactly as CacheCore does, into one reused buffer per thread instead of the
// cache arena (so no fresh arena pages are touched).
// Each round opens a new upstream (a new TLS connection and reader session for pbs) and reads
// the manifest and the index before its clock starts. Rounds alternate pbs and dir; CPU is
// getrusage(RUSAGE_SELF) (utime + stime of every thread here: the workers and the HTTP/2 I/O
// thread; the server is another process). Prints each round and the medians.
//
//   pbs_fetch_cpu_bench --datastore /var/tmp/store --pbs-url https://127.0.0.1:8007
//       --pbs-datastore store1 --auth-id 'bench@pbs!restore' --secret-file token
//       --fingerprint aa:bb:... --snapshot vm/500/2026-01-01T00:00:00Z
//       --archive drive-scsi0.img.fidx [--in-flight 16] [--rounds 5] [--only pbs|dir]
// bench/pbs_fetch_cpu_bench.sh makes the datastore, starts the test server and runs it.
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "format/blob.h"
#include "format/chunk_index.h"
#include "format/snapshot_name.h"
#include "upstream/datastore_upstream.h"
#include "upstream/pbs/pbs_upstream.h"

namespace chunkcache {
namespace {

struct Usage {
  double cpu = 0;         // utime + stime
  long minor_faults = 0;  // first touches of pages (fresh buffers)
  long context_switches = 0;
};

Usage ProcessUsage() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return {seconds(usage.ru_utime) + seconds(usage.ru_stime), usage.ru_minflt,
          usage.ru_nvcsw + usage.ru_nivcsw};
}

double ThreadCpuSeconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return now.tv_sec + now.tv_nsec / 1e9;
}

struct Round {
  double cpu = 0;         // the whole process
  double decode_cpu = 0;  // the workers' DecodeBlobInto calls
  double wall = 0;
  long minor_faults = 0;
  long context_switches = 0;
  uint64_t blob_bytes = 0;
};

// `in_flight` fetch threads that live across rounds, as the cache's fetch workers do (so each
// keeps its malloc arena and its decode buffer); each round fetches and decodes every entry of
// one index through one upstream. Exits on any error: a benchmark of failures measures nothing.
class FetchWorkers {
 public:
  explicit FetchWorkers(int in_flight) : start_(in_flight + 1), finish_(in_flight + 1) {
    for (int i = 0; i < in_flight; ++i) threads_.emplace_back([this] { Work(); });
  }
  ~FetchWorkers() {
    upstream_ = nullptr;  // tells the workers to exit
    start_.arrive_and_wait();
    for (std::thread& thread : threads_) thread.join();
  }

  Round FetchAll(Upstream& upstream, const SnapshotName& snapshot, const std::string& archive,
                 const ChunkIndex& index) {
    upstream_ = &upstream;
    snapshot_ = &snapshot;
    archive_ = &archive;
    index_ = &index;
    next_ = 0;
    blob_bytes_ = 0;
    decode_ns_ = 0;
    const Usage usage0 = ProcessUsage();
    const absl::Time wall0 = absl::Now();
    start_.arrive_and_wait();
    finish_.arrive_and_wait();
    Round round;
    round.wall = absl::ToDoubleSeconds(absl::Now() - wall0);
    const Usage usage1 = ProcessUsage();
    round.cpu = usage1.cpu - usage0.cpu;
    round.minor_faults = usage1.minor_faults - usage0.minor_faults;
    round.context_switches = usage1.context_switches - usage0.context_switches;
    round.decode_cpu = decode_ns_.load() / 1e9;
    round.blob_bytes = blob_bytes_.load();
    return round;
  }

 private:
  void Work() {
    std::vector<char> out(kMaxChunkSize);  // decoded bytes land in memory already touched
    while (true) {
      start_.arrive_and_wait();
      if (upstream_ == nullptr) return;
      FetchSome(absl::Span<char>(out.data(), out.size()));
      finish_.arrive_and_wait();
    }
  }

  void FetchSome(absl::Span<char> out) {
    const ChunkReadOptions read{
        .crypt_mode = CryptMode::kNone, .snapshot = *snapshot_, .archive = *archive_};
    for (size_t entry = next_++; entry < index_->chunk_count(); entry = next_++) {
      const ChunkDigest& digest = index_->digest(entry);
      absl::StatusOr<std::string> raw = upstream_->ReadChunk(digest, read);
      if (!raw.ok()) {
        std::fprintf(stderr, "%s: %s\n", upstream_->Describe().c_str(),
                     std::string(raw.status().message()).c_str());
        std::exit(1);
      }
      // As CacheCore::FetchFromUpstream decodes a fetched blob, into memory of its own.
      const double start = ThreadCpuSeconds();
      BlobDecodeOptions decode;
      decode.expected_digest = digest;
      decode.expected_size = index_->range(entry).size();
      decode.expected_mode = CryptMode::kNone;
      decode.max_decoded_size = kMaxChunkSize;
      absl::StatusOr<size_t> decoded = DecodeBlobInto(*raw, decode, out);
      decode_ns_ += static_cast<int64_t>((ThreadCpuSeconds() - start) * 1e9);
      if (!decoded.ok()) {
        std::fprintf(stderr, "chunk %s: %s\n", digest.Hex().c_str(),
                     std::string(decoded.status().message()).c_str());
        std::exit(1);
      }
      blob_bytes_ += raw->size();
    }
  }

  // Set by FetchAll before the start barrier, read by the workers after it.
  Upstream* upstream_ = nullptr;
  const SnapshotName* snapshot_ = nullptr;
  const std::string* archive_ = nullptr;
  const ChunkIndex* index_ = nullptr;
  std::atomic<size_t> next_{0};
  std::atomic<uint64_t> blob_bytes_{0};
  std::atomic<int64_t> decode_ns_{0};
  std::barrier<> start_;
  std::barrier<> finish_;
  std::vector<std::thread> threads_;
};

// The manifest and the index, read as the cache opens an archive (untimed).
ChunkIndex OpenArchive(Upstream& upstream, const SnapshotName& snapshot,
                       const std::string& archive) {
  absl::StatusOr<std::string> manifest = upstream.ReadSnapshotFile(snapshot, "index.json.blob");
  absl::StatusOr<std::string> bytes =
      manifest.ok() ? upstream.ReadSnapshotFile(snapshot, archive) : manifest.status();
  absl::StatusOr<ChunkIndex> index =
      bytes.ok() ? ChunkIndex::Parse(*bytes) : absl::StatusOr<ChunkIndex>(bytes.status());
  if (!index.ok()) {
    std::fprintf(stderr, "%s: %s\n", upstream.Describe().c_str(),
                 std::string(index.status().message()).c_str());
    std::exit(1);
  }
  return *std::move(index);
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

std::string Join(const std::vector<double>& values) {
  std::string text;
  for (double value : values) {
    char buffer[32];
    std::snprintf(buffer, sizeof(buffer), "%s%.3f", text.empty() ? "" : " ", value);
    text += buffer;
  }
  return text;
}

int Run(int argc, char** argv) {
  CLI::App app{"pbs_fetch_cpu_bench: CPU per GB fetched, pbs upstream against a directory"};
  std::string datastore, snapshot_text, archive, secret_file;
  PbsUpstreamOptions pbs;
  int in_flight = 16, rounds = 5;
  app.add_option("--datastore", datastore, "the datastore directory the server serves")->required();
  app.add_option("--pbs-url", pbs.url, "https://host:port of the PBS server")->required();
  app.add_option("--pbs-datastore", pbs.datastore, "the datastore's name on the server")
      ->required();
  app.add_option("--auth-id", pbs.auth_id, "user@realm!token")->required();
  app.add_option("--secret-file", secret_file, "file holding the token secret")->required();
  app.add_option("--fingerprint", pbs.fingerprint, "the server certificate's SHA-256");
  app.add_option("--snapshot", snapshot_text, "TYPE/ID/YYYY-MM-DDTHH:MM:SSZ")->required();
  app.add_option("--archive", archive, "NAME.img.fidx")->required();
  app.add_option("--in-flight", in_flight, "chunk reads in flight (fetch threads)");
  app.add_option("--rounds", rounds, "rounds of each upstream, alternating");
  std::string only;
  app.add_option("--only", only, "pbs or dir: run that upstream alone (for profiles)")
      ->check(CLI::IsMember({"pbs", "dir"}));
  CLI11_PARSE(app, argc, argv);

  absl::StatusOr<SnapshotName> snapshot = SnapshotName::Parse(snapshot_text);
  std::ifstream secret_in(secret_file);
  std::stringstream secret;
  secret << secret_in.rdbuf();
  pbs.secret = std::string(absl::StripAsciiWhitespace(secret.str()));
  if (!snapshot.ok() || pbs.secret.empty()) {
    std::fprintf(stderr, "bad --snapshot or empty --secret-file\n");
    return 2;
  }
  pbs.max_streams = std::max(in_flight, 1);

  std::vector<double> cpu[2], decode[2], wall[2];
  uint64_t blob_bytes = 0;
  const char* kNames[2] = {"pbs", "dir"};
  FetchWorkers workers(in_flight);
  // Round 0 of each is a warm-up (the workers' buffers, the page cache, the server's imports).
  for (int round = 0; round <= rounds; ++round) {
    for (int kind = 0; kind < 2; ++kind) {
      if (!only.empty() && only != kNames[kind]) continue;
      std::unique_ptr<Upstream> upstream;
      if (kind == 0) {
        absl::StatusOr<std::unique_ptr<PbsUpstream>> created = PbsUpstream::Create(pbs);
        if (!created.ok()) {
          std::fprintf(stderr, "%s\n", std::string(created.status().message()).c_str());
          return 1;
        }
        upstream = *std::move(created);
      } else {
        absl::StatusOr<std::unique_ptr<DatastoreUpstream>> opened =
            DatastoreUpstream::Open(datastore);
        if (!opened.ok()) {
          std::fprintf(stderr, "%s\n", std::string(opened.status().message()).c_str());
          return 1;
        }
        upstream = *std::move(opened);
      }
      const ChunkIndex index = OpenArchive(*upstream, *snapshot, archive);
      const Round measured = workers.FetchAll(*upstream, *snapshot, archive, index);
      const double gb = measured.blob_bytes / 1e9;
      std::fprintf(stderr,
                   "round %d %s: %.3f s, %.3f CPU s (decode %.3f), %.3f CPU s per GB, %ld minor "
                   "faults, %ld context switches%s\n",
                   round, kNames[kind], measured.wall, measured.cpu, measured.decode_cpu,
                   measured.cpu / gb, measured.minor_faults, measured.context_switches,
                   round == 0 ? " (warm-up)" : "");
      if (round == 0) continue;
      blob_bytes = measured.blob_bytes;
      cpu[kind].push_back(measured.cpu / gb);
      decode[kind].push_back(measured.decode_cpu / gb);
      wall[kind].push_back(measured.wall);
    }
  }
  const double gb = blob_bytes / 1e9;
  std::printf("%.3f GB of chunk blobs a round, %d in flight, medians of %d rounds\n\n", gb,
              in_flight, rounds);
  std::printf(
      "| upstream | seconds | CPU s per GB | of it decode + verify | rest (fetch) | "
      "÷ dir | runs (CPU s per GB) |\n|---|---|---|---|---|---|---|\n");
  const double base = only.empty() ? Median(cpu[1]) : 0;
  for (int kind = 0; kind < 2; ++kind) {
    if (cpu[kind].empty()) continue;
    const double median = Median(cpu[kind]);
    std::printf("| %s | %.2f | %.3f | %.3f | %.3f | %.2f | %s |\n", kNames[kind],
                Median(wall[kind]), median, Median(decode[kind]), median - Median(decode[kind]),
                median / base, Join(cpu[kind]).c_str());
  }
  return 0;
}

}  // namespace
}  // namespace chunkcache

int main(int argc, char** argv) { return chunkcache::Run(argc, argv); }

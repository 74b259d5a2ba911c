// /metrics as Prometheus sees it: `promtool check metrics` finds nothing to complain about, and
// a real Prometheus server scraping chunkcached answers queries for the DESIGN.md names.
#include <gtest/gtest.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "tests/service/service_test_env.h"

namespace chunkcache::testing {
namespace {

constexpr char kPrometheus[] = "/usr/bin/prometheus";
constexpr char kPromtool[] = "/usr/bin/promtool";

class ServiceMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFileBytes(dir_ / "disk.img", PseudoRandomBytes((4 << 20) + 100, 8));
    CreateArchive(dir_ / "ds", "vm/100/2026-01-01T00:00:00Z", "drive-scsi0.img.fidx",
                  dir_ / "disk.img");
    server_ = ChunkcachedProcess::Start({"--datastore", "store=" + (dir_ / "ds").string()});
    ASSERT_NE(server_, nullptr);
    // Traffic, so that the counters have moved: two misses, then hits, one error.
    std::unique_ptr<ChunkCacheClient> client = ConnectClient(server_->address());
    const v1::SnapshotRef ref = Ref("store", "vm/100/2026-01-01T00:00:00Z", "drive-scsi0.img.fidx");
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(client->Read(ref, 0, (4 << 20) + 100).ok());
    EXPECT_FALSE(client->ReadRange(ref, 1 << 30, 1).ok());
    ASSERT_TRUE(client->Stat(ref).ok());
  }

  ScratchDir dir_;
  std::unique_ptr<ChunkcachedProcess> server_;
};

TEST_F(ServiceMetricsTest, ExpositionHasEveryDesignedFamilyAndPassesPromtool) {
  ASSERT_TRUE(std::filesystem::exists(kPromtool))
      << kPromtool << " is missing: install Debian's prometheus package (scripts/install-deps.sh)";
  const std::string text = server_->Metrics();
  for (const char* family :
       {"chunkcache_requests_total", "chunkcache_request_duration_seconds",
        "chunkcache_read_bytes_total", "chunkcache_chunk_lookups_total",
        "chunkcache_upstream_fetches_total", "chunkcache_upstream_fetch_duration_seconds",
        "chunkcache_upstream_bytes_total", "chunkcache_evictions_total", "chunkcache_cache_bytes",
        "chunkcache_cache_capacity_bytes", "chunkcache_cache_entries", "chunkcache_snapshots_open",
        "chunkcache_prefetch_chunks_total", "chunkcache_decode_errors_total"}) {
    EXPECT_NE(text.find(absl::StrCat("# TYPE ", family, " ")), std::string::npos) << family;
  }
  // Values that this traffic must have produced.
  EXPECT_EQ(FindMetric(text, "chunkcache_requests_total", {{"rpc", "ReadRange"}, {"code", "OK"}}),
            6);
  EXPECT_EQ(FindMetric(text, "chunkcache_requests_total",
                       {{"rpc", "ReadRange"}, {"code", "OUT_OF_RANGE"}}),
            1);
  EXPECT_EQ(FindMetric(text, "chunkcache_request_duration_seconds_count", {{"rpc", "ReadRange"}}),
            7);
  EXPECT_EQ(FindMetric(text, "chunkcache_read_bytes_total", {}), 3 * ((4 << 20) + 100));
  EXPECT_EQ(FindMetric(text, "chunkcache_upstream_fetches_total",
                       {{"datastore", "store"}, {"result", "ok"}}),
            2);
  EXPECT_EQ(FindMetric(text, "chunkcache_upstream_fetch_duration_seconds_count",
                       {{"datastore", "store"}}),
            2);
  EXPECT_GT(
      FindMetric(text, "chunkcache_upstream_bytes_total", {{"datastore", "store"}}).value_or(0), 0);
  EXPECT_EQ(FindMetric(text, "chunkcache_cache_entries", {}), 2);
  EXPECT_EQ(FindMetric(text, "chunkcache_cache_capacity_bytes", {}), 256 << 20);
  EXPECT_EQ(FindMetric(text, "chunkcache_snapshots_open", {}), 1);
  // The one open archive's index is charged to the open-index budget (512 MiB by default).
  EXPECT_GT(FindMetric(text, "chunkcache_open_index_bytes", {}).value_or(0), 0);
  EXPECT_EQ(FindMetric(text, "chunkcache_open_index_max_bytes", {}), 512 << 20);
  EXPECT_GE(FindMetric(text, "chunkcache_chunk_lookups_total", {{"result", "hit"}}).value_or(0), 4);
  // Label values that have not happened yet are there at 0.
  for (const char* reason : {"crc", "digest", "decompress", "decrypt", "format"}) {
    EXPECT_EQ(FindMetric(text, "chunkcache_decode_errors_total", {{"reason", reason}}), 0)
        << reason;
  }
  for (const char* result : {"hinted_hit", "coalesced"}) {
    EXPECT_TRUE(
        FindMetric(text, "chunkcache_chunk_lookups_total", {{"result", result}}).has_value());
  }
  EXPECT_EQ(FindMetric(text, "chunkcache_upstream_fetches_total",
                       {{"datastore", "store"}, {"result", "corrupt"}}),
            0);
  EXPECT_TRUE(FindMetric(text, "chunkcache_cache_bytes", {{"kind", "pinned"}}).has_value());
  // The fetch queue is idle once the reads are answered; its families exist at 0.
  for (const char* state : {"running", "queued"}) {
    for (const char* kind : {"demand", "prefetch"}) {
      EXPECT_EQ(FindMetric(text, "chunkcache_fetches", {{"state", state}, {"kind", kind}}), 0)
          << state << " " << kind;
    }
  }
  EXPECT_EQ(FindMetric(text, "chunkcache_fetches_refused_total", {{"kind", "demand"}}), 0);
  EXPECT_TRUE(FindMetric(text, "chunkcache_prefetches_held_back_total", {}).has_value());
  EXPECT_TRUE(
      FindMetric(text, "chunkcache_prefetch_chunks_total", {{"result", "wasted"}}).has_value());
  // Never a snapshot, archive or digest in a label.
  EXPECT_EQ(text.find("vm/100"), std::string::npos);
  EXPECT_EQ(text.find("drive-scsi0"), std::string::npos);

  const ProcessResult lint = RunProcess({kPromtool, "check", "metrics"}, {.stdin_text = text});
  EXPECT_EQ(lint.exit_code, 0) << lint.stdout_text << lint.stderr_text;
  EXPECT_EQ(lint.stdout_text + lint.stderr_text, "") << "promtool found problems";
}

TEST_F(ServiceMetricsTest, RealPrometheusScrapesAndAnswersQueries) {
  ASSERT_TRUE(std::filesystem::exists(kPrometheus))
      << kPrometheus
      << " is missing: install Debian's prometheus package (scripts/install-deps.sh)";
  ScratchDir prometheus_dir;
  const int web_port = FreeTcpPort();
  ASSERT_GT(web_port, 0);
  WriteFileBytes(prometheus_dir / "prometheus.yml",
                 absl::StrCat("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                              "scrape_configs:\n  - job_name: chunkcached\n"
                              "    static_configs:\n      - targets: ['127.0.0.1:",
                              server_->metrics_port(), "']\n"));
  std::unique_ptr<BackgroundProcess> prometheus = BackgroundProcess::Start(
      {kPrometheus, "--config.file=" + (prometheus_dir / "prometheus.yml").string(),
       "--storage.tsdb.path=" + (prometheus_dir / "tsdb").string(),
       absl::StrCat("--web.listen-address=127.0.0.1:", web_port), "--log.level=warn"});
  ASSERT_NE(prometheus, nullptr);

  // Query until the scraped sample shows up (Prometheus needs a few seconds to start and scrape).
  std::string body;
  bool found = false;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!found && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    int status = 0;
    body = HttpGet(web_port,
                   "/api/v1/query?query=chunkcache_chunk_lookups_total%7Bresult%3D%22miss%22%7D",
                   &status);
    found = status == 200 && body.find("\"result\":[{") != std::string::npos;
  }
  int status = 0;
  const std::string up = HttpGet(web_port, "/api/v1/query?query=up", &status);
  const std::string fetches = HttpGet(
      web_port, "/api/v1/query?query=sum(chunkcache_upstream_fetches_total%7Bresult%3D%22ok%22%7D)",
      &status);
  EXPECT_EQ(prometheus->Stop(SIGTERM), 0) << prometheus->Stderr();

  ASSERT_TRUE(found) << "Prometheus never returned chunkcache_chunk_lookups_total: " << body << "\n"
                     << prometheus->Stderr();
  EXPECT_NE(body.find("\"__name__\":\"chunkcache_chunk_lookups_total\""), std::string::npos)
      << body;
  EXPECT_NE(body.find("\"value\":["), std::string::npos) << body;
  EXPECT_NE(body.find("\"2\"]"), std::string::npos) << "two misses: " << body;
  EXPECT_NE(up.find("\"1\"]"), std::string::npos) << up;
  EXPECT_NE(fetches.find("\"2\"]"), std::string::npos) << fetches;
}

}  // namespace
}  // namespace chunkcache::testing

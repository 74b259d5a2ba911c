// chunkcached's configuration: sizes, addresses, the JSON file, flag overrides, validation
// errors that name the field, token hashing, authorization rules, status mapping and the cache
// metric families; and the binary's own answers to bad configurations.
#include <gtest/gtest.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cache/eviction_policy.h"
#include "service/byte_size.h"
#include "service/cache_stats_collector.h"
#include "service/client_authorizer.h"
#include "service/command_line.h"
#include "service/config_file.h"
#include "service/listen_address.h"
#include "service/server_settings.h"
#include "service/status_mapping.h"
#include "service/token_hash.h"
#include "tests/service/service_test_env.h"

namespace chunkcache::testing {
namespace {

bool Mentions(const absl::Status& status, std::string_view text) {
  return absl::StrContains(status.message(), absl::string_view(text.data(), text.size()));
}

TEST(ServiceByteSizeTest, ParsesUnitsAndRejectsTheRest) {
  EXPECT_EQ(*ParseByteSize("4096", "f"), 4096u);
  EXPECT_EQ(*ParseByteSize("256MiB", "f"), 256ull << 20);
  EXPECT_EQ(*ParseByteSize("8GiB", "f"), 8ull << 30);
  EXPECT_EQ(*ParseByteSize("8 gib", "f"), 8ull << 30);
  EXPECT_EQ(*ParseByteSize("64k", "f"), 64ull << 10);
  EXPECT_EQ(*ParseByteSize("1GB", "f"), 1000000000ull);
  EXPECT_EQ(*ParseByteSize("2T", "f"), 2ull << 40);
  for (const char* bad :
       {"", "MiB", "-1", "1.5GiB", "12XB", "99999999999999999999", "17179869184GiB"}) {
    absl::StatusOr<uint64_t> parsed = ParseByteSize(bad, "cache.capacity");
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_TRUE(Mentions(parsed.status(), "cache.capacity")) << parsed.status();
  }
  EXPECT_EQ(FormatByteSize(4ull << 20), "4MiB");
  EXPECT_EQ(FormatByteSize(5000), "5000B");
  EXPECT_EQ(FormatByteSize(3ull << 30), "3GiB");
}

TEST(ServiceListenAddressTest, FormsAndLoopback) {
  absl::StatusOr<ListenAddress> v4 = ParseListenAddress("127.0.0.1:0", "listen", true);
  ASSERT_TRUE(v4.ok());
  EXPECT_TRUE(v4->loopback());
  EXPECT_EQ(v4->WithPort(7070), "127.0.0.1:7070");
  absl::StatusOr<ListenAddress> v6 = ParseListenAddress("[::1]:9000", "listen", true);
  ASSERT_TRUE(v6.ok());
  EXPECT_TRUE(v6->loopback());
  EXPECT_EQ(v6->WithPort(1), "[::1]:1");
  EXPECT_FALSE(ParseListenAddress("0.0.0.0:7070", "listen", true)->loopback());
  EXPECT_TRUE(ParseListenAddress("unix:/run/cc.sock", "listen", true)->loopback());
  EXPECT_FALSE(ParseListenAddress("unix:/run/cc.sock", "metrics_listen", false).ok());
  for (const char* bad : {"7070", ":7070", "host:", "host:99999", "::1:70", "host:7x"}) {
    absl::StatusOr<ListenAddress> parsed = ParseListenAddress(bad, "listen", true);
    EXPECT_FALSE(parsed.ok()) << bad;
  }
}

TEST(ServiceListenAddressTest, LoopbackIsJudgedByTheResolvedAddressesNotTheText) {
  for (const char* local : {"127.0.0.1:0", "127.3.2.1:7070", "[::1]:7070", "localhost:7070",
                            "[::ffff:127.0.0.1]:7070"}) {
    absl::StatusOr<ListenAddress> address = ParseListenAddress(local, "listen", true);
    ASSERT_TRUE(address.ok()) << local;
    EXPECT_TRUE(address->loopback()) << local;
  }
  // Names that look local but do not resolve (or resolve elsewhere) are not loopback, nor are
  // addresses of other interfaces.
  for (const char* remote :
       {"127.example.net:7070", "127.0.0.1.invalid:7070", "localhost.invalid:7070", "0.0.0.0:7070",
        "[::]:7070", "[::ffff:10.0.0.1]:7070", "10.0.0.1:7070"}) {
    absl::StatusOr<ListenAddress> address = ParseListenAddress(remote, "listen", true);
    ASSERT_TRUE(address.ok()) << remote;
    EXPECT_FALSE(address->loopback()) << remote;
  }
}

TEST(ServiceConfigFileTest, UnknownFieldsAndWrongTypesNameTheField) {
  absl::StatusOr<v1::Config> typo = ParseConfigJson(R"({"listne": "127.0.0.1:1"})", "c.json");
  EXPECT_EQ(typo.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Mentions(typo.status(), "listne")) << typo.status();
  EXPECT_TRUE(Mentions(typo.status(), "c.json")) << typo.status();
  absl::StatusOr<v1::Config> nested =
      ParseConfigJson(R"({"cache": {"capacity": "1GiB", "sise": 3}})", "c.json");
  EXPECT_TRUE(Mentions(nested.status(), "sise")) << nested.status();
  EXPECT_FALSE(ParseConfigJson(R"({"datastores": "store1"})", "c.json").ok());
  EXPECT_FALSE(ParseConfigJson(R"({"shutdownGraceSeconds": "soon"})", "c.json").ok());
  EXPECT_FALSE(ParseConfigJson("{", "c.json").ok());
  absl::StatusOr<v1::Config> both_spellings = ParseConfigJson(
      R"({"metricsListen": "none", "max_read_bytes": "1MiB", "cache": {"maxHintedBytes": "1MiB"}})",
      "c.json");
  ASSERT_TRUE(both_spellings.ok()) << both_spellings.status();
  EXPECT_EQ(both_spellings->metrics_listen(), "none");
  EXPECT_EQ(both_spellings->max_read_bytes(), "1MiB");
  EXPECT_EQ(LoadConfigFile("/nonexistent/chunkcached.json").status().code(),
            absl::StatusCode::kNotFound);
}

v1::Config MinimalConfig() {
  v1::Config config;
  v1::DatastoreConfig* datastore = config.add_datastores();
  datastore->set_name("store");
  datastore->set_path("/srv/pbs");
  return config;
}

// Every policy name the cache knows is accepted by the service, the index-aware one included.
TEST(ServiceSettingsTest, EveryEvictionPolicyIsAccepted) {
  for (std::string_view name : EvictionPolicyNames()) {
    v1::Config config = MinimalConfig();
    config.mutable_cache()->set_policy(std::string(name));
    absl::StatusOr<ServerSettings> settings = ResolveSettings(config);
    ASSERT_TRUE(settings.ok()) << name << ": " << settings.status();
    EXPECT_EQ(settings->cache.policy, name);
  }
  const std::vector<std::string_view> names = EvictionPolicyNames();
  EXPECT_NE(std::find(names.begin(), names.end(), "index"), names.end());
}

TEST(ServiceSettingsTest, DefaultsAreFilledIn) {
  absl::StatusOr<ServerSettings> settings = ResolveSettings(MinimalConfig());
  ASSERT_TRUE(settings.ok()) << settings.status();
  EXPECT_EQ(settings->listen.text, "127.0.0.1:7070");
  ASSERT_TRUE(settings->metrics_listen.has_value());
  EXPECT_EQ(settings->metrics_listen->text, "127.0.0.1:9470");
  EXPECT_EQ(settings->cache.cache_dir, "/var/cache/chunkcache");
  EXPECT_EQ(settings->cache.capacity_bytes, 1ull << 30);
  EXPECT_EQ(settings->cache.policy, DefaultEvictionPolicyName());
  EXPECT_EQ(settings->max_read_bytes, 4ull << 20);
  EXPECT_EQ(settings->sessions.max_read_bytes, 4ull << 20);
  EXPECT_EQ(settings->shutdown_grace, absl::Seconds(10));
  EXPECT_EQ(settings->log_level, "info");
  EXPECT_FALSE(settings->authorizer->enabled());
  EXPECT_TRUE(settings->sessions.readahead.enabled);
  EXPECT_EQ(settings->sessions.max_open_index_bytes, 512ull << 20);
  EXPECT_EQ(settings->sessions.max_reader_streams, 16u);
  v1::Config more_streams = MinimalConfig();
  more_streams.mutable_sessions()->set_max_reader_streams(64);
  EXPECT_EQ(ResolveSettings(more_streams)->sessions.max_reader_streams, 64u);
  EXPECT_EQ(settings->cache.max_policy_streams, 64u);
  more_streams.mutable_sessions()->set_max_policy_streams(8);
  EXPECT_EQ(ResolveSettings(more_streams)->cache.max_policy_streams, 8u);
  const std::string summary = settings->Summary();
  for (const char* part : {"listen=127.0.0.1:7070", "datastores=store:/srv/pbs", "cache_bytes=1GiB",
                           "max_read_bytes=4MiB", "tls=off", "clients=0"}) {
    EXPECT_NE(summary.find(part), std::string::npos) << summary;
  }
  v1::Config no_metrics = MinimalConfig();
  no_metrics.set_metrics_listen("none");
  EXPECT_FALSE(ResolveSettings(no_metrics)->metrics_listen.has_value());
}

TEST(ServiceSettingsTest, ReadaheadUnderDemandDefaultsToOneAndZeroIsKept) {
  absl::StatusOr<ServerSettings> settings = ResolveSettings(MinimalConfig());
  ASSERT_TRUE(settings.ok()) << settings.status();
  EXPECT_EQ(settings->cache.max_readahead_fetches_under_demand, 1u);
  EXPECT_EQ(settings->cache.readahead_yield_window_fetch_times, 0.0);
  // 0 (readahead stops while a random reader waits) is a setting, not "unset".
  v1::Config stop = MinimalConfig();
  stop.mutable_cache()->set_max_readahead_fetches_under_demand(0);
  settings = ResolveSettings(stop);
  ASSERT_TRUE(settings.ok()) << settings.status();
  EXPECT_EQ(settings->cache.max_readahead_fetches_under_demand, 0u);
  v1::Config four = MinimalConfig();
  four.mutable_cache()->set_max_readahead_fetches_under_demand(4);
  EXPECT_EQ(ResolveSettings(four)->cache.max_readahead_fetches_under_demand, 4u);
  // The yield window: 0 is kept (no window), a negative one is refused.
  v1::Config no_window = MinimalConfig();
  no_window.mutable_cache()->set_readahead_yield_window_fetch_times(0);
  EXPECT_EQ(ResolveSettings(no_window)->cache.readahead_yield_window_fetch_times, 0.0);
  v1::Config negative = MinimalConfig();
  negative.mutable_cache()->set_readahead_yield_window_fetch_times(-1);
  EXPECT_FALSE(ResolveSettings(negative).ok());
}

TEST(ServiceSettingsTest, InvalidConfigurationsNameWhatIsWrong) {
  struct Case {
    std::string what;
    std::function<void(v1::Config&)> change;
    std::string mentions;
  };
  const std::vector<Case> cases = {
      {"no datastore", [](v1::Config& c) { c.clear_datastores(); }, "--datastore"},
      {"bad datastore name", [](v1::Config& c) { c.mutable_datastores(0)->set_name("../x"); },
       "datastores[0].name"},
      {"duplicate datastore", [](v1::Config& c) { *c.add_datastores() = c.datastores(0); },
       "twice"},
      {"no path", [](v1::Config& c) { c.mutable_datastores(0)->clear_path(); }, "no path"},
      {"password without key",
       [](v1::Config& c) { c.mutable_datastores(0)->set_password_env("PW"); }, "keyfile"},
      {"bad capacity", [](v1::Config& c) { c.mutable_cache()->set_capacity("lots"); },
       "cache.capacity"},
      {"unknown policy", [](v1::Config& c) { c.mutable_cache()->set_policy("fifo-ish"); },
       "known policies"},
      {"hinted over capacity",
       [](v1::Config& c) {
         c.mutable_cache()->set_capacity("64MiB");
         c.mutable_cache()->set_max_hinted_bytes("1GiB");
       },
       "max_hinted_bytes"},
      {"max read 0", [](v1::Config& c) { c.set_max_read_bytes("0"); }, "max_read_bytes"},
      {"no index budget",
       [](v1::Config& c) { c.mutable_sessions()->set_max_open_index_bytes("0"); },
       "sessions.max_open_index_bytes"},
      {"bad index budget",
       [](v1::Config& c) { c.mutable_sessions()->set_max_open_index_bytes("some"); },
       "sessions.max_open_index_bytes"},
      {"max read huge", [](v1::Config& c) { c.set_max_read_bytes("1GiB"); }, "max_read_bytes"},
      {"negative grace", [](v1::Config& c) { c.set_shutdown_grace_seconds(-1); },
       "shutdown_grace_seconds"},
      {"log level", [](v1::Config& c) { c.set_log_level("loud"); }, "log_level"},
      {"bad listen", [](v1::Config& c) { c.set_listen("localhost"); }, "listen"},
      {"remote without auth", [](v1::Config& c) { c.set_listen("0.0.0.0:7070"); },
       "allow_unauthenticated_remote"},
      {"cert without key", [](v1::Config& c) { c.mutable_tls()->set_cert_file("/c.pem"); },
       "key_file"},
      {"require without ca",
       [](v1::Config& c) {
         c.mutable_tls()->set_cert_file("/c.pem");
         c.mutable_tls()->set_key_file("/k.pem");
         c.mutable_tls()->set_require_client_cert(true);
       },
       "client_ca_file"},
      {"client without identity", [](v1::Config& c) { c.add_clients()->add_allow("store"); },
       "token_sha256 or cert_subject"},
      {"client with bad hash",
       [](v1::Config& c) {
         v1::ClientConfig* client = c.add_clients();
         client->set_token_sha256("abc");
         client->add_allow("store");
       },
       "clients[0].token_sha256"},
      {"client allowed an unknown datastore",
       [](v1::Config& c) {
         v1::ClientConfig* client = c.add_clients();
         client->set_token_sha256(TokenSha256Hex("t"));
         client->add_allow("elsewhere");
       },
       "'elsewhere' is not configured"},
      {"client without rules",
       [](v1::Config& c) { c.add_clients()->set_token_sha256(TokenSha256Hex("t")); },
       "no allow rules"},
      {"cert subject without client CA",
       [](v1::Config& c) {
         v1::ClientConfig* client = c.add_clients();
         client->set_cert_subject("CN=a");
         client->add_allow("store");
       },
       "client_ca_file"},
  };
  for (const Case& c : cases) {
    v1::Config config = MinimalConfig();
    c.change(config);
    absl::StatusOr<ServerSettings> settings = ResolveSettings(config);
    EXPECT_EQ(settings.status().code(), absl::StatusCode::kInvalidArgument) << c.what;
    EXPECT_TRUE(Mentions(settings.status(), c.mentions)) << c.what << ": " << settings.status();
  }
  // Remote listening is fine with authentication, or when explicitly allowed.
  v1::Config remote = MinimalConfig();
  remote.set_listen("0.0.0.0:7070");
  remote.set_allow_unauthenticated_remote(true);
  EXPECT_TRUE(ResolveSettings(remote).ok());
  remote.set_allow_unauthenticated_remote(false);
  v1::ClientConfig* client = remote.add_clients();
  client->set_token_sha256(TokenSha256Hex("secret"));
  client->add_allow("store");
  EXPECT_TRUE(ResolveSettings(remote).ok());
}

TEST(ServiceSettingsTest, LoopbackLookingNameWithoutAuthenticationIsRefused) {
  v1::Config config = MinimalConfig();
  config.set_listen("127.example.net:7070");
  absl::StatusOr<ServerSettings> settings = ResolveSettings(config);
  EXPECT_EQ(settings.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Mentions(settings.status(), "allow_unauthenticated_remote")) << settings.status();
  for (const char* local : {"localhost:7070", "127.0.0.1:7070", "[::1]:7070"}) {
    config.set_listen(local);
    EXPECT_TRUE(ResolveSettings(config).ok()) << local;
  }
}

TEST(ServiceCommandLineTest, FlagsOverrideTheFile) {
  ScratchDir dir;
  WriteFileBytes(dir / "c.json", R"({
    "listen": "127.0.0.1:1",
    "datastores": [{"name": "a", "path": "/a"}, {"name": "b", "path": "/b"}],
    "cache": {"capacity": "1GiB", "policy": "lru"}, "logLevel": "debug"})");
  std::vector<std::string> args = {"chunkcached", "--config",    (dir / "c.json").string(),
                                   "--listen",    "127.0.0.1:2", "--datastore",
                                   "b=/b2",       "--datastore", "c=/c",
                                   "--keyfile",   "a=/a.key",    "--cache-bytes",
                                   "256MiB",      "--persist",   "--no-readahead"};
  args.insert(args.end(), {"--max-open-index-bytes", "64MiB", "--policy", "index"});
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  CommandLine flags;
  ASSERT_FALSE(ParseCommandLine(static_cast<int>(argv.size()), argv.data(), &flags).has_value());
  absl::StatusOr<v1::Config> config = BuildConfig(flags);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen(), "127.0.0.1:2");
  ASSERT_EQ(config->datastores_size(), 3);
  EXPECT_EQ(config->datastores(0).keyfile(), "/a.key");
  EXPECT_EQ(config->datastores(1).path(), "/b2");
  EXPECT_EQ(config->datastores(2).name(), "c");
  EXPECT_EQ(config->cache().capacity(), "256MiB");
  EXPECT_EQ(config->cache().policy(), "index");  // the flag over the file's "lru"
  EXPECT_TRUE(config->cache().persist());
  EXPECT_FALSE(config->sessions().readahead());
  EXPECT_EQ(config->sessions().max_open_index_bytes(), "64MiB");
  EXPECT_EQ(config->log_level(), "debug");

  CommandLine unknown_key;
  unknown_key.keyfiles = {"zzz=/k"};
  EXPECT_TRUE(Mentions(BuildConfig(unknown_key).status(), "datastore 'zzz' is not configured"));
  CommandLine malformed;
  malformed.datastores = {"nopath"};
  EXPECT_TRUE(Mentions(BuildConfig(malformed).status(), "NAME=PATH"));
}

TEST(ServiceTokenHashTest, Sha256HexAndConstantTimeMatch) {
  EXPECT_EQ(TokenSha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  absl::StatusOr<TokenHash> parsed =
      ParseTokenHash("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", "f");
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(TokenMatches(TokenSha256("abc"), *parsed));
  EXPECT_FALSE(TokenMatches(TokenSha256("abd"), *parsed));
  EXPECT_FALSE(ParseTokenHash(std::string(64, 'g'), "f").ok());
}

TEST(ServiceAuthorizerTest, NamespaceRulesMatchWholeComponents) {
  google::protobuf::RepeatedPtrField<v1::ClientConfig> clients;
  v1::ClientConfig* team = clients.Add();
  team->set_name("team");
  team->set_token_sha256(TokenSha256Hex("t"));
  team->add_allow("store:a/b");
  team->add_allow("other");
  absl::StatusOr<ClientAuthorizer> authorizer =
      ClientAuthorizer::Create(clients, {"store", "other"});
  ASSERT_TRUE(authorizer.ok()) << authorizer.status();
  ASSERT_TRUE(authorizer->enabled());
  ClientIdentity identity;
  identity.name = "team";
  identity.allow = {{"store", {"a", "b"}}, {"other", {}}};
  EXPECT_TRUE(authorizer->Authorize(&identity, "store", {"a", "b"}).ok());
  EXPECT_TRUE(authorizer->Authorize(&identity, "store", {"a", "b", "c"}).ok());
  EXPECT_EQ(authorizer->Authorize(&identity, "store", {"a", "bc"}).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(authorizer->Authorize(&identity, "store", {"a"}).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(authorizer->Authorize(&identity, "store", {}).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(authorizer->Authorize(&identity, "other", {"x"}).ok());
  EXPECT_EQ(authorizer->Authorize(nullptr, "other", {}).code(), absl::StatusCode::kUnauthenticated);

  google::protobuf::RepeatedPtrField<v1::ClientConfig> bad_rule;
  v1::ClientConfig* bad = bad_rule.Add();
  bad->set_token_sha256(TokenSha256Hex("t"));
  bad->add_allow("store:../x");
  EXPECT_FALSE(ClientAuthorizer::Create(bad_rule, {"store"}).ok());
}

TEST(ServiceStatusMappingTest, SameCodeAndMessage) {
  for (int code = 0; code <= 16; ++code) {
    const absl::Status status(static_cast<absl::StatusCode>(code), code == 0 ? "" : "why");
    const grpc::Status mapped = ToGrpcStatus(status);
    EXPECT_EQ(static_cast<int>(mapped.error_code()), code);
    if (code != 0) {
      EXPECT_EQ(mapped.error_message(), "why");
    }
  }
  EXPECT_EQ(StatusCodeName(absl::StatusCode::kDataLoss), "DATA_LOSS");
}

TEST(ServiceCacheStatsCollectorTest, EveryLabelValueIsPresentFromTheStart) {
  CacheStats stats;
  stats.lookups.miss = 3;
  stats.fetches.push_back({"store", 2, 1, 0, 1234});
  stats.decode_errors[static_cast<size_t>(DecodeErrorReason::kCrc)] = 1;
  const std::vector<prometheus::MetricFamily> families =
      CacheStatsCollector::FamiliesOf(stats, {"store", "idle"});
  auto find = [&](const std::string& name) -> const prometheus::MetricFamily* {
    for (const auto& family : families) {
      if (family.name == name) return &family;
    }
    return nullptr;
  };
  ASSERT_NE(find("chunkcache_chunk_lookups_total"), nullptr);
  EXPECT_EQ(find("chunkcache_chunk_lookups_total")->metric.size(), 4u);
  // Two datastores x three results, the idle one at zero.
  EXPECT_EQ(find("chunkcache_upstream_fetches_total")->metric.size(), 6u);
  EXPECT_EQ(find("chunkcache_upstream_bytes_total")->metric.size(), 2u);
  EXPECT_EQ(find("chunkcache_decode_errors_total")->metric.size(), 5u);
  EXPECT_EQ(find("chunkcache_cache_bytes")->metric.size(), 2u);
  EXPECT_EQ(find("chunkcache_prefetch_chunks_total")->metric.size(), 2u);
  for (const char* gauge : {"chunkcache_cache_capacity_bytes", "chunkcache_cache_entries",
                            "chunkcache_snapshots_open", "chunkcache_evictions_total"}) {
    ASSERT_NE(find(gauge), nullptr) << gauge;
  }
}

// The binary itself: bad configurations fail with exit code 2 and say why; unusable
// datastores and keys with exit code 1.
TEST(ServiceBinaryTest, ConfigurationErrorsAreReportedAndExitNonZero) {
  ScratchDir dir;
  const std::string chunkcached = ChunkcachedBinary().string();
  const std::string vectors = VectorPath("datastore").string();
  struct Case {
    std::vector<std::string> args;
    int exit_code;
    std::string mentions;
  };
  const std::vector<Case> cases = {
      {{"--datastore", "v=" + vectors, "--cache-bytes", "12XB"}, 2, "unknown unit"},
      {{"--datastore", "v=" + vectors, "--keyfile", "w=/k.json"},
       2,
       "datastore 'w' is not configured"},
      {{"--datastore", "v=" + vectors, "--policy", "random"},
       2,
       "unknown eviction policy 'random'"},
      {{"--datastore", "v=" + (dir / "missing").string()}, 1, "missing"},
      {{"--datastore", "v=" + dir.path().string()}, 1, ".chunks"},
      {{"--datastore", "v=" + vectors, "--keyfile", "v=" + (dir / "nokey.json").string()},
       1,
       "nokey.json"},
      {{"--datastore", "v=" + vectors, "--listen", "0.0.0.0:0"}, 2, "allow_unauthenticated_remote"},
      {{"--config", (dir / "absent.json").string()}, 2, "absent.json"},
      {{"--no-such-flag"}, 2, "no-such-flag"},
      {{}, 2, "no datastore configured"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {chunkcached, "--cache-dir", (dir / "cache").string()};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    const ProcessResult result = RunProcess(argv, {.timeout = std::chrono::seconds(60)});
    EXPECT_EQ(result.exit_code, c.exit_code) << absl::StrJoin(c.args, " ") << "\n"
                                             << result.stderr_text;
    EXPECT_NE(result.stderr_text.find(c.mentions), std::string::npos)
        << absl::StrJoin(c.args, " ") << "\n"
        << result.stderr_text;
  }
  const ProcessResult help = RunProcess({chunkcached, "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.stdout_text.find("--metrics-listen"), std::string::npos);
  const ProcessResult check =
      RunProcess({chunkcached, "--check-config", "--datastore", "v=" + vectors, "--keyfile",
                  "v=" + VectorPath("keys/key-none.json").string()});
  EXPECT_EQ(check.exit_code, 0) << check.stderr_text;
  EXPECT_NE(check.stdout_text.find("configuration OK"), std::string::npos) << check.stdout_text;
  EXPECT_NE(check.stderr_text.find("event=datastore_opened datastore=v"), std::string::npos)
      << check.stderr_text;
}

TEST(ServiceBinaryTest, RemoteListenWithAllowUnauthenticatedWarnsAtStartup) {
  std::unique_ptr<ChunkcachedProcess> server =
      ChunkcachedProcess::Start({"--listen", "0.0.0.0:0", "--allow-unauthenticated-remote",
                                 "--datastore", "v=" + VectorPath("datastore").string()});
  ASSERT_NE(server, nullptr);
  const std::string log = server->Log();
  EXPECT_NE(log.find("level=warning event=auth_disabled"), std::string::npos) << log;
  EXPECT_NE(log.find("event=startup"), std::string::npos) << log;
  EXPECT_EQ(server->Stop(SIGTERM), 0) << server->Log();
}

TEST(ServiceBinaryTest, PrintTokenHash) {
  const ProcessResult result =
      RunProcess({ChunkcachedBinary().string(), "--print-token-hash"}, {.stdin_text = "abc\n"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.stdout_text,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n");
  const ProcessResult empty =
      RunProcess({ChunkcachedBinary().string(), "--print-token-hash"}, {.stdin_text = "\n"});
  EXPECT_EQ(empty.exit_code, 2);
}

}  // namespace
}  // namespace chunkcache::testing

// Decode throughput of one 4 MiB chunk of partially compressible, text-like data, with every
// check a reader does (CRC, crypt mode, zstd with cap, length, digest), plain+zstd and
// encrypted+zstd, plus the parts on their own for comparison.
//
//   build/bin/decode_bench                               # Google Benchmark run
//   build/bin/decode_bench --write_chunk_files=DIR        # DIR/chunk.zst, chunk.blob, chunk.bin
//
// bench/decode_vs_zstd_cli.sh compares the first benchmark with `zstd -d | sha256sum`.
#include <benchmark/benchmark.h>
#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "format/blob.h"
#include "format/crypt_config.h"

namespace chunkcache {
namespace {

constexpr size_t kChunkSize = 4 * 1024 * 1024;

// Like a VM disk: mostly text-ish blocks (logs, configs, code) with a quarter of blocks of
// already-compressed or random data. zstd -1 stores it in about 57% of its size.
std::string RealisticChunk() {
  static const char* const kWords[] = {
      "the",     "backup", "server",  "chunk",       "index", "error", "warning", "info",
      "kernel:", "eth0",   "link",    "up",          "down",  "user",  "root",    "session",
      "opened",  "closed", "for",     "uid=0",       "GET",   "POST",  "/api2/",  "200",
      "404",     "500",    "ms",      "bytes",       "from",  "to",    "port",    "ssh2",
      "systemd", "[1]:",   "Started", "Stopped",     "job",   "cron",  "(root)",  "CMD",
      "int",     "return", "if",      "else",        "for",   "while", "{",       "}",
      "static",  "const",  "void",    "std::string", "=",     "==",    "0x",      "NULL"};
  std::mt19937_64 rng(20260101);
  std::string out;
  out.reserve(kChunkSize);
  while (out.size() < kChunkSize) {
    size_t block_end = out.size() + 4096;
    if (rng() % 4 == 0) {
      while (out.size() < block_end) {
        uint64_t v = rng();
        out.append(reinterpret_cast<const char*>(&v), 8);
      }
    } else {
      while (out.size() < block_end) {
        out += "2026-01-0" + std::to_string(rng() % 9 + 1) + " " + std::to_string(rng() % 86400);
        for (int w = 0, n = 4 + rng() % 10; w < n; ++w) {
          out += ' ';
          out += kWords[rng() % (sizeof(kWords) / sizeof(kWords[0]))];
          if (rng() % 5 == 0) out += std::to_string(rng() % 100000);
        }
        out += '\n';
      }
    }
    out.resize(std::min(block_end, kChunkSize));
  }
  return out;
}

const CryptConfig& BenchKey() {
  static const CryptConfig key = [] {
    RawKey raw{};
    for (size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<uint8_t>(i);
    return CryptConfig::FromRawKey(raw);
  }();
  return key;
}

struct Fixture {
  std::string plain = RealisticChunk();
  std::string zstd_blob = EncodeBlob(plain, {}).value();
  std::string encrypted_blob = EncodeBlob(plain, {.key = &BenchKey()}).value();
  ChunkDigest digest = Sha256(plain);
  ChunkDigest encrypted_digest = BenchKey().ChunkDigestOf(plain);
};

const Fixture& TheFixture() {
  static const Fixture fixture;
  return fixture;
}

void DecodeChunk(benchmark::State& state, const std::string& blob, const CryptConfig* key,
                 const ChunkDigest& digest) {
  const Fixture& f = TheFixture();
  BlobDecodeOptions options;
  options.key = key;
  options.expected_digest = digest;
  options.expected_size = f.plain.size();
  options.expected_mode = key != nullptr ? CryptMode::kEncrypt : CryptMode::kNone;
  std::vector<char> arena(f.plain.size());
  for (auto _ : state) {
    absl::StatusOr<size_t> size = DecodeBlobInto(blob, options, absl::MakeSpan(arena));
    if (!size.ok()) {
      state.SkipWithError(std::string(size.status().message()).c_str());
      break;
    }
    benchmark::DoNotOptimize(arena.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * f.plain.size()));
  state.counters["ratio"] = static_cast<double>(blob.size()) / static_cast<double>(f.plain.size());
}

void BM_DecodeZstdChunk(benchmark::State& state) {
  DecodeChunk(state, TheFixture().zstd_blob, nullptr, TheFixture().digest);
}
BENCHMARK(BM_DecodeZstdChunk)->Unit(benchmark::kMillisecond);

void BM_DecodeEncryptedZstdChunk(benchmark::State& state) {
  DecodeChunk(state, TheFixture().encrypted_blob, &BenchKey(), TheFixture().encrypted_digest);
}
BENCHMARK(BM_DecodeEncryptedZstdChunk)->Unit(benchmark::kMillisecond);

// DecodeBlob allocates its result: the price of not decoding into caller memory.
void BM_DecodeZstdChunkToString(benchmark::State& state) {
  const Fixture& f = TheFixture();
  BlobDecodeOptions options;
  options.expected_digest = f.digest;
  options.expected_size = f.plain.size();
  for (auto _ : state) {
    absl::StatusOr<std::string> decoded = DecodeBlob(f.zstd_blob, options);
    benchmark::DoNotOptimize(decoded);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * f.plain.size()));
}
BENCHMARK(BM_DecodeZstdChunkToString)->Unit(benchmark::kMillisecond);

// The parts: digest and CRC alone.
void BM_Sha256Chunk(benchmark::State& state) {
  const Fixture& f = TheFixture();
  for (auto _ : state) benchmark::DoNotOptimize(Sha256(f.plain));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * f.plain.size()));
}
BENCHMARK(BM_Sha256Chunk)->Unit(benchmark::kMillisecond);

void BM_Crc32CompressedChunk(benchmark::State& state) {
  const Fixture& f = TheFixture();
  for (auto _ : state) {
    benchmark::DoNotOptimize(crc32_z(0, reinterpret_cast<const Bytef*>(f.zstd_blob.data() + 12),
                                     f.zstd_blob.size() - 12));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * (f.zstd_blob.size() - 12)));
}
BENCHMARK(BM_Crc32CompressedChunk)->Unit(benchmark::kMillisecond);

void BM_EncodeZstdChunk(benchmark::State& state) {
  const Fixture& f = TheFixture();
  for (auto _ : state) benchmark::DoNotOptimize(EncodeBlob(f.plain, {}));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * f.plain.size()));
}
BENCHMARK(BM_EncodeZstdChunk)->Unit(benchmark::kMillisecond);

bool WriteFile(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(out);
}

}  // namespace
}  // namespace chunkcache

int main(int argc, char** argv) {
  constexpr std::string_view kWriteFlag = "--write_chunk_files=";
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.substr(0, kWriteFlag.size()) != kWriteFlag) continue;
    std::string dir(arg.substr(kWriteFlag.size()));
    const chunkcache::Fixture& f = chunkcache::TheFixture();
    bool ok = chunkcache::WriteFile(dir + "/chunk.zst", std::string_view(f.zstd_blob).substr(12)) &&
              chunkcache::WriteFile(dir + "/chunk.blob", f.zstd_blob) &&
              chunkcache::WriteFile(dir + "/chunk.bin", f.plain);
    if (!ok) {
      std::cerr << "cannot write the chunk files into " << dir << "\n";
      return 1;
    }
    std::cout << "chunk " << f.plain.size() << " bytes, zstd frame " << f.zstd_blob.size() - 12
              << " bytes, sha256 " << f.digest.Hex() << "\n";
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

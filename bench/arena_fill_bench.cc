// arena_fill_bench: the CPU cost of filling fresh pages of a cache arena file, by three ways of
// writing a chunk into it (bench/RESULTS.md, "Restores from a PBS server"):
//
//   mmap      fallocate the chunk's range, then copy through the shared mapping: every 4 KiB
//             page takes a write fault that reads (zeroes) the unwritten page first. What
//             CacheCore does today (the decoder writes straight into the mapping).
//   populate  fallocate, MADV_POPULATE_WRITE the range (one system call instead of a fault per
//             page), then copy through the mapping.
//   pwrite    fallocate, copy into a reused, already-faulted staging buffer (where a decoder
//             would write), then pwrite it into the file: whole-page writes into the page cache
//             are not zeroed first and take no fault.
//
// Each is measured twice: on *fresh* memory (after --settle seconds of idle, as the restore
// benchmarks start, when this VM has handed freed memory back to its host) and on *recycled*
// memory (right after another arena of the same size was filled and freed). Every mode
// reads one byte per page back through the mapping, as a cache hit would. Rounds alternate the
// modes; the table gives medians of CPU seconds (utime + stime) per GiB and each mode's ratio
// to mmap.
//
//   arena_fill_bench --dir /var/tmp --size 1GiB --rounds 5 --settle 5
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"

namespace {

#ifndef MADV_POPULATE_WRITE
constexpr int MADV_POPULATE_WRITE = 23;  // Linux 5.14; older headers lack it
#endif

constexpr size_t kChunk = size_t{4} << 20;

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Fills `size` bytes of a new unnamed arena file in `dir` by `mode`; returns CPU seconds, or
// a negative number when the mode is not supported here.
double Fill(const std::string& dir, size_t size, const std::string& mode) {
  const int fd = open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0 || ftruncate(fd, static_cast<off_t>(size)) != 0) {
    std::perror("arena file");
    std::exit(1);
  }
  char* base = static_cast<char*>(
      mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0));
  if (base == MAP_FAILED) {
    std::perror("mmap");
    std::exit(1);
  }
  // The decoded chunk, and the staging buffer a decoder would write into: both faulted in
  // before the clock starts, as a worker's reused buffer would be.
  static std::vector<char> source(kChunk, 7);
  static std::vector<char> staging(kChunk, 1);
  double result = 0;
  const double start = CpuSeconds();
  volatile char sink = 0;
  for (size_t offset = 0; offset < size; offset += kChunk) {
    if (fallocate(fd, 0, static_cast<off_t>(offset), kChunk) != 0) {
      std::perror("fallocate");
      std::exit(1);
    }
    if (mode == "populate") {
      if (madvise(base + offset, kChunk, MADV_POPULATE_WRITE) != 0) {
        result = -1;
        break;
      }
    }
    if (mode == "pwrite") {
      std::memcpy(staging.data(), source.data(), kChunk);
      if (pwrite(fd, staging.data(), kChunk, static_cast<off_t>(offset)) !=
          static_cast<ssize_t>(kChunk)) {
        std::perror("pwrite");
        std::exit(1);
      }
    } else {
      std::memcpy(base + offset, source.data(), kChunk);
    }
    for (size_t page = 0; page < kChunk; page += 4096) sink = sink + base[offset + page];
  }
  if (result == 0) result = CpuSeconds() - start;
  munmap(base, size);
  close(fd);
  return result;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"CPU cost of filling fresh pages of an arena file, by three write paths"};
  std::string dir = "/var/tmp";
  std::string size_text = "1GiB";
  int rounds = 5;
  double settle = 5;
  app.add_option("--dir", dir, "Where the unnamed arena files go (a disk file system)");
  app.add_option("--size", size_text, "Bytes filled per measurement (a multiple of 4 MiB)");
  app.add_option("--rounds", rounds, "Measurements of each mode and memory state");
  app.add_option("--settle", settle, "Idle seconds before each fresh-memory measurement");
  CLI11_PARSE(app, argc, argv);
  size_t size = std::stoull(size_text);
  if (size_text.ends_with("GiB")) size <<= 30;
  if (size_text.ends_with("MiB")) size <<= 20;
  size = std::max(kChunk, size / kChunk * kChunk);

  const std::vector<std::string> modes = {"mmap", "populate", "pwrite"};
  std::map<std::string, std::vector<double>> fresh, recycled;
  for (int round = 0; round < rounds; ++round) {
    for (const std::string& mode : modes) {
      std::this_thread::sleep_for(std::chrono::duration<double>(settle));
      fresh[mode].push_back(Fill(dir, size, mode));
      Fill(dir, size, "mmap");  // memory for the next measurement to recycle
      recycled[mode].push_back(Fill(dir, size, mode));
      std::fprintf(stderr, "round %d %s: fresh %.3f s, recycled %.3f s\n", round + 1, mode.c_str(),
                   fresh[mode].back(), recycled[mode].back());
    }
  }
  const double gib = static_cast<double>(size) / (1 << 30);
  std::printf("| write path | memory | CPU s per GiB | ÷ mmap | runs (CPU s) |\n");
  std::printf("|---|---|---|---|---|\n");
  for (const auto* state : {&fresh, &recycled}) {
    const double base = Median(state->at("mmap")) / gib;
    for (const std::string& mode : modes) {
      const std::vector<double>& runs = state->at(mode);
      if (*std::min_element(runs.begin(), runs.end()) < 0) {
        std::printf("| %s | %s | not supported | | |\n", mode.c_str(),
                    state == &fresh ? "fresh" : "recycled");
        continue;
      }
      std::string all;
      for (double run : runs) all += (all.empty() ? "" : " ") + std::to_string(run).substr(0, 5);
      const double per_gib = Median(runs) / gib;
      std::printf("| %s | %s | %.2f | %.2f | %s |\n", mode.c_str(),
                  state == &fresh ? "fresh" : "recycled", per_gib, per_gib / base, all.c_str());
    }
  }
  return 0;
}

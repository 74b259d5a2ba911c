// Helpers shared by the tests: where the shared vectors live, scratch directories, files.
#ifndef CHUNKCACHE_TESTS_TESTING_TEST_ENV_H_
#define CHUNKCACHE_TESTS_TESTING_TEST_ENV_H_

#include <filesystem>
#include <string>
#include <string_view>

namespace chunkcache::testing {

// ../shared (spec/vectors, traces), as configured at build time.
std::filesystem::path SharedDir();
// SharedDir()/spec/vectors/<relative>.
std::filesystem::path VectorPath(std::string_view relative);
// build/bin, where chunkcache and chunkcached are.
std::filesystem::path BinDir();

// Whole file as bytes; fails the current test (and returns "") when unreadable.
std::string ReadFileBytes(const std::filesystem::path& path);
void WriteFileBytes(const std::filesystem::path& path, std::string_view bytes);

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Deterministic pseudo-random bytes (for images whose chunks must all differ).
std::string PseudoRandomBytes(size_t size, uint64_t seed);

// An image of `chunks` distinct chunks of `chunk_size` bytes that compress well: chunk i is a
// 64 KiB pseudo-random pattern (seed `seed` + i) repeated, so datastores build fast.
std::string RepeatedPatternImage(uint64_t chunks, uint64_t chunk_size, uint64_t seed);

}  // namespace chunkcache::testing

#endif  // CHUNKCACHE_TESTS_TESTING_TEST_ENV_H_

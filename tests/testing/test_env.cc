#include "tests/testing/test_env.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

namespace chunkcache::testing {

std::filesystem::path SharedDir() { return CHUNKCACHE_SHARED_DIR; }

std::filesystem::path VectorPath(std::string_view relative) {
  return SharedDir() / "spec" / "vectors" / relative;
}

std::filesystem::path BinDir() { return CHUNKCACHE_BIN_DIR; }

std::string ReadFileBytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot read " << path;
    return "";
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteFileBytes(const std::filesystem::path& path, std::string_view bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) ADD_FAILURE() << "cannot write " << path;
}

ScratchDir::ScratchDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/chunkcache-test-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed for " << templ;
  path_ = templ;
}

ScratchDir::~ScratchDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string PseudoRandomBytes(size_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(size, '\0');
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t v = rng();
    std::memcpy(out.data() + i, &v, 8);
  }
  for (; i < size; ++i) out[i] = static_cast<char>(rng());
  return out;
}

std::string RepeatedPatternImage(uint64_t chunks, uint64_t chunk_size, uint64_t seed) {
  std::string image;
  image.reserve(chunks * chunk_size);
  for (uint64_t chunk = 0; chunk < chunks; ++chunk) {
    const std::string pattern = PseudoRandomBytes(64 * 1024, seed + chunk);
    while (image.size() < (chunk + 1) * chunk_size) {
      image.append(pattern, 0,
                   std::min<uint64_t>(pattern.size(), (chunk + 1) * chunk_size - image.size()));
    }
  }
  return image;
}

}  // namespace chunkcache::testing

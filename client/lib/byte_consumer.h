// ByteConsumer: receives the bytes of a range read, piece by piece and in order. `offset` is
// the archive offset of bytes[0]; the pieces are consecutive. Returning an error stops the
// read, and the read returns that error.
//
//   ByteConsumer to_stdout = [](uint64_t, std::string_view bytes) {
//     return WriteAll(STDOUT_FILENO, bytes);
//   };
#ifndef CHUNKCACHE_CLIENT_LIB_BYTE_CONSUMER_H_
#define CHUNKCACHE_CLIENT_LIB_BYTE_CONSUMER_H_

#include <cstdint>
#include <functional>
#include <string_view>

#include "absl/status/status.h"

namespace chunkcache {

using ByteConsumer = std::function<absl::Status(uint64_t offset, std::string_view bytes)>;

}  // namespace chunkcache

#endif  // CHUNKCACHE_CLIENT_LIB_BYTE_CONSUMER_H_

// How `chunkcache stat` prints a SnapshotInfo: aligned "field  value" lines for people
// (byte counts also in KiB/MiB/GiB), or a JSON object with the proto field names and numbers
// as JSON numbers (not the strings proto3's JSON mapping uses for 64-bit fields), for jq.
//
//   size             10737418240 (10.00 GiB)
//   chunk_size       4194304 (4.00 MiB)
//   chunk_count      2560
//   ...
//   {"size":10737418240,"chunk_size":4194304,"chunk_count":2560,...}
#ifndef CHUNKCACHE_CLIENT_CLI_SNAPSHOT_INFO_FORMAT_H_
#define CHUNKCACHE_CLIENT_CLI_SNAPSHOT_INFO_FORMAT_H_

#include <string>

#include "chunkcache/v1/chunkcache.pb.h"

namespace chunkcache {

std::string FormatSnapshotInfoText(const v1::SnapshotInfo& info);
std::string FormatSnapshotInfoJson(const v1::SnapshotInfo& info);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CLIENT_CLI_SNAPSHOT_INFO_FORMAT_H_

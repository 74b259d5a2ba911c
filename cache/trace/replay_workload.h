// ReplayWorkload: chunk accesses plus what a cache that knows its readers' streams would be
// told between them (cache/stream_knowledge.h): streams opening, moving, skipping positions
// and closing. Policies without StreamKnowledge replay the accesses alone; OPT needs neither,
// it reads the future from the accesses themselves.
//
//   ReplayWorkload workload = ModelQemuLiveRestore(requests, {})->workload;
//   size_t next_event = 0;
//   for (uint64_t i = 0; i < workload.accesses.size(); ++i) {
//     ApplyStreamEvents(workload, i, &next_event, policy->stream_knowledge());
//     ... replay workload.accesses[i] ...
//   }
#ifndef CHUNKCACHE_CACHE_TRACE_REPLAY_WORKLOAD_H_
#define CHUNKCACHE_CACHE_TRACE_REPLAY_WORKLOAD_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "cache/stream_knowledge.h"
#include "cache/trace/replay_access.h"

namespace chunkcache {

struct StreamEvent {
  enum class Kind { kOpen, kMove, kSkip, kClose, kTime };
  Kind kind = Kind::kMove;
  // The event takes effect before accesses[before_access] (== accesses.size(): at the end).
  uint64_t before_access = 0;
  StreamId stream = 0;
  uint64_t position = 0;  // kOpen, kMove: the cursor; kSkip: the skipped position
  // kOpen only: the stream's order of chunk ids (ChunkKeyForId gives their digests) and speed.
  std::shared_ptr<const StreamOrder> order;
  double speed = 1;
  double time = 0;  // kTime: the workload's clock (the unit of the speeds)
};

struct ReplayWorkload {
  std::vector<ReplayAccess> accesses;
  std::vector<StreamEvent> events;  // by before_access, ascending

  // Appends an event taking effect before the next access appended.
  void AddEvent(StreamEvent event) {
    event.before_access = accesses.size();
    events.push_back(std::move(event));
  }
};

// The digests of chunk ids first .. first + count - 1, in order: an archive whose position i
// holds chunk id first + i.
std::shared_ptr<const StreamOrder> SequentialOrder(uint64_t first, uint64_t count);

// Feeds every event whose before_access is `access_index` (starting at *next_event) to
// `knowledge` (nullptr: only skips them), advancing *next_event.
void ApplyStreamEvents(const ReplayWorkload& workload, uint64_t access_index, size_t* next_event,
                       StreamKnowledge* knowledge);

}  // namespace chunkcache

#endif  // CHUNKCACHE_CACHE_TRACE_REPLAY_WORKLOAD_H_

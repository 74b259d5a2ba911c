#include "cache/trace/replay_workload.h"

#include "cache/trace/chunk_key.h"

namespace chunkcache {

std::shared_ptr<const StreamOrder> SequentialOrder(uint64_t first, uint64_t count) {
  auto order = std::make_shared<StreamOrder>();
  order->reserve(count);
  for (uint64_t i = 0; i < count; ++i) order->push_back(ChunkKeyForId(first + i));
  return order;
}

void ApplyStreamEvents(const ReplayWorkload& workload, uint64_t access_index, size_t* next_event,
                       StreamKnowledge* knowledge) {
  while (*next_event < workload.events.size() &&
         workload.events[*next_event].before_access <= access_index) {
    const StreamEvent& event = workload.events[(*next_event)++];
    if (knowledge == nullptr) continue;
    switch (event.kind) {
      case StreamEvent::Kind::kOpen:
        knowledge->OpenStream(event.stream, event.order, event.position, StreamDirection::kForward,
                              event.speed);
        break;
      case StreamEvent::Kind::kMove:
        knowledge->MoveStream(event.stream, event.position);
        break;
      case StreamEvent::Kind::kSkip:
        knowledge->SkipPosition(event.stream, event.position);
        break;
      case StreamEvent::Kind::kClose:
        knowledge->CloseStream(event.stream);
        break;
      case StreamEvent::Kind::kTime:
        knowledge->SetTime(event.time);
        break;
    }
  }
}

}  // namespace chunkcache

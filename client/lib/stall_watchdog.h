// StallWatchdog: cancels a streaming call that stops making progress. A StreamRange call over a
// whole archive cannot have a fixed deadline (it lasts as long as the archive takes), but a
// server or network that goes silent must not hang the client forever: the watchdog calls
// TryCancel on the context when no progress was noted for `timeout`.
//
//   grpc::ClientContext context;
//   StallWatchdog watchdog(&context, std::chrono::seconds(30));
//   while (reader->Read(&response)) { watchdog.NoteProgress(); ... }
//   grpc::Status status = reader->Finish();
//   if (watchdog.fired()) { ... stalled: report DEADLINE_EXCEEDED ... }
#ifndef CHUNKCACHE_CLIENT_LIB_STALL_WATCHDOG_H_
#define CHUNKCACHE_CLIENT_LIB_STALL_WATCHDOG_H_

#include <grpcpp/client_context.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace chunkcache {

class StallWatchdog {
 public:
  // `context` must outlive the watchdog.
  StallWatchdog(grpc::ClientContext* context, std::chrono::milliseconds timeout);
  ~StallWatchdog();  // stops watching; never cancels after this
  StallWatchdog(const StallWatchdog&) = delete;
  StallWatchdog& operator=(const StallWatchdog&) = delete;

  // False when no watching thread could be started (the system is out of threads); the
  // caller should then not start the call.
  bool started() const { return thread_.joinable(); }
  void NoteProgress();
  bool fired() const;

 private:
  void Watch();

  grpc::ClientContext* context_;
  const std::chrono::milliseconds timeout_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::chrono::steady_clock::time_point last_progress_;  // guarded by mutex_
  bool stopping_ = false;                                // guarded by mutex_
  bool fired_ = false;                                   // guarded by mutex_
  std::thread thread_;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_CLIENT_LIB_STALL_WATCHDOG_H_

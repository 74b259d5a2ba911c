// EventLoop: one thread waiting in epoll for its sockets, running their handlers, the tasks
// other threads post to it, and a tick every second (for timeouts). The NBD server runs a
// small fixed number of them; every connection lives on one loop, so its state needs no lock.
// Handlers must never block: a stalled client only leaves its socket unwritable.
//
//   std::unique_ptr<EventLoop> loop = *EventLoop::Create();
//   loop->Start();
//   loop->Post([&] { loop->Add(fd, EPOLLIN, handler); });   // Add/Modify/Remove: loop thread
//   loop->Stop();                                          // joins; drops the handlers
//
// TaskQueue is the posting end, shared with whatever may outlive the loop (cache callbacks):
// a task posted after the loop stopped is destroyed at once, on the posting thread.
#ifndef CHUNKCACHE_NBD_EVENT_LOOP_H_
#define CHUNKCACHE_NBD_EVENT_LOOP_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace chunkcache::nbd {

class EventHandler {
 public:
  virtual ~EventHandler() = default;
  virtual void OnEvents(uint32_t events) = 0;  // epoll events of its fd
  virtual void OnTick(absl::Time /*now*/) {}
  // Server shutdown: first finish gracefully, then (after the grace period) stop now.
  virtual void OnDrain() {}
  virtual void OnForceClose() {}
};

class TaskQueue {
 public:
  explicit TaskQueue(int wake_fd) : wake_fd_(wake_fd) {}
  // False (and `task` destroyed here) once the loop has stopped.
  bool Post(absl::AnyInvocable<void()> task);

 private:
  friend class EventLoop;
  std::vector<absl::AnyInvocable<void()>> Take();
  void Close();

  const int wake_fd_;
  std::mutex mu_;
  std::vector<absl::AnyInvocable<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

class EventLoop {
 public:
  static absl::StatusOr<std::unique_ptr<EventLoop>> Create();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  void Start();
  // Runs the tasks already posted, then stops the thread and drops every handler.
  void Stop();

  void Post(absl::AnyInvocable<void()> task) { queue_->Post(std::move(task)); }
  const std::shared_ptr<TaskQueue>& queue() const { return queue_; }

  // Loop thread only. The loop holds `handler` until Remove(fd).
  void Add(int fd, uint32_t events, std::shared_ptr<EventHandler> handler);
  void Modify(int fd, uint32_t events);
  void Remove(int fd);
  // Loop thread only: every handler registered now.
  std::vector<std::shared_ptr<EventHandler>> Handlers() const;

 private:
  EventLoop(int epoll_fd, int wake_fd);
  void Run();
  void RunTasks();

  const int epoll_fd_;
  const int wake_fd_;
  std::shared_ptr<TaskQueue> queue_;
  std::thread thread_;
  bool stopping_ = false;  // loop thread only, set by a posted task
  absl::flat_hash_map<int, std::shared_ptr<EventHandler>> handlers_;  // loop thread only
};

}  // namespace chunkcache::nbd

#endif  // CHUNKCACHE_NBD_EVENT_LOOP_H_

#include "nbd/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace chunkcache::nbd {
namespace {

constexpr int kMaxEvents = 128;
constexpr int kTickMillis = 1000;

}  // namespace

bool TaskQueue::Post(absl::AnyInvocable<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!closed_) {
      tasks_.push_back(std::move(task));
      const uint64_t one = 1;
      (void)!write(wake_fd_, &one, sizeof(one));
      return true;
    }
  }
  task = nullptr;  // outside the lock: it may release chunk pins
  return false;
}

std::vector<absl::AnyInvocable<void()>> TaskQueue::Take() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::move(tasks_);
}

void TaskQueue::Close() {
  std::vector<absl::AnyInvocable<void()>> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    dropped = std::move(tasks_);
  }
}

absl::StatusOr<std::unique_ptr<EventLoop>> EventLoop::Create() {
  const int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) {
    return absl::InternalError(absl::StrCat("epoll_create1: ", std::strerror(errno)));
  }
  const int wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) {
    close(epoll_fd);
    return absl::InternalError(absl::StrCat("eventfd: ", std::strerror(errno)));
  }
  return std::unique_ptr<EventLoop>(new EventLoop(epoll_fd, wake_fd));
}

EventLoop::EventLoop(int epoll_fd, int wake_fd)
    : epoll_fd_(epoll_fd), wake_fd_(wake_fd), queue_(std::make_shared<TaskQueue>(wake_fd)) {
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.fd = wake_fd_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &event);
}

EventLoop::~EventLoop() {
  Stop();
  close(wake_fd_);
  close(epoll_fd_);
}

void EventLoop::Start() {
  thread_ = std::thread([this] { Run(); });
}

void EventLoop::Stop() {
  if (!thread_.joinable()) {
    queue_->Close();
    return;
  }
  Post([this] { stopping_ = true; });
  thread_.join();
  queue_->Close();
  handlers_.clear();
}

void EventLoop::Add(int fd, uint32_t events, std::shared_ptr<EventHandler> handler) {
  epoll_event event{};
  event.events = events;
  event.data.fd = fd;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) == 0) handlers_[fd] = std::move(handler);
}

void EventLoop::Modify(int fd, uint32_t events) {
  epoll_event event{};
  event.events = events;
  event.data.fd = fd;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &event);
}

void EventLoop::Remove(int fd) {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  handlers_.erase(fd);
}

std::vector<std::shared_ptr<EventHandler>> EventLoop::Handlers() const {
  std::vector<std::shared_ptr<EventHandler>> all;
  all.reserve(handlers_.size());
  for (const auto& [fd, handler] : handlers_) all.push_back(handler);
  return all;
}

void EventLoop::RunTasks() {
  uint64_t count = 0;
  (void)!read(wake_fd_, &count, sizeof(count));
  for (absl::AnyInvocable<void()>& task : queue_->Take()) task();
}

void EventLoop::Run() {
  epoll_event events[kMaxEvents];
  absl::Time next_tick = absl::Now() + absl::Milliseconds(kTickMillis);
  while (!stopping_) {
    const int ready = epoll_wait(epoll_fd_, events, kMaxEvents, kTickMillis);
    for (int i = 0; i < ready; ++i) {
      const int fd = events[i].data.fd;
      if (fd == wake_fd_) {
        RunTasks();
        continue;
      }
      auto it = handlers_.find(fd);
      if (it == handlers_.end()) continue;  // removed by an earlier handler of this batch
      std::shared_ptr<EventHandler> handler = it->second;  // may remove itself
      handler->OnEvents(events[i].events);
    }
    const absl::Time now = absl::Now();
    if (now >= next_tick) {
      next_tick = now + absl::Milliseconds(kTickMillis);
      for (const std::shared_ptr<EventHandler>& handler : Handlers()) handler->OnTick(now);
    }
  }
  RunTasks();
}

}  // namespace chunkcache::nbd

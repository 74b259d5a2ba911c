// RpcAdmission: counts the ChunkCache RPCs in flight and, once draining, turns new ones away,
// so that a graceful shutdown can wait for exactly the calls it must let finish.
//
// gRPC's own Server::Shutdown(deadline) also waits for idle client connections to close after
// its GOAWAY, which can take seconds even when no call is running. chunkcached therefore
// drains itself: StartDraining (new calls get UNAVAILABLE, so clients retry elsewhere),
// WaitUntilIdle(grace deadline), and only then Server::Shutdown with an immediate deadline,
// which cancels whatever is left and closes the connections at once.
//
//   AdmissionTicket ticket(&admission);          // in each RPC, for its whole life
//   if (!ticket.admitted()) return Unavailable;
//   ...
//   admission.StartDraining();
//   bool idle = admission.WaitUntilIdle(absl::Now() + grace);
//
// Thread-safe.
#ifndef CHUNKCACHE_SERVICE_RPC_ADMISSION_H_
#define CHUNKCACHE_SERVICE_RPC_ADMISSION_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace chunkcache {

class RpcAdmission {
 public:
  // False once draining; otherwise counts one more call in flight.
  bool TryAdmit();
  void Release();
  void StartDraining();
  // True when no admitted call is left; false when `deadline` passed first.
  bool WaitUntilIdle(absl::Time deadline);
  int64_t in_flight() const;

 private:
  mutable absl::Mutex mu_;
  int64_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
};

// One RPC's admission, released when the ticket is destroyed (with the reactor, in OnDone).
class AdmissionTicket {
 public:
  explicit AdmissionTicket(RpcAdmission* admission)
      : admission_(admission), admitted_(admission->TryAdmit()) {}
  ~AdmissionTicket() {
    if (admitted_) admission_->Release();
  }
  AdmissionTicket(const AdmissionTicket&) = delete;
  AdmissionTicket& operator=(const AdmissionTicket&) = delete;

  bool admitted() const { return admitted_; }
  // What a call that was not admitted answers.
  static absl::Status ShuttingDown();

 private:
  RpcAdmission* const admission_;
  const bool admitted_;
};

}  // namespace chunkcache

#endif  // CHUNKCACHE_SERVICE_RPC_ADMISSION_H_

// fleetd's own accept loop for a gRPC server. gRPC 1.51's TCP listener stops accepting for good
// after one accept4() failure with EMFILE, so a storm of agent connections that exhausted the
// open-file limit would leave fleetd deaf to agents until restarted. A ConnectionAcceptor owns
// the listening socket instead: it admits a connection only while an FdBudget reserve stays
// free (and, for a listener with a budget of its own, while fewer than its maximum of
// connections are open) and hands it to the gRPC server (ServerBuilder's external connection
// acceptor); it refuses the others by closing them at once, so that clients see the connection
// end and retry with their backoff; and it survives running out of descriptors.
#ifndef FLEETD_SERVER_APP_CONNECTION_ACCEPTOR_H_
#define FLEETD_SERVER_APP_CONNECTION_ACCEPTOR_H_

#include <grpcpp/server_builder.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/metrics/registry.h"
#include "server/app/fd_budget.h"
#include "server/app/listen_address.h"
#include "server/app/open_connections.h"

namespace fleet::server {

struct ConnectionAcceptorOptions {
  // What the connections are for, in log lines: "refusing agent connections: ...".
  std::string name;
  // Descriptors of the limit that must stay free after admitting a connection (FdBudget::Admit).
  uint64_t reserve = 0;
  // This listener's own budget: at most this many of its connections open at once (counted by
  // OpenConnections); UINT64_MAX for none. A connection over it is refused like one over the
  // reserve.
  uint64_t max_connections = UINT64_MAX;
  // Descriptors in use by connections that have a budget of their own, which `reserve` already
  // leaves room for, and which therefore do not count against this listener (FdBudget::Admit's
  // set_aside); e.g. the agent listener sets aside the admin listener's open_connections(). Called
  // on the accept thread; null for none.
  std::function<uint64_t()> set_aside;
  // How long to wait before accepting again after the process or the system ran out of
  // descriptors or socket buffers.
  absl::Duration backoff = absl::Milliseconds(20);
  // Refusals are logged at most this often, each line saying how many there were since the last;
  // InfiniteDuration: only once, when Stop is called.
  absl::Duration report_interval = absl::Seconds(10);
  // Where refusals are counted (fleetd_connections_refused_total, labelled with `name` and the
  // reason); none: a registry of the acceptor's own. Not owned; outlives the acceptor.
  metrics::Registry* metrics = nullptr;
};

// Thread-safe. Listen, then Start once the gRPC server is started, then Stop before the server is
// shut down (gRPC leaks a connection handed to a server that is not serving).
class ConnectionAcceptor {
 public:
  // Binds and listens on `address` (the value of `flag`, e.g. "--agent-addr"): every address the
  // host resolves to, on one port (the kernel picks it for port 0); a wildcard host listens on
  // IPv4 and IPv6. SO_REUSEADDR is set, SO_REUSEPORT not, so that a second fleetd cannot share
  // the port. Connections wait in the backlog until Start. `budget` is not owned and must outlive
  // the acceptor. Errors as ExplainListenFailure (listen_address.h) when no address can be bound,
  // or an errno-coded error when a descriptor for the wakeup cannot be made.
  static absl::StatusOr<std::unique_ptr<ConnectionAcceptor>> Listen(
      const std::string& flag, const ListenAddress& address, FdBudget& budget,
      ConnectionAcceptorOptions options);

  // Stops.
  ~ConnectionAcceptor();

  ConnectionAcceptor(const ConnectionAcceptor&) = delete;
  ConnectionAcceptor& operator=(const ConnectionAcceptor&) = delete;

  // The port listened on.
  int port() const { return port_; }

  // Starts the accept thread, which hands each admitted connection (a non-blocking, close-on-exec
  // TCP socket with TCP_NODELAY) to `sink`, which then owns it. At most once, before Stop.
  void Start(std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> sink);

  // Stops accepting and closes the listening sockets, so that new connections are refused by the
  // kernel; returns once the accept thread has ended, after which `sink` is never called again.
  // Idempotent.
  void Stop();

  // How many connections handed to the sink are still open, when max_connections is set; else 0
  // (they are not followed). Thread-safe.
  uint64_t open_connections();

  // Connections handed to the sink, and connections refused, so far.
  uint64_t admitted() const { return admitted_.load(std::memory_order_relaxed); }
  uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

  // Whether the accept thread runs: started and not stopped (for readiness).
  bool accepting();

 private:
  ConnectionAcceptor(std::vector<int> listen_fds, int port, int wake_fd, FdBudget& budget,
                     ConnectionAcceptorOptions options);

  // What to do after a round of accepting: poll again, or first wait for options_.backoff.
  enum class Next { kPoll, kBackOff };

  // The accept thread.
  void Run();
  // Accepts what is pending on `listen_fd`, a batch at most.
  Next AcceptSome(int listen_fd);
  // Hands `fd`, just accepted on `listen_fd`, to the sink if the budget admits it; else closes it.
  void Admit(int listen_fd, int fd);
  // Out of descriptors (accept4 failed with `error_number`, EMFILE or ENFILE): refuses what is
  // pending on `listen_fd` with the spare descriptor's help.
  void Shed(int listen_fd, int error_number);
  // `count` connections refused with `in_use` descriptors in use; `accept_error` is the errno
  // that made accept4 fail, or 0 when the budget refused.
  void NoteRefused(uint64_t count, uint64_t in_use, int accept_error);
  // accept4 failed with `error_number` for another reason than running out of descriptors.
  void NoteAcceptFailure(int error_number);
  // Logs the refusals and failures not yet reported, when there are any and report_interval has
  // passed since the last report (or `force`). Returns the time until a report is due next, or
  // InfiniteDuration when there is nothing to report.
  absl::Duration MaybeReport(bool force);

  const std::vector<int> listen_fds_;
  const int port_;
  const int wake_fd_;  // an eventfd; readable once Stop asks the thread to end
  FdBudget& budget_;   // not owned; outlives this
  const ConnectionAcceptorOptions options_;
  std::unique_ptr<metrics::Registry> own_metrics_;  // when the options name no registry
  // Refusals by reason: the descriptor reserve, the listener's own budget, or no descriptor left
  // to accept with.
  metrics::Counter& refused_for_reserve_;
  metrics::Counter& refused_for_limit_;
  metrics::Counter& refused_for_exhaustion_;

  // Used by the accept thread alone while it runs, by the constructor before and Stop after.
  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> sink_;
  int spare_fd_ = -1;  // /dev/null, held to be given up when out of descriptors
  uint64_t unreported_refused_ = 0;
  uint64_t unreported_failures_ = 0;
  int last_failure_ = 0;        // errno of the last failed accept
  uint64_t last_in_use_ = 0;    // descriptors in use at the last refusal
  int last_refusal_error_ = 0;  // what accept4 said before the last refusal, or 0
  absl::Time last_report_ = absl::InfinitePast();
  uint64_t last_open_ = 0;  // own connections open at the last refusal

  // This listener's connections, followed only when it has a budget of its own.
  OpenConnections open_;

  std::atomic<uint64_t> admitted_{0};
  std::atomic<uint64_t> refused_{0};

  absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_APP_CONNECTION_ACCEPTOR_H_

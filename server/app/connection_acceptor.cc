#include "server/app/connection_acceptor.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "spdlog/spdlog.h"

namespace fleet::server {
namespace {

metrics::Counter& Refusals(metrics::Registry& registry, const std::string& listener,
                           const std::string& reason) {
  return registry
      .AddCounterFamily("fleetd_connections_refused_total",
                        "Connections a listener closed at once, by listener and reason.",
                        {"listener", "reason"})
      .WithLabels({listener, reason});
}

// Connections accepted per listener and round, so that Stop and the other listeners get a turn.
constexpr int kAcceptBatch = 64;

// What is known about one address to listen on.
struct Candidate {
  sockaddr_storage addr{};
  socklen_t len = 0;
  bool dual_stack = false;  // an IPv6 wildcard that should take IPv4 connections too
};

void SetPort(Candidate& candidate, int port) {
  if (candidate.addr.ss_family == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&candidate.addr)->sin6_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in*>(&candidate.addr)->sin_port = htons(port);
  }
}

Candidate Wildcard(int family) {
  Candidate candidate;
  if (family == AF_INET6) {
    auto* addr = reinterpret_cast<sockaddr_in6*>(&candidate.addr);
    addr->sin6_family = AF_INET6;
    addr->sin6_addr = in6addr_any;
    candidate.len = sizeof(sockaddr_in6);
    candidate.dual_stack = true;
  } else {
    auto* addr = reinterpret_cast<sockaddr_in*>(&candidate.addr);
    addr->sin_family = AF_INET;
    addr->sin_addr.s_addr = htonl(INADDR_ANY);
    candidate.len = sizeof(sockaddr_in);
  }
  return candidate;
}

// The address as text, for messages.
std::string Describe(const Candidate& candidate) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (candidate.addr.ss_family == AF_INET6) {
    const auto* addr = reinterpret_cast<const sockaddr_in6*>(&candidate.addr);
    inet_ntop(AF_INET6, &addr->sin6_addr, text, sizeof(text));
    return absl::StrCat("[", text, "]:", ntohs(addr->sin6_port));
  }
  const auto* addr = reinterpret_cast<const sockaddr_in*>(&candidate.addr);
  inet_ntop(AF_INET, &addr->sin_addr, text, sizeof(text));
  return absl::StrCat(text, ":", ntohs(addr->sin_port));
}

// Closes a descriptor whose close cannot fail in a way worth acting on: a socket or /dev/null
// that nothing else writes through. The one place close's result is ignored on purpose.
void CloseQuietly(int fd) {
  if (fd >= 0) (void)close(fd);
}

// A listening socket on `candidate`, or the errno of what failed. When `dual_stack_ok` is given,
// it says whether an IPv6 wildcard also takes IPv4 connections.
absl::StatusOr<int> ListenOn(const Candidate& candidate, bool* dual_stack_ok) {
  const int fd =
      socket(candidate.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return absl::ErrnoToStatus(errno, Describe(candidate));
  const int one = 1;
  const int zero = 0;
  // As gRPC does: a restarted fleetd can listen again while old connections linger in TIME_WAIT.
  // SO_REUSEPORT stays off, so that a second fleetd fails to start instead of sharing the port.
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) {
    const int error_number = errno;
    CloseQuietly(fd);
    return absl::ErrnoToStatus(error_number, Describe(candidate));
  }
  if (candidate.addr.ss_family == AF_INET6) {
    const bool dual =
        candidate.dual_stack && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) == 0;
    if (!dual) (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (dual_stack_ok != nullptr) *dual_stack_ok = dual;
  }
  if (bind(fd, reinterpret_cast<const sockaddr*>(&candidate.addr), candidate.len) != 0 ||
      listen(fd, SOMAXCONN) != 0) {
    const int error_number = errno;
    CloseQuietly(fd);
    return absl::ErrnoToStatus(error_number, Describe(candidate));
  }
  return fd;
}

int BoundPort(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

// The addresses `address` stands for; empty when its host does not resolve.
std::vector<Candidate> Resolve(const ListenAddress& address) {
  if (address.host == "0.0.0.0" || address.host == "::") {
    // Like gRPC: either wildcard means every address, IPv4 and IPv6.
    return {Wildcard(AF_INET6), Wildcard(AF_INET)};
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* results = nullptr;
  const std::string port = absl::StrCat(address.port);
  if (getaddrinfo(address.host.c_str(), port.c_str(), &hints, &results) != 0) return {};
  std::vector<Candidate> candidates;
  for (const addrinfo* ai = results; ai != nullptr; ai = ai->ai_next) {
    if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
        ai->ai_addrlen > sizeof(sockaddr_storage)) {
      continue;
    }
    Candidate candidate;
    std::memcpy(&candidate.addr, ai->ai_addr, ai->ai_addrlen);
    candidate.len = ai->ai_addrlen;
    bool duplicate = false;
    for (const Candidate& seen : candidates) {
      duplicate |=
          seen.len == candidate.len && std::memcmp(&seen.addr, &candidate.addr, seen.len) == 0;
    }
    if (!duplicate) candidates.push_back(candidate);
  }
  freeaddrinfo(results);
  return candidates;
}

// Whether accept4's error is the kernel passing on a network error of the pending connection, or
// an interruption: the next accept may well succeed (accept(2), "Error handling").
bool IsTransientAcceptError(int error_number) {
  switch (error_number) {
    case EINTR:
    case ECONNABORTED:
    case EPERM:  // a firewall rule
    case EPROTO:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
      return true;
    default:
      return false;
  }
}

int PollTimeoutMs(absl::Duration timeout) {
  if (timeout == absl::InfiniteDuration()) return -1;
  if (timeout <= absl::ZeroDuration()) return 0;
  return static_cast<int>(absl::ToInt64Milliseconds(absl::Ceil(timeout, absl::Milliseconds(1))));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ConnectionAcceptor>> ConnectionAcceptor::Listen(
    const std::string& flag, const ListenAddress& address, FdBudget& budget,
    ConnectionAcceptorOptions options) {
  std::vector<Candidate> candidates = Resolve(address);
  std::vector<int> fds;
  std::vector<std::string> failures;
  int port = address.port;
  for (Candidate& candidate : candidates) {
    SetPort(candidate, port);
    bool dual_stack_ok = false;
    absl::StatusOr<int> fd = ListenOn(candidate, &dual_stack_ok);
    if (!fd.ok()) {
      // Without IPv6 the IPv4 wildcard that follows is all there is to a wildcard: no news.
      if (!candidate.dual_stack) failures.push_back(std::string(fd.status().message()));
      continue;
    }
    fds.push_back(*fd);
    port = BoundPort(*fd);
    // A dual-stack IPv6 wildcard takes IPv4 connections too: the IPv4 wildcard would collide.
    if (candidate.dual_stack && dual_stack_ok) break;
  }
  if (fds.empty() || port == 0) {
    for (int fd : fds) CloseQuietly(fd);
    return ExplainListenFailure(flag, address);
  }
  if (!failures.empty()) {
    spdlog::warn("{} {}: listening on {} of its {} addresses; the others failed: {}", flag,
                 address.ToString(), fds.size(), fds.size() + failures.size(),
                 absl::StrJoin(failures, ", "));
  }
  const int wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) {
    const int error_number = errno;
    for (int fd : fds) CloseQuietly(fd);
    return absl::ErrnoToStatus(error_number,
                               absl::StrCat("cannot listen on ", flag, " ", address.ToString(),
                                            ": cannot create an eventfd"));
  }
  return std::unique_ptr<ConnectionAcceptor>(
      new ConnectionAcceptor(std::move(fds), port, wake_fd, budget, std::move(options)));
}

ConnectionAcceptor::ConnectionAcceptor(std::vector<int> listen_fds, int port, int wake_fd,
                                       FdBudget& budget, ConnectionAcceptorOptions options)
    : listen_fds_(std::move(listen_fds)),
      port_(port),
      wake_fd_(wake_fd),
      budget_(budget),
      options_(std::move(options)),
      refused_for_reserve_(Refusals(metrics::RegistryOr(options_.metrics, own_metrics_),
                                    options_.name, "descriptor_reserve")),
      refused_for_limit_(Refusals(metrics::RegistryOr(options_.metrics, own_metrics_),
                                  options_.name, "connection_limit")),
      refused_for_exhaustion_(Refusals(metrics::RegistryOr(options_.metrics, own_metrics_),
                                       options_.name, "descriptors_exhausted")),
      spare_fd_(open("/dev/null", O_RDONLY | O_CLOEXEC)) {}

bool ConnectionAcceptor::accepting() {
  absl::MutexLock lock(&mu_);
  return started_ && !stopped_;
}

ConnectionAcceptor::~ConnectionAcceptor() { Stop(); }

void ConnectionAcceptor::Start(
    std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> sink) {
  absl::MutexLock lock(&mu_);
  if (started_ || stopped_) return;
  started_ = true;
  sink_ = std::move(sink);
  thread_ = std::thread([this] { Run(); });
}

void ConnectionAcceptor::Stop() {
  absl::MutexLock lock(&mu_);
  if (stopped_) return;
  stopped_ = true;
  if (thread_.joinable()) {
    const uint64_t one = 1;
    // An eventfd write of 1 fails only when the counter would overflow, i.e. never here.
    (void)write(wake_fd_, &one, sizeof(one));
    // The thread never takes mu_, so joining under it is safe, and a concurrent Stop waits.
    thread_.join();
  }
  MaybeReport(/*force=*/true);
  for (int fd : listen_fds_) CloseQuietly(fd);
  CloseQuietly(wake_fd_);
  CloseQuietly(spare_fd_);
  spare_fd_ = -1;
}

void ConnectionAcceptor::Run() {
  const std::string thread_name = (options_.name + "-accept").substr(0, 15);
  (void)pthread_setname_np(pthread_self(), thread_name.c_str());
  bool back_off = false;
  std::vector<pollfd> polled;
  while (true) {
    if (spare_fd_ < 0) spare_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
    polled.clear();
    polled.push_back({.fd = wake_fd_, .events = POLLIN, .revents = 0});
    if (!back_off) {
      for (int fd : listen_fds_) polled.push_back({.fd = fd, .events = POLLIN, .revents = 0});
    }
    absl::Duration timeout = MaybeReport(/*force=*/false);
    if (back_off) timeout = std::min(timeout, options_.backoff);
    const int ready = poll(polled.data(), polled.size(), PollTimeoutMs(timeout));
    if (ready < 0) {
      if (errno != EINTR) {
        // poll fails only for want of kernel memory; wait and try again.
        NoteAcceptFailure(errno);
        back_off = true;
      }
      continue;
    }
    if (polled[0].revents != 0) return;
    if (back_off) {
      back_off = false;
      continue;
    }
    for (size_t i = 1; i < polled.size(); ++i) {
      if (polled[i].revents != 0 && AcceptSome(polled[i].fd) == Next::kBackOff) back_off = true;
    }
  }
}

ConnectionAcceptor::Next ConnectionAcceptor::AcceptSome(int listen_fd) {
  for (int i = 0; i < kAcceptBatch; ++i) {
    const int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      Admit(listen_fd, fd);
      continue;
    }
    const int error_number = errno;
    if (error_number == EAGAIN || error_number == EWOULDBLOCK) return Next::kPoll;
    if (IsTransientAcceptError(error_number)) continue;
    if (error_number == EMFILE || error_number == ENFILE) {
      Shed(listen_fd, error_number);
    } else {
      NoteAcceptFailure(error_number);
    }
    // Out of descriptors or socket buffers (or something stranger): nothing accepted now would
    // fare better, and retrying at once would spin.
    return Next::kBackOff;
  }
  return Next::kPoll;
}

uint64_t ConnectionAcceptor::open_connections() {
  return options_.max_connections == UINT64_MAX ? 0 : open_.Count();
}

void ConnectionAcceptor::Admit(int listen_fd, int fd) {
  const bool own_budget = options_.max_connections != UINT64_MAX;
  const uint64_t open = own_budget ? open_.Count() : 0;
  const uint64_t set_aside = options_.set_aside ? options_.set_aside() : 0;
  const FdBudget::Decision decision = open < options_.max_connections
                                          ? budget_.Admit(fd, options_.reserve, set_aside)
                                          : FdBudget::Decision{.admit = false};
  if (!decision.admit) {
    CloseQuietly(fd);
    (open < options_.max_connections ? refused_for_reserve_ : refused_for_limit_).Increment();
    last_open_ = open;
    // Refused for its own budget, the budget was not asked: the last count still stands.
    NoteRefused(1, open < options_.max_connections ? decision.in_use : last_in_use_,
                /*accept_error=*/0);
    return;
  }
  if (own_budget) open_.Add(fd);
  const int one = 1;
  // Inherited from the listening socket on Linux; set again in case it was not. Latency only.
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  grpc::experimental::ExternalConnectionAcceptor::NewConnectionParameters parameters;
  parameters.listener_fd = listen_fd;
  parameters.fd = fd;
  sink_->HandleNewConnection(&parameters);
  admitted_.fetch_add(1, std::memory_order_relaxed);
}

void ConnectionAcceptor::Shed(int listen_fd, int error_number) {
  // The classic way out: give up the spare descriptor, and with the one slot it frees accept and
  // close what is pending, one connection after the other, so that those clients hear at once
  // that they were refused instead of waiting in the backlog.
  CloseQuietly(spare_fd_);
  spare_fd_ = -1;
  uint64_t shed = 0;
  for (int i = 0; i < kAcceptBatch; ++i) {
    const int fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (IsTransientAcceptError(errno)) continue;
      break;
    }
    CloseQuietly(fd);
    ++shed;
  }
  spare_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
  // accept4 fails with EMFILE before it looks at the backlog, so there may have been none.
  if (shed > 0) NoteRefused(shed, budget_.limit(), error_number);
  refused_for_exhaustion_.Increment(shed);
}

void ConnectionAcceptor::NoteRefused(uint64_t count, uint64_t in_use, int accept_error) {
  refused_.fetch_add(count, std::memory_order_relaxed);
  unreported_refused_ += count;
  last_in_use_ = in_use;
  last_refusal_error_ = accept_error;
}

void ConnectionAcceptor::NoteAcceptFailure(int error_number) {
  ++unreported_failures_;
  last_failure_ = error_number;
}

absl::Duration ConnectionAcceptor::MaybeReport(bool force) {
  if (unreported_refused_ == 0 && unreported_failures_ == 0) return absl::InfiniteDuration();
  if (!force && options_.report_interval == absl::InfiniteDuration()) {
    return absl::InfiniteDuration();
  }
  const absl::Time now = absl::Now();
  const absl::Duration since = now - last_report_;
  if (!force && since < options_.report_interval) return options_.report_interval - since;
  std::string details;
  if (last_refusal_error_ != 0) {
    absl::StrAppend(&details, " (accept: ", std::strerror(last_refusal_error_), ")");
  }
  if (unreported_failures_ > 0) {
    absl::StrAppend(&details, "; accept failed ", unreported_failures_, " times (",
                    std::strerror(last_failure_), ")");
  }
  if (options_.max_connections != UINT64_MAX) {
    absl::StrAppend(&details, "; ", last_open_, " of at most ", options_.max_connections, " ",
                    options_.name, " connections open");
  }
  spdlog::warn(
      "refusing {} connections: {} descriptors in use of limit {} (reserve {}); {} refused since "
      "last report{}",
      options_.name, last_in_use_, budget_.limit(), options_.reserve, unreported_refused_, details);
  unreported_refused_ = 0;
  unreported_failures_ = 0;
  last_report_ = now;
  return options_.report_interval;
}

}  // namespace fleet::server

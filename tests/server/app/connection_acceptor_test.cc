// ConnectionAcceptor on real sockets, with a sink that keeps what it is handed: binding (port 0,
// IPv6, a taken port, a bad host), admission against an FdBudget, surviving EMFILE, and Stop.
#include "server/app/connection_acceptor.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "server/app/fd_budget.h"
#include "server/app/listen_address.h"
#include "tests/testing/status_matchers.h"

namespace fleet::server {
namespace {

// Keeps every connection it is handed open until destroyed, like a server holding them.
class HoldingSink {
 public:
  ~HoldingSink() {
    absl::MutexLock lock(&mu_);
    for (int fd : fds_) close(fd);
  }

  // A sink for ConnectionAcceptor::Start, feeding this one (which must outlive it).
  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> Acceptor() {
    class Forwarder : public grpc::experimental::ExternalConnectionAcceptor {
     public:
      explicit Forwarder(HoldingSink& sink) : sink_(sink) {}
      void HandleNewConnection(NewConnectionParameters* p) override { sink_.Add(p->fd); }

     private:
      HoldingSink& sink_;
    };
    return std::make_unique<Forwarder>(*this);
  }

  size_t size() {
    absl::MutexLock lock(&mu_);
    return fds_.size();
  }

  void CloseAll() {
    absl::MutexLock lock(&mu_);
    for (int fd : fds_) close(fd);
    fds_.clear();
  }

 private:
  void Add(int fd) {
    absl::MutexLock lock(&mu_);
    fds_.push_back(fd);
  }

  absl::Mutex mu_;
  std::vector<int> fds_ ABSL_GUARDED_BY(mu_);
};

// A client socket, closed on destruction.
class Client {
 public:
  explicit Client(int family = AF_INET) : fd_(socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0)) {}
  ~Client() {
    if (fd_ >= 0) close(fd_);
  }
  Client(Client&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

  int fd() const { return fd_; }

  // 0, or connect's errno.
  int Connect(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 ? 0 : errno;
  }

  // Whether the server ended the connection (EOF or reset) within `timeout`.
  bool Ended(absl::Duration timeout) {
    pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
    if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) <= 0) return false;
    char byte;
    ssize_t n = recv(fd_, &byte, 1, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

 private:
  int fd_;
};

// Polls `condition` every 10 ms for up to 10 s.
template <typename Condition>
bool Eventually(Condition condition) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

class ConnectionAcceptorTest : public ::testing::Test {
 protected:
  // A budget whose descriptor count the test sets; limit 1000. It counts again for every
  // connection (however long the last count took), so a change of in_use_ is seen at once.
  FdBudget& Budget(uint64_t in_use) {
    in_use_ = in_use;
    budget_ = std::make_unique<FdBudget>(
        FdBudgetOptions{.limit = 1000,
                        .max_count_age = absl::ZeroDuration(),
                        .min_recount_interval = absl::ZeroDuration(),
                        .count_cost_factor = 0},
        [this]() -> absl::StatusOr<uint64_t> { return in_use_.load(); }, Clock::Real());
    return *budget_;
  }

  absl::StatusOr<std::unique_ptr<ConnectionAcceptor>> Listen(const std::string& text,
                                                             uint64_t reserve = 100) {
    absl::StatusOr<ListenAddress> address = ParseListenAddress("--agent-addr", text);
    if (!address.ok()) return address.status();
    return ConnectionAcceptor::Listen("--agent-addr", *address, *budget_,
                                      {.name = "agent", .reserve = reserve});
  }

  std::atomic<uint64_t> in_use_ = 0;  // read by the accept thread
  std::unique_ptr<FdBudget> budget_;
  HoldingSink sink_;
};

// Port 0 gets a port from the kernel; connections to it reach the sink.
TEST_F(ConnectionAcceptorTest, PortZeroListensAndHandsConnectionsToTheSink) {
  Budget(/*in_use=*/10);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ConnectionAcceptor> acceptor, Listen("127.0.0.1:0"));
  ASSERT_GT(acceptor->port(), 0);
  acceptor->Start(sink_.Acceptor());
  std::vector<Client> clients(3);
  for (Client& client : clients) ASSERT_EQ(client.Connect(acceptor->port()), 0);
  ASSERT_TRUE(Eventually([&] { return sink_.size() == 3; }));
  EXPECT_EQ(acceptor->admitted(), 3u);
  EXPECT_EQ(acceptor->refused(), 0u);
  for (Client& client : clients) EXPECT_FALSE(client.Ended(absl::Milliseconds(50)));
}

// An IPv6 address is bound as such.
TEST_F(ConnectionAcceptorTest, ListensOnIpv6) {
  Budget(/*in_use=*/10);
  absl::StatusOr<std::unique_ptr<ConnectionAcceptor>> acceptor = Listen("[::1]:0");
  if (absl::IsInvalidArgument(acceptor.status())) {
    GTEST_SKIP() << "no IPv6 loopback here: " << acceptor.status();
  }
  ASSERT_OK(acceptor);
  (*acceptor)->Start(sink_.Acceptor());
  Client client(AF_INET6);
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_port = htons((*acceptor)->port());
  addr.sin6_addr = in6addr_loopback;
  ASSERT_EQ(connect(client.fd(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  EXPECT_TRUE(Eventually([&] { return sink_.size() == 1; }));
}

// A port in use is refused with the same message as before fleetd accepted connections itself.
TEST_F(ConnectionAcceptorTest, TakenPortIsUnavailable) {
  Budget(/*in_use=*/10);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ConnectionAcceptor> first, Listen("127.0.0.1:0"));
  absl::StatusOr<std::unique_ptr<ConnectionAcceptor>> second =
      Listen(absl::StrCat("127.0.0.1:", first->port()));
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(absl::IsUnavailable(second.status())) << second.status();
  EXPECT_EQ(second.status().message(),
            absl::StrCat("cannot listen on --agent-addr 127.0.0.1:", first->port(),
                         ": address already in use by another process; stop it or choose another "
                         "port (port 0 picks a free one)"));
}

// A host that is not this machine's is an INVALID_ARGUMENT naming it.
TEST_F(ConnectionAcceptorTest, ForeignAddressIsInvalid) {
  Budget(/*in_use=*/10);
  absl::StatusOr<std::unique_ptr<ConnectionAcceptor>> acceptor = Listen("192.0.2.1:0");
  ASSERT_FALSE(acceptor.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(acceptor.status())) << acceptor.status();
  EXPECT_TRUE(
      absl::StrContains(acceptor.status().message(), "192.0.2.1 is not an address of this machine"))
      << acceptor.status();
}

// With the budget spent, connections are accepted and closed at once, and the sink gets none.
TEST_F(ConnectionAcceptorTest, RefusesByClosingWhenTheReserveWouldBeUsed) {
  Budget(/*in_use=*/950);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ConnectionAcceptor> acceptor,
                       Listen("127.0.0.1:0", /*reserve=*/100));
  acceptor->Start(sink_.Acceptor());
  std::vector<Client> clients(5);
  for (Client& client : clients) ASSERT_EQ(client.Connect(acceptor->port()), 0);
  for (Client& client : clients) EXPECT_TRUE(client.Ended(absl::Seconds(10)));
  EXPECT_TRUE(Eventually([&] { return acceptor->refused() == 5; })) << acceptor->refused();
  EXPECT_EQ(sink_.size(), 0u);

  // Once descriptors are free again, connections are admitted again.
  in_use_ = 10;
  Client late;
  ASSERT_EQ(late.Connect(acceptor->port()), 0);
  EXPECT_TRUE(Eventually([&] { return sink_.size() == 1; }));
  EXPECT_FALSE(late.Ended(absl::Milliseconds(50)));
}

// Refusals are counted in the registry given, by listener and reason; accepting() says whether
// the accept thread runs.
TEST_F(ConnectionAcceptorTest, CountsRefusalsByListenerAndReason) {
  Budget(/*in_use=*/950);
  metrics::Registry registry;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ConnectionAcceptor> acceptor,
                       ConnectionAcceptor::Listen(
                           "--agent-addr", ListenAddress{.host = "127.0.0.1", .port = 0}, *budget_,
                           {.name = "agent", .reserve = 100, .metrics = &registry}));
  EXPECT_FALSE(acceptor->accepting());
  acceptor->Start(sink_.Acceptor());
  EXPECT_TRUE(acceptor->accepting());
  std::vector<Client> clients(3);
  for (Client& client : clients) ASSERT_EQ(client.Connect(acceptor->port()), 0);
  ASSERT_TRUE(Eventually([&] { return acceptor->refused() == 3; })) << acceptor->refused();
  const std::string text = registry.Expose();
  EXPECT_NE(
      text.find(
          "fleetd_connections_refused_total{listener=\"agent\",reason=\"descriptor_reserve\"} 3\n"),
      std::string::npos)
      << text;
  EXPECT_NE(
      text.find(
          "fleetd_connections_refused_total{listener=\"agent\",reason=\"connection_limit\"} 0\n"),
      std::string::npos)
      << text;
  acceptor->Stop();
  EXPECT_FALSE(acceptor->accepting());
}

// A listener with a budget of its own admits at most max_connections open at once, whatever the
// descriptors: more are refused, and once the server closes some, as many are admitted again.
TEST_F(ConnectionAcceptorTest, OwnBudgetBoundsOpenConnections) {
  Budget(/*in_use=*/10);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ConnectionAcceptor> acceptor,
                       ConnectionAcceptor::Listen(
                           "--admin-addr", ListenAddress{.host = "127.0.0.1", .port = 0}, *budget_,
                           {.name = "admin", .reserve = 100, .max_connections = 3}));
  acceptor->Start(sink_.Acceptor());
  std::vector<Client> clients(5);
  for (Client& client : clients) ASSERT_EQ(client.Connect(acceptor->port()), 0);
  ASSERT_TRUE(Eventually([&] { return acceptor->admitted() + acceptor->refused() == 5; }));
  EXPECT_EQ(acceptor->admitted(), 3u);
  EXPECT_EQ(acceptor->open_connections(), 3u);
  EXPECT_EQ(sink_.size(), 3u);

  sink_.CloseAll();  // the server ended them
  EXPECT_EQ(acceptor->open_connections(), 0u);
  std::vector<Client> more(3);
  for (Client& client : more) ASSERT_EQ(client.Connect(acceptor->port()), 0);
  EXPECT_TRUE(Eventually([&] { return sink_.size() == 3; })) << sink_.size();
}

// Descriptors set aside (another listener's connections, which have their own budget) do not
// count against this listener: with them the count is over the ceiling, without them it is not.
TEST_F(ConnectionAcceptorTest, SetAsideDescriptorsDoNotCount) {
  Budget(/*in_use=*/950);
  std::atomic<uint64_t> set_aside = 100;
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<ConnectionAcceptor> acceptor,
      ConnectionAcceptor::Listen(
          "--agent-addr", ListenAddress{.host = "127.0.0.1", .port = 0}, *budget_,
          {.name = "agent", .reserve = 100, .set_aside = [&] { return set_aside.load(); }}));
  acceptor->Start(sink_.Acceptor());
  Client admitted;
  ASSERT_EQ(admitted.Connect(acceptor->port()), 0);
  EXPECT_TRUE(Eventually([&] { return sink_.size() == 1; }));
  set_aside = 0;
  Client refused;
  ASSERT_EQ(refused.Connect(acceptor->port()), 0);
  EXPECT_TRUE(refused.Ended(absl::Seconds(10)));
  EXPECT_EQ(sink_.size(), 1u);
}

// Out of descriptors (accept4 fails with EMFILE), pending connections are refused instead of
// left hanging, the acceptor keeps going, and admits connections again once descriptors are
// free.
TEST_F(ConnectionAcceptorTest, SurvivesRunningOutOfDescriptors) {
  // No budget: only the process limit stops the sink from taking every connection.
  budget_ = std::make_unique<FdBudget>(
      FdBudgetOptions{.limit = UINT64_MAX}, [] { return absl::StatusOr<uint64_t>(0); },
      Clock::Real());
  // No reports until Stop: UBSan's vptr check, on the call into spdlog, probes memory through a
  // pipe, which it cannot make while the process is out of descriptors, and then reports a
  // false positive.
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<ConnectionAcceptor> acceptor,
      ConnectionAcceptor::Listen(
          "--agent-addr", ListenAddress{.host = "127.0.0.1", .port = 0}, *budget_,
          {.name = "agent", .reserve = 100, .report_interval = absl::InfiniteDuration()}));
  acceptor->Start(sink_.Acceptor());

  // The clients' sockets exist before the limit drops; connecting them needs no descriptor.
  constexpr int kClients = 200;
  std::vector<Client> clients(kClients);
  int highest = 0;
  for (const Client& client : clients) highest = std::max(highest, client.fd());
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit low = saved;
  low.rlim_cur = highest + 1 + 8;  // room for a few connections beyond any gaps below
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  {
    absl::Cleanup restore = [&] { ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0); };
    for (Client& client : clients) ASSERT_EQ(client.Connect(acceptor->port()), 0);
    Eventually([&] { return acceptor->admitted() + acceptor->refused() == kClients; });
  }
  ASSERT_EQ(acceptor->admitted() + acceptor->refused(), static_cast<uint64_t>(kClients))
      << "admitted " << acceptor->admitted() << ", refused " << acceptor->refused();
  EXPECT_GT(acceptor->admitted(), 0u);
  EXPECT_GT(acceptor->refused(), kClients / 2);
  int ended = 0;
  for (Client& client : clients) ended += client.Ended(absl::Milliseconds(10)) ? 1 : 0;
  EXPECT_EQ(static_cast<uint64_t>(ended), acceptor->refused());

  sink_.CloseAll();
  const uint64_t admitted = acceptor->admitted();
  Client late;
  ASSERT_EQ(late.Connect(acceptor->port()), 0);
  EXPECT_TRUE(Eventually([&] { return acceptor->admitted() == admitted + 1; }));
}

// After Stop the port is closed, so that new connections are refused by the kernel; Stop is
// idempotent.
TEST_F(ConnectionAcceptorTest, StopClosesThePort) {
  Budget(/*in_use=*/10);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ConnectionAcceptor> acceptor, Listen("127.0.0.1:0"));
  acceptor->Start(sink_.Acceptor());
  Client before;
  ASSERT_EQ(before.Connect(acceptor->port()), 0);
  ASSERT_TRUE(Eventually([&] { return sink_.size() == 1; }));
  acceptor->Stop();
  acceptor->Stop();
  Client after;
  EXPECT_EQ(after.Connect(acceptor->port()), ECONNREFUSED);
}

// An acceptor that was never started stops cleanly too.
TEST_F(ConnectionAcceptorTest, StopWithoutStart) {
  Budget(/*in_use=*/10);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ConnectionAcceptor> acceptor, Listen("127.0.0.1:0"));
  acceptor->Stop();
  Client after;
  EXPECT_EQ(after.Connect(acceptor->port()), ECONNREFUSED);
}

}  // namespace
}  // namespace fleet::server

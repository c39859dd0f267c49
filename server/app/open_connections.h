// The connections one listener handed to gRPC that are still open. gRPC closes a connection's
// descriptor when the connection ends and tells nobody, so each one is remembered by descriptor
// and file identity (device and inode) and looked at again when counted: a descriptor that is
// closed, or that the kernel has since handed out again for another file, no longer counts. This
// is what gives a listener a descriptor budget of its own (fleetd_server.cc): the admin
// listener's connections are counted apart from the agents', so that a flood on one port cannot
// use up the descriptors the other needs.
#ifndef FLEETD_SERVER_APP_OPEN_CONNECTIONS_H_
#define FLEETD_SERVER_APP_OPEN_CONNECTIONS_H_

#include <sys/types.h>

#include <cstdint>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace fleet::server {

// Thread-safe. Counting costs one fstat per connection remembered, so it suits a listener whose
// connections are bounded (the admin listener's budget is a few hundred).
class OpenConnections {
 public:
  OpenConnections() = default;

  OpenConnections(const OpenConnections&) = delete;
  OpenConnections& operator=(const OpenConnections&) = delete;

  // Remembers `fd`, an open socket just handed on. A descriptor that cannot be looked at is not
  // remembered (it cannot be told apart from a closed one later).
  void Add(int fd);

  // How many of the remembered connections are still open; forgets the others.
  uint64_t Count();

 private:
  struct Entry {
    int fd;
    dev_t device;
    ino_t inode;
  };

  absl::Mutex mu_;
  std::vector<Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_APP_OPEN_CONNECTIONS_H_

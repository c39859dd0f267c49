#include "cli/address_list.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace fleet::cli {

std::vector<std::string> SplitAddresses(const std::string& address) {
  return absl::StrSplit(address, ',');
}

std::string HostOf(const std::string& address) {
  std::string host = address.substr(0, address.rfind(':'));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host;
}

bool IsIpv4Address(const std::string& host) {
  int dots = 0;
  for (char c : host) {
    if (c == '.') {
      ++dots;
    } else if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return dots == 3;
}

std::string GrpcTarget(const std::string& address) {
  if (address.find(',') == std::string::npos) return address;
  return absl::StrCat(IsIpv4Address(HostOf(SplitAddresses(address).front())) ? "ipv4:" : "ipv6:",
                      address);
}

std::string FirstHost(const std::string& address) {
  return HostOf(SplitAddresses(address).front());
}

}  // namespace fleet::cli

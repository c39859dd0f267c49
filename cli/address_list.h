// fleetctl's --address may name several replicas of one fleet, "A,B,C": gRPC tries them in order
// and moves on from one it cannot reach. It can do that only for IP addresses (it resolves a host
// name to the addresses of that one name), so several addresses are IP:PORT of one family.
#ifndef FLEETD_CLI_ADDRESS_LIST_H_
#define FLEETD_CLI_ADDRESS_LIST_H_

#include <string>
#include <vector>

namespace fleet::cli {

// The addresses of "A,B,C" (one for an address without a comma).
std::vector<std::string> SplitAddresses(const std::string& address);
// The host of HOST:PORT, without an IPv6 address's brackets.
std::string HostOf(const std::string& address);
// Whether `host` is a dotted IPv4 address.
bool IsIpv4Address(const std::string& host);
// What gRPC dials: the address itself, or for several "ipv4:A,B" / "ipv6:A,B".
std::string GrpcTarget(const std::string& address);
// The first address's host: the name TLS checks every replica's certificate against when
// several are given, unless --tls-server-name says otherwise.
std::string FirstHost(const std::string& address);

}  // namespace fleet::cli

#endif  // FLEETD_CLI_ADDRESS_LIST_H_

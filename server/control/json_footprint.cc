#include "server/control/json_footprint.h"

#include <string>
#include <vector>

namespace fleet::server {
namespace {

using Json = nlohmann::json;

// What glibc's malloc adds to each allocation (its chunk header, rounded).
constexpr size_t kAllocationOverhead = 16;
// A std::map node besides its value: colour, parent, left, right.
constexpr size_t kMapNodeHeader = 32;

size_t Allocated(size_t bytes) { return bytes + kAllocationOverhead; }

// The heap bytes a std::string holds past its own object.
size_t StringHeap(const std::string& text) {
  // libstdc++ keeps up to 15 characters in the object itself.
  return text.capacity() > 15 ? Allocated(text.capacity() + 1) : 0;
}

}  // namespace

size_t JsonFootprint(const Json& value) {
  size_t bytes = sizeof(Json);
  std::vector<const Json*> pending = {&value};
  while (!pending.empty()) {
    const Json& next = *pending.back();
    pending.pop_back();
    // Each value's own sizeof(Json) is counted where it lives: in its parent's node or buffer.
    switch (next.type()) {
      case Json::value_t::object: {
        const auto& members = next.get_ref<const Json::object_t&>();
        bytes += Allocated(sizeof(Json::object_t));
        for (const auto& [key, member] : members) {
          bytes += Allocated(kMapNodeHeader + sizeof(std::pair<const std::string, Json>)) +
                   StringHeap(key);
          pending.push_back(&member);
        }
        break;
      }
      case Json::value_t::array: {
        const auto& elements = next.get_ref<const Json::array_t&>();
        bytes += Allocated(sizeof(Json::array_t));
        if (elements.capacity() > 0) bytes += Allocated(elements.capacity() * sizeof(Json));
        for (const Json& element : elements) pending.push_back(&element);
        break;
      }
      case Json::value_t::string: {
        const auto& text = next.get_ref<const Json::string_t&>();
        bytes += Allocated(sizeof(Json::string_t)) + StringHeap(text);
        break;
      }
      case Json::value_t::binary:
        bytes += Allocated(sizeof(Json::binary_t)) +
                 Allocated(next.get_ref<const Json::binary_t&>().capacity());
        break;
      default:  // numbers, booleans and null live in the value itself
        break;
    }
  }
  return bytes;
}

}  // namespace fleet::server

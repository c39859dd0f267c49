#include "rpc/cq_pool.h"

#include <algorithm>
#include <utility>

namespace fleet::rpc {

CqPool::CqPool(std::vector<std::unique_ptr<grpc::CompletionQueue>> queues)
    : queues_(std::move(queues)) {
  threads_.reserve(queues_.size());
  for (auto& queue : queues_) threads_.emplace_back(&CqPool::Drain, queue.get());
}

CqPool::~CqPool() { Shutdown(); }

std::unique_ptr<CqPool> CqPool::ForClients(int count) {
  std::vector<std::unique_ptr<grpc::CompletionQueue>> queues;
  for (int i = 0; i < count; ++i) queues.push_back(std::make_unique<grpc::CompletionQueue>());
  return std::make_unique<CqPool>(std::move(queues));
}

int CqPool::QueuesFor(int64_t streams, int max_queues) {
  const int64_t needed = (streams + kStreamsPerQueue - 1) / kStreamsPerQueue;
  return static_cast<int>(std::clamp<int64_t>(needed, 1, std::max(max_queues, 1)));
}

void CqPool::Shutdown() {
  if (shut_down_.exchange(true)) return;
  for (auto& queue : queues_) queue->Shutdown();
  for (std::thread& thread : threads_) thread.join();
}

void CqPool::Drain(grpc::CompletionQueue* queue) {
  void* tag = nullptr;
  bool ok = false;
  while (queue->Next(&tag, &ok)) static_cast<CqTag*>(tag)->Done(ok);
}

}  // namespace fleet::rpc

// A CUDA graph of the work that one call queues on stream(): captured once (nothing runs while it is
// captured), then replayed with a single launch. A replay saves the host the launch of every kernel,
// which is most of a small model's training step on a fast GPU: on an H100, queueing took 70-87% of
// the step of experiments 1, 2 and 4 (docs/gpu-runs.md, 2026-11-26).
//
// A replay repeats the captured work exactly: the same kernels, arguments and memory. So the work
// must not wait for the device (no copy to the host, no synchronize: the capture fails with the
// call's name) and must allocate only from the caching allocator's cache (a warmed-up step does);
// blocks it freed went back to the cache while the graph still writes them, so nothing may allocate
// between replays; and arguments passed by value (a dropout step, Adam's step count) stay those of
// the captured call.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <functional>

namespace cxr::kernels::cuda {

class StreamGraph {
 public:
  // Captures what work() queues on stream(). If the work cannot be captured it throws the failing
  // call's error, and stream() is usable again.
  explicit StreamGraph(const std::function<void()>& work);
  ~StreamGraph();
  StreamGraph(const StreamGraph&) = delete;
  StreamGraph& operator=(const StreamGraph&) = delete;

  void replay() const;  // queues the whole graph on stream()
  // Its nodes: the kernel launches, copies and memsets the captured work queued.
  size_t nodes() const;

 private:
  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t exec_ = nullptr;
};

}  // namespace cxr::kernels::cuda

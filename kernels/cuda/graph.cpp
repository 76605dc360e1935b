// CUDA graphs by stream capture (kernels/cuda/graph.h).
#include "kernels/cuda/graph.h"

#include "kernels/cuda/check.h"
#include "kernels/cuda/runtime.h"

namespace cxr::kernels::cuda {

StreamGraph::StreamGraph(const std::function<void()>& work) {
  const cudaStream_t s = stream();
  // Thread-local mode: only this thread's calls that are unsafe during a capture are refused.
  CXR_CUDA_CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
  try {
    work();
  } catch (...) {
    // End the (invalidated) capture so that the stream takes ordinary work again, then rethrow.
    cudaGraph_t partial = nullptr;
    (void)cudaStreamEndCapture(s, &partial);
    if (partial != nullptr) (void)cudaGraphDestroy(partial);
    (void)cudaGetLastError();
    throw;
  }
  CXR_CUDA_CHECK(cudaStreamEndCapture(s, &graph_));
  const cudaError_t status = cudaGraphInstantiate(&exec_, graph_, 0);
  if (status != cudaSuccess) {
    (void)cudaGraphDestroy(graph_);
    detail::throw_cuda_error(status, "cudaGraphInstantiate(&exec_, graph_, 0)", __FILE__, __LINE__);
  }
}

StreamGraph::~StreamGraph() {
  if (exec_ != nullptr) (void)cudaGraphExecDestroy(exec_);
  if (graph_ != nullptr) (void)cudaGraphDestroy(graph_);
}

void StreamGraph::replay() const { CXR_CUDA_CHECK(cudaGraphLaunch(exec_, stream())); }

size_t StreamGraph::nodes() const {
  size_t count = 0;
  CXR_CUDA_CHECK(cudaGraphGetNodes(graph_, nullptr, &count));
  return count;
}

}  // namespace cxr::kernels::cuda

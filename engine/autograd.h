// Reverse-mode autograd, define-by-run (micrograd's rule, on tensors).
//
// Every op that sees an input requiring grad records a Node on its output: the inputs, and a
// closure that maps d(loss)/d(output) to d(loss)/d(input) for each input. backward() walks the
// nodes in reverse topological order, accumulating gradients, and frees the graph as it goes.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace cxr {

using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

struct Node {
  const char* op = "";
  std::vector<std::shared_ptr<TensorImpl>> inputs;  // one entry per op input; null if it needs no grad
  BackwardFn backward;  // returns one gradient per input (undefined where none)
  // The label of the timing region the node was recorded in (engine/profile.h): its backward is timed
  // under it. Null outside every region, and whenever no Profile was alive.
  std::shared_ptr<const std::string> profile_label;
};

// Whether ops currently record graph nodes (false inside a NoGrad scope).
bool grad_enabled();

// While alive, ops record nothing: evaluation and optimizer updates.
class NoGrad {
 public:
  NoGrad();
  ~NoGrad();
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

 private:
  bool previous_;
};

// True when `output` of an op with these inputs should record a node.
bool needs_grad(const std::vector<Tensor>& inputs);

// Attaches a node to `output` if grad is enabled and any input requires grad. Closures must not
// capture `output` itself (that would be a reference cycle): capture output.detach() instead.
void record(Tensor& output, const char* op, const std::vector<Tensor>& inputs, BackwardFn backward);

// Runs backward from `root` (one element). Leaves keep their accumulated .grad; the graph is freed.
void run_backward(const Tensor& root);

}  // namespace cxr

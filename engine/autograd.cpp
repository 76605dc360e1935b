#include "engine/autograd.h"

#include <optional>
#include <unordered_set>

#include "engine/error.h"
#include "engine/ops.h"
#include "engine/profile.h"

namespace cxr {

namespace {
thread_local bool g_grad_enabled = true;

// Post-order DFS over grad_fn edges: every node comes after all nodes that consume it.
void topological_order(const std::shared_ptr<TensorImpl>& root, std::vector<std::shared_ptr<TensorImpl>>& order) {
  std::unordered_set<TensorImpl*> visited;
  // Iterative, so a deep graph (ResNet50 has hundreds of ops) cannot overflow the stack.
  std::vector<std::pair<std::shared_ptr<TensorImpl>, size_t>> stack{{root, 0}};
  visited.insert(root.get());
  while (!stack.empty()) {
    auto& [impl, next_input] = stack.back();
    const auto& inputs = impl->grad_fn ? impl->grad_fn->inputs : std::vector<std::shared_ptr<TensorImpl>>{};
    if (next_input < inputs.size()) {
      const auto& input = inputs[next_input++];
      if (input && visited.insert(input.get()).second) stack.push_back({input, 0});
      continue;
    }
    order.push_back(impl);
    stack.pop_back();
  }
}
}  // namespace

bool grad_enabled() { return g_grad_enabled; }

NoGrad::NoGrad() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGrad::~NoGrad() { g_grad_enabled = previous_; }

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!g_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void record(Tensor& output, const char* op, const std::vector<Tensor>& inputs, BackwardFn backward) {
  if (!needs_grad(inputs)) return;
  auto node = std::make_shared<Node>();
  node->op = op;
  for (const Tensor& t : inputs) node->inputs.push_back(t.defined() && t.requires_grad() ? t.impl() : nullptr);
  node->backward = std::move(backward);
  node->profile_label = current_profile_label();
  output.impl()->grad_fn = std::move(node);
  output.impl()->requires_grad = true;
}

void run_backward(const Tensor& root) {
  CXR_CHECK(root.defined() && root.numel() == 1, "backward: needs a one-element tensor, got " << root.describe());
  CXR_CHECK(root.requires_grad(), "backward: " << root.describe() << " does not require grad");
  // A tensor whose graph a previous backward() freed keeps requires_grad but loses its grad_fn:
  // running backward again would silently do nothing, so say so. (A leaf has no graph at all.)
  CXR_CHECK(root.impl()->grad_fn || root.impl()->graph_freed == false,
            "backward: the graph of " << root.describe() << " was already freed by an earlier backward()");
  std::vector<std::shared_ptr<TensorImpl>> order;
  topological_order(root.impl(), order);
  // The same for a tensor inside the graph: an earlier backward() through it freed the part below it,
  // so its gradient would stop there and never reach the parameters. Checked before any gradient is
  // computed, so a refused call changes nothing.
  for (const auto& impl : order)
    CXR_CHECK(impl->grad_fn || !impl->graph_freed,
              "backward: " << root.describe() << " depends on " << Tensor(impl).describe()
                           << ", whose graph an earlier backward() already freed");

  NoGrad no_grad;  // gradient arithmetic is not itself recorded
  root.impl()->grad = Tensor::full(root.shape(), 1.0f, root.device(), "grad").impl();
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    TensorImpl& impl = **it;
    if (!impl.grad_fn) continue;  // a leaf: keeps its accumulated gradient
    std::shared_ptr<Node> node = std::move(impl.grad_fn);  // frees this part of the graph when done
    impl.graph_freed = true;
    if (impl.grad) {
      // With a Profile alive, the node's gradients and their accumulation are timed under the label of
      // the layer that recorded it; a node recorded outside every region under its op's name, in brackets.
      std::optional<ProfileRegion> timed;
      if (active_profile()) {
        const std::string op = node->op;
        timed.emplace(ProfilePhase::Backward, node->profile_label ? *node->profile_label : "(" + op + ")");
      }
      std::vector<Tensor> grads = node->backward(Tensor(impl.grad));
      CXR_ASSERT(grads.size() == node->inputs.size(), "backward of " << node->op << ": wrong gradient count");
      for (size_t i = 0; i < grads.size(); ++i) {
        const auto& input = node->inputs[i];
        if (!input || !grads[i].defined()) continue;
        CXR_ASSERT(grads[i].shape() == input->shape, "backward of " << node->op << ": gradient " << shape_str(grads[i].shape())
                                                                   << " does not match input " << shape_str(input->shape));
        // Out-of-place sum: a gradient may alias another tensor's storage (reshape passes views on).
        input->grad = input->grad ? add(Tensor(input->grad), grads[i]).impl() : grads[i].impl();
      }
    }
    impl.grad.reset();  // intermediate gradients are not kept
  }
}

}  // namespace cxr

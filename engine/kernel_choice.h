// Which CUDA implementation an op uses: our own kernels (`custom`, kernels/cuda/*.cu) or the vendor
// libraries (`vendor`: cuDNN convolution, 4-D batch norm, max pooling, relu, sigmoid and dropout,
// whose masks come from cuDNN's RNG and so differ from the CPU's; cuBLAS GEMM). CPU tensors ignore
// it. Ops without a vendor path (2-D batch norm, loss, optimizers, elementwise) run the custom kernel
// under both.
//
// The choice in force is the innermost KernelChoiceScope of the calling thread, else the process
// default (custom). Ops read it when they run forward and keep it for their backward, so a layer's
// `kernels:` key (a scope around its forward) also decides its gradients.
#pragma once
#include <optional>
#include <string>

namespace cxr {

enum class KernelChoice { Custom, Vendor };

// "custom" | "vendor"; throws InputError naming the bad value.
KernelChoice parse_kernel_choice(const std::string& text);
const char* kernel_choice_name(KernelChoice choice);

KernelChoice default_kernel_choice();
void set_default_kernel_choice(KernelChoice choice);
KernelChoice current_kernel_choice();

// Overrides the choice on this thread while alive; an empty optional keeps the current one.
class KernelChoiceScope {
 public:
  explicit KernelChoiceScope(std::optional<KernelChoice> choice);
  ~KernelChoiceScope();
  KernelChoiceScope(const KernelChoiceScope&) = delete;
  KernelChoiceScope& operator=(const KernelChoiceScope&) = delete;

 private:
  std::optional<KernelChoice> previous_;
};

}  // namespace cxr

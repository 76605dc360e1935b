#include <utility>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/ops/dispatch.h"
#include "kernels/batchnorm.h"

namespace cxr {

namespace {

// Rows M (every position of every image) and channels C of x, once every argument is checked.
std::pair<int64_t, int> batch_norm_rows(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                        const Tensor& moving_mean, const Tensor& moving_var) {
  CXR_CHECK(x.rank() >= 2, "batch_norm: input " << x.describe() << " needs a batch axis and a channel axis");
  const int C = static_cast<int>(x.dim(-1));
  CXR_CHECK(C > 0, "batch_norm: input " << x.describe() << " has no channels");
  for (const Tensor* t : std::initializer_list<const Tensor*>{&gamma, &beta, &moving_mean, &moving_var})
    CXR_CHECK(t->shape() == Shape{C}, "batch_norm: " << t->describe() << " must be [" << C << "] for input "
                                                     << x.describe());
  return {x.numel() / C, C};
}

}  // namespace

bool batch_norm_dropout_relu_is_fused(const Tensor& x) {
  if (x.device().is_cpu()) return true;
  // batch_norm's kernel choice: cuDNN's for 4-D inputs under the vendor choice.
  if (x.rank() == 4 && current_kernel_choice() == KernelChoice::Vendor) return false;
#ifdef CXR_WITH_CUDA
  return kernels::cuda::batchnorm_dropout_relu();
#else
  return false;
#endif
}

Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& moving_mean, Tensor& moving_var,
                  const BatchNormOptions& options) {
  const Device device = common_device("batch_norm", {&x, &gamma, &beta, &moving_mean, &moving_var});
  const auto [M, C] = batch_norm_rows(x, gamma, beta, moving_mean, moving_var);
  Tensor y = Tensor::empty(x.shape(), device, "batch_norm");
  // TensorFlow's fused kernel (4-D inputs) feeds the moving variance the unbiased batch variance;
  // Keras's 2-D path the biased one (facts §3). cuDNN only does the former, so only 4-D inputs take
  // the vendor path; the backward uses the forward's choice.
  const bool unbiased = x.rank() == 4;
  const KernelChoice choice = unbiased ? current_kernel_choice() : KernelChoice::Custom;

  if (!options.training) {
    CXR_DISPATCH_CHOICE(device, choice,
                        batchnorm_forward_inference(M, C, x.data(), gamma.data(), beta.data(), moving_mean.data(),
                                                    moving_var.data(), options.epsilon, y.data()));
    // No vendor backward here: cuDNN has none for frozen statistics.
    record(y, "batch_norm_inference", {x, gamma, beta},
           [M, C, eps = options.epsilon, x = x.detach(), gamma = gamma.detach(), mean = moving_mean.clone(),
            var = moving_var.clone()](const Tensor& g) {
             Tensor dx = Tensor::empty(x.shape(), x.device(), "batch_norm_dx");
             Tensor dgamma = Tensor::empty({C}, x.device(), "batch_norm_dgamma");
             Tensor dbeta = Tensor::empty({C}, x.device(), "batch_norm_dbeta");
             CXR_DISPATCH(x.device(), batchnorm_backward_inference(M, C, x.data(), gamma.data(), mean.data(), var.data(),
                                                                eps, g.data(), dx.data(), dgamma.data(), dbeta.data()));
             return std::vector<Tensor>{dx, dgamma, dbeta};
           });
    return y;
  }

  Tensor save_mean = Tensor::empty({C}, device, "batch_norm_mean");
  Tensor save_inv_std = Tensor::empty({C}, device, "batch_norm_inv_std");
  if (takes_vendor_path(device, choice)) {  // cuDNN updates the moving statistics in the same call
    CXR_VENDOR_CALL(batchnorm_forward_train_and_update(M, C, x.data(), gamma.data(), beta.data(), options.epsilon,
                                                       options.momentum, y.data(), save_mean.data(),
                                                       save_inv_std.data(), moving_mean.data(), moving_var.data()));
  } else {
    Tensor save_var = Tensor::empty({C}, device, "batch_norm_var");
    // The moving statistics updated as the batch's are finalised (no launch of their own on CUDA).
    const kernels::MovingUpdate moving{options.momentum, unbiased, moving_mean.data(), moving_var.data()};
    CXR_DISPATCH(device, batchnorm_forward_train(M, C, x.data(), gamma.data(), beta.data(), options.epsilon, y.data(),
                                                  save_mean.data(), save_inv_std.data(), save_var.data(), &moving));
  }
  record(y, "batch_norm_train", {x, gamma, beta},
         [M, C, choice, eps = options.epsilon, x = x.detach(), gamma = gamma.detach(), save_mean,
          save_inv_std](const Tensor& g) {
           Tensor dx = Tensor::empty(x.shape(), x.device(), "batch_norm_dx");
           Tensor dgamma = Tensor::empty({C}, x.device(), "batch_norm_dgamma");
           Tensor dbeta = Tensor::empty({C}, x.device(), "batch_norm_dbeta");
           CXR_DISPATCH_VENDOR(x.device(), choice,
                               batchnorm_backward_train(M, C, x.data(), gamma.data(), save_mean.data(),
                                                        save_inv_std.data(), eps, g.data(), dx.data(), dgamma.data(),
                                                        dbeta.data()),
                               batchnorm_backward_train(M, C, x.data(), gamma.data(), save_mean.data(),
                                                        save_inv_std.data(), g.data(), dx.data(), dgamma.data(),
                                                        dbeta.data()));
           return std::vector<Tensor>{dx, dgamma, dbeta};
         });
  return y;
}

// One kernel each way in training under the custom kernels (CPU, or CUDA unless
// CXR_BATCHNORM_DROPOUT_RELU=0); the two ops elsewhere: in inference, at rate 0 (dropout is then the
// identity) and under cuDNN, whose batch norm and dropout have no fused twin.
Tensor batch_norm_dropout_relu(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& moving_mean,
                               Tensor& moving_var, const BatchNormOptions& options, const DropoutKey& key) {
  const Device device = common_device("batch_norm_dropout_relu", {&x, &gamma, &beta, &moving_mean, &moving_var});
  CXR_CHECK(key.rate >= 0.0f && key.rate < 1.0f,
            "dropout (after batch_norm) on " << x.describe() << ": rate " << key.rate << " must be in [0, 1)");
  const auto [M, C] = batch_norm_rows(x, gamma, beta, moving_mean, moving_var);
  if (!options.training || key.rate == 0.0f || !batch_norm_dropout_relu_is_fused(x))
    return dropout_relu(batch_norm(x, gamma, beta, moving_mean, moving_var, options), key.rate, key.seed, key.stream);
  Tensor y = Tensor::empty(x.shape(), device, "batch_norm_dropout_relu");
  Tensor save_mean = Tensor::empty({C}, device, "batch_norm_mean");
  Tensor save_inv_std = Tensor::empty({C}, device, "batch_norm_inv_std");
  Tensor save_var = Tensor::empty({C}, device, "batch_norm_var");
  const kernels::MovingUpdate moving{options.momentum, x.rank() == 4, moving_mean.data(), moving_var.data()};
  CXR_DISPATCH(device, batchnorm_dropout_relu_forward_train(M, C, x.data(), gamma.data(), beta.data(),
                                                            options.epsilon, key.rate, key.seed, key.stream,
                                                            y.data(), save_mean.data(), save_inv_std.data(),
                                                            save_var.data(), &moving));
  record(y, "batch_norm_dropout_relu", {x, gamma, beta},
         [M, C, rate = key.rate, x = x.detach(), gamma = gamma.detach(), save_mean, save_inv_std,
          y = y.detach()](const Tensor& g) {
           Tensor dx = Tensor::empty(x.shape(), x.device(), "batch_norm_dx");
           Tensor dgamma = Tensor::empty({C}, x.device(), "batch_norm_dgamma");
           Tensor dbeta = Tensor::empty({C}, x.device(), "batch_norm_dbeta");
           CXR_DISPATCH(x.device(), batchnorm_dropout_relu_backward_train(M, C, x.data(), gamma.data(),
                                                                          save_mean.data(), save_inv_std.data(), rate,
                                                                          y.data(), g.data(), dx.data(),
                                                                          dgamma.data(), dbeta.data()));
           return std::vector<Tensor>{dx, dgamma, dbeta};
         });
  return y;
}

}  // namespace cxr

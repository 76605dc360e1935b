#include <stdexcept>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/ops/dispatch.h"
#include "kernels/conv2d.h"

namespace cxr {
namespace {

// The CPU forward's packed weights (kernels/conv2d.h), kept on the weights' storage from call to
// call while the weights are unchanged (Storage::version), or null where none are kept: weights that
// train (they change every step: a kept copy would only hold memory), except in evaluation; views
// that are not their whole storage; shapes whose forward packs nothing. Packing on every call took
// 13% of experiment 4's step, whose ResNet50V2 is frozen.
const float* kept_packed_weights(const Tensor& weight, const kernels::Conv2dShape& s) {
  Storage& storage = *weight.impl()->storage;
  Storage::Derived& kept = storage.derived();
  const kernels::cpu::Conv2dPacking packing = kernels::cpu::conv2d_forward_packing(s);
  const bool whole_storage = weight.impl()->offset == 0 && static_cast<size_t>(weight.numel()) == storage.size();
  if ((weight.requires_grad() && grad_enabled()) || packing.floats == 0 || !whole_storage) {
    kept = {};  // frees a copy kept from an evaluation
    return nullptr;
  }
  const std::vector<int64_t> key{packing.layout, s.K, s.R, s.S, s.C};
  if (!kept.data || kept.version != storage.version() || kept.key != key) {
    kept.data = std::make_shared<Storage>(static_cast<size_t>(packing.floats), Device::cpu(),
                                          weight.name() + " (packed for the CPU forward)");
    kernels::cpu::conv2d_pack_forward_weights(s, weight.data(), kept.data->data());
    kept.version = storage.version();
    kept.key = key;
  }
  return kept.data->data();
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int stride_h, int stride_w,
              bool same_padding) {
  const Device device = common_device("conv2d", {&x, &weight, &bias});
  CXR_CHECK(x.rank() == 4, "conv2d: input " << x.describe() << " must be NHWC (rank 4)");
  CXR_CHECK(weight.rank() == 4, "conv2d: weight " << weight.describe() << " must be OHWI (rank 4)");
  CXR_CHECK(weight.dim(3) == x.dim(3), "conv2d: weight " << weight.describe() << " expects " << weight.dim(3)
                                                         << " input channels, input " << x.describe() << " has "
                                                         << x.dim(3));
  CXR_CHECK(!bias.defined() || bias.shape() == Shape{weight.dim(0)},
            "conv2d: bias " << bias.describe() << " must have shape [" << weight.dim(0) << "]");
  kernels::Conv2dShape s;
  try {
    s = kernels::make_conv2d_shape(x.dim(0), x.dim(1), x.dim(2), x.dim(3), weight.dim(0), weight.dim(1),
                                   weight.dim(2), stride_h, stride_w, same_padding);
  } catch (const std::invalid_argument& e) {
    throw InputError("conv2d: weight " + weight.describe() + " on input " + x.describe() + ": " + e.what());
  }
  Tensor y = Tensor::empty({s.N, s.OH, s.OW, s.K}, device, "conv2d");
  const KernelChoice choice = current_kernel_choice();  // backward uses the forward's choice
  const float* packed = device.is_cpu() ? kept_packed_weights(weight, s) : nullptr;
  if (packed)
    kernels::cpu::conv2d_forward_packed(s, x.data(), packed, bias.defined() ? bias.data() : nullptr, y.data());
  else
    CXR_DISPATCH_CHOICE(device, choice,
                        conv2d_forward(s, x.data(), weight.data(), bias.defined() ? bias.data() : nullptr, y.data()));
  record(y, "conv2d", {x, weight, bias},
         [s, choice, x = x.detach(), w = weight.detach(), want_dx = x.requires_grad(), want_dw = weight.requires_grad(),
          want_db = bias.defined() && bias.requires_grad()](const Tensor& g) {
           Tensor dx, dw, db;
           if (want_dx) dx = Tensor::empty(x.shape(), x.device(), "conv2d_dx");
           if (want_dw) dw = Tensor::empty(w.shape(), w.device(), "conv2d_dw");
           if (want_db) db = Tensor::empty({s.K}, w.device(), "conv2d_db");
           CXR_DISPATCH_CHOICE(x.device(), choice,
                               conv2d_backward(s, x.data(), w.data(), g.data(), want_dx ? dx.data() : nullptr,
                                                 want_dw ? dw.data() : nullptr, want_db ? db.data() : nullptr));
           return std::vector<Tensor>{dx, dw, db};
         });
  return y;
}

}  // namespace cxr

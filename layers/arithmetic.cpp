#include "layers/arithmetic.h"

namespace cxr {

StepArithmetic step_arithmetic(const Model& model, int64_t batch) {
  StepArithmetic a;
  bool gradient_below = false;  // something before this point trains: the input gradient is needed
  for (const auto& layer : model.layers) {
    for (const Product& p : layer->products()) {
      const double forward = 2.0 * static_cast<double>(batch) * p.multiply_adds;
      const double backward = forward * ((p.trains ? 1 : 0) + (gradient_below ? 1 : 0));
      StepFlops& row = a.rows[p.part.empty() ? layer->name : layer->name + "/" + p.part];
      row.forward += forward;
      row.backward += backward;
      a.total.forward += forward;
      a.total.backward += backward;
      gradient_below = gradient_below || p.trains;
    }
    gradient_below = gradient_below || layer->trainable_parameter_count() > 0;
  }
  return a;
}

}  // namespace cxr

// model.summary() for cxrnet models, in Keras's format (apps/keras_summary.h does the layout).
#pragma once
#include <string>

#include "layers/model.h"

namespace cxr {

std::string model_summary(const Model& model);

}  // namespace cxr

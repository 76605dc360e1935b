#include "apps/model_summary.h"

#include "apps/keras_summary.h"

namespace cxr {

std::string model_summary(const Model& model) {
  std::vector<report::SummaryRow> rows;
  // A functional model lists its InputLayer (no weights) first; a Sequential one does not (facts §9).
  if (model.functional)
    rows.push_back({model.input_name, "InputLayer", report::format_input_shape(model.input_shape), 0});
  for (const auto& layer : model.layers)
    rows.push_back({layer->name, layer->class_name(), report::format_output_shape(layer->output_shape),
                    layer->parameter_count()});
  const int64_t total = model.total_parameter_count(), trainable = model.trainable_parameter_count();
  return report::format_summary(model.name, rows, total, trainable, total - trainable);
}

}  // namespace cxr

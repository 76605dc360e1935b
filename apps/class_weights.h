// The training config's class_weight (apps/experiment_config.h) resolved against the data: one
// weight per label, used as Keras 2.8's model.fit(class_weight=...) uses them (checked in the Keras
// sources):
// - keras/engine/data_adapter.py, _make_class_weight_map_fn: the dict becomes each training batch's
//   sample_weight, gathered by label (tf.gather(class_weight_tensor, y_classes)). Only fit's training
//   data is mapped: validation (evaluate) gets no class weights.
// - keras/engine/compile_utils.py, LossesContainer.__call__: loss_obj(y_t, y_p, sample_weight=sw),
//   reduced SUM_OVER_BATCH_SIZE (keras/utils/losses_utils.py, compute_weighted_loss and
//   reduce_weighted_loss: sum(w * loss) / the number of samples, not / sum(w)); the epoch's `loss`
//   is the Mean of those batch values weighted by batch size, as before.
// - compile_utils.py, MetricsContainer.update_state: metrics given to compile(metrics=...) get
//   `sample_weight=mask` (None here); only compile(weighted_metrics=...) get the sample weights. The
//   notebook compiles metrics='binary_accuracy', so its training accuracy stays unweighted (the same
//   line is in TF 2.2's copy and in Keras 2.12+; keras-team/keras#15373 reports it for TF 2.5-2.7).
// The trainer does the same with label_weights() and bce_with_logits(logits, labels, weights)
// (engine/ops.h); EpochSums counts accuracy unweighted.
#pragma once
#include <iosfwd>
#include <string>
#include <vector>

#include "apps/experiment_config.h"

namespace cxr {

// One weight per class, in label order (class_names[k] has label k); empty when config.mode is ""
// (no weighting). balanced: n / (n_classes * count_k) over train_labels, scikit-learn's rule
// (InputError when a class has no training image); without class names the two binary labels are
// assumed. map: every key must name a class folder and every class folder needs a weight
// (ConfigError at the map: FILE:LINE:COL). Writes one line to `log` naming the weights.
std::vector<double> resolve_class_weights(const ClassWeightConfig& config, const std::vector<std::string>& class_names,
                                          const std::vector<int>& train_labels, std::ostream& log);

}  // namespace cxr

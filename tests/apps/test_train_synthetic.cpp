// Training experiment 1's model (configs/experiment1.yaml, layers unchanged) on the synthetic set:
// the loss must fall and held-out accuracy must beat chance. Balanced classes make chance 50%.
// The notebook's learning rate (3e-6) needs hundreds of epochs; this test uses 1e-3, batches of 16
// and shuffled samples so that a dozen epochs suffice.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "apps/datasets.h"
#include "apps/experiment_config.h"
#include "apps/trainer.h"
#include "data/synth.h"
#include "layers/model.h"

namespace cxr {
namespace {

namespace fs = std::filesystem;

// ROC-AUC by its definition: the probability that a random positive outranks a random negative
// (ties count half). Unlike accuracy at 0.5 it does not depend on calibration.
double roc_auc(const Evaluation& e) {
  double wins = 0, pairs = 0;
  for (size_t i = 0; i < e.labels.size(); ++i)
    for (size_t j = 0; j < e.labels.size(); ++j)
      if (e.labels[i] == 1 && e.labels[j] == 0) {
        pairs += 1;
        wins += e.probabilities[i] > e.probabilities[j] ? 1.0 : e.probabilities[i] == e.probabilities[j] ? 0.5 : 0.0;
      }
  return wins / pairs;
}

TEST(TrainSynthetic, Experiment1ModelLearnsAndBeatsChance) {
  const fs::path dir = fs::temp_directory_path() / ("cxr_train_synthetic_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  data::write_synthetic_dataset({.out_dir = dir.string(), .train_normal = 160, .train_pneumonia = 160,
                                 .test_normal = 60, .test_pneumonia = 60, .min_size = 80, .max_size = 120});

  ExperimentConfig config = load_experiment_config(std::string(CXR_SOURCE_DIR) + "/configs/experiment1.yaml");
  config.data.validation = SplitConfig{};
  config.data.shuffle = true;
  config.data.batch_size = 16;
  config.train.optimizer.learning_rate = 1e-3;

  Model model = build_model(config.model, config.train.seed);
  std::ostringstream log;
  const Datasets data = load_datasets(config.data, dir.string(), log);
  ASSERT_EQ(data.train.labels.size(), 320u);
  ASSERT_EQ(data.test.labels.size(), 120u);

  Trainer trainer(model, config);
  const Evaluation before = trainer.evaluate(data.test);
  std::vector<double> losses;
  for (int epoch = 1; epoch <= 12; ++epoch) losses.push_back(trainer.train_epoch(epoch, data.train, nullptr).loss);
  const Evaluation after = trainer.evaluate(data.test);

  std::cout << "epoch losses " << losses.front() << " ... " << losses.back() << "; test ROC-AUC "
            << roc_auc(before) << " -> " << roc_auc(after) << ", test loss " << before.loss << " -> " << after.loss
            << ", accuracy at 0.5 " << before.accuracy << " -> " << after.accuracy << "\n";
  EXPECT_LT(losses.back(), losses.front() - 0.2);
  // Held-out ranking quality; chance is 0.5. Accuracy at the 0.5 threshold lags behind for a few
  // epochs because inference-mode logits are shifted against training-mode ones: the moving
  // statistics trail the batch statistics (momentum 0.99), and the Dropout -> BatchNormalization
  // pair after the max-pool sees a different variance in each mode. The held-out loss is
  // inflated by the same shift, so it is not asserted. After 8 epochs the ROC-AUC still swung
  // between 0.73 and 0.92 with the seed or merely the summation order of the convolutions; after 12
  // it was 0.93-0.98 for seeds 1-5 and 42 (0.98 for the config's 42), so 0.85 leaves a margin.
  EXPECT_GT(roc_auc(after), 0.85);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace cxr

// class_weight under train: (Keras's model.fit(class_weight=...), apps/class_weights.h): the config
// forms and their errors, scikit-learn's balanced rule, and the trainer's weighted loss against a
// hand computation on a tiny batch.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "apps/class_weights.h"
#include "apps/experiment_config.h"
#include "apps/trainer.h"
#include "engine/error.h"
#include "layers/model.h"
#include "tests/layers/config_error.h"

namespace cxr {
namespace {

const auto error_of = testing::config_error_of;
const std::vector<std::string> kClasses{"NORMAL", "PNEUMONIA"};

// A 1x2 RGB input, Flatten -> Dense 1 -> sigmoid; `train_lines` start at line 13 of x.yaml.
ExperimentConfig parse(const std::string& train_lines) {
  return parse_experiment_config(SpecNode::load_string("name: tiny\n"
                                                       "data:\n"
                                                       "  image_size: [1, 2]\n"
                                                       "  batch_size: 8\n"
                                                       "model:\n"
                                                       "  input: [1, 2, 3]\n"
                                                       "  layers:\n"
                                                       "    - {type: Flatten}\n"
                                                       "    - {type: Dense, units: 1}\n"
                                                       "    - {type: Activation, activation: sigmoid}\n"
                                                       "train:\n"
                                                       "  optimizer: {type: SGD, learning_rate: 0.5}\n" +
                                                           train_lines,
                                                       "x.yaml"));
}

std::vector<double> resolve(const ExperimentConfig& config, const std::vector<int>& labels) {
  std::ostringstream log;
  return resolve_class_weights(config.train.class_weight, kClasses, labels, log);
}

TEST(ClassWeightConfig, AbsentBalancedOrAMap) {
  EXPECT_TRUE(parse("").train.class_weight.mode.empty());
  EXPECT_TRUE(resolve(parse(""), {0, 1}).empty());
  EXPECT_EQ(parse("  class_weight: balanced\n").train.class_weight.mode, "balanced");
  const ClassWeightConfig map = parse("  class_weight: {PNEUMONIA: 0.67, NORMAL: 1.9}\n").train.class_weight;
  EXPECT_EQ(map.mode, "map");
  EXPECT_EQ(map.weights, (std::vector<std::pair<std::string, double>>{{"PNEUMONIA", 0.67}, {"NORMAL", 1.9}}));
  // By label, whatever the order in the file.
  EXPECT_EQ(resolve(parse("  class_weight: {PNEUMONIA: 0.67, NORMAL: 1.9}\n"), {0, 1}), (std::vector<double>{1.9, 0.67}));
}

TEST(ClassWeightConfig, RoundTripsThroughResolvedYaml) {
  for (const char* line : {"", "  class_weight: balanced\n", "  class_weight: {NORMAL: 1.9, PNEUMONIA: 0.67}\n"}) {
    SCOPED_TRACE(line);
    const ExperimentConfig config = parse(line);
    const ExperimentConfig again = parse_experiment_config(SpecNode::load_string(resolved_yaml(config), "r.yaml"));
    EXPECT_EQ(again.train.class_weight, config.train.class_weight);
  }
}

TEST(ClassWeightConfig, BadValuesAreConfigErrorsAtTheValue) {
  EXPECT_EQ(error_of([] { parse("  class_weight: balance\n"); }),
            "x.yaml:13:17: train.class_weight: expected one of balanced, got 'balance' (did you mean 'balanced'?)");
  EXPECT_EQ(error_of([] { parse("  class_weight: {NORMAL: 0, PNEUMONIA: 1}\n"); }),
            "x.yaml:13:26: train.class_weight.NORMAL: must be a finite number > 0, got 0");
  EXPECT_EQ(error_of([] { parse("  class_weight: [1.9, 0.67]\n"); }),
            "x.yaml:13:17: train.class_weight: expected balanced or a weight per class folder, e.g. {NORMAL: 1.9, "
            "PNEUMONIA: 0.67}");
  EXPECT_EQ(error_of([] { parse("  class_weight: {NORMAL: 1.9, NORMAL: 2}\n"); }).substr(0, 12), "x.yaml:13:31");
}

// The class folders are known only once the data is found: the error still points into the file.
TEST(ClassWeightConfig, MapKeysMustBeTheClassFolders) {
  EXPECT_EQ(error_of([] { resolve(parse("  class_weight: {NORMALS: 1.9, PNEUMONIA: 0.67}\n"), {0, 1}); }),
            "x.yaml:13:27: train.class_weight.NORMALS: 'NORMALS' is not a class folder of the data (the classes "
            "are NORMAL, PNEUMONIA) (did you mean 'NORMAL'?)");
  EXPECT_EQ(error_of([] { resolve(parse("  class_weight: {NORMAL: 1.9}\n"), {0, 1}); }),
            "x.yaml:13:17: train.class_weight: gives no weight for class PNEUMONIA (every class folder needs one: "
            "NORMAL, PNEUMONIA)");
}

// scikit-learn's compute_class_weight('balanced'): n_samples / (n_classes * bincount(y)).
TEST(ClassWeights, BalancedIsScikitLearnsRuleOnTheTrainingLabels) {
  const std::vector<double> w = resolve(parse("  class_weight: balanced\n"), {0, 1, 1, 1, 1, 1, 0, 1});
  ASSERT_EQ(w.size(), 2u);
  EXPECT_DOUBLE_EQ(w[0], 8.0 / (2 * 2));
  EXPECT_DOUBLE_EQ(w[1], 8.0 / (2 * 6));
  // The real training split of `--test-from-train 0.2` and a 30% validation: 751 NORMAL and
  // 2,170 PNEUMONIA images; a run logs "NORMAL 1.94474, PNEUMONIA 0.673041".
  std::vector<int> labels(751, 0);
  labels.resize(2921, 1);
  const std::vector<double> real = resolve(parse("  class_weight: balanced\n"), labels);
  EXPECT_NEAR(real[0], 1.94474, 1e-5);
  EXPECT_NEAR(real[1], 0.673041, 1e-6);
  EXPECT_THROW(resolve(parse("  class_weight: balanced\n"), {1, 1, 1}), InputError);  // no NORMAL image
}

double sample_loss(double z, double y) { return std::max(z, 0.0) - z * y + std::log1p(std::exp(-std::fabs(z))); }

// One training step on a batch of 5 (so the epoch's loss is that batch's, computed before the
// update): the loss is sum(class weight * loss) / 5 by hand; accuracy stays unweighted; the
// validation loss (the same images, after the update) is not weighted at all.
TEST(ClassWeightTraining, WeightedLossEqualsTheHandComputedValue) {
  ExperimentConfig config = parse("  class_weight: {NORMAL: 0.5, PNEUMONIA: 3.0}\n");
  Model model = build_model(config.model, config.train.seed);
  std::vector<Parameter*> params = model.parameters();
  ASSERT_EQ(params.size(), 2u);  // Dense kernel [6, 1] and bias [1]
  const std::vector<float> kernel{0.3f, -0.2f, 0.1f, 0.25f, -0.4f, 0.05f};
  std::copy(kernel.begin(), kernel.end(), params[0]->value.data());
  params[1]->value.data()[0] = -0.1f;

  data::LoadedImages images;
  images.height = 1;
  images.width = 2;
  images.labels = {0, 1, 1, 0, 1};
  images.pixels = {1, 2, 3, 4, 5, 6,  6, 1, 0, 2, 3, 1,  0, 0, 5, 1, 1, 1,  9, 0, 1, 0, 0, 2,  2, 2, 2, 2, 2, 2};
  images.files.assign(5, "x.png");
  auto logits = [&] {
    std::vector<double> z(5);
    for (size_t i = 0; i < 5; ++i) {
      z[i] = params[1]->value.data()[0];
      for (size_t k = 0; k < 6; ++k) z[i] += double(images.pixels[i * 6 + k]) * params[0]->value.data()[k];
    }
    return z;
  };
  const std::vector<double> before = logits();
  double weighted = 0, unweighted = 0;
  int correct = 0;
  for (size_t i = 0; i < 5; ++i) {
    const double y = images.labels[i], l = sample_loss(before[i], y);
    weighted += (y > 0.5 ? 3.0 : 0.5) * l / 5;
    unweighted += l / 5;
    correct += (before[i] > 0) == (y > 0.5);
  }
  ASSERT_GT(std::fabs(weighted - unweighted), 0.1);  // the weights matter on this batch
  ASSERT_NE(correct, 0);
  ASSERT_NE(correct, 5);  // accuracy weighted or not would differ

  Trainer trainer(model, config);
  trainer.set_class_names(kClasses);
  const EpochResult r = trainer.train_epoch(1, images, &images);
  EXPECT_EQ(r.steps, 1);
  EXPECT_NEAR(r.loss, weighted, 1e-5 * weighted);
  EXPECT_DOUBLE_EQ(r.accuracy, correct / 5.0);

  const std::vector<double> after = logits();
  double val_loss = 0;
  for (size_t i = 0; i < 5; ++i) val_loss += sample_loss(after[i], images.labels[i]) / 5;
  EXPECT_NEAR(r.val_loss, val_loss, 1e-5 * val_loss);
}

}  // namespace
}  // namespace cxr

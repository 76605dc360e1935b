// The frozen-prefix feature cache (apps/feature_cache.h): which prefix is cacheable, and that
// training and evaluation through cached features give exactly what the whole model gives.
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>

#include "apps/experiment_config.h"
#include "apps/feature_cache.h"
#include "apps/trainer.h"
#include "data/loader.h"
#include "layers/model.h"

namespace cxr {
namespace {

// A small CNN: a frozen Rescaling -> Conv2D -> BatchNormalization -> MaxPooling2D -> Flatten prefix,
// then a trainable head with a Dropout (at model index 6, as with or without the cache).
std::string tiny_yaml(const std::string& data_extra = "", const std::string& model_extra = "",
                      const std::string& layers = "") {
  return "name: t\n"
         "data:\n"
         "  image_size: [12, 12]\n"
         "  rescale: 0.00392156862745098\n"
         "  batch_size: 8\n" +
         data_extra +
         "model:\n"
         "  input: [12, 12, 3]\n" +
         model_extra + "  layers:\n" +
         (layers.empty() ? "    - {type: Rescaling, scale: 2.0, offset: -1.0}\n"
                           "    - {type: Conv2D, filters: 4, kernel_size: 3, activation: relu, trainable: false}\n"
                           "    - {type: BatchNormalization, trainable: false}\n"
                           "    - {type: MaxPooling2D, pool_size: 2}\n"
                           "    - {type: Flatten}\n"
                           "    - {type: Dense, units: 8, activation: relu}\n"
                           "    - {type: Dropout, rate: 0.5}\n"
                           "    - {type: Dense, units: 1, activation: sigmoid}\n"
                         : layers) +
         "train:\n"
         "  optimizer: {type: Adam, learning_rate: 0.01}\n"
         "  seed: 7\n";
}

ExperimentConfig tiny_config(const std::string& data_extra = "", const std::string& model_extra = "",
                             const std::string& layers = "") {
  return parse_experiment_config(SpecNode::load_string(tiny_yaml(data_extra, model_extra, layers), "tiny.yaml"));
}

// n random 12x12 images (n not a multiple of the batch: the last batch is partial).
data::LoadedImages random_images(int n, uint32_t seed) {
  data::LoadedImages images;
  images.height = images.width = 12;
  uint32_t s = seed;
  auto next = [&s] { return s = s * 1664525u + 1013904223u; };
  for (int i = 0; i < n; ++i) {
    images.labels.push_back(static_cast<int>(next() >> 31));
    images.files.push_back("img" + std::to_string(seed) + "_" + std::to_string(i) + ".png");
  }
  images.pixels.resize(static_cast<size_t>(n) * 12 * 12 * 3);
  for (uint8_t& p : images.pixels) p = static_cast<uint8_t>(next() >> 24);
  return images;
}

struct TrainingRun {
  std::vector<EpochResult> epochs;
  Evaluation validation;
  std::vector<std::vector<float>> weights;
  bool train_cached = false, validation_cached = false;
};

TrainingRun train(const ExperimentConfig& config, bool cache, int epochs = 3) {
  Model model = build_model(config.model, config.train.seed);
  const data::LoadedImages train_set = random_images(37, 1), validation = random_images(13, 2);
  Trainer trainer(model, config);
  trainer.set_feature_cache({.enabled = cache});
  TrainingRun run;
  for (int epoch = 1; epoch <= epochs; ++epoch) run.epochs.push_back(trainer.train_epoch(epoch, train_set, &validation));
  run.validation = trainer.evaluate(validation);
  for (Parameter* p : model.parameters()) run.weights.push_back(p->value.to_vector());
  run.train_cached = trainer.feature_cache().holds(train_set);
  run.validation_cached = trainer.feature_cache().holds(validation);
  return run;
}

void expect_identical(const TrainingRun& a, const TrainingRun& b) {
  ASSERT_EQ(a.epochs.size(), b.epochs.size());
  for (size_t e = 0; e < a.epochs.size(); ++e) {
    EXPECT_EQ(a.epochs[e].loss, b.epochs[e].loss) << "epoch " << e + 1;
    EXPECT_EQ(a.epochs[e].accuracy, b.epochs[e].accuracy) << "epoch " << e + 1;
    EXPECT_EQ(a.epochs[e].val_loss, b.epochs[e].val_loss) << "epoch " << e + 1;
    EXPECT_EQ(a.epochs[e].val_accuracy, b.epochs[e].val_accuracy) << "epoch " << e + 1;
    EXPECT_EQ(a.epochs[e].steps, b.epochs[e].steps);
  }
  EXPECT_EQ(a.validation.probabilities, b.validation.probabilities);
  EXPECT_EQ(a.validation.labels, b.validation.labels);
  EXPECT_EQ(a.weights, b.weights);
}

class FeatureCacheTest : public ::testing::Test {
 protected:
  void SetUp() override { ::unsetenv("CXR_FEATURE_CACHE"); }  // the switch must not leak into these checks
};

TEST_F(FeatureCacheTest, PrefixStopsAtTheFirstTrainableOrNonDeterministicLayer) {
  const Model tiny = build_model(tiny_config().model, 7);
  EXPECT_EQ(cacheable_prefix_length(tiny), 5u);  // Rescaling, Conv2D, BN, MaxPooling2D, Flatten
  EXPECT_EQ(describe_prefix(tiny, 5), "input..rescaling..conv2d..batch_normalization..max_pooling2d..flatten");

  // A frozen Dropout still drops in training: the prefix ends before it, frozen Dense after or not.
  const Model dropout = build_model(tiny_config("", "",
                                                "    - {type: Conv2D, filters: 2, kernel_size: 3, trainable: false}\n"
                                                "    - {type: Dropout, rate: 0.5, trainable: false}\n"
                                                "    - {type: Flatten}\n"
                                                "    - {type: Dense, units: 1, activation: sigmoid}\n")
                                        .model,
                                    7);
  EXPECT_EQ(cacheable_prefix_length(dropout), 1u);

  // A BatchNormalization whose parameters are frozen (its gamma among them) runs in inference mode,
  // as a frozen layer does (layers/batch_normalization.cpp): cacheable, up to the trainable Dense.
  // Only beta frozen: gamma trains (and so the layer uses batch statistics): the prefix stops before it.
  const auto conv_bn_frozen = [](const std::string& bn_entry) {
    return build_model(tiny_config("", "  freeze: ['conv2d', '" + bn_entry + "']\n",
                                   "    - {type: Conv2D, filters: 2, kernel_size: 3}\n"
                                   "    - {type: BatchNormalization}\n"
                                   "    - {type: Flatten}\n"
                                   "    - {type: Dense, units: 1, activation: sigmoid}\n")
                           .model,
                       7);
  };
  const Model bn = conv_bn_frozen("batch_normalization/*");
  EXPECT_EQ(bn.layers[1]->trainable_parameter_count(), 0);
  EXPECT_EQ(cacheable_prefix_length(bn), 3u);
  EXPECT_EQ(cacheable_prefix_length(conv_bn_frozen("batch_normalization/beta")), 1u);

  // Nothing costly to skip (a Rescaling only), a trainable first layer, an all-frozen model (the
  // last layer always runs: it gives the logits).
  const Model cheap = build_model(tiny_config("", "",
                                              "    - {type: Rescaling, scale: 2.0}\n"
                                              "    - {type: Conv2D, filters: 2, kernel_size: 3}\n"
                                              "    - {type: Flatten}\n"
                                              "    - {type: Dense, units: 1, activation: sigmoid}\n")
                                      .model,
                                  7);
  EXPECT_EQ(cacheable_prefix_length(cheap), 0u);
  const Model frozen = build_model(tiny_config("", "  freeze: ['*']\n",
                                               "    - {type: Conv2D, filters: 2, kernel_size: 3}\n"
                                               "    - {type: Flatten}\n"
                                               "    - {type: Dense, units: 1, activation: sigmoid}\n")
                                       .model,
                                   7);
  EXPECT_EQ(cacheable_prefix_length(frozen), 2u);
  // Frozen up to the Dropout: the frozen Dense 8 is in, the Dropout (index 6) is not.
  const Model head_frozen = build_model(tiny_config("", "  freeze: ['*']\n").model, 7);
  EXPECT_EQ(cacheable_prefix_length(head_frozen), 6u);
}

// Experiment 4 as the notebook froze it: model.layers[0:5] = input, resnet50v2, pooling, dense and
// dropout. The rule caches ResNet50V2, the pooling AND the frozen Dense 64 (deterministic, no
// Dropout before it: its output never changes), and stops at the frozen Dropout, which still drops
// in training. The improved config freezes only the backbone: Rescaling, ResNet50V2 and pooling.
TEST_F(FeatureCacheTest, Experiment4Prefixes) {
  const ExperimentConfig notebook = load_experiment_config(std::string(CXR_SOURCE_DIR) + "/configs/experiment4.yaml");
  Model m4 = build_model(notebook.model, notebook.train.seed);
  ASSERT_EQ(cacheable_prefix_length(m4), 3u);
  EXPECT_EQ(describe_prefix(m4, 3), "input..resnet50v2..global_average_pooling2d..dense");
  EXPECT_STREQ(m4.layers[3]->class_name(), "Dropout");
  // Its augmentation keeps the training set uncached.
  Trainer trainer4(m4, notebook);
  EXPECT_EQ(trainer4.feature_cache().prefix_length(), 3u);
  EXPECT_EQ(trainer4.feature_cache().floats_per_image(), 64u);
  EXPECT_FALSE(trainer4.feature_cache().caches_training());

  // configs/improved/experiment4.yaml's model, with `weights: none` (its converted ImageNet file
  // may be absent here; the prefix does not depend on the values).
  SpecNode spec = SpecNode::load_string(
      "input: [50, 50, 3]\n"
      "freeze: [resnet50v2]\n"
      "layers:\n"
      "  - {type: Rescaling, scale: 0.00784313725490196, offset: -1.0}\n"
      "  - {type: ResNet50V2, include_top: false, weights: none}\n"
      "  - {type: GlobalAveragePooling2D}\n"
      "  - {type: Dense, units: 64, activation: relu}\n"
      "  - {type: Dropout, rate: 0.5}\n"
      "  - {type: Dense, units: 1, activation: sigmoid}\n",
      "improved.yaml");
  const Model mi = build_model(spec, 42);
  EXPECT_EQ(cacheable_prefix_length(mi), 3u);
  EXPECT_EQ(describe_prefix(mi, 3), "input..rescaling..resnet50v2..global_average_pooling2d");
  // Fine-tuning (conv5 trainable) leaves nothing costly to cache.
  SpecNode finetune = SpecNode::load_string(
      "input: [50, 50, 3]\n"
      "freeze: ['resnet50v2/conv1_*', 'resnet50v2/conv2_*', 'resnet50v2/conv3_*', 'resnet50v2/conv4_*']\n"
      "layers:\n"
      "  - {type: Rescaling, scale: 0.00784313725490196, offset: -1.0}\n"
      "  - {type: ResNet50V2, include_top: false, weights: none}\n"
      "  - {type: GlobalAveragePooling2D}\n"
      "  - {type: Dense, units: 1, activation: sigmoid}\n",
      "finetune.yaml");
  EXPECT_EQ(cacheable_prefix_length(build_model(finetune, 42)), 0u);
}

// (1) Same seeds, no augmentation: training on cached features gives bit-identical losses,
// accuracies, validation results and weights (the head's Dropout keeps its model index, so its
// masks are the same).
TEST_F(FeatureCacheTest, CachedTrainingEqualsUncached) {
  const ExperimentConfig config = tiny_config();
  const TrainingRun cached = train(config, true), plain = train(config, false);
  EXPECT_TRUE(cached.train_cached);
  EXPECT_TRUE(cached.validation_cached);
  EXPECT_FALSE(plain.train_cached);
  expect_identical(cached, plain);
  EXPECT_NE(cached.epochs[0].loss, cached.epochs[2].loss);  // it did train
}

TEST_F(FeatureCacheTest, CachedTrainingEqualsUncachedWhenShuffled) {
  const ExperimentConfig config = tiny_config("  shuffle: true\n");
  const TrainingRun cached = train(config, true), plain = train(config, false);
  EXPECT_TRUE(cached.train_cached);
  expect_identical(cached, plain);
}

// (2) Evaluation through cached features equals the whole model's, on first and later calls.
TEST_F(FeatureCacheTest, CachedEvaluationEqualsUncached) {
  const ExperimentConfig config = tiny_config();
  Model a = build_model(config.model, 7), b = build_model(config.model, 7);
  const data::LoadedImages images = random_images(21, 3);
  Trainer cached(a, config), plain(b, config);
  plain.set_feature_cache({.enabled = false});
  const Evaluation first = cached.evaluate(images);
  EXPECT_TRUE(cached.feature_cache().holds(images));
  const Evaluation second = cached.evaluate(images);
  const Evaluation reference = plain.evaluate(images);
  EXPECT_FALSE(plain.feature_cache().holds(images));
  for (const Evaluation* e : {&first, &second}) {
    EXPECT_EQ(e->probabilities, reference.probabilities);
    EXPECT_EQ(e->labels, reference.labels);
    EXPECT_EQ(e->loss, reference.loss);
    EXPECT_EQ(e->accuracy, reference.accuracy);
  }
  EXPECT_EQ(cached.feature_cache().bytes_cached(), 21u * 4 * 5 * 5 * 4);  // [5, 5, 4] floats per image

  // Other images at the same address are recomputed, not served from the stale entry.
  data::LoadedImages reused = random_images(21, 3);
  const Evaluation r1 = cached.evaluate(reused);
  reused.pixels[100] ^= 0xff;
  reused.files[0] = "changed.png";
  const Evaluation r2 = cached.evaluate(reused), r2_plain = plain.evaluate(reused);
  EXPECT_EQ(r1.probabilities, reference.probabilities);
  EXPECT_EQ(r2.probabilities, r2_plain.probabilities);
  EXPECT_NE(r2.probabilities, r1.probabilities);
}

// (3) With augmentation the training pass runs the whole model (new images every epoch); the
// validation set is still cached, and results still match the uncached run.
TEST_F(FeatureCacheTest, NoTrainingCacheWithAugmentation) {
  const ExperimentConfig config = tiny_config("  augment: {zoom_range: 0.1}\n");
  const TrainingRun cached = train(config, true, 2), plain = train(config, false, 2);
  EXPECT_FALSE(cached.train_cached);
  EXPECT_TRUE(cached.validation_cached);
  expect_identical(cached, plain);
  Model m = build_model(config.model, 7);
  Trainer t(m, config);
  EXPECT_FALSE(t.feature_cache().caches_training());
  EXPECT_EQ(t.feature_cache().prefix_length(), 5u);
}

TEST_F(FeatureCacheTest, OverTheCapRunsTheWholeModel) {
  const ExperimentConfig config = tiny_config();
  Model a = build_model(config.model, 7), b = build_model(config.model, 7);
  const data::LoadedImages images = random_images(21, 4);
  Trainer capped(a, config), plain(b, config);
  capped.set_feature_cache({.enabled = true, .max_bytes = 1000});
  plain.set_feature_cache({.enabled = false});
  EXPECT_EQ(capped.evaluate(images).probabilities, plain.evaluate(images).probabilities);
  EXPECT_FALSE(capped.feature_cache().holds(images));
  EXPECT_EQ(capped.feature_cache().bytes_cached(), 0u);
}

TEST_F(FeatureCacheTest, EnvironmentSwitchTurnsItOff) {
  ::setenv("CXR_FEATURE_CACHE", "0", 1);
  const ExperimentConfig config = tiny_config();
  Model m = build_model(config.model, 7);
  Trainer t(m, config);
  ::unsetenv("CXR_FEATURE_CACHE");
  EXPECT_EQ(t.feature_cache().prefix_length(), 0u);
}

}  // namespace
}  // namespace cxr

// The train: keys for checkpoints, early stopping and learning-rate schedules: defaults, strict
// errors at the value (file:line:col), and resolved_yaml round trips.
#include <gtest/gtest.h>

#include "apps/experiment_config.h"
#include "tests/layers/config_error.h"

namespace cxr {
namespace {

const auto error_of = testing::config_error_of;

// A minimal experiment with `train` as its train: section (line 8 is "train:").
ExperimentConfig parse_train(const std::string& train) {
  return parse_experiment_config(
      SpecNode::load_string("name: tiny\n"
                            "data:\n"
                            "  image_size: 8\n"
                            "model:\n"
                            "  input: [8, 8, 3]\n"
                            "  layers:\n"
                            "    - {type: Flatten}\n"
                            "train:\n" +
                                train,
                            "x.yaml"));
}

ExperimentConfig round_trip(const ExperimentConfig& config) {
  return parse_experiment_config(SpecNode::load_string(resolved_yaml(config), "resolved.yaml"));
}

TEST(TrainingConfig, DefaultsAreOffAndResolvedYamlShowsThem) {
  const ExperimentConfig config = parse_train("  epochs: 2\n");
  EXPECT_EQ(config.train.checkpoint, (CheckpointConfig{"val_loss", "auto"}));
  EXPECT_FALSE(config.train.early_stopping.enabled);
  EXPECT_TRUE(config.train.lr_schedule.type.empty());
  const std::string yaml = resolved_yaml(config);
  EXPECT_NE(yaml.find("checkpoint: {monitor: val_loss, mode: auto}"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("early_stopping: ~"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("lr_schedule: ~"), std::string::npos) << yaml;
  EXPECT_EQ(round_trip(config).train, config.train);
}

TEST(TrainingConfig, ParsesAndRoundTripsEveryKey) {
  const ExperimentConfig plateau = parse_train(
      "  optimizer: {type: Adam, learning_rate: 0.01}\n"
      "  checkpoint: {monitor: val_accuracy, mode: max}\n"
      "  early_stopping: {monitor: loss, patience: 3, min_delta: 0.001, restore_best_weights: true}\n"
      "  lr_schedule: {type: reduce_on_plateau, monitor: val_loss, factor: 0.5, patience: 2, min_delta: 0,\n"
      "                min_lr: 1e-6, cooldown: 1}\n");
  EXPECT_EQ(plateau.train.checkpoint, (CheckpointConfig{"val_binary_accuracy", "max"}));  // the alias, resolved
  const EarlyStoppingConfig& stop = plateau.train.early_stopping;
  EXPECT_TRUE(stop.enabled);
  EXPECT_EQ(stop.monitor, "loss");
  EXPECT_EQ(stop.mode, "auto");
  EXPECT_EQ(stop.patience, 3);
  EXPECT_EQ(stop.min_delta, 0.001);
  EXPECT_TRUE(stop.restore_best_weights);
  const LrScheduleConfig& lr = plateau.train.lr_schedule;
  EXPECT_EQ(lr.type, "reduce_on_plateau");
  EXPECT_EQ(lr.factor, 0.5);
  EXPECT_EQ(lr.patience, 2);
  EXPECT_EQ(lr.min_delta, 0);
  EXPECT_EQ(lr.min_lr, 1e-6);
  EXPECT_EQ(lr.cooldown, 1);
  EXPECT_EQ(round_trip(plateau).train, plateau.train);

  const ExperimentConfig cosine =
      parse_train("  early_stopping: {}\n  lr_schedule: {type: cosine, min_lr: 0.0001, warmup_epochs: 5}\n");
  EXPECT_TRUE(cosine.train.early_stopping.enabled);  // present, even empty: on, with Keras's defaults
  EXPECT_EQ(cosine.train.early_stopping.patience, 0);
  EXPECT_EQ(cosine.train.early_stopping.monitor, "val_loss");
  EXPECT_EQ(cosine.train.lr_schedule.type, "cosine");
  EXPECT_EQ(cosine.train.lr_schedule.min_lr, 0.0001);
  EXPECT_EQ(cosine.train.lr_schedule.warmup_epochs, 5);
  EXPECT_EQ(round_trip(cosine).train, cosine.train);
  const std::string yaml = resolved_yaml(cosine);
  EXPECT_NE(yaml.find("lr_schedule: {type: cosine, min_lr: 1e-04, warmup_epochs: 5}"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("early_stopping: {monitor: val_loss, mode: auto, patience: 0, min_delta: 0, "
                      "restore_best_weights: false}"),
            std::string::npos)
      << yaml;
}

TEST(TrainingConfig, BadValuesAreConfigErrorsAtTheValue) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"  checkpoint: {monitor: val_acc}\n",
       "x.yaml:9:25: train.checkpoint.monitor: expected one of val_loss, val_binary_accuracy, val_accuracy, loss, "
       "binary_accuracy, got 'val_acc' (did you mean 'val_accuracy'?)"},
      {"  checkpoint: {mode: maximum}\n",
       "x.yaml:9:22: train.checkpoint.mode: expected one of auto, min, max, got 'maximum'"},
      {"  checkpoint: {every: 2}\n", "x.yaml:9:16: train.checkpoint: unknown key 'every'; allowed: monitor, mode"},
      {"  early_stopping: {patience: -1}\n", "x.yaml:9:30: train.early_stopping.patience: must be at least 0, got -1"},
      {"  early_stopping: {min_delta: -0.1}\n", "x.yaml:9:31: train.early_stopping.min_delta: must be >= 0, got -0.1"},
      {"  early_stopping: {restore_best_weights: yes}\n",
       "x.yaml:9:42: train.early_stopping.restore_best_weights: expected true or false, got 'yes'"},
      {"  early_stopping: {patience: 2, baseline: 0.5}\n",
       "x.yaml:9:33: train.early_stopping: unknown key 'baseline'; allowed: monitor, mode, patience, min_delta, "
       "restore_best_weights"},
      {"  lr_schedule: {type: step}\n",
       "x.yaml:9:23: train.lr_schedule.type: expected one of reduce_on_plateau, cosine, got 'step'"},
      {"  lr_schedule: {factor: 0.5}\n", "x.yaml:9:16: train.lr_schedule: missing required key 'type'"},
      {"  lr_schedule: {type: reduce_on_plateau, factor: 1}\n",
       "x.yaml:9:50: train.lr_schedule.factor: must be in (0, 1), got 1"},
      {"  lr_schedule: {type: reduce_on_plateau, cooldown: -2}\n",
       "x.yaml:9:52: train.lr_schedule.cooldown: must be at least 0, got -2"},
      {"  lr_schedule: {type: cosine, patience: 3}\n",
       "x.yaml:9:31: train.lr_schedule: unknown key 'patience' in cosine; allowed: type, min_lr, warmup_epochs"},
      {"  lr_schedule: {type: cosine, min_lr: 0.01}\n",
       "x.yaml:9:39: train.lr_schedule.min_lr: must be below the optimizer's learning_rate (0.001), got 0.01"},
      {"  lr_schedule: {type: cosine, warmup_epochs: 1.5}\n",
       "x.yaml:9:46: train.lr_schedule.warmup_epochs: expected an integer, got '1.5'"},
  };
  for (const auto& [train, expected] : cases) {
    SCOPED_TRACE(train);
    EXPECT_EQ(error_of([&] { parse_train(train); }), expected);
  }
}

}  // namespace
}  // namespace cxr

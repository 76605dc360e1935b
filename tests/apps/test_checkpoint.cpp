// Full checkpoints: everything round-trips bit for bit, a checkpoint of another model, of another
// format or a damaged file is refused naming the file and the tensor, and a writer killed at any
// moment leaves a complete checkpoint (the old one or the new one).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <tuple>
#include <fstream>
#include <limits>
#include <thread>

#include "apps/checkpoint.h"
#include "engine/error.h"
#include "engine/safetensors.h"

namespace cxr {
namespace {

namespace fs = std::filesystem;

Model tiny_model(uint64_t seed, int units = 1, bool extra_conv = false, int image = 8) {
  std::string yaml = "input: [" + std::to_string(image) + ", " + std::to_string(image) +
                     ", 3]\n"
                     "layers:\n"
                     "  - {type: Conv2D, filters: 2, kernel: 3, strides: 1, padding: valid}\n"
                     "  - {type: BatchNormalization}\n";
  if (extra_conv) yaml += "  - {type: Conv2D, filters: 2, kernel: 3, strides: 1, padding: valid}\n";
  yaml += "  - {type: Flatten}\n  - {type: Dense, units: " + std::to_string(units) +
          "}\n  - {type: Activation, activation: sigmoid}\n";
  return build_model(SpecNode::load_string(yaml, "tiny.yaml"), seed);
}

std::vector<float> bytes_of(const Tensor& t) { return t.to_vector(); }

const Tensor& param(Model& model, const std::string& name) {
  for (Parameter* p : model.parameters())
    if (p->name == name) return p->value;
  throw std::runtime_error("no parameter " + name);
}

fs::path temp_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("cxr_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

TrainingState sample_state() {
  TrainingState s;
  s.epochs_completed = 2;
  s.iterations = 14;
  s.learning_rate = 0.00123f;
  s.seed = 18446744073709551615ull;
  s.train_samples = 100;
  s.train_files_hash = "0123456789abcdef";
  for (int e = 1; e <= 2; ++e) {
    EpochResult r;
    r.epoch = e;
    r.loss = 0.1 * e + 1e-17;  // needs all 17 digits
    r.accuracy = 1.0 / 3.0;
    r.has_validation = e == 2;
    r.val_loss = e == 2 ? 0.7 : 0;
    r.val_accuracy = 0.6;
    r.learning_rate = 0.00123f;
    r.steps = 7;
    r.seconds = 1.5;
    r.seconds_per_step = 0.2;
    s.history.push_back(r);
  }
  s.best = {0.7, 2};
  s.early_stopping = {std::numeric_limits<double>::infinity(), 0, 2, 0, 1};
  s.lr_schedule = {0.00123f, -std::numeric_limits<double>::infinity(), 1, 3};
  return s;
}

// Adam's moments set to recognisable values.
void fill_moments(Adam& adam, float base) {
  for (size_t i = 0; i < adam.first_moments().size(); ++i) {
    adam.first_moments()[i].fill_(base + static_cast<float>(i));
    adam.second_moments()[i].fill_(base * 2 + static_cast<float>(i));
  }
}

TEST(Checkpoint, RoundTripsParametersOptimizerAndState) {
  const fs::path dir = temp_dir("checkpoint_roundtrip");
  Model a = tiny_model(1);
  Adam adam_a(a.trainable_tensors(), AdamOptions{});
  fill_moments(adam_a, 0.25f);
  adam_a.set_iterations(14);
  TrainingState state = sample_state();
  state.early_stopping_weights = copy_weights(a);
  const std::string path = (dir / "last.safetensors").string();
  save_checkpoint(path, a, adam_a, state, "name: x\n");

  Model b = tiny_model(2);  // other initial weights
  ASSERT_NE(bytes_of(a.parameters()[0]->value), bytes_of(b.parameters()[0]->value));
  Adam adam_b(b.trainable_tensors(), AdamOptions{});
  const LoadedCheckpoint loaded = load_checkpoint(path, b, &adam_b);
  EXPECT_EQ(loaded.resolved_yaml, "name: x\n");
  EXPECT_EQ(loaded.optimizer_type, "Adam");
  for (size_t i = 0; i < a.parameters().size(); ++i)
    EXPECT_EQ(bytes_of(a.parameters()[i]->value), bytes_of(b.parameters()[i]->value)) << a.parameters()[i]->name;
  ASSERT_EQ(adam_b.first_moments().size(), adam_a.first_moments().size());
  for (size_t i = 0; i < adam_a.first_moments().size(); ++i) {
    EXPECT_EQ(bytes_of(adam_a.first_moments()[i]), bytes_of(adam_b.first_moments()[i]));
    EXPECT_EQ(bytes_of(adam_a.second_moments()[i]), bytes_of(adam_b.second_moments()[i]));
  }
  EXPECT_EQ(adam_b.iterations(), 14);
  const TrainingState& s = loaded.state;
  EXPECT_EQ(s.epochs_completed, 2);
  EXPECT_EQ(s.iterations, 14);
  EXPECT_EQ(s.learning_rate, 0.00123f);
  EXPECT_EQ(s.seed, 18446744073709551615ull);
  EXPECT_EQ(s.train_samples, 100);
  EXPECT_EQ(s.train_files_hash, "0123456789abcdef");
  ASSERT_EQ(s.history.size(), 2u);
  for (size_t e = 0; e < 2; ++e) {
    const EpochResult &x = state.history[e], &y = s.history[e];
    EXPECT_EQ(x.epoch, y.epoch);
    EXPECT_EQ(x.loss, y.loss);
    EXPECT_EQ(x.accuracy, y.accuracy);
    EXPECT_EQ(x.has_validation, y.has_validation);
    EXPECT_EQ(x.val_loss, y.val_loss);
    EXPECT_EQ(x.val_accuracy, y.val_accuracy);
    EXPECT_EQ(x.learning_rate, y.learning_rate);
    EXPECT_EQ(x.steps, y.steps);
    EXPECT_EQ(x.seconds, y.seconds);
  }
  EXPECT_EQ(s.best.best, 0.7);
  EXPECT_EQ(s.best.epoch, 2);
  EXPECT_EQ(s.early_stopping.best, std::numeric_limits<double>::infinity());
  EXPECT_EQ(s.early_stopping.wait, 2);
  EXPECT_EQ(s.early_stopping.weights_epoch, 1);
  EXPECT_EQ(s.lr_schedule.best, -std::numeric_limits<double>::infinity());
  EXPECT_EQ(s.lr_schedule.wait, 1);
  EXPECT_EQ(s.lr_schedule.cooldown, 3);
  ASSERT_EQ(s.early_stopping_weights.size(), a.parameters().size());
  EXPECT_EQ(bytes_of(s.early_stopping_weights.at("dense/kernel")), bytes_of(param(a, "dense/kernel")));

  // Weights only (restore-best): the optimizer's tensors are skipped.
  Model c = tiny_model(3);
  load_checkpoint(path, c, nullptr);
  EXPECT_EQ(bytes_of(c.parameters()[0]->value), bytes_of(a.parameters()[0]->value));
  fs::remove_all(dir);
}

std::string load_error(const std::string& path, Model& model, Optimizer* optimizer) {
  try {
    load_checkpoint(path, model, optimizer);
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an InputError";
  return "";
}

TEST(Checkpoint, RefusesAnotherModelFormatOptimizerOrDamage) {
  const fs::path dir = temp_dir("checkpoint_refuse");
  const std::string path = (dir / "last.safetensors").string();
  Model a = tiny_model(1);
  Adam adam(a.trainable_tensors(), AdamOptions{});
  save_checkpoint(path, a, adam, sample_state(), "name: x\n");
  const std::vector<float> before = bytes_of(a.parameters()[0]->value);

  Model wider = tiny_model(1, 2);
  Adam adam_wider(wider.trainable_tensors(), AdamOptions{});
  const std::vector<float> wider_before = bytes_of(wider.parameters()[0]->value);
  EXPECT_EQ(load_error(path, wider, &adam_wider),
            path + ": tensor 'model/dense/bias' has shape [1], the model's is [2]: a checkpoint of another model");
  EXPECT_EQ(bytes_of(wider.parameters()[0]->value), wider_before);  // nothing copied
  Model deeper = tiny_model(1, 1, true);
  EXPECT_NE(
      load_error(path, deeper, nullptr).find(path + ": missing tensor 'model/conv2d_1/bias' (expected shape [2])"),
      std::string::npos);
  // A smaller model than the file's: the file has tensors it lacks.
  Model smaller =
      build_model(SpecNode::load_string("input: [8, 8, 3]\nlayers:\n  - {type: Conv2D, filters: 2, kernel: 3}\n  - "
                                        "{type: BatchNormalization}\n  - {type: Flatten}\n",
                                        "s.yaml"),
                  1);
  EXPECT_NE(load_error(path, smaller, nullptr).find(path + ": extra tensor 'model/dense/bias' [1]"), std::string::npos);
  SGD sgd(a.trainable_tensors(), 0.1f);
  EXPECT_EQ(load_error(path, a, &sgd), path + ": the checkpoint's optimizer is Adam, the config's is SGD");

  // A weights file is not a checkpoint.
  const std::string weights = (dir / "weights.safetensors").string();
  std::map<std::string, Tensor> tensors;
  for (Parameter* p : a.parameters()) tensors.emplace(p->name, p->value);
  save_safetensors(weights, tensors, {{"format", "cxrnet-weights-v1"}});
  EXPECT_EQ(load_error(weights, a, nullptr),
            weights + ": not a cxrnet checkpoint (format 'cxrnet-weights-v1', expected cxrnet-checkpoint-v1)");
  save_safetensors(weights, tensors);
  EXPECT_EQ(load_error(weights, a, nullptr),
            weights + ": not a cxrnet checkpoint (format tag missing, expected cxrnet-checkpoint-v1)");

  // Damaged: truncated, and a header whose state was edited.
  const std::string truncated = (dir / "truncated.safetensors").string();
  fs::copy_file(path, truncated);
  fs::resize_file(truncated, fs::file_size(truncated) - 10);
  EXPECT_NE(load_error(truncated, a, &adam).find(truncated + ": tensor '"), std::string::npos);
  std::map<std::string, Tensor> state_tensors;
  for (const auto& [name, t] : load_safetensors(path).tensors) state_tensors.emplace(name, t);
  std::map<std::string, std::string> metadata = load_safetensors(path).metadata;
  metadata["epochs_completed"] = "3";
  const std::string edited = (dir / "edited.safetensors").string();
  save_safetensors(edited, state_tensors, metadata);
  EXPECT_EQ(load_error(edited, a, &adam), edited + ": 2 history rows for 3 epochs (damaged checkpoint)");
  metadata.erase("history");
  save_safetensors(edited, state_tensors, metadata);
  EXPECT_EQ(load_error(edited, a, &adam), edited + ": checkpoint metadata lacks 'history' (damaged checkpoint)");
  EXPECT_EQ(bytes_of(a.parameters()[0]->value), before);
  fs::remove_all(dir);
}

// State values only an edited or damaged file can hold are refused at load, naming the file and the
// value, before anything is copied (a negative step count reached Adam as an internal error, and a
// negative learning rate trained).
TEST(Checkpoint, RefusesStateOutOfRange) {
  const fs::path dir = temp_dir("checkpoint_range");
  const std::string path = (dir / "last.safetensors").string();
  Model a = tiny_model(1);
  Adam adam(a.trainable_tensors(), AdamOptions{});
  save_checkpoint(path, a, adam, sample_state(), "name: x\n");
  const std::vector<float> before = bytes_of(a.parameters()[0]->value);
  const std::map<std::string, Tensor> tensors = load_safetensors(path).tensors;
  const std::map<std::string, std::string> metadata = load_safetensors(path).metadata;
  const std::string edited = (dir / "edited.safetensors").string();
  for (const auto& [key, value, message] :
       {std::tuple<std::string, std::string, std::string>{"iterations", "-5", "iterations is -5"},
        {"learning_rate", "-1", "learning_rate is -1"},
        {"learning_rate", "nan", "learning_rate is nan"},
        {"train_samples", "-3", "train_samples is -3"}}) {
    std::map<std::string, std::string> m = metadata;
    m[key] = value;
    save_safetensors(edited, tensors, m);
    EXPECT_EQ(load_error(edited, a, &adam), edited + ": " + message + " (damaged checkpoint)");
  }
  std::map<std::string, std::string> m = metadata;
  const std::string wait = "\"wait\":\"";
  const size_t at = m["callbacks"].find(wait);  // early_stopping's, the first of the callbacks' waits
  ASSERT_NE(at, std::string::npos) << m["callbacks"];
  m["callbacks"].insert(at + wait.size(), "-");
  save_safetensors(edited, tensors, m);
  EXPECT_NE(load_error(edited, a, &adam).find(edited + ": early_stopping's wait is -"), std::string::npos);

  // Adam's second moments are squares: a negative one made sqrt(v) NaN weights.
  std::map<std::string, Tensor> negative = tensors;
  const std::string v = "optimizer/v/" + a.parameters()[0]->name;
  ASSERT_TRUE(negative.count(v));
  Tensor bad = negative.at(v).clone();
  bad.data()[0] = -1.0f;
  negative[v] = bad;
  save_safetensors(edited, negative, metadata);
  EXPECT_EQ(load_error(edited, a, &adam), edited + ": tensor '" + v +
                                              "' holds -1 at index 0; Adam's second moments are never negative "
                                              "(damaged checkpoint)");
  EXPECT_EQ(bytes_of(a.parameters()[0]->value), before);  // nothing copied
  fs::remove_all(dir);
}

// A checkpoint whose every weight, moment and epoch count is `k`: a torn write would mix values.
void save_uniform(const std::string& path, Model& model, Adam& adam, int k) {
  for (Parameter* p : model.parameters()) p->value.fill_(static_cast<float>(k));
  fill_moments(adam, static_cast<float>(k));
  TrainingState state;
  state.epochs_completed = k;
  state.iterations = k;
  for (int e = 1; e <= k; ++e) state.history.push_back(EpochResult{.epoch = e});
  save_checkpoint(path, model, adam, state, "k: " + std::to_string(k) + "\n");
}

TEST(Checkpoint, AWriterKilledAtAnyMomentLeavesACompleteCheckpoint) {
  const fs::path dir = temp_dir("checkpoint_crash");
  const std::string path = (dir / "last.safetensors").string();
  Model model = tiny_model(1, 64, false, 34);  // 32x32x2 -> Dense 64: about 2.5 MB a file with Adam's moments
  Adam adam(model.trainable_tensors(), AdamOptions{});
  save_uniform(path, model, adam, 1);
  int kills_mid_write = 0;
  for (int attempt = 0; attempt < 8; ++attempt) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0) << std::strerror(errno);
    if (child == 0) {  // writes checkpoints 1..5 in turn until killed; never returns into the test
      try {
        for (int i = 0;; ++i) save_uniform(path, model, adam, 1 + i % 5);
      } catch (...) {
      }
      ::_exit(3);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + 7 * attempt));
    ASSERT_EQ(::kill(child, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status));
    if (fs::exists(path + ".tmp")) ++kills_mid_write;

    Model loaded = tiny_model(2, 64, false, 34);
    Adam loaded_adam(loaded.trainable_tensors(), AdamOptions{});
    const LoadedCheckpoint c = load_checkpoint(path, loaded, &loaded_adam);  // throws if torn
    const int k = c.state.epochs_completed;
    ASSERT_TRUE(k >= 1 && k <= 5) << k;
    EXPECT_EQ(c.resolved_yaml, "k: " + std::to_string(k) + "\n");
    EXPECT_EQ(c.state.iterations, k);
    for (Parameter* p : loaded.parameters())
      for (float v : p->value.to_vector()) ASSERT_EQ(v, static_cast<float>(k)) << p->name;
    for (size_t i = 0; i < loaded_adam.first_moments().size(); ++i)
      for (float v : loaded_adam.second_moments()[i].to_vector()) ASSERT_EQ(v, 2.0f * k + static_cast<float>(i));
  }
  // A leftover temporary file is never read, and the next save replaces it.
  std::ofstream(path + ".tmp") << "half a checkpoint";
  save_uniform(path, model, adam, 3);
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  Model again = tiny_model(2, 64, false, 34);
  EXPECT_EQ(load_checkpoint(path, again, nullptr).state.epochs_completed, 3);
  std::cout << kills_mid_write << " of 8 kills left a temporary file (killed mid-write)\n";
  fs::remove_all(dir);
}

}  // namespace
}  // namespace cxr

#include "apps/run_training.h"

#include <omp.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>

#include "apps/checkpoint.h"
#include "apps/datasets.h"
#include "apps/keras_progress.h"
#include "apps/model_summary.h"
#include "apps/plots.h"
#include "apps/run_folder.h"
#include "apps/test_report.h"
#include "apps/text_file.h"
#include "apps/training_callbacks.h"
#include "engine/error.h"
#include "engine/kernel_choice.h"
#include "engine/safetensors.h"
#include "layers/size_limits.h"
#ifdef CXR_WITH_CUDA
#include "kernels/cuda/vendor.h"
#endif

namespace cxr {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

void save_weights(const fs::path& path, Model& model, const ExperimentConfig& config, int epochs_done) {
  std::map<std::string, Tensor> tensors;
  for (Parameter* p : model.parameters()) tensors.emplace(p->name, p->value);
  save_safetensors(path.string(), tensors,
                   {{"format", "cxrnet-weights-v1"}, {"epochs", std::to_string(epochs_done)},
                    {"config", resolved_yaml(config)}});
}

// A run folder's config.yaml names the file it was resolved from on its first line: a resumed
// run keeps that name instead of naming config.yaml itself.
std::string original_source(const std::string& config_yaml, const std::string& fallback) {
  const std::string prefix = "# Resolved from ", suffix = ", every default filled in.";
  std::ifstream in(config_yaml);
  std::string first;
  std::getline(in, first);
  if (!first.starts_with(prefix) || !first.ends_with(suffix)) return fallback;
  return first.substr(prefix.size(), first.size() - prefix.size() - suffix.size());
}

// The config with the command line's overrides applied; on resume, the run folder's config.yaml.
ExperimentConfig resolve_config(const TrainOptions& options) {
  const bool resume = !options.resume_dir.empty();
  CXR_CHECK(resume || !options.config_path.empty(), "train needs --config, or --resume RUN_DIR");
  CXR_CHECK(!resume || options.config_path.empty(),
            "--resume reads RUN_DIR/config.yaml: give --config or --resume, not both");
  CXR_CHECK(!resume || options.out_dir.empty(), "--resume continues in RUN_DIR: --out does not go with it");
  const std::string path = resume ? (fs::path(options.resume_dir) / "config.yaml").string() : options.config_path;
  if (resume && !fs::exists(path)) {
    // A fresh run writes its files with its first checkpoint: a claimed folder without them never held one.
    CXR_CHECK(!holds_only_a_claim(options.resume_dir),
              options.resume_dir << ": holds no run to resume (a train into it stopped before its first epoch "
                                 << "ended, or is still running): train it again with --out " << options.resume_dir);
    CXR_CHECK(false, options.resume_dir << ": no config.yaml here (not a cxrnet run folder)");
  }
  ExperimentConfig config = load_experiment_config(path);
  if (resume) config.source_path = original_source(path, path);
  if (options.epochs) {
    CXR_CHECK(*options.epochs >= 1, "--epochs must be at least 1");
    config.train.epochs = *options.epochs;
  }
  if (options.test_from_train) {
    CXR_CHECK(*options.test_from_train > 0 && *options.test_from_train < 1, "--test-from-train must be in (0, 1)");
    const SplitConfig carved{.dir = "", .split_from = config.data.train, .fraction = *options.test_from_train,
                             .seed = config.train.seed};
    // config.yaml records the splits a run was trained with; another test split would change its
    // training images, which the resume's data check would then blame on --data.
    const SplitConfig& trained = config.data.test;
    std::ostringstream was;
    if (trained.dir.empty())
      was << "a test split of " << trained.fraction << " (seed " << trained.seed << ") carved from "
          << trained.split_from;
    else was << "the test folder " << trained.dir;
    CXR_CHECK(!resume || trained == carved, "--test-from-train " << *options.test_from_train << ": " << path
                                                                 << " was trained with " << was.str()
                                                                 << "; a resumed run keeps its splits: resume "
                                                                    "without --test-from-train");
    config.data.test = carved;
  }
  if (!options.device.empty()) config.train.device = options.device;
  if (options.strict) config.data.strict = true;
  if (!options.kernels.empty()) config.train.kernels = options.kernels;  // written to config.yaml as resolved
  if (options.adjust_config) options.adjust_config(config);
  return config;
}

bool use_progress_bar(const TrainOptions& options, const std::ostream& out) {
  CXR_CHECK(options.progress == "auto" || options.progress == "bar" || options.progress == "lines",
            "--progress must be auto, bar or lines, got '" << options.progress << "'");
  if (options.progress == "auto") return &out == &std::cout && ::isatty(STDOUT_FILENO);
  return options.progress == "bar";
}

// history.csv, a row per epoch. Written whole, through a temporary file, after each epoch's
// checkpoint: it never holds an epoch the checkpoint lacks, and a kill or a full disk never leaves it
// cut short (a few hundred rows at most).
std::string history_csv(const std::vector<EpochResult>& history) {
  std::ostringstream csv;
  csv << std::setprecision(9) << "epoch,loss,binary_accuracy,val_loss,val_binary_accuracy,lr,seconds\n";
  for (const EpochResult& r : history) {
    csv << r.epoch << "," << r.loss << "," << r.accuracy << ",";
    if (r.has_validation) csv << r.val_loss << "," << r.val_accuracy;
    else csv << ",";  // empty validation columns
    csv << "," << r.learning_rate << "," << r.seconds << "\n";
  }
  return csv.str();
}

// The epochs a run's history.csv lists (its rows after the header; 0 when it is missing).
int epochs_listed(const fs::path& history) {
  std::ifstream in(history);
  std::string line;
  int rows = -1;  // the header
  while (std::getline(in, line))
    if (!line.empty()) ++rows;
  return std::max(rows, 0);
}

// binary_crossentropy on one sigmoid unit (the notebook's head): anything else is refused at the
// config's last layer, not as a size mismatch inside the first step.
void check_binary_output(const Model& model, const ExperimentConfig& config) {
  const Shape output = model.layers.back()->output_shape;  // build_model refuses a model with no layers
  if (model.has_sigmoid_output() && output == Shape{1}) return;
  config.model.child("layers").items().back().fail(
      "binary_crossentropy needs the last layer to give one unit through a sigmoid; this one gives " +
      shape_str(output) + (model.has_sigmoid_output() ? "" : " without a sigmoid"));
}

// A callback watching a validation metric needs a validation split.
void check_monitor(const std::string& key, const std::string& monitor, bool has_validation) {
  CXR_CHECK(has_validation || !monitor.starts_with("val_"),
            "train." << key << ".monitor is " << monitor << " but the run has no validation split "
                     << "(data.validation): monitor loss or binary_accuracy instead");
}

// The state a run resumes from must be this run's: the same seed (the random streams), and the
// same training images in the same order (the data position).
void check_resumable(const std::string& path, const TrainingState& saved, const TrainingState& now,
                     const ExperimentConfig& config) {
  CXR_CHECK(saved.seed == now.seed, path << ": trained with seed " << saved.seed << " but config.yaml says "
                                         << now.seed << ": the resumed run would draw other random numbers");
  CXR_CHECK(saved.train_samples == now.train_samples && saved.train_files_hash == now.train_files_hash,
            path << ": trained on " << saved.train_samples << " images (files hash " << saved.train_files_hash
                 << "), but --data gives " << now.train_samples << " (hash " << now.train_files_hash
                 << "): resume with the same data");
  CXR_CHECK(saved.epochs_completed <= config.train.epochs,
            path << " holds " << saved.epochs_completed << " epochs; --epochs " << config.train.epochs
                 << " would end before them");
}

// A resumed run follows config.yaml as it is now. Edits since the checkpoint are allowed (a lower
// learning rate after a divergence) but mean the run is no longer the uninterrupted one: say so.
// A reduce_on_plateau rate lives in the checkpoint, so an edited learning_rate scales it.
void apply_config_edits(const std::string& path, const std::string& saved_yaml, const ExperimentConfig& config,
                        LrSchedule::State& schedule, std::ostream& log) {
  ExperimentConfig saved = parse_experiment_config(SpecNode::load_string(saved_yaml, path + " (resolved_yaml)"));
  saved.train.epochs = config.train.epochs;  // the overrides a resume may change freely
  saved.train.device = config.train.device;
  saved.train.kernels = config.train.kernels;
  saved.data.strict = config.data.strict;
  saved.source_path = config.source_path;
  if (resolved_yaml(saved) == resolved_yaml(config)) return;
  log << "note: config.yaml differs from the config " << path << " was trained with; continuing with config.yaml\n";
  const double old_rate = saved.train.optimizer.learning_rate, new_rate = config.train.optimizer.learning_rate;
  if (config.train.lr_schedule.type == "reduce_on_plateau" && old_rate != new_rate) {
    schedule.lr = static_cast<float>(schedule.lr * (new_rate / old_rate));
    log << "note: learning_rate changed from " << old_rate << " to " << new_rate
        << ": reduce_on_plateau's current rate scales to " << schedule.lr << "\n";
  }
}

// Appended to an error that stops the epochs: what the run folder keeps and how to go on. A fresh
// run's folder with no checkpoint yet is emptied (FreshRunFolder); otherwise it is kept, as its
// history shows how the run went wrong.
std::string resume_hint(const fs::path& run_dir, int epochs_kept, const TrainOptions& options) {
  if (epochs_kept == 0)
    return "\nno checkpoint was written (the first epoch did not finish), so nothing is kept in " + run_dir.string();
  const std::string epochs = epochs_kept == 1 ? "epoch 1" : "epochs 1-" + std::to_string(epochs_kept);
  return "\n" + run_dir.string() + " keeps config.yaml, history.csv (" + epochs + ") and " +
         (run_dir / "checkpoints" / "last.safetensors").string() + " (the end of epoch " +
         std::to_string(epochs_kept) + ", the last good one). To continue from it: cxrnet train --resume " +
         run_dir.string() + " --data " + options.data_dir +
         " (if the loss diverged, lower train.optimizer.learning_rate in " + (run_dir / "config.yaml").string() +
         " first)";
}

// A fresh run writes into a new or empty folder: an existing run's weights, history and
// evaluation/ must not be overwritten or mixed with another model's. Without --out it is
// runs/<name>-<time>, numbered -2, -3, ... when another run started in the same second.
ClaimedFolder claim_run_folder(const TrainOptions& options, const ExperimentConfig& config) {
  const bool named = !options.out_dir.empty();
  const fs::path dir = named ? fs::path(options.out_dir) : fs::path("runs") / (config.name + "-" + timestamp());
  check_out_of_data(dir, config.data, options.data_dir, named ? "--out" : "the run folder");
  return claim_new_folder(dir, !named, "--out", "(cxrnet train never overwrites a run): pass --resume " +
                                                    dir.string() + " to continue it, or pick another --out");
}

// The run folder of a fresh run is emptied again (removed, if this invocation created it) when the
// run fails before its first checkpoint: nothing in it is worth keeping, and it would block the
// same --out on the next try. `created` comes from the claim: looking now would find the folder
// this run just made.
class FreshRunFolder {
 public:
  FreshRunFolder(fs::path dir, bool fresh, bool created) : dir_(std::move(dir)), armed_(fresh), created_(created) {}
  ~FreshRunFolder() {
    if (!armed_) return;
    std::error_code ec;  // no throwing while an exception unwinds
    if (created_) {
      fs::remove_all(dir_, ec);
      return;
    }
    for (const auto& entry : fs::directory_iterator(dir_, ec)) fs::remove_all(entry.path(), ec);
  }
  FreshRunFolder(const FreshRunFolder&) = delete;
  FreshRunFolder& operator=(const FreshRunFolder&) = delete;
  void keep() { armed_ = false; }

 private:
  fs::path dir_;
  bool armed_, created_;
};

}  // namespace

RunResult run_training(const TrainOptions& options, std::ostream& out, std::ostream& log) {
  const auto run_start = Clock::now();
  RunResult result;
  result.config = resolve_config(options);
  const ExperimentConfig& config = result.config;
  const TrainConfig& tc = config.train;
  const bool resume = !options.resume_dir.empty();
  const bool progress_bar = use_progress_bar(options, out);
  // Claimed before the minutes of loading data, and given back if the run fails before its first checkpoint.
  const ClaimedFolder claimed = resume ? claim_existing_folder(options.resume_dir) : claim_run_folder(options, config);
  const fs::path& run_dir = claimed.dir;
  FreshRunFolder fresh_folder(run_dir, !resume, claimed.created);
  // Until the run's first files: stopped by a signal, which ends the process without unwinding (so
  // without fresh_folder), a fresh run gives its folder back too.
  std::optional<ReleaseClaimOnSignal> release_on_signal;
  if (!resume) release_on_signal.emplace(claimed);
  if (!options.cache_dir.empty()) check_not_a_file(options.cache_dir, "--cache");
  const Device device = available_device(tc.device);
  const uint64_t device_memory = memory_bytes(device);  // also refuses a GPU index this machine lacks
  // The process default too, not only the trainer's scope: the start-up GPU report names it.
  if (!tc.kernels.empty()) set_default_kernel_choice(parse_kernel_choice(tc.kernels));
  if (options.tf32) {
    CXR_CHECK(device.is_cuda(), "--tf32 applies to the CUDA vendor paths; device is " << device.str());
#ifdef CXR_WITH_CUDA
    kernels::vendor::VendorSettings settings = kernels::vendor::settings();
    settings.allow_tf32 = true;
    kernels::vendor::set_settings(settings);
#endif
  }

  // The model first (a config error is found in milliseconds), then the data (as Keras prints
  // "Found N images" before model.summary()), then the summary.
  // Resumed from a checkpoint, which holds every parameter: the files the config starts from
  // (model.weights:, a ResNet's weights:) are not read, so they need not be reachable from here.
  const bool from_checkpoint = resume && fs::exists(run_dir / "checkpoints" / "last.safetensors");
  Model model = build_model(from_checkpoint ? without_pretrained_weights(config.model) : config.model, tc.seed);
  check_binary_output(model, config);
  try {  // before a batch is allocated, or the data loaded for it
    check_model_size(model, config.data.batch_size, device_memory,
                     device.is_cpu() ? "memory here" : "memory of GPU " + device.str());
  } catch (const InputError& e) {
    throw ConfigError(config.source_path + ": " + e.what());
  }
  model.to(device);
  if (device.is_cpu()) log << "cxrnet: CPU kernels on " << omp_get_max_threads() << " threads (--threads N to change)\n";
  const Datasets data = load_datasets(config.data, options.data_dir, log, options.cache_dir);
  result.class_names = data.class_names;
  result.has_validation = data.has_validation;
  // A callback on a validation metric without validation: refused, except the default
  // checkpoint monitor, which then just keeps no best.safetensors (as Keras skips it).
  const bool track_best = data.has_validation || !tc.checkpoint.monitor.starts_with("val_");
  if (tc.early_stopping.enabled) check_monitor("early_stopping", tc.early_stopping.monitor, data.has_validation);
  if (tc.lr_schedule.type == "reduce_on_plateau")
    check_monitor("lr_schedule", tc.lr_schedule.monitor, data.has_validation);
  if (options.restore_best) check_monitor("checkpoint", tc.checkpoint.monitor, data.has_validation);
  if (!track_best)
    log << "note: no validation split, so no checkpoints/best.safetensors (train.checkpoint.monitor is "
        << tc.checkpoint.monitor << ")\n";
  const std::string summary = model_summary(model);
  out << summary;
  const fs::path last_path = run_dir / "checkpoints" / "last.safetensors";
  const fs::path best_path = run_dir / "checkpoints" / "best.safetensors";
  result.run_dir = run_dir.string();

  Trainer trainer(model, config);
  trainer.set_class_names(data.class_names);  // a class_weight map names the class folders
  trainer.resolve_class_weights(data.train.labels);
  Optimizer& optimizer = trainer.optimizer();
  BestEpoch best(tc.checkpoint);
  EarlyStopping stopping(tc.early_stopping);
  LrSchedule schedule(tc.lr_schedule, tc.optimizer.learning_rate);
  TrainingState state;
  state.seed = tc.seed;
  state.train_samples = static_cast<int64_t>(data.train.labels.size());
  state.train_files_hash = files_hash(data.train.files, data.train.labels, data.splits.train_dir);
  if (resume) {
    // A command killed while it saved a checkpoint leaves its temporary file; this one holds the
    // folder's lock, so nothing else is writing them.
    for (const fs::path& saved : {last_path, best_path}) {
      std::error_code ec;
      fs::remove(saved.string() + ".tmp", ec);
    }
  }
  if (resume && !fs::exists(last_path) && epochs_listed(run_dir / "history.csv") == 0) {
    // Killed in its first epoch after writing its files (they go just before its first checkpoint):
    // nothing to continue, so the run starts again from epoch 1 with its config.yaml.
    out << run_dir.string() << " holds no checkpoint (its first epoch never finished): training it from epoch 1\n";
  } else if (resume) {
    CXR_CHECK(fs::exists(last_path), last_path.string() << ": no checkpoint to resume from, though "
                                                        << (run_dir / "history.csv").string() << " lists epochs");
    LoadedCheckpoint loaded = load_checkpoint(last_path.string(), model, &optimizer);
    check_resumable(last_path.string(), loaded.state, state, config);
    state = std::move(loaded.state);
    apply_config_edits(last_path.string(), loaded.resolved_yaml, config, state.lr_schedule, log);
    best.set_state(state.best);
    if (options.restore_best && state.best.epoch > 0) {  // the report will load it: check it before any epoch
      CXR_CHECK(fs::exists(best_path), best_path.string() << ": missing, but epoch " << state.best.epoch
                                                          << " was the best and --restore-best reports on it");
      load_checkpoint(best_path.string(), model, nullptr, false);
    }
    stopping.set_state(state.early_stopping);
    schedule.set_state(state.lr_schedule);
    result.resumed_after = state.epochs_completed;
    out << "Resuming " << run_dir.string() << " after epoch " << state.epochs_completed << " of " << tc.epochs
        << " (" << last_path.string() << ")\n";
  }
  // The run's own files. A fresh run writes them with its first checkpoint: killed in its first epoch
  // (Ctrl-C, SIGKILL), it leaves its folder as it found it, free for the same --out, never a run with
  // nothing to resume. A resumed run rewrites them now (config.yaml may have been edited).
  // history.csv lists the epochs of the last checkpoint: a fresh run writes these files as its first
  // epoch ends, before that epoch's checkpoint, so with no epochs (a kill during the save leaves a
  // folder that --resume trains from epoch 1), and rewrites it after each checkpoint.
  const auto write_run_files = [&](const std::vector<EpochResult>& checkpointed) {
    fs::create_directories(run_dir / "checkpoints");
    write_text_file(run_dir / "config.yaml", resolved_yaml(config));
    write_text_file(run_dir / "summary.txt", summary);
    write_text_file(run_dir / "split.csv", split_manifest(data.splits));  // which file went where, from the seed
    write_text_file(run_dir / "history.csv", history_csv(checkpointed));
  };
  if (resume) write_run_files(state.history);

  // Keras prints a float steps_per_epoch (the notebook's n/32) truncated: "114/114".
  const double steps_target = static_cast<double>(data.train.labels.size()) / config.data.batch_size;
  const auto train_start = Clock::now();
  bool stop = state.early_stopping.stopped_epoch > 0;
  if (stop) out << "The run stopped early at epoch " << state.early_stopping.stopped_epoch << ": no epochs to add\n";
  for (int epoch = state.epochs_completed + 1; epoch <= tc.epochs && !stop; ++epoch) {
    if (options.on_epoch_start) options.on_epoch_start(epoch);
    optimizer.set_learning_rate(schedule.lr_for_epoch(epoch, tc.epochs));
    if (tc.epochs > 1) out << report::format_epoch_header(epoch, tc.epochs) << std::endl;
    report::LiveProgressBar bar(steps_target);
    const auto epoch_start = Clock::now();
    if (progress_bar) {
      trainer.set_step_callback([&](const StepProgress& p) {
        const double now = seconds_since(epoch_start);
        if (!bar.due(p.step, now)) return;
        const double seen = static_cast<double>(p.seen);  // reading the sums waits for a GPU: only here
        const report::Metrics running{{"loss", p.sums->loss_sum() / seen},
                                      {"binary_accuracy", static_cast<double>(p.sums->correct()) / seen}};
        out << bar.draw(p.step, now, running) << std::flush;
      });
    }
    EpochResult r;
    try {
      r = trainer.train_epoch(epoch, data.train, data.has_validation ? &data.validation : nullptr);
      check_weights_finite(model, epoch);  // before a checkpoint is written with them
    } catch (const InputError& e) {
      if (progress_bar) out << "\n";
      throw InputError(e.what() + resume_hint(run_dir, state.epochs_completed, options));
    }
    r.seconds_per_step = report::keras_seconds_per_step(steps_target, r.seconds, r.seconds_after_first_step);
    state.history.push_back(r);
    state.epochs_completed = epoch;
    report::Metrics metrics{{"loss", r.loss}, {"binary_accuracy", r.accuracy}};
    if (r.has_validation) {
      metrics.push_back({"val_loss", r.val_loss});
      metrics.push_back({"val_binary_accuracy", r.val_accuracy});
    }
    const std::string line = report::format_epoch_line(steps_target, r.seconds, r.seconds_per_step, metrics);
    if (progress_bar) out << bar.finish(line) << std::flush;
    else out << line << std::endl;

    // The callbacks, in the order Keras would run them if listed so.
    std::optional<double> value;
    const bool improved =
        track_best && (value = monitored_value(r, tc.checkpoint.monitor)) && best.update(epoch, *value);
    if (tc.early_stopping.enabled && (value = monitored_value(r, tc.early_stopping.monitor))) {
      const EarlyStopping::Decision decision = stopping.on_epoch_end(epoch, *value);
      if (decision.keep_weights && tc.early_stopping.restore_best_weights)
        state.early_stopping_weights = copy_weights(model);
      stop = decision.stop;
    }
    if (tc.lr_schedule.type == "reduce_on_plateau" && (value = monitored_value(r, tc.lr_schedule.monitor)) &&
        schedule.on_epoch_end(epoch, *value)) {
      out << "Epoch " << epoch << ": ReduceLROnPlateau reducing learning rate to " << schedule.state().lr << ".\n";
    }
    state.iterations = optimizer.iterations();
    state.learning_rate = optimizer.learning_rate();
    state.best = best.state();
    state.early_stopping = stopping.state();
    state.lr_schedule = schedule.state();
    if (!resume && epoch == 1) {
      release_on_signal.reset();  // from here a stopped run leaves files that --resume reads
      write_run_files({});
    }
    if (options.before_checkpoint) options.before_checkpoint(epoch);
    // best first: a crash between the two leaves `last` an epoch behind, and that epoch is rerun.
    if (improved) save_checkpoint(best_path.string(), model, optimizer, state, resolved_yaml(config));
    save_checkpoint(last_path.string(), model, optimizer, state, resolved_yaml(config));
    fresh_folder.keep();  // it holds a run to resume from now
    write_text_file(run_dir / "history.csv", history_csv(state.history));
    if (stop) out << "Epoch " << epoch << ": early stopping\n";
    if (options.interrupt_after_epoch == epoch) {
      result.history = state.history;
      result.epochs_run = epoch;
      return result;
    }
  }
  trainer.set_step_callback(nullptr);
  result.train_seconds = seconds_since(train_start);
  result.history = state.history;
  result.epochs_run = static_cast<int>(state.history.size());
  result.best_epoch = best.state().epoch;
  result.stopped_early = state.early_stopping.stopped_epoch > 0;
  result.weights_epoch = result.epochs_run;

  // The weights the report describes, saved as weights.safetensors.
  // Loading earlier weights leaves the trainer's cached frozen-prefix features valid: frozen
  // parameters never change during a run, so every checkpoint holds the ones they came from.
  std::string restored;  // why the weights are an earlier epoch's
  if (options.restore_best) {
    CXR_CHECK(result.best_epoch > 0,
              best_path.string() << ": no best checkpoint (no epoch had a comparable " << tc.checkpoint.monitor << ")");
    CXR_CHECK(fs::exists(best_path), best_path.string() << ": missing, but epoch " << result.best_epoch
                                                        << " was the best and --restore-best reports on it");
    load_checkpoint(best_path.string(), model, nullptr);
    result.weights_epoch = result.best_epoch;
    restored = "(best " + tc.checkpoint.monitor + ", from " + best_path.string() + ")";
  } else if (tc.early_stopping.restore_best_weights && !state.early_stopping_weights.empty() &&
             state.early_stopping.weights_epoch != result.epochs_run) {
    // Also when the run was not stopped: Keras 3 and tf-keras >= 2.16 restore at the end of training
    // (on_train_end), where tf.keras 2.15 and earlier restored only on stopping.
    set_weights(model, state.early_stopping_weights);
    result.weights_epoch = state.early_stopping.weights_epoch;
    restored = "(early_stopping's best " + tc.early_stopping.monitor + ")";
  }
  result.restored_best = !restored.empty();
  if (result.restored_best) out << "Restored the weights of epoch " << result.weights_epoch << " " << restored << "\n";
  save_weights(run_dir / "weights.safetensors", model, config, result.weights_epoch);

  if (data.has_validation) result.validation = trainer.evaluate(data.validation);
  result.test = trainer.evaluate(data.test);
  result.test_report = test_report(result.test, data.has_validation ? &result.validation : nullptr, data.class_names,
                                   TestReportOptions{}, log);
  if (result.restored_best)
    result.test_report = "Weights: epoch " + std::to_string(result.weights_epoch) + " of " +
                         std::to_string(result.epochs_run) + " " + restored + "\n\n" + result.test_report;
  out << result.test_report;
  write_text_file(run_dir / "test_report.txt", result.test_report);
  write_plots({run_dir, result.test.probabilities, result.test.labels, data.class_names, data.has_validation}, log);
  out << "run folder: " << run_dir.string() << "\n";
  result.seconds = seconds_since(run_start);
  return result;
}

}  // namespace cxr

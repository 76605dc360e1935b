// cxrnet: the command line. Exit codes: 0 ok, 2 bad input (a file, a flag, a config), 1 internal error.
#include <CLI/CLI.hpp>
#include <omp.h>

#include <charconv>
#include <iostream>
#include <string>

#include "apps/commands.h"
#include "apps/plots.h"
#include "data/image.h"
#include "engine/error.h"
#include "kernels/shape_limit.h"
#include "layers/spec.h"

namespace {

// --device and --kernels of the commands that run a model (evaluate, predict, reproduce, profile);
// `overrides` names what they take precedence over.
void add_device_options(CLI::App* command, std::string& device, std::string& kernels, const std::string& overrides) {
  command->add_option("--device", device, "cpu, cuda or cuda:N (overrides " + overrides + ")");
  command->add_option("--kernels", kernels, "CUDA kernels: custom or vendor")->check(CLI::IsMember({"custom", "vendor"}));
}

// CLI11 reads "-1" into a uint64_t as 18446744073709551615, and 2^64 or more as the largest value:
// a seed must be written as a non-negative integer that fits.
CLI::Validator non_negative_integer() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        uint64_t value = 0;
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (error == std::errc::result_out_of_range) return text + " is too large (at most 18446744073709551615)";
        if (error != std::errc() || end != text.data() + text.size())
          return text + " is not a non-negative integer";
        return "";
      },
      "UINT");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cxrnet: a from-scratch C++/CUDA CNN engine for chest X-ray classification"};
  app.require_subcommand(1);
  app.fallthrough();  // the options below are accepted after the command too: `cxrnet train --threads 1`
  int threads = 0;
  app.add_option("--threads", threads, "CPU threads for the kernels (default: OMP_NUM_THREADS, else one per core)")
      ->check(CLI::Range(1, 1024));

  std::string config_path;
  auto* summary = app.add_subcommand("summary", "Print the Keras-style model summary of an experiment");
  summary->add_option("--config", config_path, "Experiment YAML (configs/*.yaml)")->required()->check(CLI::ExistingFile);

  cxr::TrainOptions train_options;
  int epochs = 0;
  double test_from_train = 0;
  auto* train = app.add_subcommand("train", "Train an experiment and write its run folder");
  auto* train_config_opt =
      train->add_option("--config", train_options.config_path, "Experiment YAML (not with --resume)")
          ->check(CLI::ExistingFile);
  train->add_option("--data", train_options.data_dir, "Folder with train/ and test/, each with NORMAL/ and PNEUMONIA/")
      ->required();
  auto* epochs_opt = train->add_option("--epochs", epochs, "Override the number of epochs");
  auto* holdout_opt = train->add_option("--test-from-train", test_from_train,
                                        "Carve a stratified test split of this fraction from train (no test/ needed)");
  train->add_option("--out", train_options.out_dir, "Run folder (default runs/<name>-<time>)");
  train->add_option("--device", train_options.device, "cpu, cuda or cuda:N (overrides the config)");
  train->add_flag("--strict", train_options.strict, "Fail (exit 2) when any image file is unreadable");
  train->add_option("--cache", train_options.cache_dir, "Folder for a cache of decoded, resized images");
  train->add_option("--kernels", train_options.kernels,
                    "CUDA kernels: custom or vendor (cuDNN/cuBLAS); overrides the config's train.kernels")
      ->check(CLI::IsMember({"custom", "vendor"}));
  train->add_flag("--tf32", train_options.tf32,
                  "Allow TF32 tensor cores in the vendor paths (default: plain FP32, comparable with the CPU)");
  auto* resume_opt = train->add_option(
      "--resume", train_options.resume_dir,
      "Continue the run in RUN_DIR from its checkpoints/last.safetensors and config.yaml (--epochs may extend it)");
  resume_opt->excludes(train_config_opt);
  train->add_flag("--restore-best", train_options.restore_best,
                  "Report on, and save as weights.safetensors, the best epoch's weights (checkpoints/best.safetensors)");
  train_options.progress = "auto";
  train->add_option("--progress", train_options.progress,
                    "auto (a live bar when stdout is a terminal), bar, or lines (one line per epoch)")
      ->check(CLI::IsMember({"auto", "bar", "lines"}))
      ->capture_default_str();

  cxr::SplitOptions split_options;
  double split_test_from_train = 0;
  auto* split = app.add_subcommand("split", "Materialise the config's train/validation/test split as folders");
  split->add_option("--config", split_options.config_path, "Experiment YAML")->required()->check(CLI::ExistingFile);
  split->add_option("--data", split_options.data_dir, "Folder with train/ (and test/ unless carved)")->required();
  split->add_option("--out", split_options.out_dir, "New folder for train/, validation/, test/ and split.csv")
      ->required();
  split->add_flag("--copy", split_options.copy, "Copy the files instead of hard-linking them");
  auto* split_holdout_opt = split->add_option("--test-from-train", split_test_from_train,
                                              "Carve a stratified test split of this fraction from train");

  std::string synth_dir;
  uint64_t synth_seed = 7;
  bool synth_small = false;
  auto* synth = app.add_subcommand("synth", "Write a synthetic chest-X-ray-like dataset (radiograph-sized JPEGs)");
  synth->add_option("--out", synth_dir, "New or empty output folder")->required();
  synth->add_option("--seed", synth_seed, "Random seed")->check(non_negative_integer());
  synth->add_flag("--small", synth_small, "Small images (96-192 px) for quick tests");

  cxr::EvaluateOptions evaluate_options;
  double evaluate_test_from_train = 0;
  auto* evaluate = app.add_subcommand(
      "evaluate", "Evaluate a trained run's weights on its test split again: training's test report and plots, "
                  "written to RUN/evaluation/");
  evaluate->add_option("--run", evaluate_options.run_dir, "Run folder from `cxrnet train` (config.yaml, split.csv, "
                                                          "weights.safetensors)")
      ->required();
  evaluate->add_option("--data", evaluate_options.data_dir,
                       "Resolve the config's splits in this folder and check they are split.csv's files "
                       "(default: the files RUN/split.csv lists)");
  auto* evaluate_holdout_opt = evaluate->add_option("--test-from-train", evaluate_test_from_train,
                                                    "With --data: carve the test split from train, as train did");
  evaluate->add_option("--weights", evaluate_options.weights_path,
                       "Weights file (default RUN/weights.safetensors; a checkpoint of RUN/checkpoints/ works too)");
  evaluate->add_option("--out", evaluate_options.out_dir, "Output folder (default RUN/evaluation)");
  add_device_options(evaluate, evaluate_options.device, evaluate_options.kernels, "the run's config");
  evaluate->add_flag("--allow-other-files", evaluate_options.allow_other_files,
                     "Evaluate --data's splits even when they are not the files split.csv lists");

  cxr::PredictOptions predict_options;
  double predict_threshold = 0.5;
  auto* predict = app.add_subcommand(
      "predict", "Classify images with a trained run: CSV path,probability,label (label by threshold)");
  predict->add_option("--run", predict_options.run_dir, "Run folder from `cxrnet train`")->required();
  predict->add_option("paths", predict_options.paths, "Image files, or folders searched recursively (sorted by path)")
      ->required();
  predict->add_option("--out", predict_options.out_csv, "CSV file to write (default, or -: standard output)");
  auto* threshold_opt = predict->add_option("--threshold", predict_threshold,
                                            "Label the positive class (PNEUMONIA) when probability > T (default 0.5)")
                            ->check(CLI::Range(0.0, 1.0));
  auto* threshold_validation_opt =
      predict->add_flag("--threshold-from-validation", predict_options.threshold_from_validation,
                        "Use the test report's threshold: sensitivity >= 0.98 on the run's validation split");
  threshold_opt->excludes(threshold_validation_opt);
  predict->add_option("--data", predict_options.data_dir,
                      "The run's data folder, for --threshold-from-validation when split.csv's paths moved");
  predict->add_option("--weights", predict_options.weights_path,
                      "Weights file (default RUN/weights.safetensors; a checkpoint of RUN/checkpoints/ works too)");
  add_device_options(predict, predict_options.device, predict_options.kernels, "the run's config");
  predict->add_flag("--skip-unreadable", predict_options.skip_unreadable,
                    "Write unreadable images as rows with no probability (label 'unreadable') instead of failing");

  cxr::ReproduceOptions reproduce_options;
  double reproduce_test_from_train = 0;
  auto* reproduce = app.add_subcommand(
      "reproduce", "Train the notebook's experiments 1-4 and write OUT/report.md comparing them with its results");
  reproduce->add_option("--data", reproduce_options.data_dir,
                        "Folder with train/ and test/ (default: a small synthetic set written into OUT)");
  reproduce->add_option("--configs", reproduce_options.configs_dir, "Folder with experiment1.yaml ... experiment4.yaml")
      ->capture_default_str();
  reproduce->add_option("--out", reproduce_options.out_dir, "New or empty output folder (default runs/reproduce-<time>)");
  reproduce->add_option("--experiments", reproduce_options.experiments, "Which experiments to run, e.g. 1,3")
      ->delimiter(',')
      ->check(CLI::Range(1, 4))
      ->capture_default_str();
  auto* reproduce_holdout_opt = reproduce->add_option("--test-from-train", reproduce_test_from_train,
                                                      "Carve a stratified test split of this fraction from train");
  add_device_options(reproduce, reproduce_options.device, reproduce_options.kernels, "the configs");
  reproduce->add_flag("--quick", reproduce_options.quick,
                      "2 epochs on small images (experiment 3 at 50x50, 4 at 32x32): a smoke run, not comparable "
                      "to the notebook");

  cxr::ProfileOptions profile_options;
  auto* profile = app.add_subcommand(
      "profile", "Time one experiment's training step layer by layer (forward, backward, update) on random images");
  profile->add_option("--config", profile_options.config_path, "Experiment YAML (configs/*.yaml)")
      ->required()
      ->check(CLI::ExistingFile);
  add_device_options(profile, profile_options.device, profile_options.kernels, "the config");
  profile->add_option("--steps", profile_options.steps, "Timed steps")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  profile->add_option("--warmup", profile_options.warmup, "Untimed steps first")
      ->check(CLI::Range(0, 1000000))
      ->capture_default_str();
  profile->add_option("--json", profile_options.json_path, "Also write the table to this JSON file");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 says only "A subcommand is required" for `cxrnet trian`, `cxrnet --bogus` and a bare
    // `cxrnet`: name what was wrong and the commands.
    if (e.get_exit_code() != 0 && app.get_subcommands().empty()) {
      std::vector<std::string> names;
      for (const CLI::App* command : app.get_subcommands({})) names.push_back(command->get_name());
      const std::string first = app.remaining().empty() ? "" : app.remaining().front();
      if (first.empty()) std::cerr << "cxrnet: a command is required";
      else if (first.starts_with("-"))
        std::cerr << "cxrnet: unknown option '" << first
                  << "' (a command's options follow it: cxrnet COMMAND [options])";
      else std::cerr << "cxrnet: unknown command '" << first << "'" << cxr::did_you_mean(first, names);
      std::cerr << "; the commands are: ";
      for (size_t i = 0; i < names.size(); ++i) std::cerr << (i ? ", " : "") << names[i];
      std::cerr << " (cxrnet --help lists them)\n";
      return 2;
    }
    return app.exit(e) == 0 ? 0 : 2;  // --help is success; any other parse error is bad input
  }
  // An option given an empty value (--out "", an unset shell variable) fell back to its default
  // without a word: refused instead.
  for (const CLI::App* command : app.get_subcommands())
    for (const CLI::Option* option : command->get_options()) {
      if (option->get_type_size() == 0) continue;  // a flag takes no value
      for (const std::string& value : option->results())
        if (value.empty()) {
          std::cerr << "cxrnet " << command->get_name() << ": " << option->get_name() << " was given an empty value\n";
          return 2;
        }
    }
  if (threads > 0) omp_set_num_threads(threads);
  try {
    if (*summary) return cxr::command_summary(config_path, std::cout);
    if (*profile) return cxr::command_profile(profile_options, std::cout);
    if (*synth) return cxr::command_synth(synth_dir, synth_seed, std::cout, synth_small);
    if (*evaluate) {
      if (*evaluate_holdout_opt) evaluate_options.test_from_train = evaluate_test_from_train;
      return cxr::command_evaluate(evaluate_options, std::cout, std::cerr);
    }
    if (*predict) {
      if (*threshold_opt) predict_options.threshold = predict_threshold;
      return cxr::command_predict(predict_options, std::cout, std::cerr);
    }
    if (*reproduce) {
      if (*reproduce_holdout_opt) reproduce_options.test_from_train = reproduce_test_from_train;
      return cxr::command_reproduce(reproduce_options, std::cout, std::cerr);
    }
    if (*split) {
      if (*split_holdout_opt) split_options.test_from_train = split_test_from_train;
      return cxr::command_split(split_options, std::cout);
    }
    if (*train) {
      if (!*train_config_opt && !*resume_opt) {
        std::cerr << "cxrnet train: give --config FILE, or --resume RUN_DIR\n";
        return 2;
      }
      if (*epochs_opt) train_options.epochs = epochs;
      if (*holdout_opt) train_options.test_from_train = test_from_train;
      return cxr::command_train(train_options, std::cout, std::cerr);
    }
  } catch (const cxr::Interrupted& e) {
    std::cerr << "cxrnet: " << e.what() << "\n";
    return 128 + e.signal;  // as a shell reports a command killed by the signal
  } catch (const cxr::ConfigError& e) {
    std::cerr << "cxrnet: " << e.what() << "\n";
    return 2;
  } catch (const cxr::InputError& e) {
    std::cerr << "cxrnet: " << e.what() << "\n";
    return 2;
  } catch (const cxr::data::ImageError& e) {
    std::cerr << "cxrnet: " << e.what() << "\n";
    return 2;
  } catch (const cxr::kernels::ShapeLimitError& e) {  // one the engine's dispatch did not translate
    std::cerr << "cxrnet: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "cxrnet: internal error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

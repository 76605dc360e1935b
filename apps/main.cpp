// cxrnet: the command line. Exit codes: 0 ok, 2 bad input (a file, a flag, a config), 1 internal error.
#include <CLI/CLI.hpp>
#include <iostream>

#include "apps/commands.h"
#include "data/image.h"
#include "engine/error.h"
#include "layers/spec.h"

int main(int argc, char** argv) {
  CLI::App app{"cxrnet: a from-scratch C++/CUDA CNN engine for chest X-ray classification"};
  app.require_subcommand(1);

  std::string config_path;
  auto* summary = app.add_subcommand("summary", "Print the Keras-style model summary of an experiment");
  summary->add_option("--config", config_path, "Experiment YAML (configs/*.yaml)")->required()->check(CLI::ExistingFile);

  cxr::TrainOptions train_options;
  int epochs = 0;
  double test_from_train = 0;
  auto* train = app.add_subcommand("train", "Train an experiment and write its run folder");
  train->add_option("--config", train_options.config_path, "Experiment YAML")->required()->check(CLI::ExistingFile);
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
  synth->add_option("--out", synth_dir, "Output folder")->required();
  synth->add_option("--seed", synth_seed, "Random seed");
  synth->add_flag("--small", synth_small, "Small images (96-192 px) for quick tests");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help is success; any other parse error is bad input
  }
  try {
    if (*summary) return cxr::command_summary(config_path, std::cout);
    if (*synth) return cxr::command_synth(synth_dir, synth_seed, std::cout, synth_small);
    if (*split) {
      if (*split_holdout_opt) split_options.test_from_train = split_test_from_train;
      return cxr::command_split(split_options, std::cout);
    }
    if (*train) {
      if (*epochs_opt) train_options.epochs = epochs;
      if (*holdout_opt) train_options.test_from_train = test_from_train;
      return cxr::command_train(train_options, std::cout, std::cerr);
    }
  } catch (const cxr::ConfigError& e) {
    std::cerr << "cxrnet: " << e.what() << "\n";
    return 2;
  } catch (const cxr::InputError& e) {
    std::cerr << "cxrnet: " << e.what() << "\n";
    return 2;
  } catch (const cxr::data::ImageError& e) {
    std::cerr << "cxrnet: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "cxrnet: internal error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

// The cxrnet subcommands as a user runs them: summary text, train's run folder, bad input.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "apps/commands.h"
#include "data/synth.h"
#include "engine/error.h"
#include "engine/safetensors.h"
#include "layers/spec.h"

namespace cxr {
namespace {

namespace fs = std::filesystem;

std::string config(const std::string& name) { return std::string(CXR_SOURCE_DIR) + "/configs/" + name; }

std::string summary_of(const std::string& name) {
  std::ostringstream out;
  EXPECT_EQ(command_summary(config(name), out), 0);
  return out.str();
}

TEST(CommandSummary, PrintsTheNotebooksParameterCounts) {
  const std::string s1 = summary_of("experiment1.yaml");
  EXPECT_NE(s1.find("Total params: 131,681\nTrainable params: 131,329\nNon-trainable params: 352\n"), std::string::npos)
      << s1;
  EXPECT_NE(s1.find(" conv2d (Conv2D)             (None, 46, 46, 16)        1216"), std::string::npos) << s1;
  const std::string s2 = summary_of("experiment2.yaml");
  EXPECT_NE(s2.find("Total params: 172,961\nTrainable params: 172,481\nNon-trainable params: 480\n"), std::string::npos)
      << s2;
  const std::string s3 = summary_of("experiment3.yaml");
  EXPECT_NE(s3.find("Total params: 868,961\nTrainable params: 868,609\nNon-trainable params: 352\n"), std::string::npos)
      << s3;
  EXPECT_NE(s3.find("(None, 12544)"), std::string::npos) << s3;
}

std::string read_text(const fs::path& p) {
  std::ifstream f(p);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

TEST(CommandTrain, WritesTheRunFolderAndReportsBadFiles) {
  const fs::path root = fs::temp_directory_path() / ("cxr_command_train_" + std::to_string(::getpid()));
  fs::remove_all(root);
  data::write_synthetic_dataset({.out_dir = (root / "data").string(), .train_normal = 24, .train_pneumonia = 40,
                                 .test_normal = 8, .test_pneumonia = 8});
  std::ofstream(root / "data" / "train" / "NORMAL" / "broken.jpeg") << "not an image";

  TrainOptions options;
  options.config_path = config("experiment1.yaml");
  options.data_dir = (root / "data").string();
  options.epochs = 2;
  options.out_dir = (root / "run").string();
  std::ostringstream out, log;
  ASSERT_EQ(command_train(options, out, log), 0);

  EXPECT_NE(log.str().find("broken.jpeg: not a JPEG or PNG"), std::string::npos) << log.str();
  EXPECT_NE(out.str().find("Epoch 2/2\n"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find(" - loss: "), std::string::npos);
  EXPECT_NE(out.str().find("    accuracy                           "), std::string::npos) << out.str();

  const fs::path run = root / "run";
  for (const char* f : {"config.yaml", "summary.txt", "history.csv", "weights.safetensors", "test_report.txt"})
    EXPECT_TRUE(fs::exists(run / f)) << f;
  const std::string history = read_text(run / "history.csv");
  EXPECT_EQ(std::count(history.begin(), history.end(), '\n'), 3) << history;  // header + 2 epochs
  EXPECT_EQ(history.rfind("epoch,loss,binary_accuracy,val_loss,val_binary_accuracy,lr,seconds\n", 0), 0u);
  const SafetensorsFile weights = load_safetensors((run / "weights.safetensors").string());
  EXPECT_EQ(weights.tensors.size(), 26u);  // 3 convs x 2 + 4 BatchNorms x 4 + 2 Denses x 2
  EXPECT_EQ(weights.tensors.at("conv2d/kernel").shape(), (Shape{16, 5, 5, 3}));
  EXPECT_EQ(weights.metadata.at("epochs"), "2");
  // The resolved config reads back as the same experiment, with the --epochs override applied.
  EXPECT_NE(read_text(run / "config.yaml").find("epochs: 2"), std::string::npos);
  fs::remove_all(root);
}

// A class of a split whose every file is unreadable is bad input, refused before any epoch: in train it
// used to give a one-class model trained with exit 0; in validation, epochs without validation and then
// a failure for want of a best epoch; in test, a NaN report with exit 0.
TEST(CommandTrain, ASplitsClassWithNoReadableImageIsRefusedBeforeTraining) {
  const struct {
    std::string folder, word, class_name;
  } cases[] = {{"train", "training", "NORMAL"},
               {"validation", "validation", "PNEUMONIA"},
               {"test", "test", "PNEUMONIA"}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.folder);
    const fs::path root = fs::temp_directory_path() / ("cxr_command_train_" + c.folder + std::to_string(::getpid()));
    fs::remove_all(root);
    data::write_synthetic_dataset({.out_dir = (root / "data").string(), .train_normal = 4, .train_pneumonia = 4,
                                   .test_normal = 2, .test_pneumonia = 2});
    fs::copy(root / "data" / "test", root / "data" / "validation", fs::copy_options::recursive);
    for (const auto& entry : fs::directory_iterator(root / "data" / c.folder / c.class_name))
      std::ofstream(entry.path()) << "BM not really an image";
    TrainOptions options;
    options.config_path = config("experiment1.yaml");
    options.data_dir = (root / "data").string();
    options.out_dir = (root / "run").string();
    options.adjust_config = [](ExperimentConfig& cfg) { cfg.data.validation = SplitConfig::folder("validation"); };
    int epochs_started = 0;
    options.on_epoch_start = [&](int) { ++epochs_started; };
    std::ostringstream out, log;
    try {
      command_train(options, out, log);
      ADD_FAILURE() << "a " << c.folder << " class with no readable image was accepted";
    } catch (const InputError& e) {
      EXPECT_EQ(std::string(e.what()), "no readable " + c.word + " images of class " + c.class_name + " in " +
                                           (root / "data" / c.folder).string() +
                                           " (no files, or all unreadable: listed above)");
    }
    EXPECT_EQ(epochs_started, 0);
    EXPECT_FALSE(fs::exists(root / "run"));
    fs::remove_all(root);
  }
}

// A run folder inside a folder the run reads (here test/NORMAL) would hold plots that the next run
// there reads as test images (84 found instead of 80): refused before anything is made.
TEST(CommandTrain, AnOutInsideAFolderTheRunReadsIsRefused) {
  const fs::path root = fs::temp_directory_path() / ("cxr_command_train_inside_" + std::to_string(::getpid()));
  fs::remove_all(root);
  data::write_synthetic_dataset({.out_dir = (root / "data").string(), .train_normal = 4, .train_pneumonia = 4,
                                 .test_normal = 2, .test_pneumonia = 2});
  TrainOptions options;
  options.config_path = config("experiment1.yaml");
  options.data_dir = (root / "data").string();
  options.out_dir = (root / "data" / "test" / "NORMAL" / "myrun").string();
  std::ostringstream out, log;
  try {
    command_train(options, out, log);
    ADD_FAILURE() << "a run folder inside the test folder was accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "--out " + options.out_dir + " is inside " + (root / "data" / "test").string() +
                                         ", which this run reads images from: its plots (PNG) would be read as "
                                         "images by the next run; pick a folder outside it");
  }
  EXPECT_FALSE(fs::exists(options.out_dir));
  fs::remove_all(root);
}

// The run folder is claimed before the data is loaded, and given back when that fails.
TEST(CommandTrain, MissingDataFolderIsBadInputAndLeavesNoRunFolder) {
  TrainOptions options;
  options.config_path = config("experiment1.yaml");
  options.data_dir = "/nonexistent/cxr";
  options.out_dir = (fs::temp_directory_path() / ("cxr_no_data_run_" + std::to_string(::getpid()))).string();
  std::ostringstream out, log;
  EXPECT_THROW(command_train(options, out, log), InputError);
  EXPECT_FALSE(fs::exists(options.out_dir));
}

}  // namespace
}  // namespace cxr

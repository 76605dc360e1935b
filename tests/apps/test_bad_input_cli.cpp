// Bad input to the cxrnet binary: a clear message on stderr naming the file, folder or layer, exit
// status 2, and nothing lost or left half-written on disk.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "cli_runner.h"
#include "data/synth.h"

namespace cxr {
namespace {

namespace fs = std::filesystem;
using testing::Result;
using testing::run_cxrnet;

std::string read_text(const fs::path& p) {
  std::ifstream f(p);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// A tiny data set and a 16x16 model that trains in about a second, shared by the tests of a process.
class BadInputCli : public ::testing::Test {
 public:
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("cxr_bad_input_cli_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    data::write_synthetic_dataset({.out_dir = (root_ / "data").string(), .train_normal = 12, .train_pneumonia = 12,
                                   .test_normal = 4, .test_pneumonia = 4, .min_size = 24, .max_size = 32});
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  // The tiny experiment with each {from, to} of `edits` applied to its text.
  static std::string write_config(const std::string& name,
                                  const std::vector<std::pair<std::string, std::string>>& edits = {}) {
    std::string text =
        "name: tiny\n"
        "data:\n"
        "  image_size: 16\n"
        "  rescale: 0.00392156862745098\n"
        "  batch_size: 8\n"
        "model:\n"
        "  input: [16, 16, 3]\n"
        "  layers:\n"
        "    - {type: Conv2D, filters: 4, kernel: 3}\n"
        "    - {type: Flatten}\n"
        "    - {type: Dense, units: 1}\n"
        "    - {type: Activation, activation: sigmoid}\n"
        "train:\n"
        "  optimizer: {type: Adam, learning_rate: 0.001}\n"
        "  epochs: 1\n";
    for (const auto& [from, to] : edits) {
      const size_t at = text.find(from);
      EXPECT_NE(at, std::string::npos) << from;
      if (at != std::string::npos) text.replace(at, from.size(), to);
    }
    const fs::path path = root_ / (name + ".yaml");
    std::ofstream(path) << text;
    return path.string();
  }

  static std::string q(const fs::path& p) { return "'" + p.string() + "'"; }
  static std::string data() { return q(root_ / "data"); }

  static fs::path root_;
};

fs::path BadInputCli::root_;

TEST_F(BadInputCli, TrainRefusesAnOutFolderThatHoldsARun) {
  const std::string config = write_config("tiny");
  const fs::path run = root_ / "run";
  fs::create_directories(run);
  std::ofstream(run / "weights.safetensors") << "another model's weights";
  const Result r = run_cxrnet("train --config " + q(config) + " --data " + data() + " --out " + q(run));
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("cxrnet: " + run.string() +
                       ": already exists and is not empty (cxrnet train never overwrites a run): pass --resume " +
                       run.string() + " to continue it, or pick another --out\n"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(read_text(run / "weights.safetensors"), "another model's weights");
  EXPECT_EQ(std::distance(fs::directory_iterator(run), fs::directory_iterator()), 1);

  // A file where the folder should be: named, not "internal error: filesystem error".
  const fs::path file = root_ / "a-file";
  std::ofstream(file) << "keep me";
  const Result on_file = run_cxrnet("train --config " + q(config) + " --data " + data() + " --out " + q(file));
  EXPECT_EQ(on_file.code, 2) << on_file.err;
  EXPECT_NE(on_file.err.find("cxrnet: " + file.string() + ": exists and is not a folder (--out names a folder)\n"),
            std::string::npos)
      << on_file.err;
  EXPECT_EQ(read_text(file), "keep me");

  // An empty folder is a new run's.
  fs::create_directories(root_ / "empty");
  const Result fresh = run_cxrnet("train --config " + q(config) + " --data " + data() + " --out " + q(root_ / "empty"));
  EXPECT_EQ(fresh.code, 0) << fresh.err;
  EXPECT_TRUE(fs::exists(root_ / "empty" / "weights.safetensors"));
}

// Local time `seconds_ahead` from now, as cxrnet's default run folder names hold it.
std::string time_in_folder_names(int seconds_ahead) {
  const std::time_t then = std::time(nullptr) + seconds_ahead;
  std::tm tm{};
  localtime_r(&then, &tm);
  std::ostringstream s;
  s << std::put_time(&tm, "%Y%m%d-%H%M%S");
  return s.str();
}

// Two runs without --out started in the same second want the same runs/<name>-<time>: the later one
// gets runs/<name>-<time>-2. Here every name of the next minute is taken, empty, as a run leaves it
// while it loads its data.
TEST_F(BadInputCli, ARunWithoutOutNeverSharesTheFolderOfARunStartedInTheSameSecond) {
  const fs::path cwd = root_ / "same-second";
  std::vector<std::string> taken;
  for (int s = 0; s < 60; ++s) taken.push_back("tiny-" + time_in_folder_names(s));
  for (const std::string& name : taken) fs::create_directories(cwd / "runs" / name);
  const Result r = run_cxrnet("train --config " + q(write_config("tiny")) + " --data " + data(), cwd);
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string said = "\nrun folder: runs/";
  const size_t at = r.out.find(said);
  ASSERT_NE(at, std::string::npos) << r.out;
  const std::string used = r.out.substr(at + said.size(), r.out.find('\n', at + 1) - at - said.size());
  EXPECT_TRUE(used.ends_with("-2") && std::count(taken.begin(), taken.end(), used.substr(0, used.size() - 2)) == 1)
      << used;
  EXPECT_TRUE(fs::exists(cwd / "runs" / used / "weights.safetensors")) << used;
  for (const std::string& name : taken) EXPECT_TRUE(fs::is_empty(cwd / "runs" / name)) << name;
}

TEST_F(BadInputCli, AbsurdSizesAreConfigErrorsNamingTheLayerAndLeaveNoRunFolder) {
  const std::string limit = " elements, over the limit of 2147483647 (2^31 - 1) per tensor\n";
  const struct {
    std::string from, to, message;
  } cases[] = {
      {"filters: 4", "filters: 2000000000",
       ":9:7: model.layers[0]: layer 'conv2d' (Conv2D): its kernel [2000000000, 3, 3, 3] would hold 54000000000"},
      {"units: 1}", "units: 20000000}",
       ":11:7: model.layers[2]: layer 'dense' (Dense): its kernel [784, 20000000] would hold 15680000000"},
      {"batch_size: 8", "batch_size: 1000000000",
       ": model.input: data.batch_size 1000000000 times one image's [16, 16, 3] would hold 768000000000"},
  };
  for (const auto& c : cases) {
    const std::string config = write_config("absurd", {{c.from, c.to}});
    const fs::path run = root_ / "absurd-run";
    const Result r = run_cxrnet("train --config " + q(config) + " --data " + data() + " --out " + q(run));
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find("cxrnet: " + config + c.message + limit), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(run));
  }
  // image_size and input [5000000, 5000000]: one image is too large before any layer is, refused at
  // the input's line.
  const std::string config = write_config("wide", {{"image_size: 16", "image_size: [5000000, 5000000]"},
                                                    {"input: [16, 16, 3]", "input: [5000000, 5000000, 3]"},
                                                    {"type: Flatten", "type: GlobalAveragePooling2D"}});
  const Result wide = run_cxrnet("train --config " + q(config) + " --data " + data() + " --out " + q(root_ / "w"));
  EXPECT_EQ(wide.code, 2) << wide.err;
  EXPECT_NE(wide.err.find("cxrnet: " + config + ":7:10: model.input: one image's [5000000, 5000000, 3] would hold " +
                          "75000000000000" + limit),
            std::string::npos)
      << wide.err;
  EXPECT_FALSE(fs::exists(root_ / "w"));
}

// binary_crossentropy trains one sigmoid unit: another head is refused at the config's last layer
// before anything is loaded (it failed inside the first step as "bce_with_logits: ... differ in size").
TEST_F(BadInputCli, AHeadOtherThanOneSigmoidUnitIsAConfigErrorAtTheLastLayer) {
  const struct {
    std::string from, to, gives;
  } cases[] = {{"units: 1}", "units: 2}", "[2]"}, {"activation: sigmoid", "activation: relu", "[1] without a sigmoid"}};
  for (const auto& c : cases) {
    const std::string config = write_config("head", {{c.from, c.to}});
    const fs::path run = root_ / "head-run";
    const Result r = run_cxrnet("train --config " + q(config) + " --data " + data() + " --out " + q(run));
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find("cxrnet: " + config + ":12:7: model.layers[3]: binary_crossentropy needs the last layer "
                         "to give one unit through a sigmoid; this one gives " + c.gives + "\n"),
              std::string::npos)
        << r.err;
    EXPECT_FALSE(fs::exists(run));
  }
}

// A run that fails before its first checkpoint leaves nothing behind: an --out it created is removed,
// an empty one it was given is emptied again, so the same command can simply be run again.
TEST_F(BadInputCli, ARunThatDivergesInItsFirstEpochLeavesNoRunFolder) {
  const std::string config =
      write_config("diverge", {{"type: Adam, learning_rate: 0.001", "type: SGD, learning_rate: 1e38"}});
  const fs::path run = root_ / "diverged";
  const Result r = run_cxrnet("train --config " + q(config) + " --data " + data() + " --out " + q(run));
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("cxrnet: training diverged: loss is "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("\nno checkpoint was written (the first epoch did not finish), so nothing is kept in " +
                       run.string() + "\n"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(run));

  fs::create_directories(root_ / "given");
  const Result given = run_cxrnet("train --config " + q(config) + " --data " + data() + " --out " + q(root_ / "given"));
  EXPECT_EQ(given.code, 2) << given.err;
  EXPECT_TRUE(fs::is_directory(root_ / "given"));
  EXPECT_TRUE(fs::is_empty(root_ / "given"));
}

TEST_F(BadInputCli, AnUnwritableCacheOrAFileGivenAsAFolderIsNamed) {
  const std::string train = "train --config " + q(write_config("tiny")) + " --data " + data();
  const fs::path cache = root_ / "cache";
  fs::create_directories(cache / "images-16x16-exact-nearest.cxrcache");  // a folder where the cache file goes
  const Result folder = run_cxrnet(train + " --out " + q(root_ / "r1") + " --cache " + q(cache));
  EXPECT_EQ(folder.code, 2) << folder.err;
  EXPECT_NE(folder.err.find("cxrnet: " + (cache / "images-16x16-exact-nearest.cxrcache").string() +
                            ": cannot write the image cache: a folder has its name (remove it or use another cache "
                            "folder)\n"),
            std::string::npos)
      << folder.err;
  EXPECT_EQ(std::distance(fs::directory_iterator(cache), fs::directory_iterator()), 1);  // no .tmpPID left
  EXPECT_FALSE(fs::exists(root_ / "r1"));

  // A regular file given where a folder belongs: exit 2 naming it (was "internal error: filesystem error").
  const fs::path file = root_ / "a-file";
  std::ofstream(file) << "keep me";
  const std::string not_a_folder = "cxrnet: " + file.string() + ": exists and is not a folder (";
  const Result cache_file = run_cxrnet(train + " --out " + q(root_ / "r2") + " --cache " + q(file));
  EXPECT_EQ(cache_file.code, 2) << cache_file.err;
  EXPECT_NE(cache_file.err.find(not_a_folder + "--cache names a folder)\n"), std::string::npos) << cache_file.err;
  EXPECT_FALSE(fs::exists(root_ / "r2"));

  ASSERT_EQ(run_cxrnet(train + " --out " + q(root_ / "trained")).code, 0);
  const std::string configs = q(fs::path(CXR_SOURCE_DIR) / "configs");
  for (const std::string& command :
       {"evaluate --run " + q(root_ / "trained") + " --out " + q(file), "synth --small --out " + q(file),
        "split --config " + q(write_config("tiny")) + " --data " + data() + " --out " + q(file),
        "reproduce --quick --experiments 1 --configs " + configs + " --data " + data() + " --out " + q(file)}) {
    const Result r = run_cxrnet(command);
    EXPECT_EQ(r.code, 2) << command << "\n" << r.err;
    EXPECT_NE(r.err.find(not_a_folder + "--out names a folder)\n"), std::string::npos) << command << "\n" << r.err;
  }
  EXPECT_EQ(read_text(file), "keep me");
}

// A run that diverges after a checkpoint keeps its folder, and the message says what it holds.
TEST_F(BadInputCli, ARunThatDivergesLaterKeepsItsHistoryAndLastCheckpoint) {
  const fs::path run = root_ / "later";
  ASSERT_EQ(run_cxrnet("train --config " + q(write_config("later")) + " --data " + data() + " --out " + q(run)).code,
            0);
  // As the message advises after a divergence, but the other way: a learning rate that diverges.
  std::string yaml = read_text(run / "config.yaml");
  yaml.replace(yaml.find("learning_rate: 0.001"), 20, "learning_rate: 1e38");
  std::ofstream(run / "config.yaml") << yaml;
  const std::string last = read_text(run / "checkpoints" / "last.safetensors");

  const Result r = run_cxrnet("train --resume " + q(run) + " --data " + data() + " --epochs 3");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("cxrnet: training diverged: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("\n" + run.string() + " keeps config.yaml, history.csv (epoch 1) and " +
                       (run / "checkpoints" / "last.safetensors").string() +
                       " (the end of epoch 1, the last good one). To continue from it: cxrnet train --resume " +
                       run.string() + " --data " + (root_ / "data").string()),
            std::string::npos)
      << r.err;
  EXPECT_TRUE(read_text(run / "checkpoints" / "last.safetensors") == last);  // not a byte changed
  const std::string history = read_text(run / "history.csv");
  EXPECT_EQ(std::count(history.begin(), history.end(), '\n'), 2) << history;  // the header and epoch 1
  for (const auto& entry : fs::recursive_directory_iterator(run))
    EXPECT_EQ(entry.path().string().find(".tmp"), std::string::npos) << entry.path();
}

TEST_F(BadInputCli, EvaluateTestFromTrainWithoutDataIsAnError) {
  const fs::path run = root_ / "to-evaluate";
  ASSERT_EQ(run_cxrnet("train --config " + q(write_config("tiny")) + " --data " + data() + " --out " + q(run)).code, 0);
  const Result r = run_cxrnet("evaluate --run " + q(run) + " --test-from-train 0.2");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(r.err,
            "cxrnet: --test-from-train carves the test split from --data's train/: give --data DIR too (without "
            "--data, evaluate uses the files RUN/split.csv lists, carved as training carved them)\n");
  EXPECT_FALSE(fs::exists(run / "evaluation"));
}

TEST_F(BadInputCli, SynthRefusesAFolderThatIsNotEmpty) {
  const Result r = run_cxrnet("synth --small --out " + data());
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(r.err, "cxrnet: " + (root_ / "data").string() +
                       ": already exists and is not empty (cxrnet synth never mixes its images into other files)\n");
  EXPECT_EQ(std::distance(fs::recursive_directory_iterator(root_ / "data" / "train" / "NORMAL"),
                          fs::recursive_directory_iterator()),
            12);  // the tiny set's images, no others
}

// Ctrl-C during synth (radiograph-sized images, about a minute on one core, which taskset keeps it to
// on any machine; the SIGINT comes after 1.5 s): it stops between two images, removes the folder and
// exits 130. Killed outright, it had left a half-written folder that the same command then refused as
// not empty.
TEST_F(BadInputCli, SynthStoppedByCtrlCRemovesWhatItWrote) {
  const fs::path out = root_ / "stopped-synth";
  const Result r = run_cxrnet("synth --out " + q(out), {}, "timeout --preserve-status -s INT 1.5 taskset -c 0 ");
  EXPECT_EQ(r.code, 130) << r.err;
  EXPECT_EQ(r.err, "cxrnet: interrupted by SIGINT: " + out.string() + " removed\n");
  EXPECT_FALSE(fs::exists(out));
}

// Waits, up to 30 s, until no process holds the lock on `folder`'s claim marker. `timeout -s KILL`
// signals its own process group too, so it dies beside cxrnet and returns while the killed process
// may still be exiting; the kernel drops a dying process's locks only after unmapping its memory,
// which took seconds in a ThreadSanitizer build (whose next synth then found the folder in use).
bool wait_until_unclaimed(const fs::path& folder) {
  const int fd = ::open((folder / ".cxrnet-claim").c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return true;  // no marker, no lock
  bool unclaimed = false;
  for (int tries = 0; tries < 300 && !unclaimed; ++tries) {
    unclaimed = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
    if (!unclaimed) ::usleep(100 * 1000);
  }
  ::close(fd);  // and with it this lock
  return unclaimed;
}

// Killed outright (kill -9: nothing can clean up), synth leaves no train/ or test/ for a later
// train to read half a set from, and the same --out then names the unfinished set.
TEST_F(BadInputCli, SynthKilledLeavesNoHalfSetAndTheNextSynthSaysSo) {
  const fs::path out = root_ / "killed-synth";
  const Result r = run_cxrnet("synth --out " + q(out), {}, "timeout --preserve-status -s KILL 1.5 taskset -c 0 ");
  EXPECT_EQ(r.code, 128 + SIGKILL) << r.err;
  ASSERT_TRUE(fs::exists(out / data::kUnfinishedSynthFolder / "train" / "NORMAL"));
  EXPECT_FALSE(fs::exists(out / "train"));
  EXPECT_FALSE(fs::exists(out / "test"));
  ASSERT_TRUE(wait_until_unclaimed(out)) << "the killed synth still holds " << out << " after 30 s";
  const Result again = run_cxrnet("synth --small --out " + q(out));
  EXPECT_EQ(again.code, 2) << again.err;
  EXPECT_EQ(again.err, "cxrnet: " + out.string() + ": already exists and is not empty (it holds the unfinished set "
                       "of a cxrnet synth that was killed: delete it)\n");
  fs::remove_all(out);
}

// A synth that cannot write its images (here: a file size limit of 512 bytes, so every JPEG fails
// with EFBIG, as a full disk fails with ENOSPC) says why, and removes what it wrote: the folder it
// made, or the contents of the empty folder it was given. The same --out then works.
TEST_F(BadInputCli, SynthThatCannotWriteSaysWhyAndLeavesNothing) {
  for (const bool existed : {false, true}) {
    const fs::path out = root_ / (existed ? "synth-into-empty" : "synth-new") / "set";
    if (existed) fs::create_directories(out);
    const fs::path err = root_ / "synth-limited.err";
    // The shell ignores SIGXFSZ (kept across exec), so a write past the limit fails with EFBIG instead of killing.
    const std::string command = "(trap '' XFSZ; ulimit -f 1; exec '" + std::string(CXR_CLI_PATH) +
                                "' synth --small --out " + q(out) + ") 2> " + q(err);
    const int status = std::system(command.c_str());
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 2) << read_text(err);
    EXPECT_EQ(read_text(err).rfind("cxrnet: " + out.string() + "/", 0), 0u) << read_text(err);
    EXPECT_NE(read_text(err).find(".jpeg: could not write its "), std::string::npos) << read_text(err);
    EXPECT_NE(read_text(err).find(std::strerror(EFBIG)), std::string::npos) << read_text(err);
    EXPECT_EQ(fs::exists(out), existed);
    EXPECT_TRUE(!existed || fs::is_empty(out));
  }
  const fs::path out = root_ / "synth-new" / "set";
  const Result again = run_cxrnet("synth --small --out " + q(out));
  EXPECT_EQ(again.code, 0) << again.err;
  fs::remove_all(out);
}

// CLI11 wrapped `--seed -1` to 2^64-1; integer options out of range are parse errors (exit 2).
TEST_F(BadInputCli, NegativeOrOverflowingIntegerOptionsAreRefused) {
  const fs::path out = root_ / "synth";
  const Result negative = run_cxrnet("synth --small --seed -1 --out " + q(out));
  EXPECT_EQ(negative.code, 2) << negative.err;
  EXPECT_EQ(negative.err.rfind("--seed: -1 is not a non-negative integer\n", 0), 0u) << negative.err;
  const Result huge = run_cxrnet("synth --small --seed 18446744073709551616 --out " + q(out));
  EXPECT_EQ(huge.code, 2) << huge.err;
  EXPECT_EQ(huge.err.rfind("--seed: 18446744073709551616 is too large (at most 18446744073709551615)\n", 0), 0u)
      << huge.err;
  EXPECT_FALSE(fs::exists(out));

  const std::string train = "train --config " + q(write_config("tiny")) + " --data " + data() + " --out " + q(out);
  const Result epochs = run_cxrnet(train + " --epochs -1");
  EXPECT_EQ(epochs.code, 2) << epochs.err;
  EXPECT_EQ(epochs.err, "cxrnet: --epochs must be at least 1\n");
  EXPECT_EQ(run_cxrnet(train + " --epochs 99999999999").code, 2);
  EXPECT_EQ(run_cxrnet("--threads -1 " + train).code, 2);
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(BadInputCli, AMistypedCommandIsNamedWithTheValidOnes) {
  const std::string commands = "the commands are: summary, train, split, synth, evaluate, predict, reproduce, "
                               "profile (cxrnet --help lists them)\n";
  const Result typo = run_cxrnet("trian --config x.yaml");
  EXPECT_EQ(typo.code, 2);
  EXPECT_EQ(typo.err, "cxrnet: unknown command 'trian' (did you mean 'train'?); " + commands);
  const Result unknown = run_cxrnet("--threads 2 frobnicate");
  EXPECT_EQ(unknown.code, 2);
  EXPECT_EQ(unknown.err, "cxrnet: unknown command 'frobnicate'; " + commands);
  const Result none = run_cxrnet("");
  EXPECT_EQ(none.code, 2);
  EXPECT_EQ(none.err, "cxrnet: a command is required; " + commands);
  const Result option = run_cxrnet("--bogus");
  EXPECT_EQ(option.code, 2);
  EXPECT_EQ(option.err, "cxrnet: unknown option '--bogus' (a command's options follow it: cxrnet COMMAND [options]); " +
                            commands);
  const Result help = run_cxrnet("--help");  // still CLI11's help, and success
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("SUBCOMMAND"), std::string::npos) << help.out;
}

TEST_F(BadInputCli, ATabInAConfigsIndentationIsNamed) {
  const std::string config = write_config("tab", {{"\n  layers:\n", "\n\tlayers:\n"}});
  const std::string train = "train --config " + q(config) + " --data " + data() + " --out " + q(root_ / "t");
  for (const std::string& command : {"summary --config " + q(config), train}) {
    const Result r = run_cxrnet(command);
    EXPECT_EQ(r.code, 2) << command;
    EXPECT_EQ(r.err, "cxrnet: " + config + ":8: a tab character in the indentation; YAML indents with spaces\n");
  }
  EXPECT_FALSE(fs::exists(root_ / "t"));
}

}  // namespace
}  // namespace cxr

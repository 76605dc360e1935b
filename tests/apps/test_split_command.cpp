// The split as a user sees it: the manifest in the run folder (reproducible from the seed), `cxrnet
// split` as hard links or copies, and bad input: each bad file reported once, a summary count,
// --strict, a third class folder, a missing test/ folder.
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <csignal>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "apps/commands.h"
#include "apps/datasets.h"
#include "apps/experiment_config.h"
#include "apps/interrupt.h"
#include "data/decode.h"
#include "data/synth.h"
#include "engine/error.h"

namespace cxr {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& p) {
  std::ifstream f(p);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// A small data set: train 12 NORMAL + 20 PNEUMONIA, test 4 + 4, images 40-60 px.
struct Scratch {
  fs::path root;
  explicit Scratch(const std::string& name) : root(fs::temp_directory_path() / ("cxr_split_" + name)) {
    fs::remove_all(root);
    data::write_synthetic_dataset({.out_dir = (root / "data").string(), .train_normal = 12, .train_pneumonia = 20,
                                   .test_normal = 4, .test_pneumonia = 4, .min_size = 40, .max_size = 60});
  }
  ~Scratch() { fs::remove_all(root); }
  std::string data() const { return (root / "data").string(); }
};

DataConfig carved_config(uint64_t seed) {
  DataConfig d;
  d.image_height = d.image_width = 16;
  d.validation = SplitConfig{.dir = "", .split_from = "train", .fraction = 0.25, .seed = seed};
  return d;
}

TEST(SplitManifest, ListsEveryFileOnceAndIsReproducibleFromTheSeed) {
  Scratch s("manifest");
  const std::string a = split_manifest(resolve_splits(carved_config(42), s.data()));
  EXPECT_EQ(a, split_manifest(resolve_splits(carved_config(42), s.data())));
  EXPECT_NE(a, split_manifest(resolve_splits(carved_config(43), s.data())));

  std::istringstream lines(a);
  std::string line;
  std::getline(lines, line);
  EXPECT_EQ(line, "path,label,split");
  std::set<std::string> paths;
  int counts[3][2] = {};  // split x class
  while (std::getline(lines, line)) {
    const size_t c1 = line.find(','), c2 = line.rfind(',');
    const std::string path = line.substr(0, c1), label = line.substr(c1 + 1, c2 - c1 - 1), split = line.substr(c2 + 1);
    EXPECT_TRUE(paths.insert(path).second) << path << " listed twice";
    EXPECT_TRUE(fs::exists(path)) << path;
    EXPECT_NE(path.find("/" + label + "/"), std::string::npos) << line;  // the label is the file's class folder
    const int si = split == "train" ? 0 : split == "validation" ? 1 : 2;
    ++counts[si][label == "PNEUMONIA"];
  }
  // Stratified: round(0.25·12) = 3 and round(0.25·20) = 5 carved per class; the test folder as is.
  EXPECT_EQ(counts[0][0], 9);
  EXPECT_EQ(counts[0][1], 15);
  EXPECT_EQ(counts[1][0], 3);
  EXPECT_EQ(counts[1][1], 5);
  EXPECT_EQ(counts[2][0], 4);
  EXPECT_EQ(counts[2][1], 4);
  EXPECT_EQ(paths.size(), 40u);
}

// The small config the split tests read (validation carved from train, test from test/).
fs::path write_split_config(const Scratch& s) {
  const fs::path config = s.root / "c.yaml";
  std::ofstream(config) << "name: t\n"
                           "data:\n"
                           "  image_size: 16\n"
                           "  validation: {split_from: train, fraction: 0.25, seed: 42}\n"
                           "model:\n"
                           "  input: [16, 16, 3]\n"
                           "  layers:\n"
                           "    - {type: Flatten}\n";
  return config;
}

TEST(SplitCommand, HardLinksTheSplitIntoFolders) {
  Scratch s("links");
  const fs::path config = write_split_config(s);
  SplitOptions options{config.string(), s.data(), (s.root / "out").string(), false, std::nullopt};
  std::ostringstream out;
  ASSERT_EQ(command_split(options, out), 0);
  EXPECT_NE(out.str().find("linked 40 files"), std::string::npos) << out.str();
  int files = 0;
  for (const auto& e : fs::recursive_directory_iterator(s.root / "out"))
    if (e.is_regular_file() && e.path().extension() == ".jpeg") {
      ++files;
      struct stat st{};
      ASSERT_EQ(::stat(e.path().c_str(), &st), 0);
      EXPECT_EQ(st.st_nlink, 2u) << e.path();  // a hard link to the original, not a copy
    }
  EXPECT_EQ(files, 40);
  // The folders are the same split as the manifest, and the originals are untouched.
  const SplitIndices split = resolve_splits(load_experiment_config(config.string()).data, s.data());
  EXPECT_EQ(read_text(s.root / "out" / "split.csv"), split_manifest(split));
  for (const std::string& f : split.validation.files)
    EXPECT_TRUE(fs::exists(s.root / "out" / "validation" / fs::path(f).parent_path().filename() / fs::path(f).filename()))
        << f;
  EXPECT_EQ(data::scan_class_directory(s.data() + "/train").files.size(), 32u);

  // A second run into the same folder refuses rather than overwrite; --copy makes real copies.
  EXPECT_THROW(command_split(options, out), InputError);
  options.out_dir = (s.root / "copies").string();
  options.copy = true;
  ASSERT_EQ(command_split(options, out), 0);
  for (const auto& e : fs::recursive_directory_iterator(s.root / "copies"))
    if (e.is_regular_file() && e.path().extension() == ".jpeg") {
      EXPECT_EQ(fs::hard_link_count(e.path()), 1u);
    }
}

// An --out inside a folder split reads would put every class's files into that class folder, where later
// scans count them as its images: refused before anything is made.
TEST(SplitCommand, RefusesAnOutInsideAFolderItReads) {
  Scratch s("inside");
  const fs::path config = write_split_config(s);
  const fs::path data(s.data());
  for (const fs::path& out : {data / "train" / "NORMAL" / "sub", data / "test" / "new", data / "train"}) {
    SplitOptions options{config.string(), s.data(), out.string(), false, std::nullopt};
    std::ostringstream log;
    try {
      command_split(options, log);
      ADD_FAILURE() << "--out " << out << " was accepted";
    } catch (const InputError& e) {
      const fs::path read = data / (out.string().find("/test/") != std::string::npos ? "test" : "train");
      EXPECT_EQ(std::string(e.what()).find("--out " + out.string() + " is inside " + read.string() +
                                           ", which split reads"),
                0u)
          << e.what();
    }
  }
  EXPECT_FALSE(fs::exists(data / "train" / "NORMAL" / "sub"));
  EXPECT_FALSE(fs::exists(data / "test" / "new"));
  EXPECT_EQ(data::scan_class_directory(s.data() + "/train").files.size(), 32u);
  // Beside them, in the data folder itself, is fine.
  SplitOptions beside{config.string(), s.data(), (data / "split").string(), false, std::nullopt};
  std::ostringstream log;
  EXPECT_EQ(command_split(beside, log), 0);
}

// A FIFO named like an image would block a copy or be linked in as a file nobody can read: refused,
// named, before the output folder is made.
TEST(SplitCommand, AFifoNamedLikeAnImageIsRefusedBeforeAnythingIsMade) {
  Scratch s("fifo");
  const fs::path fifo = s.root / "data" / "train" / "NORMAL" / "zz-fifo.jpeg";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  for (const bool copy : {false, true}) {
    SplitOptions options{write_split_config(s).string(), s.data(), (s.root / "out").string(), copy, std::nullopt};
    std::ostringstream out;
    try {
      command_split(options, out);
      ADD_FAILURE() << "the FIFO was " << (copy ? "copied" : "linked");
    } catch (const InputError& e) {
      EXPECT_EQ(std::string(e.what()).find(fifo.string() + ": not a regular file"), 0u) << e.what();
    }
    EXPECT_FALSE(fs::exists(s.root / "out"));
  }
}

// A copy that fails partway (here the file-size limit, as a full disk would) is an error naming the
// file, and leaves no half-made split behind: the same --out works once the cause is gone.
TEST(SplitCommand, ACopyThatFailsPartwayLeavesNothing) {
  Scratch s("partway");
  uintmax_t largest = 0;
  for (const auto& e : fs::recursive_directory_iterator(s.root / "data"))
    if (e.is_regular_file()) largest = std::max(largest, e.file_size());
  SplitOptions options{write_split_config(s).string(), s.data(), (s.root / "out").string(), true, std::nullopt};
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &limit), 0);
  const rlimit small{static_cast<rlim_t>(largest - 1), limit.rlim_max};  // every file but the largest fits
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);  // else the write past the limit kills this process
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string error = "(no error)";
  std::ostringstream out;
  try {
    command_split(options, out);
  } catch (const InputError& e) {
    error = e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &limit);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_EQ(error.find("cannot copy " + s.data()), 0u) << error;
  EXPECT_FALSE(fs::exists(s.root / "out"));
  EXPECT_EQ(command_split(options, out), 0);
  EXPECT_TRUE(fs::exists(s.root / "out" / "split.csv"));
}

// Ctrl-C part way (a SIGINT raised before the 10th file): split stops between two files, removes
// what it made and says so; the same --out is then free. Killed outright it had left a half-made
// folder that the same command refused as not empty.
TEST(SplitCommand, CtrlCPartWayLeavesNothing) {
  Scratch s("interrupted");
  SplitOptions options{write_split_config(s).string(), s.data(), (s.root / "out").string(), false, std::nullopt};
  options.before_each_file = [](size_t made) {
    if (made == 9) std::raise(SIGINT);
  };
  std::ostringstream out;
  try {
    command_split(options, out);
    ADD_FAILURE() << "not interrupted";
  } catch (const Interrupted& e) {
    EXPECT_EQ(e.signal, SIGINT);
    EXPECT_EQ(std::string(e.what()), "interrupted by SIGINT: " + options.out_dir + " removed");
  }
  EXPECT_FALSE(fs::exists(s.root / "out"));
  options.before_each_file = nullptr;
  EXPECT_EQ(command_split(options, out), 0);
  EXPECT_TRUE(fs::exists(s.root / "out" / "split.csv"));
}

TEST(BadInput, EachBadFileOnceThenASummaryAndStrictFails) {
  Scratch s("bad");
  const fs::path normal = s.root / "data" / "train" / "NORMAL";
  std::ofstream(normal / "empty.jpeg").flush();
  std::ofstream(normal / "notes.jpeg") << "a text file, not an X-ray";
  std::ofstream(normal / ".DS_Store") << "mac junk";
  std::ofstream(normal / "Thumbs.db") << "windows junk";
  data::Image tiny{2, 3, 1, {10, 20, 30, 40, 50, 60}};
  data::write_jpeg((normal / "TINY.JPEG").string(), tiny, 95, false, true);  // 3x2 and an upper-case name
  std::ofstream(s.root / "data" / "test" / "PNEUMONIA" / "cut.jpeg") << std::string("\xFF\xD8\xFF\xE0", 4);

  DataConfig d;
  d.image_height = d.image_width = 16;
  std::ostringstream log;
  const Datasets data = load_datasets(d, s.data(), log);
  const std::string text = log.str();
  for (const char* bad : {"empty.jpeg: empty file", "notes.jpeg: not a JPEG or PNG", "cut.jpeg: "}) {
    const size_t first = text.find(bad);
    EXPECT_NE(first, std::string::npos) << bad << "\n" << text;
    EXPECT_EQ(text.find(bad, first + 1), std::string::npos) << bad << " reported twice\n" << text;
  }
  EXPECT_EQ(text.find("DS_Store"), std::string::npos);
  EXPECT_EQ(text.find("Thumbs"), std::string::npos);
  EXPECT_EQ(data.skipped, 3u);
  EXPECT_NE(text.find("Skipped 3 unreadable files in all (train 2, test 1); --strict makes this an error."),
            std::string::npos)
      << text;
  EXPECT_EQ(data.train.labels.size(), 33u);  // 32 synthetic + the tiny image, resized to 16x16

  d.strict = true;
  std::ostringstream strict_log;
  try {
    load_datasets(d, s.data(), strict_log);
    ADD_FAILURE() << "strict should fail";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("strict: 3 unreadable files"), std::string::npos) << e.what();
  }
}

TEST(BadInput, ThirdClassAndMissingTestFolderAreNamed) {
  Scratch s("classes");
  DataConfig d;
  d.image_height = d.image_width = 16;
  fs::create_directories(s.root / "data" / "train" / "COVID");
  std::ofstream(s.root / "data" / "train" / "COVID" / "x.jpeg") << "x";
  try {
    resolve_splits(d, s.data());
    ADD_FAILURE() << "three classes should fail";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("found 3: COVID, NORMAL, PNEUMONIA (move or rename the extra folder)"),
              std::string::npos)
        << e.what();
  }
  fs::remove_all(s.root / "data" / "train" / "COVID");
  fs::rename(s.root / "data" / "train" / "PNEUMONIA", s.root / "pneumonia-aside");  // one class only
  try {
    resolve_splits(d, s.data());
    ADD_FAILURE() << "one class should fail";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("found 1: NORMAL (the other class's folder is missing)"), std::string::npos)
        << e.what();
  }
  fs::rename(s.root / "pneumonia-aside", s.root / "data" / "train" / "PNEUMONIA");
  fs::remove_all(s.root / "data" / "test");
  try {
    resolve_splits(d, s.data());
    ADD_FAILURE() << "a missing test folder should fail";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("/test: no such folder"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--test-from-train"), std::string::npos) << e.what();
  }
  fs::create_directories(s.root / "data" / "test" / "NORMAL");  // a class folder with no images
  fs::create_directories(s.root / "data" / "test" / "PNEUMONIA");
  std::ofstream(s.root / "data" / "test" / "PNEUMONIA" / "a.jpeg") << "x";
  EXPECT_THROW(resolve_splits(d, s.data()), InputError);
  fs::remove_all(s.root / "data" / "train");
  EXPECT_THROW(resolve_splits(d, s.data()), InputError);  // no train/ at all
}

// A carved fraction that leaves either side empty is refused (before: a test report of NaNs, or a run
// with nothing to train on, both with exit status 0).
TEST(BadInput, ACarvedSplitThatLeavesNoImagesIsRefused) {
  Scratch s("empty_carve");
  for (const auto& [fraction, empty_side] : {std::pair{0.001, "leaves validation with no images"},
                                             std::pair{0.999, "leaves training with no images"}}) {
    DataConfig d = carved_config(42);
    d.validation.fraction = fraction;
    try {
      resolve_splits(d, s.data());
      ADD_FAILURE() << "fraction " << fraction << " should fail";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(empty_side), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("of the 32 images in"), std::string::npos) << e.what();
    }
  }
  // 0.03 of 12 NORMAL images rounds to none, of 20 PNEUMONIA to one: validation would lack a class.
  DataConfig d = carved_config(42);
  d.validation.fraction = 0.03;
  try {
    resolve_splits(d, s.data());
    ADD_FAILURE() << "a class carved to nothing should fail";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "validation: a fraction of 0.03 of the 12 NORMAL images in " + s.data() +
                                         "/train leaves validation with no NORMAL image (each class is split on "
                                         "its own, rounded)");
  }
}

}  // namespace
}  // namespace cxr

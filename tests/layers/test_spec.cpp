// SpecNode: accessors, the exact text and position of every error, and name suggestions.
#include <gtest/gtest.h>

#include "config_error.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>

#include "layers/spec.h"

namespace cxr {
namespace {

const auto error_of = testing::config_error_of;

SpecNode parse(const std::string& text) { return SpecNode::load_string(text, "t.yaml"); }

TEST(SpecNode, PositionsAndPathsAreOneBased) {
  const SpecNode root = parse("model:\n  layers:\n    - {type: Conv2D, filters: 16}\n");
  EXPECT_EQ(root.where(), "t.yaml:1:1");
  EXPECT_EQ(root.path(), "");
  EXPECT_EQ(root.file(), "t.yaml");
  const SpecNode layer = root.child("model").child("layers").items().at(0);
  EXPECT_EQ(layer.path(), "model.layers[0]");
  EXPECT_EQ(layer.where(), "t.yaml:3:7");
  EXPECT_EQ(layer.child("filters").path(), "model.layers[0].filters");
  EXPECT_EQ(layer.child("filters").where(), "t.yaml:3:31");
}

TEST(SpecNode, ATabInTheIndentationIsNamed) {
  EXPECT_EQ(testing::config_error_of([] { parse("model:\n  input: [1]\n\tlayers: []\n"); }),
            "t.yaml:3: a tab character in the indentation; YAML indents with spaces");
  EXPECT_EQ(testing::config_error_of([] { parse("a:\n  - 1\n  \t- 2\n"); }),
            "t.yaml:3: a tab character in the indentation; YAML indents with spaces");
  // A tab after the indentation is no concern; other errors keep yaml-cpp's message.
  EXPECT_EQ(parse("a:\t1\nb: [x,\ty]\n").child("a").as_int(), 1);
  EXPECT_EQ(testing::config_error_of([] { parse("a: [1\n"); }).rfind("t.yaml:2:1: ", 0), 0u);
}

// yaml-cpp's Load reads the first document and dropped the rest unread (their mistakes included).
TEST(SpecNode, ASecondDocumentIsRefused) {
  EXPECT_EQ(testing::config_error_of([] { parse("a: 1\n---\ndata: {bogus: 1}\n"); }),
            "t.yaml:3:1: a second YAML document (after '---'); a config is one document");
  EXPECT_EQ(parse("---\na: 1\n").child("a").as_int(), 1);  // one document, marked as such
  EXPECT_TRUE(parse("").is_null());
}

TEST(SpecNode, KindsKeysAndItems) {
  const SpecNode root = parse("b: 1\na: [x, y]\nc: {k: v}\n");
  EXPECT_TRUE(root.is_map());
  EXPECT_EQ(root.keys(), (std::vector<std::string>{"b", "a", "c"}));  // file order, not sorted
  EXPECT_TRUE(root.has("a"));
  EXPECT_FALSE(root.has("z"));
  EXPECT_TRUE(root.child("a").is_sequence());
  EXPECT_TRUE(root.child("b").is_scalar());
  EXPECT_EQ(root.child("a").items().size(), 2u);
  EXPECT_EQ(root.child("a").items()[1].path(), "a[1]");
  EXPECT_FALSE(root.child("b").has("x"));  // has() on a scalar is simply false
  EXPECT_EQ(error_of([&] { root.child("b").items(); }), "t.yaml:1:4: b: expected a list, got '1'");
  EXPECT_EQ(error_of([&] { root.child("a").keys(); }), "t.yaml:2:4: a: expected a map, got a list");
}

TEST(SpecNode, Integers) {
  const SpecNode root = parse("a: 16\nb: -3\nc: +7\nbig: 3000000000\nf: 16.0\nh: 0x10\nq: \"16\"\n");
  EXPECT_EQ(root.get_int("a"), 16);
  EXPECT_EQ(root.get_int("b"), -3);
  EXPECT_EQ(root.get_int("c"), 7);
  EXPECT_EQ(root.get_int("missing", 5), 5);
  EXPECT_EQ(root.get_int("a", 5), 16);
  EXPECT_EQ(error_of([&] { root.get_int("big"); }), "t.yaml:4:6: big: integer '3000000000' is out of range");
  EXPECT_EQ(error_of([&] { root.get_int("f"); }), "t.yaml:5:4: f: expected an integer, got '16.0'");
  EXPECT_EQ(error_of([&] { root.get_int("h"); }), "t.yaml:6:4: h: expected an integer, got '0x10'");
  EXPECT_EQ(error_of([&] { root.get_int("q"); }),
            "t.yaml:7:4: q: expected an integer, got the quoted string '16' (write numbers without quotes)");
  EXPECT_EQ(root.get_uint64("big", 1), 3000000000u);
  EXPECT_EQ(root.get_uint64("missing", 42), 42u);
  EXPECT_NE(error_of([&] { root.get_uint64("b", 0); }).find("expected a non-negative integer"),
            std::string::npos);
}

TEST(SpecNode, WrongTypeIsReportedAtTheValue) {
  const SpecNode layer = parse("model:\n  layers:\n    - {type: Conv2D, filters: sixteen}\n")
                             .child("model")
                             .child("layers")
                             .items()[0];
  EXPECT_EQ(error_of([&] { layer.get_int("filters"); }),
            "t.yaml:3:31: model.layers[0].filters: expected an integer, got 'sixteen'");
  EXPECT_EQ(error_of([&] { layer.get_int("filters", 1); }),  // a fallback never hides a bad value
            "t.yaml:3:31: model.layers[0].filters: expected an integer, got 'sixteen'");
}

// yaml-cpp happily reads 3e-6; YAML 1.1 (PyYAML) would call it a string. Both must be numbers.
TEST(SpecNode, DoublesInEverySpelling) {
  const SpecNode root =
      parse("a: 3.0e-6\nb: 3e-6\nc: 2\nd: 0.02\ne: -1.5\nf: .5\ng: 1E3\nh: +2.5\ni: 0.0078125\n");
  EXPECT_DOUBLE_EQ(root.get_double("a"), 3e-6);
  EXPECT_DOUBLE_EQ(root.get_double("b"), 3e-6);
  EXPECT_DOUBLE_EQ(root.get_double("c"), 2.0);  // an int where a double is expected
  EXPECT_DOUBLE_EQ(root.get_double("d"), 0.02);
  EXPECT_DOUBLE_EQ(root.get_double("e"), -1.5);
  EXPECT_DOUBLE_EQ(root.get_double("f"), 0.5);
  EXPECT_DOUBLE_EQ(root.get_double("g"), 1000.0);
  EXPECT_DOUBLE_EQ(root.get_double("h"), 2.5);
  EXPECT_EQ(root.get_double("i"), 1.0 / 128);
  EXPECT_DOUBLE_EQ(root.get_double("missing", 0.25), 0.25);
}

TEST(SpecNode, BadDoublesSayWhatToWrite) {
  const SpecNode root =
      parse("rescale: 1/50\nr2: 1./128\nr3: 1./IMAGE_SIZE\nr4: .inf\nr5: ten\nr6: 2*3\nr7: [1]\n");
  EXPECT_EQ(
      error_of([&] { root.get_double("rescale"); }),
      "t.yaml:1:10: rescale: expected a number, got '1/50' (expressions are not supported: write 0.02)");
  EXPECT_EQ(
      error_of([&] { root.get_double("r2", 1.0); }),
      "t.yaml:2:5: r2: expected a number, got '1./128' (expressions are not supported: write 0.0078125)");
  EXPECT_EQ(error_of([&] { root.get_double("r3"); }),
            "t.yaml:3:5: r3: expected a number, got '1./IMAGE_SIZE' (expressions are not supported: "
            "write the value as a decimal number)");
  EXPECT_EQ(error_of([&] { root.get_double("r4"); }), "t.yaml:4:5: r4: expected a number, got '.inf'");
  EXPECT_EQ(error_of([&] { root.get_double("r5"); }), "t.yaml:5:5: r5: expected a number, got 'ten'");
  EXPECT_NE(error_of([&] { root.get_double("r6"); }).find("expressions are not supported"),
            std::string::npos);
  EXPECT_EQ(error_of([&] { root.get_double("r7"); }), "t.yaml:7:5: r7: expected a number, got a list");
}

TEST(SpecNode, Strings) {
  const SpecNode root = parse("a: relu\nb: \"quoted: yes\"\nc: 2020\nempty:\nlist: [a]\n");
  EXPECT_EQ(root.get_string("a"), "relu");
  EXPECT_EQ(root.get_string("b"), "quoted: yes");
  EXPECT_EQ(root.get_string("c"), "2020");  // a folder may be called 2020
  EXPECT_EQ(root.get_string("missing", "same"), "same");
  // An empty value is reported on its key's line, not where the next token starts.
  EXPECT_EQ(error_of([&] { root.get_string("empty"); }), "t.yaml:4:1: empty: expected a string, got nothing");
  EXPECT_EQ(error_of([&] { root.get_string("list"); }), "t.yaml:5:7: list: expected a string, got a list");
}

TEST(SpecNode, Booleans) {
  const SpecNode root = parse("a: true\nb: false\nc: True\nd: yes\ne: \"true\"\n");
  EXPECT_TRUE(root.get_bool("a"));
  EXPECT_FALSE(root.get_bool("b", true));
  EXPECT_TRUE(root.get_bool("c"));
  EXPECT_TRUE(root.get_bool("missing", true));
  EXPECT_EQ(error_of([&] { root.get_bool("d", false); }), "t.yaml:4:4: d: expected true or false, got 'yes'");
  EXPECT_EQ(error_of([&] { root.get_bool("e", false); }),
            "t.yaml:5:4: e: expected true or false, got the quoted string 'true'");
}

TEST(SpecNode, IntPairsAndLists) {
  const SpecNode root =
      parse("k: 5\nk2: [3, 5]\nk3: [1, 2, 3]\nk4: [1, x]\nshape: [50, 50, 3]\nnames: [a, b]\n");
  EXPECT_EQ(root.get_int_pair("k", {1, 1}), std::make_pair(5, 5));
  EXPECT_EQ(root.get_int_pair("k2", {1, 1}), std::make_pair(3, 5));
  EXPECT_EQ(root.get_int_pair("missing", {2, 2}), std::make_pair(2, 2));
  EXPECT_EQ(root.get_int_pair("k"), std::make_pair(5, 5));
  EXPECT_EQ(error_of([&] {
              root.get_int_pair("k3", {1, 1});
            }),
            "t.yaml:3:5: k3: expected an integer or a list of 2 integers, got a list");
  EXPECT_EQ(error_of([&] {
              root.get_int_pair("k4", {1, 1});
            }),
            "t.yaml:4:9: k4[1]: expected an integer, got 'x'");
  EXPECT_EQ(root.get_int_list("shape"), (std::vector<int>{50, 50, 3}));
  EXPECT_EQ(root.get_string_list("names"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(error_of([&] { root.get_int_list("k"); }), "t.yaml:1:4: k: expected a list, got '5'");
}

TEST(SpecNode, MissingRequiredKeyNamesItAndSpotsTypos) {
  const SpecNode layers =
      parse("layers:\n  - {type: Conv2D, filter: 16}\n  - {type: Flatten}\n").child("layers");
  EXPECT_EQ(error_of([&] { layers.items()[0].get_int("filters"); }),
            "t.yaml:2:5: layers[0]: missing required key 'filters' in Conv2D (found 'filter': a typo?)");
  EXPECT_EQ(error_of([&] { layers.items()[1].child("units"); }),
            "t.yaml:3:5: layers[1]: missing required key 'units' in Flatten");
  EXPECT_EQ(error_of([&] { parse("a: 1\n").get_string("name"); }), "t.yaml:1:1: missing required key 'name'");
  EXPECT_EQ(error_of([&] { parse("a: 1\n").child("a").child("b"); }),
            "t.yaml:1:4: a: expected a map with 'b', got '1'");
}

TEST(SpecNode, OptionalKeysNeedAMapOrNothing) {
  const SpecNode root = parse("augment: 0.1\nempty:\n");
  EXPECT_EQ(error_of([&] { root.child("augment").get_double("zoom_range", 0); }),
            "t.yaml:1:10: augment: expected a map with 'zoom_range', got '0.1'");
  EXPECT_EQ(root.child("empty").get_double("zoom_range", 0.5), 0.5);  // an empty section: defaults
  EXPECT_EQ(SpecNode().get_int("anything", 7), 7);
  EXPECT_TRUE(SpecNode().is_null());
}

TEST(SpecNode, UnknownKeyIsReportedAtTheKeyWithASuggestion) {
  const SpecNode layer =
      parse("layers:\n  - {type: Conv2D, filter: 16, kernel: 5}\n").child("layers").items()[0];
  EXPECT_EQ(error_of([&] {
              layer.check_keys({"type", "name", "filters", "kernel", "strides", "padding"});
            }),
            "t.yaml:2:20: layers[0]: unknown key 'filter' in Conv2D (did you mean 'filters'?); "
            "allowed: type, name, filters, kernel, strides, padding");
  const SpecNode root = parse("name: x\nxyz: 1\n");
  EXPECT_EQ(error_of([&] {
              root.check_keys({"name", "data", "model", "train"});
            }),
            "t.yaml:2:1: unknown key 'xyz'; allowed: name, data, model, train");
  EXPECT_NO_THROW(root.check_keys({"name", "xyz"}));
  EXPECT_EQ(error_of([&] { root.child("name").check_keys({"a"}); }),
            "t.yaml:1:7: name: expected a map, got 'x'");
}

TEST(SpecNode, FailPrefixesPositionAndPath) {
  const SpecNode root = parse("model:\n  input: [1, 2]\n");
  EXPECT_EQ(error_of([&] { root.fail("bad"); }), "t.yaml:1:1: bad");
  EXPECT_EQ(error_of([&] { root.child("model").child("input").fail("needs 3 numbers"); }),
            "t.yaml:2:10: model.input: needs 3 numbers");
}

TEST(SpecNode, ParseErrorsCarryThePosition) {
  EXPECT_EQ(error_of([] { parse("a: [1, 2\nb: 3\n"); }), "t.yaml:2:2: end of sequence flow not found");
  EXPECT_EQ(error_of([] { parse("a: 1\n b: 2\n"); }), "t.yaml:2:3: illegal map value");
  EXPECT_EQ(error_of([] { parse("a: 1\nb: 2\na: 3\n"); }), "t.yaml:3:1: duplicate key 'a' (first at line 1)");
  EXPECT_EQ(error_of([] { parse("x:\n  - {k: 1, k: 2}\n"); }),
            "t.yaml:2:12: x[0]: duplicate key 'k' (first at line 2)");
}

// Aliases can make a node its own child (the walk overflowed the stack: a segfault) or expand a few
// lines into millions of nodes (100 s to walk): both are refused with the place in the file.
TEST(SpecNode, AliasCyclesAndAliasBombsAreRefused) {
  const std::string cycle = error_of([] { parse("a: &a [*a]\n"); });
  EXPECT_EQ(cycle.rfind("t.yaml:1:4: a[0][0]", 0), 0u) << cycle;
  EXPECT_NE(cycle.find("nested more than 32 levels deep"), std::string::npos) << cycle;
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'f'; ++c) {  // each line 10 aliases of the one before: f holds 10^6 x's
    std::string refs;
    for (int i = 0; i < 10; ++i) refs += std::string(i ? ", *" : "*") + static_cast<char>(c - 1);
    bomb += std::string(1, c) + ": &" + c + " [" + refs + "]\n";
  }
  EXPECT_NE(error_of([&] { parse(bomb); }).find("more than 100000 YAML nodes"), std::string::npos);
  // 32 levels of real nesting are still a config.
  EXPECT_NO_THROW(parse("a: " + std::string(31, '[') + "1" + std::string(31, ']') + "\n"));
}

TEST(SpecNode, LoadFile) {
  const std::string path = std::string(CXR_BINARY_DIR) + "/spec_load_file_test.yaml";
  std::ofstream(path) << "a: 1\nb: oops\n";
  const SpecNode root = SpecNode::load_file(path);
  EXPECT_EQ(root.get_int("a"), 1);
  EXPECT_EQ(error_of([&] { root.get_int("b"); }), path + ":2:4: b: expected an integer, got 'oops'");
  std::remove(path.c_str());
  EXPECT_EQ(error_of([&] { SpecNode::load_file(path); }), path + ": cannot open the file");
}

// Only a regular file of a config's size is read: /dev/zero once ran out of memory (bad_alloc, an
// internal error), a folder read as an empty config. /dev/null stands for any device, FIFO or socket:
// the same check, without an endless read or a blocked open if it were missing.
TEST(SpecNode, LoadFileRefusesFoldersDevicesFifosAndHugeFiles) {
  const std::string dir = std::string(CXR_BINARY_DIR) + "/spec_load_file_kinds_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  EXPECT_EQ(error_of([&] { SpecNode::load_file(dir); }), dir + ": is a folder, not a config file");
  EXPECT_EQ(error_of([&] { SpecNode::load_file("/dev/null"); }),
            "/dev/null: not a regular file (a device, FIFO or socket), not a config file");
  const std::string huge = dir + "/huge.yaml";
  std::ofstream(huge) << "a: 1\n" << std::string(16u << 20, '#');
  EXPECT_EQ(error_of([&] { SpecNode::load_file(huge); }), huge + ": larger than 16 MiB, too large for a config file");
  std::filesystem::remove_all(dir);
}

TEST(NearestName, SuggestsCloseAndShortenedNames) {
  const std::vector<std::string> layers = {
      "Conv2D", "BatchNormalization", "Dropout", "Activation", "MaxPooling2D", "Flatten", "Dense"};
  EXPECT_EQ(nearest_name("Conv2d", layers), "Conv2D");  // case only
  EXPECT_EQ(nearest_name("conv2D", layers), "Conv2D");
  EXPECT_EQ(nearest_name("Dens", layers), "Dense");   // one letter missing
  EXPECT_EQ(nearest_name("Dnese", layers), "Dense");  // two letters swapped
  EXPECT_EQ(nearest_name("Droput", layers), "Dropout");
  EXPECT_EQ(nearest_name("MaxPool2D", layers), "MaxPooling2D");        // 3 edits, 9 letters: within len/3
  EXPECT_EQ(nearest_name("BatchNorm", layers), "BatchNormalization");  // a prefix: shortened name
  EXPECT_EQ(nearest_name("MaxPool", layers), "MaxPooling2D");
  EXPECT_EQ(nearest_name("xyz", layers), "");
  EXPECT_EQ(nearest_name("Linear", layers), "");
  EXPECT_EQ(nearest_name("", layers), "");
  EXPECT_EQ(nearest_name("Dense", {}), "");
  const std::vector<std::string> keys = {"zoom_range", "width_shift_range", "height_shift_range"};
  EXPECT_EQ(nearest_name("zoom", keys), "zoom_range");
  EXPECT_EQ(nearest_name("width_shift", keys), "width_shift_range");
  EXPECT_EQ(nearest_name("zo", keys), "");  // too short to be a meaningful prefix
  EXPECT_EQ(nearest_name("learning_rat", {"learning_rate", "epsilon"}), "learning_rate");
  EXPECT_EQ(nearest_name("lr", {"learning_rate", "epsilon"}), "");
}

TEST(NearestName, DidYouMeanFormatsOrStaysSilent) {
  EXPECT_EQ(did_you_mean("Conv2d", {"Conv2D", "Dense"}), " (did you mean 'Conv2D'?)");
  EXPECT_EQ(did_you_mean("xyz", {"Conv2D", "Dense"}), "");
}

}  // namespace
}  // namespace cxr

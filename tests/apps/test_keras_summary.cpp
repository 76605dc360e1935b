// model.summary() against keras 2.8.0's own print_summary, run on stand-in model objects by
// tools/fixtures/make_report_fixtures.py (tests/apps/fixtures/report/summary_*).
#include "apps/keras_summary.h"

#include <gtest/gtest.h>

#include "report_fixtures.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace cxr::report {
namespace {

using testing::read_fixture;
using testing::split;

// summary_<case>.tsv: "model name, trainable, non-trainable", then "name, class, shape, params".
std::string format_fixture_model(const std::string& name) {
  const auto lines = split(read_fixture("summary_" + name + ".tsv"), '\n');
  const auto head = split(lines.at(0), '\t');
  std::vector<SummaryRow> rows;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const auto f = split(lines[i], '\t');
    rows.push_back({f.at(0), f.at(1), f.at(2), std::stoll(f.at(3))});
  }
  const int64_t trainable = std::stoll(head.at(1)), non_trainable = std::stoll(head.at(2));
  return format_summary(head.at(0), rows, trainable + non_trainable, trainable, non_trainable);
}

TEST(KerasSummary, MatchesKerasForEveryFixtureModel) {
  for (const char* name : {"model1", "model2", "model3", "transfer_trainable", "transfer_frozen",
                           "stress"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(format_fixture_model(name), read_fixture(std::string("summary_") + name + ".txt"));
  }
}

TEST(KerasSummary, NotebookModelOneFromShapes) {
  using Dims = std::vector<int64_t>;
  auto block = [](std::string suffix, Dims shape, int64_t conv, int64_t bn) {
    const std::string s = suffix.empty() ? "" : "_" + suffix;
    return std::vector<SummaryRow>{
        {"conv2d" + s, "Conv2D", format_output_shape(shape), conv},
        {"batch_normalization" + s, "BatchNormalization", format_output_shape(shape), bn},
        {"dropout" + s, "Dropout", format_output_shape(shape), 0},
        {"activation" + s, "Activation", format_output_shape(shape), 0}};
  };
  std::vector<SummaryRow> rows;
  for (auto& part : {block("", {46, 46, 16}, 1216, 64), block("1", {21, 21, 32}, 12832, 128),
                     block("2", {9, 9, 64}, 51264, 256)})
    rows.insert(rows.end(), part.begin(), part.end());
  rows.insert(rows.end(),
              {{"max_pooling2d", "MaxPooling2D", format_output_shape({4, 4, 64}), 0},
               {"dropout_3", "Dropout", format_output_shape({4, 4, 64}), 0},
               {"batch_normalization_3", "BatchNormalization", format_output_shape({4, 4, 64}),
                256},
               {"flatten", "Flatten", format_output_shape({1024}), 0},
               {"dense", "Dense", format_output_shape({64}), 65600},
               {"activation_3", "Activation", format_output_shape({64}), 0},
               {"dropout_4", "Dropout", format_output_shape({64}), 0},
               {"dense_1", "Dense", format_output_shape({1}), 65},
               {"activation_4", "Activation", format_output_shape({1}), 0}});
  EXPECT_EQ(format_summary("sequential", rows, 131681, 131329, 352),
            read_fixture("summary_model1.txt"));
}

TEST(KerasSummary, ShapesPrintAsPythonTuples) {
  EXPECT_EQ(format_output_shape({46, 46, 16}), "(None, 46, 46, 16)");
  EXPECT_EQ(format_output_shape({1024}), "(None, 1024)");
  EXPECT_EQ(format_output_shape({}), "(None,)");
  EXPECT_EQ(format_output_shape({-1, 3}), "(None, None, 3)");
  EXPECT_EQ(format_input_shape({50, 50, 3}), "[(None, 50, 50, 3)]");
}

TEST(KerasSummary, NegativeTotalsKeepTheirSeparators) {
  const std::string text = format_summary("m", {}, -1234567, 0, -1234567);
  EXPECT_NE(text.find("Total params: -1,234,567\n"), std::string::npos);
}

}  // namespace
}  // namespace cxr::report

// classification_report / confusion_matrix against text printed by the real scikit-learn
// 1.2.1 and numpy (tests/apps/fixtures/report/, written by tools/fixtures/make_report_fixtures.py).
#include "apps/classification_report.h"

#include <gtest/gtest.h>

#include "report_fixtures.h"

#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

namespace cxr::report {
namespace {

using testing::read_fixture;
using testing::split;

struct Case {
  std::string name;
  int digits;
  std::vector<std::string> target_names;
  ConfusionMatrix matrix;
};

// report_cases.tsv: case, digits, names joined by '|' or '-', rows "a b;c d".
std::vector<Case> load_cases() {
  std::vector<Case> cases;
  for (const std::string& line : split(read_fixture("report_cases.tsv"), '\n')) {
    const auto fields = split(line, '\t');
    Case c{fields.at(0), std::stoi(fields.at(1)), {}, {}};
    if (fields.at(2) != "-") c.target_names = split(fields[2], '|');
    for (const std::string& row : split(fields.at(3), ';')) {
      std::istringstream values(row);
      c.matrix.counts.emplace_back();
      for (int64_t v; values >> v;) c.matrix.counts.back().push_back(v);
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

std::map<std::string, std::vector<std::string>> load_warnings() {
  std::map<std::string, std::vector<std::string>> by_case;
  for (const std::string& line : split(read_fixture("report_warnings.tsv"), '\n')) {
    const auto tab = line.find('\t');
    by_case[line.substr(0, tab)].push_back(line.substr(tab + 1));
  }
  return by_case;
}

TEST(ClassificationReport, MatchesSklearnForEveryFixtureCase) {
  const auto cases = load_cases();
  ASSERT_GE(cases.size(), 10u);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(classification_report(c.matrix, c.target_names, c.digits),
              read_fixture("report_" + c.name + ".txt"));
  }
}

TEST(ClassificationReport, WarnsLikeSklearn) {
  auto expected = load_warnings();
  for (const Case& c : load_cases()) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(undefined_metric_warnings(c.matrix), expected[c.name]);
  }
}

TEST(ClassificationReport, KerasFactsExample) {
  const ConfusionMatrix m{{{134, 100}, {6, 384}}};
  EXPECT_EQ(classification_report(m),
            "              precision    recall  f1-score   support\n"
            "\n"
            "           0       0.96      0.57      0.72       234\n"
            "           1       0.79      0.98      0.88       390\n"
            "\n"
            "    accuracy                           0.83       624\n"
            "   macro avg       0.88      0.78      0.80       624\n"
            "weighted avg       0.85      0.83      0.82       624\n");
  EXPECT_EQ(format_confusion_matrix(m), "[[134 100]\n [  6 384]]");
}

TEST(ClassificationReport, RejectsBadInput) {
  const ConfusionMatrix m{{{1, 2}, {3, 4}}};
  EXPECT_THROW(classification_report(m, {"only one"}), std::invalid_argument);
  EXPECT_THROW(classification_report(ConfusionMatrix{}), std::invalid_argument);
  EXPECT_THROW(classification_report(ConfusionMatrix{{{1, 2}, {3}}}), std::invalid_argument);
}

TEST(ConfusionMatrix, PrintsLikeNumpy) {
  for (const Case& c : load_cases()) {
    if (c.matrix.num_classes() * c.matrix.num_classes() > 1000) continue;  // numpy abbreviates
    SCOPED_TRACE(c.name);
    EXPECT_EQ(format_confusion_matrix(c.matrix) + "\n",
              read_fixture("confusion_" + c.name + ".txt"));
  }
}

TEST(ConfusionMatrix, CountsRowsAsTrueAndColumnsAsPredicted) {
  for (const Case& c : load_cases()) {
    int64_t samples = 0;
    for (const auto& row : c.matrix.counts)
      for (int64_t n : row) samples += n;
    if (samples > 200000) continue;  // millions of labels would only slow the suite down
    SCOPED_TRACE(c.name);
    std::vector<int> y_true, y_pred;
    for (std::size_t t = 0; t < c.matrix.num_classes(); ++t)
      for (std::size_t p = 0; p < c.matrix.num_classes(); ++p)
        for (int64_t n = 0; n < c.matrix.counts[t][p]; ++n) {
          y_true.push_back(int(t));
          y_pred.push_back(int(p));
        }
    EXPECT_EQ(confusion_matrix(y_true, y_pred, int(c.matrix.num_classes())), c.matrix);
  }
}

TEST(ConfusionMatrix, InfersTheClassCountFromTheLargestLabel) {
  EXPECT_EQ(confusion_matrix({0, 1, 1, 2}, {0, 1, 0, 1}),
            (ConfusionMatrix{{{1, 0, 0}, {1, 1, 0}, {0, 1, 0}}}));
  EXPECT_EQ(confusion_matrix({1, 1}, {1, 1}, 2), (ConfusionMatrix{{{0, 0}, {0, 2}}}));
  EXPECT_THROW(confusion_matrix({0, 1}, {0}), std::invalid_argument);
  EXPECT_THROW(confusion_matrix({0, -1}, {0, 0}), std::invalid_argument);
  EXPECT_THROW(confusion_matrix({0, 2}, {0, 0}, 2), std::invalid_argument);
}

}  // namespace
}  // namespace cxr::report

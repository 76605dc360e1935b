// Screening metrics against hand-computed cases (the values sklearn's roc_auc_score and
// average_precision_score give for the same inputs).
#include <gtest/gtest.h>

#include <cmath>

#include "apps/metrics.h"
#include "engine/error.h"

namespace cxr::report {
namespace {

TEST(RocAuc, HandComputedCases) {
  // Positives 0.35 and 0.8 against negatives 0.1 and 0.4: 3 of 4 pairs ordered right.
  EXPECT_DOUBLE_EQ(roc_auc({0.1f, 0.4f, 0.35f, 0.8f}, {0, 0, 1, 1}), 0.75);
  EXPECT_DOUBLE_EQ(roc_auc({0.1f, 0.2f, 0.7f, 0.9f}, {0, 0, 1, 1}), 1.0);
  EXPECT_DOUBLE_EQ(roc_auc({0.9f, 0.7f, 0.2f, 0.1f}, {0, 0, 1, 1}), 0.0);
  // All tied: every pair counts half.
  EXPECT_DOUBLE_EQ(roc_auc({0.5f, 0.5f, 0.5f, 0.5f}, {0, 1, 0, 1}), 0.5);
  // Positives 0.6, 0.9 against negatives 0.6, 0.1: pairs (0.6,0.6) = 0.5, the other three = 1.
  EXPECT_DOUBLE_EQ(roc_auc({0.6f, 0.9f, 0.6f, 0.1f}, {1, 1, 0, 0}), 0.875);
  EXPECT_TRUE(std::isnan(roc_auc({0.3f, 0.4f}, {1, 1})));
}

// A NaN prediction is an error, as in sklearn: with it, grouping equal scores never ended.
TEST(RocAuc, NanScoresAreAnErrorNotAHang) {
  const std::vector<float> scores = {0.1f, std::nanf(""), 0.35f, 0.8f};
  const std::vector<int> labels = {0, 0, 1, 1};
  EXPECT_THROW(roc_auc(scores, labels), InputError);
  EXPECT_THROW(average_precision(scores, labels), InputError);
}

TEST(AveragePrecision, HandComputedCases) {
  // Descending: 0.8(+) 0.4(-) 0.35(+) 0.1(-): 0.5 * 1 + 0.5 * 2/3.
  EXPECT_NEAR(average_precision({0.1f, 0.4f, 0.35f, 0.8f}, {0, 0, 1, 1}), 0.5 + 1.0 / 3.0, 1e-12);
  // One threshold for all tied scores: recall 1 at precision 1/2.
  EXPECT_DOUBLE_EQ(average_precision({0.5f, 0.5f, 0.5f, 0.5f}, {0, 1, 0, 1}), 0.5);
  EXPECT_DOUBLE_EQ(average_precision({0.1f, 0.2f, 0.7f, 0.9f}, {0, 0, 1, 1}), 1.0);
  EXPECT_TRUE(std::isnan(average_precision({0.3f}, {0})));
}

TEST(RatesAt, SensitivityAndSpecificityWithAStrictThreshold) {
  const std::vector<float> scores{0.2f, 0.5f, 0.7f, 0.9f, 0.3f, 0.6f};
  const std::vector<int> labels{0, 0, 0, 1, 1, 1};
  const BinaryRates r = rates_at(scores, labels, 0.5f);  // 0.5 itself is not > 0.5
  EXPECT_DOUBLE_EQ(r.sensitivity, 2.0 / 3.0);             // 0.9, 0.6 of 0.9, 0.3, 0.6
  EXPECT_DOUBLE_EQ(r.specificity, 2.0 / 3.0);             // 0.2, 0.5 of 0.2, 0.5, 0.7
  EXPECT_DOUBLE_EQ(r.accuracy, 4.0 / 6.0);
}

TEST(ThresholdForSensitivity, KeepsTheRequiredShareOfPositivesAbove) {
  const std::vector<float> scores{0.05f, 0.2f, 0.6f, 0.9f, 0.95f, 0.1f, 0.7f};
  const std::vector<int> labels{1, 1, 1, 1, 1, 0, 0};
  // 5 positives: 0.8 of them is 4, so the threshold sits just below 0.2.
  const float t80 = threshold_for_sensitivity(scores, labels, 0.8);
  EXPECT_LT(t80, 0.2f);
  EXPECT_GT(t80, 0.1f);
  EXPECT_DOUBLE_EQ(rates_at(scores, labels, t80).sensitivity, 0.8);
  EXPECT_DOUBLE_EQ(rates_at(scores, labels, t80).specificity, 0.5);
  // 0.98 of 5 rounds up to all 5.
  const float t98 = threshold_for_sensitivity(scores, labels, 0.98);
  EXPECT_DOUBLE_EQ(rates_at(scores, labels, t98).sensitivity, 1.0);
  EXPECT_LT(t98, 0.05f);
  EXPECT_EQ(threshold_for_sensitivity({0.3f}, {0}, 0.98), 0.5f);
}

}  // namespace
}  // namespace cxr::report

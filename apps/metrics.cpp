#include "apps/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

#include "engine/error.h"

namespace cxr::report {

namespace {

// Equal lengths, and no NaN score, as sklearn requires: NaN compares false with everything, so sorting by score
// and grouping equal scores would never end (a NaN weight made `evaluate` hang here).
void check_scores(const std::vector<float>& scores, const std::vector<int>& labels) {
  if (scores.size() != labels.size()) throw std::invalid_argument("scores and labels differ in length");
  const auto nan = std::find_if(scores.begin(), scores.end(), [](float s) { return std::isnan(s); });
  if (nan != scores.end())
    throw InputError("prediction " + std::to_string(nan - scores.begin()) + " of " + std::to_string(scores.size()) +
                     " is NaN: the model's outputs are not numbers (non-finite weights or inputs)");
}

// Indices sorted by descending score.
std::vector<size_t> by_descending_score(const std::vector<float>& scores) {
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  return order;
}

}  // namespace

double roc_auc(const std::vector<float>& scores, const std::vector<int>& labels) {
  check_scores(scores, labels);
  // Mann-Whitney U through ranks: O(n log n), ties get their average rank.
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  double positive_rank_sum = 0, positives = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j < order.size() && scores[order[j]] == scores[order[i]]) ++j;
    const double average_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
    for (size_t k = i; k < j; ++k)
      if (labels[order[k]] == 1) positive_rank_sum += average_rank, positives += 1;
    i = j;
  }
  const double negatives = static_cast<double>(scores.size()) - positives;
  if (positives == 0 || negatives == 0) return std::numeric_limits<double>::quiet_NaN();
  return (positive_rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives);
}

double average_precision(const std::vector<float>& scores, const std::vector<int>& labels) {
  check_scores(scores, labels);
  const double positives = static_cast<double>(std::count(labels.begin(), labels.end(), 1));
  if (positives == 0) return std::numeric_limits<double>::quiet_NaN();
  const std::vector<size_t> order = by_descending_score(scores);
  double true_positives = 0, predicted = 0, previous_recall = 0, ap = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;  // all samples sharing this score enter together, as one threshold
    for (; j < order.size() && scores[order[j]] == scores[order[i]]; ++j) {
      predicted += 1;
      true_positives += labels[order[j]] == 1;
    }
    const double recall = true_positives / positives, precision = true_positives / predicted;
    ap += (recall - previous_recall) * precision;
    previous_recall = recall;
    i = j;
  }
  return ap;
}

BinaryRates rates_at(const std::vector<float>& scores, const std::vector<int>& labels, float threshold) {
  check_scores(scores, labels);
  double tp = 0, fn = 0, tn = 0, fp = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    const bool predicted = scores[i] > threshold;
    if (labels[i] == 1) (predicted ? tp : fn) += 1;
    else (predicted ? fp : tn) += 1;
  }
  BinaryRates r;
  r.sensitivity = tp + fn > 0 ? tp / (tp + fn) : std::numeric_limits<double>::quiet_NaN();
  r.specificity = tn + fp > 0 ? tn / (tn + fp) : std::numeric_limits<double>::quiet_NaN();
  r.accuracy = scores.empty() ? 0.0 : (tp + tn) / static_cast<double>(scores.size());
  return r;
}

float threshold_for_sensitivity(const std::vector<float>& scores, const std::vector<int>& labels, double target) {
  check_scores(scores, labels);
  if (!(target > 0.0 && target <= 1.0)) throw std::invalid_argument("target sensitivity must be in (0, 1]");
  std::vector<float> positive_scores;
  for (size_t i = 0; i < scores.size(); ++i)
    if (labels[i] == 1) positive_scores.push_back(scores[i]);
  if (positive_scores.empty()) return 0.5f;
  std::sort(positive_scores.begin(), positive_scores.end());
  // Keep ceil(target * P) positives above the threshold: it must sit just below the score of the
  // lowest one kept.
  const size_t keep = static_cast<size_t>(std::ceil(target * static_cast<double>(positive_scores.size()) - 1e-9));
  if (keep == 0) return positive_scores.back();
  const float lowest_kept = positive_scores[positive_scores.size() - keep];
  return std::max(0.0f, std::nextafter(lowest_kept, -1.0f));
}

}  // namespace cxr::report

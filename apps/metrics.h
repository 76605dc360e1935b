// Screening metrics beyond accuracy: ROC-AUC, PR-AUC (average precision), sensitivity and
// specificity, and the threshold that reaches a target sensitivity. Labels are 0/1 (1 = PNEUMONIA,
// the positive class); scores are P(class 1).
#pragma once
#include <vector>

namespace cxr::report {

// Area under the ROC curve: the probability that a random positive outscores a random negative,
// ties counting half (equal to sklearn's roc_auc_score). NaN when a class is absent.
double roc_auc(const std::vector<float>& scores, const std::vector<int>& labels);

// Average precision as sklearn's average_precision_score computes it: sum over thresholds of
// (recall_k - recall_{k-1}) * precision_k, thresholds at every distinct score. NaN without positives.
double average_precision(const std::vector<float>& scores, const std::vector<int>& labels);

struct BinaryRates {
  double sensitivity = 0;  // recall of class 1 (PNEUMONIA): TP / (TP + FN)
  double specificity = 0;  // recall of class 0 (NORMAL): TN / (TN + FP)
  double accuracy = 0;
};
// Predictions are score > threshold (strict, Keras's binary_accuracy rule at 0.5).
BinaryRates rates_at(const std::vector<float>& scores, const std::vector<int>& labels, float threshold);

// The largest threshold t such that predicting score > t reaches `target` sensitivity on these
// data: the fewest false positives for that recall. Never below 0; 0.5 when there are no positives.
float threshold_for_sensitivity(const std::vector<float>& scores, const std::vector<int>& labels, double target);

}  // namespace cxr::report

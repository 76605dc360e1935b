#pragma once
// scikit-learn 1.2.1's confusion_matrix and classification_report, and numpy's printing of the
// matrix, reproduced byte for byte: the notebook's evaluation cells print exactly these.
// Standard library only, so the formatting can be tested without the engine.
#include <cstdint>
#include <string>
#include <vector>

namespace cxr::report {

// counts[t][p] = samples of true class t predicted as class p (sklearn's layout).
struct ConfusionMatrix {
  std::vector<std::vector<int64_t>> counts;

  std::size_t num_classes() const { return counts.size(); }
  friend bool operator==(const ConfusionMatrix&, const ConfusionMatrix&) = default;
};

// Labels are 0..K-1, as sklearn's confusion_matrix(y_true, y_pred, labels=range(K)).
// num_classes 0 means K = largest label + 1. Throws std::invalid_argument on a length mismatch,
// a negative label or a label >= num_classes.
ConfusionMatrix confusion_matrix(const std::vector<int>& y_true, const std::vector<int>& y_pred,
                                 int num_classes = 0);

// str(numpy array) of the matrix: "[[134 100]\n [  6 384]]", no trailing newline. Entries are
// right-aligned to the widest one and rows wrap at numpy's 75 columns. numpy abbreviates arrays
// of more than 1000 entries with "..."; that is not reproduced (K <= 31 prints exactly).
std::string format_confusion_matrix(const ConfusionMatrix& matrix);

// sklearn's classification_report(y_true, y_pred, labels=range(K), target_names, digits), the
// call the notebook makes, ending in '\n' as sklearn's string does (print() adds one more).
// Empty target_names means the labels' own names "0", "1", ...; otherwise there must be K.
// Precision/recall of a class nobody predicted/has is written 0.00 as sklearn's default
// zero_division="warn" does; the warning itself comes from undefined_metric_warnings().
// The bottom row is "accuracy" unless some class is absent from both y_true and y_pred, where
// sklearn (given labels) prints "micro avg" with all three values. Throws
// std::invalid_argument for an empty or non-square matrix or a wrong number of names.
std::string classification_report(const ConfusionMatrix& matrix,
                                  const std::vector<std::string>& target_names = {},
                                  int digits = 2);

// The distinct warnings sklearn emits on stderr for that report, in order, each as
// "UndefinedMetricWarning: <message>" (Python prints each distinct one once, after its source
// location). Empty when every class was both predicted and present. The report is a pure
// function; callers that mirror the notebook's stderr print these.
std::vector<std::string> undefined_metric_warnings(const ConfusionMatrix& matrix);

}  // namespace cxr::report

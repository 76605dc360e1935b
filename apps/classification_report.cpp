// Byte-exact sklearn/numpy output: the arithmetic follows sklearn 1.2.1's
// precision_recall_fscore_support operation by operation, because a different order of the
// same sums can move a value across a rounding boundary of the printed 2 digits.
#include "apps/classification_report.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace cxr::report {
namespace {

// numpy's float64 sum (pairwise_sum in loops_utils.h): plain below 8 items, 8 interleaved
// accumulators up to 128, halves above. sklearn's averages are np.mean/np.average of these.
double numpy_sum(const double* a, std::size_t n) {
  if (n < 8) {
    double sum = 0.;
    for (std::size_t i = 0; i < n; ++i) sum += a[i];
    return sum;
  }
  if (n <= 128) {
    double r[8];
    std::copy(a, a + 8, r);
    std::size_t i = 8;
    for (; i < n - n % 8; i += 8)
      for (int j = 0; j < 8; ++j) r[j] += a[i + j];
    double sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) sum += a[i];
    return sum;
  }
  std::size_t half = n / 2;
  half -= half % 8;
  return numpy_sum(a, half) + numpy_sum(a + half, n - half);
}

double numpy_sum(const std::vector<double>& v) { return numpy_sum(v.data(), v.size()); }

// _prf_divide: a zero denominator gives 0.0 (zero_division="warn").
double prf_divide(int64_t numerator, int64_t denominator) {
  return denominator == 0 ? 0.0 : double(numerator) / double(denominator);
}

// (1 + beta²)·p·r / (beta²·p + r) with beta = 1, evaluated left to right like numpy does.
double f1_score(double precision, double recall) {
  double denominator = precision + recall;
  if (denominator == 0.0) denominator = 1.0;
  return 2.0 * precision * recall / denominator;
}

struct ClassCounts {
  std::vector<int64_t> true_positives, predicted, actual;  // diagonal, column sums, row sums
};

ClassCounts count_classes(const ConfusionMatrix& m) {
  const std::size_t k = m.num_classes();
  if (k == 0) throw std::invalid_argument("classification_report: empty confusion matrix");
  ClassCounts c{std::vector<int64_t>(k), std::vector<int64_t>(k), std::vector<int64_t>(k)};
  for (std::size_t t = 0; t < k; ++t) {
    if (m.counts[t].size() != k)
      throw std::invalid_argument("classification_report: confusion matrix is not square");
    c.true_positives[t] = m.counts[t][t];
    for (std::size_t p = 0; p < k; ++p) {
      c.actual[t] += m.counts[t][p];
      c.predicted[p] += m.counts[t][p];
    }
  }
  return c;
}

int64_t total(const std::vector<int64_t>& v) {
  int64_t sum = 0;
  for (int64_t x : v) sum += x;
  return sum;
}

// Python pads by code points, not bytes: count UTF-8 lead bytes.
std::size_t code_points(const std::string& text) {
  std::size_t count = 0;
  for (unsigned char c : text) count += (c & 0xC0) != 0x80;
  return count;
}

// '{:>{width}s}'
std::string pad_left(const std::string& text, std::size_t width) {
  const std::size_t length = code_points(text);
  return std::string(width > length ? width - length : 0, ' ') + text;
}

// Python's '{:>9.2f}': glibc's printf rounds the exact binary value half-even, as Python does.
std::string fixed(double value, int digits, int width = 9) {
  std::string text(std::snprintf(nullptr, 0, "%*.*f", width, digits, value), '\0');
  std::snprintf(text.data(), text.size() + 1, "%*.*f", width, digits, value);
  return text;
}

std::string integer(int64_t value, int width = 9) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%*lld", width, static_cast<long long>(value));
  return buffer;
}

}  // namespace

ConfusionMatrix confusion_matrix(const std::vector<int>& y_true, const std::vector<int>& y_pred,
                                 int num_classes) {
  if (y_true.size() != y_pred.size())
    throw std::invalid_argument("confusion_matrix: y_true and y_pred differ in length");
  if (num_classes < 0) throw std::invalid_argument("confusion_matrix: negative num_classes");
  int k = num_classes;
  for (std::size_t i = 0; i < y_true.size(); ++i) {
    if (y_true[i] < 0 || y_pred[i] < 0)
      throw std::invalid_argument("confusion_matrix: negative label");
    if (num_classes == 0) k = std::max({k, y_true[i] + 1, y_pred[i] + 1});
    if (y_true[i] >= k || y_pred[i] >= k)
      throw std::invalid_argument("confusion_matrix: label >= num_classes");
  }
  ConfusionMatrix m{std::vector<std::vector<int64_t>>(k, std::vector<int64_t>(k, 0))};
  for (std::size_t i = 0; i < y_true.size(); ++i) ++m.counts[y_true[i]][y_pred[i]];
  return m;
}

// numpy's _formatArray for a 2-D integer array at linewidth 75: each row is a '[' ... ']'
// line indented by its depth, wrapped (and right-stripped) before an entry that would pass the
// width less the closing bracket.
std::string format_confusion_matrix(const ConfusionMatrix& matrix) {
  std::size_t entry_width = 0;  // IntegerFormat: the longest str() of max and min
  for (const auto& row : matrix.counts)
    for (int64_t v : row) entry_width = std::max(entry_width, std::to_string(v).size());
  const std::string indent = "  ";          // next_line_prefix " " plus one per '[' level
  const std::size_t wrap_width = 75 - 1 - 1;  // one ']' per level
  std::string text = "[";
  for (std::size_t r = 0; r < matrix.num_classes(); ++r) {
    const auto& row = matrix.counts[r];
    std::string wrapped, line = indent;
    for (std::size_t c = 0; c < row.size(); ++c) {
      const std::string word = integer(row[c], int(entry_width));
      if (line.size() + word.size() > wrap_width && line.size() > indent.size()) {
        wrapped += line.substr(0, line.find_last_not_of(' ') + 1) + "\n";
        line = indent;
      }
      line += word;
      if (c + 1 < row.size()) line += ' ';
    }
    text += (r > 0 ? " [" : "[") + (wrapped + line).substr(indent.size()) + "]";
    if (r + 1 < matrix.num_classes()) text += "\n";
  }
  return text + "]";
}

std::string classification_report(const ConfusionMatrix& matrix,
                                  const std::vector<std::string>& target_names, int digits) {
  const ClassCounts c = count_classes(matrix);
  const std::size_t k = matrix.num_classes();
  std::vector<std::string> names = target_names;
  if (names.empty())
    for (std::size_t i = 0; i < k; ++i) names.push_back(std::to_string(i));
  if (names.size() != k)
    throw std::invalid_argument("classification_report: need one target name per class");

  std::vector<double> precision(k), recall(k), f1(k);
  for (std::size_t i = 0; i < k; ++i) {
    precision[i] = prf_divide(c.true_positives[i], c.predicted[i]);
    recall[i] = prf_divide(c.true_positives[i], c.actual[i]);
    f1[i] = f1_score(precision[i], recall[i]);
  }

  // The name column fits the longest name, "weighted avg" and, oddly, the digit count.
  std::size_t width = std::max<std::size_t>(code_points("weighted avg"), std::max(digits, 0));
  for (const std::string& name : names) width = std::max(width, code_points(name));

  // Every row is '{:>{width}s} ' then one ' {:>9...}' cell per column.
  auto row = [&](const std::string& heading, double p, double r, double f, int64_t support) {
    return pad_left(heading, width) + " " + " " + fixed(p, digits) + " " + fixed(r, digits) +
           " " + fixed(f, digits) + " " + integer(support) + "\n";
  };
  const std::string blank_cell = " " + pad_left("", 9);
  std::string report = pad_left("", width) + " ";
  for (const char* header : {"precision", "recall", "f1-score", "support"})
    report += " " + pad_left(header, 9);
  report += "\n\n";
  for (std::size_t i = 0; i < k; ++i)
    report += row(names[i], precision[i], recall[i], f1[i], c.actual[i]);
  report += "\n";

  // micro: one pooled ratio. It is the accuracy when every label occurs in y_true or y_pred.
  const int64_t support = total(c.actual);
  const double micro_p = prf_divide(total(c.true_positives), total(c.predicted));
  const double micro_r = prf_divide(total(c.true_positives), support);
  bool every_label_seen = true;
  for (std::size_t i = 0; i < k; ++i) every_label_seen &= c.actual[i] + c.predicted[i] > 0;
  if (every_label_seen)
    report += pad_left("accuracy", width) + " " + blank_cell + blank_cell + " " +
              fixed(f1_score(micro_p, micro_r), digits) + " " + integer(support) + "\n";
  else
    report += row("micro avg", micro_p, micro_r, f1_score(micro_p, micro_r), support);

  // macro: np.mean; weighted: np.average(weights=support) = sum(v·w) / sum(w).
  const double classes = double(k);
  report += row("macro avg", numpy_sum(precision) / classes, numpy_sum(recall) / classes,
                numpy_sum(f1) / classes, support);
  std::vector<double> weights(k);
  for (std::size_t i = 0; i < k; ++i) weights[i] = double(c.actual[i]);
  const double weight_sum = numpy_sum(weights);
  auto weighted = [&](const std::vector<double>& v) {
    if (weight_sum == 0.0) return 0.0;  // sklearn's zero_division value for "weighted"
    std::vector<double> products(k);
    for (std::size_t i = 0; i < k; ++i) products[i] = v[i] * weights[i];
    return numpy_sum(products) / weight_sum;
  };
  report += row("weighted avg", weighted(precision), weighted(recall), weighted(f1), support);
  return report;
}

std::vector<std::string> undefined_metric_warnings(const ConfusionMatrix& matrix) {
  const ClassCounts c = count_classes(matrix);
  const std::size_t k = matrix.num_classes();
  std::vector<std::string> warnings;
  auto warn = [&](const std::string& metric, const std::string& modifier, std::size_t size) {
    std::string message = "UndefinedMetricWarning: " + metric +
                          " and F-score are ill-defined and being set to 0.0 " +
                          (size == 1 ? "due to" : "in labels with") + " no " + modifier +
                          " samples. Use `zero_division` parameter to control this behavior.";
    if (std::find(warnings.begin(), warnings.end(), message) == warnings.end())
      warnings.push_back(message);
  };
  // sklearn runs precision_recall_fscore_support for the per-class rows, then micro, macro and
  // weighted; each divides precision first, then recall, warning on any zero denominator.
  auto any_zero = [](const std::vector<int64_t>& v) {
    return std::find(v.begin(), v.end(), 0) != v.end();
  };
  for (const std::string average : {"none", "micro", "macro", "weighted"}) {
    // micro pools the counts into one ratio; the others divide per class.
    const bool micro = average == "micro";
    const std::size_t size = micro ? 1 : k;
    if (micro ? total(c.predicted) == 0 : any_zero(c.predicted))
      warn("Precision", "predicted", size);
    if (micro ? total(c.actual) == 0 : any_zero(c.actual)) warn("Recall", "true", size);
  }
  return warnings;
}

}  // namespace cxr::report

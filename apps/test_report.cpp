#include "apps/test_report.h"

#include <iomanip>
#include <ostream>
#include <sstream>

#include "apps/classification_report.h"
#include "apps/metrics.h"

namespace cxr {

std::string test_report(const Evaluation& test, const Evaluation* validation,
                        const std::vector<std::string>& class_names, const TestReportOptions& options,
                        std::ostream& log) {
  std::vector<int> predicted;
  for (float p : test.probabilities) predicted.push_back(p > 0.5f ? 1 : 0);  // Keras's threshold, strict
  const auto cm = report::confusion_matrix(test.labels, predicted, static_cast<int>(class_names.size()));
  for (const std::string& warning : report::undefined_metric_warnings(cm)) log << warning << "\n";  // as sklearn warns
  int64_t correct = 0;
  for (size_t i = 0; i < predicted.size(); ++i) correct += predicted[i] == test.labels[i];

  std::ostringstream s;
  s << std::fixed << std::setprecision(4);
  s << "Test accuracy: " << test.accuracy << " (" << correct << "/" << predicted.size() << "), test loss: " << test.loss
    << "\n"
    << "Confusion matrix (rows: true, columns: predicted; " << class_names[0] << ", " << class_names[1] << "):\n"
    << report::format_confusion_matrix(cm) << "\n"
    << "====The classification report====\n"
    << report::classification_report(cm, class_names) << "\n";

  const report::BinaryRates at_half = report::rates_at(test.probabilities, test.labels, 0.5f);
  s << "Screening (positive class " << class_names[1] << "):\n"
    << "  ROC-AUC " << report::roc_auc(test.probabilities, test.labels) << ", PR-AUC (average precision) "
    << report::average_precision(test.probabilities, test.labels) << "\n"
    << "  at threshold 0.5000: sensitivity " << at_half.sensitivity << ", specificity " << at_half.specificity
    << ", accuracy " << at_half.accuracy << "\n";
  if (validation && !validation->labels.empty()) {
    const float t = report::threshold_for_sensitivity(validation->probabilities, validation->labels,
                                                      options.target_sensitivity);
    const report::BinaryRates r = report::rates_at(test.probabilities, test.labels, t);
    s << "  at threshold " << t << " (chosen on validation for sensitivity >= " << options.target_sensitivity
      << "): sensitivity " << r.sensitivity << ", specificity " << r.specificity << ", accuracy " << r.accuracy
      << "\n";
  }
  return s.str();
}

}  // namespace cxr

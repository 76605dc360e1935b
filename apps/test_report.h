// The report printed after training and saved as test_report.txt: accuracy, the confusion matrix
// and scikit-learn's classification report as the notebook printed them, then the screening view
// (sensitivity, specificity, ROC-AUC, PR-AUC), also at a threshold chosen on the validation set to
// reach a target sensitivity (a missed pneumonia costs more than a false alarm).
#pragma once
#include <iosfwd>
#include <string>
#include <vector>

#include "apps/trainer.h"

namespace cxr {

struct TestReportOptions {
  double target_sensitivity = 0.98;
};

// `validation` may be null (no validation split): then no threshold is chosen. sklearn's
// UndefinedMetricWarnings go to `log`.
std::string test_report(const Evaluation& test, const Evaluation* validation,
                        const std::vector<std::string>& class_names, const TestReportOptions& options,
                        std::ostream& log);

}  // namespace cxr

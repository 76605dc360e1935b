// The 2021 notebook's published results, in one place: what `cxrnet reproduce` compares against.
// Source: the notebook's write-up, /work/shared/seed/000_d7a0f0e2c00b444a.txt (its
// accuracy_score and classification_report cells; 596 test images: 206 NORMAL, 390 PNEUMONIA).
#pragma once
#include <string>
#include <vector>

namespace cxr {

// One row of sklearn's classification report as the notebook printed it (two decimals).
struct PublishedClassRow {
  double precision = 0, recall = 0, f1 = 0;
  int support = 0;
};

struct NotebookResult {
  int experiment = 0;        // configs/experiment<N>.yaml
  std::string description;   // the model, in a few words
  int epochs = 0;            // the run the accuracy belongs to
  double test_accuracy = 0;  // accuracy_score as printed, all digits
  PublishedClassRow normal, pneumonia;  // class 0 and class 1 rows
  // Anything a reader must know to compare (an earlier run, a typo in the prose).
  std::string note;

  double sensitivity() const { return pneumonia.recall; }  // recall of PNEUMONIA
  double specificity() const { return normal.recall; }     // recall of NORMAL
};

// Experiments 1 to 4, in order.
const std::vector<NotebookResult>& notebook_results();
// Throws std::out_of_range for an experiment the notebook did not run.
const NotebookResult& notebook_result(int experiment);

}  // namespace cxr

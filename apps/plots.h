// PNG plots of a run, drawn by gnuplot (Debian's gnuplot-nox): loss and accuracy curves from
// history.csv, the confusion-matrix heatmap, and the ROC curve. The data files and the gnuplot
// script are always written to RUN/plots/, so plots can be redrawn or restyled later; when gnuplot
// is missing the run still succeeds and says how to get them.
#pragma once
#include "apps/interrupt.h"
#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

namespace cxr {


struct PlotInputs {
  std::filesystem::path run_dir;  // holds history.csv
  std::vector<float> test_probabilities;
  std::vector<int> test_labels;
  std::vector<std::string> class_names;
  bool has_validation = false;
  // Where the plots end up, for the log's lines, when run_dir is a staging folder moved there afterwards
  // (evaluate's); empty: run_dir.
  std::filesystem::path final_dir = {};
};

// Returns true when the PNGs were drawn. A file it cannot write is an InputError naming it; a gnuplot that
// fails is a note in `log` (its PNGs missing or cut short removed); a gnuplot stopped by SIGINT or SIGTERM
// throws Interrupted.
bool write_plots(const PlotInputs& inputs, std::ostream& log);

// The ROC curve's points (false positive rate, true positive rate), from (0,0) to (1,1), one per
// distinct score.
std::vector<std::pair<double, double>> roc_points(const std::vector<float>& scores, const std::vector<int>& labels);

}  // namespace cxr

#include "apps/reproduce_report.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "apps/metrics.h"
#include "apps/notebook_results.h"
#include "apps/run_folder.h"

namespace cxr {

namespace fs = std::filesystem;

namespace {

std::vector<YAML::Node> layer_nodes(const ExperimentConfig& config) {
  std::vector<YAML::Node> layers;
  const YAML::Node list = config.model.yaml()["layers"];
  if (list && list.IsSequence())
    for (const YAML::Node& layer : list) layers.push_back(layer);
  return layers;
}

bool is_resnet(const YAML::Node& layer) {
  return layer.IsMap() && layer["type"] && layer["type"].IsScalar() && layer["type"].Scalar() == "ResNet50V2";
}

std::string percent(double fraction) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(1) << 100 * fraction << "%";
  return s.str();
}

std::string fixed(double value, int digits) {
  if (std::isnan(value)) return "n/a";
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << value;
  return s.str();
}

std::string duration(double seconds) {
  std::ostringstream s;
  const long total = std::lround(seconds);
  if (seconds < 60) s << std::fixed << std::setprecision(1) << seconds << " s";
  else if (total < 3600) s << total / 60 << " min " << total % 60 << " s";
  else s << total / 3600 << " h " << std::setw(2) << std::setfill('0') << (total % 3600) / 60 << " min";
  return s.str();
}

std::string relative_link(const std::string& path, const fs::path& base) {
  const fs::path rel = fs::path(path).lexically_proximate(base);
  return rel.string();
}

size_t count_split(const std::string& run_dir, const std::string& split) {
  std::ifstream f(fs::path(run_dir) / "split.csv");
  std::ostringstream text;
  text << f.rdbuf();
  size_t n = 0;
  for (const ManifestRow& row : parse_split_manifest(text.str(), run_dir + "/split.csv")) n += row.split == split;
  return n;
}

// Notes that decide whether a row can be compared at all.
std::string row_note(const ReproducedExperiment& e, const NotebookResult* notebook) {
  std::vector<std::string> notes;
  if (e.finished && has_random_resnet(e.result.config))
    notes.push_back("ResNet50V2 randomly initialised: the ImageNet weights are not installed (`weights: none`; see "
                    "configs/experiment4.yaml), so this is not the notebook's transfer learning");
  if (notebook && !notebook->note.empty()) notes.push_back("notebook: " + notebook->note);
  std::string out;
  for (const std::string& n : notes) out += (out.empty() ? "" : "; ") + n;
  return out;
}

}  // namespace

void make_quick(ExperimentConfig& config) {
  config.train.epochs = std::min(config.train.epochs, kQuickEpochs);
  bool resnet = false;
  for (const YAML::Node& layer : layer_nodes(config)) resnet = resnet || is_resnet(layer);
  const int size = resnet ? 32 : 50;
  config.data.image_height = std::min(config.data.image_height, size);
  config.data.image_width = std::min(config.data.image_width, size);
  if (resnet) config.data.image_height = config.data.image_width = size;

  // Edited in place (a YAML::Node is a handle): a copy (YAML::Clone) loses every node's position in the
  // file, and a config error in the quick run then pointed at line 1, column 1.
  YAML::Node model = config.model.yaml();
  YAML::Node input(YAML::NodeType::Sequence);
  input.push_back(config.data.image_height);
  input.push_back(config.data.image_width);
  input.push_back(model["input"][2].as<int>());
  input.SetStyle(YAML::EmitterStyle::Flow);
  model["input"] = input;
}

bool has_random_resnet(const ExperimentConfig& config) {
  for (const YAML::Node& layer : layer_nodes(config)) {
    if (!is_resnet(layer)) continue;
    const YAML::Node weights = layer["weights"];
    if (!weights || weights.IsNull() || (weights.IsScalar() && weights.Scalar() == "none")) return true;
  }
  return false;
}

std::string reproduce_report(const ReproduceSummary& summary) {
  std::ostringstream s;
  s << "# cxrnet reproduces the notebook\n\n";
  if (summary.quick)
    s << "> **Quick run: these numbers are NOT comparable to the notebook.** Each experiment trained for at most "
      << kQuickEpochs << " epochs (the notebook: 40 to 300) on smaller images (experiment 3 at 50x50 instead of "
         "128x128, experiment 4 at 32x32 instead of 50x50). It only shows that every experiment runs end to end; "
         "run `cxrnet reproduce` without `--quick` on the real data to compare.\n\n";
  if (summary.synthetic)
    s << "> **Synthetic images** (`cxrnet synth --small`), not the Kermany chest X-rays the notebook used: the "
         "notebook's numbers cannot be compared with these.\n\n";
  s << "Data: " << summary.data << ". Device: " << summary.device << ".\n"
    << "Notebook numbers: its printed `accuracy_score` and `classification_report` (596 test images), kept in "
       "`apps/notebook_results.cpp`. Sensitivity is the recall of PNEUMONIA, specificity the recall of NORMAL, "
       "both at the notebook's threshold 0.5; ROC-AUC and PR-AUC (average precision) are cxrnet's only (the "
       "notebook did not compute them).\n\n";

  s << "| Experiment | Test accuracy: notebook | cxrnet | Sensitivity: cxrnet (notebook) | Specificity: cxrnet "
       "(notebook) | ROC-AUC | PR-AUC | Epochs: cxrnet (notebook) | Time | Notes |\n"
    << "|---|---|---|---|---|---|---|---|---|---|\n";
  for (const ReproducedExperiment& e : summary.experiments) {
    const NotebookResult* nb = nullptr;
    for (const NotebookResult& r : notebook_results())
      if (r.experiment == e.experiment) nb = &r;
    s << "| " << e.experiment << (nb ? ": " + nb->description : std::string()) << " | "
      << (nb ? percent(nb->test_accuracy) + " (" + std::to_string(nb->epochs) + " epochs)" : "-") << " | ";
    if (!e.finished) {
      s << "- | - | - | - | - | - | - | " << (e.failure.empty() ? "not run" : "failed: " + e.failure) << " |\n";
      continue;
    }
    const Evaluation& t = e.result.test;
    const report::BinaryRates rates = report::rates_at(t.probabilities, t.labels, 0.5f);
    const long correct = std::lround(t.accuracy * static_cast<double>(t.labels.size()));
    s << percent(t.accuracy) << " (" << correct << "/" << t.labels.size() << ") | " << fixed(rates.sensitivity, 3)
      << (nb ? " (" + fixed(nb->sensitivity(), 2) + ")" : std::string()) << " | " << fixed(rates.specificity, 3)
      << (nb ? " (" + fixed(nb->specificity(), 2) + ")" : std::string()) << " | "
      << fixed(report::roc_auc(t.probabilities, t.labels), 3) << " | "
      << fixed(report::average_precision(t.probabilities, t.labels), 3) << " | " << e.result.epochs_run
      << (nb ? " (" + std::to_string(nb->epochs) + ")" : std::string()) << " | " << duration(e.result.seconds)
      << " | " << row_note(e, nb) << " |\n";
  }

  for (const ReproducedExperiment& e : summary.experiments) {
    const NotebookResult* nb = nullptr;
    for (const NotebookResult& r : notebook_results())
      if (r.experiment == e.experiment) nb = &r;
    s << "\n## Experiment " << e.experiment << (nb ? ": " + nb->description : std::string()) << "\n\n";
    if (!e.finished) {
      s << "Config `" << e.config_path << "`: " << (e.failure.empty() ? "not run yet." : "failed: " + e.failure)
        << "\n";
      continue;
    }
    const RunResult& r = e.result;
    const std::string run = relative_link(r.run_dir, summary.out_dir);
    s << "Config `" << e.config_path << "` at " << r.config.data.image_height << "x" << r.config.data.image_width
      << "; run folder [`" << run << "/`](" << run << "/); " << count_split(r.run_dir, "train") << " train, "
      << (r.has_validation ? std::to_string(r.validation.labels.size()) + " validation, " : std::string())
      << r.test.labels.size() << " test images; " << r.epochs_run << " epochs in " << duration(r.seconds)
      << " (training " << duration(r.train_seconds) << ").\n\n";
    bool any_plot = false;
    for (const char* plot : {"loss", "accuracy", "roc", "confusion_matrix"}) {
      const fs::path png = fs::path(r.run_dir) / "plots" / (std::string(plot) + ".png");
      if (!fs::exists(png)) continue;
      s << "![" << plot << "](" << run << "/plots/" << plot << ".png) ";
      any_plot = true;
    }
    s << (any_plot ? "\n\n" : "No plots were drawn (gnuplot missing); their data and script are in `" + run +
                                  "/plots/`.\n\n");
    if (nb) {
      s << "The notebook (" << nb->epochs << " epochs): accuracy " << percent(nb->test_accuracy) << " ("
        << std::setprecision(16) << nb->test_accuracy << ").\n\n"
        << "| notebook | precision | recall | f1-score | support |\n|---|---|---|---|---|\n";
      const std::string normal = r.class_names.size() == 2 ? r.class_names[0] : "0";
      const std::string pneumonia = r.class_names.size() == 2 ? r.class_names[1] : "1";
      for (const auto& [name, row] : {std::pair{normal, nb->normal}, std::pair{pneumonia, nb->pneumonia}})
        s << "| " << name << " | " << fixed(row.precision, 2) << " | " << fixed(row.recall, 2) << " | "
          << fixed(row.f1, 2) << " | " << row.support << " |\n";
      if (!nb->note.empty()) s << "\nNote: " << nb->note << ".\n";
      s << "\n";
    }
    s << "cxrnet's test report (`" << run << "/test_report.txt`):\n\n```text\n" << r.test_report << "```\n";
  }
  return s.str();
}

}  // namespace cxr

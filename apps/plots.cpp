#include "apps/plots.h"

#include <pthread.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <numeric>
#include <ostream>

#include "apps/classification_report.h"
#include "apps/text_file.h"
#include "engine/error.h"

namespace cxr {

namespace fs = std::filesystem;

std::vector<std::pair<double, double>> roc_points(const std::vector<float>& scores, const std::vector<int>& labels) {
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  const double positives = static_cast<double>(std::count(labels.begin(), labels.end(), 1));
  const double negatives = static_cast<double>(labels.size()) - positives;
  std::vector<std::pair<double, double>> points{{0.0, 0.0}};
  double tp = 0, fp = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    for (; j < order.size() && scores[order[j]] == scores[order[i]]; ++j) (labels[order[j]] == 1 ? tp : fp) += 1;
    points.push_back({negatives > 0 ? fp / negatives : 0.0, positives > 0 ? tp / positives : 0.0});
    i = j;
  }
  return points;
}

namespace {

constexpr const char* kPngs[] = {"loss.png", "accuracy.png", "roc.png", "confusion_matrix.png"};

// Whether `path` is a whole PNG: gnuplot exits 0 even when the disk filled while it wrote one, leaving
// it cut short. A PNG ends with its IEND chunk (length 0, type, CRC).
bool is_whole_png(const fs::path& path) {
  static const std::string kEnd("\0\0\0\0IEND\xAE\x42\x60\x82", 12);
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f || f.tellg() < 8 + static_cast<std::streamoff>(kEnd.size())) return false;
  std::string head(8, '\0'), tail(kEnd.size(), '\0');
  f.seekg(0);
  f.read(head.data(), 8);
  f.seekg(-static_cast<std::streamoff>(kEnd.size()), std::ios::end);
  f.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  return f && head == "\x89PNG\r\n\x1a\n" && tail == kEnd;
}

// The signal that stopped gnuplot when it was SIGINT or SIGTERM (a terminal's Ctrl-C reaches it
// directly), else 0; an exit status of 128 + the signal counts too, as a shell would report it.
int interrupting_signal(int status) {
  const int signal = WIFSIGNALED(status) ? WTERMSIG(status) : WIFEXITED(status) ? WEXITSTATUS(status) - 128 : 0;
  return signal == SIGINT || signal == SIGTERM ? signal : 0;
}

// gnuplot's process while it runs, and the SIGINT or SIGTERM this process took meanwhile.
volatile sig_atomic_t g_gnuplot = 0;
volatile sig_atomic_t g_caught = 0;
void pass_on_to_gnuplot(int signal) {
  g_caught = signal;
  if (g_gnuplot > 0) ::kill(static_cast<pid_t>(g_gnuplot), signal);
}

// Runs `gnuplot plots.gp` in `dir`: its wait status (127 when it could not start), and in `caught` the
// SIGINT or SIGTERM this process received while it ran (0: none). Not std::system, which ignores SIGINT
// here while the child runs: a SIGINT sent to cxrnet alone (kill -INT, timeout -s INT; a terminal's
// Ctrl-C reaches the whole process group) was lost and the command went on. Here both signals are
// passed on to gnuplot, and the command stops as when they reach gnuplot directly.
int run_gnuplot(const fs::path& dir, int& caught) {
  sigset_t stop_signals, old_mask;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  // Held back on this thread until the handler knows gnuplot's pid; another thread that takes one
  // meanwhile leaves it in g_caught, passed on as soon as gnuplot exists.
  pthread_sigmask(SIG_BLOCK, &stop_signals, &old_mask);
  struct sigaction pass_on {}, old_int{}, old_term{};
  pass_on.sa_handler = pass_on_to_gnuplot;
  sigemptyset(&pass_on.sa_mask);
  g_caught = 0;
  sigaction(SIGINT, &pass_on, &old_int);
  sigaction(SIGTERM, &pass_on, &old_term);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addchdir_np(&actions, dir.c_str());
  posix_spawnattr_t attributes;  // gnuplot starts with the default handlers and this thread's old mask
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setsigdefault(&attributes, &stop_signals);
  posix_spawnattr_setsigmask(&attributes, &old_mask);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  char gnuplot[] = "gnuplot", script[] = "plots.gp";
  char* argv[] = {gnuplot, script, nullptr};
  pid_t pid = 0;
  int status = 127 << 8;  // as a shell reports a command it could not run
  if (posix_spawnp(&pid, "gnuplot", &actions, &attributes, argv, environ) == 0) {
    g_gnuplot = pid;
    if (g_caught) ::kill(pid, g_caught);
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    g_gnuplot = 0;
  }
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  caught = g_caught;
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  return status;
}

// gnuplot's script: four PNGs from history.csv (one folder up), roc.dat and confusion.dat.
// A gnuplot single-quoted string: a quote inside is written twice.
std::string quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string gnuplot_script(const PlotInputs& in) {
  const std::string normal = quoted(in.class_names.at(0)), pneumonia = quoted(in.class_names.at(1));
  std::string s =
      "# Drawn by cxrnet; rerun with: gnuplot plots.gp (in this folder)\n"
      "set terminal pngcairo size 800,560 noenhanced font ',11'\n"
      "set datafile separator ','\n"
      "set key autotitle columnhead\n"
      "set grid\n"
      "set xlabel 'epoch'\n"
      // From 0: a one-epoch run's single x (and a lone loss) is not an empty range gnuplot warns about.
      "set xrange [0:*]\n"
      "set yrange [0:*]\n"
      "set output 'loss.png'\n"
      "set title 'Loss (binary cross-entropy)'\n";
  s += in.has_validation ? "plot '../history.csv' using 1:2 with linespoints title 'train', '' using 1:4 with "
                           "linespoints title 'validation'\n"
                         : "plot '../history.csv' using 1:2 with linespoints title 'train'\n";
  s += "set output 'accuracy.png'\nset title 'Binary accuracy'\nset yrange [0:1]\n";
  s += in.has_validation ? "plot '../history.csv' using 1:3 with linespoints title 'train', '' using 1:5 with "
                           "linespoints title 'validation'\n"
                         : "plot '../history.csv' using 1:3 with linespoints title 'train'\n";
  s += "unset key\nset datafile separator whitespace\n"
       "set output 'roc.png'\nset title 'ROC curve (test)'\nset size square\n"
       "set xlabel 'false positive rate (1 - specificity)'\nset ylabel 'true positive rate (sensitivity)'\n"
       "set xrange [0:1]\nset yrange [0:1]\n"
       "plot 'roc.dat' using 1:2 with lines lw 2, x with lines dashtype 2 lc 'grey'\n"
       "set output 'confusion_matrix.png'\nset title 'Confusion matrix (test)'\nunset grid\n"
       "set xlabel 'Prediction'\nset ylabel 'True'\n"
       "set xrange [-0.5:1.5]\nset yrange [1.5:-0.5]\nset cbrange [0:*]\n"
       "set xtics (" + normal + " 0, " + pneumonia + " 1)\n"
       "set ytics (" + normal + " 0, " + pneumonia + " 1)\n"
       "set palette defined (0 '#f7fbff', 1 '#08306b')\n"
       "set style fill solid 1.0 noborder\n"
       "plot 'confusion.dat' using 1:2:(0.5):(0.5):3 with boxxyerror fc palette, '' using 1:2:(sprintf('%d', $3)) "
       "with labels font ',16' tc 'orange'\n";
  return s;
}

}  // namespace

bool write_plots(const PlotInputs& in, std::ostream& log) {
  const fs::path dir = in.run_dir / "plots";
  const fs::path shown = (in.final_dir.empty() ? in.run_dir : in.final_dir) / "plots";  // in the log
  std::error_code ec;
  fs::create_directories(dir, ec);
  CXR_CHECK(!ec, "cannot create folder " << dir.string() << ": " << ec.message());
  std::string roc;
  for (const auto& [fpr, tpr] : roc_points(in.test_probabilities, in.test_labels))
    roc += std::to_string(fpr) + " " + std::to_string(tpr) + "\n";
  write_text_file(dir / "roc.dat", roc);
  std::vector<int> predicted;
  for (float p : in.test_probabilities) predicted.push_back(p > 0.5f ? 1 : 0);
  const auto cm = report::confusion_matrix(in.test_labels, predicted, 2);
  std::string confusion;  // x = predicted, y = true, count
  for (int t = 0; t < 2; ++t)
    for (int p = 0; p < 2; ++p)
      confusion += std::to_string(p) + " " + std::to_string(t) + " " + std::to_string(cm.counts[t][p]) + "\n";
  write_text_file(dir / "confusion.dat", confusion);
  write_text_file(dir / "plots.gp", gnuplot_script(in));

  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
    log << "plots: gnuplot not found; install it (apt-get install gnuplot-nox) and run `gnuplot plots.gp` in "
        << shown.string() << "\n";
    return false;
  }
  int caught = 0;
  const int status = run_gnuplot(dir, caught);
  std::string incomplete;  // PNGs missing or cut short: removed, as the run's other files are never half-written
  for (const char* png : kPngs) {
    if (is_whole_png(dir / png)) continue;
    fs::remove(dir / png, ec);
    incomplete += (incomplete.empty() ? "" : ", ") + std::string(png);
  }
  if (const int signal = caught ? caught : interrupting_signal(status))
    throw Interrupted("interrupted: gnuplot was stopped by " + std::string(signal == SIGINT ? "SIGINT" : "SIGTERM") +
                          " while it drew the plots in " + shown.string(),
                      signal);
  if (status != 0 || !incomplete.empty()) {
    log << "plots: gnuplot failed";
    if (status == 0) log << " (" << incomplete << " not written whole: disk full?)";  // though it exited 0
    log << "; the script is " << (shown / "plots.gp").string() << "\n";
    return false;
  }
  return true;
}

}  // namespace cxr

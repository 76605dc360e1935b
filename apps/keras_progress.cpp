// Each piece mirrors one format string of keras 2.8.0 Progbar.update / _format_time. Python's
// '%.0f', '%.4f' and '%.4e' round the exact binary value half-even, as glibc's printf does.
#include "apps/keras_progress.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <stdexcept>

namespace cxr::report {
namespace {

constexpr int kBarWidth = 30;

// Sized to fit: '%.4f' of a huge loss runs to hundreds of digits.
template <typename... Args>
std::string printf_string(const char* format, Args... args) {
  std::string text(std::snprintf(nullptr, 0, format, args...), '\0');
  std::snprintf(text.data(), text.size() + 1, format, args...);
  return text;
}

// Python's '%d' of a float: int() truncates toward zero.
long long python_int(double value) { return static_cast<long long>(std::trunc(value)); }

// '%Nd/%d [' + '=' * (w - 1) + ('>' or '=') + '.' * (30 - w) + ']', w = int(30 * current/target).
std::string bar(double current, double target) {
  // Keras fails here too (int(np.log10(0)) raises); a step count is never <= 0.
  if (!(target > 0)) throw std::invalid_argument("progress bar: target must be > 0");
  const int digits = static_cast<int>(std::log10(target)) + 1;  // int(np.log10(target)) + 1
  std::string text = printf_string("%*lld/%lld [", digits, python_int(current), python_int(target));
  const int filled = static_cast<int>(kBarWidth * (current / target));
  if (filled > 0) {
    text += std::string(filled - 1, '=');
    text += current < target ? '>' : '=';
  }
  if (filled < kBarWidth) text += std::string(kBarWidth - filled, '.');
  return text + "]";
}

// _format_time(time_per_unit, 'step')
std::string per_step(double seconds) {
  if (seconds >= 1 || seconds == 0) return printf_string(" %.0fs/step", seconds);
  if (seconds >= 1e-3) return printf_string(" %.0fms/step", seconds * 1e3);
  return printf_string(" %.0fus/step", seconds * 1e6);
}

// CPython's float % and // (float_rem, _float_div_mod), for the ETA's h:mm:ss.
double python_mod(double value, double divisor) {
  const double mod = std::fmod(value, divisor);
  if (mod == 0) return std::copysign(0.0, divisor);
  return (divisor < 0) != (mod < 0) ? mod + divisor : mod;
}

double python_floordiv(double value, double divisor) {
  const double mod = std::fmod(value, divisor);
  double quotient = (value - mod) / divisor;
  if (mod != 0 && (divisor < 0) != (mod < 0)) quotient -= 1.0;
  if (quotient == 0) return std::copysign(0.0, value / divisor);
  const double floored = std::floor(quotient);
  return quotient - floored > 0.5 ? floored + 1.0 : floored;
}

std::string eta(double seconds) {
  if (seconds > 3600)
    return printf_string("%lld:%02lld:%02lld", python_int(python_floordiv(seconds, 3600)),
                         python_int(python_floordiv(python_mod(seconds, 3600), 60)),
                         python_int(python_mod(seconds, 60)));
  if (seconds > 60)
    return printf_string("%lld:%02lld", python_int(python_floordiv(seconds, 60)),
                         python_int(python_mod(seconds, 60)));
  return printf_string("%llds", python_int(seconds));
}

std::string metric_values(const Metrics& metrics) {
  std::string text;
  for (const auto& [name, value] : metrics) {
    text += " - " + name + ":";
    if (std::isnan(value))
      text += " nan";  // Python never writes glibc's "-nan"
    else
      text += printf_string(std::abs(value) > 1e-3 ? " %.4f" : " %.4e", value);
  }
  return text;
}

}  // namespace

std::string format_epoch_header(int epoch, int epochs) {
  return "Epoch " + std::to_string(epoch) + "/" + std::to_string(epochs);
}

std::string format_epoch_line(double steps_target, double seconds_total, double seconds_per_step,
                              const Metrics& metrics) {
  return bar(steps_target, steps_target) + printf_string(" - %.0fs", seconds_total) +
         per_step(seconds_per_step) + metric_values(metrics);
}

double keras_seconds_per_step(double steps_target, double seconds_total, double seconds_after_first_step) {
  if (!(steps_target > 0)) throw std::invalid_argument("keras_seconds_per_step: steps_target must be positive");
  return steps_target > 1 ? seconds_after_first_step / (steps_target - 1) : seconds_total / steps_target;
}

std::string format_progress_bar(int current, double target, double eta_seconds,
                                const Metrics& metrics) {
  return bar(current, target) + " - ETA: " + eta(eta_seconds) + metric_values(metrics);
}

std::string ProgressLine::update(const std::string& line, bool finalize) {
  std::string message = std::string(previous_width_, '\b') + "\r" + line;
  if (previous_width_ > line.size()) message += std::string(previous_width_ - line.size(), ' ');
  previous_width_ = finalize ? 0 : line.size();
  if (finalize) message += "\n";
  return message;
}

bool LiveProgressBar::due(int step, double seconds) {
  if (step == 1) first_step_ = seconds;
  return step < target_ && (last_draw_ < 0 || seconds - last_draw_ >= interval_);
}

std::string LiveProgressBar::draw(int step, double seconds, const Metrics& metrics) {
  last_draw_ = seconds;
  const double per_step = step > 1 && first_step_ >= 0 ? (seconds - first_step_) / (step - 1) : seconds / step;
  return line_.update(format_progress_bar(step, target_, per_step * (target_ - step), metrics), false);
}

std::string LiveProgressBar::finish(const std::string& epoch_line) {
  last_draw_ = first_step_ = -1;
  return line_.update(epoch_line, true);
}

}  // namespace cxr::report

#pragma once
// The progress output of keras 2.8.0's model.fit (ProgbarLogger + utils/generic_utils.py
// Progbar, verbose=1), reproduced byte for byte so training logs read like the notebook's.
// Standard library only.
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace cxr::report {

// (name, value) in display order, e.g. {"loss", 0.36}, {"binary_accuracy", 0.84}. Values are
// shown as given (Keras's stateful metrics); averaging over the epoch is the caller's job.
using Metrics = std::vector<std::pair<std::string, double>>;

// "Epoch 3/300". Keras prints it before each epoch, and only when epochs > 1.
std::string format_epoch_header(int epoch /* 1-based */, int epochs);

// The finalized line at the end of an epoch, e.g.
// "114/114 [==============================] - 49s 431ms/step - loss: 0.3601 - ...".
// steps_target may be fractional (steps_per_epoch = n/32): Keras prints '%Nd/%d' of it, so both
// numbers are truncated. seconds_total: since the epoch began, validation included.
// seconds_per_step: Keras's estimate, (now - time after step 1) / (steps_target - 1), or
// seconds_total / steps_target when steps_target <= 1. Unit: s/step when >= 1 s or exactly 0,
// ms/step when >= 1 ms, else us/step. A value v prints '%.4f', or '%.4e' when |v| <= 1e-3.
// Throws std::invalid_argument unless steps_target > 0 (as do the functions below).
std::string format_epoch_line(double steps_target, double seconds_total, double seconds_per_step,
                              const Metrics& metrics);

// Keras's estimate of the time a step, as its epoch line prints it (Progbar's _estimate_step_duration
// at current = steps_target): the time since the end of step 1 over steps_target - 1, or, when
// steps_target <= 1 (fewer images than a batch), the epoch's seconds_total over steps_target.
double keras_seconds_per_step(double steps_target, double seconds_total, double seconds_after_first_step);

// A mid-epoch update as Keras draws it on a terminal, e.g.
// " 57/114 [=============>................] - ETA: 24s - loss: 0.3601 - ...".
// eta_seconds = seconds_per_step * (target - current); it goes negative when current passes a
// fractional target and prints as Python's '%d' of it (truncated). Formats: h:mm:ss above an
// hour, m:ss above a minute, else Ns.
std::string format_progress_bar(int current, double target, double eta_seconds,
                                const Metrics& metrics);

// Keras 2.8 rewrites the progress line in place whenever it thinks the output is dynamic, which
// on Linux is always ('posix' is in sys.modules): each update is "\b" x (previous width) + "\r"
// + the new line + blanks over whatever the previous, longer line left + "\n" at the end of the
// epoch. After a finalize the next update starts afresh, like the next epoch's new Progbar.
class ProgressLine {
 public:
  // The bytes Keras writes for this update of `line` (a format_* result).
  std::string update(const std::string& line, bool finalize);

 private:
  std::size_t previous_width_ = 0;
};

// A progress bar redrawn in place as an epoch's steps complete (what `cxrnet train` draws on a
// terminal), at most once per `interval` seconds: reading the running metrics waits for the GPU,
// so the caller asks due() first and reads them only then. Times are seconds since the epoch began.
// ETA as Keras estimates it: (time since step 1) / (steps since step 1) per remaining step.
class LiveProgressBar {
 public:
  explicit LiveProgressBar(double steps_target, double interval = 0.25)
      : target_(steps_target), interval_(interval) {}
  bool due(int step, double seconds);  // call after every step; notes when step 1 ended
  std::string draw(int step, double seconds, const Metrics& metrics);  // the bytes to write
  std::string finish(const std::string& epoch_line);                  // replaces the bar, ends the line

 private:
  ProgressLine line_;
  double target_, interval_;
  double first_step_ = -1, last_draw_ = -1;
};

}  // namespace cxr::report

// A line-for-line port of print_summary's print_row and layout from keras v2.8.0; comments
// name the Python each part stands for.
#include "apps/keras_summary.h"

#include <algorithm>
#include <array>
#include <string_view>

namespace cxr::report {
namespace {

constexpr std::size_t kLineLength = 65;
// [int(65 * p) for p in (.45, .85, 1.)]
constexpr std::array<std::size_t, 3> kPositions = {29, 55, 65};

// print_row(fields, positions) with nested_level 0: emits as many lines as the longest
// cell needs.
std::string print_row(std::array<std::string, 3> left) {
  static constexpr std::array<std::string_view, 4> kBreakAfter = {"),", "},", "],", "',"};
  std::string text;
  auto any_left = [&] {
    return std::any_of(left.begin(), left.end(), [](const std::string& s) { return !s.empty(); });
  };
  while (any_left()) {
    std::string line;
    for (std::size_t col = 0; col < left.size(); ++col) {
      const std::size_t start = col > 0 ? kPositions[col - 1] : 0;
      // Two spaces delimit columns, except after the last one.
      const std::size_t space = col != kPositions.size() - 1 ? 2 : 0;
      std::size_t cutoff = kPositions[col] - start - space;
      std::string fit = left[col].substr(0, cutoff);
      // Prefer breaking right after the end of a tuple/list/dict/string element.
      std::size_t earliest = std::string::npos;
      for (std::string_view mark : kBreakAfter)
        if (std::size_t at = fit.find(mark); at != std::string::npos)
          earliest = std::min(earliest, at + mark.size());
      if (earliest != std::string::npos) {
        cutoff = earliest;
        fit = fit.substr(0, cutoff);
      }
      if (col == 0) line += ' ';
      line += fit + std::string(space, ' ');
      left[col] = left[col].substr(std::min(cutoff, left[col].size()));
      // Pad out to the column's end; a full first cell overflows it by one (Python's
      // ' ' * negative is empty), pushing the next cell right.
      if (line.size() < kPositions[col]) line += std::string(kPositions[col] - line.size(), ' ');
    }
    text += line + "\n";
  }
  return text;
}

// '{:,}'
std::string with_thousands(int64_t value) {
  const uint64_t magnitude = value < 0 ? 0 - static_cast<uint64_t>(value) : value;
  const std::string digits = std::to_string(magnitude);
  std::string text;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) text += ',';
    text += digits[i];
  }
  return value < 0 ? "-" + text : text;
}

}  // namespace

std::string format_output_shape(const std::vector<int64_t>& dims_without_batch) {
  std::string text = "(None";
  for (int64_t d : dims_without_batch) text += ", " + (d < 0 ? "None" : std::to_string(d));
  return text + (dims_without_batch.empty() ? ",)" : ")");
}

std::string format_input_shape(const std::vector<int64_t>& dims_without_batch) {
  return "[" + format_output_shape(dims_without_batch) + "]";
}

std::string format_summary(const std::string& model_name, const std::vector<SummaryRow>& rows,
                           int64_t total, int64_t trainable, int64_t non_trainable) {
  const std::string underscores(kLineLength, '_'), equals(kLineLength, '=');
  std::string text = "Model: \"" + model_name + "\"\n" + underscores + "\n";
  text += print_row({"Layer (type)", "Output Shape", "Param #"});
  text += equals + "\n";
  for (const SummaryRow& row : rows) {
    text += print_row({row.name + " (" + row.class_name + ")", row.output_shape,
                       std::to_string(row.params)});
    // keras 2.7+: a blank line (not 2.6's '_' line) after every layer, the last one included.
    text += std::string(kLineLength, ' ') + "\n";
  }
  text += equals + "\n";
  text += "Total params: " + with_thousands(total) + "\n";
  text += "Trainable params: " + with_thousands(trainable) + "\n";
  text += "Non-trainable params: " + with_thousands(non_trainable) + "\n";
  return text + underscores + "\n";
}

}  // namespace cxr::report

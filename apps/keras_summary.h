#pragma once
// keras 2.8.0's model.summary() (utils/layer_utils.py print_summary) for a sequential-like
// model, reproduced byte for byte. The transfer model (Input -> resnet50v2 -> pooling -> Dense
// -> Dropout -> Dense) is sequential-like too, so one layout serves every model of the
// notebook. Standard library only.
#include <cstdint>
#include <string>
#include <vector>

namespace cxr::report {

struct SummaryRow {
  std::string name;          // "conv2d_1"
  std::string class_name;    // "Conv2D"; a nested model is "Functional"
  std::string output_shape;  // format_output_shape(...) or format_input_shape(...)
  int64_t params = 0;
};

// Python's repr of the Keras shape tuple, batch first: {46, 46, 16} -> "(None, 46, 46, 16)",
// {} -> "(None,)". A negative dimension is unknown and prints None.
std::string format_output_shape(const std::vector<int64_t>& dims_without_batch);

// An InputLayer's output_shape is a list holding the tuple: "[(None, 50, 50, 3)]".
std::string format_input_shape(const std::vector<int64_t>& dims_without_batch);

// The whole summary, one '\n' after every line (print_summary prints line by line): width 65,
// columns ending at 29, 55 and 65. Each row is "name (ClassName)", shape, params; cells too
// long for their column wrap onto more lines (after "),", "],", "},", "'," when one occurs,
// else at the column's width less 2), and every layer is followed by a line of 65 spaces.
// Totals print with thousands separators: "Total params: 131,681". Cells are cut by bytes
// where Python cuts by characters: the same for the ASCII names Keras generates.
std::string format_summary(const std::string& model_name, const std::vector<SummaryRow>& rows,
                           int64_t total, int64_t trainable, int64_t non_trainable);

}  // namespace cxr::report

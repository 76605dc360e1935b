// safetensors files (the format Hugging Face defined): an 8-byte little-endian header length, a
// JSON header mapping each tensor name to {dtype, shape, data_offsets}, then the raw data.
// Chosen because it is trivial to read from Python (safetensors, or 10 lines of numpy) and safe.
#pragma once
#include <map>
#include <string>

#include "engine/tensor.h"

namespace cxr {

struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;          // CPU tensors
  std::map<std::string, std::string> metadata;    // the "__metadata__" entry: strings only
};

// Writes atomically: a temporary file in the same folder, fsync, then rename. A crash at any
// moment leaves either the old file or the new one, never half of one. Each tensor's CRC-32 goes
// in the metadata ("crc32:NAME"), which the loader checks and does not return.
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// "holds nan at index 3 of [4, 3]" for the first NaN or infinity among `n` values of `shape`, "" when
// all are finite: what the writer, the reader and training's weight check say of a non-finite tensor.
std::string first_non_finite(const float* values, int64_t n, const Shape& shape);

// Refuses, naming the file and the tensor, a truncated file, a header that points outside the
// data, an unsupported dtype, a shape whose size overflows, overlapping or gapped data, and data
// that does not match its CRC-32 where the file has one (cxrnet's files do).
SafetensorsFile load_safetensors(const std::string& path);

}  // namespace cxr

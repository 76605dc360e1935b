// The conformance harness: runs an engine op on the CPU and on CUDA (under a kernel choice) on the
// same random inputs, forward and backward, and compares every output and gradient with a per-op
// tolerance. Backward is driven by a random upstream gradient G through sum(mul(out, G)), so every
// element of every gradient is checked, not just a sum.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/kernel_choice.h"
#include "engine/ops.h"
#include "tests/cuda/gpu_test.h"

namespace cxr::test {

// |cpu - gpu| <= abs + rel * |cpu| element by element; both 0 means bit-identical.
struct Tolerance {
  double abs = 0, rel = 0;
};

inline Tensor random_tensor(const Shape& shape, uint32_t seed, float lo = -2.0f, float hi = 2.0f) {
  return Tensor::from_vector(shape, random_floats(numel_of(shape), seed, lo, hi));
}

inline void expect_close(const std::vector<float>& cpu, const std::vector<float>& gpu, Tolerance tol,
                         const std::string& what) {
  ASSERT_EQ(cpu.size(), gpu.size()) << what;
  int64_t failures = 0;
  double worst = 0;
  for (size_t i = 0; i < cpu.size(); ++i) {
    const double a = cpu[i], b = gpu[i];
    bool ok;
    if (tol.abs == 0 && tol.rel == 0) {
      ok = std::memcmp(&cpu[i], &gpu[i], sizeof(float)) == 0;
    } else {
      ok = std::fabs(a - b) <= tol.abs + tol.rel * std::fabs(a);
      if (std::isnan(a) && std::isnan(b)) ok = true;
    }
    worst = std::max(worst, std::fabs(a - b));
    if (!ok && ++failures <= 5)
      ADD_FAILURE() << what << " element " << i << " of " << cpu.size() << ": CPU " << a << ", CUDA " << b;
  }
  EXPECT_EQ(failures, 0) << what << ": mismatching elements (largest difference " << worst << ")";
}

// An op under test: takes its inputs (already on the device, with requires_grad as asked) and
// returns its output.
using OpUnderTest = std::function<Tensor(std::vector<Tensor>& inputs)>;

struct OpRun {
  std::vector<std::vector<float>> values;  // output, then each grad-requiring input's gradient
  std::vector<std::string> names;
};

inline OpRun run_op(Device device, KernelChoice choice, const std::vector<Tensor>& host_inputs,
                    const std::vector<bool>& wants_grad, const OpUnderTest& op, uint32_t seed) {
  const KernelChoiceScope scope(choice);
  std::vector<Tensor> inputs;
  for (size_t i = 0; i < host_inputs.size(); ++i) {
    Tensor t = host_inputs[i].to(device);
    if (wants_grad[i]) t.set_requires_grad(true);
    inputs.push_back(t);
  }
  Tensor out = op(inputs);
  OpRun run;
  run.values.push_back(out.to_vector());
  run.names.push_back("output");
  if (!out.requires_grad()) return run;
  const Tensor upstream = random_tensor(out.shape(), seed).to(device);
  sum(mul(out, upstream)).backward();
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!wants_grad[i]) continue;
    run.values.push_back(inputs[i].grad().to_vector());
    run.names.push_back("gradient of input " + std::to_string(i));
  }
  return run;
}

// One kernel choice to check and what it may differ by: a vendor library computes in its own order
// and precision, so its tolerance is often wider than the custom kernel's.
struct ChoiceTolerance {
  KernelChoice choice;
  Tolerance forward, backward;
};

// The whole check, for each listed kernel choice. `inputs` are host tensors.
inline void check_op_choices(const std::string& name, const std::vector<Tensor>& inputs,
                             const std::vector<bool>& wants_grad, const OpUnderTest& op,
                             std::initializer_list<ChoiceTolerance> choices) {
  const OpRun cpu = run_op(Device::cpu(), KernelChoice::Custom, inputs, wants_grad, op, 99);
  for (const ChoiceTolerance& c : choices) {
    const OpRun gpu = run_op(Device::cuda(0), c.choice, inputs, wants_grad, op, 99);
    ASSERT_EQ(cpu.values.size(), gpu.values.size());
    for (size_t k = 0; k < cpu.values.size(); ++k)
      expect_close(cpu.values[k], gpu.values[k], k == 0 ? c.forward : c.backward,
                   name + " (" + kernel_choice_name(c.choice) + "), " + cpu.names[k]);
  }
}

// Both kernel choices with the same tolerance (ops whose vendor path is the custom kernel, or as exact).
inline void check_op(const std::string& name, const std::vector<Tensor>& inputs, const std::vector<bool>& wants_grad,
                     const OpUnderTest& op, Tolerance forward, Tolerance backward) {
  check_op_choices(name, inputs, wants_grad, op,
                   {{KernelChoice::Custom, forward, backward}, {KernelChoice::Vendor, forward, backward}});
}

}  // namespace cxr::test

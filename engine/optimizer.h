// Optimizers update parameters from their accumulated gradients, outside autograd.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace cxr {

class Optimizer {
 public:
  explicit Optimizer(std::vector<Tensor> parameters) : parameters_(std::move(parameters)) {}
  virtual ~Optimizer() = default;
  virtual void step() = 0;  // applies one update from each parameter's .grad (skips those without one)
  void zero_grad();
  int64_t iterations() const { return iterations_; }
  // Resuming a run: the updates already applied (keys Adam's bias correction and dropout masks).
  void set_iterations(int64_t iterations) { iterations_ = iterations; }
  const std::vector<Tensor>& parameters() const { return parameters_; }
  // For learning-rate schedules: read by every step() (on CUDA passed by value to the launch), so a
  // change takes effect from the next step.
  virtual float learning_rate() const = 0;
  virtual void set_learning_rate(float learning_rate) = 0;

 protected:
  std::vector<Tensor> parameters_;
  int64_t iterations_ = 0;  // Keras's optimizer.iterations: updates applied so far
};

// Adam exactly as Keras/TF applies it (facts §4): epsilon added to sqrt(v) without bias correction.
struct AdamOptions {
  float learning_rate = 0.001f, beta_1 = 0.9f, beta_2 = 0.999f, epsilon = 1e-7f;
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> parameters, const AdamOptions& options);
  void step() override;
  float learning_rate() const override { return options_.learning_rate; }
  void set_learning_rate(float learning_rate) override { options_.learning_rate = learning_rate; }
  const AdamOptions& options() const { return options_; }
  std::vector<Tensor>& first_moments() { return m_; }
  std::vector<Tensor>& second_moments() { return v_; }

 private:
  AdamOptions options_;
  std::vector<Tensor> m_, v_;
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> parameters, float learning_rate) : Optimizer(std::move(parameters)), lr_(learning_rate) {}
  void step() override;
  float learning_rate() const override { return lr_; }
  void set_learning_rate(float learning_rate) override { lr_ = learning_rate; }

 private:
  float lr_;
};

}  // namespace cxr

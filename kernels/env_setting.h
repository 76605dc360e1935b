// A run-time choice between kernels that the environment can turn off and a test or benchmark can
// set: read from the environment on first use (NAME=0 gives `off`, anything else or nothing `on`),
// then kept in an atomic. Behind cuda::batchnorm_resident(), cuda::gemm_tall_tiles(),
// cuda::conv_small_weight_gradient() and cuda::conv_direct_forward(), and the CPU's
// cpu::direct::avx512().
#pragma once

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace cxr::kernels {

class EnvSetting {
 public:
  constexpr EnvSetting(const char* name, int on, int off) : name_(name), on_(on), off_(off) {}
  int get() {
    int value = value_.load();
    if (value == kUnread) {
      const char* text = std::getenv(name_);
      value = text != nullptr && std::strcmp(text, "0") == 0 ? off_ : on_;
      value_.store(value);
    }
    return value;
  }
  void set(int value) { value_.store(value); }

 private:
  static constexpr int kUnread = -1;
  const char* name_;
  int on_, off_;
  std::atomic<int> value_{kUnread};
};

}  // namespace cxr::kernels

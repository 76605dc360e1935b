// `cxrnet train --kernels` and `--tf32` (apps/commands.cpp). No GPU needed: the checks run before
// any data is read, so a missing data folder is never reached.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "apps/commands.h"
#include "engine/error.h"
#include "engine/kernel_choice.h"

namespace cxr::test {
namespace {

TrainOptions options_for_cpu() {
  TrainOptions o;
  o.config_path = std::string(CXR_SOURCE_DIR) + "/configs/experiment1.yaml";
  o.data_dir = "/nonexistent";
  o.device = "cpu";
  return o;
}

std::string train_error(const TrainOptions& o) {
  std::ostringstream out, log;
  try {
    command_train(o, out, log);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(TrainFlags, Tf32NeedsACudaDevice) {
  TrainOptions o = options_for_cpu();
  o.tf32 = true;
  EXPECT_NE(train_error(o).find("--tf32"), std::string::npos);
}

TEST(TrainFlags, KernelsFlagSetsTheProcessDefault) {
  TrainOptions o = options_for_cpu();
  o.kernels = "vendor";
  o.tf32 = true;  // stops the run right after the kernel choice is applied
  train_error(o);
  EXPECT_EQ(default_kernel_choice(), KernelChoice::Vendor);
  set_default_kernel_choice(KernelChoice::Custom);
}

TEST(TrainFlags, BadKernelsValueIsAnInputError) {
  TrainOptions o = options_for_cpu();
  o.kernels = "cudnn";
  EXPECT_NE(train_error(o).find("custom or vendor"), std::string::npos);
}

}  // namespace
}  // namespace cxr::test

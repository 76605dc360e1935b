// The message of the ConfigError that an action throws, for tests of YAML error messages.
#pragma once
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "layers/spec.h"

namespace cxr::testing {

// "" and a test failure when `action` throws no ConfigError.
inline std::string config_error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const ConfigError& error) {
    return error.what();
  }
  ADD_FAILURE() << "expected a ConfigError";
  return "";
}

}  // namespace cxr::testing

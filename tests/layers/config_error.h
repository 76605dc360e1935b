// The message of the ConfigError (or InputError) that an action throws, for tests of error messages.
#pragma once
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "engine/error.h"
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

// "" and a test failure when `action` throws no InputError (a ConfigError is one too).
inline std::string input_error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const InputError& error) {
    return error.what();
  }
  ADD_FAILURE() << "expected an InputError";
  return "";
}

}  // namespace cxr::testing

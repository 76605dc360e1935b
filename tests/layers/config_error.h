// The message of the ConfigError (or InputError) that an action throws, for tests of error messages.
#pragma once
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "engine/error.h"
#include "layers/spec.h"

namespace cxr::testing {

// The message of the `Error` that `action` throws; "" and a test failure when it throws none.
template <typename Error>
std::string error_of(const std::function<void()>& action, const char* expected) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  ADD_FAILURE() << "expected " << expected;
  return "";
}

inline std::string config_error_of(const std::function<void()>& action) {
  return error_of<ConfigError>(action, "a ConfigError");
}

// A ConfigError is an InputError too.
inline std::string input_error_of(const std::function<void()>& action) {
  return error_of<InputError>(action, "an InputError");
}

}  // namespace cxr::testing

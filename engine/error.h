// Errors are exceptions that carry context. The CLI maps them to exit codes (2: bad input, 1: internal).
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace cxr {

// A caller gave something impossible: wrong shape, wrong device, a bad file. Exit code 2.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// cxrnet's own invariant broke: a bug, not bad input. Exit code 1.
class InternalError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

}  // namespace cxr

// CXR_CHECK(cond, "conv2d: input " << name << " has " << n << " channels") throws InputError.
#define CXR_CHECK(cond, message)                           \
  do {                                                     \
    if (!(cond)) {                                         \
      std::ostringstream cxr_check_stream_;                \
      cxr_check_stream_ << message;                        \
      throw ::cxr::InputError(cxr_check_stream_.str());    \
    }                                                      \
  } while (0)

// CXR_ASSERT(cond, message) throws InternalError: for conditions no input can cause.
#define CXR_ASSERT(cond, message)                             \
  do {                                                        \
    if (!(cond)) {                                            \
      std::ostringstream cxr_assert_stream_;                  \
      cxr_assert_stream_ << message;                          \
      throw ::cxr::InternalError(cxr_assert_stream_.str());   \
    }                                                         \
  } while (0)

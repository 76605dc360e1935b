// Damaged copies of a good file, for tests that a loader meets every one with a clear error (or a
// valid result) and never a crash, a hang, an unrelated exception type or a huge allocation.
// Run them under tools/test --sanitize too: AddressSanitizer turns a read past the end into a failure.
#pragma once
#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <vector>

namespace cxr::testing {

struct DamagedCopy {
  std::string how;  // "cut to 17 bytes", "byte 9 0x3a -> 0xff"
  std::vector<uint8_t> bytes;
};

// Every prefix of `good` (0 .. size-1 bytes), then, at each position, the byte replaced by 0x00,
// 0xff, and its value with the low bit and then the high bit flipped: the damage a short write, a
// zeroed block or a bit flip leaves. Positions from `first_position` on are taken every `stride`-th
// only, to sweep a header fully and a large data block sparsely.
inline void for_each_damaged_copy(const std::vector<uint8_t>& good,
                                  const std::function<void(const DamagedCopy&)>& visit, size_t first_position = 0,
                                  size_t stride = 1) {
  auto hex = [](unsigned v) {
    static const char* digits = "0123456789abcdef";
    return std::string("0x") + digits[v >> 4] + digits[v & 15];
  };
  for (size_t n = 0; n < good.size(); ++n)
    visit({"cut to " + std::to_string(n) + " bytes", std::vector<uint8_t>(good.begin(), good.begin() + n)});
  for (size_t i = 0; i < good.size(); i += i < first_position ? 1 : stride) {
    const uint8_t old = good[i];
    for (const uint8_t value : {uint8_t{0x00}, uint8_t{0xff}, uint8_t(old ^ 0x01), uint8_t(old ^ 0x80)}) {
      if (value == old) continue;
      DamagedCopy copy{"byte " + std::to_string(i) + " " + hex(old) + " -> " + hex(value), good};
      copy.bytes[i] = value;
      visit(copy);
    }
  }
}

// Collects what went wrong over many damaged copies, so a test reports the first few and a count
// instead of stopping at one or printing thousands.
class DamageFindings {
 public:
  void add(const DamagedCopy& copy, const std::string& what) {
    if (++count_ <= 5) text_ += "\n  " + copy.how + ": " + what;
  }
  bool empty() const { return count_ == 0; }
  std::string report() const { return std::to_string(count_) + " damaged copies mishandled:" + text_; }

 private:
  size_t count_ = 0;
  std::string text_;
};

}  // namespace cxr::testing

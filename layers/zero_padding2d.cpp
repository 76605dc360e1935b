// ZeroPadding2D: YAML `type: ZeroPadding2D, padding: P` -> engine/ops/zero_pad2d.cpp -> kernels/cpu/zero_pad2d.cpp.
// P as Keras takes it: 1 (all sides), [1, 2] (rows, columns symmetric) or [[top, bottom], [left, right]].
#include <tuple>

#include "engine/error.h"
#include "engine/ops.h"
#include "layers/registry.h"

namespace cxr {
namespace {

class ZeroPadding2D : public Layer {
 public:
  int top = 1, bottom = 1, left = 1, right = 1;  // Keras's default padding=(1, 1)

  const char* class_name() const override { return "ZeroPadding2D"; }
  Shape build(const Shape& in, uint64_t, uint64_t) override {
    CXR_CHECK(in.size() == 3, "layer '" << name << "' (ZeroPadding2D) needs an image input [H, W, C], got "
                                        << shape_str(in));
    return {in[0] + top + bottom, in[1] + left + right, in[2]};
  }
  Tensor forward(const Tensor& x, const ForwardContext&) override { return zero_pad2d(x, top, bottom, left, right); }
};

// [a, b] -> {a, b} for a pair node, {v, v} for a scalar.
std::pair<int, int> pair_of(const SpecNode& node) {
  if (node.is_scalar()) return {node.as_int(), node.as_int()};
  const std::vector<SpecNode> items = node.items();
  if (items.size() != 2) node.fail("expected a number or a pair [a, b]");
  return {items[0].as_int(), items[1].as_int()};
}

std::unique_ptr<Layer> make(const SpecNode& spec) {
  auto layer = std::make_unique<ZeroPadding2D>();
  if (spec.has("padding")) {
    const SpecNode padding = spec.child("padding");
    std::pair<int, int> rows, cols;
    if (padding.is_scalar()) {
      rows = cols = pair_of(padding);
    } else {
      const std::vector<SpecNode> items = padding.items();
      if (items.size() != 2) padding.fail("expected 1, [rows, columns] or [[top, bottom], [left, right]]");
      if (items[0].is_scalar() != items[1].is_scalar()) padding.fail("mixes a number and a pair");
      // [1, 2] pads rows by 1 on both sides and columns by 2; [[0, 1], [2, 3]] gives each side.
      rows = items[0].is_scalar() ? std::pair{items[0].as_int(), items[0].as_int()} : pair_of(items[0]);
      cols = items[1].is_scalar() ? std::pair{items[1].as_int(), items[1].as_int()} : pair_of(items[1]);
    }
    if (rows.first < 0 || rows.second < 0 || cols.first < 0 || cols.second < 0)
      padding.fail("padding must not be negative");
    std::tie(layer->top, layer->bottom) = rows;
    std::tie(layer->left, layer->right) = cols;
  }
  return layer;
}

}  // namespace

CXR_REGISTER_LAYER(ZeroPadding2D, "zero_padding2d", std::vector<std::string>{"padding"}, make);

}  // namespace cxr

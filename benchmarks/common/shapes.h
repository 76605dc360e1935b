// The layer shapes the kernel benchmarks run at: every layer of experiments 1-3 and every distinct
// convolution of experiment 4's ResNet50V2 (50x50 input), all at batch 32. Shared by the CPU suite
// (benchmarks/kernels) and the GPU suite (benchmarks/cuda) so both time the same work.
// Names say the experiment and the layer: e1_conv2 is experiment 1's second Conv2D.
#pragma once
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/conv2d.h"
#include "kernels/pool.h"

namespace cxr::bench {

constexpr int kBatch = 32;

struct ConvCase {
  const char* name;
  int H, C, K, R, stride;  // square input H x H x C, K filters of R x R, 'valid' padding
  bool input_grad = true;  // false for a model's first layer: training never asks for the image's gradient
  bool forward_only = false;  // a layer no experiment trains (experiment 4's frozen conv2-conv4)
};

// Experiment 4's 3x3 convolutions see a ZeroPadding2D(1) output, so they are 'valid' on H + 2. Its
// backbone is frozen; the fine-tuning config trains conv5, so only conv5's layers (and the
// representative ones timed before these were added) have a backward here.
inline const std::vector<ConvCase>& conv_cases() {
  static const std::vector<ConvCase> cases{
      {"e1_conv1", 50, 3, 16, 5, 1, false},      // 50x50x3 -> 46x46x16
      {"e1_conv2", 46, 16, 32, 5, 2},            // -> 21x21x32
      {"e1_conv3", 21, 32, 64, 5, 2},            // -> 9x9x64
      {"e2_conv4", 9, 64, 64, 5, 2},             // experiment 2's extra layer -> 3x3x64
      {"e3_conv1", 128, 3, 16, 5, 1, false},     // 128x128x3 -> 124x124x16
      {"e3_conv2", 124, 16, 32, 5, 2},           // -> 60x60x32
      {"e3_conv3", 60, 32, 64, 5, 2},            // -> 28x28x64
      {"e4_conv1_conv", 56, 3, 64, 7, 2, false}, // stem, after conv1_pad: -> 25x25x64
      {"e4_conv2_1x1", 13, 64, 64, 1, 1},        // conv2_block*_1_conv
      {"e4_conv2_3x3", 15, 64, 64, 3, 1},        // conv2_block1_2_conv -> 13x13x64
      {"e4_conv2_expand", 13, 64, 256, 1, 1},    // conv2_block*_3_conv / _0_conv
      {"e4_conv3_3x3", 9, 128, 128, 3, 1},       // conv3_block1_2_conv -> 7x7x128
      {"e4_conv4_3x3", 6, 256, 256, 3, 1},       // conv4_block1_2_conv -> 4x4x256
      {"e4_conv5_3x3", 4, 512, 512, 3, 1},       // conv5_block1_2_conv -> 2x2x512
      {"e4_conv5_0_conv", 2, 1024, 2048, 1, 1},  // conv5_block1_0_conv -> 2x2x2048
      // The rest of the backbone's distinct shapes (block: 1_conv reduces, 2_conv is the 3x3, 3_conv
      // and 0_conv expand; a stage's last block strides 2, except conv5's).
      {"e4_conv2_reduce", 13, 256, 64, 1, 1, true, true},     // conv2_block2/3_1_conv
      {"e4_conv2_3x3_s2", 15, 64, 64, 3, 2, true, true},      // conv2_block3_2_conv -> 7x7x64
      {"e4_conv2_expand_7", 7, 64, 256, 1, 1, true, true},    // conv2_block3_3_conv
      {"e4_conv3_0_conv", 7, 256, 512, 1, 1, true, true},     // conv3_block1_0_conv
      {"e4_conv3_reduce_in", 7, 256, 128, 1, 1, true, true},  // conv3_block1_1_conv
      {"e4_conv3_expand", 7, 128, 512, 1, 1, true, true},     // conv3_block1..3_3_conv
      {"e4_conv3_reduce", 7, 512, 128, 1, 1, true, true},     // conv3_block2..4_1_conv
      {"e4_conv3_3x3_s2", 9, 128, 128, 3, 2, true, true},     // conv3_block4_2_conv -> 4x4x128
      {"e4_conv3_expand_4", 4, 128, 512, 1, 1, true, true},   // conv3_block4_3_conv
      {"e4_conv4_0_conv", 4, 512, 1024, 1, 1, true, true},    // conv4_block1_0_conv
      {"e4_conv4_reduce_in", 4, 512, 256, 1, 1, true, true},  // conv4_block1_1_conv
      {"e4_conv4_expand", 4, 256, 1024, 1, 1, true, true},    // conv4_block1..5_3_conv
      {"e4_conv4_reduce", 4, 1024, 256, 1, 1, true, true},    // conv4_block2..6_1_conv
      {"e4_conv4_3x3_s2", 6, 256, 256, 3, 2, true, true},     // conv4_block6_2_conv -> 2x2x256
      {"e4_conv4_expand_2", 2, 256, 1024, 1, 1, true, true},  // conv4_block6_3_conv
      {"e4_conv5_reduce_in", 2, 1024, 512, 1, 1},             // conv5_block1_1_conv
      {"e4_conv5_expand", 2, 512, 2048, 1, 1},                // conv5_block1..3_3_conv
      {"e4_conv5_reduce", 2, 2048, 512, 1, 1},                // conv5_block2..3_1_conv
  };
  return cases;
}

inline kernels::Conv2dShape conv_shape(const ConvCase& c) {
  return kernels::make_conv2d_shape(kBatch, c.H, c.H, c.C, c.K, c.R, c.R, c.stride, c.stride, false);
}

inline double conv_forward_flops(const kernels::Conv2dShape& s) {
  return 2.0 * s.N * s.OH * s.OW * s.K * s.R * s.S * s.C;
}

// Batch-norm layers: rows M = N*H*W of C channels.
struct RowsCase {
  const char* name;
  int64_t M;
  int C;
  bool inference_only = false;  // a layer no experiment trains (experiment 4's frozen conv2-conv4)
};

inline const std::vector<RowsCase>& batchnorm_cases() {
  static const std::vector<RowsCase> cases{
      {"e1_bn1", kBatch * 46 * 46, 16}, {"e1_bn2", kBatch * 21 * 21, 32}, {"e1_bn3", kBatch * 9 * 9, 64},
      {"e1_bn4", kBatch * 4 * 4, 64},   {"e2_bn4", kBatch * 3 * 3, 64},   {"e2_bn5", kBatch * 1 * 1, 64},
      {"e3_bn1", kBatch * 124 * 124, 16}, {"e3_bn2", kBatch * 60 * 60, 32}, {"e3_bn3", kBatch * 28 * 28, 64},
      {"e3_bn4", kBatch * 14 * 14, 64},
      {"e4_conv2_bn", kBatch * 13 * 13, 64},       // conv2_block*_1_bn
      {"e4_conv3_preact", kBatch * 7 * 7, 256},    // conv3_block1_preact_bn
      {"e4_conv4_preact", kBatch * 4 * 4, 1024},   // conv4_block2..6_preact_bn
      {"e4_post_bn", kBatch * 2 * 2, 2048},         // post_bn
      // The rest of the backbone's distinct shapes; conv5's train in the fine-tuning config.
      {"e4_conv2_preact", kBatch * 13 * 13, 256, true},  // conv2_block2/3_preact_bn
      {"e4_conv2_bn_7", kBatch * 7 * 7, 64, true},       // conv2_block3_2_bn
      {"e4_conv3_bn", kBatch * 7 * 7, 128, true},        // conv3_block*_1_bn, _2_bn (blocks 1-3)
      {"e4_conv3_preact_512", kBatch * 7 * 7, 512, true},  // conv3_block2..4_preact_bn
      {"e4_conv3_bn_4", kBatch * 4 * 4, 128, true},      // conv3_block4_2_bn
      {"e4_conv4_bn", kBatch * 4 * 4, 256, true},        // conv4_block*_1_bn, _2_bn (blocks 1-5)
      {"e4_conv4_preact_512", kBatch * 4 * 4, 512, true},  // conv4_block1_preact_bn
      {"e4_conv4_bn_2", kBatch * 2 * 2, 256, true},      // conv4_block6_2_bn
      {"e4_conv5_bn", kBatch * 2 * 2, 512},              // conv5_block*_1_bn, _2_bn
      {"e4_conv5_preact", kBatch * 2 * 2, 1024},         // conv5_block1_preact_bn
  };
  return cases;
}

struct PoolCase {
  const char* name;
  int H, C, window, stride;  // square, 'valid' (experiment 4's pool1 sees its ZeroPadding2D(1) output)
};

inline const std::vector<PoolCase>& pool_cases() {
  static const std::vector<PoolCase> cases{
      {"e1_pool", 9, 64, 2, 2},           // 9x9x64 -> 4x4x64
      {"e2_pool", 3, 64, 2, 2},           // 3x3x64 -> 1x1x64
      {"e3_pool", 28, 64, 2, 2},          // 28x28x64 -> 14x14x64
      {"e4_pool1", 27, 64, 3, 2},         // 27x27x64 -> 13x13x64
      {"e4_shortcut_pool", 13, 256, 1, 2},  // conv2_block3's MaxPooling2D(1, strides=2) -> 7x7x256
      {"e4_shortcut_pool3", 7, 512, 1, 2},  // conv3_block4's -> 4x4x512
      {"e4_shortcut_pool4", 4, 1024, 1, 2},  // conv4_block6's -> 2x2x1024
  };
  return cases;
}

// The input elements a max pool's windows cover (its compulsory reads): all of x only when the
// windows tile it. Experiment 4's 1x1 stride-2 shortcut pool reads 49 of 169 positions; counting
// all of x put it at 357% of the copy bandwidth.
inline int64_t pooled_inputs(const kernels::Pool2dShape& s) {
  const auto covered = [](int out, int window, int stride, int in) {
    return std::min<int64_t>(in, stride >= window ? int64_t{out} * window : int64_t{out - 1} * stride + window);
  };
  return int64_t{s.N} * covered(s.OH, s.ph, s.sh, s.H) * covered(s.OW, s.pw, s.sw, s.W) * s.C;
}

inline kernels::Pool2dShape pool_shape(const PoolCase& c) {
  return kernels::make_pool2d_shape(kBatch, c.H, c.H, c.C, c.window, c.window, c.stride, c.stride, false);
}

// Elementwise work (dropout, activations, gradient sums): the tensors they run on.
struct SizeCase {
  const char* name;
  int64_t n;
  float dropout_rate = 0;  // the rate a Dropout layer drops this tensor at; 0: none does
};

inline const std::vector<SizeCase>& activation_cases() {
  static const std::vector<SizeCase> cases{
      {"e1_conv1_out", int64_t{kBatch} * 46 * 46 * 16, 0.2f},  // each conv block: BN, Dropout, relu
      {"e1_conv2_out", int64_t{kBatch} * 21 * 21 * 32, 0.4f},
      {"e1_conv3_out", int64_t{kBatch} * 9 * 9 * 64, 0.5f},
      {"e1_dense_out", int64_t{kBatch} * 64, 0.5f},          // Dense 64, relu, Dropout (and e2's pool out)
      {"e1_pool_out", int64_t{kBatch} * 4 * 4 * 64, 0.5f},   // MaxPooling2D, Dropout
      {"e2_conv4_out", int64_t{kBatch} * 3 * 3 * 64, 0.5f},
      {"e3_conv1_out", int64_t{kBatch} * 124 * 124 * 16, 0.2f},
      {"e3_conv2_out", int64_t{kBatch} * 60 * 60 * 32, 0.4f},
      {"e3_conv3_out", int64_t{kBatch} * 28 * 28 * 64, 0.5f},
      {"e3_pool_out", int64_t{kBatch} * 14 * 14 * 64, 0.5f},
      {"e4_conv2_out", int64_t{kBatch} * 13 * 13 * 256},     // ResNet relus and residual adds
      {"e4_conv3_out", int64_t{kBatch} * 7 * 7 * 512},
      {"e4_conv4_out", int64_t{kBatch} * 4 * 4 * 1024},
      {"e4_conv5_out", int64_t{kBatch} * 2 * 2 * 2048},
      {"head_out", int64_t{kBatch}},                          // Dense 1, sigmoid: every experiment's output
  };
  return cases;
}

struct DenseCase {
  const char* name;
  int in, out;
};

inline const std::vector<DenseCase>& dense_cases() {
  static const std::vector<DenseCase> cases{
      {"e1_dense1", 1024, 64}, {"e1_dense2", 64, 1}, {"e2_dense1", 64, 64},
      {"e3_dense1", 12544, 64}, {"e4_dense1", 2048, 64},
  };
  return cases;
}

// What one optimizer step updates: an experiment's trainable tensors, in the order the engine hands
// them to Adam (kernels and biases of the convs and denses, gamma and beta of the batch norms), and
// their total, the trainable count of keras-facts §9 (adam_cases refuses a case whose tensors do not
// sum to it; tests/layers/test_benchmark_params.cpp holds the lists to the models built from configs/).
struct ParamsCase {
  const char* name;
  int64_t n;                     // trainable parameters in all
  std::vector<int64_t> tensors;  // their sizes; they sum to n
};

namespace detail {
// The conv blocks of experiments 1-3: Conv2D 5x5 (kernel, bias) then BatchNormalization (gamma, beta).
inline void conv_bn_block(std::vector<int64_t>& t, int64_t in, int64_t out) {
  t.insert(t.end(), {25 * in * out, out, out, out});
}
inline std::vector<int64_t> small_cnn(int convs, int64_t flatten) {
  std::vector<int64_t> t;
  int64_t in = 3;
  for (int64_t out : {16, 32, 64, 64}) {
    if (convs-- == 0) break;
    conv_bn_block(t, in, out);
    in = out;
  }
  t.insert(t.end(), {64, 64, flatten * 64, 64, 64, 1});  // pooled BN; Dense 64; Dense 1
  return t;
}
// improved/experiment4-finetune.yaml: ResNet50V2's conv5 stack and post_bn (conv1-conv4 frozen),
// then the head. A block, in cxrnet's parameter order: preact_bn, [0_conv: block 1's shortcut, 1x1,
// biased], 1_conv (1x1, no bias), 1_bn, 2_conv (3x3, no bias), 2_bn, 3_conv (1x1, biased). (Keras's
// layer list puts 0_conv after 2_bn.)
inline std::vector<int64_t> resnet_conv5_and_head() {
  std::vector<int64_t> t;
  for (int64_t in : {1024, 2048, 2048}) {
    t.insert(t.end(), {in, in});
    if (in == 1024) t.insert(t.end(), {1024 * 2048, 2048});
    t.insert(t.end(), {in * 512, 512, 512, 9 * 512 * 512, 512, 512, 512 * 2048, 2048});
  }
  t.insert(t.end(), {2048, 2048, 2048 * 64, 64, 64, 1});  // post_bn; Dense 64; Dense 1
  return t;
}

inline std::vector<ParamsCase> checked_totals(std::vector<ParamsCase> cases) {
  for (const ParamsCase& c : cases) {
    int64_t total = 0;
    for (int64_t n : c.tensors) total += n;
    if (total != c.n)
      throw std::logic_error(std::string("benchmarks/common/shapes.h: ") + c.name + "'s tensors sum to " +
                             std::to_string(total) + ", not " + std::to_string(c.n));
  }
  return cases;
}
}  // namespace detail

inline const std::vector<ParamsCase>& adam_cases() {
  static const std::vector<ParamsCase> cases = detail::checked_totals({
      {"e1_params", 131329, detail::small_cnn(3, 4 * 4 * 64)},
      {"e2_params", 172481, detail::small_cnn(4, 1 * 1 * 64)},
      {"e3_params", 868609, detail::small_cnn(3, 14 * 14 * 64)},
      {"e4_params", 65, {64, 1}},  // the notebook froze all but the last Dense
      // tests/layers/test_resnet50v2.cpp's FreezingByNameCountsLikeKeras, plus the head's 131,201.
      {"e4_finetune_params", 15102081, detail::resnet_conv5_and_head()},
  });
  return cases;
}

}  // namespace cxr::bench

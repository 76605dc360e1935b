// cuDNN convolution (kernels/conv2d.h, namespace vendor): NHWC float activations, KRSC (= OHWI)
// filters, cross-correlation like Keras.
//
// Per shape, descriptors are built once and each direction's algorithm is found once, by
// cudnnFind*AlgorithmEx (it times every algorithm on our own buffers), then cached. The pick is the
// fastest algorithm whose workspace fits the cap (kernels/cuda/vendor.h), that is deterministic when
// asked, and that uses plain FP32 math unless TF32 is allowed; failing that, the fastest one needing
// no workspace; failing that, the custom kernel. Workspaces come from the caching allocator and go
// back to it as soon as the call is queued. The choice is logged once (std::clog and
// vendor::conv_algorithm_report()). Bias gradients use the custom deterministic column sums.
//
// cuDNN pads symmetrically; TensorFlow's 'same' padding puts an odd pixel at the end. Such shapes
// (and any whose output size cuDNN computes differently) run on the custom kernel instead.
#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>

#include "kernels/conv2d.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/gemm_helpers.h"
#include "kernels/cuda/runtime.h"
#include "kernels/cuda/vendor.h"
#include "kernels/cuda/vendor_handles.h"

namespace cxr::kernels {
namespace {

enum Direction { kForward = 0, kBackwardData = 1, kBackwardFilter = 2 };
constexpr const char* kDirectionNames[] = {"forward", "backward-data", "backward-filter"};
constexpr const char* kForwardAlgos[] = {"IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT",
                                         "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
constexpr const char* kDataAlgos[] = {"ALGO_0", "ALGO_1", "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
constexpr const char* kFilterAlgos[] = {"ALGO_0", "ALGO_1", "FFT", "ALGO_3", "WINOGRAD", "WINOGRAD_NONFUSED",
                                        "FFT_TILING"};

std::string algorithm_name(Direction d, int algo) {
  const char* const* names = d == kForward ? kForwardAlgos : d == kBackwardData ? kDataAlgos : kFilterAlgos;
  const int count = d == kForward ? 8 : d == kBackwardData ? 6 : 7;
  return algo >= 0 && algo < count ? names[algo] : "algo " + std::to_string(algo);
}

struct Choice {
  bool use_custom = false;
  int algo = 0;
  size_t workspace = 0;
  cudnnMathType_t math = CUDNN_FMA_MATH;
};

struct Plan {
  bool expressible = false;
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  bool found[3] = {false, false, false};
  Choice choice[3];
};

using Key = std::array<int, 15>;
Key key_of(const Conv2dShape& s) {
  return {s.N, s.H, s.W, s.C, s.K, s.R, s.S, s.stride_h, s.stride_w, s.pad_top, s.pad_left, s.pad_bottom,
          s.pad_right, s.OH, s.OW};
}

struct Cache {
  std::mutex mutex;
  std::map<Key, Plan> plans;
};
Cache& cache() {
  static auto* instance = new Cache;  // never destroyed: handles and descriptors outlive static users
  return *instance;
}

void destroy(Plan& p) {
  if (p.x) CXR_CUDNN_CHECK(cudnnDestroyTensorDescriptor(p.x));
  if (p.y) CXR_CUDNN_CHECK(cudnnDestroyTensorDescriptor(p.y));
  if (p.w) CXR_CUDNN_CHECK(cudnnDestroyFilterDescriptor(p.w));
  if (p.conv) CXR_CUDNN_CHECK(cudnnDestroyConvolutionDescriptor(p.conv));
}

Plan make_plan(const Conv2dShape& s) {  // call with the cache mutex held
  Plan p;
  if (s.pad_top != s.pad_bottom || s.pad_left != s.pad_right) return p;  // asymmetric: custom kernel
  CXR_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p.x));
  CXR_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p.y));
  CXR_CUDNN_CHECK(cudnnCreateFilterDescriptor(&p.w));
  CXR_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&p.conv));
  CXR_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p.x, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, s.N, s.C, s.H, s.W));
  CXR_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p.y, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, s.N, s.K, s.OH, s.OW));
  CXR_CUDNN_CHECK(cudnnSetFilter4dDescriptor(p.w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, s.K, s.C, s.R, s.S));
  CXR_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(p.conv, s.pad_top, s.pad_left, s.stride_h, s.stride_w, 1, 1,
                                                  CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  int n = 0, c = 0, h = 0, w = 0;
  CXR_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(p.conv, p.x, p.w, &n, &c, &h, &w));
  p.expressible = n == s.N && c == s.K && h == s.OH && w == s.OW;
  return p;
}

bool is_tensor_op(cudnnMathType_t m) { return m == CUDNN_TENSOR_OP_MATH || m == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION; }

// The rule of the file comment over one direction's timed results (fastest first).
template <class Perf>
Choice pick(const Perf* perf, int count, const vendor::VendorSettings& settings) {
  auto acceptable = [&](const Perf& p) {
    return p.status == CUDNN_STATUS_SUCCESS && (!settings.deterministic || p.determinism == CUDNN_DETERMINISTIC) &&
           (settings.allow_tf32 || !is_tensor_op(p.mathType));
  };
  for (int i = 0; i < count; ++i)
    if (acceptable(perf[i]) && perf[i].memory <= settings.workspace_cap_bytes)
      return {false, static_cast<int>(perf[i].algo), perf[i].memory, perf[i].mathType};
  for (int i = 0; i < count; ++i)
    if (acceptable(perf[i]) && perf[i].memory == 0) return {false, static_cast<int>(perf[i].algo), 0, perf[i].mathType};
  Choice custom;
  custom.use_custom = true;
  return custom;
}

// Scratch from the caching allocator, returned when the queued call no longer needs the pointer.
struct Workspace {
  void* ptr = nullptr;
  size_t bytes = 0;
  explicit Workspace(size_t wanted, bool may_shrink) {
    if (wanted == 0) return;
    try {
      ptr = cuda::device_alloc(wanted, "cuDNN convolution workspace");
      bytes = wanted;
    } catch (const std::runtime_error&) {
      if (!may_shrink) throw;  // the algorithm needs it: the out-of-memory message names the workspace
    }
  }
  ~Workspace() { cuda::device_free(ptr); }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
};

// Finds (once) and returns the choice for one direction. `find` runs cudnnFind*Ex with a workspace.
template <class Perf, class Find>
Choice choose(const Conv2dShape& s, Plan& plan, Direction d, Find find) {
  if (plan.found[d]) return plan.choice[d];
  const vendor::VendorSettings settings = vendor::settings();
  CXR_CUDNN_CHECK(cudnnSetConvolutionMathType(plan.conv, settings.allow_tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));
  Perf perf[16];
  int returned = 0;
  {
    Workspace search(settings.workspace_cap_bytes, true);  // without one, only no-workspace algorithms are timed
    find(search.ptr, search.bytes, perf, 16, &returned);
  }
  const Choice c = pick(perf, returned, settings);
  plan.choice[d] = c;
  plan.found[d] = true;
  std::ostringstream line;
  line << "cuDNN conv2d " << kDirectionNames[d] << " x[" << s.N << "," << s.H << "," << s.W << "," << s.C << "] w["
       << s.K << "," << s.R << "," << s.S << "," << s.C << "] stride " << s.stride_h << "x" << s.stride_w << " pad "
       << s.pad_top << "," << s.pad_left << ": ";
  if (c.use_custom) {
    line << "no acceptable algorithm, using the custom kernel";
  } else {
    float ms = 0;
    for (int i = 0; i < returned; ++i)
      if (static_cast<int>(perf[i].algo) == c.algo && perf[i].mathType == c.math) ms = perf[i].time;
    line << algorithm_name(d, c.algo) << ", workspace " << c.workspace << " B, " << ms << " ms, "
         << (is_tensor_op(c.math) ? "TF32 tensor ops" : "FP32") << (settings.deterministic ? ", deterministic" : "");
  }
  cuda::detail::log_vendor_choice(line.str());
  return c;
}

// The plan for a shape (built on first use); null when cuDNN cannot express it. The cache lock is
// held by the caller for as long as it uses the plan's choice fields.
Plan* plan_for(const Conv2dShape& s) {
  auto [it, inserted] = cache().plans.try_emplace(key_of(s));
  if (inserted) it->second = make_plan(s);
  return it->second.expressible ? &it->second : nullptr;
}

}  // namespace

namespace cuda::detail {
void clear_conv_algorithm_cache() {
  std::lock_guard lock(cache().mutex);
  for (auto& [key, plan] : cache().plans) destroy(plan);
  cache().plans.clear();
}
}  // namespace cuda::detail

namespace vendor {

namespace {
std::atomic<int64_t> g_custom_fallbacks{0};
}  // namespace

int64_t conv2d_custom_fallbacks() { return g_custom_fallbacks.load(); }

void conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* bias_or_null, float* y) {
  cudnnHandle_t handle = cuda::detail::cudnn_handle();
  std::unique_lock lock(cache().mutex);
  Plan* plan = plan_for(s);
  if (!plan) return ++g_custom_fallbacks, lock.unlock(), cuda::conv2d_forward(s, x, w, bias_or_null, y);
  // Find writes y: it runs before the bias is put there.
  const Choice c = choose<cudnnConvolutionFwdAlgoPerf_t>(s, *plan, kForward, [&](void* ws, size_t bytes, auto* perf,
                                                                                   int n, int* returned) {
    CXR_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(handle, plan->x, x, plan->w, w, plan->conv, plan->y, y, n,
                                                           returned, perf, ws, bytes));
  });
  if (c.use_custom) return ++g_custom_fallbacks, lock.unlock(), cuda::conv2d_forward(s, x, w, bias_or_null, y);
  CXR_CUDNN_CHECK(cudnnSetConvolutionMathType(plan->conv, c.math));
  if (bias_or_null) cuda::detail::fill_rows(static_cast<int64_t>(s.N) * s.OH * s.OW, s.K, bias_or_null, y);
  const float alpha = 1.0f, beta = bias_or_null ? 1.0f : 0.0f;  // y = conv + bias already in y
  Workspace ws(c.workspace, false);
  CXR_CUDNN_CHECK(cudnnConvolutionForward(handle, &alpha, plan->x, x, plan->w, w, plan->conv,
                                          static_cast<cudnnConvolutionFwdAlgo_t>(c.algo), ws.ptr, ws.bytes, &beta,
                                          plan->y, y));
}

void conv2d_backward(const Conv2dShape& s, const float* x, const float* w, const float* dy, float* dx_or_null,
                     float* dw_or_null, float* dbias_or_null) {
  cudnnHandle_t handle = cuda::detail::cudnn_handle();
  std::unique_lock lock(cache().mutex);
  Plan* plan = plan_for(s);
  if (!plan) {
    g_custom_fallbacks += (dx_or_null ? 1 : 0) + (dw_or_null ? 1 : 0);  // dbias is never cuDNN's
    return lock.unlock(), cuda::conv2d_backward(s, x, w, dy, dx_or_null, dw_or_null, dbias_or_null);
  }
  if (dbias_or_null) cuda::detail::column_sums(static_cast<int64_t>(s.N) * s.OH * s.OW, s.K, dy, dbias_or_null);
  const float alpha = 1.0f, beta = 0.0f;
  if (dx_or_null) {
    const Choice c = choose<cudnnConvolutionBwdDataAlgoPerf_t>(
        s, *plan, kBackwardData, [&](void* ws, size_t bytes, auto* perf, int n, int* returned) {
          CXR_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(handle, plan->w, w, plan->y, dy, plan->conv,
                                                                      plan->x, dx_or_null, n, returned, perf, ws, bytes));
        });
    if (c.use_custom) {
      ++g_custom_fallbacks;
      cuda::conv2d_backward(s, x, w, dy, dx_or_null, nullptr, nullptr);
    } else {
      CXR_CUDNN_CHECK(cudnnSetConvolutionMathType(plan->conv, c.math));
      Workspace ws(c.workspace, false);
      CXR_CUDNN_CHECK(cudnnConvolutionBackwardData(handle, &alpha, plan->w, w, plan->y, dy, plan->conv,
                                                   static_cast<cudnnConvolutionBwdDataAlgo_t>(c.algo), ws.ptr,
                                                   ws.bytes, &beta, plan->x, dx_or_null));
    }
  }
  if (dw_or_null) {
    const Choice c = choose<cudnnConvolutionBwdFilterAlgoPerf_t>(
        s, *plan, kBackwardFilter, [&](void* ws, size_t bytes, auto* perf, int n, int* returned) {
          CXR_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(handle, plan->x, x, plan->y, dy, plan->conv,
                                                                        plan->w, dw_or_null, n, returned, perf, ws,
                                                                        bytes));
        });
    if (c.use_custom) {
      ++g_custom_fallbacks;
      cuda::conv2d_backward(s, x, w, dy, nullptr, dw_or_null, nullptr);
    } else {
      CXR_CUDNN_CHECK(cudnnSetConvolutionMathType(plan->conv, c.math));
      Workspace ws(c.workspace, false);
      CXR_CUDNN_CHECK(cudnnConvolutionBackwardFilter(handle, &alpha, plan->x, x, plan->y, dy, plan->conv,
                                                     static_cast<cudnnConvolutionBwdFilterAlgo_t>(c.algo), ws.ptr,
                                                     ws.bytes, &beta, plan->w, dw_or_null));
    }
  }
}

}  // namespace vendor
}  // namespace cxr::kernels

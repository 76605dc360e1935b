// A CPU emulation of the few CUDA features our hand-written kernels use, so that their source runs
// in CI, where there is no GPU. tests/emulated/emulate_cuda_source.py rewrites each kernel file's
// launches `kernel<<<grid, block, shared, stream>>>(args)` into `emu::launch([&] { kernel(args); },
// grid, block, ...)` and includes this header in place of the CUDA runtime's.
//
// Every CUDA thread of a block is a std::thread; the blocks of a grid run one after another.
// __syncthreads is a barrier of the block's threads, __shfl_xor_sync a barrier of the warp's 32
// threads around a slot array, and __shared__ variables are statics (one block at a time, so one copy
// suffices); a launch's dynamic shared memory (`extern __shared__`) is a buffer per block. The device
// is the host: "device" pointers are host pointers, allocations are calloc. What this checks is the
// index arithmetic, the barriers' placement and the results; it says nothing about speed, coalescing
// or bank conflicts, and a race between threads may or may not show.
//
// Cooperative launches (cudaLaunchKernelEx with the cooperative attribute: batch norm's resident
// kernels, whose blocks wait for each other at grid-wide barriers) start every block's threads at
// once, and still run the blocks one at a time, in turns: block 0 until each of its threads waits at
// the grid barrier or has returned, then block 1, and so on, then block 0 again past the barrier. A
// kernel may so keep nothing in static __shared__ arrays across a grid barrier (another block's turn
// overwrites them); its dynamic shared memory is its own. The emulated GPU (emu::kDevice) is small,
// so that the resident kernels decline, keep chunks whole and keep them in part, all at test sizes.
#pragma once

#include <algorithm>
#include <atomic>
#include <barrier>
#include <condition_variable>
#include <mutex>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct uint3 {
  unsigned x, y, z;
};
inline thread_local uint3 threadIdx, blockIdx;
inline thread_local dim3 blockDim, gridDim;
using cudaStream_t = int;

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))

struct float2 {
  float x, y;
};
struct float4 {
  float x, y, z, w;
};
inline float2 make_float2(float a, float b) { return {a, b}; }
inline float4 make_float4(float a, float b, float c, float d) { return {a, b, c, d}; }
using std::max;
using std::min;
using std::sqrt;
// Round-to-nearest arithmetic without contraction (the tests build with -ffp-contract=off).
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dsub_rn(double a, double b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }
// Streaming (evict-first) loads and stores are plain ones: the emulator has no cache.
template <class T>
T __ldcs(const T* p) {
  return *p;
}
template <class T>
void __stcs(T* p, T value) {
  *p = value;
}

namespace emu {

struct Warp {
  std::unique_ptr<std::barrier<>> barrier;
  unsigned char slot[32][8];
};
inline std::barrier<>* block_barrier = nullptr;
inline std::vector<Warp>* block_warps = nullptr;
inline thread_local int linear_thread = 0;

// The block's dynamic shared memory (`extern __shared__ T name[]`, rewritten to a call of this):
// arrives full of NaNs (all bits set), as a GPU's never arrives zeroed.
inline thread_local unsigned char* dynamic_shared_memory = nullptr;
template <class T>
T* dynamic_shared() {
  return reinterpret_cast<T*>(dynamic_shared_memory);
}

// cp.async copies a thread has started (kernels/cuda/async_copy.h): made at its wait, not before, so
// a kernel that reads shared memory before waiting reads stale bytes here, as it may on a GPU.
struct PendingCopy {
  void* dst;
  const void* src;  // nullptr: zero-fill
  size_t bytes;
};
inline thread_local std::vector<PendingCopy> pending_copies;

inline int checked_threads(dim3 grid, dim3 block) {
  const int threads = static_cast<int>(block.x * block.y * block.z);
  if (threads <= 0 || threads > 1024 || grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.y > 65535 ||
      grid.z > 65535) {
    std::fprintf(stderr, "emulated launch: invalid configuration grid %u,%u,%u block %u,%u,%u\n", grid.x, grid.y,
                 grid.z, block.x, block.y, block.z);
    std::abort();
  }
  return threads;
}

inline void check_copies_waited_for() {
  if (!pending_copies.empty()) {
    std::fprintf(stderr, "emulated launch: a thread ended with cp.async copies it never waited for\n");
    std::abort();
  }
}

// Runs kernel() once per thread of every block of `grid`; returns when all have finished.
template <class Kernel>
void launch(Kernel kernel, dim3 grid, dim3 block, size_t shared_bytes = 0, cudaStream_t = 0) {
  const int threads = checked_threads(grid, block);
  std::vector<unsigned char> shared(shared_bytes, 0xff);  // one block at a time: one buffer
  std::barrier<> barrier(threads);
  std::vector<Warp> warps(static_cast<size_t>((threads + 31) / 32));
  for (size_t w = 0; w < warps.size(); ++w)
    warps[w].barrier = std::make_unique<std::barrier<>>(std::min(32, threads - static_cast<int>(w) * 32));
  block_barrier = &barrier;
  block_warps = &warps;
  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(threads));
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      linear_thread = t;
      threadIdx = {t % block.x, (t / block.x) % block.y, t / (block.x * block.y)};
      blockDim = block;
      gridDim = grid;
      dynamic_shared_memory = shared.data();
      for (unsigned bz = 0; bz < grid.z; ++bz)
        for (unsigned by = 0; by < grid.y; ++by)
          for (unsigned bx = 0; bx < grid.x; ++bx) {
            blockIdx = {bx, by, bz};
            kernel();
            check_copies_waited_for();
            barrier.arrive_and_wait();  // the block's shared memory is the next block's
          }
    });
  for (std::thread& thread : pool) thread.join();
}

// The GPU a cooperative launch is planned for (the runtime calls below answer from it): 2 SMs that
// hold 2 resident blocks each, with 16 KB of dynamic shared memory a block.
struct Device {
  int sms = 2, blocks_per_sm = 2;
  int static_shared = 4096, reserved_shared = 1024, dynamic_shared = 16384;
};
inline constexpr Device kDevice{};

// Whose turn it is in a cooperative launch (see the top of this file): ticket round * blocks + block.
class CooperativeGrid {
 public:
  CooperativeGrid(int blocks, int threads) : blocks_(blocks), threads_(threads), parked_(blocks), returned_(blocks) {}
  void wait_turn(int block, int64_t round) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return turn_ == round * blocks_ + block; });
  }
  // The calling thread of `block` is done with this round: parked at the grid barrier, or returned.
  // The last of the block's threads to be so hands the turn on.
  void leave_turn(int block, bool returned) {
    std::lock_guard lock(mutex_);
    ++(returned ? returned_ : parked_)[static_cast<size_t>(block)];
    if (parked_[static_cast<size_t>(block)] + returned_[static_cast<size_t>(block)] < threads_) return;
    parked_[static_cast<size_t>(block)] = 0;
    for (int i = 0; i < blocks_; ++i)  // the next block that has threads left (none, at the end)
      if (returned_[static_cast<size_t>(++turn_ % blocks_)] < threads_) break;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  const int blocks_, threads_;
  int64_t turn_ = 0;
  std::vector<int> parked_, returned_;
};
inline thread_local CooperativeGrid* cooperative_grid = nullptr;
inline thread_local int64_t cooperative_round = 0;

// cooperative_groups' grid.sync().
inline void grid_sync() {
  if (cooperative_grid == nullptr) {
    std::fprintf(stderr, "emulated grid.sync(): the kernel was not launched cooperatively\n");
    std::abort();
  }
  cooperative_grid->leave_turn(static_cast<int>(blockIdx.x), false);
  cooperative_grid->wait_turn(static_cast<int>(blockIdx.x), ++cooperative_round);
}

// A cooperative launch of a 1-D grid: every block's threads at once, the blocks in turns.
template <class Kernel>
void launch_cooperative(Kernel kernel, dim3 grid, dim3 block, size_t shared_bytes) {
  const int threads = checked_threads(grid, block);
  if (grid.y != 1 || grid.z != 1) std::abort();  // our cooperative kernels have 1-D grids
  const int blocks = static_cast<int>(grid.x);
  std::barrier<> barrier(threads);  // one block runs at a time: one barrier and one set of warps
  std::vector<Warp> warps(static_cast<size_t>((threads + 31) / 32));
  for (size_t w = 0; w < warps.size(); ++w)
    warps[w].barrier = std::make_unique<std::barrier<>>(std::min(32, threads - static_cast<int>(w) * 32));
  block_barrier = &barrier;
  block_warps = &warps;
  CooperativeGrid turns(blocks, threads);
  std::vector<std::vector<unsigned char>> shared(static_cast<size_t>(blocks),
                                                 std::vector<unsigned char>(shared_bytes, 0xff));
  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(blocks) * threads);
  for (int b = 0; b < blocks; ++b)
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, b, t] {
        linear_thread = t;
        threadIdx = {t % block.x, (t / block.x) % block.y, t / (block.x * block.y)};
        blockIdx = {static_cast<unsigned>(b), 0, 0};
        blockDim = block;
        gridDim = grid;
        dynamic_shared_memory = shared[static_cast<size_t>(b)].data();
        cooperative_grid = &turns;
        cooperative_round = 0;
        turns.wait_turn(b, 0);
        kernel();
        check_copies_waited_for();
        turns.leave_turn(b, true);
        cooperative_grid = nullptr;
      });
  for (std::thread& thread : pool) thread.join();
}

}  // namespace emu

inline void __syncthreads() { emu::block_barrier->arrive_and_wait(); }

template <class T>
T __shfl_xor_sync(unsigned mask, T value, int lane_mask) {
  static_assert(sizeof(T) <= 8, "one slot per lane");
  if (mask != 0xffffffffu) std::abort();  // our kernels shuffle whole warps only
  const int lane = emu::linear_thread % 32;
  emu::Warp& warp = (*emu::block_warps)[static_cast<size_t>(emu::linear_thread / 32)];
  std::memcpy(warp.slot[lane], &value, sizeof(T));
  warp.barrier->arrive_and_wait();
  T other;
  std::memcpy(&other, warp.slot[lane ^ lane_mask], sizeof(T));
  warp.barrier->arrive_and_wait();  // every lane has read before the slots are reused
  return other;
}

template <class T>
T __shfl_down_sync(unsigned mask, T value, unsigned delta) {
  static_assert(sizeof(T) <= 8, "one slot per lane");
  if (mask != 0xffffffffu) std::abort();
  const int lane = emu::linear_thread % 32;
  emu::Warp& warp = (*emu::block_warps)[static_cast<size_t>(emu::linear_thread / 32)];
  std::memcpy(warp.slot[lane], &value, sizeof(T));
  warp.barrier->arrive_and_wait();
  T other = value;  // a lane past the warp's end keeps its own value, as on the GPU
  if (lane + static_cast<int>(delta) < 32) std::memcpy(&other, warp.slot[lane + delta], sizeof(T));
  warp.barrier->arrive_and_wait();
  return other;
}

// The runtime calls batch norm's resident kernels plan and launch with, answered from emu::kDevice.
using cudaError_t = int;
inline constexpr cudaError_t cudaSuccess = 0, cudaErrorCooperativeLaunchTooLarge = 720;
enum cudaDeviceAttr {
  cudaDevAttrCooperativeLaunch,
  cudaDevAttrMultiProcessorCount,
  cudaDevAttrMaxSharedMemoryPerMultiprocessor,
  cudaDevAttrMaxSharedMemoryPerBlockOptin,
  cudaDevAttrReservedSharedMemoryPerBlock
};
inline cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attribute, int) {
  constexpr emu::Device d = emu::kDevice;
  switch (attribute) {
    case cudaDevAttrCooperativeLaunch: *value = 1; break;
    case cudaDevAttrMultiProcessorCount: *value = d.sms; break;
    case cudaDevAttrMaxSharedMemoryPerMultiprocessor:
      *value = d.blocks_per_sm * (d.dynamic_shared + d.static_shared + d.reserved_shared);
      break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = d.dynamic_shared + d.static_shared; break;
    case cudaDevAttrReservedSharedMemoryPerBlock: *value = d.reserved_shared; break;
  }
  return cudaSuccess;
}
struct cudaFuncAttributes {
  size_t sharedSizeBytes = 0;
};
template <class Kernel>
cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* attributes, Kernel) {
  attributes->sharedSizeBytes = static_cast<size_t>(emu::kDevice.static_shared);
  return cudaSuccess;
}
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize, cudaFuncAttributePreferredSharedMemoryCarveout };
inline constexpr int cudaSharedmemCarveoutMaxShared = 100;
template <class Kernel>
cudaError_t cudaFuncSetAttribute(Kernel, cudaFuncAttribute, int) {
  return cudaSuccess;
}
template <class Kernel>
cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int* blocks, Kernel, int, size_t dynamic_shared) {
  *blocks = dynamic_shared <= static_cast<size_t>(emu::kDevice.dynamic_shared) ? emu::kDevice.blocks_per_sm : 0;
  return cudaSuccess;
}
inline cudaError_t cudaGetLastError() { return cudaSuccess; }
enum cudaLaunchAttributeID { cudaLaunchAttributeCooperative };
struct cudaLaunchAttribute {
  cudaLaunchAttributeID id;
  struct {
    int cooperative;
  } val;
};
struct cudaLaunchConfig_t {
  dim3 gridDim, blockDim;
  size_t dynamicSmemBytes = 0;
  cudaStream_t stream = 0;
  cudaLaunchAttribute* attrs = nullptr;
  unsigned numAttrs = 0;
};
// A cooperative launch the GPU cannot hold at once is refused, as the runtime refuses it.
template <class... Parameters, class... Arguments>
cudaError_t cudaLaunchKernelEx(const cudaLaunchConfig_t* config, void (*kernel)(Parameters...),
                               Arguments&&... arguments) {
  bool cooperative = false;
  for (unsigned i = 0; i < config->numAttrs; ++i)
    cooperative |= config->attrs[i].id == cudaLaunchAttributeCooperative && config->attrs[i].val.cooperative;
  const auto run = [&] { kernel(arguments...); };
  if (!cooperative) {
    emu::launch(run, config->gridDim, config->blockDim, config->dynamicSmemBytes);
    return cudaSuccess;
  }
  if (static_cast<int64_t>(config->gridDim.x) > int64_t{emu::kDevice.sms} * emu::kDevice.blocks_per_sm)
    return cudaErrorCooperativeLaunchTooLarge;
  emu::launch_cooperative(run, config->gridDim, config->blockDim, config->dynamicSmemBytes);
  return cudaSuccess;
}
namespace cooperative_groups {
struct grid_group {
  void sync() const { emu::grid_sync(); }
};
inline grid_group this_grid() { return {}; }
}  // namespace cooperative_groups

// What kernels/cuda/async_copy.h, check.h, current_device.h, launch.h and runtime.h give the kernel files.
#define CXR_CUDA_CHECK_LAST() ((void)0)
#define CXR_CUDA_CHECK(call)                                        \
  do {                                                              \
    if ((call) != cudaSuccess) {                                    \
      std::fprintf(stderr, "emulated %s failed\n", #call);          \
      std::abort();                                                 \
    }                                                               \
  } while (0)
namespace cxr::kernels::cuda {
inline cudaStream_t stream() { return 0; }
// Scratch arrives full of NaNs (all bits set), as a GPU's never arrives zeroed: a kernel that reads
// what nothing wrote shows in the results.
inline void* device_alloc(size_t bytes, const std::string&) {
  return bytes ? std::memset(std::malloc(bytes), 0xff, bytes) : nullptr;
}
inline void device_free(void* p) { std::free(p); }
inline void copy_device_to_device(void* dst, const void* src, size_t bytes) { std::memmove(dst, src, bytes); }
namespace detail {
inline int current_device(const char*) { return 0; }
inline constexpr int kBlockThreads = 256;
// Few blocks, so that the grid-stride loops go round several times.
inline int grid_size(int64_t items, int block_threads = kBlockThreads) {
  return static_cast<int>(std::clamp<int64_t>((items + block_threads - 1) / block_threads, 1, 3));
}
inline bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }
template <int kBytes>
void copy_async(void* shared_dst, const void* global_src, bool valid) {
  emu::pending_copies.push_back({shared_dst, valid ? global_src : nullptr, static_cast<size_t>(kBytes)});
}
inline void copy_async_wait_all() {
  for (const emu::PendingCopy& c : emu::pending_copies)
    c.src ? std::memcpy(c.dst, c.src, c.bytes) : std::memset(c.dst, 0, c.bytes);
  emu::pending_copies.clear();
}
}  // namespace detail
}  // namespace cxr::kernels::cuda

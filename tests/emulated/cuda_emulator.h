// A CPU emulation of the few CUDA features our hand-written kernels use, so that their source runs
// in CI, where there is no GPU. tests/emulated/emulate_cuda_source.py rewrites each kernel file's
// launches `kernel<<<grid, block, shared, stream>>>(args)` into `emu::launch([&] { kernel(args); },
// grid, block, ...)` and includes this header in place of the CUDA runtime's.
//
// Every CUDA thread of a block is a std::thread; the blocks of a grid run one after another (so a
// kernel that waits on another block would hang here: ours never do). __syncthreads is a barrier of
// the block's threads, __shfl_xor_sync a barrier of the warp's 32 threads around a slot array, and
// __shared__ variables are statics (one block at a time, so one copy suffices). The device is the
// host: "device" pointers are host pointers, allocations are calloc. What this checks is the index
// arithmetic, the barriers' placement and the results; it says nothing about speed, coalescing or
// bank conflicts, and a race between threads may or may not show.
#pragma once

#include <algorithm>
#include <atomic>
#include <barrier>
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

namespace emu {

struct Warp {
  std::unique_ptr<std::barrier<>> barrier;
  unsigned char slot[32][8];
};
inline std::barrier<>* block_barrier = nullptr;
inline std::vector<Warp>* block_warps = nullptr;
inline thread_local int linear_thread = 0;

// cp.async copies a thread has started (kernels/cuda/async_copy.h): made at its wait, not before, so
// a kernel that reads shared memory before waiting reads stale bytes here, as it may on a GPU.
struct PendingCopy {
  void* dst;
  const void* src;  // nullptr: zero-fill
  size_t bytes;
};
inline thread_local std::vector<PendingCopy> pending_copies;

// Runs kernel() once per thread of every block of `grid`; returns when all have finished.
template <class Kernel>
void launch(Kernel kernel, dim3 grid, dim3 block, size_t = 0, cudaStream_t = 0) {
  const int threads = static_cast<int>(block.x * block.y * block.z);
  if (threads <= 0 || threads > 1024 || grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.y > 65535 ||
      grid.z > 65535) {
    std::fprintf(stderr, "emulated launch: invalid configuration grid %u,%u,%u block %u,%u,%u\n", grid.x, grid.y,
                 grid.z, block.x, block.y, block.z);
    std::abort();
  }
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
      for (unsigned bz = 0; bz < grid.z; ++bz)
        for (unsigned by = 0; by < grid.y; ++by)
          for (unsigned bx = 0; bx < grid.x; ++bx) {
            blockIdx = {bx, by, bz};
            kernel();
            if (!pending_copies.empty()) {
              std::fprintf(stderr, "emulated launch: a thread ended with cp.async copies it never waited for\n");
              std::abort();
            }
            barrier.arrive_and_wait();  // the block's shared memory is the next block's
          }
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

// What kernels/cuda/async_copy.h, check.h, launch.h and runtime.h give the kernel files.
#define CXR_CUDA_CHECK_LAST() ((void)0)
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

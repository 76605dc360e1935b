// Launch shapes for our grid-stride kernels (host code).
#pragma once

#include <cstdint>

namespace cxr::kernels::cuda::detail {

// 256 threads: a multiple of the warp, and 8 blocks fill an SM of 2048 threads (A100, H100).
inline constexpr int kBlockThreads = 256;

// Blocks for a grid-stride loop over `items` work items: one item per thread while that is fewer
// blocks than the current GPU can hold at once, else exactly that many (one full wave; each thread
// then loops). At least 1.
int grid_size(int64_t items, int block_threads = kBlockThreads);

// Whether a kernel may move float4s through p: 16-byte aligned (whole tensors from device_alloc
// always are; views at an offset may not be). nullptr counts as aligned.
inline bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace cxr::kernels::cuda::detail

// cp.async (sm_80 and later): copies from global to shared memory that the thread issues and does
// not wait for. Unlike a load into registers and a store from them, the bytes in flight hold no
// register, so the compiler cannot trade the copy's early issue for registers: big_sgemm.cuh's
// register-staged "prefetch" was scheduled by ptxas after the step's arithmetic, its loads' latency
// exposed every k-step (SASS, 2026-11-26), when the kernel sat at its 128-register limit.
// tests/emulated/cuda_emulator.h stands in for this header with copies deferred to the wait.
#pragma once

namespace cxr::kernels::cuda::detail {

// Starts copying kBytes (4 or 16, aligned) from global_src to shared_dst; when !valid nothing is read
// and kBytes zeros are written (global_src may then point anywhere: it is not read). The bytes are
// there after copy_async_wait_all().
template <int kBytes>
__device__ __forceinline__ void copy_async(void* shared_dst, const void* global_src, bool valid) {
  static_assert(kBytes == 4 || kBytes == 16, "cp.async copies 4, 8 or 16 bytes; these kernels use 4 and 16");
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(shared_dst));
  const int src_bytes = valid ? kBytes : 0;  // fewer source bytes than kBytes: the rest are zeros
  if constexpr (kBytes == 16)  // .cg: through L2 only; 4-byte copies must use .ca
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(global_src), "r"(src_bytes));
  else
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(dst), "l"(global_src), "r"(src_bytes));
#else  // older GPUs: an ordinary copy
  if constexpr (kBytes == 16)
    *static_cast<float4*>(shared_dst) = valid ? *static_cast<const float4*>(global_src) : float4{};
  else
    *static_cast<float*>(shared_dst) = valid ? *static_cast<const float*>(global_src) : 0.0f;
#endif
}

// Waits until every copy this thread started has landed (other threads' copies need a barrier too).
__device__ __forceinline__ void copy_async_wait_all() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_all;\n" ::: "memory");
#endif
}

}  // namespace cxr::kernels::cuda::detail

// CXR_TARGET_CLONES("avx2", "default"): GCC's target_clones, one body compiled per target and the
// best the CPU has picked when the program loads (an ifunc resolver the dynamic loader calls).
// Under ThreadSanitizer (-DCXR_SANITIZE=thread) the default body only: the resolvers, instrumented,
// call into TSan's runtime before it is up, and the program crashed before main.
#pragma once

#if defined(__SANITIZE_THREAD__)
#define CXR_TARGET_CLONES(...)
#else
#define CXR_TARGET_CLONES(...) __attribute__((target_clones(__VA_ARGS__)))
#endif

// Read-bandwidth probes (benchmarks/cuda/read_probes.cu): kernels that only read a float array and
// add it up, in the ways a read-heavy kernel can keep bytes in flight. They measure what a read pass
// of batch norm's size can reach on this GPU, the floor under its statistics phase (about 16 us for
// experiment 3's first batch norm, 31.5 MB, where the copy ceiling would allow about 10.5), and which
// way of loading gets there: the copy ceiling times reads and writes together, and no kernel of ours
// that only reads had passed 2.0 TB/s (cuda::sum, batch norm's partial sums) while copies and relu
// ran at 3.0-3.1. Timed by bench_read_probes.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cxr::bench::probes {

// How a probe reads:
//   registers: each thread loads `unroll` float4s (16 bytes each) into registers, then adds them,
//     over the whole array in a grid-stride loop (blocks_per_sm = 0: as many blocks as the GPU
//     holds at once) or over its block's contiguous chunk (chunked, batch norm's layout);
//   bulk: one thread of each block asks the copy engine (cp.async.bulk, sm_90) for the block's chunk,
//     `stages` tiles of `tile_bytes` in flight in shared memory, and the block adds each tile as it lands:
//     bytes in flight without registers.
// shifted_double: the additions are batch norm's statistics (double d = x - 0.5; sums of d and d * d),
// to see what its float-to-double conversions and double additions cost a read pass.
struct ReadProbe {
  std::string name;
  bool bulk = false;
  int unroll = 1;          // registers
  bool chunked = false;    // registers
  bool shifted_double = false;
  int blocks_per_sm = 0;   // 0: all the blocks that fit (registers, grid-stride only)
  int stages = 4;          // bulk
  int tile_bytes = 16384;  // bulk
};

const std::vector<ReadProbe>& read_probes();

// A probe's launch over n floats (a multiple of 4), worked out once: the device queries and the
// kernel attributes stay out of the timed launches. Throws when the GPU cannot run it (bulk copies
// before sm_90).
struct PreparedProbe {
  ReadProbe probe;
  int64_t n = 0;
  int blocks = 0;      // and so the partial sums
  int64_t chunk = 0;   // float4s a block (chunked and bulk probes)
  size_t shared_bytes = 0;
};
PreparedProbe prepare_read_probe(const ReadProbe& probe, int64_t n);

// Queues the probe over x[0..n) (x 16-byte aligned); partials: `blocks` doubles, whose total is sum(x).
void run_read_probe(const PreparedProbe& prepared, const float* x, double* partials);

// Set by a bulk probe that waited over a second for a tile (a protocol error, not a slow GPU): the
// probe then gives up instead of hanging, and its sum is wrong. Reads and clears the flag.
bool read_probe_timed_out();

}  // namespace cxr::bench::probes

// The read-bandwidth probes (read_probes.h) at experiment 3's first batch norm's size (31.5 MB), at
// 16M floats and at the copy ceiling's 512 MiB, in GB/s of bytes read: what a pass that only reads
// reaches on this GPU, and how it must hold its bytes in flight to get there. Each probe's sum is
// checked against the exact one first; a bulk probe whose tiles never arrive is reported, not timed.
#include <cmath>
#include <map>
#include <memory>
#include <string>

#include "benchmarks/cuda/gpu_timing.h"
#include "benchmarks/cuda/read_probes.h"
#include "kernels/cuda/runtime.h"

namespace cxr::bench {
namespace {

// x[i] = k / 65536 for a hash k < 65536 of i: exact in float, so the sum in double is exact and a
// probe's float partial sums stay within a few units in 2^24 of it.
struct ProbeInput {
  std::unique_ptr<DeviceBuffer> x;
  double sum = 0.0;
};

const ProbeInput& probe_input(int64_t n) {
  // Built once per size (512 MiB takes a while) and never freed: a static's destructor would hand its
  // device memory back after the runtime has shut down.
  static auto* inputs = new std::map<int64_t, ProbeInput>;
  ProbeInput& in = (*inputs)[n];
  if (!in.x) {
    std::vector<float> host(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      uint32_t h = static_cast<uint32_t>(i) * 2654435761u;
      h ^= h >> 16;
      host[static_cast<size_t>(i)] = static_cast<float>(h & 0xffffu) / 65536.0f;
      in.sum += host[static_cast<size_t>(i)];
    }
    in.x = std::make_unique<DeviceBuffer>(host);
  }
  return in;
}

struct DevicePartials {
  explicit DevicePartials(int count)
      : count(count),
        ptr(static_cast<double*>(
            kernels::cuda::device_alloc(sizeof(double) * static_cast<size_t>(count), "probe partials"))) {}
  ~DevicePartials() { kernels::cuda::device_free(ptr); }
  DevicePartials(const DevicePartials&) = delete;
  DevicePartials& operator=(const DevicePartials&) = delete;
  double total() const {
    std::vector<double> host(static_cast<size_t>(count));
    kernels::cuda::copy_device_to_host(host.data(), ptr, sizeof(double) * host.size());
    double t = 0.0;
    for (double v : host) t += v;
    return t;
  }
  int count;
  double* ptr;
};

void read_probe(benchmark::State& state, const probes::ReadProbe& probe, int64_t n) {
  const ProbeInput& in = probe_input(n);
  const probes::PreparedProbe prepared = probes::prepare_read_probe(probe, n);
  DevicePartials partials(prepared.blocks);
  const auto run = [&] { probes::run_read_probe(prepared, in.x->get(), partials.ptr); };
  run();
  const double got = partials.total();
  if (probes::read_probe_timed_out()) {
    state.SkipWithError("a tile never arrived (the bulk copies' barriers): not timed");
    return;
  }
  // The float partial sums round by about 1e-8 of the total at 512 MiB; one element left out is 1.3e-7
  // of it at e3_bn1's size.
  if (!(std::abs(got - in.sum) <= 1e-7 * in.sum)) {  // a NaN sum fails too
    state.SkipWithError(("sum " + std::to_string(got) + " against " + std::to_string(in.sum) + ": not timed").c_str());
    return;
  }
  time_gpu(state, {0, 4.0 * static_cast<double>(n)}, run);
  if (probes::read_probe_timed_out()) state.SkipWithError("a tile never arrived while timed");
}

const bool registered = [] {
  int64_t bn1 = 0;
  for (const RowsCase& c : batchnorm_cases())
    if (std::string(c.name) == "e3_bn1") bn1 = c.M * c.C;
  const SizeCase sizes[] = {{"e3_bn1", bn1}, {"n16M", int64_t{1} << 24}, {"n128M", int64_t{1} << 27}};
  for (const probes::ReadProbe& p : probes::read_probes())
    for (const SizeCase& s : sizes)
      add("read_probe/" + p.name + "/" + s.name, [&p, n = s.n](benchmark::State& st) {
        if (require_gpu(st)) read_probe(st, p, n);
      });
  return true;
}();

}  // namespace
}  // namespace cxr::bench

// Peer GEMM driver for `npm run bench`: times oneDNN's matmul (the system libdnnl, e.g. Debian's
// libdnnl-dev) on the bench's shapes. Built by bench/peers/onednn.ts at run time with
//   g++ -O2 -std=c++17 onednn_gemm.cc -ldnnl
// Usage: onednn_gemm <repeats> <precision:M:K:N>...   (precision f32 | bf16)
// Prints one line per shape: "<precision> <M> <K> <N> <median seconds>".
// y[M, N] = x[M, K] · W[N, K]ᵀ like the engine's linear: W is stored [N, K] row-major, i.e. the
// [K, N] weights operand in the `ba` layout. bf16: bf16 src and weights, f32 accumulation and dst.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"

using namespace dnnl;

static double run_shape(engine& eng, stream& s, bool bf16, long m, long k, long n, int repeats) {
  auto dt = bf16 ? memory::data_type::bf16 : memory::data_type::f32;
  memory::desc src_md({m, k}, dt, memory::format_tag::ab);
  memory::desc wei_md({k, n}, dt, memory::format_tag::ba);
  memory::desc dst_md({m, n}, memory::data_type::f32, memory::format_tag::ab);
  matmul::primitive_desc pd(matmul::desc(src_md, wei_md, dst_md), eng);
  memory src(src_md, eng), wei(wei_md, eng), dst(dst_md, eng);
  // Fill with small values (bit patterns valid for both types).
  auto fill = [](memory& mem, bool half) {
    size_t bytes = mem.get_desc().get_size();
    if (half) {
      auto* p = static_cast<uint16_t*>(mem.get_data_handle());
      for (size_t i = 0; i < bytes / 2; ++i) p[i] = 0x3c00 + (i % 64);  // ~0.008 .. 0.012 in bf16
    } else {
      auto* p = static_cast<float*>(mem.get_data_handle());
      for (size_t i = 0; i < bytes / 4; ++i) p[i] = 0.01f * static_cast<float>(i % 17);
    }
  };
  fill(src, bf16);
  fill(wei, bf16);
  matmul mm(pd);
  auto once = [&] {
    mm.execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}});
    s.wait();
  };
  once();
  std::vector<double> ts;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    once();
    ts.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ts.begin(), ts.end());
  return ts[ts.size() / 2];
}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s <repeats> <f32|bf16:M:K:N>...\n", argv[0]);
    return 2;
  }
  int repeats = std::max(1, std::atoi(argv[1]));
  engine eng(engine::kind::cpu, 0);
  stream s(eng);
  for (int i = 2; i < argc; ++i) {
    char prec[8] = {0};
    long m, k, n;
    if (std::sscanf(argv[i], "%7[^:]:%ld:%ld:%ld", prec, &m, &k, &n) != 4) {
      std::fprintf(stderr, "bad shape %s\n", argv[i]);
      return 2;
    }
    bool bf16 = std::strcmp(prec, "bf16") == 0;
    try {
      double sec = run_shape(eng, s, bf16, m, k, n, repeats);
      std::printf("%s %ld %ld %ld %.9f\n", prec, m, k, n, sec);
    } catch (const dnnl::error& e) {
      std::printf("%s %ld %ld %ld error\n", prec, m, k, n);
    }
    std::fflush(stdout);
  }
  return 0;
}

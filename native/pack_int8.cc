// PackFmt::INT8: quantisation (pack), and linear over the packed weight (layout and kernels:
// pack_int8-inl.h).
//
// Scheme (identical to packWeightReference "int8" in src/kernels/reference.ts): symmetric, one f32
// scale per group of G consecutive input (k) values of each output row (G = 32, 64 or 128; the
// last group of a row is shorter when G does not divide K): s = f32(max |W| over the group / 127),
// q = round-half-up(f32(W / s)) in [-127, 127]. The input rows are quantised to int16 per group
// (quant_x: scales sx, values qx), so y[n] = sum_g s[n][g] sx[g] (qx . q[n]) over group g.
// Decode (m <= 16, every m alike): exact integer group sums, on vpdpwssd with AVX512_VNNI
// (pack_int8-inl.h panel_dot_vnni), on vpmaddwd with AVX2 (panel_dot_int), or one by one.
// Prefill (large m): on AVX512_VNNI vpdpwssd again (gemm_int8.cc); elsewhere the weight dequantised
// to f32 in blocks of rows and the f32 GEMM over the dequantised rows f32(qx * sx).
#include <cstdlib>
#include <cstring>
#include <vector>

#include "cpu.h"
#include "gemm_int8.h"
#include "pack_int8.h"
#include "pool.h"
#include "simd_i8.h"
#include "weight_alloc.h"

#define DSOCR_INL "pack_int8-inl.h"
#include "isa_foreach.h"

namespace dsocr {

namespace {

constexpr size_t SMALL_M = 16;
// Large M without AVX512_VNNI: weight rows dequantised to f32 per GEMM call, up to DEQ_BYTES (at
// least DEQ_ROWS), so that an expert or attention matrix is one GEMM written straight into y
// (AVX2, Zen 4, 2 threads: 107x1280x896 72 -> 138 GFLOP/s against 512-row slices).
constexpr size_t DEQ_ROWS = 512;
constexpr size_t DEQ_BYTES = size_t{64} << 20;
constexpr size_t PACK_PANELS = 16;  // panels per packing task

}  // namespace

Packed* pack_int8(Isa isa, const WeightRef& src, size_t group) {
  if (!int8::group_supported(group)) return nullptr;
  const size_t N = src.rows, K = src.cols, Np = int8::padded_n(N), Kp = int8::padded_k(K);
  const size_t ng = int8::groups(K, group);
  auto* p = new Packed();
  p->fmt = PackFmt::INT8;
  p->rows = N;
  p->cols = K;
  p->group = group;
  const PackedSizes z = packed_sizes(PackFmt::INT8, N, K, group);
  p->data_alloc = z.data_alloc;
  p->scales_alloc = z.scales_alloc;
  p->data = weight_alloc(p->data_alloc);
  p->scales = static_cast<float*>(weight_alloc(p->scales_alloc));
  if (!p->data || !p->scales) {
    delete p;
    return nullptr;
  }
  p->bytes = z.bytes;
  int8_t* q = static_cast<int8_t*>(p->data);
  const size_t panels = Np / int8::P;
  pool::parallel_for((panels + PACK_PANELS - 1) / PACK_PANELS, [&](size_t t) {
    const size_t a = t * PACK_PANELS, b = std::min(panels, a + PACK_PANELS);
    std::memset(q + a * int8::P * Kp, 0, (b - a) * int8::P * Kp);
    for (size_t pi = a; pi < b; ++pi)
      DSOCR_DISPATCH(isa, i8_pack_panel, src, group, pi, q + pi * int8::P * Kp, p->scales + pi * int8::P * ng);
  });
  return p;
}

bool int8_dot_available(Isa isa) { return isa == Isa::Avx512 && gemm_int8_available(); }

QuantX quant_x(Isa isa, const float* x, size_t m, size_t K, size_t G, QuantXBuf& buf, bool deq) {
  const size_t Kp = int8::padded_k(K), ng = int8::groups(K, G);
  if (buf.q.size() < m * Kp) buf.q.resize(m * Kp);
  if (buf.s.size() < m * ng) buf.s.resize(m * ng);
  if (deq && buf.deq.size() < m * K) buf.deq.resize(m * K);
  float* d = deq ? buf.deq.data() : nullptr;
  auto rows = [&](size_t r0, size_t r1) {
    DSOCR_DISPATCH(isa, quant_rows, x + r0 * K, r1 - r0, K, G, buf.q.data() + r0 * Kp, Kp, buf.s.data() + r0 * ng,
                   d ? d + r0 * K : nullptr);
  };
  if (m <= SMALL_M) {
    rows(0, m);
  } else {
    constexpr size_t RB = 16;
    pool::parallel_for((m + RB - 1) / RB, [&](size_t t) { rows(t * RB, std::min(m, t * RB + RB)); });
  }
  return QuantX{buf.q.data(), buf.s.data(), d, m, G};
}

void quant_rows_into(Isa isa, const float* x, size_t m, size_t K, size_t G, int16_t* q, size_t ldq, float* s) {
  DSOCR_DISPATCH(isa, quant_rows, x, m, K, G, q, ldq, s, nullptr);
}

void int8_rows(Isa isa, const QuantX& x, const Packed& w, size_t n0, size_t n1, float* y, size_t ldy) {
  DSOCR_DISPATCH(isa, i8_rows, x, w, n0, n1, nullptr, y, ldy, int8_dot_available(isa));
}

void linear_int8(Isa isa, const float* x, size_t M, const Packed& w, const float* bias, float* y) {
  const size_t N = w.rows, K = w.cols;
  // m, N, K >= 1: linear_packed handles the degenerate sizes.
  // x quantised per group into buffers kept by the caller's thread (prefill: up to M * K int16 and,
  // without VNNI, M * K floats; reused by every call instead of allocated and zeroed per matmul).
  thread_local QuantXBuf xb;
  if (M > SMALL_M && int8_dot_available(isa)) {
    gemm_int8_dot(x, M, w, bias, y);  // quantises x itself, panel by panel
    return;
  }
  const bool dot = int8_dot_available(isa);
  const QuantX xq = quant_x(isa, x, M, K, w.group, xb, M > SMALL_M);  // large M: the f32 GEMM's rows
  if (M <= SMALL_M) {
    // Contiguous blocks of panels per task (each a sequential byte range of the weight).
    const size_t panels = int8::padded_n(N) / int8::P;
    const size_t th = static_cast<size_t>(pool::threads());
    const size_t per = std::clamp<size_t>(panels / (th * 8), 2, 64);
    pool::parallel_for((panels + per - 1) / per, [&](size_t t) {
      const size_t n0 = t * per * int8::P, n1 = std::min(N, n0 + per * int8::P);
      DSOCR_DISPATCH(isa, i8_rows, xq, w, n0, n1, bias, y + n0, N, dot);
    });
    return;
  }
  // Large M (prefill): dequantise blocks of rows to f32 and run the f32 GEMM on them, over the
  // dequantised x.
  x = xq.deq;
  const size_t nc_max = std::min(N, std::max(DEQ_ROWS, DEQ_BYTES / (K * sizeof(float))));
  std::vector<float> wf(nc_max * K), yt(nc_max < N ? M * nc_max : 0);
  for (size_t n0 = 0; n0 < N; n0 += nc_max) {
    const size_t nc = std::min(nc_max, N - n0);
    pool::parallel_for((nc + int8::P - 1) / int8::P, [&](size_t t) {
      const size_t a = n0 + t * int8::P, b = std::min(n0 + nc, a + int8::P);
      DSOCR_DISPATCH(isa, i8_dequant, w, a, b, wf.data() + (a - n0) * K);
    });
    if (nc == N) {
      linear(isa, x, M, WeightRef{wf.data(), false, nc, K}, bias, y);
      break;
    }
    linear(isa, x, M, WeightRef{wf.data(), false, nc, K}, bias ? bias + n0 : nullptr, yt.data());
    for (size_t i = 0; i < M; ++i) std::memcpy(y + i * N + n0, yt.data() + i * nc, nc * sizeof(float));
  }
}

}  // namespace dsocr

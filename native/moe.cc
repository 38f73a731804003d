// The fused DeepSeek-MoE layer (spec 6.3; the same arithmetic as src/model/moe.ts, which stays
// the reference and the path used while dumping):
//   router logits = x · gateᵀ (f32, the plain `mlp.gate.weight`), softmax, greedy top-k (ties to
//   the lower index), weights = raw scores (renormalised only with norm_topk_prob) x
//   routed_scaling_factor; y = Σ_k w_k · down_k(silu(gate_k x) ⊙ up_k x) + shared(x).
//
// Decode / small batches (m <= 16, every expert weight plain, int8-packed or bf16-packed): two parallel
// regions per layer instead of three linear calls per expert. Region 1 walks blocks of BLK1 rows of
// gate and up of every chosen expert and of the shared MLP (a task computes both for its rows,
// then SiLU · up); region 2 walks blocks of BLK2 output columns and, per block, the down rows of
// every chosen expert then the shared one, accumulating in a fixed order (expert ascending, then
// shared). The threads thus stream all the layer's expert weights back to back, and results do
// not depend on the thread count.
// Larger m (or bf16 packs below AVX-512): per chosen expert, batched linear / linear_packed over its
// gathered rows (the GEMM paths), then the same weighted accumulation.
#include "moe.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "gemv_bf16.h"
#include "pack_int8.h"
#include "pool.h"

#define DSOCR_INL "moe-inl.h"
#include "isa_foreach.h"

namespace dsocr {

namespace {

constexpr size_t SMALL_M = 16;
// Weight rows per task: gate/up rows (region 1), down rows = output columns (region 2). Multiples
// of the int8 panel height (4) and of the bf16 panel width (32); several bf16 panels per task are
// streamed side by side (gemv_bf16.cc). The block sizes do not change the results.
constexpr size_t BLK1 = 128;
constexpr size_t BLK2 = 64;

bool rowable(Isa isa, const MoeWeight& w) {
  return !w.packed || w.packed->fmt == PackFmt::INT8 || (w.packed->fmt == PackFmt::BF16 && bf16_small_available(isa));
}

// xa: the rows of x rounded to bf16 pairs (bf16_round_rows), used by BF16 packs; xq: x quantised
// with the weight's group (quant_x), used by INT8 packs.
void rows_any(Isa isa, const float* x, const uint32_t* xa, const QuantX& xq, size_t m, const MoeWeight& w, size_t n0,
              size_t n1, float* y, size_t ldy) {
  if (w.packed && w.packed->fmt == PackFmt::BF16) {
    bf16_rows(isa, xa, m, *w.packed, n0, n1, y, ldy);
  } else if (w.packed) {
    int8_rows(isa, xq, *w.packed, n0, n1, y, ldy);
  } else {
    DSOCR_DISPATCH(isa, plain_rows, x, m, w.plain, n0, n1, y, ldy);
  }
}

void linear_any(Isa isa, const float* x, size_t m, const MoeWeight& w, float* y) {
  if (w.packed) {
    linear_packed(isa, x, m, *w.packed, nullptr, y);
  } else {
    linear(isa, x, m, w.plain, nullptr, y);
  }
}

// One MLP to run on a set of rows: the rows' inputs (gathered) and its hidden activations.
struct Job {
  const MoeWeight* g;
  const MoeWeight* u;
  const MoeWeight* d;
  size_t inter;
  const float* x;  // [n, hidden]
  size_t n;
  float* h;                // [n, inter]
  const int32_t* rows;     // routed: output row of each input row; null = shared (row i)
  const float* wts;        // routed: weight of each input row
  uint32_t* xa = nullptr;  // BF16 packs: x rounded to bf16 pairs [n, ceil(hidden / 2)]
  uint32_t* ha = nullptr;  // BF16 packs: h rounded to bf16 pairs [n, ceil(inter / 2)]
  QuantX xq{};             // INT8 packs: x quantised with gate/up's group
  QuantX hq{};             // INT8 packs: h quantised with down's group
};

// The INT8 group of a weight (0 when it is not INT8).
size_t int8_group(const MoeWeight& w) {
  return w.packed && w.packed->fmt == PackFmt::INT8 ? w.packed->group : 0;
}

// The INT8 group of a job's gate and up, which share the quantised x (0 when neither is INT8;
// SIZE_MAX when they differ).
size_t gate_up_group(const MoeWeight& g, const MoeWeight& u) {
  const size_t a = int8_group(g), b = int8_group(u);
  return a && b && a != b ? SIZE_MAX : (a ? a : b);
}

}  // namespace

void moe_forward(Isa isa, const MoeLayer& L, const float* x, size_t m, float* out, float* scores_out,
                 int32_t* idx_out, float* weight_out) {
  const size_t H = L.hidden, E = L.experts, K = L.top_k;
  std::memset(out, 0, m * H * sizeof(float));
  if (m == 0) return;

  // ---- router ----
  std::vector<float> scores(m * E);
  linear(isa, x, m, L.gate, nullptr, scores.data());
  softmax(isa, scores.data(), m, E);
  std::vector<int32_t> idx(m * K);
  std::vector<float> wt(m * K);
  std::vector<uint8_t> taken(E);
  for (size_t r = 0; r < m; ++r) {
    const float* s = scores.data() + r * E;
    std::fill(taken.begin(), taken.end(), 0);
    for (size_t t = 0; t < K; ++t) {
      long best = -1;
      float bv = -std::numeric_limits<float>::infinity();
      for (size_t j = 0; j < E; ++j) {
        if (!taken[j] && (best < 0 || s[j] > bv)) {
          best = static_cast<long>(j);
          bv = s[j];
        }
      }
      if (best >= 0) taken[static_cast<size_t>(best)] = 1;
    }
    double sum = 0;
    size_t t = 0;
    for (size_t j = 0; j < E; ++j) {
      if (taken[j]) {
        idx[r * K + t++] = static_cast<int32_t>(j);
        sum += s[j];
      }
    }
    const bool norm = L.norm_topk && K > 1;
    const double denom = norm ? static_cast<double>(static_cast<float>(static_cast<double>(static_cast<float>(sum)) + 1e-20)) : 1.0;
    for (size_t t2 = 0; t2 < K; ++t2) {
      const double sv = s[idx[r * K + t2]];
      wt[r * K + t2] = norm ? static_cast<float>(static_cast<double>(static_cast<float>(sv / denom)) * L.scaling)
                            : static_cast<float>(sv * L.scaling);
    }
  }
  if (scores_out) std::memcpy(scores_out, scores.data(), m * E * sizeof(float));
  if (idx_out) std::memcpy(idx_out, idx.data(), m * K * sizeof(int32_t));
  if (weight_out) std::memcpy(weight_out, wt.data(), m * K * sizeof(float));

  // ---- group rows by expert (ascending row order within an expert, like moe.ts) ----
  std::vector<size_t> count(E + 1, 0);
  for (size_t i = 0; i < m * K; ++i) count[idx[i] + 1]++;
  for (size_t j = 0; j < E; ++j) count[j + 1] += count[j];
  std::vector<int32_t> rows_of(m * K);
  std::vector<float> w_of(m * K);
  {
    std::vector<size_t> fill(count.begin(), count.end() - 1);
    for (size_t r = 0; r < m; ++r)
      for (size_t t = 0; t < K; ++t) {
        const size_t p = fill[idx[r * K + t]]++;
        rows_of[p] = static_cast<int32_t>(r);
        w_of[p] = wt[r * K + t];
      }
  }
  std::vector<Job> jobs;
  size_t xs_len = 0, h_len = 0;
  for (size_t j = 0; j < E; ++j) {
    const size_t n = count[j + 1] - count[j];
    if (n == 0) continue;
    jobs.push_back(Job{&L.w[3 * j], &L.w[3 * j + 1], &L.w[3 * j + 2], L.inter, nullptr, n, nullptr,
                       rows_of.data() + count[j], w_of.data() + count[j]});
    xs_len += n * H;
    h_len += n * L.inter;
  }
  if (L.has_shared) {
    jobs.push_back(Job{&L.w[3 * E], &L.w[3 * E + 1], &L.w[3 * E + 2], L.shared_inter, x, m, nullptr, nullptr, nullptr});
    h_len += m * L.shared_inter;
  }
  std::vector<float> xs(xs_len), hbuf(h_len);
  {
    size_t xo = 0, ho = 0;
    for (Job& jb : jobs) {
      if (jb.rows) {
        for (size_t i = 0; i < jb.n; ++i) std::memcpy(xs.data() + xo + i * H, x + jb.rows[i] * H, H * sizeof(float));
        jb.x = xs.data() + xo;
        xo += jb.n * H;
      }
      jb.h = hbuf.data() + ho;
      ho += jb.n * jb.inter;
    }
  }

  bool small = m <= SMALL_M;
  bool any_bf16 = false, any_int8 = false;
  auto is_fmt = [](const MoeWeight& w, PackFmt f) { return w.packed && w.packed->fmt == f; };
  for (const Job& jb : jobs) {
    small = small && rowable(isa, *jb.g) && rowable(isa, *jb.u) && rowable(isa, *jb.d);
    for (const MoeWeight* w : {jb.g, jb.u, jb.d}) {
      any_bf16 = any_bf16 || is_fmt(*w, PackFmt::BF16);
      any_int8 = any_int8 || is_fmt(*w, PackFmt::INT8);
    }
  }
  // INT8 packs in the fast path: every job's x (and later h) quantised once (buffers kept by the
  // calling thread).
  for (const Job& jb : jobs) small = small && gate_up_group(*jb.g, *jb.u) != SIZE_MAX;
  // (no dequantised rows: the small-m kernels take the int16 ones)
  thread_local std::vector<QuantXBuf> t_qbuf;
  if (small && any_int8) {
    if (t_qbuf.size() < 2 * jobs.size()) t_qbuf.resize(2 * jobs.size());
    for (size_t j = 0; j < jobs.size(); ++j) {
      Job& jb = jobs[j];
      if (const size_t G = gate_up_group(*jb.g, *jb.u)) jb.xq = quant_x(isa, jb.x, jb.n, H, G, t_qbuf[2 * j], false);
    }
  }
  // BF16 packs in the fast path: every job's x (and later h) rounded to bf16 pairs once.
  std::vector<uint32_t> abuf;
  if (small && any_bf16) {
    size_t len = 0;
    for (const Job& jb : jobs) len += jb.n * ((H + 1) / 2 + (jb.inter + 1) / 2);
    abuf.resize(len);
    size_t o = 0;
    for (Job& jb : jobs) {
      jb.xa = abuf.data() + o;
      o += jb.n * ((H + 1) / 2);
      jb.ha = abuf.data() + o;
      o += jb.n * ((jb.inter + 1) / 2);
      bf16_round_rows(isa, jb.x, jb.n, H, jb.xa);
    }
  }

  // Weighted accumulation of one job's output rows y [n, c1 - c0] into out[:, c0:c1], as moe.ts:
  // routed rows out = f32(out + w * y) (the product in f64, like the TypeScript), shared out += y.
  auto accumulate = [&](const Job& jb, const float* y, size_t ldy, size_t c0, size_t c1) {
    for (size_t i = 0; i < jb.n; ++i) {
      const float* yr = y + i * ldy;
      if (jb.rows) {
        float* o = out + jb.rows[i] * H;
        const double w = jb.wts[i];
        for (size_t c = c0; c < c1; ++c) o[c] = static_cast<float>(o[c] + w * yr[c - c0]);
      } else {
        float* o = out + i * H;
        for (size_t c = c0; c < c1; ++c) o[c] += yr[c - c0];
      }
    }
  };

  if (!small) {
    std::vector<float> u, y;
    for (const Job& jb : jobs) {
      u.resize(jb.n * jb.inter);
      y.resize(jb.n * H);
      linear_any(isa, jb.x, jb.n, *jb.g, jb.h);
      linear_any(isa, jb.x, jb.n, *jb.u, u.data());
      swiglu(isa, jb.h, u.data(), jb.n * jb.inter);
      linear_any(isa, jb.h, jb.n, *jb.d, y.data());
      accumulate(jb, y.data(), H, 0, H);
    }
    return;
  }

  // Region 1: gate/up blocks of every job.
  std::vector<size_t> first(jobs.size() + 1, 0);
  for (size_t j = 0; j < jobs.size(); ++j) first[j + 1] = first[j] + (jobs[j].inter + BLK1 - 1) / BLK1;
  pool::parallel_for(first.back(), [&](size_t t) {
    size_t j = 0;
    while (first[j + 1] <= t) ++j;
    const Job& jb = jobs[j];
    const size_t n0 = (t - first[j]) * BLK1, n1 = std::min(jb.inter, n0 + BLK1), nb = n1 - n0;
    float* u = pool::scratch_as<float>(4, SMALL_M * BLK1);
    rows_any(isa, jb.x, jb.xa, jb.xq, jb.n, *jb.g, n0, n1, jb.h + n0, jb.inter);
    rows_any(isa, jb.x, jb.xa, jb.xq, jb.n, *jb.u, n0, n1, u, nb);
    for (size_t i = 0; i < jb.n; ++i) swiglu(isa, jb.h + i * jb.inter + n0, u + i * nb, nb);
  });
  if (any_bf16)
    for (const Job& jb : jobs) bf16_round_rows(isa, jb.h, jb.n, jb.inter, jb.ha);
  if (any_int8)
    for (size_t j = 0; j < jobs.size(); ++j) {
      Job& jb = jobs[j];
      if (const size_t G = int8_group(*jb.d)) jb.hq = quant_x(isa, jb.h, jb.n, jb.inter, G, t_qbuf[2 * j + 1], false);
    }
  // Region 2: blocks of output columns; per block every job's down rows, in job order.
  pool::parallel_for((H + BLK2 - 1) / BLK2, [&](size_t t) {
    const size_t c0 = t * BLK2, c1 = std::min(H, c0 + BLK2), nb = c1 - c0;
    float* y = pool::scratch_as<float>(4, SMALL_M * BLK2);
    for (const Job& jb : jobs) {
      rows_any(isa, jb.h, jb.ha, jb.hq, jb.n, *jb.d, c0, c1, y, nb);
      accumulate(jb, y, nb, c0, c1);
    }
  });
}

}  // namespace dsocr

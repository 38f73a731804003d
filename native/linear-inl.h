// linear: y[m, n] = sum_k x[m, k] * W[n, k] + bias[n]   (x [M, K] f32, W [N, K] bf16 or f32)
// One copy per ISA (see isa_foreach.h). Accumulation in f32; bf16 is widened on the fly
// (f32 bits = bf16 bits << 16), only ever a small block of W at a time.
//
// Two algorithms, both deterministic and independent of the thread count (every output element
// is computed by one task, in an order that depends only on K):
// - M <= 16 (decode): stream the weight. A task owns a range of W rows; for every 4 W rows and
//   up to R rows of x it keeps R x 4 vector accumulators along k, W widened as it is loaded
//   (for bf16 with M >= 8 the 4 rows are first widened into a small per-thread scratch so they
//   are widened once, not once per group of x rows), then sums the lanes.
// - M > 16 (prefill, vision): blocked GEMM. The output is cut into row tiles of equal size (at
//   most MC rows, a multiple of MR) x a chunk of NR-wide W panels. For every KC-slice of k a tile
//   runs the MR x NR register micro-kernel (gemm-inl.h) against k-major micro-panels of widened W
//   (a KC x NR micro-panel stays in L1 while the x rows stream past), writing the first slice and
//   adding the others; the bias comes last. x is read in place, MR rows at a time (a partial last
//   panel overlaps the previous one and writes only its own rows), unless its row stride is a
//   multiple of 4 KiB: then the tile packs its x rows into k-major micro-panels of MR rows first.
//   With more than two row tiles the W block (K x 512 rows, f32) is packed once by all threads
//   into one shared buffer; otherwise each task packs its own few W panels slice by slice over
//   all of N (no redundancy, the panels are used while still in cache, and the small tasks
//   balance the two threads); when the tile's x rows fit in L2 such a task even takes one panel
//   through all k slices before the next (its output block stays in cache). W panels are packed by 16 x 16 in-register transposes on AVX-512.
#include "gemm-inl.h"

namespace dsocr {
namespace DSOCR_NS {
namespace {

constexpr size_t KC = 256;
constexpr size_t MC = MR * (VW == 1 ? 32 : (MR >= 12 ? 16 : 32));  // rows of x per tile (x block in L2)
constexpr size_t NCB = 512;  // W rows packed at once (shared K x NCB block)
constexpr size_t SMALL_M = 16;
constexpr size_t WIDEN_M = 8;  // from this many x rows, bf16 W rows are widened into scratch first
constexpr int DOT_R = VW >= 16 ? 4 : (VW == 8 ? 2 : 4);  // x rows per dot block

// out[r * 4 + n] = sum_k x[r * K + k] * w[n][k], r < R, n < 4.
template <int R, class S>
void dot_block(const float* x, size_t K, const S* const* w, float* out) {
  VT acc[R][4];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int n = 0; n < 4; ++n) acc[r][n] = V::zero();
  size_t k = 0;
  for (; k + VW <= K; k += VW) {
    VT wv[4];
#pragma GCC unroll 4
    for (int n = 0; n < 4; ++n) wv[n] = loadw(w[n] + k);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      VT xv = V::load(x + r * K + k);
#pragma GCC unroll 4
      for (int n = 0; n < 4; ++n) acc[r][n] = V::fma(xv, wv[n], acc[r][n]);
    }
  }
  if (k < K) {
    int t = static_cast<int>(K - k);
    VT wv[4];
#pragma GCC unroll 4
    for (int n = 0; n < 4; ++n) wv[n] = loadwn(w[n] + k, t);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      VT xv = V::loadn(x + r * K + k, t);
#pragma GCC unroll 4
      for (int n = 0; n < 4; ++n) acc[r][n] = V::fma(xv, wv[n], acc[r][n]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int n = 0; n < 4; ++n) out[r * 4 + n] = V::hsum(acc[r][n]);
}

template <class S>
void dot_rows(int r, const float* x, size_t K, const S* const* w, float* out) {
  switch (r) {
    case 1:
      dot_block<1>(x, K, w, out);
      break;
    case 2:
      if constexpr (DOT_R >= 2) dot_block<2>(x, K, w, out);
      break;
    case 3:
      if constexpr (DOT_R >= 3) dot_block<3>(x, K, w, out);
      break;
    case 4:
      if constexpr (DOT_R >= 4) dot_block<4>(x, K, w, out);
      break;
  }
}

template <class S>
void linear_small(const float* x, size_t M, const S* w, size_t N, size_t K, const float* bias, float* y) {
  const bool widen_first = std::is_same_v<S, uint16_t> && M >= WIDEN_M;
  size_t th = static_cast<size_t>(pool::threads());
  size_t chunk = round_up(std::clamp<size_t>(N / (th * 4), 8, 256), 4);
  size_t ntasks = ceil_div(N, chunk);
  pool::parallel_for(ntasks, [&](size_t t) {
    size_t n0 = t * chunk, n1 = std::min(N, n0 + chunk);
    float* wbuf = widen_first ? pool::scratch_as<float>(0, 4 * K) : nullptr;
    float out[DOT_R * 4];
    for (size_t n = n0; n < n1; n += 4) {
      size_t nn = std::min<size_t>(4, n1 - n);
      const S* rows[4];
      for (size_t i = 0; i < 4; ++i) rows[i] = w + (n + std::min(i, nn - 1)) * K;
      const float* frows[4];
      if (widen_first) {
        for (size_t i = 0; i < nn; ++i) {
          float* d = wbuf + i * K;
          size_t k = 0;
          for (; k + VW <= K; k += VW) V::store(d + k, loadw(rows[i] + k));
          for (; k < K; ++k) d[k] = widen(rows[i][k]);
        }
        for (size_t i = 0; i < 4; ++i) frows[i] = wbuf + std::min(i, nn - 1) * K;
      }
      for (size_t r0 = 0; r0 < M; r0 += DOT_R) {
        int rr = static_cast<int>(std::min<size_t>(DOT_R, M - r0));
        if (widen_first) {
          dot_rows<float>(rr, x + r0 * K, K, frows, out);
        } else {
          dot_rows<S>(rr, x + r0 * K, K, rows, out);
        }
        for (int r = 0; r < rr; ++r) {
          float* yr = y + (r0 + r) * N + n;
          for (size_t i = 0; i < nn; ++i) yr[i] = bias ? out[r * 4 + i] + bias[n + i] : out[r * 4 + i];
        }
      }
    }
  });
}

template <class S>
void linear_gemm(const float* x, size_t M, const S* w, size_t N, size_t K, const float* bias, float* y) {
  const size_t th = static_cast<size_t>(pool::threads());
  const size_t nks = ceil_div(K, KC);
  // Shared packing: the packed W block (all of k, up to NCB rows) lives in the calling thread's
  // scratch; slice s (k from s*KC) starts at s * KC * npan * NR. With one or two row tiles each
  // task packs its own W panels instead (same arithmetic, less memory traffic).
  const size_t mt = ceil_div(M, MC);
  const size_t mc = round_up(ceil_div(M, mt), MR);  // equal row tiles (a multiple of MR each)
  const bool shared = mt > 2;
  const size_t ncb = shared ? std::min(round_up(N, NR), NCB) : round_up(N, NR);
  const bool direct = (K * sizeof(float)) % 4096 != 0;
  float* wp = shared ? pool::scratch_as<float>(7, K * ncb) : nullptr;
  for (size_t jc = 0; jc < N; jc += ncb) {
    const size_t nb = std::min(ncb, N - jc), npan = ceil_div(nb, NR);
    if (shared) {
      const size_t pack_per = std::max<size_t>(1, npan * nks / (4 * th));
      pool::parallel_for(ceil_div(npan, pack_per) * nks, [&](size_t t) {
        const size_t s = t % nks, p0 = (t / nks) * pack_per, p1 = std::min(npan, p0 + pack_per);
        const size_t pc = s * KC, kc = std::min(KC, K - pc);
        pack_panels<NR>(w + (jc + p0 * NR) * K, K, std::min(nb - p0 * NR, (p1 - p0) * NR), pc, kc,
                        wp + pc * npan * NR + p0 * kc * NR);
      });
    }
    // Output tiles: MC rows x a chunk of W panels; enough of them to keep every thread busy.
    // Without shared packing (one or two row tiles) the chunks are small (4-8 per thread)
    // so that the dynamic schedule balances them.
    const size_t pan_per = shared ? ceil_div(npan, std::min(npan, ceil_div(3 * th, mt)))
                                  : std::max<size_t>(1, npan * mt / ((direct ? 8 : 4) * th));
    const size_t nch = ceil_div(npan, pan_per);
    pool::parallel_for(mt * nch, [&](size_t t) {
      const size_t mi = t / nch, cj = t % nch;
      const size_t m0 = mi * mc, mcur = std::min(mc, M - m0), mpan = ceil_div(mcur, MR);
      const size_t j0 = cj * pan_per, j1 = std::min(npan, j0 + pan_per);
      // Full MR-row panels of x are read in place (ukernel_rows) unless the row stride is a
      // multiple of 4 KiB (all rows in one L1 set). A partial last panel is then the last MR rows
      // of the tile, overlapping the previous panel, writing only its own rows; otherwise packed.
      const size_t mfull = direct ? mcur / MR : 0;
      const bool tail_ov = direct && mcur >= MR && mfull * MR < mcur;
      const size_t mpk = tail_ov ? mpan : mfull;  // packed panels: [mpk, mpan)
      float* xp = pool::scratch_as<float>(1, KC * mpan * MR);
      // Panels one at a time, all k slices each (its output block stays in cache), when x is
      // read in place and the tile's x rows fit in L2; otherwise all panels per k slice.
      const bool col_outer = !shared && mpk == mpan && mcur * K <= (size_t{3} << 16);
      const size_t jstep = col_outer ? 1 : j1 - j0;
      float* wt = shared ? nullptr : pool::scratch_as<float>(0, KC * jstep * NR);
      for (size_t jb = j0; jb < j1; jb += jstep) {
        const size_t je = std::min(j1, jb + jstep);
        for (size_t pc = 0; pc < K; pc += KC) {
          const size_t kc = std::min(KC, K - pc);
          if (mpk < mpan)
            pack_panels<MR>(x + (m0 + mfull * MR) * K, K, mcur - mfull * MR, pc, kc, xp + mfull * kc * MR);
          const float* ws = shared ? wp + pc * npan * NR : wt;
          const size_t pan0 = shared ? 0 : jb;  // panel jr is at ws + (jr - pan0) * kc * NR
          if (!shared) pack_panels<NR>(w + (jc + jb * NR) * K, K, std::min(nb - jb * NR, (je - jb) * NR), pc, kc, wt);
          for (size_t jr = jb; jr < je; ++jr) {
            const int nv = static_cast<int>(std::min<size_t>(NR, nb - jr * NR));
            for (size_t ir = 0; ir < mfull; ++ir) {
              ukernel_rows(static_cast<int>(kc), x + (m0 + ir * MR) * K + pc, K, ws + (jr - pan0) * kc * NR, NR,
                           y + (m0 + ir * MR) * N + jc + jr * NR, N, nv, pc > 0, 0);
            }
            if (tail_ov) {
              const size_t r0 = m0 + mcur - MR;
              ukernel_rows(static_cast<int>(kc), x + r0 * K + pc, K, ws + (jr - pan0) * kc * NR, NR,
                           y + r0 * N + jc + jr * NR, N, nv, pc > 0, static_cast<int>(mfull * MR + MR - mcur));
            }
            for (size_t ir = mpk; ir < mpan; ++ir) {
              const int mv = static_cast<int>(std::min<size_t>(MR, mcur - ir * MR));
              ukernel(static_cast<int>(kc), xp + ir * kc * MR, MR, ws + (jr - pan0) * kc * NR, NR,
                      y + (m0 + ir * MR) * N + jc + jr * NR, N, mv, nv, pc > 0);
            }
          }
        }
      }
      if (bias) {
        const size_t n0 = jc + j0 * NR, n1 = std::min(jc + nb, jc + j1 * NR);
        for (size_t i = 0; i < mcur; ++i) {
          float* yr = y + (m0 + i) * N;
          size_t j = n0;
          for (; j + VW <= n1; j += VW) V::store(yr + j, V::add(V::load(yr + j), V::load(bias + j)));
          for (; j < n1; ++j) yr[j] += bias[j];
        }
      }
    });
  }
}

template <class S>
void linear_t(const float* x, size_t M, const S* w, size_t N, size_t K, const float* bias, float* y) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    for (size_t i = 0; i < M; ++i)
      for (size_t j = 0; j < N; ++j) y[i * N + j] = bias ? bias[j] : 0.f;
    return;
  }
  if (M <= SMALL_M) {
    linear_small(x, M, w, N, K, bias, y);
  } else {
    linear_gemm(x, M, w, N, K, bias, y);
  }
}

void linear(const float* x, size_t m, const WeightRef& w, const float* bias, float* y) {
  if (w.bf16) {
    linear_t(x, m, static_cast<const uint16_t*>(w.data), w.rows, w.cols, bias, y);
  } else {
    linear_t(x, m, static_cast<const float*>(w.data), w.rows, w.cols, bias, y);
  }
}

}  // namespace
}  // namespace DSOCR_NS
}  // namespace dsocr

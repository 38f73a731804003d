// attention: out = softmax(scale * q k^T + mask + relpos) v, per batch and query head, GQA
// (query head h reads kv head h / (heads / kv_heads)), optional causal limit
// (row i sees keys j <= causal_offset + i), f32 throughout. One copy per ISA (isa_foreach.h).
//
// - lq <= SMALL_LQ (decode): one task per (batch, head); per query row a score row over the keys
//   (dot products read the KV cache in place, row stride kv_heads*d, batches lkCapacity rows
//   apart), exact softmax with max subtraction, then out = sum_j p_j v_j / sum_j p_j.
// - otherwise (prefill, vision) flash-style tiles: per batch chunk, K is packed into k-major
//   panels of MR keys and V into rows padded to a multiple of NR (f32 copies of the activations,
//   at most KV_BUDGET floats per chunk, kept in the calling thread's scratch); one task per (batch, head, block of BQ
//   queries) walks the keys in blocks of BK:
//     S^T[j][i] = k_j . q_i              (micro-kernel, A = packed K, B = q block transposed)
//     s = scale * S^T + mask^T + relH^T[j / w] + relW^T[j % w], causal lanes = -inf
//     m' = max(m, max_j s); p = exp(s - m'); l = l * exp(m - m') + sum_j p; O = O * exp(m - m')
//     O += P V                           (micro-kernel, A = S^T, B = packed V)
//   and finally out = O / l. Memory per thread: one BK x BQ score tile, O (BQ x d) and the
//   rel-pos tables (BQ x (h + w)); never O(L^2). Every output depends only on its task, so the
//   result does not depend on the thread count.
//
// K and V come as f32 or, for a bf16 KV cache (the bf16 and int8 precisions), as bf16 bit
// patterns (kv_bf16). A bf16 value widens exactly to f32 (f32 bits = bf16 bits << 16), so the bf16
// path computes the same function as the f32 path on the widened K~ and V~:
//   s_j = scale * sum_c q_c K~_jc (f32 FMAs),  p_j = exp(s_j - max s),  out = sum_j p_j V~_j / sum_j p_j
// with the same f32 softmax and accumulation, in the same order: the values are widened in
// registers as they are loaded (decode, small lq) or while packing the f32 panels (tiled), and
// bf16 K/V give bit for bit the f32 path's result on those widened values. Only the memory read
// per key row halves (2 B per value instead of 4). q stays f32.
#include "gemm-inl.h"

namespace dsocr {
namespace DSOCR_NS {
namespace {

constexpr size_t BQ = VW == 1 ? 16 : 96;           // queries per task
constexpr size_t BK = MR * (VW == 1 ? 32 : 40);    // keys per block (a multiple of MR)
constexpr size_t SMALL_LQ = 4;
constexpr size_t KV_BUDGET = size_t(8) << 20;      // floats of packed K/V per batch chunk

// Loads of K/V values (f32, or bf16 bit patterns widened exactly) into f32 registers / a float.
DSOCR_INLINE VT kv_load(const float* p) { return V::load(p); }
DSOCR_INLINE VT kv_load(const uint16_t* p) { return V::load_bf16(p); }
DSOCR_INLINE VT kv_loadn(const float* p, int n) { return V::loadn(p, n); }
DSOCR_INLINE VT kv_loadn(const uint16_t* p, int n) { return V::loadn_bf16(p, n); }

// sum_c a[c] * b[c] (f32, two vector accumulators); b is f32 or bf16 (widened).
template <class KT>
DSOCR_INLINE float dotf(const float* a, const KT* b, size_t d) {
  VT s0 = V::zero(), s1 = V::zero();
  size_t c = 0;
  for (; c + 2 * VW <= d; c += 2 * VW) {
    s0 = V::fma(V::load(a + c), kv_load(b + c), s0);
    s1 = V::fma(V::load(a + c + VW), kv_load(b + c + VW), s1);
  }
  for (; c + VW <= d; c += VW) s0 = V::fma(V::load(a + c), kv_load(b + c), s0);
  if (c < d) {
    int t = static_cast<int>(d - c);
    s1 = V::fma(V::loadn(a + c, t), kv_loadn(b + c, t), s1);
  }
  return V::hsum(V::add(s0, s1));
}

// ---- bf16 products (AttentionArgs.bf16_products) ----------------------------------------------

DSOCR_INLINE uint32_t rne16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (u >> 16) | 0x40u;
  return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

// p[i] = f32(bf16(p[i])) (RNE), in place. (Auto-vectorised.)
void round_inplace(float* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const uint32_t r = rne16(p[i]) << 16;
    std::memcpy(p + i, &r, 4);
  }
}

// dst[i] = bf16(lo[i]) | bf16(hi[i]) << 16 (hi null: 0), i < n: a row of bf16 pairs.
void pair_rows(const float* lo, const float* hi, size_t n, uint32_t* dst) {
  if (hi) {
    for (size_t i = 0; i < n; ++i) dst[i] = rne16(lo[i]) | (rne16(hi[i]) << 16);
  } else {
    for (size_t i = 0; i < n; ++i) dst[i] = rne16(lo[i]);
  }
}

#if DSOCR_X86
// The f32 ukernel's tile on bf16 pairs: C[i][j] (+)= sum_{kp < kpc} a(kp, i) . b(kp, j), with
// a(kp, i) = A[kp * lda + i] and b(kp, j) = B[kp * ldb + j] bf16 pairs (vdpbf16ps: both products of
// a pair, f32 accumulation), i < R, j < 32; rows < mv and columns < nv stored; `acc` adds to C.
// Only called at the AVX-512 level on AVX512_BF16 CPUs (AttentionArgs.bf16_dot).
template <int R>
__attribute__((noinline, unused, target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx2,fma,f16c"))) void
uk_pairs(size_t kpc, const uint32_t* a, size_t lda, const uint32_t* b, size_t ldb, float* c, size_t ldc, int mv,
         int nv, bool acc) {
  __m512 r0[R], r1[R];
  bf16tile::dot_tile<R>(kpc, a, lda, b, ldb, r0, r1);
  bf16tile::store_tile<R>(r0, r1, mv, c, ldc, nv, acc);
}
#endif

// Decode (lq <= SMALL_LQ, no mask, no rel-pos): split-K over fixed chunks of DEC_CH keys. A task
// owns one chunk of one batch and walks its K rows, then its V rows, front to back for all heads
// at once (each cache row is one contiguous kv_heads * d run, so the reads are sequential instead of
// one d-wide slice per row and head, which cost a TLB walk per row); it keeps per head the chunk's
// max, exp-sum and unnormalised output. The chunks are then merged in chunk order. The chunking
// does not depend on the thread count, so neither do the results.
constexpr size_t DEC_CH = 64;

template <class KT>
void attn_decode(const AttentionArgs& a) {
  const size_t d = a.d, H = a.heads, qw = H * d, kw = a.kv_heads * d, group = H / a.kv_heads;
  const size_t lq = a.lq, lk = a.lk, dp = round_up(d, VW);
  const size_t nch = std::max<size_t>(1, ceil_div(lk, DEC_CH));
  const size_t np = a.batch * lq * nch * H;
  float* part = pool::scratch_as<float>(7, np * (dp + 2));  // per (b, i, chunk, h): acc[dp], m, l
  const float ninf = -std::numeric_limits<float>::infinity();
  pool::parallel_for(a.batch * nch, [&](size_t t) {
    const size_t b = t / nch, c = t % nch, j0 = c * DEC_CH, j1 = std::min(lk, j0 + DEC_CH);
    float* sc = pool::scratch_as<float>(0, H * DEC_CH + VW);
    const KT* kb = static_cast<const KT*>(a.k) + b * a.cap * kw;
    const KT* vb = static_cast<const KT*>(a.v) + b * a.cap * kw;
    for (size_t i = 0; i < lq; ++i) {
      size_t last = lk;
      if (a.causal) {
        int64_t lim = a.causal_offset + static_cast<int64_t>(i) + 1;
        last = lim <= 0 ? 0 : std::min<size_t>(lk, static_cast<size_t>(lim));
      }
      const size_t je = std::min(j1, last), n = je > j0 ? je - j0 : 0;
      const float* qi = a.q + (b * lq + i) * qw;
      float* pr = part + ((b * lq + i) * nch + c) * H * (dp + 2);
      for (size_t j = 0; j < n; ++j) {
        const KT* kr = kb + (j0 + j) * kw;
        for (size_t h = 0; h < H; ++h) sc[h * DEC_CH + j] = dotf(qi + h * d, kr + (h / group) * d, d) * a.scale;
      }
      for (size_t h = 0; h < H; ++h) {
        float* sh = sc + h * DEC_CH;
        float* acc = pr + h * (dp + 2);
        float mx = ninf;
        for (size_t j = 0; j < n; ++j) mx = std::max(mx, sh[j]);
        VT vm = V::set1(mx), vs = V::zero();
        size_t j = 0;
        for (; j + VW <= n; j += VW) {
          VT p = V::exp(V::sub(V::load(sh + j), vm));
          V::store(sh + j, p);
          vs = V::add(vs, p);
        }
        float sum = V::hsum(vs);
        if (j < n) {
          int tl = static_cast<int>(n - j);
          V::storen(sh + j, V::exp(V::sub(V::loadn(sh + j, tl), vm)), tl);
          for (; j < n; ++j) sum += sh[j];
        }
        acc[dp] = mx;
        acc[dp + 1] = sum;
        for (size_t cc = 0; cc < dp; ++cc) acc[cc] = 0.f;
      }
      for (size_t j = 0; j < n; ++j) {
        const KT* vr = vb + (j0 + j) * kw;
        for (size_t h = 0; h < H; ++h) {
          const KT* vj = vr + (h / group) * d;
          float* acc = pr + h * (dp + 2);
          const VT p = V::set1(sc[h * DEC_CH + j]);
          size_t cc = 0;
          for (; cc + VW <= d; cc += VW) V::store(acc + cc, V::fma(p, kv_load(vj + cc), V::load(acc + cc)));
          for (; cc < d; ++cc) acc[cc] += sc[h * DEC_CH + j] * widen(vj[cc]);
        }
      }
    }
  });
  // Merge the chunks of every (batch, row, head) in chunk order.
  for (size_t bi = 0; bi < a.batch * lq; ++bi) {
    for (size_t h = 0; h < H; ++h) {
      float mx = ninf;
      for (size_t c = 0; c < nch; ++c) mx = std::max(mx, part[((bi * nch + c) * H + h) * (dp + 2) + dp]);
      float* oi = a.out + bi * qw + h * d;
      float l = 0.f;
      for (size_t cc = 0; cc < d; ++cc) oi[cc] = 0.f;
      for (size_t c = 0; c < nch; ++c) {
        const float* pr = part + ((bi * nch + c) * H + h) * (dp + 2);
        if (pr[dp] == ninf) continue;
        const float w = nch == 1 ? 1.f : std::exp(pr[dp] - mx);
        l += w * pr[dp + 1];
        const VT wv = V::set1(w);
        size_t cc = 0;
        for (; cc + VW <= d; cc += VW) V::store(oi + cc, V::fma(wv, V::load(pr + cc), V::load(oi + cc)));
        for (; cc < d; ++cc) oi[cc] += w * pr[cc];
      }
      if (mx == ninf) l = 0.f;
      for (size_t cc = 0; cc < d; ++cc) oi[cc] /= l;
    }
  }
}

template <class KT>
void attn_small(const AttentionArgs& a) {
  const size_t d = a.d, qw = a.heads * d, kw = a.kv_heads * d, group = a.heads / a.kv_heads;
  const size_t lq = a.lq, lk = a.lk;
  const size_t rh = a.rel_h_table ? a.rel_h : 0, rw = a.rel_h_table ? a.rel_w : 0;
  pool::parallel_for(a.batch * a.heads, [&](size_t t) {
    size_t b = t / a.heads, h = t % a.heads, g = h / group;
    float* sc = pool::scratch_as<float>(0, lk + VW);
    float* acc = pool::scratch_as<float>(1, round_up(d, VW));
    float* rel = pool::scratch_as<float>(2, rh + rw + 1);
    const KT* kb = static_cast<const KT*>(a.k) + b * a.cap * kw + g * d;
    const KT* vb = static_cast<const KT*>(a.v) + b * a.cap * kw + g * d;
    for (size_t i = 0; i < lq; ++i) {
      const float* qi = a.q + (b * lq + i) * qw + h * d;
      float* oi = a.out + (b * lq + i) * qw + h * d;
      size_t last = lk;  // number of visible keys
      if (a.causal) {
        int64_t lim = a.causal_offset + static_cast<int64_t>(i) + 1;
        last = lim <= 0 ? 0 : std::min<size_t>(lk, static_cast<size_t>(lim));
      }
      if (rh) {
        size_t y1 = i / rw, x1 = i % rw;
        for (size_t y2 = 0; y2 < rh; ++y2) rel[y2] = dotf(qi, a.rel_h_table + (y1 + rh - 1 - y2) * d, d);
        for (size_t x2 = 0; x2 < rw; ++x2) rel[rh + x2] = dotf(qi, a.rel_w_table + (x1 + rw - 1 - x2) * d, d);
      }
      float mx = -std::numeric_limits<float>::infinity();
      for (size_t j = 0; j < last; ++j) {
        float s = dotf(qi, kb + j * kw, d) * a.scale;
        if (a.mask) s += a.mask[i * lk + j];
        if (rh) s += rel[j / rw] + rel[rh + j % rw];
        sc[j] = s;
        mx = std::max(mx, s);
      }
      VT vm = V::set1(mx), vs = V::zero();
      size_t j = 0;
      for (; j + VW <= last; j += VW) {
        VT p = V::exp(V::sub(V::load(sc + j), vm));
        V::store(sc + j, p);
        vs = V::add(vs, p);
      }
      float sum = V::hsum(vs);
      if (j < last) {
        int tl = static_cast<int>(last - j);
        V::storen(sc + j, V::exp(V::sub(V::loadn(sc + j, tl), vm)), tl);
        for (; j < last; ++j) sum += sc[j];
      }
      for (size_t c = 0; c < d; ++c) acc[c] = 0.f;
      for (j = 0; j < last; ++j) {
        VT p = V::set1(sc[j]);
        const KT* vj = vb + j * kw;
        size_t c = 0;
        for (; c + VW <= d; c += VW) V::store(acc + c, V::fma(p, kv_load(vj + c), V::load(acc + c)));
        for (; c < d; ++c) acc[c] += sc[j] * widen(vj[c]);
      }
      for (size_t c = 0; c < d; ++c) oi[c] = acc[c] / sum;
    }
  });
}

template <class KT>
void attn_tiled(const AttentionArgs& a) {
  const size_t d = a.d, kw = a.kv_heads * d, group = a.heads / a.kv_heads;
  const size_t lq = a.lq, lk = a.lk;
  const size_t dpad = round_up(d, NR);
  const size_t dP = ceil_div(d, 2);  // bf16 pairs along d (bf16_dot)
  const size_t kpan = ceil_div(lk, MR);
  const size_t kp_stride = kpan * MR * d, vp_stride = lk * dpad, kv_stride = kp_stride + vp_stride;
  const size_t nqb = ceil_div(lq, BQ);
  const size_t lqpad = nqb * BQ + BQ + NR;
  const float ninf = -std::numeric_limits<float>::infinity();

  // The additive mask, transposed to [lk][lqpad] (zero padded) so that it is read along queries.
  // Per-call buffers live in the calling thread's scratch (slots 5, 6; tasks use 0-4).
  float* mask_t = nullptr;
  if (a.mask) {
    mask_t = pool::scratch_as<float>(5, lk * lqpad);
    const size_t jb = 64;
    pool::parallel_for(ceil_div(lk, jb), [&](size_t t) {
      const size_t j0 = t * jb, j1 = std::min(lk, j0 + jb);
      for (size_t j = j0; j < j1; ++j) std::fill(mask_t + j * lqpad + lq, mask_t + (j + 1) * lqpad, 0.f);
      for (size_t i = 0; i < lq; ++i)
        for (size_t j = j0; j < j1; ++j) mask_t[j * lqpad + i] = a.mask[i * lk + j];
    });
  }

  const size_t bchunk =
      std::max<size_t>(1, std::min(a.batch, KV_BUDGET / std::max<size_t>(1, a.kv_heads * kv_stride)));
  float* kv = pool::scratch_as<float>(6, bchunk * a.kv_heads * kv_stride);

  for (size_t b0 = 0; b0 < a.batch; b0 += bchunk) {
    size_t bc = std::min(bchunk, a.batch - b0);
    // Pack K (k-major panels of MR keys) and V (rows padded to dpad) of every (batch, kv head).
    pool::parallel_for(bc * a.kv_heads, [&](size_t t) {
      size_t bl = t / a.kv_heads, g = t % a.kv_heads, b = b0 + bl;
      float* kp = kv + t * kv_stride;
      float* vp = kp + kp_stride;
      pack_panels<MR>(static_cast<const KT*>(a.k) + b * a.cap * kw + g * d, kw, lk, 0, d, kp);
      const KT* vs = static_cast<const KT*>(a.v) + b * a.cap * kw + g * d;
      for (size_t j = 0; j < lk; ++j) {
        float* dst = vp + j * dpad;
        if constexpr (std::is_same_v<KT, float>) {
          std::memcpy(dst, vs + j * kw, d * sizeof(float));
        } else {
          for (size_t c = 0; c < d; ++c) dst[c] = widen(vs[j * kw + c]);
        }
        for (size_t c = d; c < dpad; ++c) dst[c] = 0.f;
      }
      if (a.bf16_dot) {
        // In place, as bf16 pairs: K panels [kpan][dP][MR] (pairs along d), V [ceil(lk/2)][dpad]
        // (pairs of consecutive keys); each pair row is built before its source rows are overwritten.
        uint32_t* kq = reinterpret_cast<uint32_t*>(kp);
        for (size_t pn = 0; pn < kpan; ++pn)
          for (size_t cp = 0; cp < dP; ++cp)
            pair_rows(kp + (pn * d + 2 * cp) * MR, 2 * cp + 1 < d ? kp + (pn * d + 2 * cp + 1) * MR : nullptr, MR,
                      kq + (pn * dP + cp) * MR);
        uint32_t* vq = reinterpret_cast<uint32_t*>(vp);
        for (size_t jp = 0; jp < ceil_div(lk, 2); ++jp)
          pair_rows(vp + 2 * jp * dpad, 2 * jp + 1 < lk ? vp + (2 * jp + 1) * dpad : nullptr, dpad, vq + jp * dpad);
      } else if (a.bf16_products) {
        round_inplace(kp, kp_stride);
        round_inplace(vp, lk * dpad);
      }
    });

    pool::parallel_for(bc * a.heads * nqb, [&, b0](size_t t) {
      // Local copies (the hot loops below must not re-read captured references).
      const size_t d = a.d, lq = a.lq, lk = a.lk, qw = a.heads * d, rh = a.rel_h_table ? a.rel_h : 0;
      const size_t rw = a.rel_h_table ? a.rel_w : 0, dpad = round_up(d, NR);
      const float* const q = a.q;
      const size_t qb = t % nqb, h = (t / nqb) % a.heads, bl = t / (nqb * a.heads);
      const size_t b = b0 + bl, g = h / group;
      const float* kp = kv + (bl * a.kv_heads + g) * kv_stride;
      const float* vp = kp + kp_stride;
      const size_t q0 = qb * BQ, bq = std::min(BQ, lq - q0);
      const size_t bqp = round_up(bq, NR);  // score tile width (queries, padded)
      const size_t nv = bqp / VW;

      float* qt = pool::scratch_as<float>(0, d * bqp);         // q block transposed: [d][bqp]
      float* st = pool::scratch_as<float>(1, BK * bqp + MR + NR);  // score tile S^T: [BK][bqp]
      float* o = pool::scratch_as<float>(2, BQ * dpad);        // output accumulator: [bq][dpad]
      float* vec = pool::scratch_as<float>(3, 6 * bqp);        // m, l, msafe, alpha, iota, lsum
      float* relt = pool::scratch_as<float>(4, (rh + rw) * bqp + 1);  // relH^T [rh][bqp], relW^T [rw][bqp]
      float *m = vec, *l = vec + bqp, *ms = vec + 2 * bqp, *al = vec + 3 * bqp, *iota = vec + 4 * bqp;

      std::fill(qt, qt + d * bqp, 0.f);
      for (size_t i = 0; i < bq; ++i) {
        const float* qi = q + (b * lq + q0 + i) * qw + h * d;
        for (size_t c = 0; c < d; ++c) qt[c * bqp + i] = qi[c];
      }
      if (a.bf16_dot) {  // in place: pairs along d, [dP][bqp]
        uint32_t* qp = reinterpret_cast<uint32_t*>(qt);
        for (size_t cp = 0; cp < dP; ++cp)
          pair_rows(qt + 2 * cp * bqp, 2 * cp + 1 < d ? qt + (2 * cp + 1) * bqp : nullptr, bqp, qp + cp * bqp);
      } else if (a.bf16_products) {
        round_inplace(qt, d * bqp);
      }
      std::fill(o, o + bq * dpad, 0.f);
      for (size_t i = 0; i < bqp; ++i) {
        m[i] = ninf;
        l[i] = 0.f;
        iota[i] = static_cast<float>(i);
      }
      if (rh) {
        std::fill(relt, relt + (rh + rw) * bqp, 0.f);
        for (size_t i = 0; i < bq; ++i) {
          const float* qi = q + (b * lq + q0 + i) * qw + h * d;
          size_t y1 = (q0 + i) / rw, x1 = (q0 + i) % rw;
          for (size_t y2 = 0; y2 < rh; ++y2) relt[y2 * bqp + i] = dotf(qi, a.rel_h_table + (y1 + rh - 1 - y2) * d, d);
          for (size_t x2 = 0; x2 < rw; ++x2)
            relt[(rh + x2) * bqp + i] = dotf(qi, a.rel_w_table + (x1 + rw - 1 - x2) * d, d);
        }
      }

      size_t kend = lk;  // keys visible to the block's last row
      if (a.causal) {
        int64_t lim = a.causal_offset + static_cast<int64_t>(q0 + bq);
        kend = lim <= 0 ? 0 : std::min<size_t>(lk, static_cast<size_t>(lim));
      }
      const VT vscale = V::set1(a.scale);
      for (size_t j0 = 0; j0 < kend; j0 += BK) {
        const size_t kb = std::min(BK, kend - j0);
        // S^T = K_block . Q^T
        const size_t kpn = ceil_div(kb, MR);
        for (size_t ir = 0; ir < kpn; ++ir)
          for (size_t jr = 0; jr < bqp / NR; ++jr) {
#if DSOCR_X86
            if constexpr (MR == 12 && NR == 32) {
              if (a.bf16_dot) {
                uk_pairs<MR>(dP, reinterpret_cast<const uint32_t*>(kp) + (j0 / MR + ir) * dP * MR, MR,
                             reinterpret_cast<const uint32_t*>(qt) + jr * NR, bqp, st + ir * MR * bqp + jr * NR, bqp,
                             MR, NR, false);
                continue;
              }
            }
#endif
            ukernel(static_cast<int>(d), kp + (j0 / MR + ir) * d * MR, MR, qt + jr * NR, bqp,
                    st + ir * MR * bqp + jr * NR, bqp, MR, NR, false);
          }
        // Scores and the block maximum.
        const bool need_causal = a.causal && static_cast<int64_t>(j0 + kb - 1) > a.causal_offset + static_cast<int64_t>(q0);
        size_t y2 = rh ? j0 / rw : 0, x2 = rh ? j0 % rw : 0;
        for (size_t v = 0; v < nv; ++v) V::store(al + v * VW, V::set1(ninf));  // block max (temporarily in al)
        for (size_t j = 0; j < kb; ++j) {
          float* srow = st + j * bqp;
          const float* mrow = mask_t ? mask_t + (j0 + j) * lqpad + q0 : nullptr;
          const float* hrow = relt + y2 * bqp;
          const float* wrow = relt + (rh + x2) * bqp;
          const VT thr = V::set1(static_cast<float>(static_cast<int64_t>(j0 + j) - a.causal_offset - static_cast<int64_t>(q0)));
          for (size_t v = 0; v < nv; ++v) {
            VT s = V::mul(V::load(srow + v * VW), vscale);
            if (mrow) s = V::add(s, V::load(mrow + v * VW));
            if (rh) s = V::add(s, V::add(V::load(hrow + v * VW), V::load(wrow + v * VW)));
            if (need_causal) s = V::lt_select(V::load(iota + v * VW), thr, V::set1(ninf), s);
            V::store(srow + v * VW, s);
            V::store(al + v * VW, V::max(V::load(al + v * VW), s));
          }
          if (rh && ++x2 == rw) {
            x2 = 0;
            ++y2;
          }
        }
        // New running max, the rescale factor, the max used for the exponentials (0 if -inf).
        for (size_t v = 0; v < nv; ++v) {
          VT mold = V::load(m + v * VW);
          VT mnew = V::max(mold, V::load(al + v * VW));
          VT msafe = V::lt_select(mnew, V::set1(-std::numeric_limits<float>::max()), V::zero(), mnew);
          V::store(m + v * VW, mnew);
          V::store(ms + v * VW, msafe);
          V::store(al + v * VW, V::exp(V::sub(mold, msafe)));
        }
        // p = exp(s - m'), l = l * alpha + sum p (the block sums are gathered in lsum).
        float* lsum = iota + bqp;
        for (size_t v = 0; v < nv; ++v) V::store(lsum + v * VW, V::zero());
        for (size_t j = 0; j < kb; ++j) {
          float* srow = st + j * bqp;
          for (size_t v = 0; v < nv; ++v) {
            VT e = V::exp(V::sub(V::load(srow + v * VW), V::load(ms + v * VW)));
            V::store(srow + v * VW, e);
            V::store(lsum + v * VW, V::add(V::load(lsum + v * VW), e));
          }
        }
        for (size_t v = 0; v < nv; ++v)
          V::store(l + v * VW, V::fma(V::load(l + v * VW), V::load(al + v * VW), V::load(lsum + v * VW)));
        if (j0 > 0) {
          for (size_t i = 0; i < bq; ++i) {
            if (al[i] == 1.f) continue;
            const VT f = V::set1(al[i]);
            float* orow = o + i * dpad;
            for (size_t c = 0; c < dpad; c += VW) V::store(orow + c, V::mul(V::load(orow + c), f));
          }
        }
        // O += P V
        const size_t qgroups = ceil_div(bq, MR);
#if DSOCR_X86
        if constexpr (MR == 12 && NR == 32) {
          if (a.bf16_dot) {
            // P as pairs of consecutive keys, in place: row jp of st <- rows 2jp, 2jp + 1.
            uint32_t* pp = reinterpret_cast<uint32_t*>(st);
            const size_t kbp = ceil_div(kb, 2);
            for (size_t jp = 0; jp < kbp; ++jp)
              pair_rows(st + 2 * jp * bqp, 2 * jp + 1 < kb ? st + (2 * jp + 1) * bqp : nullptr, bqp, pp + jp * bqp);
            const uint32_t* vq = reinterpret_cast<const uint32_t*>(vp) + (j0 / 2) * dpad;
            for (size_t ir = 0; ir < qgroups; ++ir)
              for (size_t jr = 0; jr < dpad / NR; ++jr)
                uk_pairs<MR>(kbp, pp + ir * MR, bqp, vq + jr * NR, dpad, o + ir * MR * dpad + jr * NR, dpad,
                             static_cast<int>(std::min<size_t>(MR, bq - ir * MR)), NR, true);
            continue;
          }
        }
#endif
        if (a.bf16_products) round_inplace(st, kb * bqp);
        for (size_t ir = 0; ir < qgroups; ++ir)
          for (size_t jr = 0; jr < dpad / NR; ++jr)
            ukernel(static_cast<int>(kb), st + ir * MR, bqp, vp + j0 * dpad + jr * NR, dpad,
                    o + ir * MR * dpad + jr * NR, dpad, static_cast<int>(std::min<size_t>(MR, bq - ir * MR)), NR,
                    true);
      }
      for (size_t i = 0; i < bq; ++i) {
        float* oi = a.out + (b * lq + q0 + i) * qw + h * d;
        const float* src = o + i * dpad;
        const float li = l[i];
        for (size_t c = 0; c < d; ++c) oi[c] = src[c] / li;
      }
    });
  }
}

template <class KT>
void attention_kv(const AttentionArgs& a) {
  if (a.bf16_products) {  // the tiled kernel is the one that rounds (any lq)
    attn_tiled<KT>(a);
  } else if (a.lq <= SMALL_LQ && !a.mask && !a.rel_h_table) {
    attn_decode<KT>(a);
  } else if (a.lq <= SMALL_LQ) {
    attn_small<KT>(a);
  } else {
    attn_tiled<KT>(a);
  }
}

void attention(const AttentionArgs& a) {
  if (a.batch == 0 || a.lq == 0 || a.heads == 0 || a.d == 0) return;
  if (a.kv_bf16) {
    attention_kv<uint16_t>(a);
  } else {
    attention_kv<float>(a);
  }
}

}  // namespace
}  // namespace DSOCR_NS
}  // namespace dsocr

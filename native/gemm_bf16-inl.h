// bf16 x bf16 -> f32 GEMM over the BF16 packed layout (one copy per ISA level; see pack_bf16.cc).
// No include guard: included once per level, inside that level's target region, with
// DSOCR_BF16_LEVEL = 0 (scalar), 1 (AVX2), 2 (AVX-512) and DSOCR_NS / DSOCR_VEC as in isa_foreach.h.
//
// Packed weight W [N, K] (pack_bf16.cc): KP = ceil(K / 2) k-pairs, N cut into panels of 32 rows;
// panel p is KP x 32 dwords, dword (kp, j) = bf16(W[32p + j][2kp]) | bf16(W[32p + j][2kp + 1]) << 16
// (zeros past N and K). One k-pair row of a panel is two zmm = exactly the B operand of two
// `vdpbf16ps` for 32 output columns.
//
// y = x Wᵀ: x is rounded to bf16 (RNE, as reference.ts f32ToBf16) and packed into micro-panels of
// MR rows, dword (kp, i) = the k-pair kp of row i (A operand, broadcast one dword per row). The
// register micro-kernel keeps an R x 32 tile of f32 accumulators (R <= MR) and, per k-pair, loads the
// two B vectors once and issues 2R dot products (AVX512_BF16: one vdpbf16ps each; otherwise the
// bf16 pairs are widened to f32 (even = bits << 16, odd = bits & 0xffff0000) and fed to two FMAs:
// the same exact products, accumulated in f32).
//
// Blocking: K is not sliced (each output tile is summed in registers over all of K and stored once:
// per k-pair a tile reads 128 B of B and 4R B of A for 2R dot products, well within L2 bandwidth).
// Tasks are up to 16 micro-panels of rows (their packed x, <= 384 KiB, stays in L2) x a chunk of
// up to 16 panels (each panel, K x 128 B, is reused from L2 by every row micro-panel of the task).
// Every output element is summed by one task in k order: results do not depend on the thread count.
// Small M (<= MR, decode) is one micro-panel and the tasks split the panels (streaming W once).
// Small N (at most PAN_MAX panels, one chunk): each task packs its own rows just before using them
// and the row blocks shrink so that there are >= 2 tasks per thread (see gemm()).

namespace dsocr {
namespace DSOCR_NS {
namespace {

constexpr size_t PN = kBf16PanelN;  // 32 output columns per panel
constexpr size_t MCP = 16;          // micro-panels of x rows per task
constexpr size_t A_BLOCK_BYTES = 384 << 10;  // packed x rows per task at most (L2)
constexpr size_t PAN_MAX = 16;      // panels per task at most

inline size_t cdiv(size_t a, size_t b) { return (a + b - 1) / b; }

DSOCR_INLINE uint32_t rne_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (u >> 16) | 0x40u;
  return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

// dst[k] = bf16(src[k]) for k < n.
inline void round_row(const float* src, size_t n, uint16_t* dst) {
  size_t k = 0;
#if DSOCR_BF16_LEVEL == 2
  const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff), inf = _mm512_set1_epi32(0x7f800000);
  const __m512i bias = _mm512_set1_epi32(0x7fff), one = _mm512_set1_epi32(1), qnan = _mm512_set1_epi32(0x40);
  for (; k + 16 <= n; k += 16) {
    __m512i u = _mm512_loadu_si512(src + k);
    __m512i h = _mm512_srli_epi32(u, 16);
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, bias), _mm512_and_si512(h, one)), 16);
    __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, abs_mask), inf);
    r = _mm512_mask_or_epi32(r, nan, h, qnan);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + k), _mm512_cvtepi32_epi16(r));
  }
#elif DSOCR_BF16_LEVEL == 1
  const __m256i abs_mask = _mm256_set1_epi32(0x7fffffff), inf = _mm256_set1_epi32(0x7f800000);
  const __m256i bias = _mm256_set1_epi32(0x7fff), one = _mm256_set1_epi32(1), qnan = _mm256_set1_epi32(0x40);
  for (; k + 8 <= n; k += 8) {
    __m256i u = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + k));
    __m256i h = _mm256_srli_epi32(u, 16);
    __m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, bias), _mm256_and_si256(h, one)), 16);
    // |u| > inf as signed ints (both non-negative).
    __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, abs_mask), inf);
    r = _mm256_blendv_epi8(r, _mm256_or_si256(h, qnan), nan);
    __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0x08);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + k), _mm256_castsi256_si128(p));
  }
#endif
  for (; k < n; ++k) dst[k] = static_cast<uint16_t>(rne_bf16(src[k]));
}

// Packs rows [r0, r0 + rv) of x [*, K] (rv <= S) into one micro-panel: dst[kp * S + i] (kp < KP).
template <int S>
void pack_a_panel(const float* x, size_t K, size_t KP, size_t rv, uint32_t* dst, uint32_t* tmp) {
  for (size_t i = 0; i < rv; ++i) {
    uint16_t* t16 = reinterpret_cast<uint16_t*>(tmp);
    round_row(x + i * K, K, t16);
    if (K & 1) t16[K] = 0;
    for (size_t kp = 0; kp < KP; ++kp) dst[kp * S + i] = tmp[kp];
  }
}

// ---- micro-kernels: C[R x nv] (+)= A-panel (stride S) x B-slice, over kpc k-pairs ----------------
// Stores: rows < R, columns < nv of c (row stride ldc); `acc` adds to C.

#if DSOCR_BF16_LEVEL == 2
using bf16tile::store_tile;

// AVX512_BF16: vdpbf16ps (only called where the CPU has it).
template <int R, int S>
__attribute__((noinline, target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx2,fma,f16c"))) void uk_dot(
    size_t kpc, const uint32_t* a, const uint32_t* b, float* c, size_t ldc, int nv, bool acc) {
  __m512 r0[R], r1[R];
  bf16tile::dot_tile<R>(kpc, a, S, b, PN, r0, r1);
  store_tile<R>(r0, r1, R, c, ldc, nv, acc);
}

// AVX-512F: widen the pairs and FMA.
template <int R, int S>
__attribute__((noinline)) void uk_widen(size_t kpc, const uint32_t* a, const uint32_t* b, float* c, size_t ldc,
                                        int nv, bool acc) {
  __m512 r0[R], r1[R];
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i) r0[i] = r1[i] = _mm512_setzero_ps();
  for (size_t k = 0; k < kpc; ++k) {
    __m512 b0e, b0o, b1e, b1o;
    DSOCR_VEC::widen_pairs(_mm512_loadu_si512(b), b0e, b0o);
    DSOCR_VEC::widen_pairs(_mm512_loadu_si512(b + 16), b1e, b1o);
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i) {
      __m512 ae, ao;
      DSOCR_VEC::widen_pairs(_mm512_set1_epi32(static_cast<int>(a[i])), ae, ao);
      r0[i] = _mm512_fmadd_ps(ae, b0e, r0[i]);
      r1[i] = _mm512_fmadd_ps(ae, b1e, r1[i]);
      r0[i] = _mm512_fmadd_ps(ao, b0o, r0[i]);
      r1[i] = _mm512_fmadd_ps(ao, b1o, r1[i]);
    }
    a += S;
    b += PN;
  }
  store_tile<R>(r0, r1, R, c, ldc, nv, acc);
}

constexpr int MR_DOT = 14, MR_WIDEN = 12;

#elif DSOCR_BF16_LEVEL == 1

// AVX2: 16 of the panel's 32 columns per call (b already offset to them), R <= 4 rows.
template <int R, int S>
__attribute__((noinline)) void uk_half(size_t kpc, const uint32_t* a, const uint32_t* b, float* c, size_t ldc,
                                       int nv, bool acc) {
  __m256 r0[R], r1[R];
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i) r0[i] = r1[i] = _mm256_setzero_ps();
  for (size_t k = 0; k < kpc; ++k) {
    __m256 b0e, b0o, b1e, b1o;
    DSOCR_VEC::widen_pairs(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b)), b0e, b0o);
    DSOCR_VEC::widen_pairs(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 8)), b1e, b1o);
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) {
      __m256 ae, ao;
      DSOCR_VEC::widen_pairs(_mm256_set1_epi32(static_cast<int>(a[i])), ae, ao);
      r0[i] = _mm256_fmadd_ps(ae, b0e, r0[i]);
      r1[i] = _mm256_fmadd_ps(ae, b1e, r1[i]);
      r0[i] = _mm256_fmadd_ps(ao, b0o, r0[i]);
      r1[i] = _mm256_fmadd_ps(ao, b1o, r1[i]);
    }
    a += S;
    b += PN;
  }
  alignas(32) float t[16];
  for (int i = 0; i < R; ++i) {
    float* p = c + i * ldc;
    _mm256_store_ps(t, r0[i]);
    _mm256_store_ps(t + 8, r1[i]);
    if (nv == 16) {
      __m256 v0 = r0[i], v1 = r1[i];
      if (acc) {
        v0 = _mm256_add_ps(v0, _mm256_loadu_ps(p));
        v1 = _mm256_add_ps(v1, _mm256_loadu_ps(p + 8));
      }
      _mm256_storeu_ps(p, v0);
      _mm256_storeu_ps(p + 8, v1);
    } else {
      for (int j = 0; j < nv; ++j) p[j] = acc ? p[j] + t[j] : t[j];
    }
  }
}

constexpr int MR_HALF = 4;

#else

// Scalar: the same sums (even then odd product of every pair, in k order).
template <int S>
void uk_scalar(int R, size_t kpc, const uint32_t* a, const uint32_t* b, float* c, size_t ldc, int nv, bool acc) {
  for (int i = 0; i < R; ++i) {
    for (int j = 0; j < nv; ++j) {
      float s = 0.f;
      for (size_t k = 0; k < kpc; ++k) {
        const uint32_t av = a[k * S + i], bv = b[k * PN + j];
        s += simd::bf16_to_f32(static_cast<uint16_t>(av)) * simd::bf16_to_f32(static_cast<uint16_t>(bv));
        s += simd::bf16_to_f32(static_cast<uint16_t>(av >> 16)) * simd::bf16_to_f32(static_cast<uint16_t>(bv >> 16));
      }
      float* p = c + i * ldc + j;
      *p = acc ? *p + s : s;
    }
  }
}

constexpr int MR_SCALAR = 4;

#endif

// NAME<S>(R, ...) calls FN<R, S> for a runtime row count R in 1..S.

#define DSOCR_UK_TABLE(NAME, FN)                                                                             \
  template <int S, int... Rs>                                                                                \
  DSOCR_INLINE void NAME##_call(std::integer_sequence<int, Rs...>, int R, size_t kpc, const uint32_t* a,    \
                                const uint32_t* b, float* c, size_t ldc, int nv, bool acc) {                 \
    using Fn = void (*)(size_t, const uint32_t*, const uint32_t*, float*, size_t, int, bool);               \
    static constexpr Fn table[] = {&FN<Rs + 1, S>...};                                                       \
    table[R - 1](kpc, a, b, c, ldc, nv, acc);                                                                \
  }                                                                                                          \
  template <int S>                                                                                           \
  DSOCR_INLINE void NAME(int R, size_t kpc, const uint32_t* a, const uint32_t* b, float* c, size_t ldc,     \
                         int nv, bool acc) {                                                                 \
    NAME##_call<S>(std::make_integer_sequence<int, S>(), R, kpc, a, b, c, ldc, nv, acc);                     \
  }

#if DSOCR_BF16_LEVEL == 2
DSOCR_UK_TABLE(run_dot, uk_dot)
DSOCR_UK_TABLE(run_widen, uk_widen)
#elif DSOCR_BF16_LEVEL == 1
DSOCR_UK_TABLE(run_half_uk, uk_half)
#endif
#undef DSOCR_UK_TABLE

// ---- driver -----------------------------------------------------------------------------------

thread_local std::vector<uint32_t> t_apack;  // the caller's packed x (reused between calls)

template <int MR, class UK>
void gemm(const float* x, size_t M, const Packed& w, const float* bias, float* y, UK uk) {
  const size_t N = w.rows, K = w.cols, KP = cdiv(K, 2), npan = cdiv(N, PN);
  const uint32_t* B = static_cast<const uint32_t*>(w.data);
  const size_t mpan = cdiv(M, MR);
  const size_t th = static_cast<size_t>(pool::threads());
  // Small N (every task covers all the panels, e.g. N <= 512): each task packs its own rows right
  // before using them (no second pass over a packed copy of x in memory) and the row blocks are
  // cut finer so that the tasks balance over the threads (N = 64..256 with M of a few hundred
  // rows made only 2-3 tasks before).
  if (npan <= PAN_MAX) {
    size_t mcp = std::clamp<size_t>(A_BLOCK_BYTES / (MR * KP * 4), 1, MCP);
    mcp = std::max<size_t>(1, std::min(mcp, cdiv(mpan, 4 * th)));
    const size_t mt = cdiv(mpan, mcp);
    if (mt >= 2 * th) {
      pool::parallel_for(mt, [&](size_t t) {
        const size_t i0 = t * mcp, i1 = std::min(mpan, i0 + mcp);
        uint32_t* tmp = pool::scratch_as<uint32_t>(6, KP + 16);
        uint32_t* A = pool::scratch_as<uint32_t>(7, mcp * KP * MR);
        for (size_t ir = i0; ir < i1; ++ir) {
          const size_t r0 = ir * MR;
          pack_a_panel<MR>(x + r0 * K, K, KP, std::min<size_t>(MR, M - r0), A + (ir - i0) * KP * MR, tmp);
        }
        for (size_t jr = 0; jr < npan; ++jr) {
          const int nv = static_cast<int>(std::min(PN, N - jr * PN));
          const uint32_t* bp = B + jr * KP * PN;
          for (size_t ir = i0; ir < i1; ++ir) {
            const int R = static_cast<int>(std::min<size_t>(MR, M - ir * MR));
            uk(R, KP, A + (ir - i0) * KP * MR, bp, y + ir * MR * N + jr * PN, N, nv, false);
          }
        }
        if (bias) {
          for (size_t r = i0 * MR; r < std::min(M, i1 * MR); ++r) {
            float* yr = y + r * N;
            for (size_t j = 0; j < N; ++j) yr[j] += bias[j];
          }
        }
      });
      return;
    }
  }
  std::vector<uint32_t>& abuf = t_apack;
  if (abuf.size() < mpan * KP * MR) abuf.resize(mpan * KP * MR);
  uint32_t* A = abuf.data();
  // 1. x -> bf16 micro-panels.
  {
    const size_t per = std::max<size_t>(1, mpan / (4 * th));
    pool::parallel_for(cdiv(mpan, per), [&](size_t t) {
      uint32_t* tmp = pool::scratch_as<uint32_t>(6, KP + 16);
      for (size_t ip = t * per; ip < std::min(mpan, (t + 1) * per); ++ip) {
        const size_t r0 = ip * MR;
        pack_a_panel<MR>(x + r0 * K, K, KP, std::min<size_t>(MR, M - r0), A + ip * KP * MR, tmp);
      }
    });
  }
  // 2. Tiles: MCP micro-panels of rows (their x panels, all of K, stay in L2) x a chunk of panels.
  const size_t mcp = std::clamp<size_t>(A_BLOCK_BYTES / (MR * KP * 4), 1, MCP);
  const size_t mt = cdiv(mpan, mcp);
  size_t nch = std::max(cdiv(4 * th, mt), cdiv(npan, PAN_MAX));
  nch = std::min(nch, npan);
  const size_t pan_per = cdiv(npan, nch);
  nch = cdiv(npan, pan_per);
  pool::parallel_for(mt * nch, [&](size_t t) {
    const size_t mi = t / nch, cj = t % nch;
    const size_t i0 = mi * mcp, i1 = std::min(mpan, i0 + mcp);
    const size_t j0 = cj * pan_per, j1 = std::min(npan, j0 + pan_per);
    for (size_t jr = j0; jr < j1; ++jr) {
      const int nv = static_cast<int>(std::min(PN, N - jr * PN));
      const uint32_t* bp = B + jr * KP * PN;
      for (size_t ir = i0; ir < i1; ++ir) {
        const int R = static_cast<int>(std::min<size_t>(MR, M - ir * MR));
        uk(R, KP, A + ir * KP * MR, bp, y + ir * MR * N + jr * PN, N, nv, false);
      }
    }
    if (bias) {
      const size_t r1 = std::min(M, i1 * MR), n0 = j0 * PN, n1 = std::min(N, j1 * PN);
      for (size_t r = i0 * MR; r < r1; ++r) {
        float* yr = y + r * N;
        for (size_t j = n0; j < n1; ++j) yr[j] += bias[j];
      }
    }
  });
}

void linear_bf16_level(const float* x, size_t M, const Packed& w, const float* bias, float* y, [[maybe_unused]] bool dot) {
  // M, w.rows, w.cols >= 1: linear_packed handles the degenerate sizes.
#if DSOCR_BF16_LEVEL == 2
  if (dot) {
    gemm<MR_DOT>(x, M, w, bias, y, [](int R, size_t kpc, const uint32_t* a, const uint32_t* b, float* c, size_t ldc,
                                      int nv, bool acc) { run_dot<MR_DOT>(R, kpc, a, b, c, ldc, nv, acc); });
  } else {
    gemm<MR_WIDEN>(x, M, w, bias, y, [](int R, size_t kpc, const uint32_t* a, const uint32_t* b, float* c,
                                        size_t ldc, int nv, bool acc) {
      run_widen<MR_WIDEN>(R, kpc, a, b, c, ldc, nv, acc);
    });
  }
#elif DSOCR_BF16_LEVEL == 1
  gemm<MR_HALF>(x, M, w, bias, y, [](int R, size_t kpc, const uint32_t* a, const uint32_t* b, float* c, size_t ldc,
                                     int nv, bool acc) {
    run_half_uk<MR_HALF>(R, kpc, a, b, c, ldc, std::min(nv, 16), acc);
    if (nv > 16) run_half_uk<MR_HALF>(R, kpc, a, b + 16, c + 16, ldc, nv - 16, acc);
  });
#else
  gemm<MR_SCALAR>(x, M, w, bias, y, [](int R, size_t kpc, const uint32_t* a, const uint32_t* b, float* c, size_t ldc,
                                       int nv, bool acc) { uk_scalar<MR_SCALAR>(R, kpc, a, b, c, ldc, nv, acc); });
#endif
}

}  // namespace
}  // namespace DSOCR_NS
}  // namespace dsocr

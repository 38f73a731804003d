// Large-M linear (prefill) over INT8 packed weights (layout: pack_int8-inl.h) on AVX512_VNNI CPUs.
//
// The rows of x are quantised per group to int16 as quant_x does (pack_int8.h QuantX: qx, sx), so
//   y[m][n] = Σ_g s[n][g] sx[m][g] · Σ_{k in group g} qx[m][k] · q[n][k]
// runs on vpdpwssd (int16 pair products summed into int32 lanes, exact), the scales applied in
// f32 at the end of each group: the products of the decode kernels (pack_int8-inl.h).
//
// The operands' roles are swapped against gemm_bf16-inl.h, so that the weight needs no
// transposing repack:
//   - x is quantised and packed in panels of XP = 16 rows (pack_x_panel): dword (kp, j) = the int16
//     pair kp of row j (zero rows past M, a zero pad past an odd K), one zmm per k-pair; its
//     scales transposed, sx[g][j];
//   - each task converts its block of weight rows to int16 pairs, row-major, into a per-thread
//     scratch (convert_row: the int8 row sign-extended in place order);
//   - the micro-kernel keeps R <= 12 weight rows x 16 x rows of int32 group accumulators: per
//     k-pair it loads the x vector once and broadcasts one weight pair per row (R vpdpwssd); at
//     the end of each group it converts them to f32 and folds them into the totals, one FMA each
//     by s[n][g] times the panel's sx[g][.]; the tile is stored transposed (y[m][n]). 16-row
//     panels waste little of a small M (an expert's ~100 routed rows in prefill).
// Blocking: a task owns a block of weight rows (<= W_BLOCK_BYTES converted, L2, but at least
// MIN_TILES tiles of RQ rows) and walks every x panel (K x 32 B) against it. The floor matters
// for a long K: at K = 6848 (dense layer 0's down projection) 192 KiB held one 12-row tile, so
// every task streamed all of x (15.5 MB) from memory for 12 rows; 4 tiles per task measured
// 262-338 -> 330-367 GFLOP/s there (2 threads, Zen 4), the other shapes unchanged. Every output is summed by one task in k order, so results do
// not depend on the thread count.
#include "gemm_int8.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "cpu.h"
#include "pack_bf16.h"
#include "pack_int8.h"
#include "pool.h"
#include "simd.h"

namespace dsocr {

#if DSOCR_X86

namespace {

constexpr size_t XP = 16;                    // x rows per panel
constexpr int RQ = 12;                       // weight rows per micro-tile (2 x 12 + 2 of 32 zmm)
constexpr size_t W_BLOCK_BYTES = 192 << 10;  // converted weight rows per task
constexpr size_t MIN_TILES = 4;              // at least this many RQ-row tiles per task (see gemm)

inline size_t cdiv(size_t a, size_t b) { return (a + b - 1) / b; }

}  // namespace

DSOCR_BEGIN_AVX512VNNI
namespace {

// Panel p of x: rows [16p, 16p + 16) quantised to int16 (quant_rows_into, as quant_x) as pairs
// (dwords) into tmp [16][KP], transposed by 16 x 16 dword blocks: dst[kp * 16 + j]; their scales
// transposed, sxp[g * 16 + j] (0 past M). srow: scratch for the scales [16][ng].
void pack_x_panel(const float* x, size_t M, size_t K, size_t G, size_t KP, size_t ng, size_t p, uint32_t* dst,
                  float* sxp, uint32_t* tmp, float* srow) {
  const size_t r0 = p * XP, rv = std::min(XP, M - r0);
  quant_rows_into(Isa::Avx512, x + r0 * K, rv, K, G, reinterpret_cast<int16_t*>(tmp), 2 * KP, srow);
  for (size_t j = 0; j < XP; ++j)
    for (size_t g = 0; g < ng; ++g) sxp[g * XP + j] = j < rv ? srow[j * ng + g] : 0.f;
  std::memset(tmp + rv * KP, 0, (XP - rv) * KP * sizeof(uint32_t));
  size_t kp = 0;
  for (; kp + 16 <= KP; kp += 16) {
    __m512 r[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) r[i] = _mm512_castsi512_ps(_mm512_loadu_si512(tmp + i * KP + kp));
    simd::VAvx512::transpose16(r);  // data movement only: the bits stay as they are
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) _mm512_storeu_ps(reinterpret_cast<float*>(dst + (kp + i) * XP), r[i]);
  }
  for (; kp < KP; ++kp)
    for (size_t j = 0; j < XP; ++j) dst[kp * XP + j] = tmp[j * KP + kp];
}

// Weight row n as int16 pairs: dst[kp] = u16(q[n][2kp]) | u16(q[n][2kp + 1]) << 16, kp < KP
// (sign-extended; the int8 zero padding past K gives the zero pad of an odd K).
void convert_row(const int8_t* q, size_t Kp, size_t n, size_t KP, uint32_t* dst) {
  const int8_t* row = q + (n / int8::P) * int8::P * Kp + (n % int8::P) * int8::KB;
  int16_t* d16 = reinterpret_cast<int16_t*>(dst);
  const size_t kv = 2 * KP;  // values written (<= Kp)
  for (size_t k = 0; k < kv; k += 32) {
    const int8_t* src = row + (k / int8::KB) * int8::P * int8::KB + k % int8::KB;
    const __m512i h = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src)));
    const size_t t = std::min<size_t>(32, kv - k);
    _mm512_mask_storeu_epi16(d16 + k, t == 32 ? ~__mmask32{0} : (__mmask32{1} << t) - 1, h);
  }
}

// tile[i * 16 + j] = Σ_g s_i[g] sx[g][j] · Σ_{kp in group g} w_i[kp] · b[kp][j] (int16 pair dot
// products), i < R weight rows (w_i = w + i * KP, s_i = sc + i * ng), j < 16 x rows; groups of gkp pairs.
template <int R>
__attribute__((noinline)) void uk_q(size_t KP, size_t gkp, const uint32_t* w, const float* sc, size_t ng,
                                    const uint32_t* b, const float* sx, float* tile) {
  __m512 t[R];
#pragma GCC unroll 12
  for (int i = 0; i < R; ++i) t[i] = _mm512_setzero_ps();
  for (size_t k0 = 0, g = 0; k0 < KP; k0 += gkp, ++g) {
    const size_t k1 = std::min(KP, k0 + gkp);
    __m512i a[R];
#pragma GCC unroll 12
    for (int i = 0; i < R; ++i) a[i] = _mm512_setzero_si512();
    for (size_t k = k0; k < k1; ++k) {
      const __m512i bv = _mm512_loadu_si512(b + k * XP);
#pragma GCC unroll 12
      for (int i = 0; i < R; ++i)
        a[i] = _mm512_dpwssd_epi32(a[i], _mm512_set1_epi32(static_cast<int>(w[i * KP + k])), bv);
    }
    const __m512 sxv = _mm512_loadu_ps(sx + g * XP);
#pragma GCC unroll 12
    for (int i = 0; i < R; ++i)
      t[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(a[i]), _mm512_mul_ps(_mm512_set1_ps(sc[i * ng + g]), sxv), t[i]);
  }
#pragma GCC unroll 12
  for (int i = 0; i < R; ++i) _mm512_store_ps(tile + i * XP, t[i]);
}

template <int... Rs>
void run_uk_table(std::integer_sequence<int, Rs...>, int R, size_t KP, size_t gkp, const uint32_t* w,
                  const float* sc, size_t ng, const uint32_t* b, const float* sx, float* tile) {
  using Fn = void (*)(size_t, size_t, const uint32_t*, const float*, size_t, const uint32_t*, const float*, float*);
  static constexpr Fn table[] = {&uk_q<Rs + 1>...};
  table[R - 1](KP, gkp, w, sc, ng, b, sx, tile);
}

void run_uk(int R, size_t KP, size_t gkp, const uint32_t* w, const float* sc, size_t ng, const uint32_t* b,
            const float* sx, float* tile) {
  run_uk_table(std::make_integer_sequence<int, RQ>(), R, KP, gkp, w, sc, ng, b, sx, tile);
}

thread_local std::vector<uint32_t> t_xpack;  // the caller's packed x (reused between calls)
thread_local std::vector<float> t_sxpack;

void gemm(const float* x, size_t M, const Packed& w, const float* bias, float* y) {
  const size_t N = w.rows, K = w.cols, KP = cdiv(K, 2), Kp = int8::padded_k(K);
  const size_t ng = int8::groups(K, w.group), gkp = w.group / 2;  // groups are even (32, 64, 128)
  const int8_t* q = static_cast<const int8_t*>(w.data);
  const size_t npx = cdiv(M, XP);
  std::vector<uint32_t>& xb = t_xpack;
  if (xb.size() < npx * KP * XP) xb.resize(npx * KP * XP);
  if (t_sxpack.size() < npx * ng * XP) t_sxpack.resize(npx * ng * XP);
  uint32_t* X = xb.data();
  float* SX = t_sxpack.data();
  pool::parallel_for(npx, [&](size_t p) {
    pack_x_panel(x, M, K, w.group, KP, ng, p, X + p * KP * XP, SX + p * ng * XP,
                 pool::scratch_as<uint32_t>(6, XP * KP), pool::scratch_as<float>(7, XP * ng));
  });
  // Weight rows per task: a multiple of RQ, <= W_BLOCK_BYTES converted (>= MIN_TILES tiles),
  // >= 4 tasks per thread.
  const size_t th = static_cast<size_t>(pool::threads());
  size_t wb = std::max<size_t>(MIN_TILES, W_BLOCK_BYTES / (KP * sizeof(uint32_t) * RQ)) * RQ;
  wb = std::min(wb, cdiv(cdiv(N, 4 * th), RQ) * RQ);
  pool::parallel_for(cdiv(N, wb), [&](size_t t) {
    const size_t n0 = t * wb, nb = std::min(N, n0 + wb) - n0;
    uint32_t* wc = pool::scratch_as<uint32_t>(5, nb * KP);
    for (size_t i = 0; i < nb; ++i) convert_row(q, Kp, n0 + i, KP, wc + i * KP);
    alignas(64) float tile[RQ * XP];
    for (size_t p = 0; p < npx; ++p) {
      const size_t m0 = p * XP, mv = std::min(XP, M - m0);
      for (size_t i0 = 0; i0 < nb; i0 += RQ) {
        const int R = static_cast<int>(std::min<size_t>(RQ, nb - i0));
        run_uk(R, KP, gkp, wc + i0 * KP, w.scales + (n0 + i0) * ng, ng, X + p * KP * XP, SX + p * ng * XP, tile);
        for (size_t j = 0; j < mv; ++j) {
          float* yr = y + (m0 + j) * N + n0 + i0;
          if (bias) {
            for (int i = 0; i < R; ++i) yr[i] = tile[i * XP + j] + bias[n0 + i0 + i];
          } else {
            for (int i = 0; i < R; ++i) yr[i] = tile[i * XP + j];
          }
        }
      }
    }
  });
}

}  // namespace
DSOCR_END_TARGET

bool gemm_int8_available() { return bf16_dot_enabled() && cpu_features().avx512vnni; }

void gemm_int8_dot(const float* x, size_t M, const Packed& w, const float* bias, float* y) {
  gemm(x, M, w, bias, y);
}

#else

bool gemm_int8_available() { return false; }
void gemm_int8_dot(const float*, size_t, const Packed&, const float*, float*) {}

#endif

}  // namespace dsocr

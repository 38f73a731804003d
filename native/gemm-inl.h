// GEMM building blocks shared by linear and attention (one copy per ISA; see isa_foreach.h).
// No include guard: included once per ISA pass, inside that pass's target region.
// (Standard headers are included by simd.h, outside any target region.)

namespace dsocr {
namespace DSOCR_NS {
namespace {

using V = DSOCR_VEC;
using VT = V::T;
constexpr int VW = V::W;      // lanes
constexpr int MR = V::MR;     // micro-tile rows
constexpr int NRV = V::NRV;   // micro-tile vectors per row
constexpr int NR = NRV * VW;  // micro-tile columns

DSOCR_INLINE float widen(float v) { return v; }
DSOCR_INLINE float widen(uint16_t b) { return simd::bf16_to_f32(b); }
DSOCR_INLINE VT loadw(const float* p) { return V::load(p); }
DSOCR_INLINE VT loadw(const uint16_t* p) { return V::load_bf16(p); }
DSOCR_INLINE VT loadwn(const float* p, int n) { return V::loadn(p, n); }
DSOCR_INLINE VT loadwn(const uint16_t* p, int n) { return V::loadn_bf16(p, n); }

inline size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }
inline size_t round_up(size_t a, size_t b) { return ceil_div(a, b) * b; }

// Writes rows [i0, i1) and columns [0, nv) of the accumulator tile r to C (row stride ldc); `acc`
// adds to C. The whole tile goes straight from registers; a partial one through a stack copy.
DSOCR_INLINE void store_acc(VT (&r)[MR][NRV], float* c, size_t ldc, int i0, int i1, int nv, bool acc) {
  if (i0 == 0 && i1 == MR && nv == NR) {
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int j = 0; j < NRV; ++j) {
        float* p = c + i * ldc + j * VW;
        V::store(p, acc ? V::add(V::load(p), r[i][j]) : r[i][j]);
      }
    return;
  }
  alignas(64) float tile[MR * NR];
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NRV; ++j) V::store(tile + i * NR + j * VW, r[i][j]);
  for (int i = i0; i < i1; ++i) {
    float* p = c + i * ldc;
    const float* t = tile + i * NR;
    if (acc) {
      for (int j = 0; j < nv; ++j) p[j] += t[j];
    } else {
      for (int j = 0; j < nv; ++j) p[j] = t[j];
    }
  }
}

// Micro-kernel: an MR x NR tile of C = A * B over kc steps, both operands "k-major":
//   C[i][j] (+)= sum_{k < kc} A[k * lda + i] * B[k * ldb + j]     (i < MR, j < NR)
// i.e. at every k one broadcast of A per row and NRV vector loads of B, MR * NRV FMAs into
// register accumulators (f32, summed in k order). Only rows < mv and columns < nv of C are written;
// `acc` adds to C instead of overwriting it. All MR rows of A and NR columns of B are read.
__attribute__((noinline, unused)) void ukernel(int kc, const float* a, size_t lda, const float* b, size_t ldb, float* c,
                                       size_t ldc, int mv, int nv, bool acc) {
  VT r[MR][NRV];
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NRV; ++j) r[i][j] = V::zero();
  for (int k = 0; k < kc; ++k) {
    VT bv[NRV];
#pragma GCC unroll 4
    for (int j = 0; j < NRV; ++j) bv[j] = V::load(b + j * VW);
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
      VT av = V::set1(a[i]);
#pragma GCC unroll 4
      for (int j = 0; j < NRV; ++j) r[i][j] = V::fma(av, bv[j], r[i][j]);
    }
    a += lda;
    b += ldb;
  }
  store_acc(r, c, ldc, 0, mv, nv, acc);
}

// Micro-kernel with A read in place, row-major (no packing): for a full MR x NR tile,
//   C[i][j] (+)= sum_{k < kc} A[i * lda + k] * B[k * ldb + j]     (i < MR, j < NR)
// the same FMAs in the same order as ukernel (bit-identical result); every A element is
// broadcast straight from its row. Only rows >= skip and columns < nv of C are written (skip
// lets a tail tile overlap rows already done, with the same arithmetic, instead of packing).
__attribute__((noinline, unused)) void ukernel_rows(int kc, const float* a, size_t lda, const float* b, size_t ldb,
                                            float* c, size_t ldc, int nv, bool acc, int skip) {
  VT r[MR][NRV];
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NRV; ++j) r[i][j] = V::zero();
  const float* a3 = a + 3 * lda;
  const float* a6 = a + 6 * lda;
  const float* a9 = a + 9 * lda;
  for (int k = 0; k < kc; ++k) {
    VT bv[NRV];
#pragma GCC unroll 4
    for (int j = 0; j < NRV; ++j) bv[j] = V::load(b + j * VW);
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
      // rows from four base pointers (fewer live registers than one pointer per row)
      const float* ar =
          i < 3 ? a + i * lda : i < 6 ? a3 + (i - 3) * lda : i < 9 ? a6 + (i - 6) * lda : a9 + (i - 9) * lda;
      VT av = V::set1(ar[k]);
#pragma GCC unroll 4
      for (int j = 0; j < NRV; ++j) r[i][j] = V::fma(av, bv[j], r[i][j]);
    }
    b += ldb;
  }
  store_acc(r, c, ldc, skip, MR, nv, acc);
}

// Packs rows [0, rows) x columns [c0, c0 + kc) of a row-major matrix `src` (row stride ld, f32 or
// bf16 widened to f32) into panels of P rows, each "k-major": dst[p][k][i] = src[p*P + i][c0 + k].
// Rows past `rows` are zero. dst holds ceil(rows / P) * kc * P floats.
template <int P, class S>
void pack_panels(const S* src, size_t ld, size_t rows, size_t c0, size_t kc, float* dst) {
  size_t np = ceil_div(rows, P);
  for (size_t p = 0; p < np; ++p) {
    float* d = dst + p * kc * P;
    size_t valid = std::min<size_t>(P, rows - p * P);
    const S* rp[P];
    for (int i = 0; i < P; ++i) rp[i] = src + (p * P + std::min<size_t>(i, valid - 1)) * ld + c0;
    if (valid == static_cast<size_t>(P)) {
      size_t k0 = 0;
      if constexpr (V::TR16 && std::is_same_v<S, float> && P % 16 == 0) {
        // 16 x 16 blocks: 16 row vectors in, transposed in registers, 16 k-rows out.
        for (; k0 + 16 <= kc; k0 += 16) {
          for (int h = 0; h < P; h += 16) {
            VT r[16];
#pragma GCC unroll 16
            for (int i = 0; i < 16; ++i) r[i] = V::load(rp[h + i] + k0);
            std::conditional_t<sizeof(S) != 0, V, void>::transpose16(r);  // (dependent: AVX-512 only)
#pragma GCC unroll 16
            for (int i = 0; i < 16; ++i) V::store(d + (k0 + i) * P + h, r[i]);
          }
        }
      }
      for (size_t k = k0; k < kc; ++k) {
#pragma GCC unroll 32
        for (int i = 0; i < P; ++i) d[k * P + i] = widen(rp[i][k]);
      }
    } else {
      for (size_t k = 0; k < kc; ++k) {
        for (size_t i = 0; i < static_cast<size_t>(P); ++i) d[k * P + i] = i < valid ? widen(rp[i][k]) : 0.f;
      }
    }
  }
}

}  // namespace
}  // namespace DSOCR_NS
}  // namespace dsocr

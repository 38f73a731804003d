// Node-API bindings of the kernels. src/kernels/native.ts is the only caller; it validates
// arguments with clear messages, and every binding checks again here (types, integer ranges,
// exact array lengths) so that no call can make the native code read or write out of bounds.
// The first argument of every kernel is the ISA level (0 scalar, 1 avx2, 2 avx512); a level this
// CPU cannot run is refused.
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "weight_alloc.h"
#include "cpu.h"
#include "kernels.h"
#include "pack_bf16.h"
#include "pack_int8.h"
#include "packed.h"
#include "packed_io.h"
#include "packed_napi.h"
#include "pool.h"

namespace dsocr {
void register_decode_bindings(Napi::Env env, Napi::Object exports);  // addon_decode.cc
}

// native/bench.cc: machine limits for `npm run bench`.
namespace dsocr::bench {
void register_bindings(Napi::Env env, Napi::Object exports);
}

namespace {

using dsocr::Isa;

constexpr double kMaxDim = 4294967296.0;  // 2^32: any single dimension
constexpr size_t kMaxElems = size_t(1) << 40;

class Args {
 public:
  explicit Args(const Napi::CallbackInfo& info) : info_(info), env_(info.Env()) {}

  bool ok() const { return ok_; }
  Napi::Env env() const { return env_; }

  void range_error(const std::string& msg) {
    if (!ok_) return;
    Napi::RangeError::New(env_, "dsocr_native: " + msg).ThrowAsJavaScriptException();
    ok_ = false;
  }
  void type_error(const std::string& msg) {
    if (!ok_) return;
    Napi::TypeError::New(env_, "dsocr_native: " + msg).ThrowAsJavaScriptException();
    ok_ = false;
  }

  Isa isa(size_t i) {
    int64_t v = integer(i, "isa", 0, 2);
    if (!ok_) return Isa::Scalar;
    if (v > static_cast<int>(dsocr::best_isa())) {
      range_error(std::string("ISA level ") + std::to_string(v) + " is not supported by this CPU");
      return Isa::Scalar;
    }
    return static_cast<Isa>(v);
  }

  int64_t integer(size_t i, const char* name, double lo = 0, double hi = kMaxDim) {
    if (!ok_) return 0;
    Napi::Value v = info_[i];
    if (!v.IsNumber()) {
      type_error(std::string(name) + " must be a number");
      return 0;
    }
    double d = v.As<Napi::Number>().DoubleValue();
    if (!(std::isfinite(d) && d == std::floor(d) && d >= lo && d <= hi)) {
      range_error(std::string(name) + " must be an integer in [" + std::to_string(static_cast<int64_t>(lo)) + ", " +
                  std::to_string(static_cast<int64_t>(hi)) + "], got " + std::to_string(d));
      return 0;
    }
    return static_cast<int64_t>(d);
  }

  size_t dim(size_t i, const char* name) { return static_cast<size_t>(integer(i, name)); }

  double number(size_t i, const char* name) {
    if (!ok_) return 0;
    Napi::Value v = info_[i];
    if (!v.IsNumber()) {
      type_error(std::string(name) + " must be a number");
      return 0;
    }
    return v.As<Napi::Number>().DoubleValue();
  }

  bool boolean(size_t i) { return info_[i].ToBoolean().Value(); }

  bool is_null(size_t i) { return info_[i].IsNull() || info_[i].IsUndefined(); }

  template <class T, napi_typedarray_type K>
  T* array(size_t i, const char* name, size_t* len, bool nullable) {
    *len = 0;
    if (!ok_) return nullptr;
    Napi::Value v = info_[i];
    if (nullable && (v.IsNull() || v.IsUndefined())) return nullptr;
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != K) {
      type_error(std::string(name) + " has the wrong type");
      return nullptr;
    }
    auto a = v.As<Napi::TypedArrayOf<T>>();
    *len = a.ElementLength();
    return a.Data();
  }

  float* f32(size_t i, const char* name, size_t expect, bool nullable = false) {
    size_t len;
    float* p = array<float, napi_float32_array>(i, name, &len, nullable);
    if (ok_ && (p || !nullable || !is_null(i)) && len != expect) length_error(name, len, expect);
    return p;
  }

  const int32_t* i32(size_t i, const char* name, size_t expect) {
    size_t len;
    int32_t* p = array<int32_t, napi_int32_array>(i, name, &len, false);
    if (ok_ && len != expect) length_error(name, len, expect);
    return p;
  }

  // True when argument i is a Uint16Array.
  bool is_u16(size_t i) {
    Napi::Value v = info_[i];
    return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_uint16_array;
  }

  const uint16_t* u16(size_t i, const char* name, size_t expect) {
    size_t len;
    uint16_t* p = array<uint16_t, napi_uint16_array>(i, name, &len, false);
    if (ok_ && len != expect) length_error(name, len, expect);
    return p;
  }

  // A weight [rows, cols]: Uint16Array (bf16 bits) or Float32Array.
  dsocr::WeightRef weight(size_t i, const char* name, size_t rows, size_t cols) {
    dsocr::WeightRef w{nullptr, false, rows, cols};
    if (!ok_) return w;
    Napi::Value v = info_[i];
    size_t len = 0;
    if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_uint16_array) {
      w.data = array<uint16_t, napi_uint16_array>(i, name, &len, false);
      w.bf16 = true;
    } else {
      w.data = array<float, napi_float32_array>(i, name, &len, false);
    }
    if (ok_ && len != product(rows, cols)) length_error(name, len, product(rows, cols));
    return w;
  }

  size_t product(size_t a, size_t b) {
    size_t r;
    if (__builtin_mul_overflow(a, b, &r) || r > kMaxElems) {
      range_error("dimensions too large");
      return 0;
    }
    return r;
  }
  size_t product(size_t a, size_t b, size_t c) { return product(product(a, b), c); }
  size_t product(size_t a, size_t b, size_t c, size_t d) { return product(product(a, b, c), d); }

 private:
  void length_error(const char* name, size_t got, size_t expect) {
    range_error(std::string(name) + " has " + std::to_string(got) + " elements, expected " + std::to_string(expect));
  }

  const Napi::CallbackInfo& info_;
  Napi::Env env_;
  bool ok_ = true;
};

Napi::Value CpuFeatures(const Napi::CallbackInfo& info) {
  const dsocr::CpuFeatures& f = dsocr::cpu_features();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("avx2", f.avx2 && f.osAvx);
  o.Set("fma", f.fma && f.osAvx);
  o.Set("f16c", f.f16c && f.osAvx);
  o.Set("avx512f", f.avx512f && f.osAvx512);
  o.Set("avx512bw", f.avx512bw && f.osAvx512);
  o.Set("avx512dq", f.avx512dq && f.osAvx512);
  o.Set("avx512vl", f.avx512vl && f.osAvx512);
  o.Set("avx512bf16", f.avx512bf16 && f.osAvx512);
  o.Set("avx512vnni", f.avx512vnni && f.osAvx512);
  o.Set("model", f.model);
  o.Set("bestIsa", static_cast<int>(dsocr::best_isa()));
  return o;
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  Args a(info);
  int64_t n = a.integer(0, "threads", 1, 1024);
  if (a.ok()) dsocr::pool::set_threads(static_cast<int>(n));
  return info.Env().Undefined();
}

Napi::Value GetThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), dsocr::pool::threads());
}

Napi::Value DefaultThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), dsocr::pool::default_threads());
}

// linear(isa, x, m, w, n, k, bias | null, out)
Napi::Value Linear(const Napi::CallbackInfo& info) {
  Args a(info);
  Isa isa = a.isa(0);
  size_t m = a.dim(2, "m"), n = a.dim(4, "n"), k = a.dim(5, "k");
  const float* x = a.f32(1, "x", a.product(m, k));
  dsocr::WeightRef w = a.weight(3, "weight", n, k);
  const float* bias = a.f32(6, "bias", n, true);
  float* out = a.f32(7, "out", a.product(m, n));
  if (a.ok()) dsocr::linear(isa, x, m, w, bias, out);
  return info.Env().Undefined();
}

// layerNorm(isa, x, rows, cols, weight, bias, eps, out)
Napi::Value LayerNorm(const Napi::CallbackInfo& info) {
  Args a(info);
  Isa isa = a.isa(0);
  size_t rows = a.dim(2, "rows"), cols = a.dim(3, "cols");
  const float* x = a.f32(1, "x", a.product(rows, cols));
  const float* w = a.f32(4, "weight", cols);
  const float* b = a.f32(5, "bias", cols);
  double eps = a.number(6, "eps");
  float* out = a.f32(7, "out", a.product(rows, cols));
  if (a.ok()) dsocr::layer_norm(isa, x, rows, cols, w, b, static_cast<float>(eps), out);
  return info.Env().Undefined();
}

// rmsNorm(isa, x, rows, cols, weight, eps, out)
Napi::Value RmsNorm(const Napi::CallbackInfo& info) {
  Args a(info);
  Isa isa = a.isa(0);
  size_t rows = a.dim(2, "rows"), cols = a.dim(3, "cols");
  const float* x = a.f32(1, "x", a.product(rows, cols));
  const float* w = a.f32(4, "weight", cols);
  double eps = a.number(5, "eps");
  float* out = a.f32(6, "out", a.product(rows, cols));
  if (a.ok()) dsocr::rms_norm(isa, x, rows, cols, w, static_cast<float>(eps), out);
  return info.Env().Undefined();
}

// softmax(isa, x, rows, cols)
Napi::Value Softmax(const Napi::CallbackInfo& info) {
  Args a(info);
  Isa isa = a.isa(0);
  size_t rows = a.dim(2, "rows"), cols = a.dim(3, "cols");
  float* x = a.f32(1, "x", a.product(rows, cols));
  if (a.ok()) dsocr::softmax(isa, x, rows, cols);
  return info.Env().Undefined();
}

// unary(isa, x)
template <void (*F)(Isa, float*, size_t)>
Napi::Value Unary(const Napi::CallbackInfo& info) {
  Args a(info);
  Isa isa = a.isa(0);
  size_t len = 0;
  float* x = a.array<float, napi_float32_array>(1, "x", &len, false);
  if (a.ok()) F(isa, x, len);
  return info.Env().Undefined();
}

// binary(isa, a, b): a op= b, same lengths
template <void (*F)(Isa, float*, const float*, size_t)>
Napi::Value Binary(const Napi::CallbackInfo& info) {
  Args a(info);
  Isa isa = a.isa(0);
  size_t len = 0;
  float* x = a.array<float, napi_float32_array>(1, "a", &len, false);
  const float* y = a.f32(2, "b", len);
  if (a.ok()) F(isa, x, y, len);
  return info.Env().Undefined();
}

// roundBf16(isa, x, out, offset): out[offset + i] = bf16 bits of x[i] (RNE), i < x.length.
Napi::Value RoundBf16(const Napi::CallbackInfo& info) {
  Args a(info);
  Isa isa = a.isa(0);
  size_t n = 0, len = 0;
  const float* x = a.array<float, napi_float32_array>(1, "x", &n, false);
  uint16_t* out = a.array<uint16_t, napi_uint16_array>(2, "out", &len, false);
  size_t off = a.dim(3, "offset");
  if (a.ok() && (off > len || n > len - off)) a.range_error("x does not fit in out at offset");
  if (a.ok()) dsocr::round_bf16(isa, x, n, out + off);
  return info.Env().Undefined();
}

// rope(isa, x, rows, heads, headDim, positions, invFreq)
Napi::Value Rope(const Napi::CallbackInfo& info) {
  Args a(info);
  Isa isa = a.isa(0);
  size_t rows = a.dim(2, "rows"), heads = a.dim(3, "heads"), hd = a.dim(4, "headDim");
  if (a.ok() && hd % 2 != 0) a.range_error("headDim must be even");
  float* x = a.f32(1, "x", a.product(rows, heads, hd));
  const int32_t* pos = a.i32(5, "positions", rows);
  const float* inv = a.f32(6, "invFreq", hd / 2);
  if (a.ok()) dsocr::rope(isa, x, rows, heads, hd, pos, inv);
  return info.Env().Undefined();
}

// attention(isa, q, k, v, out, batch, lq, lk, heads, kvHeads, headDim, lkCapacity, causal,
//           causalOffset, scale, mask | null, relH | null, relW | null, relh, relw, bf16)
// k and v: Float32Array, or Uint16Array (bf16 bit patterns) for both.
Napi::Value Attention(const Napi::CallbackInfo& info) {
  Args a(info);
  dsocr::AttentionArgs p{};
  Isa isa = a.isa(0);
  p.batch = a.dim(5, "batch");
  p.lq = a.dim(6, "lq");
  p.lk = a.dim(7, "lk");
  p.heads = a.dim(8, "heads");
  p.kv_heads = a.dim(9, "kvHeads");
  p.d = a.dim(10, "headDim");
  p.cap = a.dim(11, "lkCapacity");
  p.causal = a.boolean(12);
  p.causal_offset = a.integer(13, "causalOffset", 0, 9007199254740991.0);
  p.scale = static_cast<float>(a.number(14, "scale"));
  p.bf16_products = a.boolean(20);
  if (!a.ok()) return info.Env().Undefined();
  if (p.kv_heads == 0 || p.heads % p.kv_heads != 0) a.range_error("heads must be a multiple of kvHeads (>= 1)");
  if (p.cap < p.lk) a.range_error("lkCapacity must be >= lk");
  p.q = a.f32(1, "q", a.product(p.batch, p.lq, p.heads, p.d));
  // k and v: both Float32Array, or both Uint16Array (bf16 bit patterns, a bf16 KV cache).
  p.kv_bf16 = a.is_u16(2);
  if (a.ok() && p.kv_bf16 != a.is_u16(3)) a.type_error("k and v must have the same type");
  if (p.kv_bf16) {
    p.k = a.u16(2, "k", a.product(p.batch, p.cap, p.kv_heads, p.d));
    p.v = a.u16(3, "v", a.product(p.batch, p.cap, p.kv_heads, p.d));
  } else {
    p.k = a.f32(2, "k", a.product(p.batch, p.cap, p.kv_heads, p.d));
    p.v = a.f32(3, "v", a.product(p.batch, p.cap, p.kv_heads, p.d));
  }
  p.out = a.f32(4, "out", a.product(p.batch, p.lq, p.heads, p.d));
  p.mask = a.f32(15, "mask", a.product(p.lq, p.lk), true);
  if (a.ok() && !a.is_null(16)) {
    p.rel_h = a.dim(18, "relPos.h");
    p.rel_w = a.dim(19, "relPos.w");
    if (a.ok() && (p.rel_h == 0 || p.rel_w == 0 || a.product(p.rel_h, p.rel_w) != p.lq || p.lq != p.lk))
      a.range_error("relPos needs lq == lk == h * w");
    if (a.ok()) {
      p.rel_h_table = a.f32(16, "relPos.tableH", a.product(2 * p.rel_h - 1, p.d));
      p.rel_w_table = a.f32(17, "relPos.tableW", a.product(2 * p.rel_w - 1, p.d));
    }
  }
  if (a.ok()) dsocr::attention(isa, p);
  return info.Env().Undefined();
}

// conv2d(isa, x, c, h, w, k, stride, pad, weight, outChannels, bias | null, out)
Napi::Value Conv2d(const Napi::CallbackInfo& info) {
  Args a(info);
  dsocr::Conv2dArgs p{};
  Isa isa = a.isa(0);
  p.c = a.dim(2, "c");
  p.h = a.dim(3, "h");
  p.w = a.dim(4, "w");
  p.k = a.dim(5, "k");
  p.stride = a.dim(6, "stride");
  p.pad = a.dim(7, "pad");
  size_t oc = a.dim(9, "outChannels");
  if (!a.ok()) return info.Env().Undefined();
  if (p.k == 0 || p.stride == 0) a.range_error("k and stride must be >= 1");
  if (a.ok() && (p.h + 2 * p.pad < p.k || p.w + 2 * p.pad < p.k)) a.range_error("kernel larger than padded input");
  if (!a.ok()) return info.Env().Undefined();
  size_t ho = (p.h + 2 * p.pad - p.k) / p.stride + 1, wo = (p.w + 2 * p.pad - p.k) / p.stride + 1;
  p.x = a.f32(1, "x", a.product(p.c, p.h, p.w));
  p.weight = a.weight(8, "weight", oc, a.product(p.c, p.k, p.k));
  p.bias = a.f32(10, "bias", oc, true);
  p.out = a.f32(11, "out", a.product(oc, ho, wo));
  a.product(a.product(ho, wo), a.product(p.c, p.k, p.k));  // im2col size
  if (a.ok()) dsocr::conv2d(isa, p);
  return info.Env().Undefined();
}

// ---- packed weights (packed.h) ----------------------------------------------------------------

// The Packed behind argument i (a handle made by packWeight), or null after throwing.
const dsocr::Packed* packed_arg(Args& a, const Napi::CallbackInfo& info, size_t i) {
  if (!a.ok()) return nullptr;
  dsocr::PackedHandle* h = dsocr::packed_handle(info[i]);
  if (!h) {
    a.type_error("weight is not a packed weight handle");
    return nullptr;
  }
  if (!h->packed) {
    a.type_error("packed weight was released (the model is closed)");
    return nullptr;
  }
  return h->packed;
}

// releasePacked(handle) -> bytes freed (0 when already released). Frees the weight now instead of
// at garbage collection; later uses of the handle throw.
Napi::Value ReleasePacked(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  dsocr::PackedHandle* h = dsocr::packed_handle(info[0]);
  if (!h) {
    Napi::TypeError::New(env, "releasePacked: not a packed weight handle").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, static_cast<double>(dsocr::release_packed(h)));
}

// packWeight(isa, w, rows, cols, format, group) -> { handle: External<Packed>, bytes }. format: 0 bf16,
// 1 int8 (group: k values per scale, 32, 64 or 128; ignored for bf16).
Napi::Value PackWeight(const Napi::CallbackInfo& info) {
  Args a(info);
  Isa isa = a.isa(0);
  size_t rows = a.dim(2, "rows"), cols = a.dim(3, "cols");
  int64_t fmt = a.integer(4, "format", 0, 1);
  int64_t group = a.integer(5, "group", 0, 1 << 20);
  dsocr::WeightRef w = a.weight(1, "weight", rows, cols);
  if (a.ok() && static_cast<dsocr::PackFmt>(fmt) == dsocr::PackFmt::INT8 &&
      !dsocr::int8::group_supported(static_cast<size_t>(group)))
    a.range_error("packWeight: int8 group must be 32, 64 or 128");
  if (!a.ok()) return info.Env().Undefined();
  dsocr::Packed* p = dsocr::pack_weight(isa, w, static_cast<dsocr::PackFmt>(fmt), static_cast<size_t>(group));
  if (!p) {
    a.range_error("packWeight: format not supported by the native kernels, or out of memory");
    return info.Env().Undefined();
  }
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("handle", dsocr::make_packed_handle(env, p));
  o.Set("bytes", static_cast<double>(p->bytes));
  return o;
}

// linearPacked(isa, x, m, handle, bias | null, out)
Napi::Value LinearPacked(const Napi::CallbackInfo& info) {
  Args a(info);
  Isa isa = a.isa(0);
  size_t m = a.dim(2, "m");
  const dsocr::Packed* w = packed_arg(a, info, 3);
  if (!a.ok()) return info.Env().Undefined();
  const float* x = a.f32(1, "x", a.product(m, w->cols));
  const float* bias = a.f32(4, "bias", w->rows, true);
  float* out = a.f32(5, "out", a.product(m, w->rows));
  if (a.ok()) dsocr::linear_packed(isa, x, m, *w, bias, out);
  return info.Env().Undefined();
}

// conv2dPacked(isa, x, c, h, w, k, stride, pad, handle, bias | null, out)
Napi::Value Conv2dPacked(const Napi::CallbackInfo& info) {
  Args a(info);
  dsocr::Conv2dArgs p{};
  Isa isa = a.isa(0);
  p.c = a.dim(2, "c");
  p.h = a.dim(3, "h");
  p.w = a.dim(4, "w");
  p.k = a.dim(5, "k");
  p.stride = a.dim(6, "stride");
  p.pad = a.dim(7, "pad");
  p.packed = packed_arg(a, info, 8);
  if (!a.ok()) return info.Env().Undefined();
  if (p.k == 0 || p.stride == 0) a.range_error("k and stride must be >= 1");
  if (a.ok() && (p.h + 2 * p.pad < p.k || p.w + 2 * p.pad < p.k)) a.range_error("kernel larger than padded input");
  if (a.ok() && p.packed->cols != a.product(p.c, p.k, p.k)) a.range_error("packed weight has the wrong column count");
  if (!a.ok()) return info.Env().Undefined();
  size_t oc = p.packed->rows;
  size_t ho = (p.h + 2 * p.pad - p.k) / p.stride + 1, wo = (p.w + 2 * p.pad - p.k) / p.stride + 1;
  p.weight = dsocr::WeightRef{nullptr, false, oc, p.packed->cols};
  p.x = a.f32(1, "x", a.product(p.c, p.h, p.w));
  p.bias = a.f32(9, "bias", oc, true);
  p.out = a.f32(10, "out", a.product(oc, ho, wo));
  a.product(a.product(ho, wo), a.product(p.c, p.k, p.k));  // im2col size
  if (a.ok()) dsocr::conv2d(isa, p);
  return info.Env().Undefined();
}

// setBf16Dot(on): tests only (see pack_bf16.h). Returns whether vdpbf16ps is available.
Napi::Value SetBf16Dot(const Napi::CallbackInfo& info) {
  dsocr::set_bf16_dot(info[0].ToBoolean().Value());
  return Napi::Boolean::New(info.Env(), dsocr::bf16_dot_available());
}

// An integer argument in [0, 2^53) (file descriptors, byte positions), or -1 after throwing.
int64_t file_int(const Napi::CallbackInfo& info, size_t i, const char* what) {
  const double v = info[i].IsNumber() ? info[i].As<Napi::Number>().DoubleValue() : -1;
  if (!(v >= 0 && v < 9007199254740992.0 && std::floor(v) == v)) {
    Napi::TypeError::New(info.Env(), std::string(what) + " must be a non-negative integer").ThrowAsJavaScriptException();
    return -1;
  }
  return static_cast<int64_t>(v);
}

// savePacked(handle, fd, position) -> bytes the pack spans in the file (data, then scales at the
// next multiple of 4096; position a multiple of 4096; packed_io.h).
Napi::Value SavePacked(const Napi::CallbackInfo& info) {
  Args a(info);
  const dsocr::Packed* p = packed_arg(a, info, 0);
  if (!a.ok()) return info.Env().Undefined();
  const int64_t fd = file_int(info, 1, "fd"), pos = fd < 0 ? -1 : file_int(info, 2, "position");
  if (fd < 0 || pos < 0) return info.Env().Undefined();
  std::string err;
  const size_t span = dsocr::save_packed(*p, static_cast<int>(fd), static_cast<uint64_t>(pos), err);
  if (!span) {
    Napi::Error::New(info.Env(), "savePacked: " + err).ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  return Napi::Number::New(info.Env(), static_cast<double>(span));
}

// loadPacked(fd, position, format, rows, cols, group) -> { handle, bytes, fileBytes }: a pack read
// back from what savePacked wrote (the sizes follow from format, rows, cols, group).
Napi::Value LoadPacked(const Napi::CallbackInfo& info) {
  Args a(info);
  const int64_t fd = file_int(info, 0, "fd"), pos = fd < 0 ? -1 : file_int(info, 1, "position");
  if (fd < 0 || pos < 0) return info.Env().Undefined();
  int64_t fmt = a.integer(2, "format", 0, 1);
  size_t rows = a.dim(3, "rows"), cols = a.dim(4, "cols");
  int64_t group = a.integer(5, "group", 0, 1 << 20);
  if (a.ok() && static_cast<dsocr::PackFmt>(fmt) == dsocr::PackFmt::INT8 &&
      !dsocr::int8::group_supported(static_cast<size_t>(group)))
    a.range_error("loadPacked: int8 group must be 32, 64 or 128");
  if (!a.ok()) return info.Env().Undefined();
  std::string err;
  dsocr::Packed* p = dsocr::load_packed(static_cast<int>(fd), static_cast<uint64_t>(pos),
                                        static_cast<dsocr::PackFmt>(fmt), rows, cols, static_cast<size_t>(group), err);
  Napi::Env env = info.Env();
  if (!p) {
    Napi::Error::New(env, "loadPacked: " + err).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto page = [](size_t n) { return (n + 4095) / 4096 * 4096; };
  const double file_bytes = static_cast<double>(page(p->data_alloc) + page(p->scales_alloc));
  Napi::Object o = Napi::Object::New(env);
  o.Set("bytes", Napi::Number::New(env, static_cast<double>(p->bytes)));
  o.Set("fileBytes", Napi::Number::New(env, file_bytes));
  o.Set("handle", dsocr::make_packed_handle(env, p));
  return o;
}

// unpackInt8(handle) -> { q: Int8Array [rows * cols], scales: Float32Array [rows * ng] }: tests only,
// the quantised values and scales of an INT8 pack read back out of its panel layout (pack_int8.h),
// row-major as the reference pack's.
Napi::Value UnpackInt8(const Napi::CallbackInfo& info) {
  Args a(info);
  const dsocr::Packed* p = packed_arg(a, info, 0);
  if (!a.ok()) return info.Env().Undefined();
  Napi::Env env = info.Env();
  if (p->fmt != dsocr::PackFmt::INT8) {
    Napi::TypeError::New(env, "unpackInt8: not an int8 pack").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const size_t N = p->rows, K = p->cols, Kp = dsocr::int8::padded_k(K), ng = dsocr::int8::groups(K, p->group);
  const size_t P = dsocr::int8::P, KB = dsocr::int8::KB;
  Napi::Int8Array q = Napi::Int8Array::New(env, N * K);
  Napi::Float32Array s = Napi::Float32Array::New(env, N * ng);
  const int8_t* d = static_cast<const int8_t*>(p->data);
  for (size_t n = 0; n < N; ++n) {
    for (size_t k = 0; k < K; ++k) q[n * K + k] = d[(n / P) * P * Kp + (k / KB) * P * KB + (n % P) * KB + k % KB];
    for (size_t g = 0; g < ng; ++g) s[n * ng + g] = p->scales[n * ng + g];
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("q", q);
  o.Set("scales", s);
  return o;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  dsocr::tune_malloc();  // activations reuse freed heap memory (weight_alloc.h)
  exports.Set("cpuFeatures", Napi::Function::New(env, CpuFeatures));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("getThreads", Napi::Function::New(env, GetThreads));
  exports.Set("defaultThreads", Napi::Function::New(env, DefaultThreads));
  exports.Set("linear", Napi::Function::New(env, Linear));
  exports.Set("layerNorm", Napi::Function::New(env, LayerNorm));
  exports.Set("rmsNorm", Napi::Function::New(env, RmsNorm));
  exports.Set("softmax", Napi::Function::New(env, Softmax));
  exports.Set("gelu", Napi::Function::New(env, Unary<dsocr::gelu>));
  exports.Set("quickGelu", Napi::Function::New(env, Unary<dsocr::quick_gelu>));
  exports.Set("silu", Napi::Function::New(env, Unary<dsocr::silu>));
  exports.Set("swiglu", Napi::Function::New(env, Binary<dsocr::swiglu>));
  exports.Set("add", Napi::Function::New(env, Binary<dsocr::add>));
  exports.Set("roundBf16", Napi::Function::New(env, RoundBf16));
  exports.Set("rope", Napi::Function::New(env, Rope));
  exports.Set("attention", Napi::Function::New(env, Attention));
  exports.Set("conv2d", Napi::Function::New(env, Conv2d));
  exports.Set("packWeight", Napi::Function::New(env, PackWeight));
  exports.Set("releasePacked", Napi::Function::New(env, ReleasePacked));
  exports.Set("linearPacked", Napi::Function::New(env, LinearPacked));
  exports.Set("conv2dPacked", Napi::Function::New(env, Conv2dPacked));
  exports.Set("setBf16Dot", Napi::Function::New(env, SetBf16Dot));
  exports.Set("unpackInt8", Napi::Function::New(env, UnpackInt8));
  exports.Set("savePacked", Napi::Function::New(env, SavePacked));
  exports.Set("loadPacked", Napi::Function::New(env, LoadPacked));
  dsocr::register_decode_bindings(env, exports);
  dsocr::bench::register_bindings(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(dsocr_native, Init)

// Node-API bindings of the packed weights (External<Packed>), the fused MoE layer
// (External<MoeLayer>) and the read-bandwidth probe. Registered from addon.cc's Init.
// Like addon.cc, every binding checks types and exact lengths before calling the kernels.
//
//   (packWeight / linearPacked live in addon.cc; the handles share packed_napi.h's type tag)
//   moeCreate(gate, experts, hidden, topK, normTopk, scaling, inter, sharedInter, weights[]) -> External
//       weights: 3 per routed expert (gate, up, down), then 3 for the shared MLP when sharedInter > 0;
//       each a Uint16Array / Float32Array (plain) or a packed External. The arrays are NOT copied:
//       the caller keeps them alive as long as the layer.
//   moeForward(isa, layer, x, m, out, scores | null, idx | null, weight | null)
#include <napi.h>

#include <cmath>
#include <string>

#include "cpu.h"
#include "moe.h"
#include "packed.h"
#include "packed_napi.h"

namespace dsocr {

namespace {

const napi_type_tag kMoeTag = {0x6473'6f63'726d'6f65ULL, 0x4d6f'654c'6179'0001ULL};

bool fail(Napi::Env env, const std::string& msg, bool type = false) {
  if (type) {
    Napi::TypeError::New(env, "dsocr_native: " + msg).ThrowAsJavaScriptException();
  } else {
    Napi::RangeError::New(env, "dsocr_native: " + msg).ThrowAsJavaScriptException();
  }
  return false;
}

bool get_isa(Napi::Env env, Napi::Value v, Isa* isa) {
  if (!v.IsNumber()) return fail(env, "isa must be a number", true);
  int64_t i = v.As<Napi::Number>().Int64Value();
  if (i < 0 || i > static_cast<int>(best_isa())) return fail(env, "ISA level not supported by this CPU");
  *isa = static_cast<Isa>(i);
  return true;
}

bool get_dim(Napi::Env env, Napi::Value v, const char* name, size_t* out) {
  if (!v.IsNumber()) return fail(env, std::string(name) + " must be a number", true);
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(std::isfinite(d) && d == std::floor(d) && d >= 0 && d <= 4294967296.0))
    return fail(env, std::string(name) + " must be an integer in [0, 2^32]");
  *out = static_cast<size_t>(d);
  return true;
}

template <class T, napi_typedarray_type K>
bool get_array(Napi::Env env, Napi::Value v, const char* name, size_t expect, T** out, bool nullable = false) {
  *out = nullptr;
  if (nullable && (v.IsNull() || v.IsUndefined())) return true;
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != K)
    return fail(env, std::string(name) + " has the wrong type", true);
  auto a = v.As<Napi::TypedArrayOf<T>>();
  if (expect != SIZE_MAX && a.ElementLength() != expect)
    return fail(env, std::string(name) + " has " + std::to_string(a.ElementLength()) + " elements, expected " +
                         std::to_string(expect));
  *out = a.Data();
  return true;
}

// A plain weight [rows, cols]: Uint16Array (bf16 bits) or Float32Array.
bool get_plain(Napi::Env env, Napi::Value v, const char* name, size_t rows, size_t cols, WeightRef* w) {
  size_t n;
  if (__builtin_mul_overflow(rows, cols, &n)) return fail(env, "dimensions too large");
  *w = WeightRef{nullptr, false, rows, cols};
  if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_uint16_array) {
    uint16_t* p;
    if (!get_array<uint16_t, napi_uint16_array>(env, v, name, n, &p)) return false;
    w->data = p;
    w->bf16 = true;
    return true;
  }
  float* p;
  if (!get_array<float, napi_float32_array>(env, v, name, n, &p)) return false;
  w->data = p;
  return true;
}

bool is_tagged(Napi::Env env, Napi::Value v, const napi_type_tag& tag) {
  if (!v.IsExternal()) return false;
  bool ok = false;
  return napi_check_object_type_tag(env, v, &tag, &ok) == napi_ok && ok;
}

const Packed* get_packed(Napi::Env env, Napi::Value v, const char* name) {
  PackedHandle* h = packed_handle(v);
  if (!h || !h->packed) {
    fail(env, std::string(name) + (h ? " was released (the model is closed)" : " is not a packed weight handle"), true);
    return nullptr;
  }
  return h->packed;
}

Napi::Value MoeCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto L = std::make_unique<MoeLayer>();
  size_t e, h, k, inter, sinter;
  if (!get_dim(env, info[1], "experts", &e) || !get_dim(env, info[2], "hidden", &h) ||
      !get_dim(env, info[3], "topK", &k) || !get_dim(env, info[6], "inter", &inter) ||
      !get_dim(env, info[7], "sharedInter", &sinter))
    return env.Undefined();
  if (!(k >= 1 && k <= e)) return fail(env, "topK must be in 1..experts"), env.Undefined();
  if (!info[5].IsNumber()) return fail(env, "scaling must be a number", true), env.Undefined();
  L->experts = e;
  L->hidden = h;
  L->top_k = k;
  L->inter = inter;
  L->shared_inter = sinter;
  L->has_shared = sinter > 0;
  L->norm_topk = info[4].ToBoolean().Value();
  L->scaling = info[5].As<Napi::Number>().DoubleValue();
  if (!get_plain(env, info[0], "gate", e, h, &L->gate)) return env.Undefined();
  if (!info[8].IsArray()) return fail(env, "weights must be an array", true), env.Undefined();
  Napi::Array arr = info[8].As<Napi::Array>();
  const size_t nw = 3 * (e + (L->has_shared ? 1 : 0));
  if (arr.Length() != nw) return fail(env, "weights must hold 3 per expert (+3 shared)"), env.Undefined();
  L->w.resize(nw);
  for (size_t i = 0; i < nw; ++i) {
    const size_t in = i / 3 < e ? inter : sinter;
    const bool down = i % 3 == 2;
    const size_t rows = down ? h : in, cols = down ? in : h;
    Napi::Value v = arr.Get(static_cast<uint32_t>(i));
    MoeWeight& mw = L->w[i];
    if (v.IsExternal()) {
      mw.packed = get_packed(env, v, "expert weight");
      if (!mw.packed) return env.Undefined();
      if (mw.packed->rows != rows || mw.packed->cols != cols)
        return fail(env, "expert weight " + std::to_string(i) + " has the wrong shape"), env.Undefined();
    } else if (!get_plain(env, v, "expert weight", rows, cols, &mw.plain)) {
      return env.Undefined();
    }
  }
  auto ext = Napi::External<MoeLayer>::New(env, L.release(), [](Napi::Env, MoeLayer* q) { delete q; });
  napi_type_tag_object(env, ext, &kMoeTag);
  return ext;
}

Napi::Value MoeForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Isa isa = Isa::Scalar;  // set by get_isa (initialised: GCC cannot see that)
  size_t m;
  if (!get_isa(env, info[0], &isa) || !get_dim(env, info[3], "m", &m)) return env.Undefined();
  if (!is_tagged(env, info[1], kMoeTag)) return fail(env, "not a MoE layer handle", true), env.Undefined();
  const MoeLayer& L = *info[1].As<Napi::External<MoeLayer>>().Data();
  float *x, *out, *scores, *wt;
  int32_t* idx;
  if (!get_array<float, napi_float32_array>(env, info[2], "x", m * L.hidden, &x) ||
      !get_array<float, napi_float32_array>(env, info[4], "out", m * L.hidden, &out) ||
      !get_array<float, napi_float32_array>(env, info[5], "scores", m * L.experts, &scores, true) ||
      !get_array<int32_t, napi_int32_array>(env, info[6], "idx", m * L.top_k, &idx, true) ||
      !get_array<float, napi_float32_array>(env, info[7], "weight", m * L.top_k, &wt, true))
    return env.Undefined();
  moe_forward(isa, L, x, m, out, scores, idx, wt);
  return env.Undefined();
}


}  // namespace

void register_decode_bindings(Napi::Env env, Napi::Object exports) {
  exports.Set("moeCreate", Napi::Function::New(env, MoeCreate));
  exports.Set("moeForward", Napi::Function::New(env, MoeForward));
}

}  // namespace dsocr

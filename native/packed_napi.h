// The Node-API side of packed weights (packed.h), shared by every binding file: a handle is an
// External<PackedHandle> carrying kPackedTag, so a handle made by packWeight (addon.cc) is accepted
// by the fused MoE (addon_decode.cc) and vice versa. The handle owns its Packed until the garbage
// collector finalises it or releasePacked frees it early (DeepSeekOCR.close()); a released
// handle is refused by every kernel.
#pragma once

#include <napi.h>
#include <node_api.h>

#include "packed.h"

namespace dsocr {

inline constexpr napi_type_tag kPackedTag = {0x6473'6f63'7250'616bULL, 0x6564'5765'6967'6874ULL};

// What an External handle points to: the Packed (null once released) and its byte count, which is
// reported to V8 as external memory while the Packed lives.
struct PackedHandle {
  Packed* packed = nullptr;
  int64_t bytes = 0;
};

// Frees the Packed of a handle now (idempotent). Returns the bytes freed.
inline int64_t release_packed(Napi::Env env, PackedHandle* h) {
  if (!h->packed) return 0;
  delete h->packed;
  h->packed = nullptr;
  Napi::MemoryManagement::AdjustExternalMemory(env, -h->bytes);
  return h->bytes;
}

// A new handle owning p.
inline Napi::External<PackedHandle> make_packed_handle(Napi::Env env, Packed* p) {
  auto* h = new PackedHandle{p, static_cast<int64_t>(p->bytes)};
  auto ext = Napi::External<PackedHandle>::New(env, h, [](Napi::Env e, PackedHandle* q) {
    release_packed(e, q);
    delete q;
  });
  ext.TypeTag(&kPackedTag);
  Napi::MemoryManagement::AdjustExternalMemory(env, h->bytes);
  return ext;
}

// The handle behind v, or null when v is not a packed-weight handle.
inline PackedHandle* packed_handle(Napi::Value v) {
  if (!v.IsExternal()) return nullptr;
  auto ext = v.As<Napi::External<PackedHandle>>();
  if (!ext.CheckTypeTag(&kPackedTag)) return nullptr;
  return ext.Data();
}

}  // namespace dsocr

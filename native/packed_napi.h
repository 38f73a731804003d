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

// What an External handle points to: the Packed (null once released) and its byte count.
// The bytes are deliberately not reported to V8 (AdjustExternalMemory): V8 runs a full collection
// for every ~64 MiB of external memory added, which at real size was ~100 collections and 2.4 s of
// an 8 s load. The weights' owner frees them explicitly (DeepSeekOCR.close() -> releasePacked);
// an abandoned handle is still freed when the collector finalises it.
struct PackedHandle {
  Packed* packed = nullptr;
  int64_t bytes = 0;
};

// Frees the Packed of a handle now (idempotent). Returns the bytes freed.
inline int64_t release_packed(PackedHandle* h) {
  if (!h->packed) return 0;
  delete h->packed;
  h->packed = nullptr;
  return h->bytes;
}

// A new handle owning p.
inline Napi::External<PackedHandle> make_packed_handle(Napi::Env env, Packed* p) {
  auto* h = new PackedHandle{p, static_cast<int64_t>(p->bytes)};
  auto ext = Napi::External<PackedHandle>::New(env, h, [](Napi::Env, PackedHandle* q) {
    release_packed(q);
    delete q;
  });
  ext.TypeTag(&kPackedTag);
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

// The Node-API type tag of the Externals that own a dsocr::Packed (packed.h). Shared by every
// binding file, so a handle made by packWeight (addon.cc) is accepted by the fused MoE
// (addon_decode.cc) and vice versa.
#pragma once

#include <node_api.h>

namespace dsocr {

inline constexpr napi_type_tag kPackedTag = {0x6473'6f63'7250'616bULL, 0x6564'5765'6967'6874ULL};

}  // namespace dsocr

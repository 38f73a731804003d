{
  "targets": [
    {
      "target_name": "dsocr_native",
      "sources": [
        "native/addon.cc",
        "native/cpu.cc",
        "native/pool.cc",
        "native/linear.cc",
        "native/attention.cc",
        "native/norm.cc",
        "native/act.cc",
        "native/rope.cc",
        "native/conv.cc",
        "native/packed.cc",
        "native/packed_io.cc",
        "native/weight_alloc.cc",
        "native/pack_bf16.cc",
        "native/gemv_bf16.cc",
        "native/pack_int8.cc",
        "native/gemm_int8.cc",
        "native/moe.cc",
        "native/addon_decode.cc",
        "native/bench.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions", "-O2", "-O0", "-O1", "-fno-strict-aliasing", "-fno-omit-frame-pointer"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++1y", "-std=gnu++14", "-std=gnu++17", "-std=c++17", "-O2", "-O0", "-O1"],
      "cflags": ["-O3", "-fstrict-aliasing", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc": ["-std=gnu++17", "-O3", "-fno-exceptions", "-pthread"],
      "ldflags": ["-pthread"],
      "xcode_settings": {
        "CLANG_CXX_LANGUAGE_STANDARD": "gnu++17",
        "GCC_OPTIMIZATION_LEVEL": "3",
        "GCC_ENABLE_CPP_EXCEPTIONS": "NO",
        "OTHER_CPLUSPLUSFLAGS": ["-fno-exceptions"]
      },
      "msvs_settings": {
        "VCCLCompilerTool": { "AdditionalOptions": ["/std:c++17", "/O2"], "ExceptionHandling": 0 }
      }
    }
  ]
}

// Packed weights to and from a file (the pack cache, src/model/pack-cache.ts): the raw bytes of a
// Packed (data, then scales), so a later load can skip reading and repacking the checkpoint.
// The file layout around them (entries, offsets, key) is the caller's.
#pragma once

#include <cstdint>
#include <string>

#include "packed.h"

namespace dsocr {

// Writes p's data (p.data_alloc bytes) to fd at `pos` (a multiple of 4096), then its scales
// (p.scales_alloc bytes, none for BF16) at the next multiple of 4096. Returns the bytes the pack
// spans in the file (both parts rounded up to 4096), 0 (errno text in err) on a failed write.
size_t save_packed(const Packed& p, int fd, uint64_t pos, std::string& err);

// A Packed of format fmt [rows, cols] (group for INT8) from fd at `pos`, as save_packed wrote it
// (sizes: packed_sizes). Where packed weights are mappings (weight_alloc.h) its data and scales
// map the file copy-on-write (nothing is copied; pages come in as the kernels touch them), else
// they are read. Null (reason in err) on a failure.
Packed* load_packed(int fd, uint64_t pos, PackFmt fmt, size_t rows, size_t cols, size_t group, std::string& err);

}  // namespace dsocr

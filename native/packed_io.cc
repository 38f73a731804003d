// Packed weights to and from a file (see packed_io.h).
#include "packed_io.h"

#include <cerrno>
#include <cstring>
#include <new>

#include "weight_alloc.h"

#if DSOCR_WEIGHT_MMAP  // Unix: pread / pwrite / mmap
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace dsocr {

namespace {

constexpr size_t CHUNK = size_t{1} << 30;  // bytes per pread/pwrite call
constexpr size_t PAGE = 4096;              // file offsets of data and scales: multiples of this

#if DSOCR_WEIGHT_MMAP
// length bytes of fd at pos (a multiple of PAGE) mapped copy-on-write, or null. The pages come
// from the page cache as the kernels first touch them; MADV_WILLNEED starts reading them ahead.
void* map_at(int fd, uint64_t pos, size_t length, std::string& err) {
  void* p = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, static_cast<off_t>(pos));
  if (p == MAP_FAILED) {
    err = std::strerror(errno);
    return nullptr;
  }
  madvise(p, length, MADV_WILLNEED);
  return p;
}
#endif

bool io_all(bool write, int fd, void* buf, size_t n, uint64_t pos, std::string& err) {
#if DSOCR_WEIGHT_MMAP
  char* p = static_cast<char*>(buf);
  while (n > 0) {
    const size_t want = n < CHUNK ? n : CHUNK;
    const ssize_t got = write ? ::pwrite(fd, p, want, static_cast<off_t>(pos)) : ::pread(fd, p, want, static_cast<off_t>(pos));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      err = got < 0 ? std::strerror(errno) : (write ? "short write" : "unexpected end of file");
      return false;
    }
    p += got;
    pos += static_cast<uint64_t>(got);
    n -= static_cast<size_t>(got);
  }
  return true;
#else
  err = "not supported on this platform";
  return false;
#endif
}

}  // namespace

size_t page_round(size_t n) { return (n + PAGE - 1) / PAGE * PAGE; }

size_t save_packed(const Packed& p, int fd, uint64_t pos, std::string& err) {
  if (pos % PAGE) {
    err = "position not page-aligned";
    return 0;
  }
  if (!io_all(true, fd, p.data, p.data_alloc, pos, err)) return 0;
  const uint64_t spos = pos + page_round(p.data_alloc);
  if (p.scales_alloc && !io_all(true, fd, p.scales, p.scales_alloc, spos, err)) return 0;
  return page_round(p.data_alloc) + page_round(p.scales_alloc);
}

Packed* load_packed(int fd, uint64_t pos, PackFmt fmt, size_t rows, size_t cols, size_t group, std::string& err) {
  const PackedSizes z = packed_sizes(fmt, rows, cols, group);
  const size_t data_alloc = z.data_alloc, scales_alloc = z.scales_alloc;
  Packed* p = new (std::nothrow) Packed();
  if (!p) {
    err = "out of memory";
    return nullptr;
  }
  p->fmt = fmt;
  p->rows = rows;
  p->cols = cols;
  p->group = group;
  p->bytes = z.bytes;
  p->data_alloc = data_alloc;
  p->scales_alloc = scales_alloc;
  const uint64_t spos = pos + page_round(data_alloc);
  if (pos % PAGE) {
    err = "position not page-aligned";
    delete p;
    return nullptr;
  }
#if DSOCR_WEIGHT_MMAP
  // The packs are mapped, not copied: weight_free (munmap) releases them like allocated ones.
  p->data = map_at(fd, pos, data_alloc, err);
  if (p->data && scales_alloc) p->scales = static_cast<float*>(map_at(fd, spos, scales_alloc, err));
  if (!p->data || (scales_alloc && !p->scales)) {
    delete p;
    return nullptr;
  }
#else
  p->data = weight_alloc(data_alloc);
  if (scales_alloc) p->scales = static_cast<float*>(weight_alloc(scales_alloc));
  if (!p->data || (scales_alloc && !p->scales)) {
    err = "out of memory";
    delete p;
    return nullptr;
  }
  if (!io_all(false, fd, p->data, data_alloc, pos, err) ||
      (scales_alloc && !io_all(false, fd, p->scales, scales_alloc, spos, err))) {
    delete p;
    return nullptr;
  }
#endif
  return p;
}

}  // namespace dsocr

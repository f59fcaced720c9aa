#include "io/float_conversion.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <vector>

#include "core/parallel.h"
#include "fastvideo/error.h"

namespace fastvideo {

namespace {

// The first of n values whose exponent bits are all set (NaN or ±Inf), copying them to `copy` on
// the way when kCopy. Adding the exponent's lowest bit to the masked exponent carries into the top
// bit exactly then, so a block is tested with an OR of sums (it vectorizes); only a block holding
// one is searched. Copying in the same pass keeps a same-dtype load at memcpy's speed.
template <bool kCopy, typename Bits>
size_t first_all_ones_exponent(const void* data, void* copy, size_t n, Bits exponent) {
  const auto* bits = static_cast<const Bits*>(data);
  auto* out = static_cast<Bits*>(copy);
  const Bits lowest = Bits(exponent & Bits(~exponent + 1));
  const Bits top = Bits(Bits(1) << (sizeof(Bits) * 8 - 1));
  constexpr size_t kBlock = 256;
  size_t found = n;
  for (size_t begin = 0; begin < n; begin += kBlock) {
    const size_t end = std::min(n, begin + kBlock);
    Bits carries = 0;
    for (size_t i = begin; i < end; ++i) {
      const Bits b = bits[i];
      if constexpr (kCopy) out[i] = b;
      carries |= Bits((b & exponent) + lowest);
    }
    if (found < n || !(carries & top)) continue;
    for (size_t i = begin; i < end && found == n; ++i) {
      if ((bits[i] & exponent) == exponent) found = i;
    }
    if constexpr (!kCopy) return found;
  }
  return found;
}

// F32 to BF16 (the most common load: an f32 checkpoint onto a GPU) converted and checked in one
// pass: the first converted value that is NaN or ±Inf, n when none is.
size_t f32_to_bf16_checking(const float* in, uint16_t* out, size_t n) {
  constexpr size_t kBlock = 256;
  for (size_t begin = 0; begin < n; begin += kBlock) {
    const size_t end = std::min(n, begin + kBlock);
    uint16_t carries = 0;
    for (size_t i = begin; i < end; ++i) {
      out[i] = f32_to_bf16(in[i]);
      carries |= uint16_t((out[i] & 0x7F80) + 0x0080);
    }
    if (carries & 0x8000)
      return begin +
             first_all_ones_exponent<false>(out + begin, nullptr, end - begin, uint16_t(0x7F80));
  }
  return n;
}

// lowest = min(lowest, value), from any thread (the first bad element over parallel pieces).
void keep_lowest(std::atomic<size_t>& lowest, size_t value) {
  size_t seen = lowest.load();
  while (value < seen && !lowest.compare_exchange_weak(seen, value)) {
  }
}

// The same over `dtype` values; with `copy`, the values are copied there too.
size_t scan_non_finite(const void* data, DType dtype, size_t n, void* copy = nullptr) {
  const auto scan = [&](auto exponent) {
    return copy ? first_all_ones_exponent<true>(data, copy, n, exponent)
                : first_all_ones_exponent<false>(data, nullptr, n, exponent);
  };
  switch (dtype) {
    case DType::F32:
      return scan(uint32_t(0x7F800000u));
    case DType::BF16:
      return scan(uint16_t(0x7F80));
    case DType::F16:
      return scan(uint16_t(0x7C00));
    default:
      fail("convert_floats: ", dtype_name(dtype), " is not F32, BF16 or F16");
  }
}

}  // namespace

size_t convert_floats(const void* src, DType src_dtype, void* dst, DType dst_dtype, size_t n) {
  const auto* in = static_cast<const char*>(src);
  auto* out = static_cast<char*>(dst);
  const size_t in_size = dtype_size(src_dtype), out_size = dtype_size(dst_dtype);
  std::atomic<size_t> first_bad{n};
  parallel_for(int64_t(n), 1 << 16, [&](int64_t first, int64_t last) {
    // Pieces small enough to be checked while they are still in cache.
    constexpr int64_t kPiece = 1 << 14;
    std::vector<float> f32;
    for (int64_t begin = first; begin < last; begin += kPiece) {
      const size_t count = size_t(std::min(last, begin + kPiece) - begin);
      const void* s = in + size_t(begin) * in_size;
      void* d = out + size_t(begin) * out_size;
      size_t k;  // the piece's first value that is NaN or Inf once converted
      if (src_dtype == dst_dtype) {
        k = scan_non_finite(s, src_dtype, count, d);  // copied while checked
      } else if (src_dtype == DType::F32 && dst_dtype == DType::BF16) {
        k = f32_to_bf16_checking(static_cast<const float*>(s), static_cast<uint16_t*>(d), count);
      } else {
        if (dst_dtype == DType::F32) {
          convert_to_f32(s, src_dtype, static_cast<float*>(d), count);
        } else if (src_dtype == DType::F32) {
          convert_from_f32(static_cast<const float*>(s), d, dst_dtype, count);
        } else {
          f32.resize(count);
          convert_to_f32(s, src_dtype, f32.data(), count);
          convert_from_f32(f32.data(), d, dst_dtype, count);
        }
        k = scan_non_finite(d, dst_dtype, count);  // the piece just written is still in cache
      }
      if (k < count) {
        keep_lowest(first_bad, size_t(begin) + k);
        return;  // later pieces of this range can only come after it
      }
    }
  });
  return first_bad.load();
}

size_t first_non_finite(const void* data, DType dtype, size_t n) {
  const auto* bytes = static_cast<const char*>(data);
  const size_t size = dtype_size(dtype);
  std::atomic<size_t> first_bad{n};
  parallel_for(int64_t(n), 1 << 16, [&](int64_t first, int64_t last) {
    const size_t k = scan_non_finite(bytes + size_t(first) * size, dtype, size_t(last - first));
    if (k < size_t(last - first)) keep_lowest(first_bad, size_t(first) + k);
  });
  return first_bad.load();
}

void fail_non_finite_weight(const std::string& what, size_t index, size_t n) {
  fail(what, " holds NaN or Inf (element ", index, " of ", n,
       "); a checkpoint's weights must be finite: the file is damaged, or was saved from a model "
       "that had diverged");
}

}  // namespace fastvideo

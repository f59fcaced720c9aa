#include "io/float_conversion.h"

#include <cstring>
#include <vector>

#include "core/parallel.h"

namespace fastvideo {

void convert_floats(const void* src, DType src_dtype, void* dst, DType dst_dtype, size_t n) {
  const auto* in = static_cast<const char*>(src);
  auto* out = static_cast<char*>(dst);
  const size_t in_size = dtype_size(src_dtype), out_size = dtype_size(dst_dtype);
  parallel_for(int64_t(n), 1 << 16, [&](int64_t begin, int64_t end) {
    const size_t count = size_t(end - begin);
    const void* s = in + size_t(begin) * in_size;
    void* d = out + size_t(begin) * out_size;
    if (src_dtype == dst_dtype) {
      std::memcpy(d, s, count * out_size);
    } else if (dst_dtype == DType::F32) {
      convert_to_f32(s, src_dtype, static_cast<float*>(d), count);
    } else if (src_dtype == DType::F32) {
      convert_from_f32(static_cast<const float*>(s), d, dst_dtype, count);
    } else {
      std::vector<float> f32(count);
      convert_to_f32(s, src_dtype, f32.data(), count);
      convert_from_f32(f32.data(), d, dst_dtype, count);
    }
  });
}

}  // namespace fastvideo

// Bulk conversion between the float storage dtypes (F32, BF16, F16), for weights coming off a
// mapped checkpoint on their way to host or device memory.
#pragma once

#include <cstddef>

#include "core/dtype.h"

namespace fastvideo {

// Converts n elements of src_dtype at `src` to dst_dtype at `dst` (same dtype: a copy), in
// parallel chunks that touch each source page once. bf16 and f16 round to nearest even, as torch.
void convert_floats(const void* src, DType src_dtype, void* dst, DType dst_dtype, size_t n);

}  // namespace fastvideo

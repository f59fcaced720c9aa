// Bulk conversion between the float storage dtypes (F32, BF16, F16), for weights coming off a
// mapped checkpoint on their way to host or device memory. Each conversion also finds the first
// element that is NaN or ±Inf once converted: a checkpoint's weights must be finite, and the
// check rides on a pass that reads every value anyway (it costs nothing measurable beside it).
#pragma once

#include <cstddef>
#include <string>

#include "core/dtype.h"

namespace fastvideo {

// Converts n elements of src_dtype at `src` to dst_dtype at `dst` (same dtype: a copy), in
// parallel chunks that touch each source page once. bf16 and f16 round to nearest even, as torch.
// Returns the index of the first element of `dst` that is NaN or ±Inf, n when none is.
[[nodiscard]] size_t convert_floats(const void* src, DType src_dtype, void* dst, DType dst_dtype,
                                    size_t n);

// The index of the first of n `dtype` (F32, BF16, F16) values at `data` that is NaN or ±Inf, n when
// none is: the same check without a conversion (inspect --check, streamed layers).
size_t first_non_finite(const void* data, DType dtype, size_t n);

// The error for a weight (`what`: the file and tensor) whose element `index` of n is not finite.
[[noreturn]] void fail_non_finite_weight(const std::string& what, size_t index, size_t n);

}  // namespace fastvideo

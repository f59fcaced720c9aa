// Row lookup in an embedding table (nn.Embedding): the token embedding of the text encoder and the
// relative-position bias tables (wan21.md §3.2) are both a gather of rows by integer id.
#pragma once

#include <cstdint>
#include <span>

#include "core/tensor.h"

namespace fastvideo::ops {

// table [V, D], ids in [0, V) -> [ids.size(), D]. An id outside the table throws naming the id,
// its position and V.
Tensor embedding(const Tensor& table, std::span<const int32_t> ids);

// Backend implementations; the functions above dispatch on the input's device.
namespace cpu {
Tensor embedding(const Tensor& table, std::span<const int32_t> ids);
}  // namespace cpu
namespace cuda {
Tensor embedding(const Tensor& table, std::span<const int32_t> ids);
}  // namespace cuda

}  // namespace fastvideo::ops

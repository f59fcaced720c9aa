// Rows of one tensor gathered into another by an index (token layouts: tiling, packing and their
// inverse), 16 bytes a thread.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace fastvideo::ops::cuda {

// out[b, i, :] = in[b, index[i], :], or zeros where index[i] < 0, for b < batch and i < out_rows;
// in holds in_rows rows per batch item. Rows are row_bytes long, a multiple of 16, and both
// pointers 16-byte aligned.
void gather_rows(const void* in, int64_t in_rows, const int32_t* index, int64_t out_rows,
                 int64_t batch, int64_t row_bytes, void* out, cudaStream_t stream);

}  // namespace fastvideo::ops::cuda

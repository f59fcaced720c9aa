#include "core/cuda/cuda_check.h"
#include "fastvideo/error.h"
#include "ops/cuda/row_gather.h"

namespace fastvideo::ops::cuda {

namespace {

constexpr int kThreads = 256;

__global__ void gather_rows_kernel(const uint4* in, int64_t in_rows, const int32_t* index,
                                   int64_t out_rows, int64_t row_chunks, int64_t total,
                                   uint4* out) {
  const int64_t i = int64_t(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= total) return;
  const int64_t c = i % row_chunks, row = (i / row_chunks) % out_rows,
                b = i / (row_chunks * out_rows);
  const int32_t from = index[row];
  out[i] = from >= 0 ? in[(b * in_rows + from) * row_chunks + c] : make_uint4(0, 0, 0, 0);
}

}  // namespace

void gather_rows(const void* in, int64_t in_rows, const int32_t* index, int64_t out_rows,
                 int64_t batch, int64_t row_bytes, void* out, cudaStream_t stream) {
  FV_CHECK(row_bytes % 16 == 0 && reinterpret_cast<uintptr_t>(in) % 16 == 0 &&
               reinterpret_cast<uintptr_t>(out) % 16 == 0,
           "gather_rows: rows of ", row_bytes, " bytes must be 16-byte multiples, 16-byte aligned");
  const int64_t row_chunks = row_bytes / 16, total = batch * out_rows * row_chunks;
  if (total == 0) return;
  gather_rows_kernel<<<unsigned((total + kThreads - 1) / kThreads), kThreads, 0, stream>>>(
      static_cast<const uint4*>(in), in_rows, index, out_rows, row_chunks, total,
      static_cast<uint4*>(out));
  FV_CUDA_CHECK_LAUNCH();
}

}  // namespace fastvideo::ops::cuda

// CUDA twin of src/ops/cpu/embedding.cpp: ids are checked on the host (the same error as the CPU
// twin), copied to the device, and rows are gathered with 16-byte copies where the row allows.
// gather_rows reads its row indices on the device, and so does the relative-position bias, so a
// text encoder's layers queue without a host round trip each.
#include <cstring>

#include "ops/cuda/memory_bound.cuh"
#include "ops/embedding.h"

namespace fastvideo::ops::cuda {

namespace {

namespace k = cuda_kernels;

// out [n, row] = table[ids[i], :], `row` counted in elements of E.
template <class E>
__global__ void gather_rows_kernel(const E* __restrict__ table, const int32_t* __restrict__ ids,
                                   E* __restrict__ out, int64_t n, int64_t row) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n * row;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / row, c = i - r * row;
    out[i] = table[int64_t(ids[r]) * row + c];
  }
}

template <class E>
void gather(const CudaContext& ctx, const void* table, const int32_t* ids, void* out, int64_t n,
            int64_t row_bytes) {
  const int64_t row = row_bytes / int64_t(sizeof(E));
  gather_rows_kernel<<<k::grid_for(ctx, n * row), k::kThreads, 0, ctx.stream()>>>(
      static_cast<const E*>(table), ids, static_cast<E*>(out), n, row);
  FV_CUDA_CHECK_LAUNCH();
}

// out[h, i, j] = table[buckets[j − i + q_len − 1], h] for the [H, q_len, k_len] output.
template <class T>
__global__ void relative_position_bias_kernel(const T* __restrict__ table,
                                              const int32_t* __restrict__ buckets,
                                              T* __restrict__ out, int64_t H, int64_t q_len,
                                              int64_t k_len) {
  const int64_t n = H * q_len * k_len;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t j = e % k_len, row = e / k_len;
    const int64_t i = row % q_len, h = row / q_len;
    out[e] = table[int64_t(buckets[j - i + q_len - 1]) * H + h];
  }
}

}  // namespace

Tensor relative_position_bias(const Tensor& table, const Tensor& offset_buckets, int64_t q_len,
                              int64_t k_len) {
  const int64_t H = table.size(1);
  const Tensor t = table.contiguous();  // [NB, H]: a few KiB
  Tensor out = Tensor::empty({H, q_len, k_len}, table.dtype(), table.device());
  if (out.numel() == 0) return out;
  CudaContext& ctx = k::context_of(table);
  k::with_float_type(table, "relative_position_bias", [&](auto tag) {
    using T = decltype(tag);
    relative_position_bias_kernel<<<k::grid_for(ctx, out.numel()), k::kThreads, 0, ctx.stream()>>>(
        t.data<T>(), offset_buckets.data<int32_t>(), out.data<T>(), H, q_len, k_len);
    FV_CUDA_CHECK_LAUNCH();
  });
  return out;
}

Tensor gather_rows(const Tensor& x, const Tensor& rows) {
  const int64_t B = x.size(0), S = x.size(1), C = x.size(2), R = rows.size(0);
  Tensor out = Tensor::empty({B, R, C}, x.dtype(), x.device());
  if (out.numel() == 0) return out;
  const Tensor xc = x.contiguous(), rc = rows.contiguous();
  CudaContext& ctx = k::context_of(x);
  const int64_t row_bytes = C * int64_t(dtype_size(x.dtype()));
  for (int64_t b = 0; b < B; ++b) {  // B is 1 or 2 (CFG) in the transformer
    const char* src = static_cast<const char*>(xc.raw_data()) + b * S * row_bytes;
    char* dst = static_cast<char*>(out.raw_data()) + b * R * row_bytes;
    if (row_bytes % 16 == 0 && k::aligned16(src) && k::aligned16(dst)) {
      gather<uint4>(ctx, src, rc.data<int32_t>(), dst, R, row_bytes);
    } else {
      gather<uint8_t>(ctx, src, rc.data<int32_t>(), dst, R, row_bytes);
    }
  }
  return out;
}

Tensor embedding(const Tensor& table, std::span<const int32_t> ids) {
  FV_CHECK(table.ndim() == 2, "embedding: expected a table [V, D], got ", table.describe());
  const int64_t V = table.size(0), D = table.size(1);
  const int64_t n = int64_t(ids.size());
  for (int64_t i = 0; i < n; ++i) {
    FV_CHECK(ids[i] >= 0 && ids[i] < V, "embedding: id ", ids[i], " at position ", i,
             " is outside the table's ", V, " rows");
  }
  Tensor out = Tensor::empty({n, D}, table.dtype(), table.device());
  if (out.numel() == 0) return out;
  Tensor tc = table.contiguous();
  Tensor host_ids = Tensor::empty({n}, DType::I32);
  std::memcpy(host_ids.raw_data(), ids.data(), size_t(n) * sizeof(int32_t));
  const Tensor device_ids = host_ids.to(table.device());
  CudaContext& ctx = k::context_of(table);
  const int64_t row_bytes = D * int64_t(dtype_size(table.dtype()));
  const int32_t* pid = device_ids.data<int32_t>();
  if (row_bytes % 16 == 0 && k::aligned16(tc.raw_data())) {
    gather<uint4>(ctx, tc.raw_data(), pid, out.raw_data(), n, row_bytes);
  } else if (row_bytes % 4 == 0 && reinterpret_cast<uintptr_t>(tc.raw_data()) % 4 == 0) {
    gather<uint32_t>(ctx, tc.raw_data(), pid, out.raw_data(), n, row_bytes);
  } else {
    gather<uint8_t>(ctx, tc.raw_data(), pid, out.raw_data(), n, row_bytes);
  }
  return out;
}

}  // namespace fastvideo::ops::cuda

// VMoBA's chunk gates on a GPU (ops/video_moba_attention.h): the 64-token block means of q and k
// from VSA's tiling kernel (over the chunks' blocks, ops/tile_blocks.h, no tiled copies), chunk
// means as one averaging GEMM (each block weighted by its share of the chunk), and the gates as
// one head-batched GEMM per batch item, as VSA's coarse scores; the N×N gates then go to the host,
// where the selection rule runs.
#include <cstring>
#include <vector>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "ops/cuda/head_batched_gemm.h"
#include "ops/cuda/vsa_kernels.h"
#include "ops/tile_blocks.h"
#include "ops/video_moba_attention.h"

namespace fastvideo::ops::cuda {

namespace {

const char* at(const Tensor& t, int64_t elements) {
  return static_cast<const char*>(t.raw_data()) + elements * int64_t(dtype_size(t.dtype()));
}

Tensor upload(const std::vector<float>& values, const Shape& shape, Device device) {
  Tensor host = Tensor::empty(shape, DType::F32);
  std::memcpy(host.raw_data(), values.data(), host.nbytes());
  return host.to(device);
}

Tensor upload(const std::vector<int32_t>& values, Device device) {
  Tensor host = Tensor::empty({int64_t(values.size())}, DType::I32);
  std::memcpy(host.raw_data(), values.data(), host.nbytes());
  return host.to(device);
}

}  // namespace

Tensor vmoba_gates(const Tensor& q, const Tensor& k, const TokenTiling& tiling) {
  FV_CHECK(q.dtype() == DType::BF16 && q.size(3) % 8 == 0 && k.dtype() == q.dtype() &&
               k.device() == q.device(),
           "VMoBA gates on a GPU take BF16 q and k on one device with head_dim a multiple of 8, "
           "got q ",
           q.describe(), ", k ", k.describe());
  const int64_t B = q.size(0), S = q.size(1), H = q.size(2), D = q.size(3), HD = H * D;
  const int64_t N = tiling.num_tiles;
  const std::shared_ptr<const TileBlocks> blocks = TileBlocks::for_tiling(tiling);
  const int64_t real = blocks->num_blocks - 1;
  CudaContext& ctx = use_cuda_device(q.device().index);
  const cudaStream_t stream = ctx.stream();
  // The maps are small (one int per token); a call uploads them rather than caching per device.
  const Tensor token_of_slot = upload(blocks->token_of_slot, q.device());
  const Tensor block_sizes = upload(blocks->block_sizes, q.device());
  // averaging[c][j] = size_j / size_c for the blocks j of chunk c (row-major N × real).
  std::vector<float> averaging(size_t(N * real), 0.f);
  for (int64_t c = 0; c < N; ++c)
    for (int32_t j = blocks->first_block[size_t(c)]; j < blocks->first_block[size_t(c) + 1]; ++j)
      averaging[size_t(c * real + j)] =
          float(blocks->block_sizes[size_t(j)]) / float(tiling.tile_sizes[size_t(c)]);
  const Tensor weights = upload(averaging, {N, real}, q.device());

  Tensor chunk_means[2];
  const Tensor inputs[2] = {q.contiguous(), k.contiguous()};
  for (int x = 0; x < 2; ++x) {
    Tensor block_means = Tensor::empty({B, real, H, D}, DType::F32, q.device());
    vsa_tile_with_means(inputs[x].raw_data(), B, S, H, D, real, token_of_slot.data<int32_t>(),
                        block_sizes.data<int32_t>(), nullptr, block_means.data<float>(), stream);
    chunk_means[x] = Tensor::empty({B, N, H, D}, DType::F32, q.device());
    for (int64_t b = 0; b < B; ++b) {
      // Row-major C (N × HD) = W (N × real) · M (real × HD) is column-major Cᵀ = Mᵀ · Wᵀ.
      const Operand m_op{at(block_means, b * real * HD), DType::F32, HD, real, HD, real * HD};
      const Operand w_op{weights.raw_data(), DType::F32, real, N, real, real * N};
      const Operand c_op{at(chunk_means[x], b * N * HD), DType::F32, HD, N, HD, N * HD};
      batched_gemm(ctx, false, m_op, w_op, c_op, 1.0f, 1);
    }
  }
  // Rows padded to 4 floats keep them 16-byte aligned, as VSA's scores.
  const int64_t ld = (N + 3) / 4 * 4;
  Tensor padded = Tensor::empty({B, H, N, ld}, DType::F32, q.device());
  for (int64_t b = 0; b < B; ++b) {
    // Row-major G[h] (N×N) = Q̄[h]·K̄[h]ᵀ is column-major Gᵀ = K̄[h]·Q̄[h]ᵀ: heads D apart, chunks HD.
    const Operand k_op{at(chunk_means[1], b * N * HD), DType::F32, D, N, HD, D};
    const Operand q_op{at(chunk_means[0], b * N * HD), DType::F32, D, N, HD, D};
    const Operand g_op{at(padded, b * H * N * ld), DType::F32, N, N, ld, N * ld};
    batched_gemm(ctx, true, k_op, q_op, g_op, 1.0f, int(H));
  }
  Tensor gates = Tensor::empty({B, H, N, N}, DType::F32);
  FV_CUDA_CHECK(cudaMemcpy2DAsync(gates.raw_data(), N * sizeof(float), padded.raw_data(),
                                  ld * sizeof(float), N * sizeof(float), B * H * N,
                                  cudaMemcpyDeviceToHost, stream));
  FV_CUDA_CHECK(cudaStreamSynchronize(stream));
  return gates;
}

}  // namespace fastvideo::ops::cuda

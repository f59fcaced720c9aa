// VMoBA's chunk gates on a GPU (ops/video_moba_attention.h): the 64-token block means of q and k
// from VSA's tiling kernel (over the chunks' blocks, ops/tile_blocks.h, no tiled copies), chunk
// means as one averaging GEMM (each block weighted by its share of the chunk), and the gates as
// one head-batched GEMM per batch item, as VSA's coarse scores. The gates stay on the device for
// the selection there (vmoba_select.cu) or go to the host for the rules only it runs.
#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "ops/cuda/device_tile_blocks.h"
#include "ops/cuda/head_batched_gemm.h"
#include "ops/cuda/vmoba_kernels.h"
#include "ops/cuda/vsa_kernels.h"
#include "ops/tile_blocks.h"
#include "ops/video_moba_attention.h"

namespace fastvideo::ops::cuda {

Tensor vmoba_device_gates(const Tensor& q, const Tensor& k, const TokenTiling& tiling) {
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
  const DeviceTileBlocks& db = device_tile_blocks(*blocks, q.device());

  Tensor chunk_means[2];
  const Tensor inputs[2] = {q.contiguous(), k.contiguous()};
  for (int x = 0; x < 2; ++x) {
    Tensor block_means = Tensor::empty({B, real, H, D}, DType::F32, q.device());
    vsa_tile_with_means(inputs[x].raw_data(), B, S, H, D, real, db.token_of_slot.data<int32_t>(),
                        db.block_sizes.data<int32_t>(), nullptr, block_means.data<float>(),
                        DType::F32, stream);
    chunk_means[x] = Tensor::empty({B, N, H, D}, DType::F32, q.device());
    for (int64_t b = 0; b < B; ++b) {
      // Row-major C (N × HD) = W (N × real) · M (real × HD) is column-major Cᵀ = Mᵀ · Wᵀ.
      const Operand m_op{
          operand_at(block_means, b * real * HD), DType::F32, HD, real, HD, real * HD};
      const Operand w_op{db.tile_averaging.raw_data(), DType::F32, real, N, real, real * N};
      const Operand c_op{operand_at(chunk_means[x], b * N * HD), DType::F32, HD, N, HD, N * HD};
      batched_gemm(ctx, false, m_op, w_op, c_op, 1.0f, 1);
    }
  }
  // Rows padded to 4 floats keep them 16-byte aligned, as VSA's scores.
  const int64_t ld = (N + 3) / 4 * 4;
  Tensor padded = Tensor::empty({B, H, N, ld}, DType::F32, q.device());
  for (int64_t b = 0; b < B; ++b) {
    // Row-major G[h] (N×N) = Q̄[h]·K̄[h]ᵀ is column-major Gᵀ = K̄[h]·Q̄[h]ᵀ: heads D apart, chunks HD.
    const Operand k_op{operand_at(chunk_means[1], b * N * HD), DType::F32, D, N, HD, D};
    const Operand q_op{operand_at(chunk_means[0], b * N * HD), DType::F32, D, N, HD, D};
    const Operand g_op{operand_at(padded, b * H * N * ld), DType::F32, N, N, ld, N * ld};
    batched_gemm(ctx, true, k_op, q_op, g_op, 1.0f, int(H));
  }
  return padded;
}

Tensor vmoba_gates(const Tensor& q, const Tensor& k, const TokenTiling& tiling) {
  const Tensor padded = vmoba_device_gates(q, k, tiling);
  const int64_t B = padded.size(0), H = padded.size(1), N = padded.size(2), ld = padded.size(3);
  const cudaStream_t stream = CudaContext::get(q.device().index).stream();
  Tensor gates = Tensor::empty({B, H, N, N}, DType::F32);
  FV_CUDA_CHECK(cudaMemcpy2DAsync(gates.raw_data(), N * sizeof(float), padded.raw_data(),
                                  ld * sizeof(float), N * sizeof(float), B * H * N,
                                  cudaMemcpyDeviceToHost, stream));
  FV_CUDA_CHECK(cudaStreamSynchronize(stream));
  return gates;
}

}  // namespace fastvideo::ops::cuda

// SLA on a GPU (ops/sparse_linear_attention.h), per call, everything on the context's stream:
//   1. block map: q means over BLKQ-token blocks and k means over BLKK-token blocks,
//      [B, H, N, D] f32 (one kernel each), the k means centred (smooth-k); SageSLA takes both
//      from SAGE_ATTN's pre-pass, run first. Scores q̄·k̄ᵀ for every (batch, head) by one fp32
//      cuBLASLt GEMM; per query block its top-k key blocks by VSA's selection kernel
//      (select_top_blocks' rule, no softmax).
//   2. sparse branch (SageSLA: SAGE_ATTN's Hopper kernel over the selected 128-key
//      blocks of each 64-row query block); otherwise a block-sparse kernel straight on q, k, v
//      (vsa_fine_stage.h; on Hopper the TMA + wgmma one in its sequence-order mode, elsewhere the
//      portable one): SLA's 64-key blocks in sequence order are its key tiles (the last one
//      partial), and each BLKQ-row query block is BLKQ / 64 of its 64-row query tiles sharing one
//      row of the selection. It writes the output.
//   3. linear branch, only with proj_l (absent, it is zero): the state kv = φ(k)ᵀ·v per
//      (batch, head) and Σφ(k) in one kernel (sla_key_state); proj_l's weight folded into it,
//      M = kv·Wᵀ (one f32 GEMM over every (batch, head, row)), since proj_l(φ(q)·kv / n) =
//      (φ(q) / n)·M + bias with n = 1e-5 + φ(q)·Σφ(k) per row; then one kernel per 64 rows
//      forms φ(q) / n and adds (φ(q) / n)·M + bias into out (sla_linear_output).
// The block scores and the fold are cuBLASLt GEMMs (DESIGN §8); the linear branch's two products
// are our own kernels around their feature maps, which cuBLASLt cannot take as a prologue
// (sla_kernels.h).
#include "ops/sage_attention.h"
#include "ops/sparse_linear_attention.h"

#include <cstdint>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "ops/cuda/cublaslt_gemm.h"
#include "ops/cuda/head_batched_gemm.h"
#include "ops/cuda/sage_kernels.h"
#include "ops/cuda/sla_kernels.h"
#include "ops/cuda/vsa_fine_stage.h"
#include "ops/cuda/vsa_kernels.h"

namespace fastvideo::ops::cuda {

namespace {

constexpr int64_t kKeyTile = 64;  // the block-sparse kernel's key and query tiles

// The linear branch added to `out`: out += proj_l(φ(q)·kv / n) (see the top of the file).
void add_linear_branch(CudaContext& ctx, const Tensor& q, const Tensor& k, const Tensor& v,
                       SlaFeatureMap map, const Tensor& proj_w, const Tensor& proj_b,
                       const Tensor& out) {
  const int64_t B = q.size(0), S = q.size(1), H = q.size(2), D = q.size(3);
  const cudaStream_t stream = ctx.stream();
  const Device device = q.device();
  const Tensor state = Tensor::empty({B, H, D, D}, DType::F32, device);  // kv[b, h], [d][e]
  const Tensor ksum = Tensor::empty({B, H, D}, DType::F32, device);
  {
    const Tensor workspace = Tensor::empty({sla_key_state_workspace(B, S, H)}, DType::F32, device);
    sla_key_state(k.raw_data(), v.raw_data(), B, S, H, map, workspace.data<float>(),
                  state.data<float>(), ksum.data<float>(), stream);
  }
  // M[b, h] = kv[b, h]·Wᵀ: every (b, h, d) row through proj_l's weight, as nn.Linear without bias.
  const Tensor folded = Tensor::empty({B * H * D, D}, DType::F32, device);
  cuda_detail::cublaslt_gemm(folded, state.reshape({B * H * D, D}), proj_w, true, Tensor(),
                             cuda_detail::GemmActivation::None);
  const Tensor folded_bf16 = folded.to(DType::BF16);
  sla_linear_output(q.raw_data(), ksum.data<float>(), folded_bf16.raw_data(), proj_b.data<float>(),
                    B, S, H, map, out.raw_data(), stream);
}

bool aligned16(const Tensor& t) { return reinterpret_cast<uintptr_t>(t.raw_data()) % 16 == 0; }

}  // namespace

Tensor sparse_linear_attention_with(BlockSparseKernel kernel, const Tensor& q, const Tensor& k,
                                    const Tensor& v, const SlaConfig& config, float scale,
                                    const Tensor& proj_w, const Tensor& proj_b,
                                    SlaSelection* selection) {
  FV_CHECK(q.dtype() == DType::BF16 && k.dtype() == DType::BF16 && v.dtype() == DType::BF16,
           "SLA_ATTN on a GPU takes BF16 q, k, v; got q ", q.describe(), ", k ", k.describe(),
           ", v ", v.describe());
  FV_CHECK(q.size(0) <= 65535 && q.size(2) <= 65535,
           "SLA_ATTN on a GPU takes at most 65535 batch items and heads (grid dimensions), got ",
           q.size(0), " and ", q.size(2));
  FV_CHECK(k.device() == q.device() && v.device() == q.device(),
           "SLA_ATTN: q, k and v must be on one device, got q ", q.describe(), ", k ", k.describe(),
           ", v ", v.describe());
  const int64_t B = q.size(0), S = q.size(1), H = q.size(2), D = q.size(3);
  FV_CHECK(D == kSlaHeadDim, "SLA_ATTN on a GPU needs head_dim ", kSlaHeadDim, ", got ", D, " (q ",
           q.describe(), "): its block-sparse kernel is built for ", kSlaHeadDim);
  if (config.quantized) {
    FV_CHECK(config.block_q == kSageQueryBlock && config.block_k == kSageKeyBlock,
             "SAGE_SLA_ATTN on a GPU needs BLKQ ", kSageQueryBlock, " and BLKK ", kSageKeyBlock,
             " (SAGE_ATTN's kernel's blocks), got BLKQ ", config.block_q, " and BLKK ",
             config.block_k);
  } else {
    FV_CHECK(config.block_k == kKeyTile && config.block_q % kKeyTile == 0,
             "SLA_ATTN on a GPU needs BLKK ", kKeyTile, " and BLKQ a multiple of ", kKeyTile,
             " (the block-sparse kernel's tiles), got BLKQ ", config.block_q, " and BLKK ",
             config.block_k);
  }
  FV_CHECK(S < (int64_t(1) << 30), "SLA_ATTN: ", S, " tokens are more than 2^30");
  const int64_t BQ = config.block_q, BK = config.block_k;
  const int64_t Nq = (S + BQ - 1) / BQ, Nk = (S + BK - 1) / BK;
  const int64_t topk = sla_topk(config.topk_ratio, Nk);
  const bool linear_branch = proj_w.defined();
  const Tensor pw = linear_branch ? proj_w.to(DType::F32).contiguous() : Tensor();
  const Tensor pb = linear_branch ? proj_b.to(DType::F32).contiguous() : Tensor();
  if (linear_branch) {
    FV_CHECK(pw.device() == q.device() && pb.device() == q.device(),
             "SLA_ATTN: proj_l must be on q's device (", q.device().name(), "), got weight ",
             proj_w.describe(), " and bias ", proj_b.describe());
  }
  CudaContext& ctx = use_cuda_device(q.device().index);
  const cudaStream_t stream = ctx.stream();
  FV_CHECK(!config.quantized || ctx.info().major == 9,
           "SAGE_SLA_ATTN on CUDA runs on sm_90 (H100, H200) in this version (its sparse branch is "
           "SAGE_ATTN's Hopper kernel); ",
           ctx.info().name, " is sm_", ctx.info().major, ctx.info().minor);
  FV_CHECK(Nk <= vsa_select_max_row(), "SLA_ATTN on a GPU: ", Nk, " key blocks (", S,
           " tokens) are more than its selection kernel holds on ", ctx.info().name, " (",
           vsa_select_max_row(), ")");
  const Tensor qc = q.contiguous(), kc = k.contiguous(), vc = v.contiguous();
  for (const Tensor* t : {&qc, &kc, &vc}) {
    FV_CHECK(aligned16(*t), "SLA_ATTN: ", t->describe(), " does not start 16-byte aligned");
  }

  // 1. Block map. SageSLA takes its pooled q and smooth-k from SAGE_ATTN's pre-pass, which reads
  // every q, k and v token for the sparse branch anyway. Score rows padded to 4 floats keep them
  // 16-byte aligned.
  Tensor q_means, k_means;
  SageDeviceInputs quantized;
  if (config.quantized) {
    SageBlockMeans means;
    quantized = sage_quantize(qc, kc, vc, sage_q_multiplier(scale), SageVLayout::E4m3Slots, &means);
    q_means = means.q;
    k_means = means.k;
  } else {
    q_means = Tensor::empty({B, H, Nq, D}, DType::F32, q.device());
    k_means = Tensor::empty({B, H, Nk, D}, DType::F32, q.device());
    sla_block_means(qc.raw_data(), B, S, H, BQ, q_means.data<float>(), stream);
    sla_block_means(kc.raw_data(), B, S, H, BK, k_means.data<float>(), stream);
    sla_center_block_means(k_means.data<float>(), B * H, Nk, BK, S, stream);
  }
  const int64_t ld = (Nk + 3) / 4 * 4;
  const Tensor scores = Tensor::empty({B, H, Nq, ld}, DType::F32, q.device());
  // Row-major S[b, h] (Nq×Nk) = Q̄·K̄ᵀ is column-major Sᵀ = K̄·Q̄ᵀ: A = K̄ stored D×Nk (transposed),
  // B = Q̄ stored D×Nq; the means of consecutive (batch, head) pairs N·D apart.
  const Operand k_op{k_means.raw_data(), DType::F32, D, Nk, D, Nk * D};
  const Operand q_op{q_means.raw_data(), DType::F32, D, Nq, D, Nq * D};
  const Operand s_op{scores.raw_data(), DType::F32, Nk, Nq, ld, Nq * ld};
  batched_gemm(ctx, true, k_op, q_op, s_op, 1.0f, int(B * H));
  if (selection) {
    selection->scores = Tensor::empty({B, H, Nq, Nk}, DType::F32, q.device());
    FV_CUDA_CHECK(cudaMemcpy2DAsync(selection->scores.raw_data(), Nk * sizeof(float),
                                    scores.raw_data(), ld * sizeof(float), Nk * sizeof(float),
                                    B * H * Nq, cudaMemcpyDeviceToDevice, stream));
  }
  const Tensor selected = Tensor::empty({B, H, Nq, topk}, DType::I32, q.device());
  vsa_select_and_softmax(scores.data<float>(), B * H * Nq, Nk, ld, topk, selected.data<int32_t>(),
                         /*bf16_probs=*/nullptr, stream);
  if (selection) selection->selected = selected;

  // 2. Sparse branch, into the output.
  const Tensor out = Tensor::empty({B, S, H, D}, DType::BF16, q.device());
  if (config.quantized) {
    // SageSLA: SAGE_ATTN's kernel on the pre-pass's output, over the selected blocks.
    hopper_sage_attention(quantized, out, selected);
  } else {
    // On Hopper the TMA + wgmma block-sparse kernel (VSA's, in sequence-order mode), else the
    // portable one.
    const bool hopper_here = ctx.info().major == 9;
    if (kernel == BlockSparseKernel::Automatic)
      kernel = hopper_here ? BlockSparseKernel::Hopper : BlockSparseKernel::Portable;
    FV_CHECK(kernel != BlockSparseKernel::Hopper || hopper_here,
             "SLA_ATTN: the Hopper block-sparse kernel needs sm_90, ", ctx.info().name, " is sm_",
             ctx.info().major, ctx.info().minor);
    if (kernel == BlockSparseKernel::Hopper)
      hopper_block_sparse_attention(qc, kc, vc, selected, scale, out, int(BQ / kKeyTile));
    else
      portable_block_sparse_attention(qc, kc, vc, selected, Tensor(), scale, out,
                                      int(BQ / kKeyTile));
  }

  // 3. Linear branch.
  if (linear_branch) add_linear_branch(ctx, qc, kc, vc, config.feature_map, pw, pb, out);
  return out;
}

Tensor sparse_linear_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                               const SlaConfig& config, float scale, const Tensor& proj_w,
                               const Tensor& proj_b, SlaSelection* selection) {
  return sparse_linear_attention_with(BlockSparseKernel::Automatic, q, k, v, config, scale, proj_w,
                                      proj_b, selection);
}

}  // namespace fastvideo::ops::cuda

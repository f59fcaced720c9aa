#include "ops/sparse_linear_attention.h"

#include <cmath>

#include "fastvideo/error.h"
#include "ops/dispatch.h"

namespace fastvideo {

int64_t sla_topk(double topk_ratio, int64_t key_blocks) {
  FV_CHECK(key_blocks >= 1, "SLA_ATTN: no key blocks to select from (no tokens)");
  FV_CHECK(topk_ratio > 0 && topk_ratio <= 1, "SLA topk_ratio ", topk_ratio,
           " is outside (0, 1]");
  const auto topk = std::min(key_blocks, int64_t(std::floor(topk_ratio * double(key_blocks))));
  FV_CHECK(topk >= 1, "SLA topk_ratio ", topk_ratio, " keeps no key block of ", key_blocks,
           " (topk = floor(ratio x blocks) = 0); use a ratio of at least ",
           1.0 / double(key_blocks));
  return topk;
}

namespace ops {

Tensor sparse_linear_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                               const SlaConfig& config, float scale, const Tensor& proj_w,
                               const Tensor& proj_b, SlaSelection* selection) {
  FV_CHECK(q.ndim() == 4, "SLA_ATTN: q must be [B, S, H, D], got ", q.describe());
  FV_CHECK(k.shape() == q.shape() && v.shape() == q.shape(),
           "SLA_ATTN runs self-attention only: q, k and v must have one shape, got q ",
           q.describe(), ", k ", k.describe(), ", v ", v.describe());
  FV_CHECK(config.block_q >= 1 && config.block_k >= 1, "SLA_ATTN: block sizes BLKQ ",
           config.block_q, " and BLKK ", config.block_k, " must be positive");
  const int64_t D = q.size(3);
  FV_CHECK(proj_w.defined() == proj_b.defined(), "SLA_ATTN: proj_l needs both weight and bias");
  if (proj_w.defined()) {
    check_shape(proj_w, Shape{D, D}, "SLA_ATTN: proj_l.weight");
    check_shape(proj_b, Shape{D}, "SLA_ATTN: proj_l.bias");
  }
  if (q.numel() == 0) {
    // No batch items or heads: nothing to attend to, and no GPU kernel takes an empty grid.
    const int64_t B = q.size(0), S = q.size(1), H = q.size(2);
    const int64_t Nq = (S + config.block_q - 1) / config.block_q;
    const int64_t Nk = (S + config.block_k - 1) / config.block_k;
    const int64_t topk = sla_topk(config.topk_ratio, Nk);
    if (selection) {
      *selection = {Tensor::empty({B, H, Nq, Nk}, DType::F32, q.device()),
                    Tensor::empty({B, H, Nq, topk}, DType::I32, q.device())};
    }
    return Tensor::empty(q.shape(), q.dtype(), q.device());
  }
  return FV_DISPATCH(q.device(),
                     sparse_linear_attention(q, k, v, config, scale, proj_w, proj_b, selection));
}

}  // namespace ops
}  // namespace fastvideo

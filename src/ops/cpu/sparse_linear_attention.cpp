// SLA on the CPU, f32, per (batch, head): the block map from pooled q and smooth-k, the sparse
// branch over each query block's selected key blocks (the engine's CPU attention on the gathered
// keys; SageSLA: SAGE_ATTN's quantized rule over all (batch, head)s at the end), the linear branch
// through the D×D state φ(k)ᵀv and its normaliser Σφ(k), then proj_l.
#include "ops/sparse_linear_attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/attention.h"
#include "ops/block_selection.h"
#include "ops/sage_attention.h"
#include "ops/cpu/sgemm.h"

namespace fastvideo::ops::cpu {

namespace {

// The softmax feature map: each token's row over the head dim.
void softmax_rows(float* x, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * cols;
    const float mx = *std::max_element(row, row + cols);
    double sum = 0;
    for (int64_t j = 0; j < cols; ++j) sum += (row[j] = std::exp(row[j] - mx));
    const float inv = float(1.0 / sum);
    for (int64_t j = 0; j < cols; ++j) row[j] *= inv;
  }
}

void feature_map(float* x, int64_t rows, int64_t cols, SlaFeatureMap map) {
  switch (map) {
    case SlaFeatureMap::Softmax:
      softmax_rows(x, rows, cols);
      return;
    case SlaFeatureMap::EluPlusOne:
      for (int64_t i = 0; i < rows * cols; ++i) x[i] = x[i] > 0 ? x[i] + 1 : std::exp(x[i]);
      return;
    case SlaFeatureMap::Relu:
      for (int64_t i = 0; i < rows * cols; ++i) x[i] = std::max(x[i], 0.f);
      return;
  }
}

// Means of consecutive blocks of `block` rows (the last one over what is left).
void block_means(const float* x, int64_t rows, int64_t cols, int64_t block, float* out) {
  for (int64_t b = 0; b * block < rows; ++b) {
    const int64_t r0 = b * block, r1 = std::min(rows, r0 + block);
    float* m = out + b * cols;
    std::fill(m, m + cols, 0.f);
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t d = 0; d < cols; ++d) m[d] += x[r * cols + d];
    for (int64_t d = 0; d < cols; ++d) m[d] /= float(r1 - r0);
  }
}

}  // namespace

Tensor sparse_linear_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                               const SlaConfig& config, float scale, const Tensor& proj_w,
                               const Tensor& proj_b, SlaSelection* selection) {
  FV_CHECK(q.dtype() == DType::F32, "SLA_ATTN on the CPU computes in f32, got q ", q.describe());
  const int64_t B = q.size(0), S = q.size(1), H = q.size(2), D = q.size(3);
  const int64_t BQ = config.block_q, BK = config.block_k;
  const int64_t Nq = (S + BQ - 1) / BQ, Nk = (S + BK - 1) / BK;
  const int64_t topk = sla_topk(config.topk_ratio, Nk);
  FV_CHECK(!config.quantized || (BQ == kSageQueryBlock && BK == kSageKeyBlock),
           "SAGE_SLA_ATTN: its blocks are SAGE_ATTN's, ", kSageQueryBlock, " query rows and ",
           kSageKeyBlock, " keys; got BLKQ ", BQ, " and BLKK ", BK);
  Tensor out = Tensor::empty({B, S, H, D}, DType::F32);
  // SageSLA keeps every (batch, head)'s selection for its quantized sparse branch at the end.
  const bool keep_selection = selection != nullptr || config.quantized;
  SlaSelection kept;
  if (keep_selection) {
    kept.scores = Tensor::empty({B, H, Nq, Nk}, DType::F32);
    kept.selected = Tensor::empty({B, H, Nq, topk}, DType::I32);
  }
  const Tensor pw = proj_w.defined() ? proj_w.to(DType::F32).contiguous() : Tensor();
  const Tensor pb = proj_b.defined() ? proj_b.to(DType::F32).contiguous() : Tensor();

  // One (batch, head) at a time, its q, k, v gathered into contiguous [S, D] rows.
  std::vector<float> qh(size_t(S * D)), kh(size_t(S * D)), vh(size_t(S * D)), ks(size_t(S * D));
  std::vector<float> qm(size_t(Nq * D)), km(size_t(Nk * D)), scores(size_t(Nq * Nk));
  std::vector<int32_t> selected(size_t(Nq * topk));
  Tensor kf = Tensor::empty({1, topk * BK, 1, D}, DType::F32);
  Tensor vf = Tensor::empty({1, topk * BK, 1, D}, DType::F32);
  std::vector<float> sparse(size_t(S * D)), state(size_t(D * D)), ksum(static_cast<size_t>(D)),
      lin(size_t(S * D));
  const Tensor qc = q.contiguous(), kc = k.contiguous(), vc = v.contiguous();
  for (int64_t bh = 0; bh < B * H; ++bh) {
    const int64_t b = bh / H, h = bh % H;
    for (int64_t s = 0; s < S; ++s) {
      const int64_t at = ((b * S + s) * H + h) * D;
      std::copy_n(qc.data<float>() + at, D, qh.data() + s * D);
      std::copy_n(kc.data<float>() + at, D, kh.data() + s * D);
      std::copy_n(vc.data<float>() + at, D, vh.data() + s * D);
    }
    // Block map: pooled q against pooled smooth-k (k minus its mean over the sequence).
    std::vector<double> k_mean(static_cast<size_t>(D), 0.0);
    for (int64_t s = 0; s < S; ++s)
      for (int64_t d = 0; d < D; ++d) k_mean[size_t(d)] += kh[size_t(s * D + d)];
    for (int64_t s = 0; s < S; ++s)
      for (int64_t d = 0; d < D; ++d)
        ks[size_t(s * D + d)] = kh[size_t(s * D + d)] - float(k_mean[size_t(d)] / double(S));
    block_means(qh.data(), S, D, BQ, qm.data());
    block_means(ks.data(), S, D, BK, km.data());
    sgemm(false, true, int(Nq), int(Nk), int(D), 1.f, qm.data(), int(D), km.data(), int(D), 0.f,
          scores.data(), int(Nk));
    for (int64_t i = 0; i < Nq; ++i)
      select_top_blocks(scores.data() + i * Nk, Nk, topk, selected.data() + i * topk);
    if (keep_selection) {
      std::copy(scores.begin(), scores.end(), kept.scores.data<float>() + bh * Nq * Nk);
      std::copy(selected.begin(), selected.end(), kept.selected.data<int32_t>() + bh * Nq * topk);
    }

    // Sparse branch: each query block over the keys of its selected blocks (SageSLA's comes after
    // the loop).
    std::fill(sparse.begin(), sparse.end(), 0.f);
    for (int64_t i = 0; i < Nq && !config.quantized; ++i) {
      int64_t keys = 0;
      for (int64_t n = 0; n < topk; ++n) {
        const int64_t j = selected[size_t(i * topk + n)];
        const int64_t r0 = j * BK, r1 = std::min(S, r0 + BK);
        std::copy(kh.begin() + r0 * D, kh.begin() + r1 * D, kf.data<float>() + keys * D);
        std::copy(vh.begin() + r0 * D, vh.begin() + r1 * D, vf.data<float>() + keys * D);
        keys += r1 - r0;
      }
      const int64_t q0 = i * BQ, rows = std::min(S, q0 + BQ) - q0;
      const Tensor qb = Tensor::borrow(qh.data() + q0 * D, {1, rows, 1, D}, DType::F32, nullptr);
      const Tensor block = attention(qb, kf.slice(1, 0, keys), vf.slice(1, 0, keys), scale);
      std::copy_n(block.data<float>(), rows * D, sparse.data() + q0 * D);
    }

    // Linear branch over every key: φ(q)·(φ(k)ᵀv) / (1e-5 + φ(q)·Σφ(k)), then proj_l.
    feature_map(qh.data(), S, D, config.feature_map);
    feature_map(kh.data(), S, D, config.feature_map);
    sgemm(true, false, int(D), int(D), int(S), 1.f, kh.data(), int(D), vh.data(), int(D), 0.f,
          state.data(), int(D));
    std::fill(ksum.begin(), ksum.end(), 0.f);
    for (int64_t s = 0; s < S; ++s)
      for (int64_t d = 0; d < D; ++d) ksum[size_t(d)] += kh[size_t(s * D + d)];
    sgemm(false, false, int(S), int(D), int(D), 1.f, qh.data(), int(D), state.data(), int(D), 0.f,
          lin.data(), int(D));
    for (int64_t s = 0; s < S; ++s) {
      double norm = 0;
      for (int64_t d = 0; d < D; ++d) norm += double(qh[size_t(s * D + d)]) * ksum[size_t(d)];
      const float inv = float(1.0 / (1e-5 + norm));
      for (int64_t d = 0; d < D; ++d) lin[size_t(s * D + d)] *= inv;
    }
    for (int64_t s = 0; s < S; ++s) {
      float* dst = out.data<float>() + ((b * S + s) * H + h) * D;
      for (int64_t e = 0; e < D; ++e) {
        float projected = 0;
        if (pw.defined()) {
          projected = pb.data<float>()[e];
          for (int64_t d = 0; d < D; ++d)
            projected += pw.data<float>()[e * D + d] * lin[size_t(s * D + d)];
        }
        dst[e] = sparse[size_t(s * D + e)] + projected;
      }
    }
  }
  if (config.quantized) {
    const SageInt8 qq = sage_quantize_int8(qc, SageInt8Grouping::Query, sage_q_multiplier(scale));
    const SageInt8 kq = sage_quantize_int8(sage_smooth_k(kc), SageInt8Grouping::Key);
    const Tensor sparse_all = sage_attention_quantized(qq, kq, sage_quantize_v(vc), kept.selected);
    float* o = out.data<float>();
    const float* sp = sparse_all.data<float>();
    for (int64_t i = 0; i < out.numel(); ++i) o[i] += sp[i];
  }
  if (selection) *selection = kept;
  return out;
}

}  // namespace fastvideo::ops::cpu

// SageAttention2 on the CPU (ops/sage_attention.h, steps 1–6): the quantization pre-pass per
// (batch, head), then one query row at a time through the key blocks of 128 (or the softmax
// blocks of 64 they split into for the portable kernels' recipes) with the online base-2 softmax,
// P̃ and V in E4M3 (or FP16), a per-block f32 temporary added into the f32 accumulator.
#include "ops/sage_attention.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "core/parallel.h"

namespace fastvideo::ops::cpu {

namespace {

Tensor f32_contiguous(const Tensor& t) {
  return (t.dtype() == DType::F32 ? t : t.to(DType::F32)).contiguous();
}

// Every E4M3 code decoded once: the P̃·V loop reads V through it.
const std::array<float, 256>& e4m3_table() {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> t{};
    for (int b = 0; b < 256; ++b) t[size_t(b)] = e4m3_to_f32(uint8_t(b));
    return t;
  }();
  return table;
}

}  // namespace

Tensor sage_smooth_k(const Tensor& k) {
  FV_CHECK(k.ndim() == 4, "SAGE_ATTN: k must be [B, S, H, D], got ", k.describe());
  const Tensor kc = f32_contiguous(k);
  const int64_t B = k.size(0), S = k.size(1), H = k.size(2), D = k.size(3);
  Tensor out = Tensor::empty({B, S, H, D}, DType::F32);
  const float* src = kc.data<float>();
  float* dst = out.data<float>();
  std::vector<double> sum(static_cast<size_t>(H * D));
  std::vector<float> mean(static_cast<size_t>(H * D));
  for (int64_t b = 0; b < B; ++b) {
    const int64_t base = b * S * H * D;
    std::fill(sum.begin(), sum.end(), 0.0);
    for (int64_t s = 0; s < S; ++s)
      for (int64_t i = 0; i < H * D; ++i) sum[size_t(i)] += src[base + s * H * D + i];
    for (int64_t i = 0; i < H * D; ++i) mean[size_t(i)] = float(sum[size_t(i)] / double(S));
    for (int64_t s = 0; s < S; ++s)
      for (int64_t i = 0; i < H * D; ++i)
        dst[base + s * H * D + i] = src[base + s * H * D + i] - mean[size_t(i)];
  }
  return out;
}

SageInt8 sage_quantize_int8(const Tensor& x, SageInt8Grouping grouping, float multiplier) {
  FV_CHECK(x.ndim() == 4, "SAGE_ATTN: quantized input must be [B, S, H, D], got ", x.describe());
  const Tensor xc = f32_contiguous(x);
  const int64_t B = x.size(0), S = x.size(1), H = x.size(2), D = x.size(3);
  const bool query = grouping == SageInt8Grouping::Query;
  const int64_t groups = query ? sage_query_scale_count(S) : sage_key_scale_count(S);
  auto group_of = [&](int64_t s) {
    return query ? sage_query_scale_index(s) : sage_key_scale_index(s);
  };
  SageInt8 out{Tensor::empty({B, S, H, D}, DType::I8), Tensor::empty({B, H, groups}, DType::F32)};
  const float* src = xc.data<float>();
  int8_t* values = out.values.data<int8_t>();
  float* scales = out.scales.data<float>();
  parallel_for(B * H, 1, [&](int64_t bh0, int64_t bh1) {
    std::vector<float> amax(static_cast<size_t>(groups));
    for (int64_t bh = bh0; bh < bh1; ++bh) {
      const int64_t b = bh / H, h = bh % H;
      auto row = [&](int64_t s) { return ((b * S + s) * H + h) * D; };
      std::fill(amax.begin(), amax.end(), 0.f);
      for (int64_t s = 0; s < S; ++s) {
        float& m = amax[size_t(group_of(s))];
        for (int64_t d = 0; d < D; ++d) m = std::max(m, std::fabs(src[row(s) + d] * multiplier));
      }
      float* sc = scales + bh * groups;
      for (int64_t g = 0; g < groups; ++g)
        sc[g] = amax[size_t(g)] > 0 ? amax[size_t(g)] / 127.f : 1.f;
      for (int64_t s = 0; s < S; ++s) {
        const float scale = sc[group_of(s)];
        for (int64_t d = 0; d < D; ++d) {
          const float r = std::nearbyint(src[row(s) + d] * multiplier / scale);
          values[row(s) + d] = int8_t(std::clamp(r, -127.f, 127.f));
        }
      }
    }
  });
  return out;
}

SageV sage_quantize_v(const Tensor& v, SagePvFormat format) {
  FV_CHECK(v.ndim() == 4, "SAGE_ATTN: v must be [B, S, H, D], got ", v.describe());
  const Tensor vc = f32_contiguous(v);
  const int64_t B = v.size(0), S = v.size(1), H = v.size(2), D = v.size(3);
  const bool f16 = format == SagePvFormat::F16;
  SageV out{Tensor::empty({B, S, H, D}, f16 ? DType::F16 : DType::F8E4M3),
            Tensor::empty({B, H, D}, DType::F32)};
  const float* src = vc.data<float>();
  uint16_t* values_f16 = f16 ? out.values.data<uint16_t>() : nullptr;
  uint8_t* values_e4m3 = f16 ? nullptr : out.values.data<uint8_t>();
  float* scales = out.scales.data<float>();
  for (int64_t b = 0; b < B; ++b) {
    float* sc = scales + b * H * D;  // [H, D] of this batch: the same order as a token's row
    std::fill(sc, sc + H * D, 0.f);
    for (int64_t s = 0; s < S; ++s)
      for (int64_t i = 0; i < H * D; ++i)
        sc[i] = std::max(sc[i], std::fabs(src[(b * S + s) * H * D + i]));
    for (int64_t i = 0; i < H * D; ++i) sc[i] = sc[i] > 0 ? sc[i] / kSagePMax : 1.f;
    for (int64_t s = 0; s < S; ++s)
      for (int64_t i = 0; i < H * D; ++i) {
        const int64_t at = (b * S + s) * H * D + i;
        if (f16)
          values_f16[at] = f32_to_f16(src[at] / sc[i]);
        else
          values_e4m3[at] = f32_to_e4m3(src[at] / sc[i]);
      }
  }
  return out;
}

Tensor sage_attention_quantized(const SageInt8& q, const SageInt8& k, const SageV& v,
                                const Tensor& selected, int64_t softmax_block) {
  FV_CHECK(softmax_block == kSageKeyBlock ||
               (softmax_block == kSagePortableSoftmaxBlock && !selected.defined()),
           "SAGE_ATTN: the softmax block must be ", kSageKeyBlock, " keys, or ",
           kSagePortableSoftmaxBlock, " without a block selection; got ", softmax_block);
  FV_CHECK(q.values.ndim() == 4 && q.values.dtype() == DType::I8 && k.values.ndim() == 4 &&
               k.values.dtype() == DType::I8,
           "SAGE_ATTN: quantized q and k must be I8 [B, S, H, D], got ", q.values.describe(),
           " and ", k.values.describe());
  FV_CHECK(v.values.dtype() == DType::F8E4M3 || v.values.dtype() == DType::F16,
           "SAGE_ATTN: quantized v must be F8E4M3 or F16, got ", v.values.describe());
  const bool f16 = v.values.dtype() == DType::F16;
  const int64_t B = q.values.size(0), Sq = q.values.size(1), H = q.values.size(2),
                D = q.values.size(3), Sk = k.values.size(1);
  check_shape(k.values, Shape{B, Sk, H, D}, "SAGE_ATTN: quantized k");
  check_shape(v.values, Shape{B, Sk, H, D}, "SAGE_ATTN: quantized v");
  check_shape(q.scales, Shape{B, H, sage_query_scale_count(Sq)}, "SAGE_ATTN: q scales");
  check_shape(k.scales, Shape{B, H, sage_key_scale_count(Sk)}, "SAGE_ATTN: k scales");
  check_shape(v.scales, Shape{B, H, D}, "SAGE_ATTN: v scales");
  const Tensor qv = q.values.contiguous(), kv = k.values.contiguous(), vv = v.values.contiguous();
  const Tensor qs = q.scales.contiguous(), ks = k.scales.contiguous(), vs = v.scales.contiguous();
  const int64_t key_blocks = (Sk + kSageKeyBlock - 1) / kSageKeyBlock;
  const int64_t query_blocks = (Sq + kSageQueryBlock - 1) / kSageQueryBlock;
  const int64_t topk = selected.defined() ? selected.size(3) : key_blocks;
  Tensor sel;
  if (selected.defined()) {
    FV_CHECK(selected.dtype() == DType::I32 && selected.ndim() == 4 && selected.size(0) == B &&
                 selected.size(1) == H && selected.size(2) == query_blocks && topk >= 1 &&
                 topk <= key_blocks,
             "SAGE_ATTN: the block selection must be I32 [", B, ", ", H, ", ", query_blocks,
             ", 1..", key_blocks, "] (128-key blocks per 64-row query block), got ",
             selected.describe());
    sel = selected.contiguous();
  }
  const int8_t* qi = qv.data<int8_t>();
  const int8_t* ki = kv.data<int8_t>();
  // V's values as f32, and P̃ rounded to V's format.
  const std::array<float, 256>& e4m3 = e4m3_table();
  std::vector<float> vf(static_cast<size_t>(vv.numel()));
  if (f16) {
    const uint16_t* bits = vv.data<uint16_t>();
    for (size_t i = 0; i < vf.size(); ++i) vf[i] = f16_to_f32(bits[i]);
  } else {
    const uint8_t* bytes = vv.data<uint8_t>();
    for (size_t i = 0; i < vf.size(); ++i) vf[i] = e4m3[bytes[i]];
  }
  const auto round_p = [&](float p) {
    return f16 ? f16_to_f32(f32_to_f16(p)) : e4m3[f32_to_e4m3(p)];
  };
  Tensor out = Tensor::empty({B, Sq, H, D}, DType::F32);
  float* po = out.data<float>();

  parallel_for(B * H * Sq, 8, [&](int64_t r0, int64_t r1) {
    std::vector<float> o(static_cast<size_t>(D)), t(static_cast<size_t>(D));
    std::array<float, kSageKeyBlock> s{}, p_rounded{};
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = r / (H * Sq), h = r / Sq % H, i = r % Sq;
      const int8_t* qrow = qi + ((b * Sq + i) * H + h) * D;
      const float q_scale = qs.data<float>()[(b * H + h) * qs.size(2) + sage_query_scale_index(i)];
      const float* k_scales = ks.data<float>() + (b * H + h) * ks.size(2);
      float m = -INFINITY, l = 0;
      std::fill(o.begin(), o.end(), 0.f);
      const int32_t* blocks =
          sel.defined()
              ? sel.data<int32_t>() + ((b * H + h) * query_blocks + i / kSageQueryBlock) * topk
              : nullptr;
      for (int64_t n = 0; n < topk; ++n) {
        const int64_t block = blocks ? blocks[n] : n;
        FV_CHECK(block >= 0 && block < key_blocks, "SAGE_ATTN: selected key block ", block,
                 " is outside 0..", key_blocks - 1);
        const int64_t block_end = std::min(block * kSageKeyBlock + kSageKeyBlock, Sk);
        for (int64_t n0 = block * kSageKeyBlock; n0 < block_end; n0 += softmax_block) {
          const int64_t keys = std::min(softmax_block, block_end - n0);
          // Step 3: exact int32 dot products, dequantized by the product of the two scales.
          float block_max = -INFINITY;
          for (int64_t j = 0; j < keys; ++j) {
            const int8_t* krow = ki + ((b * Sk + n0 + j) * H + h) * D;
            int32_t dot = 0;
            for (int64_t d = 0; d < D; ++d) dot += int32_t(qrow[d]) * int32_t(krow[d]);
            s[size_t(j)] = float(dot) * (q_scale * k_scales[sage_key_scale_index(n0 + j)]);
            block_max = std::max(block_max, s[size_t(j)]);
          }
          // Step 4: rescale by the change of the running max, then P̃ against the new max.
          const float m_new = std::max(m, block_max);
          const float rescale = std::exp2(m - m_new);  // 0 on the first block (m = −∞)
          l *= rescale;
          for (float& x : o) x *= rescale;
          const float offset = m_new - kSageLog2PMax;
          for (int64_t j = 0; j < keys; ++j) {
            const float p = std::exp2(s[size_t(j)] - offset);
            l += p;  // the unrounded P̃
            p_rounded[size_t(j)] = round_p(p);
          }
          // Two-level accumulation: the block's P̃·V in a temporary, then into the accumulator.
          std::fill(t.begin(), t.end(), 0.f);
          for (int64_t j = 0; j < keys; ++j) {
            const float* vrow = vf.data() + ((b * Sk + n0 + j) * H + h) * D;
            for (int64_t d = 0; d < D; ++d) t[size_t(d)] += p_rounded[size_t(j)] * vrow[d];
          }
          for (int64_t d = 0; d < D; ++d) o[size_t(d)] += t[size_t(d)];
          m = m_new;
        }
      }
      // Step 6: V's per-channel scale, then the row sum.
      const float* v_scales = vs.data<float>() + (b * H + h) * D;
      float* dst = po + ((b * Sq + i) * H + h) * D;
      for (int64_t d = 0; d < D; ++d) dst[d] = o[size_t(d)] * v_scales[d] / l;
    }
  });
  return out;
}

Tensor sage_attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                      const SageRecipe& recipe) {
  const SageInt8 qq = sage_quantize_int8(q, SageInt8Grouping::Query, sage_q_multiplier(scale));
  const SageInt8 kq = sage_quantize_int8(sage_smooth_k(k), SageInt8Grouping::Key);
  const Tensor out =
      sage_attention_quantized(qq, kq, sage_quantize_v(v, recipe.pv), {}, recipe.softmax_block);
  return q.dtype() == DType::F32 ? out : out.to(q.dtype());
}

}  // namespace fastvideo::ops::cpu

#include "ops/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "ops/cpu/sgemm.h"

namespace fastvideo::ops::cpu {

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                 const Tensor& bias) {
  check_attention_inputs(q, k, v, bias);
  const int64_t B = q.size(0), Sq = q.size(1), H = q.size(2), D = q.size(3);
  const int64_t Sk = k.size(1), Dv = v.size(3);
  Tensor bc;
  if (bias.defined()) bc = bias.contiguous();
  Tensor qc = q.contiguous(), kc = k.contiguous(), vc = v.contiguous();
  Tensor out = Tensor::empty({B, Sq, H, Dv}, DType::F32);
  const float* pq = qc.f32().data();
  const float* pk = kc.f32().data();
  const float* pv = vc.f32().data();
  float* po = out.data<float>();

  // Query rows in blocks so the score matrix stays small. The GEMMs use OpenBLAS's own threads;
  // the softmax rows use ours (never both at once, so the cores are not oversubscribed).
  const int64_t block = 1024;
  const int64_t blocks = (Sq + block - 1) / block;
  std::vector<float> scores(size_t(std::min(block, Sq) * Sk));
  for (int64_t task = 0; task < B * H * blocks; ++task) {
    const int64_t b = task / (H * blocks), h = (task / blocks) % H, blk = task % blocks;
    const int64_t q0 = blk * block, rows = std::min(block, Sq - q0);
    const float* qp = pq + ((b * Sq + q0) * H + h) * D;
    const float* kp = pk + (b * Sk * H + h) * D;
    const float* vp = pv + (b * Sk * H + h) * Dv;
    sgemm(false, true, int(rows), int(Sk), int(D), scale, qp, int(H * D), kp, int(H * D), 0.0f,
          scores.data(), int(Sk));
    parallel_for(rows, 8, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        float* row = scores.data() + r * Sk;
        if (bc.defined()) {
          const float* br = bc.data<float>() + (h * Sq + q0 + r) * Sk;
          for (int64_t j = 0; j < Sk; ++j) row[j] += br[j];
        }
        float mx = -INFINITY;
        for (int64_t j = 0; j < Sk; ++j) mx = std::max(mx, row[j]);
        double sum = 0;
        for (int64_t j = 0; j < Sk; ++j) {
          row[j] = std::exp(row[j] - mx);
          sum += row[j];
        }
        const float inv = float(1.0 / sum);
        for (int64_t j = 0; j < Sk; ++j) row[j] *= inv;
      }
    });
    float* op = po + ((b * Sq + q0) * H + h) * Dv;
    sgemm(false, false, int(rows), int(Dv), int(Sk), 1.0f, scores.data(), int(Sk), vp, int(H * Dv),
          0.0f, op, int(H * Dv));
  }
  return out;
}

}  // namespace fastvideo::ops::cpu

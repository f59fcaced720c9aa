// CPU twin of the linear chain (src/ops/linear_chain.h): inputs and outputs are f32, a BF16 value
// is rounded to bf16 as the GPU stores it.
#include "ops/linear_chain.h"

#include <atomic>
#include <cmath>
#include <cstdint>

#include "core/dtype.h"
#include "core/parallel.h"

namespace fastvideo::ops::cpu {

void run_linear_chain(const LinearChainProgram& p) {
  std::atomic<bool> non_finite = false;
  parallel_for(p.numel, int64_t(1) << 14, [&](int64_t begin, int64_t end) {
    bool bad = false;
    float slot[LinearChainProgram::kMaxNodes];
    for (int64_t e = begin; e < end; ++e) {
      for (int n = 0; n < p.count; ++n) {
        const LinearChainProgram::Node& node = p.nodes[n];
        if (node.input) {
          slot[n] = static_cast<const float*>(node.input)[e];
        } else {
          double acc = 0;
          for (int t = 0; t < node.terms; ++t) {
            acc += node.coefficient[t] * double(slot[node.source[t]]);
          }
          float v = float(acc);
          if (node.bf16) v = bf16_to_f32(f32_to_bf16(v));
          slot[n] = v;
          if (node.output) static_cast<float*>(node.output)[e] = v;
        }
      }
      if (p.flagged >= 0) bad |= !std::isfinite(slot[p.flagged]);
    }
    if (bad) non_finite = true;
  });
  if (non_finite && p.flag) *p.flag = 1;
}

}  // namespace fastvideo::ops::cpu

// VMoBA with its selection on the GPU (vmoba_kernels.h): the gates stay on the device, the
// query_head rule writes key runs there, and the Hopper kernel attends over them.
#include "core/cuda/cuda_context.h"
#include "ops/cuda/device_tile_blocks.h"
#include "ops/cuda/key_runs_attention.h"
#include "ops/cuda/vmoba_kernels.h"

namespace fastvideo::ops::cuda {

std::pair<Tensor, Tensor> vmoba_device_runs(const Tensor& q, const Tensor& k,
                                            const TokenTiling& tiling, const VmobaRule& rule) {
  const int64_t B = q.size(0), H = q.size(2), N = tiling.num_tiles, R = (N + 1) / 2;
  const Tensor gates = vmoba_device_gates(q, k, tiling);
  const DeviceTileRuns& dl = device_tile_runs(tiling, q.device());
  Tensor runs = Tensor::empty({B, H, N, R, 2}, DType::I32, q.device());
  Tensor counts = Tensor::empty({B, H, N}, DType::I32, q.device());
  vmoba_select_runs(gates.data<float>(), gates.size(3), B * H * N, N, rule,
                    dl.key_offset.data<int32_t>(), R, runs.data<int32_t>(), counts.data<int32_t>(),
                    CudaContext::get(q.device().index).stream());
  return {runs, counts};
}

Tensor video_moba_attention_on_device(const Tensor& q, const Tensor& k, const Tensor& v,
                                      const TokenTiling& tiling, const VmobaRule& rule,
                                      float scale) {
  const auto [runs, counts] = vmoba_device_runs(q, k, tiling, rule);
  // The runs stay on the device, so the step is the dense kernel's (VMoBA's chunks, 96 to 3,120
  // tokens at 480p, measured faster at 176 than at 192).
  return tile_runs_attention(q, k, v, device_tile_runs(tiling, q.device()), runs, counts, 176,
                             scale);
}

}  // namespace fastvideo::ops::cuda

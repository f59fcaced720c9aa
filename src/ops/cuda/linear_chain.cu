// CUDA twin of the linear chain (src/ops/linear_chain.h): one grid-stride pass, each thread
// evaluating every node of its element in order, the nodes' values in a small per-thread array.
// Memory-bound like linear_combination; one launch for the whole chain.
#include "ops/cuda/memory_bound.cuh"
#include "ops/linear_chain.h"

namespace fastvideo::ops::cuda {

namespace {

namespace k = cuda_kernels;
using Program = LinearChainProgram;

__global__ void linear_chain_kernel(__grid_constant__ const Program p) {
  const int64_t step = int64_t(gridDim.x) * blockDim.x;
  bool bad = false;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < p.numel; e += step) {
    float slot[Program::kMaxNodes];
#pragma unroll
    for (int n = 0; n < Program::kMaxNodes; ++n) {
      if (n >= p.count) break;
      const Program::Node& node = p.nodes[n];
      if (node.input) {
        slot[n] = node.bf16 ? k::to_f32(static_cast<const k::bf16*>(node.input)[e])
                            : static_cast<const float*>(node.input)[e];
        continue;
      }
      // acc += c·x: nvcc contracts it to one FMA in double, the CPU twin may not (1e-6 apart).
      double acc = 0;
#pragma unroll
      for (int t = 0; t < Program::kMaxTerms; ++t) {
        if (t < node.terms) acc += node.coefficient[t] * double(slot[node.source[t]]);
      }
      float v = float(acc);
      if (node.bf16) {
        const k::bf16 b = __float2bfloat16_rn(v);
        if (node.output) static_cast<k::bf16*>(node.output)[e] = b;
        v = __bfloat162float(b);
      } else if (node.output) {
        static_cast<float*>(node.output)[e] = v;
      }
      slot[n] = v;
    }
    if (p.flagged >= 0) bad |= (__float_as_uint(slot[p.flagged]) & 0x7f800000u) == 0x7f800000u;
  }
  if (__syncthreads_or(bad) && threadIdx.x == 0) *p.flag = 1;
}

}  // namespace

void run_linear_chain(const LinearChainProgram& program) {
  CudaContext& ctx = use_cuda_device(program.device);
  linear_chain_kernel<<<k::grid_for(ctx, program.numel), k::kThreads, 0, ctx.stream()>>>(program);
  FV_CUDA_CHECK_LAUNCH();
}

}  // namespace fastvideo::ops::cuda

#include "device_poison.h"

#include <vector>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"

namespace fastvideo::testing {

void poison_next_outputs(const Shape& shape, Device device) {
  std::vector<Tensor> blocks;
  CudaContext& ctx = CudaContext::get(device.index);
  for (int i = 0; i < 8; ++i) {
    blocks.push_back(Tensor::empty(shape, DType::BF16, device));
    FV_CUDA_CHECK(
        cudaMemsetAsync(blocks.back().raw_data(), 0xff, blocks.back().nbytes(), ctx.stream()));
  }
}

}  // namespace fastvideo::testing

// The Wan VAE decoder on the GPU against the same decoder on the CPU (the reference): weights
// moved to the device in f32 and in bf16, the chunked decode with its stream caches on the
// device, the video returned there in the weights' dtype. Needs every op of the decoder on CUDA
// (linear, conv3d_ndhwc, concat, rms_norm_ndhwc, rms_norm_silu_ndhwc, add_bias_residual_ndhwc,
// clamp, upsample_nearest2x_ndhwc, attention).
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <optional>

#include "models/wan/vae/video_frames.h"
#include "models/wan/vae/wan_vae_decoder.h"
#include "ops/elementwise.h"
#include "random_vae_weights.h"
#include "require_gpu.h"
#include "test_util.h"

namespace fastvideo {
namespace {

using testing::randn;
using testing::rel_l2;

const Device kGpu = Device::cuda(0);

WanVaeConfig small_config() {
  WanVaeConfig c;
  c.base_dim = 8;
  c.latents_mean.assign(16, 0.1f);
  c.latents_std.assign(16, 1.5f);
  return c;
}

Weights on_device(const Weights& cpu, DType dtype) {
  Weights w("vae");
  for (const auto& [name, t] : cpu.all()) w.insert(name, t.to(kGpu).to(dtype));
  return w;
}

// What the device decoder computes from: the CPU weights rounded to `dtype`.
Weights rounded(const Weights& cpu, DType dtype) {
  Weights w("vae");
  for (const auto& [name, t] : cpu.all()) w.insert(name, t.to(dtype).to(DType::F32));
  return w;
}

// `tiling`: both decoders tile (the GPU's blends and strided crops checked against the CPU's).
void expect_gpu_decode_matches_cpu(DType dtype, double bound,
                                   std::optional<VaeTiling> tiling = std::nullopt) {
  const WanVaeConfig config = small_config();
  const Weights cpu_weights = testing::random_vae_weights(config);
  const WanVaeDecoder cpu(config, rounded(cpu_weights, dtype));
  const WanVaeDecoder gpu(config, on_device(cpu_weights, dtype));
  const Tensor latents = randn({1, 16, 3, 4, 6});
  const Tensor want = cpu.decode(latents, tiling);
  const Tensor got = gpu.decode(latents.to(kGpu), tiling);
  EXPECT_EQ(got.device(), kGpu);
  EXPECT_EQ(got.dtype(), dtype);
  ASSERT_EQ(got.shape(), want.shape());
  const Tensor host = got.to(Device::cpu()).to(DType::F32);
  EXPECT_TRUE(ops::all_finite(host));
  EXPECT_LE(rel_l2(host, want), bound) << dtype_name(dtype);
  // The uint8 frames come from the device video directly.
  EXPECT_EQ(frames_from_decoder(got, 16.0).frames, int(want.size(2)));
}

TEST(CudaWanVae, F32DecodeOnTheGpuMatchesTheCpu) {
  REQUIRE_GPU();
  expect_gpu_decode_matches_cpu(DType::F32, 1e-4);
}

// bf16 activations through ~30 layers: a few bf16 roundings' worth of error.
TEST(CudaWanVae, Bf16DecodeOnTheGpuMatchesTheCpu) {
  REQUIRE_GPU();
  expect_gpu_decode_matches_cpu(DType::BF16, 3e-2);
}

// Tiles of 16×24 pixels every 8×16 on 4×6 latents: 4 rows, 3 columns, edge tiles cut short.
TEST(CudaWanVae, TiledDecodeOnTheGpuMatchesTheCpu) {
  REQUIRE_GPU();
  const VaeTiling tiling{
      .tile_height = 16, .tile_width = 24, .stride_height = 8, .stride_width = 16};
  expect_gpu_decode_matches_cpu(DType::F32, 1e-4, tiling);
  expect_gpu_decode_matches_cpu(DType::BF16, 3e-2, tiling);
}

}  // namespace
}  // namespace fastvideo

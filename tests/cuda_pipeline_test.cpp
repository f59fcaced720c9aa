// The models and the whole pipeline on a GPU against the CPU on the tiny checkpoint (DESIGN §3:
// the device runs the diffusers bf16 path, the CPU is the f32 reference): weights land on the
// device bit-exactly in their dtypes, each model's forward and a full generation agree within the
// bf16 bounds. Needs every op's CUDA kernel; skips only where no GPU exists.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <set>

#include "fastvideo/video_generator.h"
#include "io/checkpoint.h"
#include "io/cuda/device_weight_upload.h"
#include "models/umt5/umt5_encoder.h"
#include "models/wan/dit/wan_transformer.h"
#include "models/wan/vae/wan_vae_decoder.h"
#include "models/wan/vae/wan_vae_specs.h"
#include "models/wan/wan_geometry.h"
#include "quality/video_metrics.h"
#include "require_gpu.h"
#include "test_util.h"
#include "tiny_model_fixture.h"
#include "tokenizer/t5_tokenizer.h"

namespace fastvideo {
namespace {

const Device kGpu = Device::cuda(0);

Tensor host_f32(const Tensor& t) { return t.to(Device::cpu()).to(DType::F32).contiguous(); }

bool same_bytes(const Tensor& a, const Tensor& b) {
  const Tensor x = a.to(Device::cpu()).contiguous(), y = b.to(Device::cpu()).contiguous();
  return x.dtype() == y.dtype() && x.shape() == y.shape() &&
         std::memcmp(x.raw_data(), y.raw_data(), x.nbytes()) == 0;
}

CheckpointFolder tiny() { return CheckpointFolder::open(testing::tiny_model_dir()); }

TEST(CudaWeights, UploadInSmallChunksEqualsTheHostConversionBitForBit) {
  REQUIRE_GPU();
  // 4 KiB staging buffers: an odd-sized tensor crosses many chunk boundaries and both buffers.
  DeviceWeightUploader uploader(kGpu, 4096);
  Tensor source = testing::randn({7, 14297});
  for (DType from : {DType::F32, DType::BF16}) {
    const Tensor src = source.to(from);
    for (DType to : {DType::F32, DType::BF16, DType::F16}) {
      Tensor on_gpu = uploader.upload(src, to, "source");
      EXPECT_EQ(on_gpu.device(), kGpu);
      EXPECT_TRUE(same_bytes(on_gpu, src.to(to))) << dtype_name(from) << " -> " << dtype_name(to);
    }
  }
  // A NaN past the first chunks is named with its element (a damaged checkpoint's weight).
  Tensor damaged = source.clone();
  damaged.data<float>()[50000] = std::nanf("");
  EXPECT_TRUE(
      testing::contains(testing::error_of([&] { uploader.upload(damaged, DType::BF16, "w.x"); }),
                        "w.x holds NaN or Inf (element 50000 of 100079)"));
}

TEST(CudaWeights, TransformerLoadsBf16OnTheGpuWithTheFp32KeepList) {
  REQUIRE_GPU();
  const CheckpointFolder c = tiny();
  const auto config = WanTransformerConfig::from_json(c.config("transformer"));
  const auto specs = wan_transformer_specs(config);
  const std::set<std::string> keep = wan_transformer_fp32_names(config);
  const Weights cpu = load_component(c.path("transformer"), specs);
  const Weights gpu = load_component(c.path("transformer"), specs, DType::BF16, kGpu, &keep);
  ASSERT_EQ(gpu.all().size(), cpu.all().size());
  for (const auto& [name, t] : gpu.all()) {
    const DType expected = keep.count(name) ? DType::F32 : DType::BF16;
    EXPECT_EQ(t.device(), kGpu) << name;
    EXPECT_EQ(t.dtype(), expected) << name;
    EXPECT_TRUE(same_bytes(t, cpu.get(name).to(expected))) << name;
  }
}

TEST(CudaModels, TransformerForwardMatchesTheCpu) {
  REQUIRE_GPU();
  const CheckpointFolder c = tiny();
  const auto config = WanTransformerConfig::from_json(c.config("transformer"));
  const auto specs = wan_transformer_specs(config);
  const std::set<std::string> keep = wan_transformer_fp32_names(config);
  WanTransformer cpu(config, load_component(c.path("transformer"), specs));
  WanTransformer gpu(config,
                     load_component(c.path("transformer"), specs, DType::BF16, kGpu, &keep));
  EXPECT_EQ(gpu.activation_dtype(), DType::BF16);
  for (int64_t batch : {1, 2}) {  // 2: the CFG batch layout of the modulation
    Tensor latents = testing::randn({batch, 16, 3, 8, 12});
    Tensor context = testing::randn({batch, 512, config.text_dim}, 0.3f);
    const std::vector<double> t =
        batch == 1 ? std::vector<double>{999.0} : std::vector{999.0, 457.0};
    Tensor ref = cpu.forward(latents, t, cpu.prepare_text(context));
    Tensor out = gpu.forward(latents.to(kGpu), t, gpu.prepare_text(context.to(kGpu)));
    EXPECT_EQ(out.device(), kGpu);
    EXPECT_EQ(out.dtype(), DType::BF16);
    EXPECT_LE(testing::rel_l2(host_f32(out), ref), 3e-2) << "batch " << batch;
  }
}

TEST(CudaModels, TextEncoderMatchesTheCpuInBf16AndFp32) {
  REQUIRE_GPU();
  const CheckpointFolder c = tiny();
  const auto config = Umt5Config::from_json(c.config("text_encoder"));
  const auto specs = umt5_encoder_specs(config);
  const auto ids = T5Tokenizer::load(c.path("tokenizer"))
                       .encode("A red fox runs through fresh snow at dawn, filmed in slow motion.",
                               WanGeometry::kTextLength);
  Umt5Encoder cpu(config, load_component(c.path("text_encoder"), specs));
  const Tensor ref = cpu.encode_padded(ids, WanGeometry::kTextLength);
  for (DType dtype : {DType::BF16, DType::F32}) {
    Umt5Encoder gpu(config, load_component(c.path("text_encoder"), specs, dtype, kGpu));
    const Tensor out = gpu.encode_padded(ids, WanGeometry::kTextLength);
    EXPECT_EQ(out.device(), kGpu);
    EXPECT_EQ(out.dtype(), dtype);
    EXPECT_LE(testing::rel_l2(host_f32(out), ref), 3e-2) << dtype_name(dtype);
  }
}

TEST(CudaModels, VaeDecodeMatchesTheCpu) {
  REQUIRE_GPU();
  const CheckpointFolder c = tiny();
  const auto config = WanVaeConfig::from_json(c.config("vae"));
  const auto specs = wan_vae_specs(config);
  WanVaeDecoder cpu(config, load_component(c.path("vae"), specs));
  WanVaeDecoder gpu(config, load_component(c.path("vae"), specs, DType::BF16, kGpu));
  Tensor latents = testing::randn({1, 16, 2, 8, 8});
  Tensor ref = cpu.decode(latents);
  Tensor out = gpu.decode(latents.to(kGpu).to(DType::BF16));
  EXPECT_EQ(out.device(), kGpu);
  EXPECT_LE(testing::rel_l2(host_f32(out), ref), 3e-2);
}

GenerationRequest fox() {
  GenerationRequest r;
  r.prompt = "A red fox runs through fresh snow at dawn.";
  r.seed = 7;
  return r;
}

TEST(CudaPipeline, GenerationMatchesTheCpuRun) {
  REQUIRE_GPU();
  ::unsetenv("FASTVIDEO_CFG_GATE_STEP");
  GeneratorOptions on_gpu, on_cpu;
  on_gpu.device = "cuda";
  on_cpu.device = "cpu";
  GenerationResult ref =
      VideoGenerator::from_pretrained(testing::tiny_model_dir(), on_cpu).generate(fox());
  GenerationResult out =
      VideoGenerator::from_pretrained(testing::tiny_model_dir(), on_gpu).generate(fox());

  ASSERT_EQ(out.latent_shape, ref.latent_shape);
  const Tensor lat = testing::final_latents(out);
  const Tensor lat_ref = testing::final_latents(ref);
  EXPECT_LE(testing::rel_l2(lat, lat_ref), 3e-2);

  ASSERT_EQ(out.rgb.size(), ref.rgb.size());
  const Video a{out.frames, out.height, out.width, out.fps, out.rgb};
  const Video b{ref.frames, ref.height, ref.width, ref.fps, ref.rgb};
  EXPECT_TRUE(testing::psnr_at_least(compare_videos(a, b), 35.0, 30.0));
  EXPECT_EQ(out.transformer_forwards, ref.transformer_forwards);

  bool saw_backend = false;
  for (auto& [k, v] : out.parameters) {
    if (k == "backend") saw_backend = (v == "cuda:0");
  }
  EXPECT_TRUE(saw_backend) << "the result does not say it ran on cuda:0";
  for (const StageReport& s : out.stages) {
    if (s.name == "denoise" || s.name == "decode") EXPECT_GT(s.peak_device_bytes, 0) << s.name;
  }
  for (const StageReport& s : ref.stages) EXPECT_EQ(s.peak_device_bytes, 0) << s.name;
}

// Issue 4's quality gate for our own attention kernel: the same tiny generation with FLASH_ATTN
// and with TORCH_SDPA (cuDNN) for self-attention gives the same video at MS-SSIM >= 0.99, and no
// frame below DESIGN §3's same-backend 0.98. 176x176: MS-SSIM needs frames over 160 px on the
// short side.
TEST(CudaPipeline, FlashAttnGenerationMatchesTorchSdpaAtMsSsim099) {
  REQUIRE_GPU();
  ::unsetenv("FASTVIDEO_CFG_GATE_STEP");
  ::unsetenv("FASTVIDEO_ATTENTION_BACKEND");
  GenerationRequest request = fox();
  request.height = 176;
  request.width = 176;
  auto generate = [&](const char* backend) {
    GeneratorOptions options;
    options.device = "cuda";
    options.attention_backend = backend;
    return VideoGenerator::from_pretrained(testing::tiny_model_dir(), options).generate(request);
  };
  const GenerationResult sdpa = generate("TORCH_SDPA");
  const GenerationResult flash = generate("FLASH_ATTN");
  const auto self =
      std::find_if(flash.parameters.begin(), flash.parameters.end(),
                   [](const auto& kv) { return kv.first == "attention_backend_self"; });
  ASSERT_NE(self, flash.parameters.end()) << "the result does not name its self-attention backend";
  EXPECT_EQ(self->second, "FLASH_ATTN");
  const VideoComparison cmp =
      compare_videos({flash.frames, flash.height, flash.width, flash.fps, flash.rgb},
                     {sdpa.frames, sdpa.height, sdpa.width, sdpa.fps, sdpa.rgb});
  ASSERT_TRUE(cmp.ms_ssim_skipped.empty()) << cmp.ms_ssim_skipped;
  std::printf(
      "FLASH_ATTN vs TORCH_SDPA, tiny 176x176x%d: MS-SSIM %.5f (worst %.5f, frame %d), PSNR %.2f "
      "dB (worst %.2f dB, frame %d)\n",
      flash.frames, cmp.mean_ms_ssim, cmp.worst_ms_ssim.value, cmp.worst_ms_ssim.frame,
      cmp.mean_psnr, cmp.worst_psnr.value, cmp.worst_psnr.frame);
  EXPECT_GE(cmp.mean_ms_ssim, 0.99);
  EXPECT_GE(cmp.worst_ms_ssim.value, 0.98) << "frame " << cmp.worst_ms_ssim.frame;
}

// use_fsdp_inference on one GPU (issue 15): a group of one NCCL rank whose one piece is every
// block; each block is gathered through NCCL before it runs. The same video as the whole-weights
// run, byte for byte (the same kernels on the same weights), and the output says it was sharded.
TEST(CudaPipeline, ShardedWeightsOnOneGpuGiveTheSameVideo) {
  REQUIRE_GPU();
  ::unsetenv("FASTVIDEO_CFG_GATE_STEP");
  ::unsetenv("FASTVIDEO_ATTENTION_BACKEND");
  GenerationRequest request = fox();
  auto generate = [&](bool sharded) {
    GeneratorOptions options;
    options.device = "cuda";
    options.use_fsdp_inference = sharded;
    return VideoGenerator::from_pretrained(testing::tiny_model_dir(), options).generate(request);
  };
  const GenerationResult whole = generate(false);
  const GenerationResult sharded = generate(true);
  EXPECT_TRUE(std::count(sharded.parameters.begin(), sharded.parameters.end(),
                         std::pair<std::string, std::string>("use_fsdp_inference", "true")));
  ASSERT_EQ(sharded.rgb.size(), whole.rgb.size());
  EXPECT_TRUE(sharded.rgb == whole.rgb) << "the sharded run's frames differ";
}

}  // namespace
}  // namespace fastvideo

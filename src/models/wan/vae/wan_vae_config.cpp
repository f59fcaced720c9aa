#include "models/wan/vae/wan_vae_config.h"

#include <string>

namespace fastvideo {

namespace {

// Upper bounds far above Wan2.1's VAE (base_dim 96, z_dim 16, dim_mult [1,2,4,4], 2 res blocks):
// beyond them a config is corrupt.
constexpr int kMaxBaseDim = 4096;
constexpr int kMaxZDim = 1024;
constexpr int kMaxMult = 64;
constexpr size_t kMaxLevels = 8;
constexpr int kMaxResBlocks = 64;

}  // namespace

WanVaeConfig WanVaeConfig::from_json(const JsonFile& json) {
  const std::string& file = json.origin();
  WanVaeConfig c;
  c.base_dim = json.get_in<int>("base_dim", 1, kMaxBaseDim);
  c.z_dim = json.get_in<int>("z_dim", 1, kMaxZDim);
  c.dim_mult = json.get_in<std::vector<int>>("dim_mult", 1, kMaxMult);
  c.num_res_blocks = json.get_in<int>("num_res_blocks", 1, kMaxResBlocks);
  c.temperal_downsample = json.get<std::vector<bool>>("temperal_downsample");
  c.attn_scales = json.get_or<std::vector<float>>("attn_scales", {});
  c.latents_mean = json.get<std::vector<float>>("latents_mean");
  c.latents_std = json.get<std::vector<float>>("latents_std");

  FV_CHECK(!c.dim_mult.empty() && c.dim_mult.size() <= kMaxLevels, file, ": key 'dim_mult' has ",
           c.dim_mult.size(), " entries, expected 1 to ", kMaxLevels);
  FV_CHECK(c.temperal_downsample.size() + 1 == c.dim_mult.size(), file,
           ": key 'temperal_downsample' has ", c.temperal_downsample.size(),
           " entries, expected one less than 'dim_mult' (", c.dim_mult.size(), ")");
  // §2.3: an upsampler's Conv2d outputs C/2 channels, so every upsampled width must be even.
  const std::vector<int> dims = c.decoder_dims();
  for (int i = 0; i + 1 < c.num_levels(); ++i)
    FV_CHECK(dims[i + 1] % 2 == 0, file, ": base_dim ", c.base_dim, " with dim_mult ",
             json.quote("dim_mult"), " gives an odd upsampler width ", dims[i + 1]);
  FV_CHECK(c.attn_scales.empty(), file, ": key 'attn_scales' has value ", json.quote("attn_scales"),
           ", but only [] (Wan2.1: no attention outside the mid blocks) is supported");
  FV_CHECK(!json.get_or<bool>("is_residual", false), file,
           ": key 'is_residual' is true (the Wan2.2 VAE), only the Wan2.1 VAE is supported");
  for (const char* key : {"in_channels", "out_channels"}) {
    const int v = json.get_or<int>(key, 3);
    FV_CHECK(v == 3, file, ": key '", key, "' has value ", v, ", expected 3 (RGB)");
  }
  FV_CHECK(!json.has("patch_size"), file, ": key 'patch_size' has value ", json.quote("patch_size"),
           ", expected null (Wan2.1)");
  FV_CHECK(int(c.latents_mean.size()) == c.z_dim, file, ": key 'latents_mean' has ",
           c.latents_mean.size(), " values, expected z_dim = ", c.z_dim);
  FV_CHECK(int(c.latents_std.size()) == c.z_dim, file, ": key 'latents_std' has ",
           c.latents_std.size(), " values, expected z_dim = ", c.z_dim);
  // §2.1: decoding scales latent channel i by latents_std[i] (encoding divides by it); a zero
  // scale erases what the prompt and the seed put there, and a standard deviation is never
  // negative. JsonFile already refuses non-finite values, in latents_mean too.
  for (size_t i = 0; i < c.latents_std.size(); ++i) {
    FV_CHECK(c.latents_std[i] > 0, file, ": key 'latents_std[", i, "]' has value ",
             c.latents_std[i], ", expected a positive scale");
  }
  return c;
}

WanVaeConfig WanVaeConfig::from_checkpoint(const CheckpointFolder& checkpoint) {
  const WanVaeConfig c = from_json(checkpoint.config("vae"));
  // §2.3: one up block per level, each with num_res_blocks + 1 residual blocks.
  checkpoint.require_block_count("vae", "dim_mult", c.num_levels(), "decoder.up_blocks.");
  checkpoint.require_block_count("vae", "num_res_blocks", c.num_res_blocks + 1,
                                 "decoder.up_blocks.0.resnets.");
  return c;
}

std::vector<int> WanVaeConfig::decoder_dims() const {
  std::vector<int> dims{base_dim * dim_mult.back()};
  for (auto it = dim_mult.rbegin(); it != dim_mult.rend(); ++it) dims.push_back(base_dim * *it);
  return dims;
}

int WanVaeConfig::up_block_in_dim(int i) const {
  const std::vector<int> dims = decoder_dims();
  return i == 0 ? dims[0] : dims[i] / 2;
}

std::vector<bool> WanVaeConfig::temporal_upsample() const {
  return {temperal_downsample.rbegin(), temperal_downsample.rend()};
}

int WanVaeConfig::temporal_stride() const {
  int stride = 1;
  for (bool t : temperal_downsample) stride *= t ? 2 : 1;
  return stride;
}

int WanVaeConfig::spatial_stride() const { return 1 << (num_levels() - 1); }

std::vector<int> WanVaeConfig::encoder_dims() const {
  std::vector<int> dims{base_dim};
  for (int m : dim_mult) dims.push_back(base_dim * m);
  return dims;
}

}  // namespace fastvideo

#include "models/wan/vae/wan_vae_specs.h"

#include <string>

namespace fastvideo {

namespace {

// Appends the tensors of the VAE's building blocks (wan21.md §2.2) under a key prefix.
class SpecTable {
 public:
  SpecTable(std::vector<TensorSpec>& specs, bool used) : specs_(specs), used_(used) {}

  void add(const std::string& name, Shape shape) {
    specs_.push_back({name, std::move(shape), used_});
  }

  void conv3d(const std::string& p, int64_t out, int64_t in, int64_t kt, int64_t kh, int64_t kw) {
    add(p + ".weight", {out, in, kt, kh, kw});
    add(p + ".bias", {out});
  }
  void conv2d(const std::string& p, int64_t out, int64_t in, int64_t k) {
    add(p + ".weight", {out, in, k, k});
    add(p + ".bias", {out});
  }
  void residual(const std::string& p, int64_t in, int64_t out) {
    add(p + ".norm1.gamma", {in, 1, 1, 1});
    conv3d(p + ".conv1", out, in, 3, 3, 3);
    add(p + ".norm2.gamma", {out, 1, 1, 1});
    conv3d(p + ".conv2", out, out, 3, 3, 3);
    if (in != out) conv3d(p + ".conv_shortcut", out, in, 1, 1, 1);
  }
  void attention(const std::string& p, int64_t c) {
    add(p + ".norm.gamma", {c, 1, 1});
    conv2d(p + ".to_qkv", 3 * c, c, 1);
    conv2d(p + ".proj", c, c, 1);
  }
  void mid_block(const std::string& p, int64_t c) {
    residual(p + ".resnets.0", c, c);
    attention(p + ".attentions.0", c);
    residual(p + ".resnets.1", c, c);
  }

 private:
  std::vector<TensorSpec>& specs_;
  bool used_;
};

void add_decoder(SpecTable& t, const WanVaeConfig& c) {
  const std::vector<int> dims = c.decoder_dims();
  const std::vector<bool> temporal = c.temporal_upsample();
  t.conv3d("post_quant_conv", c.z_dim, c.z_dim, 1, 1, 1);
  t.conv3d("decoder.conv_in", dims[0], c.z_dim, 3, 3, 3);
  t.mid_block("decoder.mid_block", dims[0]);
  for (int i = 0; i < c.num_levels(); ++i) {
    const std::string p = "decoder.up_blocks." + std::to_string(i);
    int in = c.up_block_in_dim(i);
    const int out = dims[i + 1];
    for (int r = 0; r <= c.num_res_blocks; ++r, in = out)
      t.residual(p + ".resnets." + std::to_string(r), in, out);
    if (i + 1 == c.num_levels()) continue;
    if (temporal[i]) t.conv3d(p + ".upsamplers.0.time_conv", 2 * out, out, 3, 1, 1);
    t.conv2d(p + ".upsamplers.0.resample.1", out / 2, out, 3);
  }
  t.add("decoder.norm_out.gamma", {dims.back(), 1, 1, 1});
  t.conv3d("decoder.conv_out", 3, dims.back(), 3, 3, 3);
}

// §2.5: a flat list of residual blocks and downsamplers.
void add_encoder(SpecTable& t, const WanVaeConfig& c) {
  const std::vector<int> dims = c.encoder_dims();
  t.conv3d("encoder.conv_in", dims[0], 3, 3, 3, 3);
  int index = 0;
  for (int i = 0; i < c.num_levels(); ++i) {
    int in = dims[i];
    const int out = dims[i + 1];
    for (int r = 0; r < c.num_res_blocks; ++r, in = out)
      t.residual("encoder.down_blocks." + std::to_string(index++), in, out);
    if (i + 1 == c.num_levels()) continue;
    const std::string p = "encoder.down_blocks." + std::to_string(index++);
    t.conv2d(p + ".resample.1", out, out, 3);
    if (c.temperal_downsample[i]) t.conv3d(p + ".time_conv", out, out, 3, 1, 1);
  }
  t.mid_block("encoder.mid_block", dims.back());
  t.add("encoder.norm_out.gamma", {dims.back(), 1, 1, 1});
  t.conv3d("encoder.conv_out", 2 * c.z_dim, dims.back(), 3, 3, 3);
  t.conv3d("quant_conv", 2 * c.z_dim, 2 * c.z_dim, 1, 1, 1);
}

}  // namespace

std::vector<TensorSpec> wan_vae_specs(const WanVaeConfig& config) {
  std::vector<TensorSpec> specs;
  SpecTable decoder(specs, /*used=*/true);
  add_decoder(decoder, config);
  SpecTable encoder(specs, /*used=*/false);
  add_encoder(encoder, config);
  return specs;
}

}  // namespace fastvideo

// The sizes the Wan2.1 models exchange (wan21.md §2.3, §3.3, §4.1), owned here and nowhere else:
// the VAE's latents have z_dim channels (16), 1 + (F − 1)/4 frames and H/8 × W/8 pixels (strides
// from the VAE config); the DiT cuts them into 1×2×2 patches (its config) and reads 512 text rows.
// The pipeline, the benchmarks and the tests ask this class instead of repeating the numbers.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "core/tensor.h"
#include "models/wan/dit/wan_transformer_config.h"
#include "models/wan/vae/wan_vae_config.h"

namespace fastvideo {

class WanGeometry {
 public:
  // wan21.md §3.3: UMT5's embeddings of the real tokens, zero-padded to 512 rows for the DiT.
  static constexpr int kTextLength = 512;

  // Throws naming both configs when the DiT does not take the VAE's latents (in_channels and
  // out_channels must equal z_dim).
  WanGeometry(const WanVaeConfig& vae, const WanTransformerConfig& dit);
  // Heights and widths must be multiples of this: the spatial stride times the DiT's patch (16).
  int pixel_multiple() const;

  // Why a video of this size cannot be generated ("num_frames=10 must be 4n+1 (try 9 or 13)",
  // or more patches along an axis than the DiT has RoPE positions), empty when it can.
  std::string invalid_size(int64_t num_frames, int64_t height, int64_t width) const;

  int64_t latent_frames(int64_t num_frames) const;
  // [1, z_dim, latent_frames, height/8, width/8] for a video of this size.
  Shape latent_shape(int64_t num_frames, int64_t height, int64_t width) const;
  // The DiT's token grid (T, H, W after patching) for latents [B, C, T, H, W].
  std::array<int64_t, 3> token_grid(const Shape& latent_shape) const;
  // Tokens of one DiT forward for a video of this size.
  int64_t tokens(int64_t num_frames, int64_t height, int64_t width) const;

 private:
  int channels_, temporal_stride_, spatial_stride_;
  std::array<int, 3> patch_;  // (t, h, w)
  int max_positions_;         // RoPE positions per axis (rope_max_seq_len)
};

}  // namespace fastvideo

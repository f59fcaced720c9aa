#include "models/wan/wan_geometry.h"

#include <algorithm>

#include "fastvideo/error.h"

namespace fastvideo {

namespace {

// "lo or hi": the values first + k·m (k >= 0) either side of `value`, none above `max` (itself
// one of them: a larger size would be refused next; QA audit: 4095 frames suggested 4097); `first`
// alone below it.
std::string nearest_on_grid(int64_t value, int64_t first, int64_t m, int64_t max) {
  if (value <= first) return str_cat(first);
  const int64_t lo = std::min((value - first) / m * m + first, max);
  return lo + m <= max ? str_cat(lo, " or ", lo + m) : str_cat(lo);
}

}  // namespace

WanGeometry::WanGeometry(const WanVaeConfig& vae, const WanTransformerConfig& dit)
    : channels_(vae.z_dim),
      temporal_stride_(vae.temporal_stride()),
      spatial_stride_(vae.spatial_stride()),
      patch_(dit.patch_size),
      max_positions_(dit.rope_max_seq_len) {
  FV_CHECK(dit.in_channels == vae.z_dim && dit.out_channels == vae.z_dim,
           "transformer/config.json has in_channels ", dit.in_channels, " and out_channels ",
           dit.out_channels, ", but vae/config.json has z_dim ", vae.z_dim,
           ": the transformer must take and give the VAE's latents");
}

int WanGeometry::pixel_multiple() const { return spatial_stride_ * std::max(patch_[1], patch_[2]); }

std::string WanGeometry::invalid_size(int64_t num_frames, int64_t height, int64_t width) const {
  const int64_t m = pixel_multiple();
  // wan21.md §1.4: RoPE has rope_max_seq_len positions along each axis of the token grid.
  const int64_t max_height = int64_t(max_positions_) * spatial_stride_ * patch_[1];
  const int64_t max_width = int64_t(max_positions_) * spatial_stride_ * patch_[2];
  const int64_t max_frames =
      int64_t(max_positions_) * patch_[0] * temporal_stride_ - temporal_stride_ + 1;
  if (height <= 0 || height % m != 0)
    return str_cat("height=", height, " must be a positive multiple of ", m, " (try ",
                   nearest_on_grid(height, m, m, max_height), ")");
  if (width <= 0 || width % m != 0)
    return str_cat("width=", width, " must be a positive multiple of ", m, " (try ",
                   nearest_on_grid(width, m, m, max_width), ")");
  if (num_frames < 1 || (num_frames - 1) % temporal_stride_ != 0 ||
      latent_frames(num_frames) % patch_[0] != 0)
    return str_cat("num_frames=", num_frames, " must be ", temporal_stride_,
                   "n+1 with n >= 0 (try ",
                   nearest_on_grid(num_frames, 1, temporal_stride_, max_frames), ")");
  if (height > max_height)
    return str_cat("height=", height, " is more than the transformer's ", max_positions_,
                   " positions per axis allow (at most ", max_height, ")");
  if (width > max_width)
    return str_cat("width=", width, " is more than the transformer's ", max_positions_,
                   " positions per axis allow (at most ", max_width, ")");
  if (num_frames > max_frames)
    return str_cat("num_frames=", num_frames, " is more than the transformer's ", max_positions_,
                   " positions per axis allow (at most ", max_frames, ")");
  return {};
}

int64_t WanGeometry::latent_frames(int64_t num_frames) const {
  return (num_frames - 1) / temporal_stride_ + 1;
}

Shape WanGeometry::latent_shape(int64_t num_frames, int64_t height, int64_t width) const {
  return {1, channels_, latent_frames(num_frames), height / spatial_stride_,
          width / spatial_stride_};
}

std::array<int64_t, 3> WanGeometry::token_grid(const Shape& latent_shape) const {
  FV_CHECK(latent_shape.size() == 5, "latents ", shape_str(latent_shape),
           " are not [B, C, T, H, W]");
  return {latent_shape[2] / patch_[0], latent_shape[3] / patch_[1], latent_shape[4] / patch_[2]};
}

int64_t WanGeometry::tokens(int64_t num_frames, int64_t height, int64_t width) const {
  const auto grid = token_grid(latent_shape(num_frames, height, width));
  return grid[0] * grid[1] * grid[2];
}

}  // namespace fastvideo

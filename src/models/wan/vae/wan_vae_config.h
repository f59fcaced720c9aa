// vae/config.json of AutoencoderKLWan (wan21.md §2.1), validated, plus the channel schedule the
// tensor table and the decoder both derive from it (§2.3).
#pragma once

#include <vector>

#include "io/checkpoint.h"
#include "io/json_file.h"

namespace fastvideo {

struct WanVaeConfig {
  int base_dim = 96;
  int z_dim = 16;
  std::vector<int> dim_mult{1, 2, 4, 4};
  int num_res_blocks = 2;
  std::vector<bool> temperal_downsample{false, true, true};  // (sic), as in the checkpoint
  std::vector<float> attn_scales;                            // must be empty (Wan2.1)
  std::vector<float> latents_mean;                           // z_dim values
  std::vector<float> latents_std;                            // z_dim values

  // Throws naming the file, the key and the offending value (sizes beyond sane bounds included).
  static WanVaeConfig from_json(const JsonFile& json);
  // from_json on the checkpoint's vae/config.json, with the levels (dim_mult) and num_res_blocks
  // checked against the decoder blocks its weights hold (safetensors headers only), before
  // anything is allocated.
  static WanVaeConfig from_checkpoint(const CheckpointFolder& checkpoint);

  int num_levels() const { return int(dim_mult.size()); }
  // Decoder channel schedule [base·mult.back(), base·mult reversed...]: [384,384,384,192,96]
  // for base 96. Up block i maps in_dim(i) -> dims[i+1].
  std::vector<int> decoder_dims() const;
  // Up block i's input: dims[0] for i = 0, else dims[i]/2, because the previous upsampler's
  // Conv2d halves the channels (§2.3).
  int up_block_in_dim(int i) const;
  // Decoder temporal upsampling per up block: temperal_downsample reversed ([true,true,false]).
  std::vector<bool> temporal_upsample() const;
  // Encoder channel schedule [base, base·mult...] (§2.5).
  std::vector<int> encoder_dims() const;
  // Frames per latent frame after the first: 2^(temporal downsamplers), 4 for Wan2.1 (§2.3).
  int temporal_stride() const;
  // Pixels per latent pixel along each side: 2^(levels − 1), 8 for Wan2.1.
  int spatial_stride() const;
};

}  // namespace fastvideo

// One rank's band of rows in a VAE decode split along the height across a group (issue 15).
//
// The latent rows are cut into equal contiguous bands, one per rank in rank order, padded at the
// bottom so that every band has the same height (NCCL's all_gather needs equal chunks); rows past
// the image end are padding. A band keeps its place through the decoder: after k spatial ×2
// upsamplers it is 2^k times as tall, at 2^k times the offset. What mixes rows is the 3×3 convs
// (one row each side) and the mid attention (every pixel of the frame); everything else is per
// pixel and stays local, the causal convs' cached frames included.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "parallel/communicator.h"

namespace fastvideo {

class RowBand {
 public:
  // Rank comm.rank() of comm.size() over an image `latent_rows` latent rows tall (at least 1).
  // Any count of ranks: a rank whose band lies wholly past the image end decodes only padding.
  RowBand(Communicator& comm, int64_t latent_rows);

  int64_t latent_rows_per_rank() const { return rows_per_rank_; }

  // whole [B, C, T, latent_rows, W] -> this rank's band [B, C, T, rows per rank, W], the rows past
  // the image end zeros.
  Tensor band_of(const Tensor& whole) const;

  // x [B, C, T, rows, W], this rank's band at some resolution (rows a multiple of the rows per
  // rank) -> [B, C, T, rows + 2·halo, W]: x with its rows past the image end zeroed, between the
  // `halo` rows above it and below it as the unsplit image has them (zeros beyond the image: the
  // padding of a "same" conv). A conv with height padding `halo` on the whole image equals the
  // conv without height padding on this, band by band. One all_gather of every band's edges.
  // `h`: the height dim (3 channels-first; 2 for the decoder's channels-last [B, T, H, W, C]).
  Tensor with_halo(const Tensor& x, int64_t halo, int h = 3) const;

  // x, this rank's band (its rows along dim h) -> the whole image (padding cropped), on every
  // rank. One all_gather.
  Tensor gather(const Tensor& x, int h = 3) const;

 private:
  // The image's height at x's resolution (x this rank's band).
  int64_t image_rows(const Tensor& x, int h) const;
  // x with its rows past the image end zeroed (x itself when it has none).
  Tensor zero_padding(const Tensor& x, int h) const;

  Communicator* comm_;
  int64_t latent_rows_, rows_per_rank_;
};

}  // namespace fastvideo

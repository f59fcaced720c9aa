// WanCausalConv3d (wan21.md §2.2): "same" zero padding in H and W, 2·pt zero frames in front
// of the time axis and none behind, so output frame t sees input frames t−2·pt … t only.
// Run chunk by chunk, the conv keeps the tail of its input stream in a cache (§2.4, CACHE_T = 2)
// and the result is exactly the causal conv over the whole stream.
// On a band of rows of a decode split across ranks (row_band.h), the neighbours' rows stand in for
// the height padding; the cached frames stay with the band, halo rows included.
// Channels-last (ops/channels_last.h): inputs and outputs are [B, T, H, W, C].
#pragma once

#include <cstdint>
#include <string>

#include "core/tensor.h"
#include "io/weights.h"
#include "models/wan/vae/row_band.h"

namespace fastvideo {

// The last ≤ 2·pt input frames this conv has seen in the current stream, written into the last
// slots of one buffer that is made anew only when it is too short or the frame shape changes: once
// it holds 2·pt frames it stays, so a captured CUDA graph reads and writes the cache where the
// capture did (the VAE's compile mode). `valid` says how many of its last frames hold history (0
// at a stream's start).
struct CausalConv3dCache {
  Tensor frames;
  int64_t valid = 0;

  void restart() { valid = 0; }  // a new stream; the buffer stays
};

class CausalConv3d {
 public:
  // Reads <prefix>.weight [O, C, kt, kh, kw] (kept channels-last) and <prefix>.bias [O].
  // (pad_t, pad_h, pad_w) is the module's nominal padding; kt must be 2·pad_t + 1 so each input
  // frame gives one output frame.
  CausalConv3d(const Weights& weights, const std::string& prefix, int64_t pad_t, int64_t pad_h,
               int64_t pad_w);

  // x [B, T, H, W, C] is the whole stream: 2·pt zero frames in front.
  Tensor forward(const Tensor& x) const;
  // x is the next chunk of a stream: the cached tail stands in front (zero frames cover what the
  // stream does not have yet), then the cache keeps the new tail. With `band`, x is this rank's
  // band of rows (a collective: every rank of the band's group calls it); null: whole frames.
  // Without the bias where the caller adds bias() in its next op instead of a pass of its own.
  enum class Bias { Add, Leave };
  Tensor forward(const Tensor& x, CausalConv3dCache& cache, const RowBand* band = nullptr,
                 Bias with = Bias::Add) const;
  const Tensor& bias() const { return bias_; }

 private:
  std::string name_;
  Tensor weight_, bias_;
  int64_t context_;  // 2·pt frames of history
  int64_t pad_h_, pad_w_;
};

}  // namespace fastvideo

#include "models/wan/dit/wan_rope.h"

#include <cmath>
#include <vector>

namespace fastvideo {

WanRopeSplit wan_rope_split(int head_dim) {
  FV_CHECK(head_dim % 2 == 0 && head_dim >= 6, "Wan RoPE: head dim ", head_dim,
           " cannot be split into time/height/width pairs (needs an even value >= 6)");
  // diffusers WanRotaryPosEmbed: h_dim = w_dim = 2·(head_dim // 6), t_dim = the rest.
  const int hw = 2 * (head_dim / 6);
  return {head_dim - 2 * hw, hw, hw};
}

WanRopeTables wan_rope_tables(std::array<int64_t, 3> grid, int head_dim, int max_seq_len,
                              Device device) {
  const WanRopeSplit split = wan_rope_split(head_dim);
  for (int a = 0; a < 3; ++a) {
    FV_CHECK(grid[a] > 0 && grid[a] <= max_seq_len, "Wan RoPE: token grid [", grid[0], ",", grid[1],
             ",", grid[2], "] axis ", a, " is outside 1..rope_max_seq_len (", max_seq_len, ")");
  }
  // Per pair: which axis it follows and its frequency 1/10000^(2j/d_a) (float64, as diffusers'
  // get_1d_rotary_pos_embed with freqs_dtype float64).
  const int pairs = head_dim / 2;
  std::vector<int> axis(pairs);
  std::vector<double> omega(pairs);
  const int dims[3] = {split.t, split.h, split.w};
  for (int a = 0, p = 0; a < 3; ++a) {
    for (int j = 0; j < dims[a] / 2; ++j, ++p) {
      axis[p] = a;
      omega[p] = 1.0 / std::pow(10000.0, double(2 * j) / double(dims[a]));
    }
  }
  const int64_t T = grid[0], H = grid[1], W = grid[2], S = T * H * W;
  WanRopeTables tables{Tensor::empty({S, pairs}, DType::F32),
                       Tensor::empty({S, pairs}, DType::F32)};
  float* pc = tables.cos.data<float>();
  float* ps = tables.sin.data<float>();
  for (int64_t s = 0; s < S; ++s) {
    const int64_t position[3] = {s / (H * W), (s / W) % H, s % W};
    for (int p = 0; p < pairs; ++p) {
      const double angle = double(position[axis[p]]) * omega[p];
      pc[s * pairs + p] = float(std::cos(angle));
      ps[s * pairs + p] = float(std::sin(angle));
    }
  }
  if (!device.is_cpu()) return {tables.cos.to(device), tables.sin.to(device)};
  return tables;
}

}  // namespace fastvideo

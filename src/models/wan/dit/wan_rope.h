// Wan's 3-D rotary position tables (wan21.md §1.4): the head dim is split into time, height and
// width ranges, each rotated by its own axis position.
#pragma once

#include <array>
#include <cstdint>

#include "core/tensor.h"

namespace fastvideo {

// Head-dim ranges in dims (each a whole number of pairs): for 128, t 44, h 42, w 42.
struct WanRopeSplit {
  int t, h, w;
};
WanRopeSplit wan_rope_split(int head_dim);

// cos/sin [T'·H'·W', head_dim/2] f32 for the token grid (T', H', W') in token order
// f·(H'·W') + h·W' + w, ready for ops::apply_rope. Pair p < t/2 turns by f·ω_t, the next h/2 pairs
// by h·ω_h, the last w/2 by w·ω_w, with ω_{a,j} = 10000^(−2j/d_a) and raw integer positions.
// Computed in double and stored f32, as diffusers builds its buffers; built on the host and copied
// once to `device`.
struct WanRopeTables {
  Tensor cos, sin;
};
WanRopeTables wan_rope_tables(std::array<int64_t, 3> grid, int head_dim, int max_seq_len,
                              Device device = Device::cpu());

}  // namespace fastvideo

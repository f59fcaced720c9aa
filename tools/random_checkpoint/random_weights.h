// Random weights at any size: the scaling recipe of the tiny model (so activations stay O(1) and
// nothing overflows in bf16) and a fast counter-based generator for the full-size checkpoints and
// the GPU benchmarks, where billions of values must be made in seconds.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "core/tensor.h"
#include "io/weights.h"

namespace fastvideo {

// The counter-based 64-bit draw behind every value here: splitmix64's finaliser of `x`, so element
// i of a stream s is splitmix64(s + i) whichever thread fills it.
uint64_t splitmix64(uint64_t x);

// Mean and standard deviation of a tensor's values, from its name and shape: biases 0.02, norm
// gains (and VAE .gamma) 1 ± 0.1, scale_shift_table 0.1, token embeddings 1, relative attention
// bias 0.5, every other weight 1/√fan_in (T5's q additionally × 1/8, the 1/√d_kv T5 folds in);
// FastWan's VSA gates (to_gate_compress weight and bias) at a tenth of their rule, as FastVideo's
// zero-initialised gate leaves trained checkpoints with small ones.
// The per-tensor stream of a checkpoint's seed: a pure function of (seed, name), so adding a
// tensor changes no other.
uint64_t tensor_stream_seed(uint64_t seed, const std::string& name);

struct WeightScale {
  float std_dev = 1.0f;
  float mean = 0.0f;
};
WeightScale weight_scale(const TensorSpec& spec);

// Elements [first, first + out.size()) of tensor `spec`: uniform with the weight_scale mean and
// standard deviation, each a pure function of (seed, spec.name, index) through splitmix64, filled
// in parallel. Not torch's stream: only the tiny model promises torch_randn-derived bytes.
void fill_random_weight(const TensorSpec& spec, uint64_t seed, int64_t first, std::span<float> out);

// The whole tensor, the values of fill_random_weight, in `dtype` (F32 or BF16) on `device`: made
// on the host in `dtype` (no f32 copy of a bf16 tensor), then one copy to the device.
Tensor random_weight(const TensorSpec& spec, uint64_t seed, DType dtype, Device device);

}  // namespace fastvideo

#include "random_checkpoint/random_weights.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/parallel.h"

namespace fastvideo {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Calls store(i, value) for elements [first, first + n) of the tensor, in parallel.
template <class Store>
void generate(const TensorSpec& spec, uint64_t seed, int64_t first, int64_t n, Store store) {
  const WeightScale s = weight_scale(spec);
  const float half_width = s.std_dev * std::sqrt(3.0f);  // uniform on [-√3σ, √3σ]: std σ
  const uint64_t stream = splitmix64(tensor_stream_seed(seed, spec.name));
  parallel_for(n, int64_t(1) << 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const uint64_t bits = splitmix64(stream + uint64_t(first + i));
      const float u = float(bits >> 40) * 0x1.0p-24f;  // [0, 1)
      store(i, s.mean + half_width * (2.0f * u - 1.0f));
    }
  });
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

uint64_t tensor_stream_seed(uint64_t seed, const std::string& name) {
  return (seed * 0x9E3779B97F4A7C15ull) ^ fnv1a(name);
}

WeightScale weight_scale(const TensorSpec& spec) {
  // The float arithmetic here is the tiny model's (its bytes depend on it): keep it as it is.
  const std::string& n = spec.name;
  WeightScale w;
  if (ends_with(n, ".bias")) {
    w.std_dev = 0.02f;
  } else if (n.find("norm") != std::string::npos || ends_with(n, ".gamma")) {
    w.std_dev = 0.1f, w.mean = 1.0f;  // norm gains
  } else if (n.find("scale_shift_table") != std::string::npos) {
    w.std_dev = 0.1f;
  } else if (n == "shared.weight") {
    w.std_dev = 1.0f;  // token embeddings
  } else if (n.find("relative_attention_bias") != std::string::npos) {
    w.std_dev = 0.5f;
  } else {
    const double fan_in =
        double(shape_numel(spec.shape)) / double(std::max<int64_t>(spec.shape[0], 1));
    w.std_dev = float(1.0 / std::sqrt(fan_in));
    if (ends_with(n, "SelfAttention.q.weight")) w.std_dev *= 0.125f;  // T5 folds 1/√d_kv into q
  }
  // FastWan's VSA gate, G = to_gate_compress(norm1 output) in O = O_coarse ⊙ G + O_fine: FastVideo
  // zero-initialises it before VSA training (the gate starts closed), so trained FastWan
  // checkpoints carry small gates. At the usual scale the coarse branch would be added at full
  // strength: VSA at sparsity 0 on the tiny FastWan gave MS-SSIM 0.988 (29 dB) against dense
  // attention; at a tenth, 0.9998 (46 dB), while the gate still moves the DiT output by ~1%.
  if (n.find("to_gate_compress.") != std::string::npos) w.std_dev *= 0.1f;
  return w;
}

void fill_random_weight(const TensorSpec& spec, uint64_t seed, int64_t first,
                        std::span<float> out) {
  FV_CHECK(first >= 0 && first + int64_t(out.size()) <= shape_numel(spec.shape), "random weight ",
           spec.name, ": elements [", first, ", ", first + int64_t(out.size()),
           ") are outside its ", shape_numel(spec.shape));
  float* dst = out.data();
  generate(spec, seed, first, int64_t(out.size()), [dst](int64_t i, float v) { dst[i] = v; });
}

Tensor random_weight(const TensorSpec& spec, uint64_t seed, DType dtype, Device device) {
  FV_CHECK(dtype == DType::F32 || dtype == DType::BF16, "random weight ", spec.name, ": dtype ",
           dtype_name(dtype), " is not F32 or BF16");
  Tensor host = Tensor::empty(spec.shape, dtype);
  const int64_t n = host.numel();
  if (dtype == DType::F32) {
    float* dst = host.data<float>();
    generate(spec, seed, 0, n, [dst](int64_t i, float v) { dst[i] = v; });
  } else {
    uint16_t* dst = host.data<uint16_t>();
    generate(spec, seed, 0, n, [dst](int64_t i, float v) { dst[i] = f32_to_bf16(v); });
  }
  return device.is_cpu() ? host : host.to(device);
}

}  // namespace fastvideo

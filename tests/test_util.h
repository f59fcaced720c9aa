// Shared test helpers: fresh random inputs and relative-L2 comparison (DESIGN §3).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <random>
#include <string>

#include "core/tensor.h"
#include "fastvideo/video_generator.h"
#include "fastvideo/video_quality.h"

namespace fastvideo::testing {

// Fresh random N(0, stddev) f32 tensor; each call draws new values.
Tensor randn(Shape shape, float stddev = 1.0f);

// The larger of a running worst error and a new one, NaN counting as the worst of all
// (std::max(worst, NaN) keeps worst, so a NaN would pass unseen).
inline double worse(double worst, double error) {
  return std::isnan(worst) || error <= worst ? worst : error;
}

// ‖a − b‖ / ‖b‖ in double; NaN anywhere gives +inf so the comparison fails.
double rel_l2(const Tensor& a, const Tensor& b);

// A generation's final latents as an f32 CPU tensor of its latent shape.
Tensor final_latents(const GenerationResult& result);

// Cosine similarity in double (any float dtype, CPU); NaN anywhere fails every comparison.
double cosine(const Tensor& a, const Tensor& b);

// q, k or v as a DiT's self-attention sees them: N(0, 1) per element around a per-(head, channel)
// offset shared by every token ([B, S, H, D]; the channel-wise structure real activations have,
// which quantized attention is judged on: on zero-mean noise with flat attention every output is a
// near-zero mean and E4M3's relative step dominates).
Tensor randn_with_channel_offsets(Shape shape);

// softmax(q·kᵀ·scale + bias)·v by its definition, in double, rounded to f32 at the end: the
// independent reference for attention implementations. q [B, Sq, H, D], k [B, Sk, H, D],
// v [B, Sk, H, Dv], bias [H, Sq, Sk] or undefined; f32 CPU tensors, any strides.
Tensor reference_attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                           const Tensor& bias = {});

// The message of the fastvideo::Error `f` throws, "(no error)" when it throws none (which the
// caller's expectation on the message then reports).
std::string error_of(const std::function<void()>& f);

// Whether `part` occurs in `s` (for messages).
bool contains(const std::string& s, const std::string& part);

// The whole file's bytes ("" when it cannot be read; the comparison that follows then fails).
std::string file_bytes(const std::filesystem::path& path);

// Loads f32 tensors written by tools/reference (safetensors); path relative to the source tree.
std::string source_path(const std::string& relative);

// A PSNR gate on two videos: at least `min_mean_db` over all frames and `min_worst_db` for every
// frame (a mean alone lets one broken frame through); the message names the worst frame.
::testing::AssertionResult psnr_at_least(const VideoComparison& c, double min_mean_db,
                                         double min_worst_db);

}  // namespace fastvideo::testing

// torch's CPU normal sampling, reproduced bit for bit (see torch_random.h for the kernel choice).
//
// The recipe, from ATen (CPUGeneratorImpl, core/DistributionsHelper.h, core/TransformationHelper.h,
// native/cpu/DistributionTemplates.h, native/cpu/avx_mathfun.h), the same in torch 1.13 and 2.11
// (float normal_ has no MKL path; only bernoulli uses MKL's own generator):
//  - The generator is the standard 32-bit Mersenne Twister seeded with the low 32 bits of the seed.
//  - A float uniform in [0,1) is the low 24 bits of one 32-bit draw times 2^-24; a double uniform
//    takes 64 bits from two draws (first draw high) and keeps the low 53 bits times 2^-53.
//  - numel >= 16: fill the whole buffer with float uniforms, then transform each block of 16 in
//    place with Box–Muller: u1 = 1 − d[j], u2 = d[j+8], r = √(−2·log u1), θ = 2π·u2,
//    d[j] = r·cos θ, d[j+8] = r·sin θ (j < 8). If numel % 16 != 0 the last 16 slots are refilled
//    with 16 fresh uniforms and transformed again (overwriting values of the last full block).
//  - numel < 16: per element, a double Box–Muller pair u1, u2 -> r = √(−2·log1p(−u2)),
//    θ = 2π·u1; returns r·cos θ and caches r·sin θ for the next element.
//
// The AVX2 kernel evaluates log and sincos with Cephes polynomials in float. torch is compiled
// with GCC, -mfma and the default -ffp-contract=fast, so GCC fuses every multiply whose only use
// is an add into an FMA; the emulation below spells out those fusions with std::fma (a plain
// multiply-then-add differs in the last bit for some values; the noise test catches it). This file
// itself must not be contracted further: it relies on the default x86-64 flags (no FMA, so no
// contraction); the noise test fails bit-exactly if that changes.
#include "core/torch_random.h"

#include <bit>
#include <cmath>
#include <numbers>
#include <optional>
#include <random>

namespace fastvideo {
namespace {

class TorchCpuGenerator {
 public:
  explicit TorchCpuGenerator(uint64_t seed) : engine_(uint32_t(seed & 0xffffffffu)) {}

  float uniform_float() { return float(engine_() & ((1u << 24) - 1)) * 0x1.0p-24f; }

  double uniform_double() {
    const uint64_t hi = engine_();
    const uint64_t lo = engine_();
    return double(((hi << 32) | lo) & ((uint64_t(1) << 53) - 1)) * 0x1.0p-53;
  }

  // at::normal_distribution<double> with the generator's cached second sample.
  double normal_double() {
    if (cached_) {
      const double v = *cached_;
      cached_.reset();
      return v;
    }
    const double u1 = uniform_double();
    const double u2 = uniform_double();
    const double r = std::sqrt(-2.0 * std::log1p(-u2));
    const double theta = 2.0 * std::numbers::pi * u1;
    cached_ = r * std::sin(theta);
    return r * std::cos(theta);
  }

 private:
  std::mt19937 engine_;
  std::optional<double> cached_;
};

// ---- avx_mathfun (Cephes) in scalar float, with GCC's FMA fusions made explicit ----

float fused(float a, float b, float c) { return std::fma(a, b, c); }

// Natural log for normal positive floats (u1 is in [2^-24, 1] here).
float cephes_logf(float v) {
  constexpr float kSqrtHalf = 0.707106781186547524f;
  constexpr float p[9] = {7.0376836292E-2f,  -1.1514610310E-1f, 1.1676998740E-1f,
                          -1.2420140846E-1f, +1.4249322787E-1f, -1.6668057665E-1f,
                          +2.0000714765E-1f, -2.4999993993E-1f, +3.3333331174E-1f};
  constexpr float q1 = -2.12194440e-4f;
  constexpr float q2 = 0.693359375f;

  const uint32_t bits = std::bit_cast<uint32_t>(v);
  float e = float(int32_t(bits >> 23) - 0x7f) + 1.0f;
  // Mantissa scaled into [0.5, 1).
  float x = std::bit_cast<float>((bits & ~0x7f800000u) | std::bit_cast<uint32_t>(0.5f));
  if (x < kSqrtHalf) {
    e -= 1.0f;
    x = (x - 1.0f) + x;
  } else {
    x = x - 1.0f;
  }
  const float z = x * x;
  float y = p[0];
  for (int i = 1; i < 9; ++i) y = fused(y, x, p[i]);
  y = y * x;
  y = fused(y, z, e * q1);
  y = fused(-z, 0.5f, y);
  return fused(e, q2, x + y);
}

// sin and cos of θ ∈ [0, 2π) as the vector sincos computes them.
void cephes_sincosf(float theta, float& sin_out, float& cos_out) {
  constexpr float kFourOverPi = 1.27323954473516f;
  constexpr float kMinusDp1 = -0.78515625f;
  constexpr float kMinusDp2 = -2.4187564849853515625e-4f;
  constexpr float kMinusDp3 = -3.77489497744594108e-8f;
  constexpr float sincof[3] = {-1.9515295891E-4f, 8.3321608736E-3f, -1.6666654611E-1f};
  constexpr float coscof[3] = {2.443315711809948E-005f, -1.388731625493765E-003f,
                               4.166664568298827E-002f};

  const bool negative = std::signbit(theta);
  float x = std::fabs(theta);
  // Octant j rounded up to even; the reduced argument lies in [−π/4, π/4].
  int32_t j = int32_t(x * kFourOverPi);
  j = (j + 1) & ~1;
  const float y = float(j);
  x = fused(y, kMinusDp1, x);
  x = fused(y, kMinusDp2, x);
  x = fused(y, kMinusDp3, x);

  const float z = x * x;
  float c = coscof[0];
  c = fused(c, z, coscof[1]);
  c = fused(c, z, coscof[2]);
  c = c * z;
  c = fused(c, z, -(z * 0.5f)) + 1.0f;

  float s = sincof[0];
  s = fused(s, z, sincof[1]);
  s = fused(s, z, sincof[2]);
  s = s * z;
  s = fused(s, x, x);

  const bool sin_uses_sin_poly = (j & 2) == 0;
  float sin_v = sin_uses_sin_poly ? s : c;
  float cos_v = sin_uses_sin_poly ? c : s;
  if (((j & 4) != 0) != negative) sin_v = -sin_v;
  if (((j - 2) & 4) == 0) cos_v = -cos_v;
  sin_out = sin_v;
  cos_out = cos_v;
}

void box_muller_16(float* d, TorchNormalKernel kernel) {
  for (int j = 0; j < 8; ++j) {
    const float u1 = 1.0f - d[j];
    const float u2 = d[j + 8];
    if (kernel == TorchNormalKernel::Avx2) {
      const float radius = std::sqrt(-2.0f * cephes_logf(u1));
      const float theta = float(2.0 * std::numbers::pi) * u2;
      float s, c;
      cephes_sincosf(theta, s, c);
      d[j] = radius * c;
      d[j + 8] = radius * s;
    } else {
      // The portable kernel forms θ in double and rounds it once to float.
      const float radius = std::sqrt(-2.0f * std::log(u1));
      const float theta = float(2.0 * std::numbers::pi * double(u2));
      d[j] = radius * std::cos(theta);
      d[j + 8] = radius * std::sin(theta);
    }
  }
}

}  // namespace

struct TorchGenerator::State {
  explicit State(uint64_t seed) : gen(seed) {}
  TorchCpuGenerator gen;
};

TorchGenerator::TorchGenerator(uint64_t seed, TorchNormalKernel kernel)
    : state_(std::make_unique<State>(seed)), kernel_(kernel) {}
TorchGenerator::~TorchGenerator() = default;
TorchGenerator::TorchGenerator(TorchGenerator&&) noexcept = default;
TorchGenerator& TorchGenerator::operator=(TorchGenerator&&) noexcept = default;

Tensor TorchGenerator::randn(const Shape& shape) {
  Tensor out = Tensor::empty(shape, DType::F32);
  std::span<float> d = out.f32();
  const int64_t n = int64_t(d.size());
  const TorchNormalKernel kernel = kernel_;
  TorchCpuGenerator& gen = state_->gen;
  if (n < 16) {
    for (float& v : d) v = float(gen.normal_double());
    return out;
  }
  for (float& v : d) v = gen.uniform_float();
  for (int64_t i = 0; i + 16 <= n; i += 16) box_muller_16(d.data() + i, kernel);
  if (n % 16 != 0) {
    float* tail = d.data() + n - 16;
    for (int k = 0; k < 16; ++k) tail[k] = gen.uniform_float();
    box_muller_16(tail, kernel);
  }
  return out;
}

Tensor torch_randn(const Shape& shape, uint64_t seed, TorchNormalKernel kernel) {
  return TorchGenerator(seed, kernel).randn(shape);
}

}  // namespace fastvideo

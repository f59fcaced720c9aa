// Element types. CPU computes in f32; bf16/f16 are storage types converted on load or on the
// device.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace fastvideo {

enum class DType : uint8_t { F32, BF16, F16, F8E4M3, I8, U8, I32, I64 };

size_t dtype_size(DType dtype);
std::string_view dtype_name(DType dtype);      // safetensors spelling: "F32", "BF16", ...
DType dtype_from_name(std::string_view name);  // throws Error naming the unknown spelling
// The float storage dtypes weights come in: F32, BF16, F16.
inline bool is_float_dtype(DType d) {
  return d == DType::F32 || d == DType::BF16 || d == DType::F16;
}

inline float bf16_to_f32(uint16_t bits) {
  uint32_t u = uint32_t(bits) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Round to nearest even, NaN kept quiet (same as torch's .to(bfloat16)).
inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

float f16_to_f32(uint16_t bits);
uint16_t f32_to_f16(float f);

// FP8 E4M3 (F8E4M3): the OCP E4M3FN format (bias 7, no infinities, max 448, min subnormal 2^-9).
// f32_to_e4m3 rounds to nearest even including subnormals and saturates at ±448 (±inf too, as
// cvt.rn.satfinite.e4m3x2.f32 does); only a NaN input gives NaN (0x7f, whatever its sign).
// Plain C++, no CUDA headers.
inline constexpr float kE4m3Max = 448.f;
uint8_t f32_to_e4m3(float x);
float e4m3_to_f32(uint8_t bits);

// Converts n elements of src (F32, BF16, F16, F8E4M3 or U8) to f32.
void convert_to_f32(const void* src, DType src_dtype, float* dst, size_t n);
// Converts n f32 elements to dst_dtype (F32, BF16 or F16).
void convert_from_f32(const float* src, void* dst, DType dst_dtype, size_t n);

}  // namespace fastvideo

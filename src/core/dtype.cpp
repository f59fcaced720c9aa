#include "core/dtype.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "core/excerpt.h"
#include "fastvideo/error.h"

namespace fastvideo {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return 4;
    case DType::BF16:
      return 2;
    case DType::F16:
      return 2;
    case DType::F8E4M3:
      return 1;
    case DType::I8:
      return 1;
    case DType::U8:
      return 1;
    case DType::I32:
      return 4;
    case DType::I64:
      return 8;
  }
  return 0;
}

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return "F32";
    case DType::BF16:
      return "BF16";
    case DType::F16:
      return "F16";
    case DType::F8E4M3:
      return "F8_E4M3";
    case DType::I8:
      return "I8";
    case DType::U8:
      return "U8";
    case DType::I32:
      return "I32";
    case DType::I64:
      return "I64";
  }
  return "?";
}

DType dtype_from_name(std::string_view name) {
  for (DType d : {DType::F32, DType::BF16, DType::F16, DType::F8E4M3, DType::I8, DType::U8,
                  DType::I32, DType::I64}) {
    if (dtype_name(d) == name) return d;
  }
  fail("unknown dtype '", excerpt(name),
       "' (expected one of F32, BF16, F16, F8_E4M3, I8, U8, I32, I64)");
}

float f16_to_f32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t u;
  if (exp == 0) {
    if (mant == 0) {
      u = sign;
    } else {  // subnormal: normalise
      exp = 127 - 15 + 1;
      while (!(mant & 0x400)) {
        mant <<= 1;
        --exp;
      }
      u = sign | (exp << 23) | ((mant & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    u = sign | 0x7f800000u | (mant << 13);
  } else {
    u = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

uint16_t f32_to_f16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  uint16_t sign = uint16_t((u >> 16) & 0x8000);
  uint32_t absu = u & 0x7fffffffu;
  if (absu > 0x7f800000u) return sign | 0x7e00;   // NaN
  if (absu >= 0x477ff000u) return sign | 0x7c00;  // overflow to inf (after rounding)
  if (absu < 0x38800000u) {                       // subnormal or zero in f16
    if (absu < 0x33000000u) return sign;
    uint32_t exp = absu >> 23;
    uint32_t mant = (absu & 0x7fffff) | 0x800000;
    uint32_t shift = 126 - exp;  // 14 - (exp - 112)
    uint32_t half = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) ++half;
    return sign | uint16_t(half);
  }
  uint32_t r = absu + 0xfffu + ((absu >> 13) & 1u) - (112u << 23);
  return sign | uint16_t(r >> 13);
}

void convert_to_f32(const void* src, DType src_dtype, float* dst, size_t n) {
  switch (src_dtype) {
    case DType::F32:
      std::memcpy(dst, src, n * 4);
      return;
    case DType::BF16: {
      auto* s = static_cast<const uint16_t*>(src);
      for (size_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(s[i]);
      return;
    }
    case DType::F16: {
      auto* s = static_cast<const uint16_t*>(src);
      for (size_t i = 0; i < n; ++i) dst[i] = f16_to_f32(s[i]);
      return;
    }
    case DType::F8E4M3: {
      auto* s = static_cast<const uint8_t*>(src);
      for (size_t i = 0; i < n; ++i) dst[i] = e4m3_to_f32(s[i]);
      return;
    }
    case DType::U8: {  // pixel bytes, exact
      auto* s = static_cast<const uint8_t*>(src);
      for (size_t i = 0; i < n; ++i) dst[i] = float(s[i]);
      return;
    }
    default:
      fail("cannot convert dtype ", dtype_name(src_dtype),
           " to F32 (expected F32, BF16, F16, F8_E4M3 or U8)");
  }
}

void convert_from_f32(const float* src, void* dst, DType dst_dtype, size_t n) {
  switch (dst_dtype) {
    case DType::F32:
      std::memcpy(dst, src, n * 4);
      return;
    case DType::BF16: {
      auto* d = static_cast<uint16_t*>(dst);
      for (size_t i = 0; i < n; ++i) d[i] = f32_to_bf16(src[i]);
      return;
    }
    case DType::F16: {
      auto* d = static_cast<uint16_t*>(dst);
      for (size_t i = 0; i < n; ++i) d[i] = f32_to_f16(src[i]);
      return;
    }
    default:
      fail("cannot convert F32 to dtype ", dtype_name(dst_dtype), " (expected F32, BF16 or F16)");
  }
}

uint8_t f32_to_e4m3(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  const uint8_t sign = uint8_t((u >> 24) & 0x80u);
  if (std::isnan(x)) return 0x7f;  // one NaN, whatever the input's sign (x86's default NaN has it)
  const float a = std::fabs(x);
  if (a >= kE4m3Max) return uint8_t(sign | 0x7e);  // saturate: ±448 (0x7f is NaN)
  if (a < 0.015625f) {
    // Subnormals (and zero): m·2^-9, m = 0..8; a·512 is exact, nearbyint rounds half to even,
    // and m = 8 is the bit pattern of the smallest normal, 2^-6.
    return uint8_t(sign | uint8_t(std::nearbyint(a * 512.f)));
  }
  // Normals: round the f32 mantissa to 3 bits, half to even; a carry moves into the exponent.
  uint32_t ua;
  std::memcpy(&ua, &a, 4);
  ua += 0x7ffffu + ((ua >> 20) & 1u);
  const uint32_t exponent = (ua >> 23) - 127 + 7, mantissa = (ua >> 20) & 7u;
  if (exponent > 15 || (exponent == 15 && mantissa == 7)) return uint8_t(sign | 0x7e);
  return uint8_t(sign | (exponent << 3) | mantissa);
}

float e4m3_to_f32(uint8_t bits) {
  const int exponent = (bits >> 3) & 0xf, mantissa = bits & 7;
  float a;
  if (exponent == 15 && mantissa == 7) {
    a = std::numeric_limits<float>::quiet_NaN();
  } else if (exponent == 0) {
    a = std::ldexp(float(mantissa), -9);
  } else {
    a = std::ldexp(1.f + float(mantissa) / 8.f, exponent - 7);
  }
  return (bits & 0x80) ? -a : a;
}

}  // namespace fastvideo

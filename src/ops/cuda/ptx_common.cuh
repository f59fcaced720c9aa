// Inline-PTX helpers both FLASH_ATTN kernels use, valid on every sm_80+ device: shared-memory
// addresses, the MUFU exp2 and bf16 packing. Device code only.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

namespace fastvideo::ops::cuda {

__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 2^x on the special-function unit (PTX ISA "ex2"): flushes denormals, exp2(-inf) = 0.
__device__ __forceinline__ float exp2_approx(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

// Two floats as one bf16x2 register, `lo` in the low half (the lower k index of an A fragment).
__device__ __forceinline__ uint32_t pack_bf16x2(float lo, float hi) {
  __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&v);
}

}  // namespace fastvideo::ops::cuda

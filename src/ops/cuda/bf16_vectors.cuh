// Eight and four bf16 values moved as one 16- or 8-byte access, for the memory-bound kernels
// around VSA and SLA (vsa_kernels.cu, sla_kernels.cu). __nv_bfloat162 has a user-provided copy
// constructor, so copying such a struct member by member splits each access into 32-bit ones (the
// SASS showed four LDG.E per chunk); load and store go through uint4 / uint2 instead.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>

#include "fastvideo/error.h"

namespace fastvideo::ops::cuda {

struct alignas(16) Bf16x8 {
  __nv_bfloat162 v[4];
};
struct alignas(8) Bf16x4 {
  __nv_bfloat162 v[2];
};

__device__ __forceinline__ Bf16x8 load(const Bf16x8* p) {
  const uint4 bits = *reinterpret_cast<const uint4*>(p);
  Bf16x8 out;
  std::memcpy(&out, &bits, sizeof out);
  return out;
}
__device__ __forceinline__ void store(Bf16x8* p, const Bf16x8& value) {
  uint4 bits;
  std::memcpy(&bits, &value, sizeof bits);
  *reinterpret_cast<uint4*>(p) = bits;
}
__device__ __forceinline__ Bf16x4 load(const Bf16x4* p) {
  const uint2 bits = *reinterpret_cast<const uint2*>(p);
  Bf16x4 out;
  std::memcpy(&out, &bits, sizeof out);
  return out;
}
__device__ __forceinline__ void store(Bf16x4* p, const Bf16x4& value) {
  uint2 bits;
  std::memcpy(&bits, &value, sizeof bits);
  *reinterpret_cast<uint2*>(p) = bits;
}

// Host side, before a launch: the pointers a kernel moves in chunks of `bytes` must be aligned to
// them (tensors from the device allocator are; a view at an odd element offset is not), else the
// GPU would fault on a misaligned access; `what` names the kernel in the error.
inline void check_chunk_aligned(const char* what, size_t bytes,
                                std::initializer_list<const void*> pointers) {
  for (const void* p : pointers) {
    FV_CHECK(p == nullptr || reinterpret_cast<uintptr_t>(p) % bytes == 0, what,
             ": a bf16 tensor is not ", bytes, "-byte aligned (address ", p, ")");
  }
}

}  // namespace fastvideo::ops::cuda

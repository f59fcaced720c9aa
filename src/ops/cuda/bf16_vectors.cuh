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

// The plain vector type of a chunk's size, which moves in one access.
template <class Chunk>
struct ChunkBits;
template <>
struct ChunkBits<Bf16x8> {
  using type = uint4;
};
template <>
struct ChunkBits<Bf16x4> {
  using type = uint2;
};

template <class Chunk>
__device__ __forceinline__ Chunk load(const Chunk* p) {
  const auto bits = *reinterpret_cast<const typename ChunkBits<Chunk>::type*>(p);
  Chunk out;
  std::memcpy(&out, &bits, sizeof out);
  return out;
}
template <class Chunk>
__device__ __forceinline__ void store(Chunk* p, const Chunk& value) {
  typename ChunkBits<Chunk>::type bits;
  std::memcpy(&bits, &value, sizeof bits);
  *reinterpret_cast<typename ChunkBits<Chunk>::type*>(p) = bits;
}

// Host side, before a launch: the pointers a kernel moves in chunks of `bytes` must be aligned to
// them (tensors from the device allocator are; a view at an odd element offset is not), else the
// GPU would fault on a misaligned access; `what` names the kernel in the error.
inline void check_chunk_aligned(const char* what, size_t bytes,
                                std::initializer_list<const void*> pointers) {
  for (const void* p : pointers) {
    FV_CHECK(p == nullptr || reinterpret_cast<uintptr_t>(p) % bytes == 0, what,
             ": a tensor is not ", bytes, "-byte aligned (address ", p, ")");
  }
}

}  // namespace fastvideo::ops::cuda

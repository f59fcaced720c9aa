// Shared plumbing of the memory-bound CUDA kernels (DESIGN §3): fp32 views of F32/BF16 elements,
// 16-byte vector loads and stores, the dtype switch that picks a kernel instantiation, the vector
// width a set of pointers allows, and grid sizing. Math is fp32 in registers; storage stays in the
// tensors' dtypes.
#pragma once

#include <cuda_bf16.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <utility>

#include "core/cuda/cuda_check.h"
#include "core/cuda/cuda_context.h"
#include "core/tensor.h"

namespace fastvideo::ops::cuda_kernels {

using bf16 = __nv_bfloat16;

__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(bf16 v) { return __bfloat162float(v); }

template <class T>
__device__ __forceinline__ T from_f32(float v) {
  if constexpr (std::is_same_v<T, float>) {
    return v;
  } else {
    return __float2bfloat16_rn(v);
  }
}

// E elements of T moved as one aligned access (E·sizeof(T) ≤ 16 bytes).
template <class T, int E>
struct alignas(sizeof(T) * E) Chunk {
  T e[E];
};

// Loads N consecutive elements at p as fp32 with accesses of up to 16 bytes. p must be aligned to
// min(16, N·sizeof(T)) bytes; the host side checks this through vector_width().
template <int N, class T>
__device__ __forceinline__ void load(const T* __restrict__ p, float (&v)[N]) {
  constexpr int kBytes = N * int(sizeof(T));
  constexpr int E = (kBytes < 16 ? kBytes : 16) / int(sizeof(T));
#pragma unroll
  for (int c = 0; c < N / E; ++c) {
    const Chunk<T, E> chunk = reinterpret_cast<const Chunk<T, E>*>(p)[c];
#pragma unroll
    for (int i = 0; i < E; ++i) v[c * E + i] = to_f32(chunk.e[i]);
  }
}

template <int N, class T>
__device__ __forceinline__ void store(T* __restrict__ p, const float (&v)[N]) {
  constexpr int kBytes = N * int(sizeof(T));
  constexpr int E = (kBytes < 16 ? kBytes : 16) / int(sizeof(T));
#pragma unroll
  for (int c = 0; c < N / E; ++c) {
    Chunk<T, E> chunk;
#pragma unroll
    for (int i = 0; i < E; ++i) chunk.e[i] = from_f32<T>(v[c * E + i]);
    reinterpret_cast<Chunk<T, E>*>(p)[c] = chunk;
  }
}

// Calls fn(T{}) with T = float or bf16 for `dtype`; other dtypes are an error naming the op and
// what carries that dtype.
template <class Fn>
void with_float_type(DType dtype, const char* op, const std::string& what, Fn&& fn) {
  switch (dtype) {
    case DType::F32:
      fn(float{});
      break;
    case DType::BF16:
      fn(bf16{});
      break;
    default:
      fail(op, ": ", what, " has a dtype the CUDA kernels do not take (F32 or BF16)");
  }
}

template <class Fn>
void with_float_type(const Tensor& t, const char* op, Fn&& fn) {
  with_float_type(t.dtype(), op, t.describe(), std::forward<Fn>(fn));
}

// Elements per thread for a 16-byte vector of T: 4 for F32, 8 for BF16.
template <class T>
constexpr int kVector = 16 / int(sizeof(T));

inline bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// True when every pointer is 16-byte aligned and every listed extent (a row length, a row stride)
// is a multiple of the vector width, so vector loads never straddle a row or lose alignment.
inline bool can_vectorise(std::initializer_list<const void*> pointers,
                          std::initializer_list<int64_t> extents, int width) {
  for (const void* p : pointers) {
    if (p && !aligned16(p)) return false;
  }
  for (int64_t e : extents) {
    if (e % width != 0) return false;
  }
  return true;
}

constexpr int kThreads = 256;

// Blocks for a grid-stride loop over `work` items: enough to fill every SM several times over.
inline int grid_for(const CudaContext& ctx, int64_t work, int threads = kThreads) {
  const int64_t wanted = (work + threads - 1) / threads;
  const int64_t cap = int64_t(std::max(ctx.info().sm_count, 1)) * 32;
  return int(std::max<int64_t>(1, std::min(wanted, cap)));
}

// The context of the tensor's GPU, made current for this thread; every op launches on its stream.
inline CudaContext& context_of(const Tensor& t) { return use_cuda_device(t.device().index); }

// Every tensor an op reads must live on the GPU of its first argument.
inline void check_same_device(const Tensor& t, const Tensor& like, const char* op,
                              const char* what) {
  FV_CHECK(t.device() == like.device(), op, ": ", what, " ", t.describe(), " is not on ",
           like.device().name(), " with ", like.describe());
}

// A per-batch vector [B, D] (shift, scale, gate) as the kernels read it: unit stride along D, rows
// `stride` elements apart, so a chunk of a modulation tensor is read in place without a copy.
struct BatchRows {
  Tensor tensor;
  int64_t stride = 0;
};

inline BatchRows batch_rows(const Tensor& v, const Tensor& x, int64_t B, int64_t D, const char* op,
                            const char* what) {
  const int64_t expected[] = {B, D};
  check_shape(v, expected, std::string(op) + " " + what);
  check_same_device(v, x, op, what);
  BatchRows rows{v, 0};
  if (D > 1 && v.strides()[1] != 1) rows.tensor = v.contiguous();
  rows.stride = B > 1 ? rows.tensor.strides()[0] : D;
  return rows;
}

}  // namespace fastvideo::ops::cuda_kernels

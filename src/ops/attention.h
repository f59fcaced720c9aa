// Softmax attention in the engine's one layout: q [B, Sq, H, D], k/v [B, Sk, H, D(v)] -> [B, Sq, H,
// Dv]. This is the reference every attention backend is checked against.
#pragma once

#include "core/tensor.h"

namespace fastvideo::ops {

// softmax(q·kᵀ·scale + bias)·v. bias, if defined, is [H, Sq, Sk] (added before softmax, shared over
// B).
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                 const Tensor& bias = {});

// Backend implementations; the functions above dispatch on the input's device.
namespace cpu {
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                 const Tensor& bias = {});
}  // namespace cpu
namespace cuda {
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                 const Tensor& bias = {});
}  // namespace cuda

}  // namespace fastvideo::ops

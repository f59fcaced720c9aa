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
// The shape checks every backend shares: q [B,Sq,H,D], k [B,Sk,H,D], v [B,Sk,H,Dv], bias
// [H,Sq,Sk] when defined. Errors name the tensors and their shapes.
void check_attention_inputs(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& bias);

namespace cpu {
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                 const Tensor& bias = {});
}  // namespace cpu
namespace cuda {
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                 const Tensor& bias = {});
}  // namespace cuda

}  // namespace fastvideo::ops

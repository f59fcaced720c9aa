// Elementwise ops and the broadcast patterns the models use (modulation, gated residuals).
// CPU: contiguous f32.
#pragma once

#include <span>
#include <utility>

#include "core/tensor.h"

namespace fastvideo::ops {

Tensor add(const Tensor& a, const Tensor& b);  // same shape
Tensor mul(const Tensor& a, const Tensor& b);  // same shape
Tensor scale(const Tensor& a, float s);
Tensor silu(const Tensor& x);
Tensor gelu_tanh(const Tensor& x);  // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
Tensor clamp(const Tensor& x, float lo, float hi);
// T5's gated GELU on one projection of both halves: x [..., 2F] -> [..., F], gelu_tanh of the
// first half times the second, element by element.
Tensor gelu_tanh_gate(const Tensor& x);

// Per-batch vectors broadcast over the token axis. x [B, S, D]; shift, scale, gate [B, D].
Tensor modulate(const Tensor& x, const Tensor& shift, const Tensor& scale);   // x·(1+scale)+shift
Tensor gated_residual(const Tensor& x, const Tensor& y, const Tensor& gate);  // x + y·gate

// Σ coeff_i · t_i over same-shaped F32/BF16 tensors on one device, accumulated in double per
// element (a LinearChain of one value): the first term's dtype on a GPU, f32 on the CPU. Past 8
// terms the sum goes in batches of 8, each batch's f32 result the next one's first term.
Tensor linear_combination(std::span<const std::pair<Tensor, double>> terms);

// NaN/Inf check used by tests and debug dumps.
bool all_finite(const Tensor& t);

// Backend implementations; the functions above dispatch on the input's device.
namespace cpu {
Tensor add(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor scale(const Tensor& a, float s);
Tensor silu(const Tensor& x);
Tensor gelu_tanh(const Tensor& x);
Tensor clamp(const Tensor& x, float lo, float hi);
Tensor gelu_tanh_gate(const Tensor& x);
Tensor modulate(const Tensor& x, const Tensor& shift, const Tensor& scale);
Tensor gated_residual(const Tensor& x, const Tensor& y, const Tensor& gate);
bool all_finite(const Tensor& t);
}  // namespace cpu
namespace cuda {
Tensor add(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor scale(const Tensor& a, float s);
Tensor silu(const Tensor& x);
Tensor gelu_tanh(const Tensor& x);
Tensor clamp(const Tensor& x, float lo, float hi);
Tensor gelu_tanh_gate(const Tensor& x);
Tensor modulate(const Tensor& x, const Tensor& shift, const Tensor& scale);
Tensor gated_residual(const Tensor& x, const Tensor& y, const Tensor& gate);
bool all_finite(const Tensor& t);
}  // namespace cuda

}  // namespace fastvideo::ops

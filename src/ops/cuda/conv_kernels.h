// The convolution kernels of our own behind ops::cuda::conv3d / conv3d_ndhwc
// (src/ops/cuda/conv.cpp), which otherwise run cuDNN: the Hopper implicit GEMM for the VAE's
// channels-last convolutions, the per-channel bias add after a cuDNN convolution, and a direct
// convolution for the configurations cuDNN has no algorithm for.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace fastvideo::ops::cuda::conv_detail {

// y [B, O, ...] contiguous, F32 or BF16, in place: y[b, o, ...] += bias[o]. bias [O] is F32 or
// BF16 (any contiguous tensor of O elements); the sum is formed in fp32.
void add_channel_bias(const Tensor& y, const Tensor& bias);
// The same for channels-last y [..., O]: y[..., o] += bias[o].
void add_last_dim_bias(const Tensor& y, const Tensor& bias);

// Channels-last BF16 convolution on Hopper (conv_hopper.cu): whether it takes x [B, T, H, W, C]
// with weight [O, kt, kh, kw, C] and symmetric padding `pad` (t, h, w) on x's GPU (an H100/H200
// and a build with sm_90a code; C a multiple of 8 that is 16, 32 or at least 64, O a multiple of 96
// or at most 16, odd kh and kw with "same" padding, none in time), and the convolution itself,
// bias [O] (any float dtype, or undefined) added in its epilogue, into y [B, T − kt + 1, H, W, O];
// all contiguous.
bool hopper_conv_applies(const Tensor& x, const Tensor& weight, const std::vector<int64_t>& pad);
void hopper_conv3d_ndhwc(const Tensor& x, const Tensor& weight, const Tensor& bias,
                         const Tensor& y);

// Direct convolution, one thread per output element with an fp32 accumulator: slow, but valid
// for every shape. x [B, C, T, H, W] and weight [O, C, kt, kh, kw] contiguous of one dtype (F32 or
// BF16); pad = zero frames/rows/columns (front, back) per spatial dim; bias [O] or undefined.
// Returns [B, O, T', H', W'] in x's dtype.
Tensor conv3d_direct(const Tensor& x, const Tensor& weight, const Tensor& bias,
                     const std::array<int64_t, 6>& pad);

}  // namespace fastvideo::ops::cuda::conv_detail

// Initial noise bit-identical to torch's CPU generator:
//   g = torch.Generator("cpu").manual_seed(seed); torch.randn(shape, generator=g, dtype=float32)
// FastVideo draws the Wan latents this way (fastvideo.md §1.3 item 1, seed 1024 by default), so
// reproducing it lets the C++ pipeline start from the very same latents as the Python one.
// Checked bit for bit against torch 2.11.0 (tests/data/torch_noise_vectors.json, made on an AVX512
// GPU host); torch 1.13 gives the very same bits, as the recipe has not changed in between.
#pragma once

#include <cstdint>
#include <memory>

#include "core/tensor.h"

namespace fastvideo {

// torch has two float32 Box–Muller kernels for tensors of 16 or more elements, chosen by the CPU
// capability torch dispatches to (ATEN_CPU_CAPABILITY):
//  - Avx2: the avx_mathfun (Cephes) polynomial log/sincos in float, run on every AVX2 or AVX512
//    host (normal_stub is registered REGISTER_NO_AVX512_DISPATCH, so AVX512 falls back to AVX2).
//    This is what FastVideo produces on the GPU machines.
//  - Scalar: libm logf/cosf/sinf, used only with ATEN_CPU_CAPABILITY=default (pre-AVX2 hosts).
// Tensors with fewer than 16 elements take a per-element double path shared by both.
enum class TorchNormalKernel { Avx2, Scalar };

// torch.Generator("cpu").manual_seed(seed): one stream that successive draws continue, as
// FastVideo's batch.generator serves first the initial latents and then, in the DMD pipeline, the
// noise of every re-noising step (fastvideo.md §1.3).
class TorchGenerator {
 public:
  explicit TorchGenerator(uint64_t seed, TorchNormalKernel kernel = TorchNormalKernel::Avx2);
  ~TorchGenerator();
  TorchGenerator(TorchGenerator&&) noexcept;
  TorchGenerator& operator=(TorchGenerator&&) noexcept;

  // torch.randn(shape, generator=g, dtype=float32): an f32 CPU tensor; the stream moves on by
  // what the draw consumed.
  Tensor randn(const Shape& shape);

 private:
  struct State;
  std::unique_ptr<State> state_;
  TorchNormalKernel kernel_;
};

// f32 CPU tensor of standard normal values from a fresh generator; see the header comment for the
// torch equivalent.
Tensor torch_randn(const Shape& shape, uint64_t seed,
                   TorchNormalKernel kernel = TorchNormalKernel::Avx2);

}  // namespace fastvideo

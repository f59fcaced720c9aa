// The rows of the op-coverage table (op_coverage.h), one block per op family. Sizes are chosen to
// reach every kernel path: odd lengths that leave vector tails and partial warps (37, 4099),
// vectorised ones (64, 1536), rows long enough for a block per row (5120), strided views, mixed
// parameter dtypes, batch dims, and the Wan shapes. Bounds (DESIGN §3, rel L2 against the CPU
// twin): BF16 elementwise/norm 4e-3, BF16 matmul/attention/conv 1e-2, F32 1e-5, data movement
// exact; the few looser F32 bounds say why.
#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <utility>

#include "core/cuda/cuda_context.h"
#include "op_coverage.h"
#include "ops/attention.h"
#include "ops/channels_last.h"
#include "ops/conv.h"
#include "ops/cuda/conv_kernels.h"
#include "ops/elementwise.h"
#include "ops/embedding.h"
#include "ops/fp8_linear.h"
#include "ops/linear.h"
#include "ops/linear_chain.h"
#include "ops/norm.h"
#include "ops/norm_fp8.h"
#include "ops/patchify.h"
#include "ops/residual_norm.h"
#include "ops/rgb8_frames.h"
#include "ops/rope.h"
#include "ops/tensor_ops.h"

namespace fastvideo::testing {
namespace {

constexpr DType kBf16 = DType::BF16, kF32 = DType::F32;
constexpr DType kDtypes[] = {kBf16, kF32};
constexpr double kExact = 0.0;

double elementwise_bound(DType d) { return d == kBf16 ? 4e-3 : 1e-5; }
double matmul_bound(DType d) { return d == kBf16 ? 1e-2 : 1e-5; }

std::string lower(DType d) {
  std::string s(dtype_name(d));
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// "3x5x37"
std::string dims(const Shape& shape) {
  std::string s;
  for (int64_t n : shape) s += (s.empty() ? "" : "x") + std::to_string(n);
  return s;
}

class Table {
 public:
  // Appends the row <op>_<dtype>_<variant>; `dtype` names the main input's dtype.
  OpCase& add(const std::string& op, DType dtype, const std::string& variant,
              std::vector<Operand> operands, double bound, OpFn fn) {
    rows_.push_back({.name = op + "_" + lower(dtype) + "_" + variant,
                     .operands = std::move(operands),
                     .op = std::move(fn),
                     .bound = bound});
    return rows_.back();
  }
  std::vector<OpCase> take() { return std::move(rows_); }

 private:
  std::vector<OpCase> rows_;
};

// ---- elementwise.h -----------------------------------------------------------------------------

void elementwise_cases(Table& t) {
  for (DType d : kDtypes) {
    for (const Shape& s : {Shape{37}, Shape{3, 5, 37}, Shape{2, 1536}, Shape{4099}}) {
      const std::vector<Operand> x = {{s, d, 2.0f}};
      const double bound = elementwise_bound(d);
      t.add("scale", d, dims(s), x, bound, [](OpInputs in) { return ops::scale(in[0], -0.37f); });
      t.add("silu", d, dims(s), x, bound, [](OpInputs in) { return ops::silu(in[0]); });
      t.add("gelu_tanh", d, dims(s), x, bound, [](OpInputs in) { return ops::gelu_tanh(in[0]); });
      t.add("clamp", d, dims(s), x, bound,
            [](OpInputs in) { return ops::clamp(in[0], -1.0f, 0.5f); });
    }
    t.add("silu", d, "transposed_6x37", {{{6, 37}, d}}, elementwise_bound(d),
          [](OpInputs in) { return ops::silu(in[0].transpose(0, 1)); });
    // UMT5's gated FFN: halves of 37 (element by element) and of 768 and 10240 (vectors).
    for (const Shape& s : {Shape{2, 3, 74}, Shape{2, 1536}, Shape{1, 5, 20480}}) {
      t.add("gelu_tanh_gate", d, dims(s), {{s, d, 2.0f}}, elementwise_bound(d),
            [](OpInputs in) { return ops::gelu_tanh_gate(in[0]); });
    }
  }

  // Binary ops take any mix of dtypes and return the first one's.
  for (DType da : kDtypes) {
    for (DType db : kDtypes) {
      for (const Shape& s : {Shape{5, 37}, Shape{2, 3, 64}}) {
        const std::string variant = "with_" + lower(db) + "_" + dims(s);
        const std::vector<Operand> ab = {{s, da}, {s, db}};
        t.add("add", da, variant, ab, elementwise_bound(da),
              [](OpInputs in) { return ops::add(in[0], in[1]); });
        t.add("mul", da, variant, ab, elementwise_bound(da),
              [](OpInputs in) { return ops::mul(in[0], in[1]); });
      }
    }
  }

  // Per-batch vectors [B, D] broadcast over the tokens of x [B, S, D], in F32 or BF16.
  for (DType dx : kDtypes) {
    for (DType dv : kDtypes) {
      for (const Shape& s : {Shape{2, 5, 37}, Shape{3, 7, 64}, Shape{1, 3, 1536}}) {
        const Shape vec{s[0], s[2]};
        t.add("modulate", dx, "vectors_" + lower(dv) + "_" + dims(s),
              {{s, dx}, {vec, dv, 0.5f}, {vec, dv, 0.5f}}, elementwise_bound(dx),
              [](OpInputs in) { return ops::modulate(in[0], in[1], in[2]); });
      }
      for (DType dg : kDtypes) {
        for (const Shape& s : {Shape{2, 5, 37}, Shape{2, 9, 128}}) {
          t.add("gated_residual", dx, "y_" + lower(dv) + "_gate_" + lower(dg) + "_" + dims(s),
                {{s, dx}, {s, dv}, {{s[0], s[2]}, dg}}, elementwise_bound(dx),
                [](OpInputs in) { return ops::gated_residual(in[0], in[1], in[2]); });
        }
      }
    }
    // The model passes chunks of its [B, 6, D] modulation tensor (F32 from the time MLP): strided
    // rows, read in place; shift and scale may come in different dtypes.
    for (int64_t D : {37, 64}) {
      const Shape s{2, 5, D}, mod{2, 6, D};
      const std::string variant = dims(s);
      const double bound = elementwise_bound(dx);
      t.add(
          "modulate", dx, "f32_mod_chunks_" + variant, {{s, dx}, {mod, kF32, 0.5f}}, bound,
          [](OpInputs in) { return ops::modulate(in[0], in[1].select(1, 3), in[1].select(1, 4)); });
      t.add("modulate", dx, "f32_shift_chunk_bf16_scale_chunk_" + variant,
            {{s, dx}, {mod, kF32, 0.5f}, {mod, kBf16, 0.5f}}, bound, [](OpInputs in) {
              return ops::modulate(in[0], in[1].select(1, 0), in[2].select(1, 1));
            });
      t.add("gated_residual", dx, "f32_mod_chunk_" + variant, {{s, dx}, {s, dx}, {mod, kF32, 0.5f}},
            bound,
            [](OpInputs in) { return ops::gated_residual(in[0], in[1], in[2].select(1, 5)); });
    }
  }

  // The schedulers' updates: Σ c_i·t_i accumulated in double, F32 latents in and out, and a BF16
  // term converted on the way. Returns the first term's dtype.
  const auto linear_combination = [](OpInputs in) {
    std::vector<std::pair<Tensor, double>> terms;
    for (size_t i = 0; i < in.size(); ++i) {
      terms.emplace_back(in[i], 0.3 * double(i) - 0.7 + 1e-3 * double(i * i));
    }
    return ops::linear_combination(terms);
  };
  for (int count : {1, 3, 8, 11}) {
    for (const Shape& s : {Shape{1, 3, 5, 7}, Shape{2, 16, 4, 8}}) {
      t.add("linear_combination", kF32, std::to_string(count) + "_terms_" + dims(s),
            std::vector<Operand>(size_t(count), Operand{s, kF32}), 1e-6, linear_combination);
    }
  }
  t.add("linear_combination", kF32, "with_a_bf16_term_3x37", {{{3, 37}, kF32}, {{3, 37}, kBf16}},
        1e-6, linear_combination);

  // linear_chain.h: a guided UniPC step as the denoising loop builds it, from bf16 cond and uncond
  // (delta and the prediction rounded to bf16) to the f32 next sample; one row per kept value.
  // delta and the prediction have ±1 and 5 as coefficients, exact in double: bit-exact.
  const auto guided_step = [](bool keep_next) {
    return [keep_next](OpInputs in) {
      ops::LinearChain chain;
      const auto c = chain.input(in[0]), u = chain.input(in[1]);
      const auto delta = chain.combine({{c, 1.0}, {u, -1.0}}, kBf16);
      const auto pred = chain.combine({{u, 1.0}, {delta, 5.0}}, kBf16);
      const auto x = chain.input(in[2]), h = chain.input(in[3]);
      const auto m = chain.combine({{x, 1.0}, {pred, -0.7}}, kF32);
      const auto corrected = chain.combine({{chain.input(in[4]), 0.9}, {m, 0.3}, {h, -0.2}}, kF32);
      const auto next = chain.combine({{corrected, 0.6}, {m, 0.5}, {h, -0.1}}, kF32);
      const auto kept = keep_next ? next : delta;
      chain.keep(kept);
      chain.run();
      return chain.result(kept);
    };
  };
  for (const Shape& s : {Shape{3, 37}, Shape{1, 16, 21, 60, 8}}) {
    const std::vector<Operand> in = {{s, kBf16}, {s, kBf16}, {s, kF32}, {s, kF32}, {s, kF32}};
    t.add("linear_chain", kBf16, "guided_delta_" + dims(s), in, kExact, guided_step(false)).out =
        kBf16;
    t.add("linear_chain", kBf16, "guided_next_" + dims(s), in, 1e-6, guided_step(true)).out = kF32;
  }
}

// ---- norm.h ------------------------------------------------------------------------------------

void norm_cases(Table& t) {
  // D = 37 (scalar, a warp per row), 64 / 1536 (vectors; warp or block), 5120 (block per row, Wan
  // 14B); 14 and 15 rows are not multiples of the four rows a block takes.
  for (DType d : kDtypes) {
    const double bound = elementwise_bound(d);
    for (int64_t D : {37, 64, 1536, 5120}) {
      const Shape ln{2, 7, D}, rms{3, 5, D};
      t.add("layer_norm", d, dims(ln), {{ln, d, 3.0f}}, bound,
            [](OpInputs in) { return ops::layer_norm(in[0], 1e-6f); });
      t.add("rms_norm", d, dims(rms), {{rms, d, 2.0f}}, bound,
            [](OpInputs in) { return ops::rms_norm(in[0], 1e-6f); });
      // Parameters in F32 (Wan's norm2 keep-list) or BF16.
      for (DType dp : kDtypes) {
        t.add("layer_norm", d, "affine_" + lower(dp) + "_" + dims(ln),
              {{ln, d, 3.0f}, {{D}, dp}, {{D}, dp}}, bound,
              [](OpInputs in) { return ops::layer_norm(in[0], 1e-6f, in[1], in[2]); });
        t.add("rms_norm", d, "weight_" + lower(dp) + "_" + dims(rms), {{rms, d, 2.0f}, {{D}, dp}},
              bound, [](OpInputs in) { return ops::rms_norm(in[0], 1e-6f, in[1]); });
      }
      // The DiT's norm before self-attention: chunks 0 and 1 of the [B, 6, D] modulation.
      for (DType dv : kDtypes) {
        const Shape s{2, 5, D}, mod{2, 6, D};
        t.add("layer_norm_modulate", d, "mod_" + lower(dv) + "_" + dims(s),
              {{s, d, 2.0f}, {mod, dv, 0.5f}}, bound, [](OpInputs in) {
                return ops::layer_norm_modulate(in[0], 1e-6f, in[1].select(1, 0),
                                                in[1].select(1, 1));
              });
      }
    }
  }
  // residual_norm.h: the DiT's residual sums made by the norm after them (x + y·gate, then the
  // affine norm2 or the next block's modulated norm1; x + y, then the FFN's modulated norm), and
  // the converse pair; the sum and the norm each a row.
  for (DType d : kDtypes) {
    for (int64_t D : {64, 1536, 5120}) {
      const Shape s{2, 5, D}, mod{2, 6, D};
      const std::vector<Operand> in3 = {{s, d, 2.0f}, {s, d}, {mod, kF32, 0.5f}};
      auto gated = [](OpInputs in) {
        return ops::residual_norm(in[0], in[1], in[2].select(1, 2),
                                  {1e-6f, in[2].select(1, 3), in[2].select(1, 4), true, false});
      };
      t.add("residual_norm", d, "gated_sum_" + dims(s), in3, elementwise_bound(d),
            [gated](OpInputs in) { return gated(in).sum; });
      t.add("residual_norm", d, "gated_modulated_" + dims(s), in3, elementwise_bound(d),
            [gated](OpInputs in) { return gated(in).normed; });
      t.add("residual_norm", d, "affine_f32_" + dims(s),
            {{s, d, 2.0f}, {s, d}, {{D}, kF32}, {{D}, kF32}}, elementwise_bound(d),
            [](OpInputs in) {
              return ops::residual_norm(in[0], in[1], Tensor(), {1e-6f, in[2], in[3], false, false})
                  .normed;
            });
      t.add("residual_norm", d, "gated_affine_f32_" + dims(s),
            {{s, d, 2.0f}, {s, d}, {mod, kF32, 0.5f}, {{D}, kF32}, {{D}, kF32}},
            elementwise_bound(d), [](OpInputs in) {
              return ops::residual_norm(in[0], in[1], in[2].select(1, 2),
                                        {1e-6f, in[3], in[4], false, false})
                  .normed;
            });
      t.add("residual_norm", d, "add_modulated_" + dims(s), in3, elementwise_bound(d),
            [](OpInputs in) {
              return ops::residual_norm(
                         in[0], in[1], Tensor(),
                         {1e-6f, in[2].select(1, 3), in[2].select(1, 4), true, false})
                  .normed;
            });
    }
  }
  // A large common offset: one-pass E[x²]−E[x]² statistics would lose the variance. F32 to 1e-4:
  // an ulp at 300 is 3e-5 of the unit spread, so the two means differ at about that level.
  t.add("layer_norm", kF32, "offset_300_5x256", {{{5, 256}, kF32, 1.0f, 300.0f}}, 1e-4,
        [](OpInputs in) { return ops::layer_norm(in[0], 1e-6f); });
}

// ---- rope.h ------------------------------------------------------------------------------------

// Tables as Wan builds them, angles s·θ_p in f32, on `device`.
std::pair<Tensor, Tensor> rope_tables(int64_t S, int64_t head_dim, Device device) {
  const int64_t P = head_dim / 2;
  Tensor cos = Tensor::empty({S, P}, kF32), sin = Tensor::empty({S, P}, kF32);
  for (int64_t s = 0; s < S; ++s) {
    for (int64_t p = 0; p < P; ++p) {
      const double angle = double(s + 1) * std::pow(10000.0, -2.0 * double(p) / double(head_dim));
      cos.f32()[size_t(s * P + p)] = float(std::cos(angle));
      sin.f32()[size_t(s * P + p)] = float(std::sin(angle));
    }
  }
  return {cos.to(device), sin.to(device)};
}

void rope_cases(Table& t) {
  // (heads, head_dim): 3×6 leaves pairs but no 16-byte vectors; 4×16 and 12×128 vectorise.
  const std::pair<int64_t, int64_t> head_shapes[] = {{3, 6}, {4, 16}, {12, 128}};
  for (const auto& head_shape : head_shapes) {
    const int64_t B = 2, S = 5, H = head_shape.first, hd = head_shape.second;
    const std::string heads = "heads_" + std::to_string(H) + "x" + std::to_string(hd);
    for (DType d : kDtypes) {
      t.add("apply_rope", d, dims({B, S, H, hd}), {{{B, S, H, hd}, d}}, elementwise_bound(d),
            [=](OpInputs in) {
              auto [cos, sin] = rope_tables(S, hd, in[0].device());
              return ops::apply_rope(in[0], cos, sin);
            });
      for (DType dw : kDtypes) {
        t.add("rms_norm_rope", d, heads + "_weight_" + lower(dw) + "_" + dims({B, S, H * hd}),
              {{{B, S, H * hd}, d, 2.0f}, {{H * hd}, dw}}, elementwise_bound(d), [=](OpInputs in) {
                auto [cos, sin] = rope_tables(S, hd, in[0].device());
                return ops::rms_norm_rope(in[0], 1e-6f, in[1], cos, sin, H);
              });
      }
    }
  }
  for (DType d : kDtypes) {
    t.add("rms_norm_rope", d, "heads_3x6_no_weight_odd_rows_1x7x18", {{{1, 7, 18}, d}},
          elementwise_bound(d), [](OpInputs in) {
            auto [cos, sin] = rope_tables(7, 6, in[0].device());
            return ops::rms_norm_rope(in[0], 1e-6f, {}, cos, sin, 3);
          });
  }
}

// ---- channels_last.h (the VAE's norm over each pixel's channels, the bias + residual add) -----

void channel_norm_cases(Table& t) {
  for (DType d : kDtypes) {
    // The last dim normalised, with and without a bias added first; rows of 16 to
    // 1024 channels (the register kernel: 1 to 32 lanes a row, a warp with idle rows, up to its
    // 128 vectors; 136 and 264 fill their lanes unevenly), of 1032 (129 vectors) and of 20 (no
    // whole vectors in BF16): the one-thread-a-row kernel.
    for (const Shape& s :
         {Shape{2, 3, 4, 5, 16}, Shape{1, 2, 3, 7, 96}, Shape{2, 3, 192}, Shape{7, 384},
          Shape{3, 136}, Shape{5, 264}, Shape{5, 1024}, Shape{3, 1032}, Shape{3, 5, 20}}) {
      for (DType dg : kDtypes) {
        const Operand gamma{{s.back(), 1, 1, 1}, dg}, bias{{s.back()}, dg};
        t.add("rms_norm_ndhwc", d, "gamma_" + lower(dg) + "_" + dims(s), {{s, d}, gamma},
              elementwise_bound(d), [](OpInputs in) { return ops::rms_norm_ndhwc(in[0], in[1]); });
        t.add("rms_norm_silu_ndhwc", d, "gamma_" + lower(dg) + "_" + dims(s), {{s, d}, gamma},
              elementwise_bound(d),
              [](OpInputs in) { return ops::rms_norm_silu_ndhwc(in[0], in[1]); });
        t.add("rms_norm_silu_ndhwc", d, "bias_" + lower(dg) + "_" + dims(s), {{s, d}, gamma, bias},
              elementwise_bound(d),
              [](OpInputs in) { return ops::rms_norm_silu_ndhwc(in[0], in[1], in[2]); });
        t.add("add_bias_residual_ndhwc", d, "bias_" + lower(dg) + "_" + dims(s),
              {{s, d}, bias, {s, d}}, elementwise_bound(d),
              [](OpInputs in) { return ops::add_bias_residual_ndhwc(in[0], in[1], in[2]); });
      }
    }
  }
}

// ---- Data movement: patchify.h, rgb8_frames.h, tensor_ops.h (concat), embedding.h (and the
// relative-position bias), channels_last.h (upsampling)

void data_movement_cases(Table& t) {
  for (DType d : kDtypes) {
    for (std::array<int, 3> patch : {std::array<int, 3>{1, 2, 2}, std::array<int, 3>{2, 1, 3}}) {
      const Shape x{2, 3, 4, 6, 6};
      const std::array<int64_t, 3> grid = {4 / patch[0], 6 / patch[1], 6 / patch[2]};
      const int64_t tokens = grid[0] * grid[1] * grid[2];
      const std::string variant =
          "patch_" + dims({patch[0], patch[1], patch[2]}) + "_of_" + dims(x);
      t.add("patchify", d, variant, {{x, d}}, kExact,
            [=](OpInputs in) { return ops::patchify(in[0], patch); });
      t.add("unpatchify", d, variant, {{{2, tokens, 3 * patch[0] * patch[1] * patch[2]}, d}},
            kExact, [=](OpInputs in) { return ops::unpatchify(in[0], grid, patch); });
    }

    // The decoded video's bytes: odd widths leave partial warps; σ 0.5 keeps most values
    // unclamped, so a byte never written (poisoned 255) shows.
    for (const Shape& video : {Shape{1, 3, 2, 3, 37}, Shape{1, 3, 5, 48, 80}}) {
      t.add("rgb8_frames", d, dims(video), {{video, d, 0.5f}}, kExact, [](OpInputs in) {
         return ops::rgb8_frames(in[0]);
       }).out = DType::U8;
    }

    for (int dim : {0, 1, 2, -1}) {
      std::vector<Operand> parts;
      for (int64_t n : {3, 1, 5}) {
        Shape s{2, 4, 7};
        s[size_t(dim < 0 ? dim + 3 : dim)] = n;
        parts.push_back({s, d});
      }
      t.add("concat", d, dim < 0 ? "dim_minus1" : "dim_" + std::to_string(dim), parts, kExact,
            [=](OpInputs in) { return ops::concat(in, dim); });
    }

    for (int64_t D : {37, 64}) {
      t.add("embedding", d, "ids_of_" + dims({11, D}), {{{11, D}, d}}, kExact, [](OpInputs in) {
        const std::vector<int32_t> ids = {3, 0, 10, 3, 7};
        return ops::embedding(in[0], ids);
      });
    }
    // Rows reordered per batch item (VSA's tile order): 16-byte rows and 3-element ones.
    for (int64_t C : {3, 64}) {
      t.add("gather_rows", d, dims({2, 9, C}), {{{2, 9, C}, d}}, kExact, [](OpInputs in) {
        Tensor rows = Tensor::empty({7}, DType::I32);
        const int32_t order[] = {8, 0, 4, 4, 2, 7, 1};
        std::copy(std::begin(order), std::end(order), rows.data<int32_t>());
        return ops::gather_rows(in[0], rows.to(in[0].device()));
      });
    }
    // UMT5's bias: 32 buckets, 5 heads, as many keys as queries and not; buckets scattered.
    for (auto [q, k] : {std::pair<int64_t, int64_t>{9, 140}, {37, 37}}) {
      t.add("relative_position_bias", d,
            "table_32x5_q" + std::to_string(q) + "_k" + std::to_string(k), {{{32, 5}, d}}, kExact,
            [q, k](OpInputs in) {
              Tensor buckets = Tensor::empty({q + k - 1}, DType::I32);
              for (int64_t r = 0; r < q + k - 1; ++r)
                buckets.data<int32_t>()[r] = int32_t(r * 7 % 32);
              return ops::relative_position_bias(in[0], buckets.to(in[0].device()), q, k);
            });
    }

    // Nearest ×2 of channels-last [B, T, H, W, C]: vectors of channels, and 5 channels (the
    // scalar path).
    for (const Shape& s : {Shape{1, 2, 3, 4, 16}, Shape{2, 1, 5, 3, 5}}) {
      t.add("upsample_nearest2x_ndhwc", d, dims(s), {{s, d}}, kExact,
            [](OpInputs in) { return ops::upsample_nearest2x_ndhwc(in[0]); });
    }
  }
  // A causal conv's stream: cached frames before new ones along T, in rows long enough for the
  // device copy's row path, and the same with the new frames a strided view.
  for (DType d : kDtypes) {
    t.add("concat", d, "frames_2_and_4_of_2x3xTx16x32",
          {{{2, 3, 2, 16, 32}, d}, {{2, 3, 4, 16, 32}, d}}, kExact,
          [](OpInputs in) { return ops::concat(in, 2); });
    t.add("concat", d, "frames_2_and_a_strided_4", {{{2, 3, 2, 16, 32}, d}, {{2, 3, 16, 4, 32}, d}},
          kExact, [](OpInputs in) {
            const Tensor parts[] = {in[0], in[1].transpose(2, 3)};
            return ops::concat(parts, 2);
          });
  }
  // Eleven strided views (transposes) and an empty input along the concatenated dim.
  std::vector<Operand> parts;
  for (int64_t i = 0; i < 11; ++i) parts.push_back({{3, 2 + i % 3, 5}, kBf16});
  parts.push_back({{5, 0, 3}, kBf16});
  t.add("concat", kBf16, "11_transposed_views_and_an_empty_input", parts, kExact, [](OpInputs in) {
    std::vector<Tensor> views;
    for (size_t i = 0; i + 1 < in.size(); ++i) views.push_back(in[i].transpose(0, 2));
    views.push_back(in.back());
    return ops::concat(views, 1);
  });
}

// ---- linear.h (cuBLASLt) -----------------------------------------------------------------------

Tensor bias_or_none(OpInputs in) { return in.size() > 2 ? in[2] : Tensor(); }

Tensor linear(OpInputs in) { return ops::linear(in[0], in[1], bias_or_none(in)); }
Tensor linear_gelu(OpInputs in) { return ops::linear_gelu(in[0], in[1], bias_or_none(in)); }

// x, weight N(0, 1/in) and, if `bias` is set, a bias N(0, 0.5²) of that dtype. cuBLASLt adds the
// bias in the output dtype, so a bias of another dtype reaches the CPU rounded to x's.
std::vector<Operand> linear_operands(const Shape& x, int64_t out, DType d,
                                     std::optional<DType> bias) {
  const int64_t in = x.back();
  std::vector<Operand> operands = {{x, d}, {{out, in}, d, float(1.0 / std::sqrt(double(in)))}};
  if (bias) operands.push_back({{out}, *bias, 0.5f, 0.0f, d});
  return operands;
}

std::string linear_variant(const Shape& x, int64_t out, std::optional<DType> bias, DType d) {
  const std::string b = !bias ? "_no_bias" : *bias == d ? "" : "_bias_" + lower(*bias);
  return dims(x) + "_to_" + std::to_string(out) + b;
}

void add_linear(Table& t, const char* op, const Shape& x, int64_t out, DType d,
                std::optional<DType> bias, double bound) {
  t.add(op, d, linear_variant(x, out, bias, d), linear_operands(x, out, d, bias), bound,
        std::string(op) == "linear" ? linear : linear_gelu);
}

void linear_cases(Table& t) {
  // Odd sizes, batch dims, a bias in the same dtype, in F32, or none.
  for (const Shape& x : {Shape{3, 37, 19}, Shape{2, 5, 129}, Shape{7, 8}}) {
    for (int64_t out : {23, 64}) {
      for (std::optional<DType> bias :
           {std::optional(kBf16), std::optional(kF32), std::optional<DType>()}) {
        add_linear(t, "linear", x, out, kBf16, bias, 1e-2);
      }
    }
  }
  // F32 is full fp32 math: TF32 would miss 1e-5 by two orders of magnitude.
  for (const Shape& x : {Shape{3, 37, 19}, Shape{257, 300}}) {
    add_linear(t, "linear", x, 129, kF32, kF32, 1e-5);
    add_linear(t, "linear", x, 129, kF32, std::nullopt, 1e-5);
  }
  // Single rows: the time MLP (fp32, 256 -> 1536) and time_proj (bf16, 1536 -> 6·1536).
  add_linear(t, "linear", {1, 256}, 1536, kF32, kF32, 1e-5);
  add_linear(t, "linear", {1, 1536}, 9216, kBf16, kBf16, 1e-2);
  add_linear(t, "linear_gelu", {1, 1, 40}, 24, kBf16, kBf16, 1e-2);
  for (const Shape& x : {Shape{3, 37, 19}, Shape{2, 65, 72}}) {
    add_linear(t, "linear_gelu", x, 45, kBf16, kBf16, 1e-2);
    add_linear(t, "linear_gelu", x, 45, kBf16, std::nullopt, 1e-2);
  }
  // The GEMM is exact fp32; the epilogue's tanh may be the hardware approximation (~5e-4).
  add_linear(t, "linear_gelu", {3, 37, 19}, 45, kF32, kF32, 1e-3);

  // Mixed inputs run in the weight's dtype: an F32 activation is rounded to BF16 on the device; a
  // BF16 activation with F32 weights (the fp32 time MLP) converts exactly and runs fp32 math.
  t.add("linear", kF32, "bf16_weight_5x33_to_17",
        {{{5, 33}, kF32, 1.0f, 0.0f, kBf16},
         {{17, 33}, kBf16, 0.2f},
         {{17}, kF32, 1.0f, 0.0f, kBf16}},
        1e-2, linear)
      .out = kBf16;
  t.add("linear", kBf16, "f32_weight_5x33_to_17",
        {{{5, 33}, kBf16}, {{17, 33}, kF32, 0.2f}, {{17}, kF32}}, 1e-5, linear)
      .out = kF32;

  for (DType d : kDtypes) {
    for (bool transpose_b : {false, true}) {
      const Shape b = transpose_b ? Shape{23, 19} : Shape{19, 23};
      t.add("matmul", d, "37x19_by_" + dims(b) + (transpose_b ? "_transposed" : ""),
            {{{37, 19}, d}, {b, d}}, matmul_bound(d),
            [=](OpInputs in) { return ops::matmul(in[0], in[1], transpose_b); });
    }
  }

  // The Wan2.1-1.3B block GEMMs (D = 1536, F = 8960) on 1000 tokens, partial tiles at the edge.
  add_linear(t, "linear", {1, 1000, 1536}, 1536, kBf16, kBf16, 1e-2);
  add_linear(t, "linear_gelu", {1, 1000, 1536}, 8960, kBf16, kBf16, 1e-2);
  add_linear(t, "linear", {1, 1000, 8960}, 1536, kBf16, kBf16, 1e-2);
  add_linear(t, "linear", {1, 1000, 1536}, 1536, kF32, kF32, 1e-5);
}

// ---- fp8_linear.h (E4M3 rows, cuBLASLt's FP8 GEMM)
// ------------------------------------------------ The weight quantized on each device by the op
// under test (the same E4M3 bytes and scales: the GPU's quantizer rounds as the CPU's,
// cuda_fp8_linear_test), then the FP8 linear. The CPU twin computes in f32 on the dequantized
// operands; the GPU accumulates FP8 products in f32 (cuBLASLt's default, exact accumulation) and
// writes bf16. Wan's shapes: 1536 -> 1536, 8960 and back.

Tensor fp8_linear(OpInputs in, bool gelu) {
  return ops::fp8_linear(in[0], ops::quantize_rows_fp8(in[1]), bias_or_none(in), gelu);
}

void fp8_linear_cases(Table& t) {
  const struct {
    Shape x;
    int64_t out;
  } shapes[] = {
      {{3, 37, 64}, 48}, {{2, 300, 1536}, 1536}, {{1, 257, 1536}, 8960}, {{1, 130, 8960}, 1536}};
  for (const auto& [x, out] : shapes) {
    for (bool gelu : {false, true}) {
      t.add(gelu ? "fp8_linear_gelu" : "fp8_linear", kBf16, linear_variant(x, out, kBf16, kBf16),
            linear_operands(x, out, kBf16, kBf16), 1e-2,
            [gelu](OpInputs in) { return fp8_linear(in, gelu); })
          .runs = 2;
    }
  }
  t.add("fp8_linear", kBf16, linear_variant({5, 33, 64}, 32, std::nullopt, kBf16),
        linear_operands({5, 33, 64}, 32, kBf16, std::nullopt), 1e-2,
        [](OpInputs in) { return fp8_linear(in, false); });
  // The norms writing FP8 rows (norm_fp8.h) through the linear that reads them: x [2, 65, 1536],
  // the modulation's shift and scale (or the affine norm's weight and bias), a 1536 -> 64 weight.
  // The GPU rounds the norm to bf16 before quantizing (the activations' dtype there), so the CPU
  // side does too: the norm, rounded, quantized, then the FP8 linear's twin.
  const Shape x{2, 65, 1536}, mod{2, 2, 1536}, w{64, 1536};
  const auto rounded = [](const Tensor& t) { return t.to(DType::BF16).to(DType::F32); };
  OpCase& modulated = t.add(
      "layer_norm_modulate_fp8", kBf16, "linear_1536_64",
      {{x, kBf16, 2.0f}, {mod, kBf16, 0.5f}, {w, kBf16, 0.03f}}, 1e-2, [rounded](OpInputs in) {
        const Tensor h =
            ops::layer_norm_modulate(in[0], 1e-6f, in[1].select(1, 0), in[1].select(1, 1));
        return ops::fp8_linear(ops::quantize_rows_fp8(rounded(h)), DType::F32,
                               ops::quantize_rows_fp8(in[2]), Tensor());
      });
  modulated.gpu_op = [](OpInputs in) {
    return ops::fp8_linear(
        ops::layer_norm_modulate_fp8(in[0], 1e-6f, in[1].select(1, 0), in[1].select(1, 1)),
        DType::BF16, ops::quantize_rows_fp8(in[2]), Tensor());
  };
  OpCase& affine =
      t.add("layer_norm_fp8", kBf16, "affine_f32_linear_1536_64",
            {{x, kBf16, 2.0f}, {{1536}, kF32}, {{1536}, kF32}, {w, kBf16, 0.03f}}, 1e-2,
            [rounded](OpInputs in) {
              return ops::fp8_linear(
                  ops::quantize_rows_fp8(rounded(ops::layer_norm(in[0], 1e-6f, in[1], in[2]))),
                  DType::F32, ops::quantize_rows_fp8(in[3]), Tensor());
            });
  affine.gpu_op = [](OpInputs in) {
    return ops::fp8_linear(ops::layer_norm_fp8(in[0], 1e-6f, in[1], in[2]), DType::BF16,
                           ops::quantize_rows_fp8(in[3]), Tensor());
  };
}

// ---- conv.h (cuDNN and the direct fallback kernel) ---------------------------------------------

// x, weight N(0, 1/fan_in) and a bias N(0, 0.5²), all in d.
std::vector<Operand> conv_operands(const Shape& x, const Shape& w, DType d, bool bias = true) {
  int64_t fan_in = 1;
  for (size_t i = 1; i < w.size(); ++i) fan_in *= w[i];
  std::vector<Operand> operands = {{x, d}, {w, d, float(1.0 / std::sqrt(double(fan_in)))}};
  if (bias) operands.push_back({{w[0]}, d, 0.5f});
  return operands;
}

OpFn conv3d_op(ops::Conv3dPadding pad) {
  return [=](OpInputs in) { return ops::conv3d(in[0], in[1], bias_or_none(in), pad); };
}

void conv_cases(Table& t) {
  struct Conv3dCase {
    const char* variant;
    Shape x, w;
    ops::Conv3dPadding pad;
    bool bias = true;
    int runs = 1;
  };
  const Conv3dCase conv3d_cases[] = {
      {"causal_3x3x3", {1, 16, 4, 12, 20}, {24, 16, 3, 3, 3}, {2, 0, 1, 1}},
      {"symmetric_pad", {1, 8, 5, 10, 10}, {8, 8, 3, 3, 3}, {1, 1, 1, 1}},
      {"pointwise", {1, 32, 3, 8, 12}, {48, 32, 1, 1, 1}, {}},
      {"time_only_kernel", {1, 16, 3, 6, 10}, {32, 16, 3, 1, 1}, {2, 0, 0, 0}},
      {"odd_sizes_causal", {1, 5, 3, 9, 11}, {7, 5, 3, 3, 3}, {2, 0, 1, 1}},
      {"odd_sizes_back_pad", {1, 5, 3, 9, 11}, {7, 5, 3, 3, 3}, {0, 2, 1, 1}},
      {"odd_sizes_1x3x3_no_bias", {1, 5, 3, 9, 11}, {7, 5, 1, 3, 3}, {0, 0, 1, 1}, false},
      {"batch_2", {2, 6, 3, 7, 9}, {10, 6, 3, 3, 3}, {2, 0, 1, 1}},
      // The same shapes three times: the cached cuDNN plan must stay right.
      {"cached_plan", {1, 12, 2, 9, 13}, {12, 12, 3, 3, 3}, {2, 0, 1, 1}, true, 3},
  };
  for (DType d : kDtypes) {
    for (const Conv3dCase& c : conv3d_cases) {
      t.add("conv3d", d, c.variant, conv_operands(c.x, c.w, d, c.bias), matmul_bound(d),
            conv3d_op(c.pad))
          .runs = c.runs;
    }
    // One time step of a longer stream, as the decoder slices its latents: a strided input.
    t.add("conv3d", d, "strided_time_slice", conv_operands({1, 8, 6, 9, 10}, {12, 8, 3, 3, 3}, d),
          matmul_bound(d), [](OpInputs in) {
            return ops::conv3d(in[0].slice(2, 2, 3), in[1], in[2], {2, 0, 1, 1});
          });
    // The fallback for configurations cuDNN declines, called directly (cuDNN takes the rows
    // above); asymmetric padding, an F32 bias.
    std::vector<Operand> direct = conv_operands({2, 5, 3, 9, 11}, {7, 5, 3, 3, 3}, d, false);
    direct.push_back({{7}, kF32});
    t.add("conv3d_direct", d, "asymmetric_pad", direct, matmul_bound(d), conv3d_op({2, 0, 1, 1}))
        .gpu_op = [](OpInputs in) {
      return ops::cuda::conv_detail::conv3d_direct(in[0], in[1], in[2], {2, 0, 1, 1, 1, 1});
    };
  }
  // The channels-last convolution (ops/channels_last.h) on the same problems: x [B, T, H, W, C],
  // weight [O, kt, kh, kw, C], the output [B, T', H', W', O].
  for (DType d : kDtypes) {
    for (const Conv3dCase& c : conv3d_cases) {
      const Shape x{c.x[0], c.x[2], c.x[3], c.x[4], c.x[1]};
      const Shape w{c.w[0], c.w[2], c.w[3], c.w[4], c.w[1]};
      t.add("conv3d_ndhwc", d, c.variant, conv_operands(x, w, d, c.bias), matmul_bound(d),
            [pad = c.pad](OpInputs in) {
              return ops::conv3d_ndhwc(in[0], in[1], bias_or_none(in), pad);
            })
          .runs = c.runs;
    }
  }
  // BF16 problems the Hopper implicit GEMM takes (conv_hopper.cu), channels-last x and weight as
  // stored: tiles cut by the frame's edges in H and W (and W = 130 past a 128-wide tile), 64 to 192
  // input channels and 16, 32 (96 and 160 end in a 32-channel step, 72 in a partly zero one),
  // 3 to 768 output channels (n-tiles of 16, 96 and 192), kernels 3x3x3, 1x3x3, 3x1x1, 3x1, 1x1x1,
  // two batch items of two output frames, more tiles than SMs with short and long K loops, a
  // causal time padding made explicit, no bias and an F32 one. On an H100/H200 each must take that
  // kernel (checked); elsewhere cuDNN.
  struct HopperCase {
    const char* variant;
    Shape x, w;
    ops::Conv3dPadding pad;
    bool bias = true;
  };
  const HopperCase hopper_cases[] = {
      {"hopper_96_edges", {1, 4, 9, 20, 96}, {96, 3, 3, 3, 96}, {0, 0, 1, 1}},
      {"hopper_192_batch_2", {2, 3, 8, 16, 64}, {192, 3, 3, 3, 64}, {0, 0, 1, 1}},
      {"hopper_384_1x3x3_no_bias", {1, 2, 7, 24, 96}, {384, 1, 3, 3, 96}, {0, 0, 1, 1}, false},
      {"hopper_768_time_conv", {1, 3, 5, 8, 72}, {768, 3, 1, 1, 72}, {}},
      {"hopper_96_pointwise_many_tiles", {1, 2, 64, 256, 96}, {96, 1, 1, 1, 96}, {}},
      {"hopper_288_many_tiles", {1, 3, 48, 128, 64}, {288, 3, 3, 3, 64}, {0, 0, 1, 1}},
      {"hopper_384_ring_wraps_batch_2", {2, 4, 40, 64, 64}, {384, 3, 3, 3, 64}, {0, 0, 1, 1}},
      {"hopper_3x1_kernel", {1, 1, 10, 24, 96}, {96, 1, 3, 1, 96}, {0, 0, 1, 0}},
      {"hopper_width_130", {1, 1, 5, 130, 64}, {96, 1, 3, 3, 64}, {0, 0, 1, 1}},
      {"hopper_192_full_chunks", {1, 3, 20, 52, 192}, {192, 3, 3, 3, 192}, {0, 0, 1, 1}},
      {"hopper_160_two_chunks_and_a_half", {1, 3, 6, 16, 160}, {96, 3, 3, 3, 160}, {0, 0, 1, 1}},
      {"hopper_causal_padding", {1, 1, 6, 16, 96}, {96, 3, 3, 3, 96}, {2, 0, 1, 1}},
      // The decoder's first and last convs: 16 input channels (one 16-channel step a tap) and
      // 3 output channels (a 16-wide n-tile, odd O: single-column stores); 32 channels; O = 8.
      {"hopper_conv_in_16", {1, 3, 6, 16, 16}, {384, 3, 3, 3, 16}, {0, 0, 1, 1}},
      {"hopper_conv_out_3", {1, 6, 9, 20, 96}, {3, 3, 3, 3, 96}, {0, 0, 1, 1}},
      {"hopper_32_channels", {1, 3, 5, 24, 32}, {96, 3, 3, 3, 32}, {0, 0, 1, 1}},
      {"hopper_8_outputs", {2, 1, 7, 16, 64}, {8, 1, 3, 3, 64}, {0, 0, 1, 1}},
      {"hopper_16_outputs_80_channels", {1, 3, 6, 16, 80}, {16, 3, 3, 3, 80}, {0, 0, 1, 1}},
      {"hopper_3_outputs_32_channels_many_tiles_no_bias",
       {2, 3, 72, 128, 32},
       {3, 3, 3, 3, 32},
       {0, 0, 1, 1},
       false},
  };
  // On an H100/H200 the problem (its time padding already explicit) must go to the Hopper kernel.
  const auto require_hopper = [](const Tensor& x, const Tensor& w, const ops::Conv3dPadding& pad) {
    const CudaDeviceInfo& info = CudaContext::get(x.device().index).info();
    if (info.major != 9 || info.minor != 0 || pad.time_front != 0 || pad.time_back != 0) return;
    FV_CHECK(ops::cuda::conv_detail::hopper_conv_applies(x, w, {0, pad.height, pad.width}),
             "the Hopper convolution does not take x ", x.describe(), ", w ", w.describe());
  };
  for (const HopperCase& c : hopper_cases) {
    t.add("conv3d_ndhwc", kBf16, c.variant, conv_operands(c.x, c.w, kBf16, c.bias),
          matmul_bound(kBf16),
          [pad = c.pad, require_hopper](OpInputs in) {
            if (!in[0].device().is_cpu()) require_hopper(in[0], in[1], pad);
            return ops::conv3d_ndhwc(in[0], in[1], bias_or_none(in), pad);
          })
        .runs = 2;
  }
  std::vector<Operand> f32_bias = conv_operands({1, 3, 6, 16, 96}, {96, 3, 3, 3, 96}, kBf16, false);
  f32_bias.push_back({{96}, kF32});
  t.add("conv3d_ndhwc", kBf16, "hopper_f32_bias", f32_bias, matmul_bound(kBf16),
        [require_hopper](OpInputs in) {
          if (!in[0].device().is_cpu()) require_hopper(in[0], in[1], {0, 0, 1, 1});
          return ops::conv3d_ndhwc(in[0], in[1], in[2], {0, 0, 1, 1});
        });
  // BF16 input with F32 weights gives BF16: the weights are rounded to BF16, the bias is not.
  t.add("conv3d", kBf16, "f32_weights",
        {{{1, 8, 3, 7, 9}, kBf16}, {{6, 8, 3, 3, 3}, kF32, 0.1f, 0.0f, kBf16}, {{6}, kF32}}, 1e-2,
        conv3d_op({2, 0, 1, 1}));
  // 3·5·7 = 105 elements per channel plane: the unvectorised bias add, with a BF16 bias.
  t.add("conv3d", kBf16, "pointwise_odd_planes",
        conv_operands({1, 4, 3, 5, 7}, {6, 4, 1, 1, 1}, kBf16), 1e-2, conv3d_op({}));
}

// ---- attention.h (cuDNN's fused SDPA, or GEMMs around an fp32 softmax) -------------------------

struct AttentionShape {
  int64_t B, H, Sq, Sk, D, Dv;
};

// "2x1000x12x128" (q), "_kv512" when Sk ≠ Sq, "_dv48" when Dv ≠ D.
std::string attention_dims(const AttentionShape& a) {
  return dims({a.B, a.Sq, a.H, a.D}) + (a.Sk != a.Sq ? "_kv" + std::to_string(a.Sk) : "") +
         (a.Dv != a.D ? "_dv" + std::to_string(a.Dv) : "");
}

struct AttentionRow {
  const char* variant;
  AttentionShape shape;
  DType dtype = kBf16;
  bool unit_scale = false;   // UMT5: unscaled scores; otherwise 1/√D
  float stddev = 1.0f;       // of q, k, v
  float bias_stddev = 0.0f;  // a bias [H, Sq, Sk] when > 0
  double bound = 1e-2;
  DType bias_dtype = kF32;  // q's dtype: cuDNN takes it where it plans one
};

void add_attention(Table& t, const AttentionRow& r) {
  const AttentionShape& a = r.shape;
  std::vector<Operand> qkv = {{{a.B, a.Sq, a.H, a.D}, r.dtype, r.stddev},
                              {{a.B, a.Sk, a.H, a.D}, r.dtype, r.stddev},
                              {{a.B, a.Sk, a.H, a.Dv}, r.dtype, r.stddev}};
  if (r.bias_stddev > 0) qkv.push_back({{a.H, a.Sq, a.Sk}, r.bias_dtype, r.bias_stddev});
  const float scale = r.unit_scale ? 1.0f : float(1.0 / std::sqrt(double(a.D)));
  t.add("attention", r.dtype, std::string(r.variant) + "_" + attention_dims(a), std::move(qkv),
        r.bound, [=](OpInputs in) {
          return ops::attention(in[0], in[1], in[2], scale, in.size() > 3 ? in[3] : Tensor());
        });
}

void attention_cases(Table& t) {
  const AttentionRow rows[] = {
      // DiT self-attention on cuDNN: sequence lengths that are no multiple of any tile size.
      {"dit_self", {1, 2, 77, 77, 128, 128}},
      {"dit_self", {2, 12, 1000, 1000, 128, 128}},
      {"dit_self", {1, 2, 4097, 4097, 128, 128}},
      {"dit_self", {2, 3, 333, 333, 128, 128}},
      // DiT cross-attention over 512 text tokens.
      {"dit_cross", {2, 12, 1000, 512, 128, 128}},
      {"dit_cross", {1, 2, 4097, 512, 128, 128}},
      {"head_dim_64", {1, 12, 300, 300, 64, 64}},
      // UMT5: unscaled scores plus a learned [H, S, S] bias shared over the batch; the GEMM path.
      {"umt5_bias", {2, 8, 77, 77, 64, 64}, kBf16, true, 1.0f, 3.0f},
      {"umt5_bias", {1, 4, 512, 512, 64, 64}, kBf16, true, 1.0f, 3.0f},
      // A bias in q's dtype (what ops::relative_position_bias gives UMT5): cuDNN where it plans
      // one (UMT5-XXL's 64 heads at 512 tokens; 77 keys are no multiple of 8: the GEMM path).
      {"umt5_bf16_bias", {2, 8, 77, 77, 64, 64}, kBf16, true, 1.0f, 3.0f, 1e-2, kBf16},
      {"umt5_bf16_bias", {1, 64, 512, 512, 64, 64}, kBf16, true, 1.0f, 3.0f, 1e-2, kBf16},
      {"umt5_bf16_bias", {2, 4, 136, 136, 64, 64}, kBf16, true, 1.0f, 3.0f, 1e-2, kBf16},
      // The VAE mid-block: one head of dim 384, which cuDNN does not take; the GEMM path.
      {"vae_single_head", {1, 1, 300, 300, 384, 384}},
      {"vae_single_head", {3, 1, 100, 100, 384, 384}},
      // F32 on the GEMM path: fp32 GEMMs (no TF32) and an fp32 softmax; only the summation order
      // differs from the CPU (to 1e-4, as before the table).
      {"gemm_path", {2, 3, 129, 65, 64, 48}, kF32, false, 1.0f, 0.0f, 1e-4},
      {"gemm_path", {1, 1, 300, 300, 384, 384}, kF32, false, 1.0f, 0.0f, 1e-4},
      {"gemm_path_bias", {2, 4, 50, 70, 32, 32}, kF32, true, 1.0f, 2.0f, 1e-4},
      // ×20 inputs push the scores into the hundreds: the softmax must subtract the row max.
      {"inputs_x20_dit", {1, 4, 1000, 1000, 128, 128}, kBf16, false, 20.0f},
      {"inputs_x20_vae", {1, 1, 300, 300, 384, 384}, kBf16, false, 20.0f},
      {"inputs_x20_bias_x20", {1, 8, 77, 77, 64, 64}, kBf16, true, 20.0f, 20.0f},
      {"inputs_x20_bf16_bias_x20",
       {1, 8, 128, 128, 64, 64},
       kBf16,
       true,
       20.0f,
       20.0f,
       1e-2,
       kBf16},
  };
  for (const AttentionRow& r : rows) add_attention(t, r);

  // q, k, v as views of one fused [B, S, 3, H, D] projection: strides (S·3HD, 3HD, D, 1).
  t.add("attention", kBf16, "strided_qkv_views_2x257x3x4x128", {{{2, 257, 3, 4, 128}, kBf16}}, 1e-2,
        [](OpInputs in) {
          return ops::attention(in[0].select(2, 0), in[0].select(2, 1), in[0].select(2, 2),
                                float(1.0 / std::sqrt(128.0)));
        });
  // UMT5's layout: a fused q/k/v projection read in place, unscaled scores, a bias in q's dtype.
  t.add("attention", kBf16, "umt5_strided_qkv_views_bf16_bias_1x128x3x8x64",
        {{{1, 128, 3, 8, 64}, kBf16}, {{8, 128, 128}, kBf16, 3.0f}}, 1e-2, [](OpInputs in) {
          return ops::attention(in[0].select(2, 0), in[0].select(2, 1), in[0].select(2, 2), 1.0f,
                                in[1]);
        });
}

}  // namespace

std::vector<OpCase> op_cases() {
  Table t;
  elementwise_cases(t);
  norm_cases(t);
  rope_cases(t);
  channel_norm_cases(t);
  data_movement_cases(t);
  linear_cases(t);
  fp8_linear_cases(t);
  conv_cases(t);
  attention_cases(t);
  return t.take();
}

}  // namespace fastvideo::testing

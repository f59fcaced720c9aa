// SageAttention2 as its Hopper recipe runs it (attention-algorithms.md §5.2–5.3, fastvideo.md
// §4.5): INT8 Q·Kᵀ with K smoothing and per-thread scales, FP8 E4M3 P̃·V with a static P̃ range and
// per-channel V scales. The CPU implementation here is the contract a Hopper kernel (CTA_Q 64,
// CTA_K 128, one warpgroup, wgmma s8·s8→s32 and e4m3·e4m3→f32) must reproduce; every choice a
// kernel could make differently is fixed below. Per (batch b, head h), tokens in sequence order:
//
// 1. K smoothing: k̄[c] = mean over the Sk keys of k[·, c] (summed in double, rounded once to f32;
//    the GPU sums chunks of 128 keys in f32 first, so its k̄ may differ in the last bits and a K
//    value sit one step apart at a rounding tie), ks = k − k̄ in f32. Exact in real arithmetic:
//    q·(k − k̄) shifts a whole softmax row by q·k̄. It removes K's channel-bias outliers before
//    INT8 sees them.
// 2. Q to INT8: q' = q · m in f32 with m = f32(scale · log2 e) (sage_q_multiplier), so that
//    q_int·k_int·q_scale·k_scale is the base-2 logit. Groups follow the wgmma m64nNk32 s32
//    accumulator fragment: query blocks of 64 rows (one M tile, 4 warps × 16 rows); in a warp's 16
//    rows, lane l holds rows l/4 and l/4 + 8, so rows i and i + 8 (i = 0..7) share a scale: 8
//    scales per 16 rows, 32 per block (sage_query_scale_index). K to INT8 the same way on ks, no
//    multiplier, in key blocks of 128 (the kernel's CTA_K); lane l holds columns 8j + 2(l%4) + {0,
//    1}, so key n of a block is in group (n % 8) / 2: 4 scales per block (sage_key_scale_index).
//    Partial last blocks use the same rule on the rows that exist; missing rows join no group.
//    Per group: scale = max|x| / 127 (f32; 1 when the group is empty or all zero), value =
//    clamp(round_half_even(x / scale), −127, 127) with x / scale an IEEE f32 division (CUDA
//    __fdiv_rn + __float2int_rn; a reciprocal multiply may land one step off at near-ties).
// 3. S[i, j] = f32(Σ_d q_int[i, d]·k_int[j, d]) · (q_scale[i] · k_scale[j]): the int32 dot product
//    is exact, the two scales multiply first (the kernel's per-thread dequantization factor).
// 4. Online softmax in base 2 over key blocks of 128 (keys [0, 128), [128, 256), ...; the last
//    one partial, its missing keys masked as −∞), per query row, m = −∞, l = 0, O = 0:
//      m_new = max(m, max_j S_j over the block's keys)
//      O ← O · exp2(m − m_new),  l ← l · exp2(m − m_new)         (the block's rescale, m_new ≥ m)
//      P̃_j = exp2(S_j − (m_new − kSageLog2PMax)) in f32, P̃ ∈ (0, ~448], 448 at the running max
//      (SageAttention subtracts 8.807, its max then 447.8; the contract is f32(log2 448) exactly)
//      l ← l + Σ_j P̃_j      over the f32 P̃, before rounding (see below)
//      T = Σ_j e4m3(P̃_j) · e4m3(v_j) in f32                      (the block's temporary)
//      O ← O + T                                                  (the f32 accumulator)
//      m ← m_new
//    The block of 128 is part of the contract: P̃ is rounded to E4M3 against the running max of
//    its block, so another block size gives other roundings. The portable kernels' contract runs
//    this step over softmax blocks of 64 (each block of 128 in two halves, the same keys and K
//    groups): their warps hold 32 query rows, so that each K and Vᵀ fragment read from shared
//    memory feeds two MMAs, and S for 32 rows x 128 keys would not fit beside O in registers. Why l
//    takes the unrounded P̃: the kernel has them in f32 registers just before packing them to FP8,
//    so the sum costs a few adds and no unpack on the softmax path that bounds a Hopper attention
//    kernel, and it is what SageAttention's sm90 kernel does (its row sum adds the f32 P̃ before the
//    FP8 conversion), so the published accuracy figures hold for this rule. The price, measured on
//    the CPU: with channel-offset q/k/v (B 2, S 200, H 3, D 128) rel-L2 against dense is 0.81% here
//    and 0.74% with l summing the rounded P̃ (whose weights then sum to exactly 1); on zero-mean
//    noise the two are equal (3.66% vs 3.64%). The one choice left to a kernel: l may instead sum
//    the block's rounded e4m3(P̃_j) (in f32 across blocks). Both Hopper kernels (dense and block
//    lists) do, reading the row sums off the tensor cores (sage_hopper.cuh accumulate_pv), which
//    took 64 adds a step off the dense one's bounding issue rate (docs/perf.md); the CPU twin and
//    the portable kernel sum the f32 P̃. The two rules differ by 0.2-0.5% rel-L2 at the test shapes
//    (simulated), well inside the kernels' 1e-2 bar. A kernel may also cut a row's key blocks into
//    contiguous ranges of whole blocks, run each range through this step from m = −∞, l = 0, O = 0
//    (its P̃ then rounded against the range's running max), and merge them in f32: M = max m_r, O =
//    Σ_r O_r · exp2(m_r − M), l = Σ_r l_r · exp2(m_r − M). The dense Hopper kernel does so for the
//    tiles of its last, partial wave (sage_tail_splits in ops/cuda/sage_kernels.h). Two-level
//    accumulation: on Hopper the e4m3 wgmma accumulates in ~22-bit precision, so each block's P̃·V
//    goes into a zeroed temporary fragment and is added to the f32 accumulator once per block. On
//    the CPU both levels are plain f32, summed in key order.
// 5. V to FP8 E4M3: per (b, h, channel c) v_scale[c] = max over all Sk tokens of |v[·, c]| / 448
//    (1 where the channel is all zero), v_fp8 = e4m3(v / v_scale) (f32 division). No V smoothing.
//    FP16 P̃·V (SageAttention2's sm80 recipe, the portable kernel without FP8 MMAs): V to FP16
//    instead, v_f16 = f16(v / v_scale) (the same scales; f32 division, round to nearest even),
//    and in step 4 P̃ rounded to FP16 (round to nearest even) where the E4M3 recipe rounds it to
//    E4M3; nothing else changes. FP16 keeps 11 bits where E4M3 keeps 4, so this recipe is the
//    more accurate one, and an A100 converts P̃ to FP16 in one instruction per pair where an exact
//    E4M3 rounding took six per value.
// 6. Epilogue: O[i, c] = (O[i, c] · v_scale[c]) / l[i] in f32 (the 448 of P̃ cancels in O / l).
//
// E4M3 and FP16: core/dtype.h (f32_to_e4m3, e4m3_to_f32, f32_to_f16, f16_to_f32).
//
// Which kernel follows which recipe (sage_recipe): Hopper's, 128-key softmax blocks and E4M3;
// the portable one with FP8 P̃·V, 64-key blocks and E4M3; with FP16 P̃·V, 64-key blocks and FP16.
//
// Layout: q, k, v [B, S, H, D] (ops/attention.h), D ∈ {64, 128} (the Hopper kernel's head dims),
// v's head dim equal to q's; Sq and Sk may differ (the backend runs self-attention only).
#pragma once

#include <cstdint>
#include <string_view>

#include "core/tensor.h"

namespace fastvideo {

inline constexpr int64_t kSageQueryBlock = 64;            // rows of one wgmma M tile (CTA_Q)
inline constexpr int64_t kSageKeyBlock = 128;             // keys per main-loop iteration (CTA_K)
inline constexpr int64_t kSagePortableSoftmaxBlock = 64;  // the portable kernel's step 4 block
inline constexpr int64_t kSageQueryScalesPerBlock = 32;   // 4 warps × 8 row pairs
inline constexpr int64_t kSageKeyScalesPerBlock = 4;      // one per lane % 4
inline constexpr float kSagePMax = kE4m3Max;
inline constexpr float kSageLog2PMax = 8.80735492f;  // f32(log2 448), step 4's offset

// Where a token's scale lives among one (batch, head)'s scales.
// Query row r: (r / 64)·32 + ((r % 64) / 16)·8 + r % 8. Key n: (n / 128)·4 + (n % 8) / 2.
int64_t sage_query_scale_index(int64_t row);
int64_t sage_key_scale_index(int64_t key);
// Scales per (batch, head) for `rows` queries / `keys` keys: whole blocks, partial ones included.
int64_t sage_query_scale_count(int64_t rows);
int64_t sage_key_scale_count(int64_t keys);

// f32(scale · log2 e): folded into q before it is quantized.
float sage_q_multiplier(float softmax_scale);

// INT8 values of q or k with their group scales.
struct SageInt8 {
  Tensor values;  // I8 [B, S, H, D]
  Tensor scales;  // F32 [B, H, sage_query_scale_count(S)] or [B, H, sage_key_scale_count(S)]
};

// How P̃ and V are rounded for P̃·V (step 5).
enum class SagePvFormat { E4m3, F16 };

// V's values in a P̃·V format with their per-channel scales.
struct SageV {
  Tensor values;  // [B, S, H, D]: F8E4M3 (f32_to_e4m3's bytes) or F16 (f32_to_f16's bits)
  Tensor scales;  // F32 [B, H, D]
};

enum class SageInt8Grouping { Query, Key };

// The GPU kernels of SAGE_ATTN (ops/cuda/sage_kernels.h), each on the contract above with its
// recipe (sage_recipe): Hopper (wgmma, sm_90 only), and the portable kernel (mma.sync) with P̃·V
// on FP8 E4M3 MMAs (sm_89+: L40S, RTX 40xx, and H100/H200 when asked for) or on FP16 MMAs (any
// sm_80+: A100, RTX 30xx).
enum class SageKernel { Automatic, Hopper, PortableFp8, PortableF16 };

// The kernel ops::sage_attention runs on a GPU of compute capability major.minor (`gpu` names it in
// errors): `wanted`, or for Automatic the fastest one there (Hopper on 9.0, PortableFp8 on 8.9,
// PortableF16 on 8.0 .. 8.8). Throws naming sm_<major><minor> where the kernel cannot run: below
// sm_80; sm_100 and newer (the Hopper kernel is sm_90a code, and the portable one has not been
// run on them); Hopper off sm_90; PortableFp8 below sm_89.
SageKernel sage_kernel_for(int major, int minor, SageKernel wanted = SageKernel::Automatic,
                           std::string_view gpu = "this GPU");

// A kernel's contract: step 4's key block and the P̃·V format.
struct SageRecipe {
  int64_t softmax_block = kSageKeyBlock;  // kSageKeyBlock or kSagePortableSoftmaxBlock
  SagePvFormat pv = SagePvFormat::E4m3;
};

// The recipe `kernel` follows (a kernel sage_kernel_for chose, not Automatic).
SageRecipe sage_recipe(SageKernel kernel);

namespace ops {

// Softmax attention on q, k, v (F32 or BF16, [B, S, H, D]) through steps 1–6 above.
// -> [B, Sq, H, D] in q's dtype. On CUDA: sm_80 .. sm_90 (sage_kernel_for), head_dim 64 or 128,
// BF16 (ops/cuda/sage_attention.cpp).
Tensor sage_attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale);

namespace cpu {

// `recipe`: the Hopper kernel's by default; sage_recipe(kernel) for the one to compare with.
Tensor sage_attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                      const SageRecipe& recipe = {});

// The pieces of sage_attention, for tests and for checking a kernel's quantization pre-pass.
// Inputs F32 or BF16 CPU tensors [B, S, H, D].

// Step 1: k − mean over tokens per (batch, head, channel), F32 [B, S, H, D].
Tensor sage_smooth_k(const Tensor& k);
// Step 2: x · multiplier quantized in Query (64-row blocks, rows i and i + 8 of 16 paired) or Key
// (128-key blocks, 4 groups by (n % 8) / 2) groups.
SageInt8 sage_quantize_int8(const Tensor& x, SageInt8Grouping grouping, float multiplier = 1.f);
// Step 5: v / scale to E4M3 or FP16 with per-(batch, head, channel) scales max|v| / 448.
SageV sage_quantize_v(const Tensor& v, SagePvFormat format = SagePvFormat::E4m3);
// Steps 3, 4 and 6 on quantized inputs (q from Query groups with the multiplier folded, k from Key
// groups): -> F32 [B, Sq, H, D]. `selected` (SageSLA's sparse branch): I32 [B, H, ceil(Sq / 64),
// topk], the 128-key blocks each 64-row query block attends to, ascending; step 4 walks those
// blocks in that order. Undefined: every block. `softmax_block` as SageRecipe's (64 only without
// `selected`); P̃ is rounded to v's format.
Tensor sage_attention_quantized(const SageInt8& q, const SageInt8& k, const SageV& v,
                                const Tensor& selected = {}, int64_t softmax_block = kSageKeyBlock);

}  // namespace cpu

namespace cuda {
Tensor sage_attention(const Tensor& q, const Tensor& k, const Tensor& v, float scale);
}  // namespace cuda

}  // namespace ops
}  // namespace fastvideo

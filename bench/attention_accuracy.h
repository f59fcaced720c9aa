// `fastvideo bench attention --accuracy` (issue 10 item 5): each self-attention backend available
// on this GPU against attention computed in double on the CPU, on q/k/v recorded from a real-size
// Wan2.1 1.3B forward with random weights (480×832×81: [1, 32760, 12, 128] BF16) at blocks 0, 15
// and 29, on block 15's inputs with a channel-bias outlier injected in K (what SageAttention's K
// smoothing exists for), and on block 15's inputs × 20 (judged on NaN/Inf alone). Prints a table
// (cosine similarity, rel-L2, worst head's rel-L2, NaN/Inf count, issue 10's bar) and returns it as
// JSON. The arithmetic (row sample, reference, metrics, the two derived cases) is
// attention_accuracy_math.h.
#pragma once

#include <array>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "attention/attention_backend.h"
#include "ops/sage_attention.h"

namespace fastvideo::bench {

// SAGE_ATTN's portable kernels (A100's FP16 P̃·V, L40S's FP8 P̃·V) as both tables name them: they
// follow SAGE_ATTN on Hopper, where all three kernels run.
inline constexpr std::array<std::pair<SageKernel, const char*>, 2> kSagePortableRows{
    {{SageKernel::PortableFp8, "SAGE_ATTN/portable-fp8"},
     {SageKernel::PortableF16, "SAGE_ATTN/portable-f16"}}};

// `wanted`: only these registry backends (empty: every available one). The rows outside the
// registry follow their backends as in the timing table where FLASH_ATTN's Hopper kernel runs
// (sm_90): FLASH_ATTN/portable, and SAGE_ATTN's portable kernels (kSagePortableRows).
nlohmann::ordered_json run_attention_accuracy(int device,
                                              const std::vector<const AttentionBackend*>& wanted);

}  // namespace fastvideo::bench

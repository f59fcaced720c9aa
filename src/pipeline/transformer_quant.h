// FastVideo's transformer_quant (generator.engine.quantization.transformer_quant, or the
// pipeline.experimental key its kwargs land in): which quantized linears the transformer runs.
// This engine has FP8 (E4M3 weights with per-channel scales, per-token activation scales:
// ops/fp8_linear.h); NVFP4 (FastVideo's nvfp4_qat for FastWan-QAD) needs Blackwell and is not in
// this version.
#pragma once

#include <string>
#include <string_view>

#include "attention/attention_device.h"

namespace fastvideo {

// "" (unset, null or "none": full-precision linears) or "FP8" (any case); anything else is an
// error naming `key` and the value.
std::string checked_transformer_quant(std::string_view value, std::string_view key);

// Refuses, before any weights load, FP8 linears (`quant` as checked_transformer_quant returns it)
// on a GPU without FP8 tensor cores (below sm_89: an A100 or an RTX 30xx), naming the setting and
// the GPU. The CPU runs them (the reference) and so does every sm_89+ GPU.
void check_transformer_quant_device(const std::string& quant, const AttentionDevice& device);

}  // namespace fastvideo

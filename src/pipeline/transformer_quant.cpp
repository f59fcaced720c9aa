#include "pipeline/transformer_quant.h"

#include <algorithm>
#include <cctype>

#include "fastvideo/error.h"

namespace fastvideo {

std::string checked_transformer_quant(std::string_view value, std::string_view key) {
  std::string upper(value);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return char(std::toupper(c)); });
  if (upper.empty() || upper == "NONE") return "";
  if (upper == "FP8") return "FP8";
  fail(key, " '", value, "': this engine quantizes the transformer's linears to FP8 only (",
       "E4M3 weights with a scale per output channel, activations per token); leave it unset for ",
       "full precision",
       upper.starts_with("NVFP4") ? " (NVFP4 needs a Blackwell GPU and is not in "
                                    "this version)"
                                  : "");
}

void check_transformer_quant_device(const std::string& quant, const AttentionDevice& device) {
  constexpr ComputeCapability kFp8{8, 9};
  FV_CHECK(quant.empty() || !device.is_gpu() || device.capability >= kFp8, "transformer_quant ",
           quant, ": FP8 linears need FP8 tensor cores (compute capability ",
           "8.9 or newer: L40S, RTX 40xx, H100/H200); ", device.describe(),
           " has none; leave transformer_quant unset on this GPU");
}

}  // namespace fastvideo

// The sampling preset of a checkpoint: what an unset request field becomes (fastvideo.md §1.6),
// e.g. for the Python package's SamplingParam.from_pretrained. Reads configs only, no weights.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace fastvideo {

struct ModelSamplingPreset {
  std::string name;  // FastVideo's preset name: "wan_t2v_1_3b", "fast_wan_t2v_480p", ...
  std::string pipeline;  // model_index.json's _class_name: "WanPipeline" or "WanDMDPipeline"
  int height = 0, width = 0, num_frames = 0, num_inference_steps = 0;
  double guidance_scale = 0, flow_shift = 0, fps = 0;
  uint64_t seed = 0;
  std::string negative_prompt;
  std::vector<int> dmd_denoising_steps;  // WanDMDPipeline only
};

// Errors name the folder or file and what is wrong with it, as from_pretrained's do.
ModelSamplingPreset model_sampling_preset(const std::filesystem::path& model_dir);

}  // namespace fastvideo

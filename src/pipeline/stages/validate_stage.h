// validate: the request completed from the model's preset and checked, field by field, before any
// work (fastvideo.md §1.3 InputValidationStage); the output path resolved and checked too
// (io/output_path.h), so a generation is never wasted on a path it cannot write.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "models/wan/wan_geometry.h"
#include "pipeline/pipeline_stage.h"
#include "pipeline/sampling_preset.h"

namespace fastvideo {

class ValidateStage final : public PipelineStage {
 public:
  // engine_parameters: what the engine records beside the request in the output's metadata
  // (backend, attention backends, model, engine version). check_attention: refuses a token grid
  // and step count the self-attention cannot run with its settings (AttentionBackend::check_step);
  // may be empty.
  using CheckAttention = std::function<void(const std::array<int64_t, 3>& token_grid, int steps)>;
  ValidateStage(const SamplingPreset& preset, const WanGeometry& geometry,
                std::vector<std::pair<std::string, std::string>> engine_parameters,
                CheckAttention check_attention = {});
  std::string_view name() const override { return "validate"; }
  void run(RequestState& state) override;

 private:
  const SamplingPreset& preset_;
  const WanGeometry& geometry_;
  std::vector<std::pair<std::string, std::string>> engine_parameters_;
  CheckAttention check_attention_;
};

}  // namespace fastvideo

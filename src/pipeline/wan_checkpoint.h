// The checkpoint folder of a Wan2.1 text-to-video model (wan21.md §5), checked to name only
// classes this engine loads before anything else is read.
#pragma once

#include <filesystem>

#include "io/checkpoint.h"
#include "models/wan/wan_presets.h"

namespace fastvideo {

// CheckpointFolder::open, then: model_index.json's _class_name is WanPipeline or WanDMDPipeline
// (FastWan: the same five components) and it lists exactly the components transformer,
// text_encoder, tokenizer, vae and scheduler, each of a class this engine loads; each component's
// own config names a class this engine loads, and a diffusers config (_class_name) the one
// model_index.json gives it. Throws naming the file, the key, the value and the accepted names.
CheckpointFolder open_wan_checkpoint(const std::filesystem::path& dir);

// The pipeline an opened checkpoint's model_index.json names (its stages follow from it).
WanPipelineKind wan_pipeline_kind(const CheckpointFolder& checkpoint);

}  // namespace fastvideo

#include "golden_files.h"

#include <filesystem>

#include "test_util.h"

namespace fastvideo::testing {

SafetensorsFile golden(const std::string& name) {
  const std::filesystem::path path = source_path("tests/goldens/" + name);
  if (!std::filesystem::exists(path)) {
    fail(path.string(), " is missing; regenerate with tools/make_goldens.sh");
  }
  return SafetensorsFile::open(path);
}

Tensor golden_f32(const SafetensorsFile& file, const std::string& name) {
  return file.tensor(name).to(DType::F32).contiguous();
}

std::vector<int32_t> golden_ids(const Tensor& ids) {
  Tensor c = ids.contiguous();
  FV_CHECK(c.dtype() == DType::I64, "ids must be I64, got ", c.describe());
  std::vector<int32_t> out(size_t(c.numel()));
  for (size_t i = 0; i < out.size(); ++i) out[i] = int32_t(c.data<int64_t>()[i]);
  return out;
}

GenerationRequest golden_generation_request(const Tensor& noise) {
  GenerationRequest r;
  r.prompt = "A red fox runs through fresh snow at dawn.";
  r.negative_prompt = "";
  r.seed = 1024;
  r.height = 64;
  r.width = 64;
  r.num_frames = 9;
  r.num_inference_steps = 4;
  r.guidance_scale = 3.0;
  r.flow_shift = 3.0;
  r.initial_latents.assign(noise.f32().begin(), noise.f32().end());
  return r;
}

}  // namespace fastvideo::testing

// The body of POST /v1/videos: OpenAI's create-video fields (model, prompt, seconds, size) and
// ours (seed, negative_prompt, num_inference_steps, guidance_scale, attention_backend), from JSON
// or from multipart/form-data (where every value is text, so numbers are read from text), checked
// one by one against the served model before the job is queued. An unknown field, a value of the
// wrong type, a size or duration the model cannot make or the server's caps (JobCaps) do not
// allow, a negative_prompt the job would not use (no classifier-free guidance: guidance_scale <= 1,
// or FastWan) is an ApiError (400) naming the field.
//
// Without a seed a job gets a random one (32 bits), which its job object reports.
//
// seconds → num_frames as Wan counts them (fastvideo.md §1.6: 81 frames are 5 s at 16 fps): the
// nearest 4n+1 to seconds·fps + 1, i.e. 4·round(seconds·fps/4) + 1.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fastvideo/video_generator.h"

namespace fastvideo::cli {

// What this server lets one job ask for (fastvideo serve --max-frames, --max-pixels, --max-steps),
// below the model's own limits; 0: no such cap.
struct JobCaps {
  int64_t max_frames = 0, max_pixels = 0, max_steps = 0;
};

struct ServedModel {
  std::string id;                    // the checkpoint folder's name, as /v1/models lists it
  std::string attention_backend;     // the self-attention backend the model was loaded with
  std::optional<double> flow_shift;  // generator.pipeline.experimental.flow_shift of --config
  JobCaps caps;
};

// A resolved request (VideoGenerator::resolve) over a cap: the request field that sets the value
// (length_field for the frames: seconds, or num_frames where the request gave that; size;
// num_inference_steps) and a message naming the value, the cap and its flag.
struct CapExceeded {
  std::string field, message;
};
std::optional<CapExceeded> exceeded_cap(
    const std::vector<std::pair<std::string, std::string>>& resolved, const JobCaps& caps,
    const std::string& length_field = "seconds");

struct VideoRequest {
  GenerationRequest generation;
  std::string seconds, size;  // as the job object reports them ("5", "832x480")
};

// fields: the body as a JSON object; text_form: its values came from a form, all strings.
VideoRequest parse_video_request(const nlohmann::json& fields, bool text_form,
                                 const ServedModel& model, const VideoGenerator& generator);

// The frames of a clip of `seconds` at `fps`, by the rule above.
int frames_for_seconds(double seconds, double fps);

}  // namespace fastvideo::cli

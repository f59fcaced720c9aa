#include "video_request.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <sstream>

#include "api_error.h"
#include "fastvideo/attention_backends.h"

namespace fastvideo::cli {

namespace {

using nlohmann::json;

constexpr const char* kFields[] = {"model",
                                   "prompt",
                                   "seconds",
                                   "num_frames",
                                   "fps",
                                   "size",
                                   "seed",
                                   "negative_prompt",
                                   "num_inference_steps",
                                   "guidance_scale",
                                   "attention_backend"};
// Fields of OpenAI's API this server refuses by name rather than ignore.
const std::map<std::string, std::string> kRefusedFields = {
    {"input_reference",
     "input_reference (image-to-video) is not supported: the served model is text-to-video"},
    {"remix_video_id", "remixing a video is not supported"},
};

// Long values are cut in messages: an error echoes what it refuses, not a megabyte of it.
std::string shown(const json& value) {
  std::string text = value.is_string() ? value.get<std::string>() : value.dump();
  if (text.size() > 80) text = text.substr(0, 80) + "...";
  return text;
}

class Fields {
 public:
  Fields(const json& body, bool text_form) : body_(body), text_form_(text_form) {}

  bool has(const char* name) const { return body_.contains(name); }

  std::string text(const char* name) const {
    const json& v = body_.at(name);
    if (!v.is_string()) throw wrong_type(name, "a string");
    return v.get<std::string>();
  }

  double number(const char* name) const {
    const json& v = body_.at(name);
    if (v.is_number()) return v.get<double>();
    if (v.is_string() && text_form_) {
      const std::string s = v.get<std::string>();
      double d = 0;
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
      if (ec == std::errc() && end == s.data() + s.size() && !s.empty()) return d;
    }
    throw wrong_type(name, "a number");
  }

  // An integer in [min, max]; JSON's 3.0 is not one.
  uint64_t integer(const char* name, uint64_t min, uint64_t max) const {
    const json& v = body_.at(name);
    const ApiError out_of_range =
        invalid_field(name, str_cat(name, "=", shown(v), " must be in [", min, ", ", max, "]"));
    uint64_t value = 0;
    if (v.is_number_unsigned()) {
      value = v.get<uint64_t>();
    } else if (v.is_number_integer()) {  // negative
      throw out_of_range;
    } else if (v.is_number_float() && std::abs(v.get<double>()) >= 0x1p64) {
      throw out_of_range;  // a whole number past 64 bits, which JSON parsing leaves as a double
    } else if (v.is_string() && text_form_) {
      const std::string s = v.get<std::string>();
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
      if (ec == std::errc::result_out_of_range || (!s.empty() && s[0] == '-')) throw out_of_range;
      if (ec != std::errc() || end != s.data() + s.size() || s.empty()) {
        throw wrong_type(name, "an integer");
      }
    } else {
      throw wrong_type(name, "an integer");
    }
    if (value < min || value > max) throw out_of_range;
    return value;
  }

  // "5", 5 or 5.5; a string in JSON as OpenAI sends it, or a number.
  std::pair<double, std::string> seconds() const {
    const json& v = body_.at("seconds");
    double d = 0;
    std::string written;
    if (v.is_number()) {
      d = v.get<double>();
      written = v.dump();
    } else if (v.is_string()) {
      written = v.get<std::string>();
      auto [end, ec] = std::from_chars(written.data(), written.data() + written.size(), d);
      if (ec != std::errc() || end != written.data() + written.size() || written.empty()) {
        throw invalid_field(
            "seconds", str_cat("seconds='", shown(v), "' is not a number of seconds (e.g. \"5\")"));
      }
    } else {
      throw wrong_type("seconds", "a string or a number of seconds");
    }
    // An hour is far past any model's positional range; the bound keeps seconds·fps an int.
    if (!std::isfinite(d) || d <= 0 || d > 3600) {
      throw invalid_field("seconds", str_cat("seconds=", shown(v), " must be in (0, 3600]"));
    }
    return {d, written};
  }

 private:
  ApiError wrong_type(const char* name, const char* expected) const {
    const json& v = body_.at(name);
    return invalid_field(
        name,
        str_cat(name, " must be ", expected, ", got ",
                v.is_string() ? "'" + shown(v) + "'" : shown(v),
                v.is_null() ? " (leave the field out for the model's default)" : ""),
        "invalid_type");
  }

  const json& body_;
  bool text_form_;
};

// "832x480" → (width 832, height 480), each a positive integer without sign, spaces or leading
// zeros (run files refuse 064 too: YAML 1.1 reads it as octal).
std::pair<int, int> parse_size(const std::string& size) {
  const size_t x = size.find('x');
  auto number = [](std::string_view s, int& out) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return !s.empty() && s[0] != '-' && s[0] != '+' && s[0] != '0' && ec == std::errc() &&
           end == s.data() + s.size() && out > 0;
  };
  int width = 0, height = 0;
  if (x == std::string::npos || !number(std::string_view(size).substr(0, x), width) ||
      !number(std::string_view(size).substr(x + 1), height)) {
    throw invalid_field("size", str_cat("size='", size.substr(0, 80),
                                        "' is not WIDTHxHEIGHT in pixels (e.g. \"832x480\")"));
  }
  return {width, height};
}

std::string parameter(const std::vector<std::pair<std::string, std::string>>& parameters,
                      const std::string& name) {
  for (const auto& [key, value] : parameters) {
    if (key == name) return value;
  }
  fail("the engine's resolved request has no '", name, "'");
}

}  // namespace

std::optional<CapExceeded> exceeded_cap(
    const std::vector<std::pair<std::string, std::string>>& resolved, const JobCaps& caps,
    const std::string& length_field) {
  const auto value = [&](const char* name) { return std::stoll(parameter(resolved, name)); };
  const int64_t frames = value("num_frames"), width = value("width"), height = value("height");
  const int64_t steps = value("num_inference_steps");
  if (caps.max_frames > 0 && frames > caps.max_frames) {
    return CapExceeded{length_field, str_cat(frames, " frames (at ", parameter(resolved, "fps"),
                                          " fps) are over this server's limit of ", caps.max_frames,
                                          " (fastvideo serve --max-frames)")};
  }
  if (caps.max_pixels > 0 && width * height > caps.max_pixels) {
    return CapExceeded{"size", str_cat(width, "x", height, " is ", width * height,
                                       " pixels a frame, over this server's limit of ",
                                       caps.max_pixels, " (fastvideo serve --max-pixels)")};
  }
  if (caps.max_steps > 0 && steps > caps.max_steps) {
    return CapExceeded{"num_inference_steps",
                       str_cat(steps, " denoising steps are over this server's limit of ",
                               caps.max_steps, " (fastvideo serve --max-steps)")};
  }
  return std::nullopt;
}

int frames_for_seconds(double seconds, double fps) {
  return 4 * int(std::lround(seconds * fps / 4)) + 1;
}

VideoRequest parse_video_request(const json& body, bool text_form, const ServedModel& model,
                                 const VideoGenerator& generator) {
  if (!body.is_object()) {
    throw ApiError(400, "invalid_json", "the body must be a JSON object of the video's fields");
  }
  for (const auto& [name, value] : body.items()) {
    if (auto refused = kRefusedFields.find(name); refused != kRefusedFields.end()) {
      throw invalid_field(name, refused->second, "unsupported_parameter");
    }
    if (std::find(std::begin(kFields), std::end(kFields), name) == std::end(kFields)) {
      std::string accepted;
      for (const char* field : kFields)
        accepted += (accepted.empty() ? "" : ", ") + std::string(field);
      throw invalid_field(name, str_cat("unknown field '", shown(name), "'; accepted: ", accepted),
                          "unknown_parameter");
    }
  }
  const Fields fields(body, text_form);
  if (!fields.has("prompt")) {
    throw invalid_field("prompt", "prompt is required", "missing_required_parameter");
  }
  if (fields.has("model") && fields.text("model") != model.id) {
    throw invalid_field(
        "model",
        str_cat("model '", shown(body["model"]), "' is not served here; this server runs '",
                model.id, "' (GET /v1/models)"),
        "model_not_found");
  }
  // Backend names are matched without regard to case, as the flag and the variable match them.
  const auto same_name = [](std::string_view a, std::string_view b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
      return std::toupper(static_cast<unsigned char>(x)) ==
             std::toupper(static_cast<unsigned char>(y));
    });
  };
  if (fields.has("attention_backend") &&
      !same_name(fields.text("attention_backend"), model.attention_backend)) {
    if (!is_attention_backend_name(fields.text("attention_backend"))) {
      throw invalid_field("attention_backend",
                          str_cat("attention_backend '", shown(body["attention_backend"]),
                                  "' is not an attention backend (", attention_backend_names(),
                                  "); this server runs ", model.attention_backend));
    }
    throw invalid_field(
        "attention_backend",
        str_cat("attention_backend '", shown(body["attention_backend"]), "': this server runs ",
                model.attention_backend,
                " and cannot change it per request (the backend is chosen when the model loads: "
                "fastvideo serve --attention-backend)"),
        "unsupported_value");
  }

  // Each field is added to the request and the request checked by the engine, so that what the
  // engine refuses is blamed on the field that brought it in.
  VideoRequest request;
  GenerationRequest& g = request.generation;
  g.flow_shift = model.flow_shift;
  auto check = [&](const char* param, const std::string& context = "") {
    try {
      return generator.resolve(g);
    } catch (const Error& e) {
      // The engine's messages name the CLI's flags; a client sends fields.
      std::string message = e.what();
      const std::string flag = " (--prompt \"...\")";
      for (size_t at; (at = message.find(flag)) != std::string::npos;)
        message.erase(at, flag.size());
      throw invalid_field(param, context + message);
    }
  };
  // Empty, or only whitespace (Unicode's too), is the engine's to say, as for every front end.
  g.prompt = fields.text("prompt");
  check("prompt");
  if (fields.has("negative_prompt")) {
    g.negative_prompt = fields.text("negative_prompt");
    check("negative_prompt");
  }
  if (fields.has("size")) {
    request.size = fields.text("size");
    std::tie(g.width, g.height) = parse_size(request.size);
    check("size");
  }
  // FastVideo's own request fields for the length: fps first, so that seconds count at it.
  if (fields.has("fps")) {
    g.fps = fields.number("fps");
    check("fps");
  }
  if (fields.has("num_frames")) {
    if (fields.has("seconds")) {
      throw invalid_field("num_frames",
                          "num_frames and seconds both give the video's length; give one");
    }
    g.num_frames = int(fields.integer("num_frames", 1, 100000));
    check("num_frames");
  }
  if (fields.has("seconds")) {
    const auto [seconds, written] = fields.seconds();
    request.seconds = written;
    const double fps = std::stod(parameter(check("seconds"), "fps"));
    g.num_frames = frames_for_seconds(seconds, fps);
    check("seconds", str_cat("seconds=", written, " at the model's ", fps, " fps is ",
                             *g.num_frames, " frames: "));
  }
  if (fields.has("num_inference_steps")) {
    g.num_inference_steps = int(fields.integer("num_inference_steps", 1, 1000));
    check("num_inference_steps");
  }
  if (fields.has("guidance_scale")) {
    g.guidance_scale = fields.number("guidance_scale");
    check("guidance_scale");
  }
  if (fields.has("seed")) {
    g.seed = fields.integer("seed", 0, std::numeric_limits<uint64_t>::max());
    check("seed");
  } else {
    // OpenAI's API makes a new video per call: without a seed each job draws one (its job object
    // says which), where generate and Python keep FastVideo's fixed default.
    static std::mutex mutex;
    static std::mt19937_64 draw{std::random_device{}()};
    std::lock_guard lock(mutex);
    g.seed = draw() >> 32;
  }
  const auto resolved = check("prompt");
  // Without classifier-free guidance a negative prompt is never encoded. The engine only warns
  // (FastVideo's FastWan run files set one), on the server's stderr, which a client never sees: a
  // request is answered instead, as guidance_scale > 1 on FastWan is. After every field, so that
  // the answer does not depend on the order of negative_prompt and guidance_scale.
  if (fields.has("negative_prompt") && std::stod(parameter(resolved, "guidance_scale")) <= 1.0) {
    const bool dmd = parameter(resolved, "pipeline") == "WanDMDPipeline";
    throw invalid_field(
        "negative_prompt",
        dmd ? "negative_prompt is not used: the WanDMDPipeline (FastWan) runs one conditional "
              "transformer pass per step and no classifier-free guidance; leave negative_prompt out"
            : str_cat("negative_prompt is not used: guidance_scale=",
                      parameter(resolved, "guidance_scale"),
                      " runs one pass per step, without classifier-free guidance; leave "
                      "negative_prompt out or set guidance_scale above 1"),
        "unsupported_parameter");
  }
  // serve refuses to start with caps below the model's defaults, so a field the request left out
  // is never the one over a cap.
  if (const auto over = exceeded_cap(resolved, model.caps,
                                     fields.has("num_frames") ? "num_frames" : "seconds")) {
    const std::string given = over->field == "seconds" ? str_cat("seconds=", request.seconds, ": ")
                              : over->field == "num_frames"
                                  ? str_cat("num_frames=", *g.num_frames, ": ")
                              : over->field == "size" ? str_cat("size=", request.size, ": ")
                                                      : std::string();
    throw invalid_field(over->field, given + over->message, "over_limit");
  }
  if (request.size.empty()) {
    request.size = parameter(resolved, "width") + "x" + parameter(resolved, "height");
  }
  if (request.seconds.empty()) {
    std::ostringstream os;
    os << (std::stod(parameter(resolved, "num_frames")) - 1) /
              std::stod(parameter(resolved, "fps"));
    request.seconds = os.str();
  }
  return request;
}

}  // namespace fastvideo::cli

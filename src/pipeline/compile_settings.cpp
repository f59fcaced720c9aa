#include "pipeline/compile_settings.h"

#include <array>
#include <string_view>

namespace fastvideo {

namespace {

// torch.compile's values that ask for what our compile mode does (video_generator.h).
constexpr std::array<std::string_view, 3> kModes = {"default", "reduce-overhead", "max-autotune"};
constexpr std::array<std::string_view, 2> kBackends = {"inductor", "cudagraphs"};

template <size_t N>
bool one_of(const std::string& value, const std::array<std::string_view, N>& accepted) {
  for (std::string_view a : accepted)
    if (value == a) return true;
  return false;
}

template <size_t N>
std::string listed(const std::array<std::string_view, N>& accepted) {
  std::string out;
  for (std::string_view a : accepted) out += (out.empty() ? "'" : ", '") + std::string(a) + "'";
  return out;
}

bool any_set(const TorchCompileKwargs& k) {
  return !k.mode.empty() || !k.backend.empty() || k.fullgraph || k.dynamic;
}

}  // namespace

std::optional<std::string> check_compile_settings(const GeneratorOptions& options, Device device) {
  const TorchCompileKwargs& k = options.torch_compile_kwargs;
  if (!options.enable_torch_compile) {
    FV_CHECK(!any_set(k),
             "torch_compile_kwargs are set, but enable_torch_compile is off; turn it "
             "on (--enable-torch-compile, generator.engine.compile.enabled) to compile");
    FV_CHECK(!options.compile_text_encoder && !options.compile_vae,
             options.compile_text_encoder ? "text_encoder_enabled" : "vae_enabled",
             " is set, but enable_torch_compile is off");
    return std::nullopt;
  }
  FV_CHECK(!(options.compile_text_encoder && options.text_encoder_cpu_offload.value_or(false)),
           "compile.text_encoder_enabled and text_encoder_cpu_offload do not go together: "
           "streaming copies UMT5's weights in during each encode, which a captured CUDA graph "
           "cannot replay; turn one of them off");
  for (const auto& [name, value] : {std::pair{"mode", k.mode}, std::pair{"backend", k.backend}}) {
    const std::string problem = torch_compile_kwarg_problem(name, value);
    FV_CHECK(problem.empty(), "torch_compile_kwargs ", problem);
  }
  FV_CHECK(!device.is_cpu(),
           "enable_torch_compile (generator.engine.compile.enabled, "
           "--enable-torch-compile): compile mode captures CUDA graphs and the device is ",
           device.name(), "; run on a GPU (device=cuda, --device cuda) or without compile mode");
  return "cuda-graphs" + (k.mode.empty() ? std::string() : " (mode " + k.mode + ")") +
         (options.compile_text_encoder ? ", text encoder too" : "") +
         (options.compile_vae ? ", VAE too" : "");
}

void check_compile_backend(const AttentionBackend& self_attention) {
  const std::string_view why = self_attention.why_not_replayable();
  FV_CHECK(why.empty(), "enable_torch_compile (generator.engine.compile.enabled, ",
           "--enable-torch-compile) with ", self_attention.name(),
           ": compile mode replays each denoising step as a CUDA graph, and ",
           self_attention.name(), " cannot be replayed (", why,
           ") in this version; turn compile mode off or choose another self-attention backend");
}

std::string torch_compile_kwarg_problem(std::string_view name, const std::string& value) {
  if (value.empty()) return "";
  if (name == "mode" && !one_of(value, kModes)) {
    return str_cat("mode '", value,
                   "' is not one this engine runs; compile mode here replays CUDA "
                   "graphs, which ",
                   listed(kModes), " ask for (or leave it unset)");
  }
  if (name == "backend" && !one_of(value, kBackends)) {
    return str_cat("backend '", value, "' is not one this engine has; its compile mode stands for ",
                   listed(kBackends), " (or leave it unset)");
  }
  return "";
}

}  // namespace fastvideo

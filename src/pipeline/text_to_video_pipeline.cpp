#include "pipeline/text_to_video_pipeline.h"

#include <unistd.h>

#include <chrono>
#include <set>

#include "attention/attention_device.h"
#include "core/env.h"
#include "core/torch_random.h"
#include "fastvideo/log.h"
#include "io/video_writer.h"
#include "models/umt5/umt5_encoder.h"
#include "models/wan/vae/video_frames.h"
#include "ops/elementwise.h"
#include "pipeline/cfg_gate.h"
#include "pipeline/compute_device.h"
#include "pipeline/stage_clock.h"
#include "pipeline/wan_checkpoint.h"
#include "schedulers/make_scheduler.h"
#include "tokenizer/t5_tokenizer.h"

namespace fastvideo {

namespace {

// Fails before any work when the output cannot be written (DESIGN: no wasted generation, no
// partial files).
void check_output_path(const std::filesystem::path& out, bool overwrite) {
  if (out.empty()) return;
  video_format_for(out);  // rejects unknown extensions by name
  if (std::filesystem::exists(out) && !overwrite) {
    fail(out.string(), " exists; pass --overwrite to replace it");
  }
  std::filesystem::path dir = out.has_parent_path() ? out.parent_path() : ".";
  if (!std::filesystem::is_directory(dir))
    fail(out.string(), ": directory ", dir.string(), " does not exist");
  if (::access(dir.c_str(), W_OK) != 0)
    fail(out.string(), ": directory ", dir.string(), " is not writable");
}

DType text_encoder_dtype(const std::string& precision, Device device) {
  FV_CHECK(precision == "bf16" || precision == "fp32", "text encoder precision '", precision,
           "' is not valid (expected bf16 or fp32)");
  // wan21.md §3.2: diffusers runs UMT5 in bf16; the CPU backend computes in f32 only.
  return device.is_cpu() || precision == "fp32" ? DType::F32 : DType::BF16;
}

std::string format_double(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

}  // namespace

TextToVideoPipeline::TextToVideoPipeline(const std::filesystem::path& model_dir,
                                         const GeneratorOptions& options)
    : model_dir_(model_dir),
      options_(options),
      device_(parse_compute_device(options.device)),
      weight_dtype_(device_.is_cpu() ? DType::F32 : DType::BF16),
      text_encoder_dtype_(text_encoder_dtype(options.text_encoder_precision, device_)),
      checkpoint_(open_wan_checkpoint(model_dir)),
      preset_(
          sampling_preset_for(WanTransformerConfig::from_json(checkpoint_.config("transformer")))) {
  // Every config is checked against its weights before any weights load.
  const auto dit_config = WanTransformerConfig::from_checkpoint(checkpoint_);
  const auto vae_config = WanVaeConfig::from_checkpoint(checkpoint_);
  text_encoder_config_ = Umt5Config::from_checkpoint(checkpoint_);
  attention_ = select_attention_backends(
      options_.attention_backend, env_string(kAttentionBackendEnv), attention_device_for(device_),
      {dit_config.attention_head_dim, weight_dtype_});
  log::info("attention backends: ", attention_.describe());
  tokenizer_ = std::make_unique<T5Tokenizer>(T5Tokenizer::load(checkpoint_.path("tokenizer")));

  // wan21.md §1.2: on a GPU the transformer is bf16 except its f32 keep-list.
  const std::set<std::string> dit_fp32 = wan_transformer_fp32_names(dit_config);
  transformer_ = std::make_unique<WanTransformer>(
      dit_config,
      load_component(checkpoint_.path("transformer"), wan_transformer_specs(dit_config),
                     weight_dtype_, device_, &dit_fp32),
      *attention_.self, *attention_.cross);

  vae_ = std::make_unique<WanVaeDecoder>(
      vae_config,
      load_component(checkpoint_.path("vae"), wan_vae_specs(vae_config), weight_dtype_, device_));
  if (options_.keep_text_encoder) load_text_encoder();
}

TextToVideoPipeline::~TextToVideoPipeline() = default;

void TextToVideoPipeline::load_text_encoder() {
  if (text_encoder_) return;
  text_encoder_ = std::make_unique<Umt5Encoder>(
      text_encoder_config_,
      load_component(checkpoint_.path("text_encoder"), umt5_encoder_specs(text_encoder_config_),
                     text_encoder_dtype_, device_));
}

std::array<int64_t, 3> TextToVideoPipeline::token_grid(const Shape& latent_shape) const {
  const auto& patch = transformer_->config().patch_size;
  return {latent_shape[2] / patch[0], latent_shape[3] / patch[1], latent_shape[4] / patch[2]};
}

Tensor TextToVideoPipeline::encode_prompt(const std::string& prompt, int max_length) {
  const std::vector<int32_t> ids = tokenizer_->encode(prompt, max_length);
  // wan21.md §3.3: encoder on the real tokens, zero rows up to 512 for the transformer.
  return text_encoder_->encode_padded(ids, 512);
}

GenerationResult TextToVideoPipeline::run(const GenerationRequest& request,
                                          VideoGenerator::ProgressFn progress,
                                          void* progress_user) {
  GenerationResult result;
  auto& stages = result.stages;
  ResolvedRequest r;
  {
    StageClock clock(stages, "validate");
    r = resolve_request(request, preset_);
    check_output_path(request.output_path, request.overwrite);
  }
  const JsonFile scheduler_config = checkpoint_.config("scheduler");
  auto scheduler = make_scheduler(options_.scheduler, r.flow_shift, &scheduler_config);
  scheduler->set_timesteps(r.num_inference_steps);
  const int num_timesteps = int(scheduler->timesteps().size());

  WanTransformer::TextContext cond_text, uncond_text;
  {
    StageClock clock(stages, "encode_text", device_);
    load_text_encoder();
    cond_text = transformer_->prepare_text(encode_prompt(r.prompt, r.max_sequence_length));
    if (r.do_cfg()) {
      uncond_text =
          transformer_->prepare_text(encode_prompt(r.negative_prompt, r.max_sequence_length));
    }
    if (!options_.keep_text_encoder) text_encoder_.reset();  // its memory goes back now
  }

  Tensor latents;
  {
    StageClock clock(stages, "prepare_latents", device_);
    // wan21.md §4.1; noise exactly as torch.Generator("cpu").manual_seed(seed) + randn (fp32),
    // drawn on the host and copied once to the device. The latents stay f32 there.
    const Shape shape = {1, 16, r.latent_frames(), r.height / 8, r.width / 8};
    if (request.initial_latents.empty()) {
      latents = torch_randn(shape, r.seed);
    } else {
      FV_CHECK(int64_t(request.initial_latents.size()) == shape_numel(shape),
               "initial_latents has ", request.initial_latents.size(),
               " values; the request needs ", shape_str(shape));
      latents = Tensor::from_vector(request.initial_latents, shape);
    }
    latents = latents.to(device_);
  }

  CfgGate gate(r.cfg_gate_step, r.guidance_scale, num_timesteps);
  {
    StageClock clock(stages, "denoise", device_);
    for (int i = 0; i < num_timesteps; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      const double t = scheduler->timesteps()[size_t(i)];
      const double ts[] = {t};
      // One metadata per step, shared by every layer and by both CFG branches.
      const auto attention_metadata = attention_.self->build_metadata(
          {.step = i, .timestep = t, .grid = token_grid(latents.shape())});
      Tensor cond = transformer_->forward(latents, ts, cond_text, attention_metadata.get());
      ++result.transformer_forwards;
      Tensor uncond;
      if (gate.needs_uncond(i)) {
        uncond = transformer_->forward(latents, ts, uncond_text, attention_metadata.get());
        ++result.transformer_forwards;
      }
      // wan21.md §4.1: CFG in the transformer's output dtype; the scheduler upcasts.
      Tensor velocity = gate.combine(i, cond, uncond);
      // One flag back from the device per step; the latents themselves stay there.
      FV_CHECK(ops::all_finite(velocity), "denoising step ", i, " (t=", t,
               ") produced NaN or Inf in the transformer output");
      latents = scheduler->step(velocity, i, latents);
      const double dt =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (progress) progress(i + 1, num_timesteps, dt, progress_user);
    }
    if (gate.do_cfg()) {
      log::info("CFG gate: fraction ", r.cfg_gate_step, ", gate step ",
                std::min(gate.gate_step(), num_timesteps), ", fresh uncond ", gate.fresh(),
                ", reused ", gate.reused());
    }
  }
  result.uncond_fresh = gate.fresh();
  result.uncond_reused = gate.reused();
  result.latent_shape = latents.shape();
  const Tensor final_latents = latents.to(Device::cpu()).to(DType::F32).contiguous();
  result.final_latents.assign(final_latents.f32().begin(), final_latents.f32().end());

  Video video;
  {
    StageClock clock(stages, "decode", device_);
    // wan21.md §4.1: the latents go to the VAE in its dtype; the frames come back to the host.
    const Tensor decoded = vae_->decode(latents.to(weight_dtype_));
    video = frames_from_decoder(decoded.to(Device::cpu()), r.fps);
  }

  result.parameters = {
      {"prompt", r.prompt},
      {"negative_prompt", r.negative_prompt},
      {"seed", std::to_string(r.seed)},
      {"num_frames", std::to_string(r.num_frames)},
      {"height", std::to_string(r.height)},
      {"width", std::to_string(r.width)},
      {"num_inference_steps", std::to_string(r.num_inference_steps)},
      {"guidance_scale", format_double(r.guidance_scale)},
      {"flow_shift", format_double(r.flow_shift)},
      {"cfg_gate_step", format_double(r.cfg_gate_step)},
      {"fps", format_double(r.fps)},
      {"scheduler", scheduler->name()},
      {"backend", device_.name()},
      {"attention_backend_self", std::string(attention_.self->name())},
      {"attention_backend_cross", std::string(attention_.cross->name())},
      {"model", model_dir_.filename().empty() ? model_dir_.parent_path().filename().string()
                                              : model_dir_.filename().string()},
      {"preset", r.preset},
      {"engine", "fastvideo-cpp 0.1.0"}};
  if (!request.output_path.empty()) {
    StageClock clock(stages, "write");
    VideoMetadata metadata;
    for (auto& [k, v] : result.parameters) metadata.entries[k] = v;
    write_video(video, request.output_path, metadata, request.overwrite);
    result.output_path = request.output_path;
  }
  result.frames = video.frames;
  result.height = video.height;
  result.width = video.width;
  result.fps = video.fps;
  result.rgb = std::move(video.rgb);
  return result;
}

}  // namespace fastvideo

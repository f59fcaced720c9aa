// VideoGenerator: the public API as a thin owner of the pipeline.
#include "fastvideo/video_generator.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/compute_device.h"
#include "io/load_stop.h"
#include "io/output_path.h"
#include "io/video_writer.h"
#include "io/y4m_video.h"
#include "pipeline/stage_clock.h"
#include "pipeline/text_to_video_pipeline.h"

namespace fastvideo {

struct VideoGenerator::Impl {
  std::unique_ptr<TextToVideoPipeline> pipeline;
  StageReport load;
  // One generation at a time: the pipeline's models, stop flag and progress callback are shared
  // by its runs. `running` is the thread inside generate(), so a call from its own progress
  // callback is refused instead of waiting for itself.
  std::mutex run;
  std::atomic<std::thread::id> running{};
};

// A generator going away while another thread generates with it: the run is stopped (as
// request_stop) and waited for, so it never outlives the models it uses. From the run's own
// thread (its progress callback) no wait can end: that is a bug to stop at once, not to hang on.
void VideoGenerator::retire(std::unique_ptr<Impl> impl) noexcept {
  if (!impl) return;
  if (impl->running.load() == std::this_thread::get_id()) {
    std::fprintf(stderr,
                 "fastvideo: a VideoGenerator was destroyed from its own progress callback, "
                 "inside the generation that uses it\n");
    std::abort();
  }
  // Also when no run has said it started: a thread may hold `run` and not have said so yet. The
  // flag left behind goes with the pipeline.
  impl->pipeline->stop().request();
  const std::lock_guard lock(impl->run);
}

VideoGenerator::VideoGenerator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
VideoGenerator::VideoGenerator(VideoGenerator&&) noexcept = default;
VideoGenerator& VideoGenerator::operator=(VideoGenerator&& other) noexcept {
  if (this != &other) {
    retire(std::move(impl_));
    impl_ = std::move(other.impl_);
  }
  return *this;
}
VideoGenerator::~VideoGenerator() { retire(std::move(impl_)); }

VideoGenerator::Impl& VideoGenerator::impl() const {
  FV_CHECK(impl_ != nullptr,
           "this VideoGenerator was moved from; use the generator it was moved into");
  return *impl_;
}

VideoGenerator VideoGenerator::from_pretrained(const std::filesystem::path& path,
                                               const GeneratorOptions& options) {
  auto impl = std::make_unique<Impl>();
  reset_peak_resident();
  const auto start = std::chrono::steady_clock::now();
  const LoadStopScope stop_scope(options.stop_requested);
  impl->pipeline = std::make_unique<TextToVideoPipeline>(path, options);
  const std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - start;
  impl->load = {"load", seconds.count(), peak_resident_bytes(),
                device_peak_bytes(impl->pipeline->device())};
  return VideoGenerator(std::move(impl));
}

GenerationResult VideoGenerator::generate(const GenerationRequest& request) {
  Impl& impl = this->impl();
  FV_CHECK(impl.running.load() != std::this_thread::get_id(),
           "VideoGenerator::generate() called from its own progress callback; a generator runs "
           "one generation at a time (use another generator, or generate after this one returns)");
  const std::lock_guard lock(impl.run);
  impl.running = std::this_thread::get_id();
  struct Leave {
    std::atomic<std::thread::id>& running;
    ~Leave() { running = std::thread::id(); }
  } leave{impl.running};
  return impl.pipeline->run(request);
}

std::vector<std::pair<std::string, std::string>> VideoGenerator::resolve(
    const GenerationRequest& request) const {
  return impl().pipeline->resolve(request);
}

const StageReport& VideoGenerator::load_report() const { return impl().load; }

void VideoGenerator::set_progress(ProgressFn fn, void* user) {
  Impl& impl = this->impl();
  FV_CHECK(impl.running.load() != std::this_thread::get_id(),
           "VideoGenerator::set_progress() called from its own progress callback; it takes "
           "effect from the next generate(): call it before that one");
  // Between runs only: a run keeps the callback it started with from its first step to its last.
  const std::lock_guard lock(impl.run);
  impl.pipeline->progress() = {fn, user};
}

void VideoGenerator::request_stop() noexcept {
  if (impl_) impl_->pipeline->stop().request();
}

void VideoGenerator::drop_pending_stop() noexcept {
  if (impl_) impl_->pipeline->stop().clear();
}

std::filesystem::path metadata_file_beside(const std::filesystem::path& output) {
  if (!names_a_video_file(output) || video_format_for(output) != VideoFormat::Y4m) return {};
  return y4m_metadata_path(output);
}

bool output_is_a_folder_to_name_in(const std::filesystem::path& output) {
  return !output.empty() && names_a_folder(output);
}

std::filesystem::path frame_folder_written_for(const std::filesystem::path& output) {
  if (output.empty() || names_a_folder(output) ||
      video_format_for(output) != VideoFormat::PngFolder)
    return {};
  return output.has_filename() ? output : output.parent_path();
}

std::string GenerationResult::summary_json() const {
  nlohmann::ordered_json j;
  for (auto& [k, v] : parameters) j["parameters"][k] = v;
  double total = 0;
  for (auto& s : stages) {
    j["stages"].push_back({{"name", s.name},
                           {"seconds", s.seconds},
                           {"peak_bytes", s.peak_bytes},
                           {"peak_device_bytes", s.peak_device_bytes}});
    total += s.seconds;
  }
  j["total_seconds"] = total;
  j["transformer_forwards"] = transformer_forwards;
  j["uncond_fresh"] = uncond_fresh;
  j["uncond_reused"] = uncond_reused;
  j["compile_seconds"] = compile_seconds;
  j["graph_replays"] = graph_replays;
  j["frames"] = frames;
  j["height"] = height;
  j["width"] = width;
  if (!output_path.empty()) j["output_path"] = output_path.string();
  // A path need not be UTF-8 (a folder named in Latin-1): its stray bytes are written as U+FFFD
  // instead of failing after the video was made (API audit).
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace fastvideo

// _fastvideo_cpp: the engine's public API (include/fastvideo) as seen from Python. The FastVideo
// surface (keyword names, request mappings, the progress bar, Ctrl-C) lives in the fastvideo_cpp
// package's Python files; this module only moves values across: run configurations parsed by the
// same code as the CLI's (run_config.h), generation with the GIL released, and results whose
// frames NumPy views without a copy.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/filesystem.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "fastvideo/error.h"
#include "fastvideo/run_config.h"
#include "fastvideo/sampling_preset.h"
#include "fastvideo/video_generator.h"
#include "random_checkpoint/random_checkpoint.h"

namespace nb = nanobind;
using namespace nb::literals;

namespace fastvideo {
namespace {

// The Python callable the progress function forwards to, with the GIL taken for the call.
struct ProgressTarget {
  nb::object callable;
  VideoGenerator* generator;
  std::optional<nb::python_error> error;  // what the callable raised, raised again by generate
};

void forward_progress(int step, int total, double seconds_per_step, void* user) {
  auto* target = static_cast<ProgressTarget*>(user);
  nb::gil_scoped_acquire gil;
  if (target->error) return;
  try {
    target->callable(step, total, seconds_per_step);
  } catch (nb::python_error& e) {
    // Raising through the engine would unwind its frames with a Python error pending: stop the
    // generation instead, and raise this error once generate returns.
    target->error.emplace(std::move(e));
    target->generator->request_stop();
  }
}

// A generator loaded once; generate() may be called from any Python thread, request_stop() from
// any other while it runs.
class Generator {
  // Loads without the GIL (real checkpoints are gigabytes), taking it between tensors to run
  // Python's signal handlers: Ctrl-C raises KeyboardInterrupt while loading, not after it.
  static VideoGenerator load(const std::filesystem::path& model, const RunConfig& config) {
    std::optional<nb::python_error> raised;
    GeneratorOptions options = config.options;
    options.stop_requested = [&raised] {
      nb::gil_scoped_acquire gil;
      if (PyErr_CheckSignals() == 0) return false;
      raised.emplace();  // takes the handler's exception
      return true;
    };
    try {
      nb::gil_scoped_release release;
      return VideoGenerator::from_pretrained(model, options);
    } catch (const Cancelled&) {
      if (raised) throw std::move(*raised);
      throw;
    }
  }

 public:
  Generator(const std::filesystem::path& model, const RunConfig& config)
      : generator_(load(model, config)) {}

  GenerationResult generate(const RunConfig& config, nb::object callback) {
    GenerationRequest request = config.request;
    request.output_path = config.output();
    ProgressTarget target{callback, &generator_, std::nullopt};
    try {
      // Without the GIL: set_progress waits for another thread's generation, whose callback may
      // need the GIL. Python callers take turns, each with its own callback for its whole run.
      nb::gil_scoped_release release;
      // The turn's own thread (its progress callback) would wait for itself.
      FV_CHECK(turn_owner_.load() != std::this_thread::get_id(),
               "VideoGenerator::generate() called from its own progress callback; a generator "
               "runs one generation at a time (use another generator, or generate after this one "
               "returns)");
      const std::lock_guard turn(turn_mutex_);
      turn_owner_ = std::this_thread::get_id();
      struct LeaveTurn {
        std::atomic<std::thread::id>& owner;
        ~LeaveTurn() { owner = std::thread::id(); }
      } leave_turn{turn_owner_};
      generator_.set_progress(callback.is_none() ? nullptr : forward_progress, &target);
      struct ClearProgress {
        VideoGenerator& g;
        ~ClearProgress() { g.set_progress(nullptr, nullptr); }
      } clear{generator_};
      struct Running {
        Generator& g;
        explicit Running(Generator& g) : g(g) { g.set_running(true); }
        ~Running() { g.set_running(false); }
      } running(*this);
      return generator_.generate(request);
    } catch (const Cancelled&) {
      if (target.error) throw *target.error;  // the callback's error, not the stop it caused
      throw;
    }
  }

  // Only while a generation runs: the engine would keep a stop asked for between generations for
  // the next one, and a Ctrl-C that lands just as a generation ends must not cancel the next.
  void request_stop() noexcept {
    std::lock_guard lock(running_mutex_);
    if (running_) generator_.request_stop();
  }

 private:
  // Starting, a stop left set is one asked for as the last generation ended (its end had cleared
  // the flag, running_ was still true): it would stop this one at once (a flaky test found it).
  void set_running(bool running) {
    std::lock_guard lock(running_mutex_);
    if (running) generator_.drop_pending_stop();
    running_ = running;
  }

  VideoGenerator generator_;
  std::mutex turn_mutex_;  // held by a Python call from setting its callback to clearing it
  std::atomic<std::thread::id> turn_owner_{};
  std::mutex running_mutex_;
  bool running_ = false;
};

// frames as a (F, H, W, 3) uint8 array over the result's own buffer: `owner` (the Python result
// object) keeps it alive, so no copy is made however often it is read.
nb::ndarray<nb::numpy, uint8_t, nb::ndim<4>> frames_view(GenerationResult& r, nb::handle owner) {
  const size_t shape[4] = {size_t(r.frames), size_t(r.height), size_t(r.width), 3};
  return {r.rgb.data(), 4, shape, owner};
}

double total_seconds(const GenerationResult& r) {
  double total = 0;
  for (const StageReport& s : r.stages) total += s.seconds;
  return total;
}

}  // namespace
}  // namespace fastvideo

NB_MODULE(_fastvideo_cpp, m) {
  using namespace fastvideo;
  m.doc() = "fastvideo-cpp's public C++ API; use the fastvideo_cpp package, not this module.";
  // A script ended by an uncaught error (Ctrl-C's KeyboardInterrupt first) keeps its generator
  // alive in the traceback past this module's teardown; nanobind would call that a leak.
  nb::set_leak_warnings(false);

  // Engine errors name the setting and what was expected; Cancelled is a stop on request;
  // OutOfDeviceMemory names the stage and the switch that would help (docs/memory.md).
  static nb::exception<Error> error(m, "FastVideoError", PyExc_RuntimeError);
  static nb::exception<Cancelled> cancelled(m, "Cancelled", error.ptr());
  static nb::exception<OutOfDeviceMemory> out_of_memory(m, "OutOfDeviceMemory", error.ptr());

  nb::class_<RunConfig>(m, "RunConfig")
      .def(nb::init<>())
      .def("__copy__", [](const RunConfig& c) { return RunConfig(c); })
      .def(
          "apply_yaml",
          [](RunConfig& c, const std::string& text, const std::string& origin) {
            apply_config_text(text, origin, c);
          },
          "text"_a, "origin"_a,
          "Applies a YAML/JSON document of FastVideo's run schema (run_config.h).")
      .def_prop_ro("model_path",
                   [](const RunConfig& c) -> std::optional<std::string> {
                     if (!c.model_path) return std::nullopt;
                     return c.model_path->string();
                   })
      .def_prop_ro("prompt", [](const RunConfig& c) { return c.request.prompt; })
      .def_prop_ro("prompt_path",
                   [](const RunConfig& c) -> std::optional<std::string> {
                     if (!c.prompt_path) return std::nullopt;
                     return c.prompt_path->string();
                   })
      .def_prop_ro("attention_backend",
                   [](const RunConfig& c) { return c.options.attention_backend; })
      .def("set_attention_backend",
           [](RunConfig& c, const std::string& name) { c.options.attention_backend = name; })
      .def("set_prompt", [](RunConfig& c, const std::string& p) { c.request.prompt = p; })
      .def("clear_prompt_path", [](RunConfig& c) { c.prompt_path.reset(); })
      .def(
          "output", [](const RunConfig& c) { return c.output().string(); },
          "Where the video goes ('' for none), as FastVideo's output_path rules give it.");

  nb::class_<StageReport>(m, "StageReport")
      .def_ro("name", &StageReport::name)
      .def_ro("seconds", &StageReport::seconds)
      .def_ro("peak_bytes", &StageReport::peak_bytes)
      .def_ro("peak_device_bytes", &StageReport::peak_device_bytes)
      .def("__repr__", [](const StageReport& s) {
        return nb::str("StageReport({!r}, seconds={:.4f})").format(s.name, s.seconds);
      });

  nb::class_<GenerationResult>(m, "GenerationResult")
      .def_prop_ro(
          "frames",
          [](nb::handle self) { return frames_view(*nb::inst_ptr<GenerationResult>(self), self); },
          "(F, H, W, 3) uint8 RGB frames, a view of the result's buffer (no copy).")
      .def_ro("fps", &GenerationResult::fps)
      .def_prop_ro("output_path", [](const GenerationResult& r) { return r.output_path.string(); })
      .def_ro("stages", &GenerationResult::stages)
      .def_ro("parameters", &GenerationResult::parameters)
      .def_ro("transformer_forwards", &GenerationResult::transformer_forwards)
      .def_ro("compile_seconds", &GenerationResult::compile_seconds,
              "compile mode's one-time cost paid in this generation (graph captures)")
      .def_ro("graph_replays", &GenerationResult::graph_replays)
      .def_prop_ro("total_seconds", &total_seconds)
      .def("summary_json", &GenerationResult::summary_json);

  nb::class_<Generator>(m, "Generator")
      .def(nb::init<const std::filesystem::path&, const RunConfig&>(), "model_path"_a, "config"_a)
      .def("generate", &Generator::generate, "config"_a, "callback"_a = nb::none(),
           "Runs one request with the GIL released; raises Cancelled after request_stop().")
      .def("request_stop", &Generator::request_stop,
           "Stops the generation in progress at its next step; safe from any thread.");

  nb::class_<ModelSamplingPreset>(m, "ModelSamplingPreset")
      .def_ro("name", &ModelSamplingPreset::name)
      .def_ro("pipeline", &ModelSamplingPreset::pipeline)
      .def_ro("height", &ModelSamplingPreset::height)
      .def_ro("width", &ModelSamplingPreset::width)
      .def_ro("num_frames", &ModelSamplingPreset::num_frames)
      .def_ro("num_inference_steps", &ModelSamplingPreset::num_inference_steps)
      .def_ro("guidance_scale", &ModelSamplingPreset::guidance_scale)
      .def_ro("flow_shift", &ModelSamplingPreset::flow_shift)
      .def_ro("fps", &ModelSamplingPreset::fps)
      .def_ro("seed", &ModelSamplingPreset::seed)
      .def_ro("negative_prompt", &ModelSamplingPreset::negative_prompt)
      .def_ro("dmd_denoising_steps", &ModelSamplingPreset::dmd_denoising_steps);
  m.def("model_sampling_preset", &model_sampling_preset, "model_path"_a);
  m.def("read_prompt_file", &read_prompt_file, "path"_a);
  m.def(
      "frame_folder_written_for",
      [](const std::string& output) { return frame_folder_written_for(output).string(); },
      "output"_a, "The PNG-frame folder a run with this output writes ('' for none).");

  // The tiny Wan2.1 model the CLI generates with when no model is given (docs/tiny-model.md).
  m.def("default_tiny_model", [] { return ensure_default_tiny_model().string(); });
  m.def("write_tiny_model", &write_tiny_model, "dir"_a, "seed"_a = 0, "overwrite"_a = false);
}

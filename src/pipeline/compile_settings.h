// The compile switch's settings (GeneratorOptions::enable_torch_compile, torch_compile_kwargs,
// compile_text_encoder, compile_vae; FastVideo's names), checked before any weights load.
#pragma once

#include <optional>
#include <string>

#include "attention/attention_backend.h"
#include "core/device.h"
#include "fastvideo/video_generator.h"

namespace fastvideo {

// Errors name the field and value: a kwarg this engine has no counterpart for, kwargs or component
// switches set while enable_torch_compile is off, compile mode on the CPU, compiling UMT5 while it
// streams. Returns what the output's metadata records ("cuda-graphs", with the mode asked for and
// whether UMT5 and the VAE are compiled), or nothing when compile mode is off.
std::optional<std::string> check_compile_settings(const GeneratorOptions& options, Device device);

// Refuses compile mode with a self-attention backend whose steps cannot be replayed as CUDA
// graphs (AttentionBackend::why_not_replayable), naming the backend and why: rather than running
// it eagerly while the output says compiled.
void check_compile_backend(const AttentionBackend& self_attention);

// "" when torch.compile's `mode` or `backend` value `value` is one this engine runs (empty: unset),
// else why not, naming the value and the accepted ones. The run-configuration keys check each
// value where it is set, so that a value dit_kwargs then replaces is still checked.
std::string torch_compile_kwarg_problem(std::string_view name, const std::string& value);

}  // namespace fastvideo

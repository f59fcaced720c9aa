// Prompts to text embeddings for the DiT (wan21.md §3.3): the T5 tokenizer and the UMT5 encoder,
// loaded on first use and released after each generation unless kept (its weights are the largest
// of the checkpoint after the 14B transformer).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "core/device.h"
#include "core/dtype.h"
#include "core/tensor.h"
#include "io/checkpoint.h"
#include "models/umt5/umt5_encoder.h"
#include "tokenizer/t5_tokenizer.h"

namespace fastvideo {

// The checkpoint's tokenizer gives no id past the text encoder's embedding rows: a piece past them
// would fail only for the prompts that use it (QA fuzzing: one extra piece let "a cat" run and "a
// fox" fail naming no file). The error names both files.
void check_tokenizer_fits(const T5Tokenizer& tokenizer, const Umt5Config& config,
                          const CheckpointFolder& checkpoint);

class PromptEncoder {
 public:
  // config: the text encoder's, checked against its weights. dtype: the UMT5 weights' (f32 on the
  // CPU; bf16 or f32 on a GPU). keep: hold the weights between generations instead of loading
  // them each time.
  // stream: text_encoder_cpu_offload (the weights stay in the checkpoint's files and stream to
  // the device a layer at a time while encoding; Umt5Encoder's streaming constructor).
  // compile: compile.text_encoder_enabled (Umt5Encoder::enable_compile; not with stream).
  PromptEncoder(const CheckpointFolder& checkpoint, Umt5Config config, Device device, DType dtype,
                bool keep, bool stream = false, bool compile = false);
  ~PromptEncoder();

  // [1, text_length, d_model]: the encoder's output on the real tokens (at most max_tokens of
  // them, EOS included), zero rows up to text_length. A longer prompt is cut, with a warning that
  // names it as `what` ("prompt", "negative prompt").
  Tensor encode(const std::string& prompt, int max_tokens, int64_t text_length,
                std::string_view what = "prompt");

  // Gives the encoder's memory back unless it is kept.
  void release_unless_kept();

  // Compile mode's cost and replays over every encoder this object has held (a released encoder's
  // graphs go with it, and the next one captures anew).
  CompileStats compile_stats() const;

 private:
  void load();

  const CheckpointFolder& checkpoint_;
  Umt5Config config_;
  Device device_;
  DType dtype_;
  bool keep_;
  bool stream_;
  bool compile_;
  T5Tokenizer tokenizer_;
  std::unique_ptr<Umt5Encoder> encoder_;
  CompileStats released_stats_;  // of the encoders released so far
};

}  // namespace fastvideo

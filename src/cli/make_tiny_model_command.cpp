// fastvideo make-tiny-model DIR [--config tiny|1.3b|14b|fastwan|fastwan-1.3b]
// [--text-encoder-dtype f32|bf16] --seed N: a Wan2.1 checkpoint with random weights in the
// diffusers layout, tiny (docs/tiny-model.md) or at a real size (wan21.md §0, §5) for load, memory
// and speed measurements; the fastwan configs write FastWan's layout (WanDMDPipeline, VSA gates).
#include <cstdio>

#include "commands.h"
#include "random_checkpoint/random_checkpoint.h"
#include "stop_on_signal.h"

namespace fastvideo::cli {

Action add_make_tiny_model_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "make-tiny-model",
      "Write a Wan2.1 checkpoint with random weights in the diffusers layout (tiny or real size)");
  struct Flags {
    std::string dir, config = "tiny", text_encoder_dtype, transformer_dtype;
    uint64_t seed = 0;
    bool overwrite = false;
  };
  auto f = std::make_shared<Flags>();
  cmd->add_option("DIR", f->dir, "output folder")->required();
  cmd->add_option("--config", f->config,
                  "tiny (default, docs/tiny-model.md), 1.3b or 14b (real configs; 1.3b with an "
                  "F32 text encoder is 28.9 GB); fastwan (tiny) or fastwan-1.3b: FastWan2.1's "
                  "layout (WanDMDPipeline, VSA gate weights)")
      ->check(CLI::IsMember({"tiny", "1.3b", "14b", "fastwan", "fastwan-1.3b"}));
  cmd->add_option("--text-encoder-dtype", f->text_encoder_dtype,
                  "stored UMT5 dtype: f32 or bf16 (default: bf16 for the tiny sizes, f32 for the "
                  "real ones as the real repos)")
      ->check(CLI::IsMember({"f32", "bf16"}));
  cmd->add_option("--transformer-dtype", f->transformer_dtype,
                  "stored transformer dtype for the real sizes: f32 (default, as the real repos) "
                  "or bf16 (the 14B transformer in 28 GB instead of 57)")
      ->check(CLI::IsMember({"f32", "bf16"}));
  cmd->add_option("--seed", f->seed, "weight seed, 0 .. 2^64-1 (same seed, same bytes)")
      ->check(seed_range());
  cmd->add_flag("--overwrite", f->overwrite, "replace an existing folder");
  return [f] {
    // SIGINT/SIGTERM: the folder being written goes (a real size is tens of GB), then exit 130/143.
    StopOnSignal stop;
    try {
      write_random_checkpoint(f->dir, {.size = f->config,
                                       .seed = f->seed,
                                       .text_encoder_dtype = f->text_encoder_dtype,
                                       .transformer_dtype = f->transformer_dtype,
                                       .overwrite = f->overwrite,
                                       .stop_requested = [&stop] { return stop.signal() != 0; }});
    } catch (const Cancelled& e) {
      std::fprintf(stderr, "fastvideo: %s, on %s; nothing written\n", e.what(), stop.signal_name());
      return 128 + stop.signal();
    }
    std::printf("%s\n", f->dir.c_str());
    return 0;
  };
}

}  // namespace fastvideo::cli

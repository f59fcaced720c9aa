// FastVideo's run configuration (include/fastvideo/run_config.h): one table of keys behind the
// YAML file, the dotted overrides and the direct flags, so a value means the same on every
// surface; every wrong key, duplicate, type, range or unsupported request is refused by name.
#include "fastvideo/run_config.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/parse_number.h"
#include "fastvideo/log.h"
#include "test_util.h"
#include "tiny_model_fixture.h"

namespace fastvideo {
namespace {

namespace fs = std::filesystem;

using testing::error_of;

RunConfig from_yaml(const std::string& text) {
  static int n = 0;
  const fs::path path = testing::temp_dir("run-config") / ("run" + std::to_string(n++) + ".yaml");
  std::ofstream(path) << text;
  RunConfig config;
  apply_config_file(path, config);
  return config;
}

std::string yaml_error(const std::string& text) {
  return error_of([&] { from_yaml(text); });
}

using testing::contains;

// A key is set once per source, whatever its spelling: a dotted key beside its mapping, FastVideo's
// other name beside the current one, a key twice inside a value's own mapping (QA fuzzing: the
// later one won without a word each time).
TEST(RunConfig, AKeySetTwiceUnderAnySpellingIsRefused) {
  for (const auto& [text, message] : std::vector<std::pair<std::string, std::string>>{
           {"request:\n  prompt: x\n  sampling: {seed: 1}\n  sampling.seed: 2\n",
            "key 'request.sampling.seed' appears twice"},
           {"request.sampling.seed: 5\nrequest:\n  prompt: x\n  sampling:\n    seed: 6\n",
            "request.sampling.seed"},
           {"generator:\n  pipeline:\n    flow_shift: 7\n    experimental:\n      flow_shift: 3\n",
            "keys 'generator.pipeline.flow_shift' and 'generator.pipeline.experimental.flow_shift' "
            "both set generator.pipeline.experimental.flow_shift"},
           {"generator:\n  engine:\n    compile:\n      dit_kwargs: {mode: default, mode: "
            "max-autotune}\n",
            "key 'generator.engine.compile.dit_kwargs.mode' appears twice"},
           {"request:\n  prompt: a\n  prompt: b\n", "key 'request.prompt' appears twice"}}) {
    const std::string e = yaml_error(text);
    EXPECT_TRUE(contains(e, message)) << text << " -> " << e;
  }
  // The generator's default flow_shift is checked when read, before any model loads.
  EXPECT_TRUE(contains(yaml_error("generator:\n  pipeline:\n    flow_shift: -1\n"),
                       "has value '-1', which is not in (0, 100]"));
  EXPECT_EQ(run_config_key("generator.pipeline.flow_shift"),
            "generator.pipeline.experimental.flow_shift");
  EXPECT_EQ(run_config_key("request.sampling.seed"), "request.sampling.seed");
  // FastVideo's two places for one setting (review).
  EXPECT_TRUE(contains(yaml_error("generator:\n  pipeline:\n    vae_tiling: true\n    "
                                  "experimental:\n      vae_tiling: false\n"),
                       "both set generator.pipeline.vae_tiling"));
  EXPECT_EQ(run_config_key("generator.pipeline.experimental.transformer_quant"),
            "generator.engine.quantization.transformer_quant");
}

// A quoted string that never closes is refused where it starts; yaml-cpp took the rest of the file
// into it (QA fuzzing: the prompt swallowed the sampling section, and the run went on with the
// defaults). Closed ones, with escapes, '' and line breaks inside, read as before.
TEST(RunConfig, AQuotedStringThatNeverClosesIsRefused) {
  const std::string e =
      yaml_error("request:\n  prompt: \"A red fox\n  sampling:\n    num_frames: 5\n");
  EXPECT_TRUE(contains(e,
                       "line 2, column 11: the double-quoted string that starts here never "
                       "closes"))
      << e;
  EXPECT_TRUE(contains(yaml_error("request:\n  prompt: 'it''s a fox\n"),
                       "single-quoted string that starts here never closes"));
  EXPECT_EQ(from_yaml("request:\n  prompt: \"a \\\"quoted\\\" fox\"\n").request.prompt,
            "a \"quoted\" fox");
  EXPECT_EQ(from_yaml("request:\n  prompt: 'it''s a\n    fox'\n").request.prompt, "it's a fox");
  EXPECT_EQ(from_yaml("{\"request\": {\"prompt\": \"a fox\"}}").request.prompt, "a fox");
  // A quote behind an anchor or a tag is checked too; a byte-order mark (yaml-cpp does not count
  // it in its positions) and CRLF lines leave closed quotes alone (review).
  EXPECT_TRUE(
      contains(yaml_error("request:\n  prompt: &p \"A red fox\n  seed: 1\n"), "never closes"));
  EXPECT_TRUE(
      contains(yaml_error("request:\n  prompt: !!str \"A red fox\n  seed: 1\n"), "never closes"));
  EXPECT_EQ(from_yaml("\xEF\xBB\xBF{\"request\": {\"prompt\": \"a fox\", \"sampling\": "
                      "{\"seed\": 42}}}")
                .request.prompt,
            "a fox");
  EXPECT_EQ(from_yaml("\xEF\xBB\xBFrequest:\r\n  prompt: \"a fox\"\r\n  sampling:\r\n    "
                      "seed: 3\r\n")
                .request.seed,
            std::optional<uint64_t>(3));
  // An alias into its own node nests without end, and nine aliases a level for ten levels name
  // 9^10 nodes: each node is checked once, so both are refused by the key table at once (review:
  // the first crashed, the second took about an hour).
  EXPECT_TRUE(contains(yaml_error("request: &x {prompt: a, sampling: *x}\n"),
                       "unknown key 'request.sampling.prompt'"));
  EXPECT_TRUE(contains(yaml_error("generator: &x [*x]\n"), "expects a mapping"));
  std::string laughs = "x_defs:\n  l0: &l0 [\"lol\"]\n";
  for (int level = 1; level <= 10; ++level) {
    laughs += str_cat("  l", level, ": &l", level, " [");
    for (int i = 0; i < 9; ++i) laughs += str_cat(i ? ", " : "", "*l", level - 1);
    laughs += "]\n";
  }
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(contains(yaml_error(laughs), "unknown key 'x_defs'"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30)) << "a hang";
}

// A quoted or tagged scalar is not read as a number or a boolean (QA fuzzing: seed: "12" ran as
// 12, --torch-compile-kwargs '{"fullgraph": "yes"}' as true); a string key still takes one.
TEST(RunConfig, QuotedOrTaggedValuesAreNotNumbersOrBooleans) {
  for (const auto& [text, message] : std::vector<std::pair<std::string, std::string>>{
           {"request:\n  sampling:\n    seed: \"12\"\n", "'12', written as a string"},
           {"request:\n  sampling:\n    seed: !!float 1024\n", "tagged tag:yaml.org,2002:float"},
           {"request:\n  sampling:\n    guidance_scale: '5.0'\n", "'5.0', written as a string"},
           {"generator:\n  engine:\n    compile:\n      enabled: \"true\"\n",
            "write true or false without quotes"}}) {
    const std::string e = yaml_error(text);
    EXPECT_TRUE(contains(e, message)) << text << " -> " << e;
  }
  EXPECT_EQ(from_yaml("request:\n  prompt: \"12\"\n").request.prompt, "12");
}

// Bug 5: an explicit empty negative prompt means "none" on every surface.
TEST(RunConfig, AnEmptyNegativePromptStaysEmptyFromYamlFlagAndOverride) {
  EXPECT_EQ(from_yaml("request:\n  negative_prompt: \"\"\n").request.negative_prompt, "");
  RunConfig flag;
  apply_setting("request.negative_prompt", "", flag);
  EXPECT_EQ(flag.request.negative_prompt, "");
  RunConfig override_;
  apply_override("request.negative_prompt", "", override_);
  EXPECT_EQ(override_.request.negative_prompt, "");
  EXPECT_FALSE(RunConfig{}.request.negative_prompt.has_value()) << "unset means the preset's";
}

TEST(RunConfig, VaeTilingFromEitherOfFastVideosKeys) {
  EXPECT_FALSE(RunConfig{}.options.vae_tiling);
  EXPECT_TRUE(from_yaml("generator:\n  pipeline:\n    vae_tiling: true\n").options.vae_tiling);
  EXPECT_TRUE(from_yaml("generator:\n  pipeline:\n    experimental:\n      vae_tiling: true\n")
                  .options.vae_tiling);
}

// FastVideo's run files of its layout without the experimental section (QA audit: its
// inference_wan_VSA.yaml at ecb15bf was refused) name four keys elsewhere; they set the same
// values, and a wrong value names the key as written.
TEST(RunConfig, FastVideosOtherKeyLayoutIsRead) {
  const RunConfig c = from_yaml(
      "generator:\n  engine:\n    attention:\n      vsa_sparsity: 0.9\n"
      "      moba_config_path: vmoba.json\n"
      "  pipeline:\n    flow_shift: 5.0\n    dmd_denoising_steps: [1000, 757, 522]\n");
  EXPECT_EQ(c.options.vsa_sparsity, 0.9);
  EXPECT_EQ(c.options.moba_config_path, "vmoba.json");
  EXPECT_EQ(c.request.flow_shift, 5.0);
  EXPECT_EQ(c.options.dmd_denoising_steps, (std::vector<int>{1000, 757, 522}));
  const std::string m =
      yaml_error("generator:\n  engine:\n    attention:\n      vsa_sparsity: 1.5\n");
  EXPECT_TRUE(contains(m,
                       "generator.engine.attention.vsa_sparsity (FastVideo's other name for "
                       "generator.pipeline.experimental.VSA_sparsity)"))
      << m;
  EXPECT_TRUE(
      contains(yaml_error("generator:\n  engine:\n    attention:\n      bogus: 1\n"),
               "valid keys under generator.engine.attention: moba_config_path, vsa_sparsity"));
  // An empty path is refused rather than read as unset; null leaves it unset.
  const std::string empty =
      yaml_error("generator:\n  pipeline:\n    experimental:\n      moba_config_path: ''\n");
  EXPECT_TRUE(contains(empty, "moba_config_path' is empty")) << empty;
  EXPECT_EQ(from_yaml("generator:\n  pipeline:\n    experimental:\n      moba_config_path: null\n")
                .options.moba_config_path,
            "");
}

// A dotted override's value is text, but YAML's null written out and {} are what they say (QA
// audit: '--generator.revision null' was refused as the string 'null', "expected null"); a prompt
// that reads as a mapping or a list stays a string, and "" stays the empty string.
TEST(RunConfig, OverridesTakeNullAndTheEmptyMapping) {
  for (const char* null_word : {"null", "~", "Null"}) {
    RunConfig c;
    EXPECT_NO_THROW(apply_override("generator.revision", null_word, c)) << null_word;
  }
  // A key that takes no null says what null would mean for it (QA: "expects a single value").
  EXPECT_TRUE(contains(error_of([] {
                         RunConfig c;
                         apply_override("request.sampling.seed", "null", c);
                       }),
                       "'request.sampling.seed' expects a single value, got null (leave the key "
                       "out for its default)"));
  EXPECT_TRUE(contains(error_of([] {
                         RunConfig c;
                         apply_override("generator.revision", "main", c);
                       }),
                       "generator.revision='main'"));
  RunConfig kwargs;
  apply_override("generator.engine.compile.dit_kwargs", "{}", kwargs);
  EXPECT_FALSE(kwargs.dit_compile_kwargs) << "{} leaves the master keys in force";
  RunConfig prompt;
  apply_override("request.prompt", "fox: a story [draft]", prompt);
  EXPECT_EQ(prompt.request.prompt, "fox: a story [draft]");
  apply_override("request.prompt", "{a: b}", prompt);
  EXPECT_EQ(prompt.request.prompt, "{a: b}");
  // What YAML would cut (a comment, an anchor, a tag) or refuse (an alias, '@', '`') or read as
  // null (a comment alone, a document marker) is the text as written (QA fuzzing: "Scene #2: a
  // fox runs" ran as the prompt "Scene").
  for (const char* text :
       {"Scene #2: a fox runs", "A fox #nofilter", "&a foo", "!tag x", "*sparkles* a fox", "@home",
        "`ticks`", "?", "#c", "---", "...", "%YAML 1.2", "a\nb"}) {
    RunConfig c;
    apply_override("request.prompt", text, c);
    EXPECT_EQ(c.request.prompt, text);
  }
  // A quoted string is YAML's; numbers and booleans stay what they are. Quotes that close before
  // the end do not make a quoted string (review: '"Hello" #2 says the "robot"' gave Hello).
  apply_override("request.prompt", "'a #b'", prompt);
  EXPECT_EQ(prompt.request.prompt, "a #b");
  apply_override("request.prompt", "\"Hello\" #2 says the \"robot\"", prompt);
  EXPECT_EQ(prompt.request.prompt, "\"Hello\" #2 says the \"robot\"");
  RunConfig spaced;
  apply_override("generator.engine.compile.dit_kwargs", "{ }", spaced);
  EXPECT_FALSE(spaced.dit_compile_kwargs);
  RunConfig seed;
  apply_override("request.sampling.seed", " 42 ", seed);
  EXPECT_EQ(seed.request.seed, std::optional<uint64_t>(42));
  EXPECT_TRUE(contains(error_of([] {
                         RunConfig c;
                         apply_override("request.sampling.seed", "42 # the answer", c);
                       }),
                       "request.sampling.seed"));
}

// An unknown key is refused whatever its value, an empty mapping included (QA audit: 'generator:
// {bogus: {}}' ran).
TEST(RunConfig, AnUnknownKeyHoldingAnEmptyMappingIsRefused) {
  EXPECT_TRUE(contains(yaml_error("generator:\n  bogus: {}\n"), "unknown key 'generator.bogus'"));
  EXPECT_TRUE(contains(yaml_error("request:\n  sampling:\n    bar: {}\n"),
                       "unknown key 'request.sampling.bar'"));
  EXPECT_TRUE(contains(yaml_error("foo: {}\n"), "unknown key 'foo'"));
  EXPECT_NO_THROW(from_yaml("generator: {}\nrequest:\n  sampling: {}\n"));
}

// A direct flag's value is taken literally, not as YAML.
TEST(RunConfig, FlagValuesAreLiteralStrings) {
  RunConfig c;
  apply_setting("request.prompt", "'quoted' # not a comment: [x]", c);
  EXPECT_EQ(c.request.prompt, "'quoted' # not a comment: [x]");
}

// Bug 12: a seed above 2^64 − 1 is refused on the flag as in YAML, never clamped.
TEST(RunConfig, SeedsOutsideSixtyFourBitsAreRefusedOnEverySurface) {
  RunConfig c;
  apply_setting("request.sampling.seed", "18446744073709551615", c);
  EXPECT_EQ(c.request.seed, 18446744073709551615ull);
  // A leading + as YAML and Python read it: --seed +5 is 5, as seed: +5 in a run file is.
  apply_setting("request.sampling.seed", "+5", c);
  EXPECT_EQ(c.request.seed, 5u);
  for (const char* bad : {"18446744073709551616", "-1", "1.5", "1e3", "seven", "+-1", "++5"}) {
    const std::string flag = error_of([&] { apply_setting("request.sampling.seed", bad, c); });
    EXPECT_TRUE(contains(flag, "request.sampling.seed") && contains(flag, bad)) << flag;
    const std::string yaml = yaml_error(std::string("request:\n  sampling:\n    seed: ") + bad);
    EXPECT_TRUE(contains(yaml, "request.sampling.seed") && contains(yaml, bad)) << yaml;
  }
}

// Bug 7 (the request side): integers never wrap or truncate.
TEST(RunConfig, NonIntegralAndOutOfRangeIntegersAreRefused) {
  for (const char* bad : {"2.5", "4294967298", "1e12"}) {
    const std::string e = yaml_error(std::string("request:\n  sampling:\n    num_frames: ") + bad);
    EXPECT_TRUE(contains(e, "request.sampling.num_frames") && contains(e, bad) &&
                contains(e, "whole number"))
        << e;
  }
  EXPECT_TRUE(contains(yaml_error("request:\n  sampling:\n    guidance_scale: .nan\n"),
                       "not a finite number"));
  // QA audit: seed: 010 was 8 in a file and through --request.sampling.seed, but 10 through
  // --seed. YAML's radix forms are refused; 0 itself and 0.5's own error stay.
  for (const char* radix : {"010", "0x10", "0o10", "-07", "+0b1"}) {
    const std::string e = yaml_error(std::string("request:\n  sampling:\n    seed: ") + radix);
    EXPECT_TRUE(contains(e, "request.sampling.seed") && contains(e, "plain decimal")) << e;
  }
  RunConfig zero;
  apply_config_text("request:\n  sampling:\n    seed: 0\n", "test", zero);
  EXPECT_EQ(zero.request.seed, 0u);
  EXPECT_TRUE(contains(yaml_error("request:\n  sampling:\n    num_frames: 0.5"), "whole number"));
}

// Bug 14: YAML silently keeps one of two equal keys; here it is an error.
TEST(RunConfig, DuplicateKeysAreRefused) {
  const std::string e = yaml_error("request:\n  sampling:\n    seed: 1\n    seed: 2\n");
  EXPECT_TRUE(contains(e, "request.sampling.seed") && contains(e, "twice")) << e;
  EXPECT_TRUE(contains(yaml_error("request:\n  prompt: a\nrequest:\n  seed: 2\n"), "twice"));
}

// Speed and numerics keys: what the engine does anyway is accepted; asking for what it does not
// do is refused naming the key, the value and what is expected.
TEST(RunConfig, EngineKeysAskingForMissingFeaturesAreRefusedByName) {
  const RunConfig ok = from_yaml(
      "generator:\n  engine:\n    num_gpus: 1\n    parallelism:\n      tp_size: 1\n"
      "      sp_size: -1\n    offload:\n      dit: false\n      vae: false\n"
      "      pin_cpu_memory: true\n    compile:\n      enabled: false\n    quantization:\n"
      "      transformer_quant: null\n");
  EXPECT_FALSE(ok.model_path.has_value());
  EXPECT_NO_THROW(
      from_yaml("request:\n  sampling:\n    guidance_rescale: 0.0\n    true_cfg_scale: 1.0\n"
                "    batch_cfg: null\n    use_embedded_guidance: false\n    sigmas: null\n"
                "generator:\n  pipeline:\n    experimental:\n      embedded_cfg_scale: 6.0\n"));
  const std::pair<const char*, const char*> refused[] = {
      {"generator:\n  engine:\n    compile:\n      vae_kwargs: {mode: default}\n",
       "generator.engine.compile.vae_kwargs="},
      {"generator:\n  engine:\n    compile:\n      extras: {epilogue_fusion: true}\n",
       "generator.engine.compile.extras="},
      {"generator:\n  engine:\n    quantization:\n      text_encoder_quant: FP8\n",
       "generator.engine.quantization.text_encoder_quant='FP8'"},
      {"generator:\n  engine:\n    offload:\n      vae: true\n",
       "generator.engine.offload.vae='true'"},
      {"generator:\n  engine:\n    parallelism:\n      tp_size: 2\n",
       "generator.engine.parallelism.tp_size='2'"},
      {"request:\n  runtime:\n    enable_teacache: true\n",
       "request.runtime.enable_teacache='true'"},
      // FastVideo's other sampling keys: refused by name past their no-op values, not unknown.
      {"request:\n  sampling:\n    guidance_rescale: 0.7\n",
       "request.sampling.guidance_rescale='0.7'"},
      {"request:\n  sampling:\n    sigmas: [1.0, 0.5]\n", "request.sampling.sigmas="},
      {"request:\n  sampling:\n    height_sr: 960\n", "request.sampling.height_sr='960'"},
  };
  for (const auto& [yaml, named] : refused) {
    const std::string e = yaml_error(yaml);
    EXPECT_TRUE(contains(e, named) && contains(e, "expected")) << yaml << "\n-> " << e;
  }
  RunConfig c;
  EXPECT_TRUE(contains(error_of([&] {
                         apply_override("generator.engine.quantization.text_encoder_quant", "FP8",
                                        c);
                       }),
                       "generator.engine.quantization.text_encoder_quant"));
}

// num_gpus and sp_size (issue 15) are settings; what the pipeline cannot run with them it refuses
// at load (pipeline_test); a count below 1 is refused here naming the key.
TEST(RunConfig, NumGpusAndSpSizeAreTakenAndCheckedByName) {
  const RunConfig c =
      from_yaml("generator:\n  engine:\n    num_gpus: 4\n    parallelism:\n      sp_size: 4\n");
  EXPECT_EQ(c.options.num_gpus, 4);
  EXPECT_EQ(c.options.sp_size, 4);
  EXPECT_EQ(from_yaml("generator:\n  engine:\n    num_gpus: 1\n").options.sp_size, -1);
  EXPECT_TRUE(contains(yaml_error("generator:\n  engine:\n    num_gpus: 0\n"),
                       "'generator.engine.num_gpus' has value 0"));
  EXPECT_TRUE(contains(yaml_error("generator:\n  engine:\n    parallelism:\n      sp_size: 0\n"),
                       "'generator.engine.parallelism.sp_size' has value 0"));
  // dist_timeout: the seconds a collective may take (audit: it was accepted and ignored).
  EXPECT_EQ(from_yaml("generator:\n  engine:\n    parallelism:\n      dist_timeout: 30\n")
                .options.dist_timeout,
            std::optional<int>(30));
  EXPECT_FALSE(from_yaml("generator:\n  engine:\n    parallelism:\n      dist_timeout: null\n")
                   .options.dist_timeout.has_value());
  EXPECT_TRUE(
      contains(yaml_error("generator:\n  engine:\n    parallelism:\n      dist_timeout: 0\n"),
               "'generator.engine.parallelism.dist_timeout' has value 0; expected seconds"));
}

// transformer_quant (FastVideo's engine key, or the experimental one its kwargs land in): FP8 in
// any case, null for none; other values refused naming the key and the value.
TEST(RunConfig, TransformerQuantTakesFp8AndRefusesTheRestByName) {
  EXPECT_EQ(from_yaml("generator:\n  engine:\n    quantization:\n      transformer_quant: fp8\n")
                .options.transformer_quant,
            "FP8");
  EXPECT_EQ(from_yaml("generator:\n  pipeline:\n    experimental:\n      transformer_quant: FP8\n")
                .options.transformer_quant,
            "FP8");
  EXPECT_EQ(from_yaml("generator:\n  engine:\n    quantization:\n      transformer_quant: null\n")
                .options.transformer_quant,
            "");
  const std::string e =
      yaml_error("generator:\n  engine:\n    quantization:\n      transformer_quant: nvfp4_qat\n");
  EXPECT_TRUE(contains(e, "generator.engine.quantization.transformer_quant 'nvfp4_qat'") &&
              contains(e, "FP8 only") && contains(e, "Blackwell"))
      << e;
}

// FastVideo's compile keys land in GeneratorOptions (their values are checked where the engine
// checks the options, compile_settings.h); a torch.compile keyword this engine has no counterpart
// for is refused by name.
TEST(RunConfig, CompileKeysSetTheCompileOptions) {
  const RunConfig c = from_yaml(
      "generator:\n  engine:\n    compile:\n      enabled: true\n      mode: reduce-overhead\n"
      "      fullgraph: true\n      backend: null\n      text_encoder_enabled: false\n");
  EXPECT_TRUE(c.options.enable_torch_compile);
  EXPECT_EQ(c.options.torch_compile_kwargs.mode, "reduce-overhead");
  EXPECT_EQ(c.options.torch_compile_kwargs.fullgraph, std::optional<bool>(true));
  EXPECT_EQ(c.options.torch_compile_kwargs.backend, "");
  EXPECT_FALSE(c.options.torch_compile_kwargs.dynamic.has_value());
  // FastVideo's CompileConfig leaves the component switches null: not compiled.
  const RunConfig nulls = from_yaml(
      "generator:\n  engine:\n    compile:\n      enabled: true\n"
      "      text_encoder_enabled: null\n      vae_enabled: null\n");
  EXPECT_FALSE(nulls.options.compile_text_encoder);
  EXPECT_FALSE(nulls.options.compile_vae);
  EXPECT_TRUE(from_yaml("generator:\n  engine:\n    compile:\n      vae_enabled: true\n")
                  .options.compile_vae);
  // dit_kwargs replace the master keys for the transformer, the one model whose compile mode
  // reads them, so a master key beside them would do nothing: refused by name in either order
  // (a helper's audit: `mode: max-autotune` beside `dit_kwargs: {dynamic: null}` dropped it).
  for (const char* yaml :
       {"generator:\n  engine:\n    compile:\n      dit_kwargs: {dynamic: null}\n"
        "      mode: max-autotune\n",
        "generator:\n  engine:\n    compile:\n      mode: max-autotune\n"
        "      dit_kwargs: {dynamic: null}\n"}) {
    const std::string e = yaml_error(yaml);
    EXPECT_TRUE(contains(e, "key 'generator.engine.compile.mode' has no effect beside") &&
                contains(e, "move it into dit_kwargs"))
        << e;
  }
  // A null master key is no setting; an empty dit_kwargs leaves the master keys in force.
  for (const char* yaml :
       {"generator:\n  engine:\n    compile:\n      dit_kwargs: {mode: max-autotune}\n"
        "      mode: null\n",
        "generator:\n  engine:\n    compile:\n      mode: max-autotune\n      dit_kwargs: {}\n"}) {
    EXPECT_EQ(from_yaml(yaml).options.torch_compile_kwargs.mode, "max-autotune") << yaml;
  }
  const std::string e =
      yaml_error("generator:\n  engine:\n    compile:\n      dit_kwargs: {options: {}}\n");
  EXPECT_TRUE(contains(e, "generator.engine.compile.dit_kwargs.options") &&
              contains(e, "mode, backend, fullgraph and dynamic"))
      << e;
}

// A section whose keys are all commented out is empty, not unknown; a value where a section
// belongs says so.
// FastVideo's offload switches set the options (null or "auto" leave the memory plan to decide);
// max_device_memory takes a size with a unit.
TEST(RunConfig, OffloadSwitchesAndTheDeviceMemoryBudget) {
  const RunConfig c = from_yaml(
      "generator:\n  engine:\n    max_device_memory: 24GiB\n    offload:\n"
      "      dit_layerwise: true\n      dit: false\n      text_encoder: auto\n"
      "      image_encoder: true\n      pin_cpu_memory: false\n");
  EXPECT_EQ(c.options.dit_layerwise_offload, std::optional<bool>(true));
  EXPECT_EQ(c.options.dit_cpu_offload, std::optional<bool>(false));
  EXPECT_EQ(c.options.text_encoder_cpu_offload, std::nullopt);
  EXPECT_FALSE(c.options.pin_cpu_memory);
  EXPECT_EQ(c.options.max_device_memory, int64_t(24) << 30);
  EXPECT_EQ(
      from_yaml("generator:\n  engine:\n    max_device_memory: 8000MB\n").options.max_device_memory,
      int64_t(8000000000));
  const std::string e = yaml_error("generator:\n  engine:\n    max_device_memory: 8 gigs\n");
  EXPECT_TRUE(contains(e, "generator.engine.max_device_memory") && contains(e, "'8 gigs'") &&
              contains(e, "24GiB"))
      << e;
  const std::string maybe = yaml_error("generator:\n  engine:\n    offload:\n      dit: maybe\n");
  EXPECT_TRUE(contains(maybe, "generator.engine.offload.dit") &&
              contains(maybe, "not true, false or auto"))
      << maybe;
  // keep_text_encoder: true, false, or auto (unset) for the memory plan.
  EXPECT_EQ(c.options.keep_text_encoder, std::nullopt);
  EXPECT_EQ(
      from_yaml("generator:\n  engine:\n    keep_text_encoder: false\n").options.keep_text_encoder,
      std::optional<bool>(false));
  EXPECT_EQ(
      from_yaml("generator:\n  engine:\n    keep_text_encoder: auto\n").options.keep_text_encoder,
      std::nullopt);
  // "auto" in the cases YAML gives true and false (True, TRUE); a quoted false stays refused.
  EXPECT_EQ(
      from_yaml("generator:\n  engine:\n    keep_text_encoder: AUTO\n").options.keep_text_encoder,
      std::nullopt);
  EXPECT_TRUE(contains(yaml_error("generator:\n  engine:\n    keep_text_encoder: 'false'\n"),
                       "written as a string"));
}

TEST(ParseByteSize, UnitsAreBinaryOrDecimalAndNothingElse) {
  EXPECT_EQ(parse_byte_size("1024"), 1024);
  EXPECT_EQ(parse_byte_size("1.5GiB"), int64_t(3) << 29);
  EXPECT_EQ(parse_byte_size("2G"), int64_t(2) << 30);
  EXPECT_EQ(parse_byte_size("3MB"), 3000000);
  for (const char* bad : {"", "GiB", "-1GiB", "1 GiB", "1gib", "1e30TiB", "x1G"})
    EXPECT_EQ(parse_byte_size(bad), std::nullopt) << bad;
}

TEST(RunConfig, SectionsAreMappingsOrEmpty) {
  EXPECT_FALSE(from_yaml("generator:\n  engine:\n    offload:\n").model_path.has_value());
  const std::string e = yaml_error("request:\n  sampling: 42\n");
  EXPECT_TRUE(contains(e, "key 'request.sampling' expects a mapping of keys")) << e;
}

// A flag's whole number is decimal (yaml-cpp reads "010" as octal 8); strings never hold a NUL.
TEST(RunConfig, FlagNumbersAreDecimalAndStringsHoldNoNul) {
  RunConfig c;
  apply_setting("request.sampling.seed", "010", c);
  EXPECT_EQ(c.request.seed, 10u);
  EXPECT_TRUE(contains(error_of([&] { apply_setting("request.sampling.seed", "0x10", c); }),
                       "request.sampling.seed"));
  const std::string e = yaml_error("request:\n  output:\n    output_path: \"out\\0put\"\n");
  EXPECT_TRUE(contains(e, "request.output.output_path' holds a NUL byte at offset 3")) << e;
}

TEST(RunConfig, AConfigPathThatIsAFolderIsNamed) {
  const fs::path dir = testing::temp_dir("config-folder");
  RunConfig c;
  const std::string e = error_of([&] { apply_config_file(dir, c); });
  EXPECT_TRUE(contains(e, dir.string()) && contains(e, "is a folder")) << e;
}

TEST(RunConfig, OutputIsTheFolderJoinedWithTheVideoNameUnlessSavingIsOff) {
  EXPECT_EQ(RunConfig{}.output(), fs::path("outputs/"));
  // FastVideo's rule: output_path without .mp4 (or .y4m) is a folder to name the video in.
  EXPECT_EQ(from_yaml("request:\n  output:\n    output_path: results\n").output(),
            fs::path("results/"));
  EXPECT_EQ(from_yaml("request:\n  output:\n    output_path: a/fox.MP4\n").output(),
            fs::path("a/fox.MP4"));
  // With a prompt file it is always the folder of the videos.
  const std::string e = error_of([] {
    from_yaml(
        "request:\n  inputs:\n    prompt_path: p.txt\n  output:\n"
        "    output_path: fox.mp4\n")
        .output();
  });
  EXPECT_TRUE(contains(e, "must be a folder")) << e;
  // So with FastVideo's list of prompts (prompt: str | list[str]), one video each.
  const RunConfig listed =
      from_yaml("request:\n  prompt: [a fox, a bird]\n  output:\n    output_path: out\n");
  EXPECT_EQ(listed.prompt_list, (std::vector<std::string>{"a fox", "a bird"}));
  EXPECT_TRUE(listed.request.prompt.empty());
  EXPECT_EQ(listed.output(), fs::path("out/"));
  const std::string list_into_file = error_of([] {
    from_yaml("request:\n  prompt: [a fox, a bird]\n  output:\n    output_path: fox.mp4\n")
        .output();
  });
  EXPECT_TRUE(
      contains(list_into_file, "with a list of prompts each video is named from its prompt"))
      << list_into_file;
  EXPECT_TRUE(contains(error_of([] { from_yaml("request:\n  prompt: []\n"); }),
                       "'request.prompt' is an empty list"));
  EXPECT_TRUE(contains(error_of([] { from_yaml("request:\n  prompt: [a, [b]]\n"); }),
                       "'request.prompt[1]' expects a single value"));
  // An entry without text is named before any video is made.
  EXPECT_TRUE(contains(error_of([] { from_yaml("request:\n  prompt: [a fox, \"\"]\n"); }),
                       "key 'request.prompt[1]' is empty"));
  EXPECT_TRUE(contains(error_of([] { from_yaml("request:\n  prompt: [a fox, \"   \"]\n"); }),
                       "key 'request.prompt[1]' is only whitespace"));
  EXPECT_TRUE(
      contains(error_of([] { from_yaml("request:\n  output:\n    output_path: \"\"\n").output(); }),
               "is empty"));
  const RunConfig named =
      from_yaml("request:\n  output:\n    output_path: out\n    output_video_name: a.mp4\n");
  EXPECT_EQ(named.output(), fs::path("out/a.mp4"));
  // The name stays a file in output_path: no folder parts, and a video extension (bar.avi made
  // a folder named bar.avi before).
  for (const char* bad :
       {"../../escape.mp4", "/tmp/abs.mp4", "sub/a.mp4", "..", "bar.avi", "bar"}) {
    const std::string e = error_of([&] {
      from_yaml(str_cat("request:\n  output:\n    output_path: out\n    output_video_name: \"", bad,
                        "\"\n"))
          .output();
    });
    EXPECT_TRUE(contains(e, "output_video_name '") && contains(e, bad)) << bad << ": " << e;
  }
  // ".mp4" ends in .mp4 but names no file: the message says what a name needs.
  EXPECT_TRUE(contains(error_of([] {
                         from_yaml(
                             "request:\n  output:\n    output_path: out\n    "
                             "output_video_name: .mp4\n")
                             .output();
                       }),
                       "expected a file name such as fox.mp4 (a name, then .mp4 or .y4m)"));
  EXPECT_TRUE(from_yaml("request:\n  output:\n    save_video: false\n").output().empty());
  // With no file written, an output path or name goes unused (FastVideo ignores it too): taken,
  // with a warning naming it.
  for (const auto& [key, value] :
       {std::pair{"output_path", "/nonexistent/dir/"}, std::pair{"output_video_name", "x.mp4"}}) {
    std::vector<std::string> lines;
    log::set_sink([](log::Level, const std::string& line,
                     void* to) { static_cast<std::vector<std::string>*>(to)->push_back(line); },
                  &lines);
    const std::filesystem::path out =
        from_yaml(
            str_cat("request:\n  output:\n    save_video: false\n    ", key, ": ", value, "\n"))
            .output();
    log::set_sink(nullptr, nullptr);
    EXPECT_TRUE(out.empty());
    ASSERT_EQ(lines.size(), 1u) << key;
    EXPECT_TRUE(contains(lines[0], str_cat("request.output.", key, " '", value, "' is not used")))
        << lines[0];
  }
}

// A run file is one YAML document; the documents after a "---" were silently dropped.
TEST(RunConfig, AFileOfSeveralYamlDocumentsIsRefused) {
  const std::string e =
      error_of([] { from_yaml("request:\n  prompt: a\n---\nrequest:\n  prompt: b\n"); });
  EXPECT_TRUE(contains(e, "holds 2 YAML documents")) << e;
}

// FastVideo's prompt files: one prompt per line, stripped, blank lines skipped; bad bytes named
// with their line.
TEST(RunConfig, PromptFilesAreReadAsFastVideoReadsThem) {
  const fs::path dir = testing::temp_dir("prompts");
  std::ofstream(dir / "p.txt") << "\xEF\xBB\xBF  a fox  \n\n \t\nthe moon\r\nold mac\rspace\u3000"
                                  "\u3000\nlast line";
  EXPECT_EQ(read_prompt_file(dir / "p.txt"),
            (std::vector<std::string>{"a fox", "the moon", "old mac", "space", "last line"}));
  std::ofstream(dir / "bad.txt") << "fine\nbad \xff byte\n";
  const std::string e = error_of([&] { read_prompt_file(dir / "bad.txt"); });
  EXPECT_TRUE(contains(e, "bad.txt:2") && contains(e, "UTF-8")) << e;
  std::ofstream(dir / "empty.txt") << "\n  \n";
  EXPECT_TRUE(contains(error_of([&] { read_prompt_file(dir / "empty.txt"); }), "no prompts"));
  EXPECT_TRUE(contains(error_of([&] { read_prompt_file(dir / "missing.txt"); }), "missing.txt"));
}

TEST(RunConfig, VsaSparsityIsANumberInZeroToOneOnEverySurface) {
  const std::string key = "generator.pipeline.experimental.VSA_sparsity";
  EXPECT_EQ(from_yaml("generator:\n  pipeline:\n    experimental:\n      VSA_sparsity: 0.8\n")
                .options.vsa_sparsity,
            0.8);
  RunConfig flag;
  apply_setting(key, "0", flag);
  EXPECT_EQ(flag.options.vsa_sparsity, 0.0);
  EXPECT_FALSE(RunConfig{}.options.vsa_sparsity.has_value()) << "unset means the preset's";
  for (const char* bad : {"1", "1.0", "-0.1", "nan", "abc"}) {
    RunConfig c;
    const std::string m = error_of([&] { apply_setting(key, bad, c); });
    EXPECT_TRUE(contains(m, key) && contains(m, str_cat("'", bad, "'"))) << m;
  }
  EXPECT_TRUE(contains(yaml_error("generator:\n  pipeline:\n    experimental:\n"
                                  "      VSA_sparsity: 1.5\n"),
                       "key 'generator.pipeline.experimental.VSA_sparsity' has value '1.5', "
                       "which is outside [0, 1)"));
}

TEST(RunConfig, DmdDenoisingStepsAreAListOrFastVideosCommaForm) {
  const std::string key = "generator.pipeline.experimental.dmd_denoising_steps";
  EXPECT_EQ(from_yaml("generator:\n  pipeline:\n    experimental:\n"
                      "      dmd_denoising_steps: [1000, 757, 522]\n")
                .options.dmd_denoising_steps,
            (std::vector<int>{1000, 757, 522}));
  for (const char* form : {"1000,757,522", "[1000, 757, 522]", " 1000 , 757,522 "}) {
    RunConfig c;
    apply_override(key, form, c);
    EXPECT_EQ(c.options.dmd_denoising_steps, (std::vector<int>{1000, 757, 522})) << form;
  }
  const std::pair<std::string, std::string> bad[] = {
      {"[]", "empty"},
      {"[1000, 1001]", "outside [0, 1000]"},
      {"[1000, 757, 757]", "strictly decreasing"},
      {"[1000, 7.5]", "[1]' has value '7.5', which is not a whole number"},
      {"abc", "not a list of whole numbers"},
      {"'1000, 757,'", "ends with a comma"},
      {"'1000,,757'", "not a list of whole numbers"},
  };
  for (const auto& [value, message] : bad) {
    const std::string m = yaml_error(
        "generator:\n  pipeline:\n    experimental:\n      dmd_denoising_steps: " + value + "\n");
    EXPECT_TRUE(contains(m, key) && contains(m, message)) << value << ": " << m;
  }
}

}  // namespace
}  // namespace fastvideo

"""from_pretrained/from_config/generate_video keywords: FastVideo's names act or are refused by
name with the reason (the same reason `fastvideo generate` gives for the same YAML key); unknown
ones are TypeErrors. Refusals come before the model loads."""

import numpy as np
import pytest

from fastvideo_cpp import FastVideoError, OutOfDeviceMemory, SamplingParam, VideoGenerator

# keyword, a value asking for something this engine does not do, words of the reason.
UNIMPLEMENTED = [
    ("tp_size", 4, "several GPUs"),
    ("vae_cpu_offload", True, "VAE off the GPU"),
    ("lora_path", "lora.safetensors", "LoRA"),
    ("transformer_quant", "nvfp4_qat", "FP8 only"),
    ("distributed_executor_backend", "ray", "ray"),
]


@pytest.mark.parametrize("name,value,reason", UNIMPLEMENTED)
def test_unimplemented_keyword_is_refused_by_name(tiny_model, name, value, reason):
    with pytest.raises(FastVideoError) as e:
        VideoGenerator.from_pretrained(tiny_model, **{name: value})
    message = str(e.value)
    assert message.startswith(f"from_pretrained({name}="), message
    assert reason in message, message


def test_several_gpus_are_checked_at_load(tiny_model):
    # num_gpus / sp_size act (sequence parallelism over NCCL); what cannot run is refused at load.
    with pytest.raises(FastVideoError, match=r"num_gpus 2 with the device cpu: several GPUs need"):
        VideoGenerator.from_pretrained(tiny_model, device="cpu", num_gpus=2)
    with pytest.raises(FastVideoError, match=r"sp_size 2 with num_gpus 1"):
        VideoGenerator.from_pretrained(tiny_model, device="cpu", sp_size=2)
    # use_fsdp_inference acts (sharded weights on GPUs); on the CPU it is refused by name.
    with pytest.raises(FastVideoError, match=r"use_fsdp_inference with the device cpu"):
        VideoGenerator.from_pretrained(tiny_model, device="cpu", use_fsdp_inference=True)


def test_refusal_matches_the_yaml_key_of_the_cli(tiny_model):
    # The same check as `fastvideo generate --generator.engine.offload.vae true`.
    with pytest.raises(FastVideoError, match=r"generator\.engine\.offload\.vae="
                                             r"'true': keeping the VAE off the GPU"):
        VideoGenerator.from_pretrained(tiny_model, vae_cpu_offload=True)


def test_offload_keywords_act_and_the_budget_is_checked(tiny_model):
    # On the CPU the weights are in host memory already: the switches are accepted (and logged as
    # having no effect there); a device-memory budget has nothing to limit and is refused.
    gen = VideoGenerator.from_pretrained(tiny_model, device="cpu", dit_layerwise_offload=True,
                                         dit_cpu_offload=True, text_encoder_cpu_offload=True,
                                         pin_cpu_memory=False)
    assert gen.model_path == tiny_model
    with pytest.raises(FastVideoError, match=r"max_device_memory=.*on the CPU"):
        VideoGenerator.from_pretrained(tiny_model, device="cpu", max_device_memory="8GiB")
    with pytest.raises(FastVideoError, match=r"max_device_memory.*'eight'.*24GiB"):
        VideoGenerator.from_pretrained(tiny_model, device="cpu", max_device_memory="eight")
    # Running out of a budget on a GPU raises this subclass (tests/cuda_offload_test.cpp).
    assert issubclass(OutOfDeviceMemory, FastVideoError)


def test_default_valued_keywords_are_accepted(tiny_model):
    gen = VideoGenerator.from_pretrained(
        tiny_model, num_gpus=1, dit_layerwise_offload=False, dit_cpu_offload=False,
        text_encoder_cpu_offload=False, vae_cpu_offload=False, use_fsdp_inference=False,
        enable_torch_compile=False, torch_compile_kwargs={}, nvfp4_fa4=False, sp_size=-1,
        pin_cpu_memory=True, attention_backend="TORCH_SDPA", flow_shift=3.0)
    assert gen.model_path == tiny_model


def test_fastvideos_output_type_and_text_encoder_precisions_are_taken(tiny_model):
    # Stable FastVideo keywords: output_type 'np' is what generate_video returns here, and
    # text_encoder_precisions holds one precision for Wan's one text encoder.
    gen = VideoGenerator.from_pretrained(tiny_model, output_type="np",
                                         text_encoder_precisions=("fp32",))
    assert gen.model_path == tiny_model
    with pytest.raises(FastVideoError, match="output_type='pil'.*NumPy"):
        VideoGenerator.from_pretrained(tiny_model, output_type="pil")
    with pytest.raises(FastVideoError, match="one text encoder.*got 2"):
        VideoGenerator.from_pretrained(tiny_model, text_encoder_precisions=("fp32", "bf16"))
    with pytest.raises(TypeError, match="one precision per text encoder"):
        VideoGenerator.from_pretrained(tiny_model, text_encoder_precisions="fp32")
    with pytest.raises(TypeError, match="set the same thing"):
        VideoGenerator.from_pretrained(tiny_model, text_encoder_precisions=("fp32",),
                                       text_encoder_precision="bf16")
    with pytest.raises(FastVideoError, match="fp16"):
        VideoGenerator.from_pretrained(tiny_model, text_encoder_precisions=("fp16",))


def test_compile_keywords_reach_the_engine(tiny_model):
    # enable_torch_compile is compile mode (CUDA graphs): on the CPU it is refused naming the
    # device; torch_compile_kwargs are read as the engine reads them, unknown keywords refused.
    with pytest.raises(FastVideoError, match=r"enable_torch_compile.*CUDA graphs.*device is cpu"):
        VideoGenerator.from_pretrained(tiny_model, device="cpu", enable_torch_compile=True,
                                       torch_compile_kwargs={"mode": "reduce-overhead"})
    with pytest.raises(FastVideoError,
                       match=r"dit_kwargs\.options.*mode, backend, fullgraph and dynamic"):
        VideoGenerator.from_pretrained(tiny_model, enable_torch_compile=True,
                                       torch_compile_kwargs={"options": {}})
    # FastVideoArgs' per-component keywords: the DiT's are dit_kwargs, the others refused with the
    # engine's reason; given with torch_compile_kwargs, which one wins would be a guess.
    with pytest.raises(FastVideoError, match=r"dit_kwargs\.options"):
        VideoGenerator.from_pretrained(tiny_model, enable_torch_compile=True,
                                       torch_compile_kwargs_dit={"options": {}})
    with pytest.raises(FastVideoError, match=r"text_encoder_kwargs.*no per-component"):
        VideoGenerator.from_pretrained(tiny_model, torch_compile_kwargs_text_encoder={"mode": "x"})
    with pytest.raises(TypeError, match=r"torch_compile_kwargs=.*torch_compile_kwargs_dit=.*both"):
        VideoGenerator.from_pretrained(tiny_model, torch_compile_kwargs={},
                                       torch_compile_kwargs_dit={})
    VideoGenerator.from_pretrained(tiny_model, device="cpu", torch_compile_kwargs_vae={},
                                   torch_compile_kwargs_audio_vae={},
                                   enable_torch_compile_audio_vae=False)


def _frames(gen, sampling=None):
    result = gen.generate({"prompt": "A red fox runs through fresh snow at dawn.",
                           "sampling": sampling or {},
                           "output": {"save_video": False, "return_frames": True}})
    return result, np.asarray(result.frames).astype(np.float64)


def _psnr(a, b):
    return 10 * np.log10(255.0 ** 2 / max(np.mean((a - b) ** 2), 1e-12))


def test_vae_tiling_acts(tiny_model):
    # FastVideo's vae_tiling reaches the engine: frames wider than a 256-px tile decode tile by
    # tile, which changes them a little (the blended seams), and the run records it.
    sampling = {"height": 320, "width": 320, "num_frames": 5, "num_inference_steps": 2}
    whole = VideoGenerator.from_pretrained(tiny_model, device="cpu", attention_backend="TORCH_SDPA")
    tiled = VideoGenerator.from_pretrained(tiny_model, device="cpu", vae_tiling=True,
                                           attention_backend="TORCH_SDPA")
    _, want = _frames(whole, sampling)
    result, got = _frames(tiled, sampling)
    assert result.extra["parameters"].get("vae_tiling") == "256 every 192 px", result.extra
    assert not np.array_equal(got, want), "vae_tiling=True decoded the frames whole"
    assert _psnr(got, want) > 35, _psnr(got, want)  # 39.9 dB measured
    # Eager: no compile-mode cost, no replays (a GPU run with enable_torch_compile reports them).
    assert result.extra["compile_seconds"] == 0 and result.extra["graph_replays"] == 0


def test_transformer_quant_fp8_acts(tiny_model):
    # FastVideo's transformer_quant: FP8 linears (emulated in f32 on the CPU) change the frames a
    # little, and the run records it in the video's parameters.
    sampling = {"num_inference_steps": 2}
    bf = VideoGenerator.from_pretrained(tiny_model, device="cpu", attention_backend="TORCH_SDPA")
    fp8 = VideoGenerator.from_pretrained(tiny_model, device="cpu", transformer_quant="fp8",
                                         attention_backend="TORCH_SDPA")
    _, want = _frames(bf, sampling)
    result, got = _frames(fp8, sampling)
    assert result.extra["parameters"].get("transformer_quant") == "FP8", result.extra
    assert not np.array_equal(got, want), "transformer_quant=fp8 left the linears as they were"
    assert _psnr(got, want) > 35, _psnr(got, want)  # 41.9 dB measured


def test_vsa_sparsity_without_vsa_backend_is_an_error(tiny_model):
    # The way out is named as a Python keyword too, not only as a CLI flag.
    with pytest.raises(FastVideoError, match="attention_backend=VIDEO_SPARSE_ATTN"):
        VideoGenerator.from_pretrained(tiny_model, attention_backend="TORCH_SDPA",
                                       VSA_sparsity=0.5)


def test_sla_topk_ratio_reaches_the_engine(tiny_model):
    # The default 0.1 keeps no key block of the tiny video's one (refused by name); 1.0 runs and is
    # recorded.
    default = VideoGenerator.from_pretrained(tiny_model, device="cpu", attention_backend="SLA_ATTN")
    with pytest.raises(FastVideoError, match="keeps no key block"):
        _frames(default)
    gen = VideoGenerator.from_pretrained(tiny_model, device="cpu", attention_backend="SLA_ATTN",
                                         SLA_topk_ratio=1.0)
    result, _ = _frames(gen)
    assert result.extra["parameters"].get("SLA_topk_ratio") == "1", result.extra


def test_unknown_keyword_is_a_type_error_naming_it(tiny_model):
    with pytest.raises(TypeError, match="'enable_magic'"):
        VideoGenerator.from_pretrained(tiny_model, enable_magic=True)


def test_unknown_attention_backend_lists_the_valid_names(tiny_model):
    with pytest.raises(FastVideoError, match="NOT_A_BACKEND.*TORCH_SDPA"):
        VideoGenerator.from_pretrained(tiny_model, attention_backend="NOT_A_BACKEND")


def test_environment_backend_is_read_at_construction(tiny_model, monkeypatch):
    monkeypatch.setenv("FASTVIDEO_ATTENTION_BACKEND", "NOT_A_BACKEND")
    with pytest.raises(FastVideoError, match="NOT_A_BACKEND"):
        VideoGenerator.from_pretrained(tiny_model)


def test_from_config_takes_the_generator_mapping(tiny_model):
    gen = VideoGenerator.from_config({
        "model_path": tiny_model,
        "engine": {"num_gpus": 1, "offload": {"dit": False, "vae": False}},
        "pipeline": {"experimental": {"attention_backend": "TORCH_SDPA"}},
    })
    assert gen.model_path == tiny_model
    # Compile mode needs a GPU: on the CPU the key is refused by name (on any machine).
    with pytest.raises(FastVideoError, match=r"generator\.engine\.compile\.enabled"):
        VideoGenerator.from_config({"model_path": tiny_model,
                                    "engine": {"device": "cpu", "compile": {"enabled": True}}})
    with pytest.raises(FastVideoError, match=r"unknown key 'generator\.engine\.turbo'"):
        VideoGenerator.from_config({"model_path": tiny_model, "engine": {"turbo": True}})


def test_from_pretrained_with_a_mapping_is_from_config(tiny_model):
    assert VideoGenerator.from_pretrained({"model_path": tiny_model}).model_path == tiny_model


@pytest.fixture(scope="module")
def generator(tiny_model):
    return VideoGenerator.from_pretrained(tiny_model)


def test_generate_video_unknown_keyword_is_a_type_error(generator):
    with pytest.raises(TypeError, match="'num_frame'"):
        generator.generate_video("a fox", num_frame=9)


@pytest.mark.parametrize("kwargs,words", [
    ({"enable_teacache": True}, "TeaCache"),
    ({"num_videos_per_prompt": 2}, "one video per prompt"),
    ({"image_path": "fox.png"}, "from text only"),
    ({"seed": -1}, "not a whole number"),
    # FastVideo's other sampling keywords, refused by name beyond their no-op values (a helper's
    # audit: they were TypeErrors, as if misspelt).
    ({"guidance_rescale": 0.7}, "guidance rescale is not in this version"),
    ({"true_cfg_scale": 4.0}, "true CFG"),
    ({"batch_cfg": True}, "as one batch where that is faster"),
    ({"guidance_scale_2": 3.0}, "two-expert"),
    ({"boundary_ratio": 0.9}, "two-expert"),
    ({"use_embedded_guidance": True}, "embedded (distilled) guidance"),
    ({"return_state": True}, "continuation state"),
])
def test_generate_video_refuses_by_name(generator, kwargs, words):
    (name, value), = kwargs.items()
    with pytest.raises(FastVideoError) as e:
        generator.generate_video("a fox", save_video=False, **kwargs)
    assert str(e.value).startswith(f"generate_video({name}={value!r})"), str(e.value)
    assert words in str(e.value)


# keyword, a value of the wrong Python type (yaml-cpp would read "010" as 8, "no" as False), the
# type named in the TypeError.
WRONG_TYPES = [
    ("seed", "010", "an integer"),
    ("seed", "0x10", "an integer"),
    ("seed", 7.0, "an integer"),
    ("seed", True, "an integer"),
    ("num_frames", "5", "an integer"),
    ("width", "64", "an integer"),
    ("guidance_scale", "3", "a number"),
    ("fps", True, "a number"),
    ("save_video", "no", "True or False"),
    ("save_video", 0, "True or False"),
    ("overwrite", "off", "True or False"),
    ("negative_prompt", 5, "a string"),
    ("output_path", 5, "a path"),
    ("prompt", 5, "a string or a list of strings"),
    ("prompt", ["a fox", 5], "a string or a list of strings"),
    ("return_frames", 1, "True or False"),
    ("progress_bar", "yes", "True, False or None"),
    ("callback", "print", "a callable"),
]


@pytest.mark.parametrize("name,value,expected", WRONG_TYPES)
def test_generate_video_refuses_a_value_of_the_wrong_type(generator, tmp_path, monkeypatch, name,
                                                          value, expected):
    monkeypatch.chdir(tmp_path)  # where outputs/ would be
    with pytest.raises(TypeError) as e:
        generator.generate_video(**{"prompt": "a fox", "num_frames": 1,
                                    "output_path": str(tmp_path), name: value})
    message = str(e.value)
    assert f"{name}={value!r}" in message and expected in message, message
    assert f"got {type(value).__name__}" in message or "holding int" in message, message
    assert list(tmp_path.iterdir()) == []  # refused before any work


def test_request_mapping_refuses_a_value_of_the_wrong_type(generator, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where outputs/ would be
    with pytest.raises(TypeError, match=r"request\.sampling\.seed='010': expected an integer"):
        generator.generate({"prompt": "a fox", "sampling": {"seed": "010"}})
    with pytest.raises(TypeError, match=r"request\.output\.save_video='no': expected True or"):
        generator.generate({"prompt": "a fox", "output": {"save_video": "no"}})
    with pytest.raises(TypeError, match=r"request\.prompt=5: expected a string"):
        generator.generate({"prompt": 5})
    with pytest.raises(TypeError, match=r"generate\(callback=3\): expected a callable"):
        generator.generate({"prompt": "a fox"}, callback=3)
    assert list(tmp_path.iterdir()) == []  # refused before any work


def test_generator_keywords_refuse_a_value_of_the_wrong_type(tiny_model):
    with pytest.raises(TypeError, match=r"from_pretrained\(num_gpus='1'\): expected an integer"):
        VideoGenerator.from_pretrained(tiny_model, num_gpus="1")
    with pytest.raises(TypeError, match=r"from_pretrained\(vae_tiling='yes'\): expected True"):
        VideoGenerator.from_pretrained(tiny_model, vae_tiling="yes")
    with pytest.raises(TypeError, match=r"generator\.engine\.device=1: expected a string"):
        VideoGenerator.from_config({"model_path": tiny_model, "engine": {"device": 1}})
    with pytest.raises(TypeError, match=r"from_pretrained\(model_path=5\): expected a path"):
        VideoGenerator.from_pretrained(5)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), np.float32("-inf")])
def test_a_float_that_is_not_finite_is_a_value_error(generator, tiny_model, value):
    with pytest.raises(ValueError, match=r"guidance_scale=.*: not a finite number"):
        generator.generate_video("a fox", guidance_scale=value, save_video=False)
    with pytest.raises(ValueError, match=r"flow_shift=.*: not a finite number"):
        VideoGenerator.from_pretrained(tiny_model, flow_shift=value)


@pytest.mark.parametrize("value", [-1, 0, 1e9])
def test_a_generator_flow_shift_out_of_range_is_refused_before_loading(tiny_model, value):
    # API audit: it loaded, and then every generation failed without naming from_pretrained.
    with pytest.raises(FastVideoError,
                       match=r"flow_shift=.*experimental\.flow_shift.*not in \(0, 100\]"):
        VideoGenerator.from_pretrained(tiny_model, flow_shift=value)


def test_numpy_numbers_and_paths_are_taken(generator, tmp_path):
    # NumPy scalars are the numbers they hold; a pathlib.Path is its string.
    video = generator.generate_video("a fox", seed=np.int64(3), num_frames=np.int32(1),
                                     width=np.uint16(48), guidance_scale=np.float32(2.5),
                                     fps=np.int8(8), num_inference_steps=2,
                                     output_path=tmp_path / "fox.mp4")
    assert video["size"] == (64, 48, 1)
    assert video["video_path"] == str(tmp_path / "fox.mp4") and (tmp_path / "fox.mp4").is_file()
    same = generator.generate_video("a fox", seed=3, num_frames=1, width=48, guidance_scale=2.5,
                                    num_inference_steps=2, save_video=False)
    assert (video["frames"] == same["frames"]).all()


def test_none_means_the_model_preset(generator, tiny_model):
    # README: an unset (None) SamplingParam field takes the model's preset; so does a keyword or
    # request value of None.
    preset = SamplingParam.from_pretrained(tiny_model)
    nones = {f: None for f in ("seed", "negative_prompt", "neg_prompt", "num_frames", "height",
                                "width", "fps", "guidance_scale", "output_path", "return_frames",
                                "flow_shift")}
    video = generator.generate_video("a fox", num_inference_steps=2, save_video=False, **nones)
    assert video["size"] == (preset.height, preset.width, preset.num_frames)
    same = generator.generate_video("a fox", num_inference_steps=2, save_video=False)
    assert (video["frames"] == same["frames"]).all()
    result = generator.generate({"prompt": "a fox", "negative_prompt": None,
                                 "sampling": {"seed": None, "num_inference_steps": 2},
                                 "output": {"save_video": False, "return_frames": None}})
    assert (result.frames == same["frames"]).all()


def test_two_names_for_one_field_are_refused(generator):
    with pytest.raises(TypeError, match=r"neg_prompt='blur' and negative_prompt='sharp'"):
        generator.generate_video("a fox", neg_prompt="blur", negative_prompt="sharp",
                                 save_video=False)
    with pytest.raises(TypeError, match=r"negative_prompt='sharp' and neg_prompt='blur'"):
        generator.generate_video("a fox", negative_prompt="sharp", neg_prompt="blur",
                                 save_video=False)


def test_an_alias_keyword_replaces_the_sampling_param_field(generator, tiny_model):
    param = SamplingParam.from_pretrained(tiny_model)
    param.update({"negative_prompt": "sharp", "num_frames": 1, "num_inference_steps": 2,
                  "save_video": False})
    via_alias = generator.generate_video("a fox", param, neg_prompt="blur")
    param.negative_prompt = "blur"
    assert (via_alias["frames"] == generator.generate_video("a fox", param)["frames"]).all()


def test_an_existing_output_names_the_python_setting(generator, tmp_path):
    # Not the CLI's --overwrite: the keyword (generate_video) or request key (generate).
    out = tmp_path / "fox.mp4"
    out.write_bytes(b"not a video")
    with pytest.raises(FastVideoError, match=r"fox\.mp4 exists; pass overwrite=True") as e:
        generator.generate_video("a fox", num_frames=1, output_path=str(out))
    assert "--" not in str(e.value), str(e.value)
    with pytest.raises(FastVideoError, match=r'exists; set "output": {"overwrite": True}') as e:
        generator.generate({"prompt": "a fox", "output": {"output_path": str(out)}})
    assert "--" not in str(e.value), str(e.value)
    assert out.read_bytes() == b"not a video"


def test_a_missing_prompt_names_the_python_setting(generator):
    with pytest.raises(FastVideoError, match=r"prompt is empty; pass a prompt$"):
        generator.generate_video(save_video=False)
    with pytest.raises(FastVideoError, match=r"prompt is empty; set the request's \"prompt\"$"):
        generator.generate({"output": {"save_video": False}})


def test_an_empty_model_path_is_refused_by_name():
    with pytest.raises(FastVideoError, match=r"from_pretrained\(model_path=''\): the model path "
                                             r"is empty"):
        VideoGenerator.from_pretrained("")
    with pytest.raises(FastVideoError, match=r"from_config\(generator\): model_path: the model "
                                             r"path is empty"):
        VideoGenerator.from_config({"model_path": ""})
    with pytest.raises(FastVideoError, match=r"SamplingParam\.from_pretrained\(''\): the model "
                                             r"path is empty"):
        SamplingParam.from_pretrained("")


def test_generate_request_unknown_key_is_refused(generator):
    with pytest.raises(FastVideoError, match=r"unknown key 'request\.sampling\.steps'"):
        generator.generate({"prompt": "a fox", "sampling": {"steps": 3}})


def test_sampling_param_holds_the_model_preset(tiny_model):
    p = SamplingParam.from_pretrained(tiny_model)
    assert (p.height, p.width, p.num_frames) == (64, 64, 9)
    assert p.seed == 1024 and p.negative_prompt.startswith("Bright tones")
    assert p.num_inference_steps >= 1 and p.guidance_scale > 0
    with pytest.raises(AttributeError):
        p.num_frame = 5  # a misspelt field is not silently added


@pytest.mark.parametrize("bad, message", [("", "prompt 1 is empty or only whitespace"),
                                          (" \n", "prompt 1 is empty or only whitespace"),
                                          ("\ud800", "prompt 1 is not valid Unicode text"),
                                          ("a\0b", "prompt 1 holds a NUL byte at offset 1")])
def test_a_prompt_list_is_checked_whole_before_its_first_video(tiny_model, tmp_path, bad,
                                                                message):
    # QA audit: ["ok", ""] wrote ok.mp4 and then failed; a lone surrogate failed inside YAML.
    gen = VideoGenerator.from_pretrained(tiny_model, device="cpu")
    with pytest.raises(ValueError, match=message):
        gen.generate_video(["ok", bad], output_path=str(tmp_path) + "/", num_frames=5,
                           height=32, width=32, num_inference_steps=1)
    assert list(tmp_path.iterdir()) == []


def test_numpy_bools_are_bools_and_a_sampling_param_must_be_one(generator, tmp_path):
    # API audit: np.bool_(False) was "expected True or False, got bool"; a dict for
    # sampling_param raised AttributeError.
    video = generator.generate_video("a fox", num_frames=1, num_inference_steps=1,
                                     save_video=np.bool_(False), output_path=str(tmp_path) + "/")
    assert video["frames"].shape == (1, 64, 64, 3) and list(tmp_path.iterdir()) == []
    with pytest.raises(TypeError, match=r"sampling_param=.*expected a SamplingParam.*got dict"):
        generator.generate_video("a fox", sampling_param={"seed": 1})


def test_a_generator_keyword_given_as_none_is_its_default(tiny_model):
    # API audit: device=None and num_gpus=None were refused, tp_size=None named as unsupported.
    gen = VideoGenerator.from_pretrained(tiny_model, device=None, num_gpus=None, tp_size=None,
                                         attention_backend=None, vae_tiling=None,
                                         keep_text_encoder=None, nvfp4_fa4=None, config=None)
    video = gen.generate_video("a fox", num_frames=1, num_inference_steps=1, save_video=False)
    assert video["frames"].shape == (1, 64, 64, 3)


def test_other_text_that_is_not_unicode_is_named_by_its_keyword(tiny_model, tmp_path):
    # API audit: a lone surrogate outside the prompt failed inside the YAML parser.
    gen = VideoGenerator.from_pretrained(tiny_model, device="cpu")
    with pytest.raises(ValueError, match=r"negative_prompt=.*not valid Unicode text"):
        gen.generate_video("a fox", negative_prompt="x\ud800", save_video=False)
    with pytest.raises(ValueError, match=r"output_path=.*a file name that is not UTF-8"):
        gen.generate_video("a fox", output_path=str(tmp_path) + "/bad\udcff.mp4")
    assert list(tmp_path.iterdir()) == []


def test_a_prompt_that_is_not_unicode_text_is_named(tiny_model):
    gen = VideoGenerator.from_pretrained(tiny_model, device="cpu")
    with pytest.raises(ValueError, match="the prompt is not valid Unicode text"):
        gen.generate_video("a fox \ud800", save_video=False)



def test_a_prompt_list_into_an_earlier_png_frame_output_is_refused(generator, tmp_path):
    # Each video would replace the last there (RunConfig::output refuses the same for run files).
    # An earlier `fastvideo generate --output png` left frames and their metadata.
    png = tmp_path / "png"
    png.mkdir()
    (png / "frame_00000.png").write_bytes(b"")
    (png / "metadata.json").write_text("{}")
    with pytest.raises(FastVideoError, match="earlier run's PNG frames"):
        generator.generate_video(["a fox", "a cat"], output_path=str(png), overwrite=True,
                                 num_frames=9, height=64, width=64, num_inference_steps=1)
    assert sorted(p.name for p in png.iterdir()) == ["frame_00000.png", "metadata.json"]


def test_fastvideos_no_op_sampling_values_pass(generator, tiny_model):
    """Their defaults as FastVideo's scripts pass them (its similarity tests: embedded_cfg_scale,
    which its Wan pipelines do not read), directly and through a SamplingParam."""
    result = generator.generate_video("a fox", save_video=False, num_frames=5, height=32, width=32,
                                      num_inference_steps=1, guidance_rescale=0.0,
                                      true_cfg_scale=1.0, use_embedded_guidance=False,
                                      embedded_cfg_scale=6.0, return_state=False)
    assert result["frames"] is not None
    param = SamplingParam.from_pretrained(tiny_model)
    assert (param.output_path, param.num_videos_per_prompt, param.enable_teacache) == (
        "outputs/", 1, False)
    param.guidance_rescale = 0.0
    param.save_video = False
    param.num_frames, param.height, param.width, param.num_inference_steps = 5, 32, 32, 1
    assert generator.generate_video("a fox", sampling_param=param)["frames"] is not None


@pytest.mark.parametrize("method", ["set_lora_adapter", "merge_lora_weights",
                                    "unmerge_lora_weights", "generate_async"])
def test_fastvideos_methods_this_version_lacks_are_refused_by_name(generator, method):
    refusal = f"VideoGenerator.{method}\\(\\) is not in this version"
    with pytest.raises(FastVideoError, match=refusal):
        getattr(generator, method)("x")


@pytest.mark.parametrize("method", ["from_file", "from_fastvideo_args"])
def test_fastvideos_constructors_this_version_lacks_are_refused_by_name(method):
    refusal = f"VideoGenerator.{method}\\(\\) is not in this version"
    with pytest.raises(FastVideoError, match=refusal):
        getattr(VideoGenerator, method)("x")

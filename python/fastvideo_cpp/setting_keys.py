"""FastVideo's Python keyword names and the run-configuration keys they mean.

Every keyword becomes a key of FastVideo's `generator`/`request` schema and goes through the same
C++ code as `fastvideo generate --config run.yaml` (include/fastvideo/run_config.h): a keyword the
engine implements acts, one asking for something it does not do is refused with the same reason
the CLI gives, and a keyword that is in neither table is a TypeError naming it.
"""

from __future__ import annotations

import json
import math
import numbers
import os
from typing import Any, Callable, Mapping

from . import _fastvideo_cpp

# VideoGenerator.from_pretrained(model_path, **kwargs) (fastvideo.md §1.1).
GENERATOR_KEYWORDS = {
    "num_gpus": "generator.engine.num_gpus",
    "revision": "generator.revision",
    "trust_remote_code": "generator.trust_remote_code",
    "distributed_executor_backend": "generator.engine.execution_backend",
    "tp_size": "generator.engine.parallelism.tp_size",
    "sp_size": "generator.engine.parallelism.sp_size",
    "hsdp_replicate_dim": "generator.engine.parallelism.hsdp_replicate_dim",
    "hsdp_shard_dim": "generator.engine.parallelism.hsdp_shard_dim",
    "dist_timeout": "generator.engine.parallelism.dist_timeout",
    "use_fsdp_inference": "generator.engine.use_fsdp_inference",
    "disable_autocast": "generator.engine.disable_autocast",
    "enable_stage_verification": "generator.engine.enable_stage_verification",
    "dit_cpu_offload": "generator.engine.offload.dit",
    "dit_layerwise_offload": "generator.engine.offload.dit_layerwise",
    "text_encoder_cpu_offload": "generator.engine.offload.text_encoder",
    "image_encoder_cpu_offload": "generator.engine.offload.image_encoder",
    "vae_cpu_offload": "generator.engine.offload.vae",
    "pin_cpu_memory": "generator.engine.offload.pin_cpu_memory",
    "max_device_memory": "generator.engine.max_device_memory",
    "enable_torch_compile": "generator.engine.compile.enabled",
    # The transformer is the one model compiled here, so the master kwargs are its kwargs.
    "torch_compile_kwargs": "generator.engine.compile.dit_kwargs",
    "enable_torch_compile_text_encoder": "generator.engine.compile.text_encoder_enabled",
    "enable_torch_compile_vae": "generator.engine.compile.vae_enabled",
    "enable_torch_compile_audio_vae": "generator.engine.compile.audio_vae_enabled",
    # FastVideoArgs' per-component kwargs (fastvideo.md §1.2); the engine takes the DiT's and refuses
    # the others with its reason, as for the YAML keys they name.
    "torch_compile_kwargs_dit": "generator.engine.compile.dit_kwargs",
    "torch_compile_kwargs_text_encoder": "generator.engine.compile.text_encoder_kwargs",
    "torch_compile_kwargs_vae": "generator.engine.compile.vae_kwargs",
    "torch_compile_kwargs_audio_vae": "generator.engine.compile.audio_vae_kwargs",
    "text_encoder_quant": "generator.engine.quantization.text_encoder_quant",
    "transformer_quant": "generator.engine.quantization.transformer_quant",
    "workload_type": "generator.pipeline.workload_type",
    "vae_tiling": "generator.pipeline.vae_tiling",
    "lora_path": "generator.pipeline.components.lora_path",
    "override_pipeline_cls_name": "generator.pipeline.components.override_pipeline_cls_name",
    "override_transformer_cls_name": "generator.pipeline.components.override_transformer_cls_name",
    "attention_backend": "generator.pipeline.experimental.attention_backend",
    "VSA_sparsity": "generator.pipeline.experimental.VSA_sparsity",
    "moba_config_path": "generator.pipeline.experimental.moba_config_path",
    "flow_shift": "generator.pipeline.experimental.flow_shift",
    "dmd_denoising_steps": "generator.pipeline.experimental.dmd_denoising_steps",
    # This engine's own settings (docs/config.md), under the same names as its YAML keys.
    "SLA_topk_ratio": "generator.pipeline.experimental.SLA_topk_ratio",
    "scheduler": "generator.pipeline.experimental.scheduler",
    "device": "generator.engine.device",
    "text_encoder_precision": "generator.engine.text_encoder_precision",
    "keep_text_encoder": "generator.engine.keep_text_encoder",
}

# generate_video(prompt, **kwargs) and SamplingParam's fields: FastVideo's request schema.
REQUEST_KEYWORDS = {
    "prompt": "request.prompt",
    "negative_prompt": "request.negative_prompt",
    "neg_prompt": "request.negative_prompt",  # FastVideo's legacy alias
    "prompt_path": "request.inputs.prompt_path",
    "image_path": "request.inputs.image_path",
    "video_path": "request.inputs.video_path",
    "seed": "request.sampling.seed",
    "num_videos_per_prompt": "request.sampling.num_videos_per_prompt",
    "num_frames": "request.sampling.num_frames",
    "height": "request.sampling.height",
    "width": "request.sampling.width",
    "fps": "request.sampling.fps",
    "num_inference_steps": "request.sampling.num_inference_steps",
    "guidance_scale": "request.sampling.guidance_scale",
    "max_sequence_length": "request.sampling.max_sequence_length",
    "cfg_gate_step": "request.sampling.cfg_gate_step",
    # FastVideo's other sampling keywords: their no-op values pass, others are refused by name.
    "guidance_rescale": "request.sampling.guidance_rescale",
    "true_cfg_scale": "request.sampling.true_cfg_scale",
    "batch_cfg": "request.sampling.batch_cfg",
    "guidance_scale_2": "request.sampling.guidance_scale_2",
    "boundary_ratio": "request.sampling.boundary_ratio",
    "use_embedded_guidance": "request.sampling.use_embedded_guidance",
    "embedded_cfg_scale": "generator.pipeline.experimental.embedded_cfg_scale",
    "return_state": "request.output.return_state",
    "enable_teacache": "request.runtime.enable_teacache",
    "return_trajectory_latents": "request.runtime.return_trajectory_latents",
    "return_trajectory_decoded": "request.runtime.return_trajectory_decoded",
    "output_path": "request.output.output_path",
    "output_video_name": "request.output.output_video_name",
    "save_video": "request.output.save_video",
    "overwrite": "request.output.overwrite",
    # FastVideo passes pipeline overrides through generate_video too (fastvideo.md §1.1).
    "flow_shift": "generator.pipeline.experimental.flow_shift",
}


# What each key takes from Python, checked before the value becomes YAML: yaml-cpp would read the
# string "010" as the number 8 and "no" as false, so a number, a switch or a text must come as its
# own Python type. Keys not listed here are left to the engine (which knows and refuses them).
_KIND_OF_KEY = {
    "generator.model_path": "path",
    "generator.revision": "str",
    "generator.trust_remote_code": "bool",
    "generator.engine.device": "str",
    "generator.engine.text_encoder_precision": "str",
    "generator.engine.keep_text_encoder": "switch",
    "generator.engine.num_gpus": "int",
    "generator.engine.execution_backend": "str",
    "generator.engine.parallelism.tp_size": "int",
    "generator.engine.parallelism.sp_size": "int",
    "generator.engine.parallelism.hsdp_replicate_dim": "int",
    "generator.engine.parallelism.hsdp_shard_dim": "int",
    "generator.engine.parallelism.dist_timeout": "int",
    "generator.engine.use_fsdp_inference": "bool",
    "generator.engine.disable_autocast": "bool",
    "generator.engine.enable_stage_verification": "bool",
    "generator.engine.offload.dit": "switch",
    "generator.engine.offload.dit_layerwise": "switch",
    "generator.engine.offload.text_encoder": "switch",
    "generator.engine.offload.image_encoder": "bool",
    "generator.engine.offload.vae": "bool",
    "generator.engine.offload.pin_cpu_memory": "bool",
    "generator.engine.max_device_memory": "size",
    "generator.engine.compile.enabled": "bool",
    "generator.engine.compile.text_encoder_enabled": "bool",
    "generator.engine.compile.vae_enabled": "bool",
    "generator.engine.compile.audio_vae_enabled": "bool",
    "generator.engine.compile.mode": "str",
    "generator.engine.compile.backend": "str",
    "generator.engine.compile.fullgraph": "bool",
    "generator.engine.compile.dynamic": "bool",
    "generator.engine.compile.dit_kwargs": "mapping",
    "generator.engine.compile.dit_kwargs.mode": "str",
    "generator.engine.compile.dit_kwargs.backend": "str",
    "generator.engine.compile.dit_kwargs.fullgraph": "bool",
    "generator.engine.compile.dit_kwargs.dynamic": "bool",
    "generator.engine.quantization.text_encoder_quant": "str",
    "generator.engine.quantization.transformer_quant": "str",
    "generator.pipeline.workload_type": "str",
    "generator.pipeline.vae_tiling": "bool",
    "generator.pipeline.components.lora_path": "path",
    "generator.pipeline.components.override_pipeline_cls_name": "str",
    "generator.pipeline.components.override_transformer_cls_name": "str",
    "generator.pipeline.experimental.vae_tiling": "bool",
    "generator.pipeline.experimental.attention_backend": "str",
    "generator.pipeline.experimental.transformer_quant": "str",
    "generator.pipeline.experimental.VSA_sparsity": "real",
    "generator.pipeline.experimental.SLA_topk_ratio": "real",
    "generator.pipeline.experimental.moba_config_path": "path",
    "generator.pipeline.experimental.flow_shift": "real",
    "generator.pipeline.experimental.dmd_denoising_steps": "steps",
    "generator.pipeline.experimental.scheduler": "str",
    "request.prompt": "str",
    "request.negative_prompt": "str",
    "request.inputs.prompt_path": "path",
    "request.inputs.image_path": "path",
    "request.inputs.video_path": "path",
    "request.sampling.seed": "int",
    "request.sampling.num_videos_per_prompt": "int",
    "request.sampling.num_frames": "int",
    "request.sampling.height": "int",
    "request.sampling.width": "int",
    "request.sampling.fps": "real",
    "request.sampling.num_inference_steps": "int",
    "request.sampling.guidance_scale": "real",
    "request.sampling.max_sequence_length": "int",
    "request.sampling.cfg_gate_step": "real",
    "request.sampling.guidance_rescale": "real",
    "request.sampling.true_cfg_scale": "real",
    "request.sampling.batch_cfg": "bool",
    "request.sampling.guidance_scale_2": "real",
    "request.sampling.boundary_ratio": "real",
    "request.sampling.use_embedded_guidance": "bool",
    "generator.pipeline.experimental.embedded_cfg_scale": "real",
    "request.runtime.enable_teacache": "bool",
    "request.runtime.return_trajectory_latents": "bool",
    "request.runtime.return_trajectory_decoded": "bool",
    "request.output.output_path": "path",
    "request.output.output_video_name": "path",
    "request.output.save_video": "bool",
    "request.output.overwrite": "bool",
    "request.output.return_state": "bool",
}

_WRONG = object()  # a converter's answer for a value of the wrong type


def _integer(v: Any) -> Any:  # NumPy integers too; a bool is not a number here
    return int(v) if isinstance(v, numbers.Integral) and not isinstance(v, bool) else _WRONG


def _real(v: Any) -> Any:
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        return _WRONG
    return int(v) if isinstance(v, numbers.Integral) else float(v)


def _path(v: Any) -> Any:
    v = os.fspath(v) if isinstance(v, os.PathLike) else v
    return v if isinstance(v, str) else _WRONG


def _steps(v: Any) -> Any:  # a list of timesteps, or FastVideo's CLI string "1000,757,522"
    if isinstance(v, str):
        return v
    if isinstance(v, (list, tuple)):
        steps = [_integer(s) for s in v]
        return _WRONG if _WRONG in steps else steps
    return _WRONG


def _boolean(v: Any) -> Any:
    """True or False, a NumPy bool as the bool it holds (NumPy integers are taken as ints)."""
    if isinstance(v, bool):
        return v
    if getattr(v, "shape", None) == () and getattr(getattr(v, "dtype", None), "kind", "") == "b":
        return bool(v)
    return _WRONG


# kind -> (what it expects, in messages; the value as JSON takes it, or _WRONG)
_KINDS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "int": ("an integer (int or NumPy integer)", _integer),
    "real": ("a number (int or float)", _real),
    "bool": ("True or False", _boolean),
    "switch": ("True, False or 'auto'",
               lambda v: "auto" if v in ("auto", "Auto", "AUTO") else _boolean(v)),
    "str": ("a string", lambda v: v if isinstance(v, str) else _WRONG),
    "path": ("a path (str or os.PathLike)", _path),
    "size": ("a memory size such as '24GiB', or a number of bytes",
             lambda v: v if isinstance(v, str) else _integer(v)),
    "steps": ("a list of integers, or a string such as '1000,757,522'", _steps),
    "mapping": ("a mapping", lambda v: v if isinstance(v, Mapping) else _WRONG),
}


def checked_value(key: str, value: Any, where: str) -> Any:
    """`value` for `key` as JSON takes it (NumPy scalars as Python numbers, paths as str), or a
    TypeError naming `where` and the type expected; a mapping is checked key by key."""
    kind = _KIND_OF_KEY.get(key)
    if kind is None or value is None:  # None: the engine's own reading of null
        return value
    expected, convert = _KINDS[kind]
    converted = convert(value)
    if converted is _WRONG:
        raise TypeError(f"{where}: expected {expected}, got {type(value).__name__}")
    if isinstance(converted, float) and not math.isfinite(converted):
        raise ValueError(f"{where}: not a finite number")
    if kind == "mapping":
        return checked_mapping(converted, key, where)
    return converted


def checked_model_path(value: Any, where: str) -> str:
    """A checkpoint folder as a str; an empty one is refused here, where the engine would report
    only ': does not exist'."""
    path = checked_value("generator.model_path", value, where)
    if not path:
        raise _fastvideo_cpp.FastVideoError(
            f"{where}: the model path is empty; pass a diffusers checkpoint folder (the one "
            f"holding model_index.json), or None for the tiny test model")
    return path


def checked_mapping(mapping: Mapping[str, Any], prefix: str, where: str) -> dict:
    """A config mapping under `prefix` with every value of a known key checked (checked_value);
    a request value of None means "not given" (the model's preset), as in FastVideo's request
    dataclasses, and is left out."""
    checked = {}
    for name, value in mapping.items():
        key = f"{prefix}.{name}"
        if value is None and key.startswith("request.") and key in _KIND_OF_KEY:
            continue
        if isinstance(value, Mapping) and key not in _KIND_OF_KEY:
            checked[name] = checked_mapping(value, key, where)
        else:
            checked[name] = checked_value(key, value, f"{where}: {key}={value!r}")
    return checked


def nested(dotted_key: str, value: Any) -> dict:
    """{"a": {"b": value}} for "a.b"."""
    root: dict = {}
    node = root
    parts = dotted_key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return root


def _check_unicode(value: Any, where: str) -> None:
    """Text YAML cannot carry (a lone surrogate: os.listdir's name for a byte that is not UTF-8)
    is named here, not in a YAML parser's error."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as e:
            raise ValueError(f"{where}: not valid Unicode text ({e.reason} at character "
                             f"{e.start}: {value[e.start]!r}; a file name that is not UTF-8 "
                             f"cannot be passed)") from None
    elif isinstance(value, Mapping):
        for item in value.values():
            _check_unicode(item, where)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_unicode(item, where)


def as_yaml(mapping: Mapping[str, Any], where: str) -> str:
    """The mapping as JSON (which is YAML) for RunConfig.apply_yaml."""
    _check_unicode(mapping, where)
    try:
        return json.dumps(mapping, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{where}: values must be strings, numbers, booleans, None, lists or "
                        f"mappings of them ({e})") from None


def check_keywords(function: str, kwargs: Mapping[str, Any], known: Mapping[str, str]) -> None:
    """A TypeError naming every keyword that is in no table, as Python does for a signature."""
    unknown = sorted(k for k in kwargs if k not in known)
    if unknown:
        names = ", ".join(repr(k) for k in unknown)
        raise TypeError(f"{function}() got unexpected keyword argument(s) {names}; "
                        f"accepted: {', '.join(sorted(known))}")


def check_aliases(function: str, kwargs: Mapping[str, Any], known: Mapping[str, str]) -> None:
    """A TypeError naming two keywords that set the same key (neg_prompt and negative_prompt):
    which one would win is an accident of their order."""
    by_key: dict[str, str] = {}
    for name in kwargs:
        other = by_key.setdefault(known.get(name, name), name)
        if other != name:
            raise TypeError(f"{function}() got {other}={kwargs[other]!r} and {name}="
                            f"{kwargs[name]!r}, which both set {known[name]}; give one of them")


def apply_keywords(config, function: str, kwargs: Mapping[str, Any],
                   known: Mapping[str, str]) -> None:
    """Applies each keyword to `config` as its run-configuration key; errors name the keyword."""
    check_keywords(function, kwargs, known)
    check_aliases(function, kwargs, known)
    for name, value in kwargs.items():
        where = f"{function}({name}={value!r})"
        value = checked_value(known[name], value, where)
        config.apply_yaml(as_yaml(nested(known[name], value), where), where)

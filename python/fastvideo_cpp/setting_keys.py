"""FastVideo's Python keyword names and the run-configuration keys they mean.

Every keyword becomes a key of FastVideo's `generator`/`request` schema and goes through the same
C++ code as `fastvideo generate --config run.yaml` (include/fastvideo/run_config.h): a keyword the
engine implements acts, one asking for something it does not do is refused with the same reason
the CLI gives, and a keyword that is in neither table is a TypeError naming it.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

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


def nested(dotted_key: str, value: Any) -> dict:
    """{"a": {"b": value}} for "a.b"."""
    root: dict = {}
    node = root
    parts = dotted_key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return root


def as_yaml(mapping: Mapping[str, Any], where: str) -> str:
    """The mapping as JSON (which is YAML) for RunConfig.apply_yaml."""
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


def apply_keywords(config, function: str, kwargs: Mapping[str, Any],
                   known: Mapping[str, str]) -> None:
    """Applies each keyword to `config` as its run-configuration key; errors name the keyword."""
    check_keywords(function, kwargs, known)
    for name, value in kwargs.items():
        where = f"{function}({name}={value!r})"
        config.apply_yaml(as_yaml(nested(known[name], value), where), where)

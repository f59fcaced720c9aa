"""SamplingParam: FastVideo's per-request sampling settings, under its field names.

SamplingParam.from_pretrained(model_path) holds the model's preset (fastvideo.md §1.6: 480×832×81,
50 steps, guidance 3.0 for Wan2.1 1.3B). A field left None takes the preset at generation time,
so SamplingParam() means "the model's defaults" (FastVideo's bare SamplingParam() instead holds
its schema defaults, 720×1280×125, which no model uses).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from . import _fastvideo_cpp
from .setting_keys import REQUEST_KEYWORDS, checked_model_path


@dataclass(slots=True)  # an unknown attribute (a misspelt field) raises instead of being ignored
class SamplingParam:
    prompt: str | list[str] | None = None
    negative_prompt: str | None = None
    prompt_path: str | None = None
    image_path: str | None = None
    video_path: str | None = None
    output_path: str | None = None
    output_video_name: str | None = None
    num_videos_per_prompt: int | None = None
    seed: int | None = None
    num_frames: int | None = None
    height: int | None = None
    width: int | None = None
    fps: int | float | None = None
    num_inference_steps: int | None = None
    guidance_scale: float | None = None
    # FastVideo's other sampling fields: their no-op values pass (0, 1, False), others are refused
    # by name when generating.
    guidance_rescale: float | None = None
    true_cfg_scale: float | None = None
    batch_cfg: bool | None = None
    guidance_scale_2: float | None = None
    boundary_ratio: float | None = None
    use_embedded_guidance: bool | None = None
    max_sequence_length: int | None = None
    enable_teacache: bool | None = None
    save_video: bool | None = None
    return_frames: bool | None = None
    return_trajectory_latents: bool | None = None
    return_trajectory_decoded: bool | None = None

    @classmethod
    def from_pretrained(cls, model_path: str | None = None) -> SamplingParam:
        """The preset of the checkpoint at model_path (None: the tiny test model, as the CLI)."""
        path = (checked_model_path(model_path, f"SamplingParam.from_pretrained({model_path!r})")
                if model_path is not None else _fastvideo_cpp.default_tiny_model())
        p = _fastvideo_cpp.model_sampling_preset(path)
        return cls(negative_prompt=p.negative_prompt, seed=p.seed, num_frames=p.num_frames,
                   height=p.height, width=p.width,
                   fps=int(p.fps) if float(p.fps).is_integer() else p.fps,
                   num_inference_steps=p.num_inference_steps, guidance_scale=p.guidance_scale,
                   output_path="outputs/", num_videos_per_prompt=1, enable_teacache=False,
                   save_video=True, return_frames=True, return_trajectory_latents=False,
                   return_trajectory_decoded=False)

    def update(self, values: dict[str, Any]) -> None:
        """Sets fields by name; an unknown name is a TypeError naming it."""
        for name, value in values.items():
            if name not in _FIELD_NAMES:
                raise TypeError(f"SamplingParam has no field {name!r}")
            setattr(self, name, value)

    def as_keywords(self) -> dict[str, Any]:
        """The fields that are set, as generate_video keywords."""
        return {f: getattr(self, f) for f in _FIELD_NAMES if getattr(self, f) is not None}


_FIELD_NAMES = tuple(f.name for f in fields(SamplingParam))
assert all(f in REQUEST_KEYWORDS or f == "return_frames" for f in _FIELD_NAMES)

"""What generate() returns: FastVideo's GenerationResult fields (fastvideo/api/results.py), filled
with what this engine makes. generate_video() returns the same as FastVideo's legacy dict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class GenerationResult:
    prompt: str | None = None
    prompt_index: int | None = None
    # No PyTorch here: FastVideo's [B, 3, T, H, W] float tensor has no counterpart; frames holds
    # the video.
    samples: Any | None = None
    # (F, H, W, 3) uint8, a NumPy view of the engine's buffer (FastVideo: a list of (H, W, 3)
    # arrays; indexing and iterating over frames work the same).
    frames: Any | None = None
    audio: Any | None = None
    audio_sample_rate: int | None = None
    size: tuple[int, int, int] | None = None  # (height, width, frames), as FastVideo's
    generation_time: float | None = None  # seconds in the engine's stages
    logging_info: dict[str, float] | None = None  # stage name -> seconds
    trajectory: Any | None = None
    trajectory_timesteps: Any | None = None
    trajectory_decoded: Any | None = None
    video_path: str | None = None
    peak_memory_mb: float | None = None
    state: Any | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_engine(cls, engine_result, prompt: str, return_frames: bool,
                    e2e_latency: float) -> GenerationResult:
        r = engine_result
        frames = r.frames
        peak = max((max(s.peak_bytes, s.peak_device_bytes) for s in r.stages), default=0)
        return cls(
            prompt=prompt,
            frames=frames if return_frames else None,
            size=(frames.shape[1], frames.shape[2], frames.shape[0]),
            generation_time=r.total_seconds,
            logging_info={s.name: s.seconds for s in r.stages},
            video_path=r.output_path or None,
            peak_memory_mb=peak / 2**20,
            extra={
                "e2e_latency": e2e_latency,
                "fps": r.fps,
                "stages": list(r.stages),
                "parameters": dict(r.parameters),
                "compile_seconds": r.compile_seconds,
                "graph_replays": r.graph_replays,
                "engine_result": r,
            },
        )

    def to_legacy_dict(self) -> dict[str, Any]:
        """generate_video()'s dict: FastVideo's keys (with a prompt file's run, also the
        prompt and its index, as FastVideo adds them)."""
        legacy = {
            "prompts": self.prompt,
            "samples": self.samples,
            "frames": self.frames,
            "audio": self.audio,
            "audio_sample_rate": self.audio_sample_rate,
            "ltx2_audio_latents": None,
            "size": self.size,
            "generation_time": self.generation_time,
            "e2e_latency": self.extra.get("e2e_latency"),
            "logging_info": self.logging_info,
            "trajectory": self.trajectory,
            "trajectory_timesteps": self.trajectory_timesteps,
            "trajectory_decoded": self.trajectory_decoded,
            "video_path": self.video_path,
            "peak_memory_mb": self.peak_memory_mb,
        }
        if self.prompt_index is not None:
            legacy.update(prompt=self.prompt, prompt_index=self.prompt_index)
        return legacy

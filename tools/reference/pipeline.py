"""Text-to-video reference: ids -> UMT5 -> DiT + FlowUniPC with CFG -> VAE -> uint8 frames.

wan21.md §3.3/§4.1 and fastvideo.md §1.1/§1.3, fp32-everywhere semantics computed in float64.
"""

import os

import numpy as np

from schedulers import FlowUniPC
from umt5 import UMT5Encoder, text_context
from wan_dit import WanTransformer
from wan_vae import WanVAEDecoder


def initial_noise(seed, num_frames, height, width, channels=16):
    """fastvideo.md §1.3 items 1 and 5: torch CPU generator seeded with `seed`, randn float32."""
    import torch

    shape = [1, channels, (num_frames - 1) // 4 + 1, height // 8, width // 8]
    gen = torch.Generator("cpu").manual_seed(seed)
    return torch.randn(shape, generator=gen, dtype=torch.float32).numpy()


def frames_to_uint8(video):
    """video [3, F, H, W] in [-1, 1] -> [F, H, W, 3] uint8 = trunc(clamp(x/2 + 0.5, 0, 1)·255) (fastvideo.md §1.1)."""
    x = np.clip(video / 2.0 + 0.5, 0.0, 1.0)
    return np.trunc(x * 255.0).astype(np.uint8).transpose(1, 2, 3, 0)


class WanT2VReference:
    def __init__(self, checkpoint_dir):
        self.text_encoder = UMT5Encoder(os.path.join(checkpoint_dir, "text_encoder"))
        self.transformer = WanTransformer(os.path.join(checkpoint_dir, "transformer"))
        self.vae = WanVAEDecoder(os.path.join(checkpoint_dir, "vae"))

    def generate(self, prompt_ids, negative_ids, seed, height, width, num_frames, steps, guidance, flow_shift,
                 noise=None):
        """Returns dict(noise f32, final_latents f64, video f64 [3,F,H,W], frames u8 [F,H,W,3], timesteps)."""
        if noise is None:
            noise = initial_noise(seed, num_frames, height, width)
        ctx_cond = text_context(self.text_encoder, list(prompt_ids))[None]
        use_cfg = guidance > 1.0
        ctx_uncond = text_context(self.text_encoder, list(negative_ids))[None] if use_cfg else None
        sched = FlowUniPC(steps, flow_shift)
        x = noise.astype(np.float64)
        for t in sched.timesteps:
            v = self.transformer(x, float(t), ctx_cond)
            if use_cfg:
                v_uncond = self.transformer(x, float(t), ctx_uncond)
                v = v_uncond + guidance * (v - v_uncond)
            x = sched.step(v, x)
        video = self.vae(x)[0]
        return {
            "noise": noise,
            "final_latents": x,
            "video": video,
            "frames": frames_to_uint8(video),
            "timesteps": sched.timesteps,
            "sigmas": sched.sigmas,
        }

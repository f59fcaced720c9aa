#!/usr/bin/env python3
"""PyTorch anchor for `fastvideo bench denoise`: the 1.3B denoising loop in PyTorch.

The model is tools/bench/torch_dit_anchor.py's (imported: wan21.md §1 with the diffusers bf16
path), run eager with cuDNN SDPA. Per step, as WanPipeline (§4.1): latents cast to bf16, a
conditional and an unconditional forward, CFG in bf16 (guidance 5.0), then the update. The update
is a flow-match Euler step x += (σ_{k+1} − σ_k)·v on the §4.2 schedule instead of FlowUniPC: the
scheduler is a few elementwise ops over 1.6 M latent values per step, negligible next to two
transformer forwards (283 TFLOP each at 480x832x81), so the comparison is of the loop, not the
solver. One untimed forward pair first (cuDNN plans), as `fastvideo bench denoise` does.

  python3 tools/bench/torch_denoise_anchor.py --json torch_denoise.json
  python3 tools/bench/torch_denoise_anchor.py --steps 10    # first 10 of 50 steps, extrapolated
"""

import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_dit_anchor as dit  # noqa: E402
from anchor_harness import report_json


def schedule(n, shift):
    """§4.2: σ̂_i = 1 − i·(1 − 1/1000)/N, shifted; integer timesteps; σ_N = 0."""
    sigmas = []
    for i in range(n):
        s = 1.0 - i * (1.0 - 1.0 / 1000) / n
        sigmas.append(shift * s / (1.0 + (shift - 1.0) * s))
    if abs(sigmas[0] - 1.0) < 1e-6:
        sigmas[0] -= 1e-6
    return [int(s * 1000) for s in sigmas], sigmas + [0.0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--width", type=int, default=832)
    ap.add_argument("--num-frames", type=int, default=81)
    ap.add_argument("--num-inference-steps", type=int, default=50)
    ap.add_argument("--steps", type=int, default=0, help="first N steps only; total extrapolated")
    ap.add_argument("--guidance-scale", type=float, default=5.0)
    ap.add_argument("--flow-shift", type=float, default=3.0)
    ap.add_argument("--layers", type=int, default=0, help="smoke runs only (0: all 30)")
    ap.add_argument("--device", default="cuda", help="cuda (timed) or cpu (fp32 smoke run only)")
    ap.add_argument("--json", help="write the results here as well as to stdout")
    args = ap.parse_args()

    cfg = dit.CONFIGS["1.3b"]
    n_total = args.num_inference_steps
    steps = args.steps or n_total
    if not 1 <= steps <= n_total:
        sys.exit(f"--steps {steps} is not in 1..{n_total}")
    H, W, F = args.height, args.width, args.num_frames
    if H % 16 or W % 16 or F % 4 != 1:
        sys.exit(f"{H}x{W}x{F} is not a Wan size")
    T = (F - 1) // 4 + 1
    device = torch.device(args.device)
    on_gpu = device.type == "cuda"
    dtype = torch.bfloat16 if on_gpu else torch.float32
    layers = args.layers or cfg["layers"]

    model = dit.build_model(cfg, layers, device, dtype)
    model.rope = dit.rope_tables((T, H // 16, W // 16), device)
    g = torch.Generator(device="cpu").manual_seed(1)
    latents = torch.randn([1, dit.IN_CHANNELS, T, H // 8, W // 8], generator=g).to(device)
    cond = (0.2 * torch.randn(1, dit.TEXT_LEN, dit.TEXT_DIM, generator=g)).to(device, dtype)
    uncond = (0.2 * torch.randn(1, dit.TEXT_LEN, dit.TEXT_DIM, generator=g)).to(device, dtype)
    timesteps, sigmas = schedule(n_total, args.flow_shift)
    guidance = args.guidance_scale

    if on_gpu:
        from torch.nn.attention import SDPBackend, sdpa_kernel
        attention = lambda: sdpa_kernel(SDPBackend.CUDNN_ATTENTION)  # noqa: E731
    else:
        import contextlib
        attention = contextlib.nullcontext

    def sync():
        if on_gpu:
            torch.cuda.synchronize()

    step_seconds = []
    with torch.inference_mode(), attention():
        t = torch.tensor([float(timesteps[0])], device=device)
        model(latents.to(dtype), t, cond)  # warm-up pair
        model(latents.to(dtype), t, uncond)
        sync()
        if on_gpu:
            torch.cuda.reset_peak_memory_stats(device)
        t_loop = time.perf_counter()
        for k in range(steps):
            t0 = time.perf_counter()
            t = torch.tensor([float(timesteps[k])], device=device)
            x = latents.to(dtype)
            v_c = model(x, t, cond)
            v_u = model(x, t, uncond)
            v = v_u + guidance * (v_c - v_u)  # bf16, as the pipeline
            latents = latents + (sigmas[k + 1] - sigmas[k]) * v.float()
            sync()
            step_seconds.append(time.perf_counter() - t0)
            print(f"  step {k + 1}/{steps}: {step_seconds[-1]:.3f} s", file=sys.stderr)
        sync()
        total = time.perf_counter() - t_loop
    finite = bool(torch.isfinite(latents).all())
    per_step = total / steps
    result = {
        "bench": "torch_denoise_anchor", "weights": "random", "torch": torch.__version__,
        "card": torch.cuda.get_device_name(device) if on_gpu else "cpu",
        "attention": "cuDNN SDPA (eager)" if on_gpu else "default",
        "scheduler": "flow-match Euler (not FlowUniPC: a few elementwise ops per step, "
                     "negligible next to two transformer forwards)",
        "latent_shape": list(latents.shape), "layers": layers, "guidance_scale": guidance,
        "num_inference_steps": n_total, "steps_run": steps, "transformer_forwards": 2 * steps,
        "step_seconds": step_seconds, "median_step_seconds": statistics.median(step_seconds),
        "seconds": total, "seconds_per_step": per_step, "total_seconds": per_step * n_total,
        "extrapolated": steps < n_total, "finite": finite,
    }
    if steps < n_total:
        result["note"] = (f"total_seconds = seconds_per_step x {n_total} from {steps} "
                          "measured steps")
    if on_gpu:
        result["peak_device_bytes"] = torch.cuda.max_memory_allocated(device)
    report_json(result, args.json)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Reference values for the video comparison metrics (src/quality/video_metrics.h).

Frames are not stored: each case is a recipe over integer-only arithmetic (splitmix64 hashes,
clamps, integer division) that tests/video_metrics_test.cpp rebuilds bit for bit. SSIM and
MS-SSIM come from pytorch_msssim exactly as FastVideo calls it (fastvideo.md §7:
frames.float() / 255, one (1, 3, H, W) frame at a time, data_range=1.0); PSNR from numpy on
the uint8 frames (MAX 255).

Usage: /usr/bin/python3 tools/reference/metric_vectors.py > tests/data/metric_vectors.json
"""
import json
import math
import sys

import numpy as np
import pytorch_msssim
import torch

MASK64 = (1 << 64) - 1


def splitmix64(x):
    """splitmix64 finaliser on a uint64 numpy array (wrapping arithmetic)."""
    z = (x + np.uint64(0x9E3779B97F4A7C15)) & np.uint64(MASK64)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def hashed(seed, stream, count):
    """Hash of (seed, stream, i) for i < count: key = seed·2^40 + stream·2^36 + i."""
    key = np.uint64(seed) * np.uint64(1 << 40) + np.uint64(stream) * np.uint64(1 << 36)
    return splitmix64(key + np.arange(count, dtype=np.uint64))


def pattern(frames, height, width):
    f, y, x, c = np.meshgrid(np.arange(frames), np.arange(height), np.arange(width), np.arange(3),
                             indexing="ij")
    return ((x * (c + 1) * 3 + y * 2 + f * 5 + (x * y) // 64) % 256).astype(np.int64)


def make_pair(recipe, seed, frames, height, width):
    n = frames * height * width * 3
    shape = (frames, height, width, 3)
    if recipe == "uniform_noise":
        a = (hashed(seed, 0, n) & np.uint64(255)).astype(np.int64).reshape(shape)
        b = (hashed(seed, 1, n) & np.uint64(255)).astype(np.int64).reshape(shape)
    elif recipe == "pattern_plus_noise":
        a = pattern(frames, height, width)
        noise = (hashed(seed, 1, n) % np.uint64(33)).astype(np.int64).reshape(shape) - 16
        b = np.clip(a + noise, 0, 255)
    elif recipe == "pattern_dimmed":
        a = pattern(frames, height, width)
        b = a * 3 // 4 + 16
    elif recipe == "blocks":
        # 8×8 blocks of random colour, then small per-pixel noise.
        hb, wb = (height + 7) // 8, (width + 7) // 8
        cells = (hashed(seed, 0, frames * hb * wb * 3) & np.uint64(255)).astype(np.int64)
        cells = cells.reshape(frames, hb, wb, 3)
        a = np.repeat(np.repeat(cells, 8, axis=1), 8, axis=2)[:, :height, :width, :]
        noise = (hashed(seed, 1, n) % np.uint64(11)).astype(np.int64).reshape(shape) - 5
        b = np.clip(a + noise, 0, 255)
    else:
        raise ValueError(recipe)
    return a.astype(np.uint8), b.astype(np.uint8)


CASES = [
    # name, recipe, seed, frames, height, width
    ("pattern_plus_noise_176x192", "pattern_plus_noise", 1, 2, 176, 192),
    ("blocks_odd_181x167", "blocks", 2, 2, 181, 167),
    ("pattern_dimmed_176x176", "pattern_dimmed", 3, 1, 176, 176),
    ("uniform_noise_176x176", "uniform_noise", 4, 1, 176, 176),
    ("pattern_plus_noise_small_48x64", "pattern_plus_noise", 5, 2, 48, 64),
    ("blocks_short_8x40", "blocks", 6, 1, 8, 40),
]


def main():
    out = {"generator": "tools/reference/metric_vectors.py",
           "pytorch_msssim": getattr(pytorch_msssim, "__version__", "1.0.0"),
           "torch": torch.__version__, "cases": []}
    for name, recipe, seed, frames, height, width in CASES:
        a, b = make_pair(recipe, seed, frames, height, width)
        case = {"name": name, "recipe": recipe, "seed": seed, "frames": frames, "height": height,
                "width": width, "psnr": [], "ssim": [], "ms_ssim": None}
        # Independent of the recipe code in C++: a checksum of the frames it must reproduce.
        case["sum_a"] = int(a.astype(np.int64).sum())
        case["sum_b"] = int(b.astype(np.int64).sum())
        ms = [] if min(height, width) > 160 else None
        for f in range(frames):
            mse = np.mean((a[f].astype(np.float64) - b[f].astype(np.float64)) ** 2)
            case["psnr"].append(math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse))
            x = torch.from_numpy(a[f]).permute(2, 0, 1)[None].float() / 255.0
            y = torch.from_numpy(b[f]).permute(2, 0, 1)[None].float() / 255.0
            with torch.no_grad():
                case["ssim"].append(pytorch_msssim.ssim(x, y, data_range=1.0).item())
                if ms is not None:
                    ms.append(pytorch_msssim.ms_ssim(x, y, data_range=1.0).item())
        case["ms_ssim"] = ms
        out["cases"].append(case)
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""FastVideo's own VSA fine kernel (fastvideo-kernel's ThunderKittens `block_sparse_h100.cu`, the
kernel FastVideo's VIDEO_SPARSE_ATTN runs on Hopper), built here with PyTorch's extension loader
and timed at `fastvideo bench attention`'s shapes: the same-card anchor for its "VSA fine (hopper)"
rows (issue 9). Nothing of FastVideo is in this repository; its sources are read from the folders
given (tools/bench/fetch_anchors.sh puts them in .anchors/, git-ignored).

    python3 tools/bench/fastvideo_vsa_anchor.py --fastvideo-kernel .anchors/fastvideo-kernel \
        --thunderkittens .anchors/thunderkittens [--json fastvideo_vsa.json]

Each shape's tokens are tiled as VSA tiles them (4x4x4 cubes, partial edge tiles padded to 64
rows: the kernel's input is the tiled sequence, L_p = 64 * tiles), every query tile of every head
attends to top-k = ceil((1 - sparsity) * tiles) distinct key tiles drawn at random (the time does
not depend on which), keys past a tile's valid count masked by the kernel. TFLOP/s count the 64x64
blocks computed, 4 * H * D * tiles * topk * 64^2, as our bench's rows do. Before timing, a small
case is checked against masked attention in PyTorch, so a wrong build cannot pass as fast.
"""
import argparse
import math
import os
import statistics
import sys
import tempfile

import torch
from anchor_harness import (add_run_args, build_extension, refuse_lost_build, report_json,
                            require_hopper, run_settings, time_runs)

# (name, heads, token grid T x H x W): bench/attention_bench.cpp's VSA shapes with batch 1 (the
# kernel takes batch 1 only), named as its rows are; the last is FastVideo#1034's whole-tile case
# (40,768 tokens, 16 heads).
SHAPES = [
    ("self 1.3B 480p", 12, (21, 30, 52)),
    ("self 14B 720p", 40, (21, 45, 80)),
    ("self 28x28x52 whole tiles", 16, (28, 28, 52)),
]
SPARSITIES = [0.8, 0.9]
TILE = 4

BINDING = r"""
#include <torch/extension.h>
#include <vector>
std::vector<torch::Tensor> block_sparse_attention_forward(
    torch::Tensor q, torch::Tensor k, torch::Tensor v, torch::Tensor q2k_block_sparse_index,
    torch::Tensor q2k_block_sparse_num, torch::Tensor kv_block_size);
PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("block_sparse_fwd", &block_sparse_attention_forward);
}
"""


def build(kernel_dir, tk_dir):
    # One path, rewritten only when it differs: a kept build (FASTVIDEO_ANCHOR_BUILD_DIR) then
    # compiles nothing again.
    binding = os.path.join(tempfile.gettempdir(), "fastvideo_vsa_anchor_binding.cpp")
    if not os.path.exists(binding) or open(binding).read() != BINDING:
        with open(binding, "w") as f:
            f.write(BINDING)
    return build_extension(
        "fastvideo_vsa_anchor",
        [binding, os.path.join(kernel_dir, "csrc", "attention", "block_sparse_h100.cu")],
        include_dirs=[os.path.join(tk_dir, "include"), os.path.join(tk_dir, "prototype")],
        cuda_flags=["-O3", "-DNDEBUG", "-std=c++20", "--use_fast_math", "--expt-extended-lambda",
                    "--expt-relaxed-constexpr", "-DTORCH_COMPILE", "-DKITTENS_HOPPER"],
        cxx_flags=["-O3", "-std=c++20"], ldflags=["-lcuda"])  # its TMA code calls the driver API


def tile_sizes(grid):
    """Valid tokens of each 4x4x4 tile, tiles in (t, h, w) order."""
    counts = [[min(TILE, n - TILE * i) for i in range(math.ceil(n / TILE))] for n in grid]
    return [a * b * c for a in counts[0] for b in counts[1] for c in counts[2]]


def random_selection(heads, tiles, topk, device, generator):
    """[1, heads, tiles, topk] distinct key tiles per query tile, ascending; counts all topk."""
    scores = torch.rand(heads, tiles, tiles, generator=generator, device=device)
    index = scores.topk(topk, dim=-1).indices.sort(dim=-1).values.to(torch.int32)
    num = torch.full((1, heads, tiles), topk, dtype=torch.int32, device=device)
    return index.unsqueeze(0).contiguous(), num


def tiled_inputs(heads, sizes, device, generator):
    """q, k, v [1, heads, 64 * tiles, 128] bf16 with the padding rows of partial tiles zero."""
    tiles = len(sizes)
    valid = torch.arange(64, device=device)[None, :] < torch.tensor(sizes, device=device)[:, None]
    mask = valid.reshape(1, 1, tiles * 64, 1)
    out = []
    for _ in range(3):
        x = torch.randn(1, heads, tiles * 64, 128, generator=generator, device=device)
        out.append((x * mask).to(torch.bfloat16).contiguous())
    return out


def reference(q, k, v, index, sizes):
    """Dense attention in f32 over each query tile's selected key tiles' valid keys."""
    heads, tiles = q.shape[1], len(sizes)
    keys = torch.arange(tiles * 64, device=q.device)
    key_valid = (keys % 64) < torch.tensor(sizes, device=q.device)[keys // 64]
    allowed = torch.zeros(heads, tiles, tiles, dtype=torch.bool, device=q.device)
    allowed.scatter_(2, index[0].long(), True)
    mask = allowed.repeat_interleave(64, dim=1).repeat_interleave(64, dim=2) & key_valid
    scores = (q[0].float() @ k[0].float().transpose(1, 2)) / math.sqrt(q.shape[-1])
    scores = scores.masked_fill(~mask, float("-inf"))
    return (scores.softmax(-1) @ v[0].float()).unsqueeze(0)


def check(ops, device, generator):
    """A 5x6x7 grid (partial tiles on every axis), 2 heads, 4 of 8 tiles: max |error| vs f32."""
    sizes = tile_sizes((5, 6, 7))
    q, k, v = tiled_inputs(2, sizes, device, generator)
    index, num = random_selection(2, len(sizes), 4, device, generator)
    block_size = torch.tensor(sizes, dtype=torch.int32, device=device)
    got = ops.block_sparse_fwd(q, k, v, index, num, block_size)[0].float()
    want = reference(q, k, v, index, sizes)
    rows = torch.arange(len(sizes) * 64, device=device)
    row_valid = (rows % 64) < torch.tensor(sizes, device=device)[rows // 64]
    return (got - want)[:, :, row_valid].abs().max().item()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fastvideo-kernel", required=True,
                        help="FastVideo's fastvideo-kernel folder (csrc/attention/block_sparse_h100.cu)")
    parser.add_argument("--thunderkittens", required=True,
                        help="ThunderKittens at the commit FastVideo pins (include/, prototype/)")
    add_run_args(parser)
    args = parser.parse_args()
    refuse_lost_build(args)
    require_hopper("fastvideo_vsa_anchor: FastVideo's Hopper VSA kernel")
    device = torch.device("cuda")
    generator = torch.Generator(device=device).manual_seed(0)
    ops = build(args.fastvideo_kernel, args.thunderkittens)
    if args.build_only:
        return
    error = check(ops, device, generator)
    print(f"check against masked attention in f32: max |error| {error:.3e}")
    if not error < 2e-2:
        sys.exit(f"fastvideo_vsa_anchor: FastVideo's kernel as built here is wrong ({error:.3e})")
    rows = []
    for name, heads, grid in SHAPES:
        sizes = tile_sizes(grid)
        tiles = len(sizes)
        q, k, v = tiled_inputs(heads, sizes, device, generator)
        block_size = torch.tensor(sizes, dtype=torch.int32, device=device)
        for sparsity in SPARSITIES:
            topk = max(1, min(math.ceil((1 - sparsity) * tiles), tiles))
            index, num = random_selection(heads, tiles, topk, device, generator)
            seconds = time_runs(lambda: ops.block_sparse_fwd(q, k, v, index, num, block_size),
                                args.warmup, args.repeats, warmup_ms=args.warmup_ms)
            median = statistics.median(seconds)
            flop = 4.0 * heads * 128 * tiles * topk * 64 * 64
            rows.append({"shape": name, "heads": heads, "grid": list(grid), "tiles": tiles,
                         "sparsity": sparsity, "topk": topk, "median_ms": median * 1e3,
                         "min_ms": min(seconds) * 1e3, "tflops": flop / median / 1e12})
            print(f"{name:30s} @{sparsity}: top-k {topk:4d} of {tiles}, "
                  f"{median * 1e3:8.3f} ms ({flop / median / 1e12:6.1f} TFLOP/s on its blocks)")
    report_json({"anchor": "FastVideo block_sparse_h100 (ThunderKittens)",
                 "device": torch.cuda.get_device_name(), "check_max_error": error,
                 **run_settings(args),
                 "rows": rows}, args.json)


if __name__ == "__main__":
    main()

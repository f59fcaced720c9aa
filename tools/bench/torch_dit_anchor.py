#!/usr/bin/env python3
"""PyTorch anchor for `fastvideo bench dit`: one Wan2.1 transformer forward (WanTransformer3DModel).

Written from /work/shared/reference/wan21.md §1 with the diffusers bf16-path math (§1.2): bf16
weights except the fp32 keep-list (time_embedder, every scale_shift_table, norm2), fp32 LayerNorms
and modulation, torch RMSNorm on the full inner dim, interleaved 3-D RoPE in fp32, and
F.scaled_dot_product_attention on [B, H, S, 128]. Weights are random (same shapes, tiny-model
scales). Like diffusers (and unlike the C++ engine, which caches them per prompt) the text MLP and
the cross-attention K/V run inside the forward; that is 0.06 % of the FLOPs.

Timed variants, each the median of CUDA-event-timed forwards after warm-ups:
  eager_cudnn    eager, sdpa_kernel(CUDNN_ATTENTION)
  eager_flash    eager, sdpa_kernel(FLASH_ATTENTION)
  compile        torch.compile(model) (default mode, PyTorch's own SDPA choice)

  python3 tools/bench/torch_dit_anchor.py --config 1.3b --json torch_dit.json
  python3 tools/bench/torch_dit_anchor.py --config 14b --layers 8

TFLOP counts are wan21.md §1.8 per block (283.0 for 1.3B at 480x832x81), the same formula
`fastvideo bench dit` uses.
"""

import argparse
import math
import statistics
import sys

import torch
from anchor_harness import report_json, time_runs
import torch.nn as nn
import torch.nn.functional as F

CONFIGS = {
    # wan21.md §0; benchmark sizes as in DESIGN §6.
    "1.3b": dict(heads=12, layers=30, ffn=8960, height=480, width=832),
    "14b": dict(heads=40, layers=40, ffn=13824, height=720, width=1280),
}
HEAD_DIM, IN_CHANNELS, TEXT_DIM, FREQ_DIM, TEXT_LEN, EPS = 128, 16, 4096, 256, 512, 1e-6

# §1.2: diffusers keeps a parameter in fp32 when a component of its dotted name is one of these.
KEEP_FP32 = {"rope", "time_embedder", "scale_shift_table", "norm1", "norm2", "norm3"}


def keep_fp32(name):
    return any(part in KEEP_FP32 for part in name.split("."))


def fp32_layer_norm(x, weight=None, bias=None):
    """diffusers FP32LayerNorm: biased variance, eps 1e-6, computed on x.float()."""
    return F.layer_norm(x.float(), (x.shape[-1],), weight, bias, EPS)


def rms_norm(x, weight):
    """torch.nn.RMSNorm over the full inner dim (§1.5, rms_norm_across_heads)."""
    if hasattr(F, "rms_norm"):
        return F.rms_norm(x, (x.shape[-1],), weight, EPS)
    xf = x.float()  # old torch without F.rms_norm (smoke runs only)
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + EPS)).to(x.dtype) * weight


def sdpa(q, k, v):
    """q [B,Sq,H,d], k/v [B,Sk,H,d] -> [B,Sq,H*d]; diffusers' native dispatch transposes to BHSD."""
    q, k, v = (t.transpose(1, 2) for t in (q, k, v))
    if hasattr(F, "scaled_dot_product_attention"):
        o = F.scaled_dot_product_attention(q, k, v)
    else:  # old torch (smoke runs only)
        s = (q.float() @ k.float().transpose(-1, -2)) / math.sqrt(q.shape[-1])
        o = (s.softmax(-1) @ v.float()).to(q.dtype)
    return o.transpose(1, 2).flatten(2)


def apply_rope(x, cos, sin):
    """§1.4: interleaved pairs rotated in fp32 (cos/sin [1,S,1,d/2] fp32), result in x's dtype."""
    x1, x2 = x.unflatten(-1, (-1, 2)).unbind(-1)
    out = torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).flatten(-2)
    return out.type_as(x)


def rope_tables(grid, device):
    """§1.4: per-token angles for (T', H', W'), built in float64, stored fp32."""
    d_hw = 2 * (HEAD_DIM // 6)
    d_t = HEAD_DIM - 2 * d_hw
    T, H, W = grid
    f, h, w = torch.meshgrid(torch.arange(T), torch.arange(H), torch.arange(W), indexing="ij")

    def axis(pos, d):
        omega = 10000.0 ** (-2.0 * torch.arange(d // 2, dtype=torch.float64) / d)
        return pos.reshape(-1, 1).double() * omega

    angles = torch.cat([axis(f, d_t), axis(h, d_hw), axis(w, d_hw)], dim=1)
    cos = angles.cos().float().to(device)[None, :, None, :]
    sin = angles.sin().float().to(device)[None, :, None, :]
    return cos, sin


class Attention(nn.Module):
    def __init__(self, dim, heads, **kw):
        super().__init__()
        self.heads = heads
        self.to_q, self.to_k, self.to_v = (nn.Linear(dim, dim, **kw) for _ in range(3))
        self.to_out = nn.ModuleList([nn.Linear(dim, dim, **kw)])
        self.norm_q = nn.Parameter(torch.ones(dim, **kw))
        self.norm_k = nn.Parameter(torch.ones(dim, **kw))

    def forward(self, x, context=None, rope=None):
        context = x if context is None else context
        q = rms_norm(self.to_q(x), self.norm_q).unflatten(2, (self.heads, -1))
        k = rms_norm(self.to_k(context), self.norm_k).unflatten(2, (self.heads, -1))
        v = self.to_v(context).unflatten(2, (self.heads, -1))
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        return self.to_out[0](sdpa(q, k, v).type_as(q))


class Block(nn.Module):
    def __init__(self, dim, heads, ffn, **kw):
        super().__init__()
        self.scale_shift_table = nn.Parameter(torch.zeros(1, 6, dim, **kw))
        self.attn1 = Attention(dim, heads, **kw)
        self.attn2 = Attention(dim, heads, **kw)
        self.norm2 = nn.LayerNorm(dim, eps=EPS, **kw)  # affine; applied as FP32LayerNorm below
        self.ffn_in = nn.Linear(dim, ffn, **kw)
        self.ffn_out = nn.Linear(ffn, dim, **kw)

    def forward(self, x, context, tproj, rope):
        # §1.5, line by line.
        e = self.scale_shift_table + tproj.float()
        shift1, scale1, gate1, shift2, scale2, gate2 = e.chunk(6, dim=1)
        h = (fp32_layer_norm(x) * (1 + scale1) + shift1).type_as(x)
        x = (x.float() + self.attn1(h, rope=rope) * gate1).type_as(x)
        h = fp32_layer_norm(x, self.norm2.weight, self.norm2.bias).type_as(x)
        x = x + self.attn2(h, context=context)
        h = (fp32_layer_norm(x) * (1 + scale2) + shift2).type_as(x)
        f = self.ffn_out(F.gelu(self.ffn_in(h), approximate="tanh"))
        return (x.float() + f.float() * gate2).type_as(x)


class WanDiT(nn.Module):
    def __init__(self, heads, layers, ffn, **kw):
        super().__init__()
        dim = heads * HEAD_DIM
        self.dim = dim
        self.patch_embedding = nn.Conv3d(IN_CHANNELS, dim, (1, 2, 2), stride=(1, 2, 2), **kw)
        self.time_embedder_1 = nn.Linear(FREQ_DIM, dim, **kw)
        self.time_embedder_2 = nn.Linear(dim, dim, **kw)
        self.time_proj = nn.Linear(dim, 6 * dim, **kw)
        self.text_embedder_1 = nn.Linear(TEXT_DIM, dim, **kw)
        self.text_embedder_2 = nn.Linear(dim, dim, **kw)
        self.blocks = nn.ModuleList([Block(dim, heads, ffn, **kw) for _ in range(layers)])
        self.scale_shift_table = nn.Parameter(torch.zeros(1, 2, dim, **kw))
        self.proj_out = nn.Linear(dim, 4 * IN_CHANNELS, **kw)
        self.rope = None

    def forward(self, latents, t, context):
        B, C, T, H, W = latents.shape
        grid = (T, H // 2, W // 2)
        # §1.3 timestep: sinusoid in fp32, cos first; the MLP in fp32, temb cast to bf16.
        half = FREQ_DIM // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device,
                                                            dtype=torch.float32) / half)
        a = t.float()[:, None] * freqs[None]
        sinusoid = torch.cat([a.cos(), a.sin()], dim=-1)
        w1 = self.time_embedder_1.weight
        temb = self.time_embedder_2(F.silu(self.time_embedder_1(sinusoid.to(w1.dtype))))
        temb = temb.type_as(context)
        tproj = self.time_proj(F.silu(temb)).unflatten(1, (6, -1))
        c = self.text_embedder_2(F.gelu(self.text_embedder_1(context), approximate="tanh"))
        x = self.patch_embedding(latents).flatten(2).transpose(1, 2)
        rope = self.rope
        for block in self.blocks:
            x = block(x, c, tproj, rope)
        # §1.6: the head modulates with temb (not tproj).
        shift, scale = (self.scale_shift_table + temb.unsqueeze(1)).chunk(2, dim=1)
        y = (fp32_layer_norm(x) * (1 + scale) + shift).type_as(x)
        y = self.proj_out(y)
        y = y.reshape(B, T, H // 2, W // 2, 1, 2, 2, C).permute(0, 7, 1, 4, 2, 5, 3, 6)
        return y.flatten(6, 7).flatten(4, 5).flatten(2, 3)


def build_model(cfg, layers, device, dtype):
    """Random weights on the device: bf16 (or `dtype`) with the §1.2 fp32 keep-list."""
    torch.manual_seed(0)
    model = WanDiT(cfg["heads"], layers, cfg["ffn"], device=device, dtype=dtype)
    # Module names differ from the checkpoint's only where nothing is kept in fp32
    # (ffn_in/ffn_out, patch_embedding); the time embedder gets its diffusers component name.
    with torch.no_grad():
        for name, p in model.named_parameters():
            diffusers_name = name.replace("time_embedder_", "condition_embedder.time_embedder.")
            if keep_fp32(diffusers_name):
                p.data = p.data.float()
            if name.endswith("bias"):
                p.normal_(0.0, 0.02)
            elif "norm" in name:
                p.normal_(1.0, 0.1)
            elif "scale_shift_table" in name:
                p.normal_(0.0, 0.1)
            else:
                p.normal_(0.0, 1.0 / math.sqrt(p[0].numel()))
    return model.eval()


def block_tflop(cfg, S):
    """wan21.md §1.8 per block, B = 1, 512 text tokens."""
    D, Fd, L = cfg["heads"] * HEAD_DIM, cfg["ffn"], TEXT_LEN
    return (8 * S * D * D + 4 * S * S * D + 4 * S * D * D + 4 * L * D * D + 4 * S * L * D
            + 4 * S * D * Fd) / 1e12


def layers_that_fit(cfg, S):
    """Blocks that fit beside one forward's activations (FFN hidden state, a dozen [S, D])."""
    free, _ = torch.cuda.mem_get_info()
    D, Fd = cfg["heads"] * HEAD_DIM, cfg["ffn"]
    per_block = 2 * (8 * D * D + 2 * Fd * D)
    room = free - 2 * S * (16 * D + 4 * Fd) - 2 * 2**30 - 2 * (TEXT_DIM * D + 7 * D * D)
    return max(0, min(cfg["layers"], int(room // per_block)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", choices=sorted(CONFIGS), default="1.3b")
    ap.add_argument("--layers", type=int, default=0,
                    help="first N blocks only (0: all; 14b: as many as fit); extrapolated per layer")
    ap.add_argument("--height", type=int, default=0)
    ap.add_argument("--width", type=int, default=0)
    ap.add_argument("--num-frames", type=int, default=81)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--variants", default="eager_cudnn,eager_flash,compile")
    ap.add_argument("--device", default="cuda", help="cuda (timed) or cpu (fp32 smoke run only)")
    ap.add_argument("--json", help="write the results here as well as to stdout")
    args = ap.parse_args()

    cfg = CONFIGS[args.config]
    height = args.height or cfg["height"]
    width = args.width or cfg["width"]
    if height % 16 or width % 16 or args.num_frames % 4 != 1:
        sys.exit(f"{height}x{width}x{args.num_frames} is not a Wan size")
    T = (args.num_frames - 1) // 4 + 1
    latent_shape = [1, IN_CHANNELS, T, height // 8, width // 8]
    S = T * (height // 16) * (width // 16)
    device = torch.device(args.device)
    on_gpu = device.type == "cuda"
    dtype = torch.bfloat16 if on_gpu else torch.float32

    layers = min(args.layers or cfg["layers"], cfg["layers"])
    if not args.layers and args.config == "14b" and on_gpu:
        layers = layers_that_fit(cfg, S)
    if layers < 1:
        sys.exit(f"not even one {args.config} block fits at {S} tokens")

    model = build_model(cfg, layers, device, dtype)
    model.rope = rope_tables((T, height // 16, width // 16), device)
    g = torch.Generator(device="cpu").manual_seed(1)
    latents = torch.randn(latent_shape, generator=g).to(device, dtype)
    context = (0.2 * torch.randn(1, TEXT_LEN, TEXT_DIM, generator=g)).to(device, dtype)
    t = torch.tensor([999.0], device=device)

    tflop = layers * block_tflop(cfg, S)
    result = {
        "bench": "torch_dit_anchor", "config": args.config, "weights": "random",
        "torch": torch.__version__,
        "cudnn": torch.backends.cudnn.version() if on_gpu else None,
        "card": torch.cuda.get_device_name(device) if on_gpu else "cpu",
        "latent_shape": latent_shape, "tokens": S, "layers": layers, "num_layers": cfg["layers"],
        "warmup": args.warmup, "tflop": tflop, "variants": {},
    }

    def run(name, fn):
        if on_gpu:
            torch.cuda.reset_peak_memory_stats(device)
        try:
            seconds = time_runs(fn, args.warmup, args.repeats, on_gpu)
        except Exception as e:  # a backend this card or build cannot run: report, go on
            result["variants"][name] = {"error": f"{type(e).__name__}: {e}"}
            print(f"{name}: failed: {e}", file=sys.stderr)
            return
        median = statistics.median(seconds)
        entry = {"seconds": seconds, "median_seconds": median, "tflops": tflop / median}
        if on_gpu:
            entry["peak_device_bytes"] = torch.cuda.max_memory_allocated(device)
        if layers < cfg["layers"]:
            entry["extrapolated_full_forward_seconds"] = median * cfg["layers"] / layers
        result["variants"][name] = entry
        print(f"{name:12s} median {median:.4f} s  {tflop / median:7.1f} TFLOP/s", file=sys.stderr)

    forward = lambda: model(latents, t, context)  # noqa: E731
    for name in args.variants.split(","):
        if name in ("eager_cudnn", "eager_flash"):
            if not on_gpu:
                run("eager", forward)
                continue
            from torch.nn.attention import SDPBackend, sdpa_kernel
            backend = SDPBackend.CUDNN_ATTENTION if name == "eager_cudnn" else \
                SDPBackend.FLASH_ATTENTION

            def fn(backend=backend):
                with sdpa_kernel(backend):
                    return forward()
            run(name, fn)
        elif name == "compile":
            compiled = torch.compile(model)
            run(name, lambda: compiled(latents, t, context))
        else:
            sys.exit(f"unknown variant {name} (eager_cudnn, eager_flash, compile)")

    if layers < cfg["layers"]:
        result["extrapolated"] = {
            "note": "measured on the first layers; full forward scaled per layer",
            "full_forward_tflop": cfg["layers"] * block_tflop(cfg, S),
        }
    report_json(result, args.json)


if __name__ == "__main__":
    main()

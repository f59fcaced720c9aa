#!/usr/bin/env python3
"""PyTorch anchor for `fastvideo bench vae`: the Wan2.1 VAE decoder, written from
/work/shared/reference/wan21.md §2 (config §2.1, primitives §2.2, architecture §2.3, chunked decode
§2.4), in bf16, channels-first (channels-last with --channels-last), with torch's conv3d and the
per-latent-frame cached decode that diffusers runs. Random weights (torch's default init), random latents; prints the median decode
time after one warm-up and torch.cuda.max_memory_allocated of one decode as JSON.

Run it on the same card, in the same session, as `fastvideo bench vae`:
    python3 tools/bench/torch_vae_anchor.py [--height 480 --width 832 --num-frames 81] [--json out]
"""

import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from anchor_harness import report_json

CACHE_T = 2  # §2.4: frames of history every causal conv keeps

# §2.1
LATENTS_MEAN = [-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
                0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921]
LATENTS_STD = [2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
               3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.9160]


class Stream:
    """The per-decode state: one cache slot per causal conv / upsample3d, in call order."""

    def __init__(self):
        self.slots = {}


class CausalConv3d(nn.Conv3d):
    """§2.2: zero padding ph/pw on both sides, 2·pt zero frames in front, none behind; a cached
    tail of the stream stands in for that many of the zero frames."""

    def __init__(self, cin, cout, kernel, padding):
        super().__init__(cin, cout, kernel, padding=0)
        self.pt, self.ph, self.pw = padding

    def forward(self, x, stream=None):
        front = 2 * self.pt
        if stream is not None and front > 0:
            old = stream.slots.get(id(self))
            new = x[:, :, -CACHE_T:].clone()
            if new.shape[2] < CACHE_T and old is not None:
                new = torch.cat([old[:, :, -1:], new], dim=2)
            if old is not None:
                x = torch.cat([old, x], dim=2)
                front -= old.shape[2]
            stream.slots[id(self)] = new
        x = F.pad(x, (self.pw, self.pw, self.ph, self.ph, front, 0))
        return super().forward(x)


class RMSNorm(nn.Module):
    """§2.2: x / max(‖x‖₂ over channels, 1e-12) · √C · gamma."""

    def __init__(self, dim, spatial_dims):
        super().__init__()
        self.scale = dim ** 0.5
        self.gamma = nn.Parameter(torch.ones((dim,) + (1,) * spatial_dims))

    def forward(self, x):
        return F.normalize(x, dim=1) * self.scale * self.gamma


class ResidualBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.norm1 = RMSNorm(cin, 3)
        self.conv1 = CausalConv3d(cin, cout, 3, (1, 1, 1))
        self.norm2 = RMSNorm(cout, 3)
        self.conv2 = CausalConv3d(cout, cout, 3, (1, 1, 1))
        self.conv_shortcut = CausalConv3d(cin, cout, 1, (0, 0, 0)) if cin != cout else None

    def forward(self, x, stream):
        shortcut = self.conv_shortcut(x) if self.conv_shortcut is not None else x
        h = self.conv1(F.silu(self.norm1(x)), stream)
        h = self.conv2(F.silu(self.norm2(h)), stream)
        return h + shortcut


class AttentionBlock(nn.Module):
    """§2.2: single-head attention over the pixels of each frame, head_dim = C."""

    def __init__(self, dim):
        super().__init__()
        self.norm = RMSNorm(dim, 2)
        self.to_qkv = nn.Conv2d(dim, 3 * dim, 1)
        self.proj = nn.Conv2d(dim, dim, 1)

    def forward(self, x):
        b, c, t, h, w = x.shape
        frames = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
        qkv = self.to_qkv(self.norm(frames))
        qkv = qkv.reshape(b * t, 1, 3 * c, h * w).transpose(2, 3).contiguous()  # [bt,1,hw,3c]
        q, k, v = qkv.chunk(3, dim=-1)
        o = F.scaled_dot_product_attention(q, k, v)
        o = o.squeeze(1).transpose(1, 2).reshape(b * t, c, h, w)
        y = self.proj(o).reshape(b, t, c, h, w).permute(0, 2, 1, 3, 4)
        return y + x


class Upsample(nn.Module):
    """§2.2 upsample2d / upsample3d, with the §2.4 chunk rule for time_conv."""

    def __init__(self, dim, temporal):
        super().__init__()
        self.resample = nn.Conv2d(dim, dim // 2, 3, padding=1)
        self.time_conv = CausalConv3d(dim, 2 * dim, (3, 1, 1), (1, 0, 0)) if temporal else None

    def forward(self, x, stream):
        b, c, t, h, w = x.shape
        if self.time_conv is not None:
            key = id(self)
            if key not in stream.slots:
                stream.slots[key] = "first chunk seen"  # chunk 0: no temporal upsampling
            else:
                g = self.time_conv(x, stream)  # [b, 2c, t, h, w]
                x = torch.stack((g[:, :c], g[:, c:]), dim=3).reshape(b, c, 2 * t, h, w)
                t = 2 * t
        frames = x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
        # nearest ×2 in fp32 (§2.2), then the 3×3 conv per frame
        frames = F.interpolate(frames.float(), scale_factor=2.0, mode="nearest-exact").type_as(x)
        frames = self.resample(frames)
        return frames.reshape(b, t, c // 2, 2 * h, 2 * w).permute(0, 2, 1, 3, 4)


class WanVaeDecoder(nn.Module):
    """§2.3 for base_dim 96, z_dim 16, dim_mult [1,2,4,4], 2 res blocks, temporal [T,T,F]."""

    def __init__(self, base_dim=96, z_dim=16, dim_mult=(1, 2, 4, 4), num_res_blocks=2,
                 temporal_upsample=(True, True, False)):
        super().__init__()
        dims = [base_dim * dim_mult[-1]] + [base_dim * m for m in reversed(dim_mult)]
        self.post_quant_conv = CausalConv3d(z_dim, z_dim, 1, (0, 0, 0))
        self.conv_in = CausalConv3d(z_dim, dims[0], 3, (1, 1, 1))
        self.mid = nn.ModuleList([ResidualBlock(dims[0], dims[0]), AttentionBlock(dims[0]),
                                  ResidualBlock(dims[0], dims[0])])
        self.up_blocks = nn.ModuleList()
        for i in range(len(dim_mult)):
            cin = dims[0] if i == 0 else dims[i] // 2
            cout = dims[i + 1]
            resnets = nn.ModuleList()
            for _ in range(num_res_blocks + 1):
                resnets.append(ResidualBlock(cin, cout))
                cin = cout
            up = Upsample(cout, temporal_upsample[i]) if i + 1 < len(dim_mult) else None
            block = nn.ModuleDict({"resnets": resnets})
            if up is not None:
                block["up"] = up
            self.up_blocks.append(block)
        self.norm_out = RMSNorm(dims[-1], 3)
        self.conv_out = CausalConv3d(dims[-1], 3, 3, (1, 1, 1))

    def decode_chunk(self, z, stream):
        x = self.conv_in(z, stream)
        x = self.mid[0](x, stream)
        x = self.mid[1](x)
        x = self.mid[2](x, stream)
        for block in self.up_blocks:
            for resnet in block["resnets"]:
                x = resnet(x, stream)
            if "up" in block:
                x = block["up"](x, stream)
        return self.conv_out(F.silu(self.norm_out(x)), stream)

    def decode(self, latents):
        # The pipeline's de-normalisation (§2.1) in the VAE dtype, then post_quant_conv on all
        # frames and the decoder one latent frame at a time (§2.4).
        mean = torch.tensor(LATENTS_MEAN, device=latents.device, dtype=latents.dtype)
        inv_std = 1.0 / torch.tensor(LATENTS_STD, device=latents.device, dtype=latents.dtype)
        z = latents / inv_std.view(1, -1, 1, 1, 1) + mean.view(1, -1, 1, 1, 1)
        z = self.post_quant_conv(z)
        stream = Stream()
        chunks = [self.decode_chunk(z[:, :, i:i + 1], stream) for i in range(z.shape[2])]
        return torch.clamp(torch.cat(chunks, dim=2), -1.0, 1.0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--width", type=int, default=832)
    parser.add_argument("--num-frames", type=int, default=81)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cudnn-benchmark", action="store_true",
                        help="torch.backends.cudnn.benchmark = True (diffusers leaves it off)")
    parser.add_argument("--channels-last", action="store_true",
                        help="the 3-D convolutions' weights and the latents in "
                             "torch.channels_last_3d (the layout our decoder runs in; diffusers "
                             "uses channels-first); the 2-D convolutions stay NCHW")
    parser.add_argument("--json", help="also write the JSON here")
    parser.add_argument("--device", default="cuda", help="cuda (the anchor) or cpu (a smoke test)")
    args = parser.parse_args()

    torch.backends.cudnn.benchmark = args.cudnn_benchmark
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    on_gpu = device.type == "cuda"
    sync = torch.cuda.synchronize if on_gpu else (lambda: None)
    decoder = WanVaeDecoder().to(device=device, dtype=torch.bfloat16).eval()
    weight_bytes = sum(p.numel() * p.element_size() for p in decoder.parameters())
    latent_shape = (1, 16, (args.num_frames - 1) // 4 + 1, args.height // 8, args.width // 8)
    latents = torch.randn(latent_shape, device=device, dtype=torch.bfloat16)
    if args.channels_last:
        # The 3-D convolutions' weights only: the 2-D ones (attention, resampling) take per-frame
        # NCHW activations from their reshapes and stay as they are.
        for m in decoder.modules():
            if isinstance(m, nn.Conv3d):
                m.weight.data = m.weight.data.contiguous(memory_format=torch.channels_last_3d)
        latents = latents.contiguous(memory_format=torch.channels_last_3d)

    def timed_decode():
        sync()
        t0 = time.perf_counter()
        video = decoder.decode(latents)
        sync()
        return time.perf_counter() - t0, tuple(video.shape)

    with torch.inference_mode():
        warmup_s, video_shape = timed_decode()
        if on_gpu:
            torch.cuda.reset_peak_memory_stats()
        seconds = [timed_decode()[0] for _ in range(args.repeats)]
    result = {
        "engine": "torch",
        "torch": torch.__version__,
        "cudnn": torch.backends.cudnn.version(),
        "cudnn_benchmark": args.cudnn_benchmark,
        "channels_last": args.channels_last,
        "device": torch.cuda.get_device_name(device) if on_gpu else "cpu",
        "dtype": "bf16",
        "latent_shape": list(latent_shape),
        "video_shape": list(video_shape),
        "warmup_seconds": warmup_s,
        "seconds": seconds,
        "seconds_median": statistics.median(seconds),
        "peak_device_bytes": torch.cuda.max_memory_allocated(device) if on_gpu else None,
        "weight_bytes": weight_bytes,
    }
    report_json(result, args.json)


if __name__ == "__main__":
    main()

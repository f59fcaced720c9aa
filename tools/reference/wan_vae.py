"""Wan2.1 VAE decoder reference in the FULL-SEQUENCE formulation of wan21.md §2.4, float64.

No chunking and no feat_cache: every causal conv sees the whole stream with 2 zero frames in front,
and each upsample3d excludes frame 0 from its temporal conv. The engine decodes chunk by chunk, so
agreement checks the chunk/cache logic independently.
Activations are [C, T, H, W] (batch handled by the caller).
"""

import json
import math
import os

import numpy as np

from safetensors_np import load_dir


def causal_conv3d(x, weight, bias):
    """§2.2 WanCausalConv3d with padding (k-1)/2: 2·pt zero frames in front, 'same' zero padding in H, W."""
    cout, cin, kt, kh, kw = weight.shape
    C, T, H, W = x.shape
    assert C == cin, f"conv expects {cin} input channels, got {C}"
    ph, pw = (kh - 1) // 2, (kw - 1) // 2
    xp = np.pad(x, ((0, 0), (kt - 1, 0), (ph, ph), (pw, pw)))
    # im2col with columns ordered (dt, dh, dw, cin) and one matmul
    cols = np.empty((kt, kh, kw, cin, T, H, W), dtype=x.dtype)
    for dt in range(kt):
        for dh in range(kh):
            for dw in range(kw):
                cols[dt, dh, dw] = xp[:, dt:dt + T, dh:dh + H, dw:dw + W]
    wm = weight.transpose(0, 2, 3, 4, 1).reshape(cout, -1)
    out = wm @ cols.reshape(-1, T * H * W)
    return (out + bias[:, None]).reshape(cout, T, H, W)


def conv2d_per_frame(x, weight, bias):
    """Conv2d(k×k, padding (k-1)/2) applied to every frame."""
    return causal_conv3d(x, weight[:, :, None], bias)


def rms_norm(x, gamma):
    """§2.2 RMS_norm over channels: x / max(||x||, 1e-12) · sqrt(C) · gamma."""
    C = x.shape[0]
    norm = np.sqrt(np.sum(x * x, axis=0, keepdims=True))
    return x / np.maximum(norm, 1e-12) * math.sqrt(C) * gamma.reshape(C, *([1] * (x.ndim - 1)))


def silu(x):
    return x / (1.0 + np.exp(-x))


def softmax(s):
    s = s - s.max(axis=-1, keepdims=True)
    e = np.exp(s)
    return e / e.sum(axis=-1, keepdims=True)


class WanVAEDecoder:
    def __init__(self, vae_dir):
        with open(os.path.join(vae_dir, "config.json")) as f:
            cfg = json.load(f)
        self._setup(cfg, load_dir(vae_dir, "diffusion_pytorch_model"))

    @classmethod
    def from_weights(cls, cfg, weights, check=True):
        self = cls.__new__(cls)
        self._setup(cfg, weights, check)
        return self

    def _setup(self, cfg, w, check=True):
        self.base_dim = cfg["base_dim"]
        self.z_dim = cfg["z_dim"]
        self.dim_mult = cfg["dim_mult"]
        self.num_res_blocks = cfg["num_res_blocks"]
        self.temporal_upsample = list(reversed(cfg["temperal_downsample"]))  # (sic) key spelling
        self.mean = np.asarray(cfg["latents_mean"], dtype=np.float64)
        self.std = np.asarray(cfg["latents_std"], dtype=np.float64)
        self.w = {k: v.astype(np.float64) for k, v in w.items() if not k.startswith(("encoder.", "quant_conv."))}
        if check:
            self.check_weights()

    def dims(self):
        """§2.3: [base·mult[-1]] + [base·m for m in reversed(mult)]; base 96 -> [384,384,384,192,96]."""
        return [self.base_dim * m for m in [self.dim_mult[-1]] + list(reversed(self.dim_mult))]

    def decoder_tensor_shapes(self):
        """Every tensor decode() reads, with its shape (§2.3 table); 108 tensors for the real config."""
        dims, z = self.dims(), self.z_dim
        shapes = {}

        def conv(name, cout, cin, k):
            shapes[name + ".weight"] = (cout, cin) + k
            shapes[name + ".bias"] = (cout,)

        def res(p, cin, cout):
            shapes[p + "norm1.gamma"] = (cin, 1, 1, 1)
            conv(p + "conv1", cout, cin, (3, 3, 3))
            shapes[p + "norm2.gamma"] = (cout, 1, 1, 1)
            conv(p + "conv2", cout, cout, (3, 3, 3))
            if cin != cout:
                conv(p + "conv_shortcut", cout, cin, (1, 1, 1))

        conv("post_quant_conv", z, z, (1, 1, 1))
        conv("decoder.conv_in", dims[0], z, (3, 3, 3))
        res("decoder.mid_block.resnets.0.", dims[0], dims[0])
        a = "decoder.mid_block.attentions.0."
        shapes[a + "norm.gamma"] = (dims[0], 1, 1)
        conv(a + "to_qkv", 3 * dims[0], dims[0], (1, 1))
        conv(a + "proj", dims[0], dims[0], (1, 1))
        res("decoder.mid_block.resnets.1.", dims[0], dims[0])
        for i in range(len(self.dim_mult)):
            cin = dims[i] // 2 if i > 0 else dims[i]  # previous upsampler's Conv2d halves the channels
            for j in range(self.num_res_blocks + 1):
                res(f"decoder.up_blocks.{i}.resnets.{j}.", cin if j == 0 else dims[i + 1], dims[i + 1])
            if i != len(self.dim_mult) - 1:
                p = f"decoder.up_blocks.{i}.upsamplers.0."
                c = dims[i + 1]
                if self.temporal_upsample[i]:
                    conv(p + "time_conv", 2 * c, c, (3, 1, 1))
                conv(p + "resample.1", c // 2, c, (3, 3))
        shapes["decoder.norm_out.gamma"] = (dims[-1], 1, 1, 1)
        conv("decoder.conv_out", 3, dims[-1], (3, 3, 3))
        return shapes

    def check_weights(self):
        for name, shape in self.decoder_tensor_shapes().items():
            if name not in self.w:
                raise KeyError(f"vae: missing tensor {name} {shape}")
            if tuple(self.w[name].shape) != shape:
                raise ValueError(f"vae: tensor {name} has shape {self.w[name].shape}, expected {shape}")

    def _conv(self, x, name):
        return causal_conv3d(x, self.w[name + ".weight"], self.w[name + ".bias"])

    def residual(self, x, p):
        h = self._conv(silu(rms_norm(x, self.w[p + "norm1.gamma"])), p + "conv1")
        h = self._conv(silu(rms_norm(h, self.w[p + "norm2.gamma"])), p + "conv2")
        shortcut = self._conv(x, p + "conv_shortcut") if p + "conv_shortcut.weight" in self.w else x
        return h + shortcut

    def attention(self, x, p):
        """§2.2 AttentionBlock: single head, per frame, head_dim = C."""
        C, T, H, W = x.shape
        wqkv = self.w[p + "to_qkv.weight"].reshape(3 * C, C)
        bqkv = self.w[p + "to_qkv.bias"]
        wproj = self.w[p + "proj.weight"].reshape(C, C)
        bproj = self.w[p + "proj.bias"]
        out = np.empty_like(x)
        for t in range(T):
            frame = x[:, t].reshape(C, H * W)
            xn = rms_norm(frame, self.w[p + "norm.gamma"])
            qkv = wqkv @ xn + bqkv[:, None]
            q, k, v = qkv[:C].T, qkv[C:2 * C].T, qkv[2 * C:].T  # [HW, C]
            o = softmax(q @ k.T / math.sqrt(C)) @ v
            out[:, t] = (wproj @ o.T + bproj[:, None] + frame).reshape(C, H, W)
        return out

    def upsample(self, x, p, temporal):
        if temporal:
            # §2.4 full-sequence upsample3d: frame 0 passes through; time_conv runs causally on frames
            # 1..n-1 only, and each of those yields the two frames (g0_j, g1_j).
            C = x.shape[0]
            rest = x[:, 1:]
            frames = [x[:, :1]]
            if rest.shape[1] > 0:
                g = self._conv(rest, p + "time_conv")
                inter = np.stack([g[:C], g[C:]], axis=2)  # [C, n-1, 2, H, W]
                frames.append(inter.reshape(C, -1, *x.shape[2:]))
            x = np.concatenate(frames, axis=1)
        x = x.repeat(2, axis=2).repeat(2, axis=3)  # nearest ×2 = pixel duplication
        return conv2d_per_frame(x, self.w[p + "resample.1.weight"], self.w[p + "resample.1.bias"])

    def decode(self, z, clamp=True):
        """z [16, T, H, W] in model space -> video [3, 1+4(T-1), 8H, 8W], clamped to [-1, 1]."""
        z = np.asarray(z, dtype=np.float64)
        x = z * self.std[:, None, None, None] + self.mean[:, None, None, None]
        x = self._conv(x, "post_quant_conv")
        x = self._conv(x, "decoder.conv_in")
        x = self.residual(x, "decoder.mid_block.resnets.0.")
        x = self.attention(x, "decoder.mid_block.attentions.0.")
        x = self.residual(x, "decoder.mid_block.resnets.1.")
        for i in range(len(self.dim_mult)):
            for j in range(self.num_res_blocks + 1):
                x = self.residual(x, f"decoder.up_blocks.{i}.resnets.{j}.")
            if i != len(self.dim_mult) - 1:
                x = self.upsample(x, f"decoder.up_blocks.{i}.upsamplers.0.", self.temporal_upsample[i])
        x = silu(rms_norm(x, self.w["decoder.norm_out.gamma"]))
        x = self._conv(x, "decoder.conv_out")
        return np.clip(x, -1.0, 1.0) if clamp else x

    def __call__(self, latents):
        """latents [B,16,T,H,W] -> video [B,3,F,8H,8W] float64."""
        return np.stack([self.decode(z) for z in latents])

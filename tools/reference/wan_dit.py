"""Wan2.1 transformer (WanTransformer3DModel) reference forward, wan21.md §1.3-1.7, float64; self-attention dense
or VIDEO_SPARSE_ATTN with FastWan's gate (vsa.py, fastvideo.md §3).

fp32-everywhere semantics: no bf16 rounding anywhere (the diffusers bf16 casts of §1.2 are dropped).
"""

import json
import math
import os

import numpy as np

from safetensors_np import load_dir
from vsa import video_sparse_attention


def layer_norm(x, eps, w=None, b=None):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)  # biased variance
    y = (x - mu) / np.sqrt(var + eps)
    if w is not None:
        y = y * w + b
    return y


def rms_norm(x, eps, g):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * g


def silu(x):
    return x / (1.0 + np.exp(-x))


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def softmax(s):
    s = s - s.max(axis=-1, keepdims=True)
    e = np.exp(s)
    return e / e.sum(axis=-1, keepdims=True)


def attention(q, k, v):
    """q [Sq,H,d], k/v [Sk,H,d] -> [Sq,H*d]; scale 1/sqrt(d), no mask (§1.5)."""
    d = q.shape[-1]
    s = np.einsum("qhd,khd->hqk", q, k) / math.sqrt(d)
    o = np.einsum("hqk,khd->qhd", softmax(s), v)
    return o.reshape(q.shape[0], -1)


def timestep_sinusoid(t, freq_dim):
    """§1.3: cos first (flip_sin_to_cos), freq_i = exp(-ln(10000) i / half)."""
    half = freq_dim // 2
    freqs = np.exp(-math.log(10000.0) * np.arange(half, dtype=np.float64) / half)
    a = float(t) * freqs
    return np.concatenate([np.cos(a), np.sin(a)])


def rope_angles(T, Hp, Wp, head_dim):
    """§1.4: per-token pair angles [S, head_dim/2]; axis dims (d_t, d_h, d_w) = (d-4(d//6), 2(d//6), 2(d//6))."""
    d_hw = 2 * (head_dim // 6)
    d_t = head_dim - 2 * d_hw
    f, h, w = np.meshgrid(np.arange(T), np.arange(Hp), np.arange(Wp), indexing="ij")
    f, h, w = f.reshape(-1), h.reshape(-1), w.reshape(-1)

    def axis(pos, d):
        omega = 10000.0 ** (-2.0 * np.arange(d // 2, dtype=np.float64) / d)
        return pos[:, None].astype(np.float64) * omega[None, :]

    return np.concatenate([axis(f, d_t), axis(h, d_hw), axis(w, d_hw)], axis=1)


def apply_rope(x, angles):
    """x [S,H,d]; interleaved pairs (2p, 2p+1) rotated by angle p (complex multiply, not rotate-half)."""
    S, H, d = x.shape
    xp = x.reshape(S, H, d // 2, 2)
    c = np.cos(angles)[:, None, :]
    s = np.sin(angles)[:, None, :]
    out = np.empty_like(xp)
    out[..., 0] = xp[..., 0] * c - xp[..., 1] * s
    out[..., 1] = xp[..., 0] * s + xp[..., 1] * c
    return out.reshape(S, H, d)


class WanTransformer:
    def __init__(self, transformer_dir):
        with open(os.path.join(transformer_dir, "config.json")) as f:
            cfg = json.load(f)
        self._setup(cfg, load_dir(transformer_dir, "diffusion_pytorch_model"))

    @classmethod
    def from_weights(cls, cfg, weights):
        self = cls.__new__(cls)
        self._setup(cfg, weights)
        return self

    def _setup(self, cfg, w):
        self.heads = cfg["num_attention_heads"]
        self.head_dim = cfg["attention_head_dim"]
        self.dim = self.heads * self.head_dim
        self.layers = cfg["num_layers"]
        self.freq_dim = cfg.get("freq_dim", 256)
        self.eps = cfg.get("eps", 1e-6)
        self.patch = tuple(cfg.get("patch_size", [1, 2, 2]))
        self.out_channels = cfg.get("out_channels", 16)
        self.w = {k: v.astype(np.float64) for k, v in w.items()}

    def _lin(self, x, name):
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def time_embedding(self, t):
        """Returns temb [D] and tproj [6, D] (§1.3)."""
        e = timestep_sinusoid(t, self.freq_dim)
        temb = self._lin(silu(self._lin(e, "condition_embedder.time_embedder.linear_1")),
                         "condition_embedder.time_embedder.linear_2")
        tproj = self._lin(silu(temb), "condition_embedder.time_proj").reshape(6, self.dim)
        return temb, tproj

    def text_embedding(self, ctx):
        """ctx [512, text_dim] -> [512, D]; zero rows map to a constant non-zero row (§1.3)."""
        h = gelu_tanh(self._lin(ctx, "condition_embedder.text_embedder.linear_1"))
        return self._lin(h, "condition_embedder.text_embedder.linear_2")

    def patchify(self, x):
        """x [C,T,H,W] -> tokens [S, C*pt*ph*pw], vector order (c, kt, kh, kw), tokens frame-major."""
        pt, ph, pw = self.patch
        C, T, H, W = x.shape
        v = x.reshape(C, T // pt, pt, H // ph, ph, W // pw, pw).transpose(1, 3, 5, 0, 2, 4, 6)
        tok = v.reshape(-1, C * pt * ph * pw)
        wpe = self.w["patch_embedding.weight"].reshape(self.dim, -1)
        return tok @ wpe.T + self.w["patch_embedding.bias"]

    def unpatchify(self, y, grid):
        """y [S, pt*ph*pw*C] with channel innermost (§1.6) -> [C, T, H, W]."""
        pt, ph, pw = self.patch
        T, Hp, Wp = grid
        C = self.out_channels
        v = y.reshape(T, Hp, Wp, pt, ph, pw, C).transpose(6, 0, 3, 1, 4, 2, 5)
        return v.reshape(C, T * pt, Hp * ph, Wp * pw)

    def vsa_gate_prefix(self, i):
        """Block i's to_gate_compress (fastvideo.md §3.3: Linear D -> D with bias), under either name a
        checkpoint uses for it, or None (FastVideo zero-initialises a missing gate: G = 0)."""
        for name in (f"blocks.{i}.attn1.to_gate_compress", f"blocks.{i}.to_gate_compress"):
            if name + ".weight" in self.w:
                return name
        return None

    def self_attention(self, i, h, q, k, v, vsa):
        """q, k (after RoPE), v [S,H,d] -> [S,D]: dense (§1.5), or with vsa = (grid, sparsity) VIDEO_SPARSE_ATTN
        with its gate G = to_gate_compress(h), h the norm1 output (modulated LayerNorm) that q, k, v come from."""
        if vsa is None:
            return attention(q, k, v)
        grid, sparsity = vsa
        prefix = self.vsa_gate_prefix(i)
        g = self._lin(h, prefix).reshape(q.shape) if prefix else None
        out, info = video_sparse_attention(q, k, v, g, grid, sparsity)
        self.vsa_info.append(info)
        return out

    def block(self, i, x, c, tproj, angles, vsa=None):
        w = self.w
        p = f"blocks.{i}."
        H, hd, eps = self.heads, self.head_dim, self.eps
        S = x.shape[0]
        e = w[p + "scale_shift_table"][0] + tproj  # [6, D]
        shift1, scale1, gate1, shift2, scale2, gate2 = e
        # (1) self-attention
        h = layer_norm(x, eps) * (1.0 + scale1) + shift1
        q = rms_norm(self._lin(h, p + "attn1.to_q"), eps, w[p + "attn1.norm_q.weight"])
        k = rms_norm(self._lin(h, p + "attn1.to_k"), eps, w[p + "attn1.norm_k.weight"])
        v = self._lin(h, p + "attn1.to_v")
        q = apply_rope(q.reshape(S, H, hd), angles)
        k = apply_rope(k.reshape(S, H, hd), angles)
        a = self._lin(self.self_attention(i, h, q, k, v.reshape(S, H, hd), vsa), p + "attn1.to_out.0")
        x = x + a * gate1
        # (2) cross-attention: affine norm2, no modulation, no gate, no RoPE, no mask
        h = layer_norm(x, eps, w[p + "norm2.weight"], w[p + "norm2.bias"])
        q = rms_norm(self._lin(h, p + "attn2.to_q"), eps, w[p + "attn2.norm_q.weight"])
        k = rms_norm(self._lin(c, p + "attn2.to_k"), eps, w[p + "attn2.norm_k.weight"])
        v = self._lin(c, p + "attn2.to_v")
        Sk = c.shape[0]
        a = attention(q.reshape(S, H, hd), k.reshape(Sk, H, hd), v.reshape(Sk, H, hd))
        x = x + self._lin(a, p + "attn2.to_out.0")
        # (3) FFN
        h = layer_norm(x, eps) * (1.0 + scale2) + shift2
        f = self._lin(gelu_tanh(self._lin(h, p + "ffn.net.0.proj")), p + "ffn.net.2")
        return x + f * gate2

    def __call__(self, latents, t, ctx, vsa_sparsity=None):
        """latents [B,16,T,H,W], t scalar (or [B]), ctx [B,512,text_dim] -> velocity [B,16,T,H,W] float64.

        vsa_sparsity: None for dense self-attention, else VIDEO_SPARSE_ATTN at that sparsity (vsa.py); then
        self.vsa_info holds each self-attention's tiles, topk and smallest top-k selection margin."""
        self.vsa_info = []
        latents = np.asarray(latents, dtype=np.float64)
        ctx = np.asarray(ctx, dtype=np.float64)
        ts = np.broadcast_to(np.asarray(t, dtype=np.float64).reshape(-1), (latents.shape[0],))
        outs = []
        for b in range(latents.shape[0]):
            outs.append(self._forward_one(latents[b], ts[b], ctx[b], vsa_sparsity))
        return np.stack(outs)

    def _forward_one(self, x, t, ctx, vsa_sparsity):
        pt, ph, pw = self.patch
        _, T, H, W = x.shape
        grid = (T // pt, H // ph, W // pw)
        angles = rope_angles(*grid, self.head_dim)
        tok = self.patchify(x)
        temb, tproj = self.time_embedding(t)
        c = self.text_embedding(ctx)
        vsa = None if vsa_sparsity is None else (grid, vsa_sparsity)
        for i in range(self.layers):
            tok = self.block(i, tok, c, tproj, angles, vsa)
        # §1.6: head uses temb (not tproj) plus a 2-row table, order (shift, scale)
        e = self.w["scale_shift_table"][0] + temb
        shift, scale = e[0], e[1]
        y = layer_norm(tok, self.eps) * (1.0 + scale) + shift
        y = self._lin(y, "proj_out")
        return self.unpatchify(y, grid)

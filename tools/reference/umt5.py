"""UMT5 encoder reference (wan21.md §3.2), float64, run on the real tokens only (§3.3)."""

import json
import math
import os

import numpy as np

from safetensors_np import load_dir


def relative_position_bucket(r, num_buckets=32, max_distance=128):
    """Bidirectional T5 bucket of r = key_pos - query_pos (wan21.md §3.2).

    The log branch is evaluated in float32 and truncated toward zero, as transformers does.
    """
    half = num_buckets // 2
    max_exact = half // 2
    r = np.asarray(r, dtype=np.int64)
    base = np.where(r > 0, half, 0)
    n = np.abs(r)
    n_safe = np.maximum(n, 1).astype(np.float32)
    ratio = np.log(n_safe / np.float32(max_exact)) / np.float32(math.log(max_distance / max_exact))
    large = max_exact + (ratio * np.float32(half - max_exact)).astype(np.int64)
    large = np.minimum(large, half - 1)
    return base + np.where(n < max_exact, n, large)


def t5_rms(x, gain, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * gain


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def softmax(s, axis=-1):
    s = s - s.max(axis=axis, keepdims=True)
    e = np.exp(s)
    return e / e.sum(axis=axis, keepdims=True)


class UMT5Encoder:
    def __init__(self, text_encoder_dir):
        with open(os.path.join(text_encoder_dir, "config.json")) as f:
            cfg = json.load(f)
        self.d_kv = cfg["d_kv"]
        self.heads = cfg["num_heads"]
        self.layers = cfg["num_layers"]
        self.num_buckets = cfg["relative_attention_num_buckets"]
        self.max_distance = cfg["relative_attention_max_distance"]
        self.eps = cfg["layer_norm_epsilon"]
        w = load_dir(text_encoder_dir, "model")
        self.w = {k: v.astype(np.float64) for k, v in w.items()}
        if "shared.weight" not in self.w:
            self.w["shared.weight"] = self.w["encoder.embed_tokens.weight"]

    def __call__(self, ids):
        """ids: 1-D int sequence (real tokens incl. EOS). Returns float64 [n, d_model]."""
        w = self.w
        ids = np.asarray(ids, dtype=np.int64)
        n = len(ids)
        H, dk = self.heads, self.d_kv
        x = w["shared.weight"][ids]  # no sqrt(d) scaling
        pos = np.arange(n)
        buckets = relative_position_bucket(pos[None, :] - pos[:, None], self.num_buckets, self.max_distance)
        for i in range(self.layers):
            p = f"encoder.block.{i}.layer."
            h = t5_rms(x, w[p + "0.layer_norm.weight"], self.eps)
            q = (h @ w[p + "0.SelfAttention.q.weight"].T).reshape(n, H, dk).transpose(1, 0, 2)
            k = (h @ w[p + "0.SelfAttention.k.weight"].T).reshape(n, H, dk).transpose(1, 0, 2)
            v = (h @ w[p + "0.SelfAttention.v.weight"].T).reshape(n, H, dk).transpose(1, 0, 2)
            table = w[p + "0.SelfAttention.relative_attention_bias.weight"]  # [buckets, H]
            bias = table[buckets].transpose(2, 0, 1)  # [H, q, k]
            scores = q @ k.transpose(0, 2, 1) + bias  # T5: no 1/sqrt(d_kv)
            a = (softmax(scores) @ v).transpose(1, 0, 2).reshape(n, H * dk)
            x = x + a @ w[p + "0.SelfAttention.o.weight"].T
            h = t5_rms(x, w[p + "1.layer_norm.weight"], self.eps)
            g = gelu_tanh(h @ w[p + "1.DenseReluDense.wi_0.weight"].T) * (h @ w[p + "1.DenseReluDense.wi_1.weight"].T)
            x = x + g @ w[p + "1.DenseReluDense.wo.weight"].T
        return t5_rms(x, w["encoder.final_layer_norm.weight"], self.eps)


def text_context(encoder, ids, max_len=512):
    """wan21.md §3.3: embeddings of the real tokens, zero rows after them, 512 rows in all."""
    out = encoder(ids[:max_len])
    ctx = np.zeros((max_len, out.shape[1]), dtype=np.float64)
    ctx[: len(out)] = out
    return ctx

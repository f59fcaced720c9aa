#!/usr/bin/env python3
"""PyTorch anchor for `fastvideo bench umt5`: the UMT5-XXL encoder (transformers UMT5EncoderModel).

Written from /work/shared/reference/wan21.md §3.1 (config) and §3.2 (forward) with transformers'
bf16 math: T5 RMSNorm (variance in fp32, cast to the weight dtype, times the gain), q/k/v/o
without biases, scores NOT scaled by 1/sqrt(d_kv), a per-layer relative position bias (32
bidirectional buckets, max distance 128), softmax in fp32, gated tanh-GELU FFN. All weights bf16
(random, tiny-model scales), one 512-token prompt (the engine runs the real tokens only, §3.3;
a full 512 is the worst case both time).

Timed variants, each the median of CUDA-event-timed encodes after warm-ups:
  eager      as transformers runs it: matmul scores + bias, fp32 softmax, matmul
  sdpa       F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=1.0)
  compile    torch.compile of the eager model

  python3 tools/bench/torch_umt5_anchor.py --json torch_umt5.json
  python3 tools/bench/torch_umt5_anchor.py --device cpu --layers 1 --vocab 1000 --tokens 16  # smoke

TFLOP counts are those of `fastvideo bench umt5`: per layer 8·n·d·inner + 4·n²·inner + 6·n·d·ff.
"""

import argparse
import math
import statistics
import sys

import torch
from anchor_harness import report_json, time_runs
import torch.nn as nn
import torch.nn.functional as F

# wan21.md §3.1
D_MODEL, D_KV, HEADS, D_FF, LAYERS, VOCAB = 4096, 64, 64, 10240, 24, 256384
BUCKETS, MAX_DISTANCE, EPS = 32, 128, 1e-6


def t5_rms_norm(x, weight):
    """transformers T5LayerNorm: variance in fp32, no mean subtraction, cast, then the gain."""
    variance = x.float().pow(2).mean(-1, keepdim=True)
    return weight * (x * torch.rsqrt(variance + EPS)).to(weight.dtype)


def relative_buckets(n, device):
    """§3.2: bidirectional buckets of r = key_pos − query_pos."""
    r = torch.arange(n)[None, :] - torch.arange(n)[:, None]
    half = BUCKETS // 2
    base = (r > 0).long() * half
    a = r.abs()
    exact = half // 2
    large = exact + (torch.log(a.float().clamp(min=1) / exact) / math.log(MAX_DISTANCE / exact)
                     * (half - exact)).long()
    large = large.clamp(max=half - 1)
    return (base + torch.where(a < exact, a, large)).to(device)


class Layer(nn.Module):
    def __init__(self, **kw):
        super().__init__()
        inner = HEADS * D_KV
        self.attn_norm = nn.Parameter(torch.ones(D_MODEL, **kw))
        self.q, self.k, self.v = (nn.Linear(D_MODEL, inner, bias=False, **kw) for _ in range(3))
        self.o = nn.Linear(inner, D_MODEL, bias=False, **kw)
        self.relative_attention_bias = nn.Embedding(BUCKETS, HEADS, **kw)
        self.ffn_norm = nn.Parameter(torch.ones(D_MODEL, **kw))
        self.wi_0 = nn.Linear(D_MODEL, D_FF, bias=False, **kw)
        self.wi_1 = nn.Linear(D_MODEL, D_FF, bias=False, **kw)
        self.wo = nn.Linear(D_FF, D_MODEL, bias=False, **kw)

    def forward(self, x, buckets, use_sdpa):
        n = x.shape[1]
        h = t5_rms_norm(x, self.attn_norm)
        q, k, v = (p(h).view(1, n, HEADS, D_KV).transpose(1, 2) for p in (self.q, self.k, self.v))
        bias = self.relative_attention_bias(buckets).permute(2, 0, 1).unsqueeze(0)  # [1,H,n,n]
        if use_sdpa:
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=1.0)
        else:
            scores = q @ k.transpose(-1, -2) + bias  # no 1/sqrt(d_kv)
            a = F.softmax(scores.float(), dim=-1).type_as(scores) @ v
        x = x + self.o(a.transpose(1, 2).reshape(1, n, HEADS * D_KV))
        h = t5_rms_norm(x, self.ffn_norm)
        return x + self.wo(F.gelu(self.wi_0(h), approximate="tanh") * self.wi_1(h))


class Umt5Encoder(nn.Module):
    def __init__(self, layers, vocab, **kw):
        super().__init__()
        self.shared = nn.Embedding(vocab, D_MODEL, **kw)
        self.layers = nn.ModuleList([Layer(**kw) for _ in range(layers)])
        self.final_norm = nn.Parameter(torch.ones(D_MODEL, **kw))
        self.use_sdpa = False

    def forward(self, ids, buckets):
        x = self.shared(ids)  # no sqrt(d_model) scaling
        for layer in self.layers:
            x = layer(x, buckets, self.use_sdpa)
        return t5_rms_norm(x, self.final_norm)


def build_model(layers, vocab, device, dtype):
    torch.manual_seed(0)
    model = Umt5Encoder(layers, vocab, device=device, dtype=dtype)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.normal_(1.0, 0.1)
            elif name == "shared.weight":
                p.normal_(0.0, 1.0)
            elif "relative_attention_bias" in name:
                p.normal_(0.0, 0.5)
            else:
                std = 1.0 / math.sqrt(p.shape[1])
                p.normal_(0.0, std * (0.125 if name.endswith(".q.weight") else 1.0))
    return model.eval()


def flop(layers, n):
    inner = HEADS * D_KV
    return layers * (8 * n * D_MODEL * inner + 4 * n * n * inner + 6 * n * D_MODEL * D_FF)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tokens", type=int, default=512)
    ap.add_argument("--layers", type=int, default=LAYERS, help="smoke runs only")
    ap.add_argument("--vocab", type=int, default=VOCAB, help="smoke runs only")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--variants", default="eager,sdpa,compile")
    ap.add_argument("--device", default="cuda", help="cuda (timed, bf16) or cpu (fp32 smoke run)")
    ap.add_argument("--json", help="write the results here as well as to stdout")
    args = ap.parse_args()

    device = torch.device(args.device)
    on_gpu = device.type == "cuda"
    dtype = torch.bfloat16 if on_gpu else torch.float32
    model = build_model(args.layers, args.vocab, device, dtype)
    n = args.tokens
    # The same ids `fastvideo bench umt5` uses: 2 + (i·2654435761 mod 382), then EOS.
    ids = [2 + (i * 2654435761) % 382 for i in range(n - 1)] + [1]
    ids = torch.tensor([ids], device=device)
    buckets = relative_buckets(n, device)
    tf = flop(args.layers, n) / 1e12
    result = {
        "bench": "torch_umt5_anchor", "weights": "random", "torch": torch.__version__,
        "card": torch.cuda.get_device_name(device) if on_gpu else "cpu",
        "dtype": str(dtype).replace("torch.", ""), "tokens": n, "layers": args.layers,
        "warmup": args.warmup, "tflop": tf, "variants": {},
    }

    def run(name, fn):
        if on_gpu:
            torch.cuda.reset_peak_memory_stats(device)
        try:
            seconds = time_runs(fn, args.warmup, args.repeats, on_gpu)
        except Exception as e:  # a variant this build cannot run: report, go on
            result["variants"][name] = {"error": f"{type(e).__name__}: {e}"}
            print(f"{name}: failed: {e}", file=sys.stderr)
            return
        median = statistics.median(seconds)
        entry = {"seconds": seconds, "median_seconds": median, "tflops": tf / median}
        if on_gpu:
            entry["peak_device_bytes"] = torch.cuda.max_memory_allocated(device)
        result["variants"][name] = entry
        print(f"{name:8s} median {median:.4f} s  {tf / median:7.1f} TFLOP/s", file=sys.stderr)

    for name in args.variants.split(","):
        if name == "eager":
            model.use_sdpa = False
            run(name, lambda: model(ids, buckets))
        elif name == "sdpa":
            model.use_sdpa = True
            run(name, lambda: model(ids, buckets))
        elif name == "compile":
            model.use_sdpa = False
            compiled = []  # compiled inside run(), so a torch without compile is reported

            def fn():
                if not compiled:
                    compiled.append(torch.compile(model))
                return compiled[0](ids, buckets)
            run(name, fn)
        else:
            sys.exit(f"unknown variant {name} (eager, sdpa, compile)")

    report_json(result, args.json)


if __name__ == "__main__":
    main()

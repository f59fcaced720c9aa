"""Writes the golden files the C++ engine is tested against.

usage: /usr/bin/python3 tools/reference/make_goldens.py CHECKPOINT_DIR [OUT_DIR=tests/goldens]
           [--fastwan FASTWAN_DIR] [--only NAME[,NAME...]]

Every golden is computed by this independent float64 reference from CHECKPOINT_DIR (normally the
tiny model written by `fastvideo make-tiny-model DIR --seed 0`), except dit_vsa, which comes from
FASTWAN_DIR (`fastvideo make-tiny-model DIR --config fastwan --seed 0`, the tiny model plus a VSA
gate per block) and is written only when that is given. --only writes just the goldens named
(umt5, dit, dit_vsa, vae, vae_tiled, generation). Inputs are stored as F32 and the reference
computes from those exact F32 values.
"""

import argparse
import hashlib
import html
import json
import os
import re
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from pipeline import WanT2VReference  # noqa: E402
from wan_dit import WanTransformer  # noqa: E402
from safetensors_np import write_file  # noqa: E402
from umt5 import text_context  # noqa: E402
from vae_tiling import tiled_decode  # noqa: E402

PROMPT = "A red fox runs through fresh snow at dawn."
NEGATIVE_PROMPT = ""
FALLBACK_IDS = [5, 17, 42, 99, 7, 1]
EOS_ID = 1
GENERATION = dict(seed=1024, height=64, width=64, num_frames=9, steps=4, guidance=3.0, flow_shift=3.0)
MAX_GOLDEN_BYTES = 2 * 1024 * 1024


def clean_prompt(text):
    """wan21.md §3.3 prompt cleaning (ftfy is skipped: it is a no-op on plain ASCII prompts)."""
    text = html.unescape(html.unescape(text))
    return re.sub(r"\s+", " ", text).strip()


def tokenize(checkpoint_dir, text):
    """Returns (ids with EOS appended, how they were obtained)."""
    model = os.path.join(checkpoint_dir, "tokenizer", "spiece.model")
    try:
        import sentencepiece
    except ImportError:
        return None, "sentencepiece not importable"
    if not os.path.exists(model):
        return None, f"{model} missing"
    sp = sentencepiece.SentencePieceProcessor(model_file=model)
    return sp.encode(clean_prompt(text), out_type=int)[:511] + [EOS_ID], "sentencepiece " + sentencepiece.__version__


def checkpoint_digest(checkpoint_dir):
    """sha256 over every file of the checkpoint (relative path + bytes), so stale goldens are detectable."""
    digest = hashlib.sha256()
    for base, _, files in sorted(os.walk(checkpoint_dir)):
        for name in sorted(files):
            path = os.path.join(base, name)
            digest.update(os.path.relpath(path, checkpoint_dir).encode() + b"\0")
            with open(path, "rb") as f:
                digest.update(f.read())
    return digest.hexdigest()


def save(path, tensors, metadata):
    write_file(path, tensors, metadata)
    size = os.path.getsize(path)
    if size >= MAX_GOLDEN_BYTES:
        raise RuntimeError(f"{path} is {size} bytes, goldens must stay under {MAX_GOLDEN_BYTES}")
    print(f"wrote {path} ({size} bytes)")


# VAE tiling (diffusers' tiled_decode): latents 6×9 in tiles of 32×40 pixels every 24×32, so
# there are two rows and three columns, the last column one latent wide (an overlap cut to it).
VAE_TILING = {"tile_height": 32, "tile_width": 40, "stride_height": 24, "stride_width": 32}


def write_vae_tiled(ref, common, out_dir):
    rng = np.random.default_rng(4322)
    z = rng.standard_normal((1, 16, 2, 6, 9)).astype(np.float32)
    t = VAE_TILING
    video = tiled_decode(ref.vae, z[0], t["tile_height"], t["tile_width"], t["stride_height"],
                         t["stride_width"])[None]
    save(os.path.join(out_dir, "vae_tiled.safetensors"),
         {"latents": z, "video": video.astype(np.float32)},
         {**common, "inputs": "numpy default_rng(4322)", **{k: str(v) for k, v in t.items()},
          "formulation": "diffusers tiled_decode over the full-sequence decoder", "compute": "float64"})


def rel_l2(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


# VIDEO_SPARSE_ATTN on FastWan's gated blocks (fastvideo.md §3): latents 5×12×14 make a 5×6×7 token
# grid, 2×2×2 tiles of 4+1, 4+2 and 4+3 along t, h, w (a partial tile on every axis), so sparsity
# 0.5 keeps 4 of 8 key tiles and 0.0 all of them (the coarse branch still added).
VSA_LATENTS = (1, 16, 5, 12, 14)
VSA_SPARSITIES = (0.5, 0.0)


def write_dit_vsa(fastwan_dir, out_dir):
    dit = WanTransformer(os.path.join(fastwan_dir, "transformer"))
    gates = [dit.vsa_gate_prefix(i) for i in range(dit.layers)]
    if None in gates:
        raise RuntimeError(f"{fastwan_dir}: a block has no to_gate_compress; dit_vsa needs FastWan's gates")
    gate_rms = [float(np.sqrt(np.mean(dit.w[g + ".weight"] ** 2))) for g in gates]
    if min(gate_rms) == 0.0:
        raise RuntimeError(f"{fastwan_dir}: a to_gate_compress weight is all zeros")
    rng = np.random.default_rng(1235)
    text_dim = dit.w["condition_embedder.text_embedder.linear_1.weight"].shape[1]
    latents = rng.standard_normal(VSA_LATENTS).astype(np.float32)
    context = np.zeros((1, 512, text_dim), dtype=np.float32)
    context[0, :10] = rng.standard_normal((10, text_dim)).astype(np.float32)
    timestep = np.asarray([757.0], dtype=np.float32)
    tensors = {"latents": latents, "timestep": timestep, "context": context}
    meta = {}
    dense = dit(latents, float(timestep[0]), context)
    # The same model without its gates (G = 0), to record how much the gated coarse branch moves the output.
    with open(os.path.join(fastwan_dir, "transformer", "config.json")) as f:
        config = json.load(f)
    ungated = WanTransformer.from_weights(config, {k: v for k, v in dit.w.items() if "to_gate_compress" not in k})
    for s in VSA_SPARSITIES:
        out = dit(latents, float(timestep[0]), context, vsa_sparsity=s)
        info = dit.vsa_info
        tensors[f"output_sparsity_{s}"] = out.astype(np.float32)
        meta[f"sparsity_{s}"] = json.dumps({
            "topk": info[0]["topk"], "num_tiles": info[0]["num_tiles"],
            "min_topk_margin": min(i["min_margin"] for i in info) if s > 0 else None,
            "rel_l2_to_dense": rel_l2(out, dense),
            "rel_l2_to_gate_zero": rel_l2(out, ungated(latents, float(timestep[0]), context, vsa_sparsity=s))})
    digest = checkpoint_digest(fastwan_dir)
    save(os.path.join(out_dir, "dit_vsa.safetensors"), tensors,
         {"generator": "tools/reference (independent float64 numpy reference)", "checkpoint_sha256": digest,
          "checkpoint": "make-tiny-model --config fastwan --seed 0",
          "inputs": "numpy default_rng(1235): latents then context rows 0..9; rows 10.. are 0",
          "attention": "VIDEO_SPARSE_ATTN self-attention (tools/reference/vsa.py), G = to_gate_compress(norm1 output)",
          "gates": ", ".join(gates), "grid": "5x6x7 tokens, 2x2x2 tiles (4+1, 4+2, 4+3)",
          **meta, "compute": "float64, no bf16 rounding"})


GOLDENS = ("umt5", "dit", "dit_vsa", "vae", "vae_tiled", "generation")


def main():
    parser = argparse.ArgumentParser(usage=__doc__)
    parser.add_argument("checkpoint")
    parser.add_argument("out_dir", nargs="?", default="tests/goldens")
    parser.add_argument("--fastwan")
    parser.add_argument("--only", type=lambda v: v.split(","))
    args = parser.parse_args()
    only = set(args.only or GOLDENS)
    if only - set(GOLDENS):
        sys.exit(f"--only: unknown golden(s) {sorted(only - set(GOLDENS))}; valid: {', '.join(GOLDENS)}")
    if "dit_vsa" in only and args.fastwan is None:
        if args.only:
            sys.exit("dit_vsa needs --fastwan FASTWAN_DIR")
        print("dit_vsa skipped: no --fastwan FASTWAN_DIR")
    ckpt, out_dir = args.checkpoint, args.out_dir
    os.makedirs(out_dir, exist_ok=True)
    start = time.time()
    if "dit_vsa" in only and args.fastwan is not None:
        write_dit_vsa(args.fastwan, out_dir)
    if only - {"dit_vsa"}:
        write_tiny_model_goldens(ckpt, out_dir, only)
    print(f"make_goldens: {time.time() - start:.1f} s")


def write_tiny_model_goldens(ckpt, out_dir, only):
    ref = WanT2VReference(ckpt)
    common = {"generator": "tools/reference (independent float64 numpy reference)",
              "checkpoint_sha256": checkpoint_digest(ckpt)}

    # UMT5 on the prompt's real tokens
    prompt_ids, how = tokenize(ckpt, PROMPT)
    if prompt_ids is None:
        prompt_ids, how = FALLBACK_IDS, f"fixed ids ({how})"
    negative_ids, _ = tokenize(ckpt, NEGATIVE_PROMPT)
    if negative_ids is None:
        negative_ids = [EOS_ID]
    if "umt5" in only:
        out = ref.text_encoder(prompt_ids)
        save(os.path.join(out_dir, "umt5.safetensors"),
             {"input_ids": np.asarray([prompt_ids], dtype=np.int64), "output": out[None].astype(np.float32)},
             {**common, "prompt": PROMPT, "ids_source": how, "compute": "float64"})

    # DiT single forward
    if "dit" in only:
        rng = np.random.default_rng(1234)
        dit = ref.transformer
        text_dim = dit.w["condition_embedder.text_embedder.linear_1.weight"].shape[1]
        latents = rng.standard_normal((1, 16, 3, 8, 8)).astype(np.float32)
        context = np.zeros((1, 512, text_dim), dtype=np.float32)
        context[0, :10] = rng.standard_normal((10, text_dim)).astype(np.float32)
        timestep = np.asarray([937.0], dtype=np.float32)
        velocity = dit(latents, float(timestep[0]), context)
        save(os.path.join(out_dir, "dit.safetensors"),
             {"latents": latents, "timestep": timestep, "context": context, "output": velocity.astype(np.float32)},
             {**common, "inputs": "numpy default_rng(1234): latents then context rows 0..9; rows 10.. are 0",
              "compute": "float64, no bf16 rounding"})

    # VAE decode (full-sequence formulation)
    if "vae" in only:
        rng = np.random.default_rng(4321)
        z = rng.standard_normal((1, 16, 3, 8, 8)).astype(np.float32)
        video = ref.vae(z)
        save(os.path.join(out_dir, "vae.safetensors"),
             {"latents": z, "video": video.astype(np.float32)},
             {**common, "inputs": "numpy default_rng(4321)", "formulation": "full-sequence (wan21.md §2.4)",
              "compute": "float64"})

    if "vae_tiled" in only:
        write_vae_tiled(ref, common, out_dir)

    # full text-to-video generation
    if "generation" not in only:
        return
    g = GENERATION
    result = ref.generate(prompt_ids, negative_ids, **g)
    save(os.path.join(out_dir, "generation.safetensors"),
         {"prompt_ids": np.asarray([prompt_ids], dtype=np.int64),
          "negative_ids": np.asarray([negative_ids], dtype=np.int64),
          "noise": result["noise"].astype(np.float32),
          "final_latents": result["final_latents"].astype(np.float32),
          "frames": result["frames"]},
         {**common, "prompt": PROMPT, "negative_prompt": NEGATIVE_PROMPT, "ids_source": how,
          **{k: json.dumps(v) for k, v in g.items()},
          "timesteps": json.dumps([int(t) for t in result["timesteps"]]),
          "scheduler": "FastVideo FlowUniPC order 2 bh2, double shift (fastvideo.md §1.3)",
          "noise_source": "torch.Generator('cpu').manual_seed(seed); torch.randn float32",
          "cfg": "uncond + guidance*(cond - uncond)",
          "uint8": "trunc(clamp(x/2+0.5, 0, 1)*255)",
          "compute": "float64"})


if __name__ == "__main__":
    main()

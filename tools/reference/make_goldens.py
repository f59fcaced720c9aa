"""Writes the golden files the C++ engine is tested against.

usage: /usr/bin/python3 tools/reference/make_goldens.py CHECKPOINT_DIR [OUT_DIR=tests/goldens]

Every golden is computed by this independent float64 reference from CHECKPOINT_DIR (normally the
tiny model written by `fastvideo make-tiny-model DIR --seed 0`). Inputs are stored as F32 and the
reference computes from those exact F32 values.
"""

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


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    ckpt = sys.argv[1]
    out_dir = sys.argv[2] if len(sys.argv) == 3 else "tests/goldens"
    os.makedirs(out_dir, exist_ok=True)
    start = time.time()
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
    out = ref.text_encoder(prompt_ids)
    save(os.path.join(out_dir, "umt5.safetensors"),
         {"input_ids": np.asarray([prompt_ids], dtype=np.int64), "output": out[None].astype(np.float32)},
         {**common, "prompt": PROMPT, "ids_source": how, "compute": "float64"})

    # DiT single forward
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
    rng = np.random.default_rng(4321)
    z = rng.standard_normal((1, 16, 3, 8, 8)).astype(np.float32)
    video = ref.vae(z)
    save(os.path.join(out_dir, "vae.safetensors"),
         {"latents": z, "video": video.astype(np.float32)},
         {**common, "inputs": "numpy default_rng(4321)", "formulation": "full-sequence (wan21.md §2.4)",
          "compute": "float64"})

    write_vae_tiled(ref, common, out_dir)

    # full text-to-video generation
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
    print(f"make_goldens: {time.time() - start:.1f} s")


if __name__ == "__main__":
    main()

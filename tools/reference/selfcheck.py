"""Self-checks of the reference against the values the spec documents state or imply.

usage: /usr/bin/python3 tools/reference/selfcheck.py      (exits non-zero on the first failure)
"""

import math
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from safetensors_np import read_file, read_metadata, write_file  # noqa: E402
from schedulers import FlowUniPC, diffusers_schedule, fastvideo_schedule  # noqa: E402
from umt5 import relative_position_bucket  # noqa: E402
from vsa import compute_topk, select_tiles, tile_token_ids, video_sparse_attention  # noqa: E402
from wan_dit import WanTransformer, apply_rope, attention, rope_angles  # noqa: E402
from wan_vae import WanVAEDecoder  # noqa: E402

FAILURES = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILURES.append(what)


# wan21.md §4.2 test vectors (diffusers UniPC, single shift)
DIFFUSERS_T_50_S3 = [int(v) for v in """999 993 986 979 971 964 956 948 940 931 923 914 904 895 885 875 864 853 842 830 818
    805 792 779 765 750 735 719 702 685 667 648 628 607 586 563 539 514 487 459 429 398 365 329 292 251 208 162 113 60""".split()]
DIFFUSERS_T_50_S5 = [int(v) for v in """999 995 991 987 982 978 973 968 963 957 952 946 940 934 927 921 914 906 899 890 882
    873 864 854 844 833 822 810 797 783 769 754 738 720 702 682 661 638 613 586 556 524 489 450 407 359 305 244 175 96""".split()]


def check_schedules():
    sig, ts = diffusers_schedule(50, 3.0)
    check(list(ts) == DIFFUSERS_T_50_S3, "diffusers schedule N=50 s=3 reproduces wan21.md §4.2 timesteps")
    check(np.allclose(sig[:3], [0.999999, 0.99325, 0.986315], atol=1e-6)
          and np.allclose(sig[-4:], [0.162959, 0.113576, 0.060405, 0.0], atol=1e-6),
          "diffusers schedule N=50 s=3 sigmas start 0.999999, 0.99325, 0.986315 and end 0.162959, 0.113576, 0.060405, 0")
    _, ts5 = diffusers_schedule(50, 5.0)
    check(list(ts5) == DIFFUSERS_T_50_S5, "diffusers schedule N=50 s=5 reproduces wan21.md §4.2 timesteps")

    # FastVideo double shift (fastvideo.md §1.3 item 4), derived by hand for N=4, s=3:
    # σ_max = shift(0.999) = 2.997/2.998 = 0.9996664; linspace(σ_max, 0, 5)[:-1] = σ_max·[1, .75, .5, .25];
    # shifted again: 0.999889, 0.899880, 0.749875, 0.499889 -> t = 999, 899, 749, 499.
    sig, ts = fastvideo_schedule(4, 3.0)
    check(list(ts) == [999, 899, 749, 499], f"FastVideo schedule N=4 s=3 timesteps {list(ts)} == [999, 899, 749, 499]")
    check(np.allclose(sig, [0.9998888, 0.8998800, 0.7498749, 0.4998888, 0.0], atol=2e-7),
          f"FastVideo schedule N=4 s=3 sigmas {np.round(sig, 7).tolist()}")
    # the same formula entirely in float64 must give the same integers (no float32 boundary effects)
    for n, s in [(4, 3.0), (50, 3.0), (50, 5.0), (4, 7.0), (20, 8.0)]:
        smax = s * 0.999 / (1 + (s - 1) * 0.999)
        ref = s * np.linspace(smax, 0, n + 1)[:-1] / (1 + (s - 1) * np.linspace(smax, 0, n + 1)[:-1])
        _, ts = fastvideo_schedule(n, s)
        check(list(ts) == list((ref * 1000).astype(np.int64)), f"FastVideo schedule N={n} s={s} matches float64 closed form")
    _, fv = fastvideo_schedule(50, 3.0)
    check(fv[0] == 999 and all(a <= b for a, b in zip(fv, DIFFUSERS_T_50_S3)) and list(fv) != DIFFUSERS_T_50_S3,
          "FastVideo N=50 s=3 timesteps start at 999, never exceed diffusers', and differ from them")


def check_unipc_coefficients():
    sch = FlowUniPC(50, 3.0, schedule=diffusers_schedule)
    tol = 2e-6  # the table is printed to 6 decimals

    def same(got, want):
        cx, c = got
        wx, w = want
        keys = set(c) | set(w)
        return abs(cx - wx) < tol and all(abs(c.get(j, 0.0) - w.get(j, 0.0)) < tol for j in keys)

    check(same(sch.predictor_coeffs(0, 1), (0.993251, {0: 0.006749})), "UniP k=0 matches wan21.md §4.2 table")
    check(same(sch.predictor_coeffs(1, 2), (0.993018, {1: 0.007265, 0: -0.000283})), "UniP k=1 matches table")
    check(same(sch.corrector_coeffs(1, 1), (0.993251, {0: 0.003374, 1: 0.003374})), "UniC k=1 matches table")
    check(same(sch.corrector_coeffs(2, 2), (0.993018, {1: 0.003173, 0: -0.0000070, 2: 0.003816})), "UniC k=2 matches table")
    check(same(sch.corrector_coeffs(49, 2), (0.531851, {48: 0.334997, 47: -0.079432, 49: 0.212584})),
          "UniC k=49 matches table")
    check(same(sch.predictor_coeffs(49, 1), (0.0, {49: 1.0})), "UniP k=49 gives x50 = m49")

    for sched in (diffusers_schedule, fastvideo_schedule):
        for n in (1, 2, 4, 50):
            s = FlowUniPC(n, 3.0, schedule=sched)
            sums = []
            for k in range(n):
                q = min(2, n - k, k + 1)
                cx, c = s.predictor_coeffs(k, q)
                sums.append(cx + sum(c.values()))
                if k > 0:
                    p = min(2, n - k + 1, k)
                    cx, c = s.corrector_coeffs(k, p)
                    sums.append(cx + sum(c.values()))
            check(max(abs(x - 1) for x in sums) < 1e-12, f"{sched.__name__} N={n}: every update's coefficients sum to 1")


def check_unipc_exact_on_linear_flow():
    """If the velocity is exact for x_σ = (1-σ)·x0 + σ·ε (v = ε - x0), every m_k is x0 and x_N = x0."""
    rng = np.random.default_rng(0)
    x0, eps = rng.standard_normal(64), rng.standard_normal(64)
    for n in (1, 4, 10):
        s = FlowUniPC(n, 3.0)
        x = (1 - s.sigmas[0]) * x0 + s.sigmas[0] * eps
        for _ in range(n):
            x = s.step(eps - x0, x)
        check(np.abs(x - x0).max() < 1e-12, f"FlowUniPC N={n} recovers x0 exactly on a straight flow")
    # first-order UniP is the flow Euler/DDIM step x' = (σ'/σ)·x + (1 - σ'/σ)·x0
    s = FlowUniPC(4, 3.0)
    x, v = rng.standard_normal(8), rng.standard_normal(8)
    s0, s1 = s.sigmas[0], s.sigmas[1]
    check(np.allclose(s.step(v, x), (s1 / s0) * x + (1 - s1 / s0) * (x - s0 * v), atol=1e-14),
          "first step is the flow Euler step")


def check_buckets():
    hand = {0: 0, 1: 17, -1: 1, 7: 23, -7: 7, 8: 24, -8: 8, 12: 25, -16: 10, 16: 26, -32: 12, 64: 30,
            -127: 15, -128: 15, -1000: 15, 1000: 31}
    got = {r: int(relative_position_bucket(r)) for r in hand}
    check(got == hand, f"UMT5 bidirectional buckets on hand values {got}")
    r = np.arange(-300, 301)
    b = relative_position_bucket(r)
    check(np.all(np.diff(b[r <= 0]) <= 0) and np.all(np.diff(b[r > 0]) >= 0) and b.min() == 0 and b.max() == 31,
          "UMT5 buckets are monotone in |r| on each side and span 0..31")


def check_rope():
    ang = rope_angles(3, 4, 5, 128)
    check(ang.shape == (60, 64), "RoPE table has one angle per token and pair")
    # token (f,h,w) = (2,3,1) is index 2·20 + 3·5 + 1 = 56; pair 1 of time uses 10000^(-2/44), pair 22 is height pair 0
    check(abs(ang[56, 1] - 2 * 10000 ** (-2 / 44)) < 1e-12 and ang[56, 22] == 3 and ang[56, 43] == 1
          and abs(ang[56, 44] - 10000 ** (-2 / 42)) < 1e-12, "RoPE split 44/42/42 with raw integer positions")
    rng = np.random.default_rng(1)
    q, k = rng.standard_normal((60, 2, 128)), rng.standard_normal((60, 2, 128))
    check(np.allclose(np.linalg.norm(apply_rope(q, ang), axis=-1), np.linalg.norm(q, axis=-1)), "RoPE preserves norms")
    # relative property: <rope(q at p), rope(k at p')> depends only on p - p'
    qs, ks = apply_rope(np.repeat(q[:1], 60, 0), ang), apply_rope(np.repeat(k[:1], 60, 0), ang)
    # token index f·20 + h·5 + w: pairs (0,0,0)->(1,0,1) and (1,1,2)->(2,1,3) share the offset (1,0,1)
    d1 = np.einsum("hd,hd->h", qs[0], ks[21])
    d2 = np.einsum("hd,hd->h", qs[27], ks[48])
    d3 = np.einsum("hd,hd->h", qs[27], ks[47])
    check(np.allclose(d1, d2) and not np.allclose(d1, d3), "RoPE scores depend on the position offset only")


def check_dit_layout():
    rng = np.random.default_rng(4)
    D = 6
    cfg = {"num_attention_heads": 1, "attention_head_dim": D, "num_layers": 0, "patch_size": [1, 2, 2], "out_channels": 16}
    w = {"patch_embedding.weight": rng.standard_normal((D, 16, 1, 2, 2)), "patch_embedding.bias": rng.standard_normal(D)}
    dit = WanTransformer.from_weights(cfg, w)
    x = rng.standard_normal((16, 2, 4, 6))
    tok = dit.patchify(x)
    # Conv3d with kernel = stride = (1,2,2), written out; token = f·(H'·W') + h·W' + w (§1.3)
    f, h, ww = 1, 1, 2
    conv = np.einsum("dcij,cij->d", w["patch_embedding.weight"][:, :, 0], x[:, f, 2 * h:2 * h + 2, 2 * ww:2 * ww + 2])
    check(tok.shape == (2 * 2 * 3, D) and np.allclose(tok[f * 6 + h * 3 + ww], conv + w["patch_embedding.bias"]),
          "patchify equals the stride-2 Conv3d, tokens frame-major")
    y = rng.standard_normal((12, 64))
    out = dit.unpatchify(y, (2, 2, 3))
    c, ph, pw = 5, 1, 0
    check(out.shape == (16, 2, 4, 6) and out[c, f, 2 * h + ph, 2 * ww + pw] == y[f * 6 + h * 3 + ww, ph * 32 + pw * 16 + c],
          "unpatchify: out[c,f,2h+ph,2w+pw] = y[token, ph·32 + pw·16 + c] (§1.6)")


def check_vsa():
    # fastvideo.md §3.2 examples: tiles of the grid and topk at the shipped sparsities
    check(len(tile_token_ids((21, 30, 52))) == 624 and len(tile_token_ids((16, 28, 52))) == 364
          and len(tile_token_ids((21, 45, 80))) == 1440, "VSA tiles: 21×30×52 -> 624, 16×28×52 -> 364, 21×45×80 -> 1440")
    check([compute_topk(0.8, 624), compute_topk(0.9, 624), compute_topk(0.8, 364), compute_topk(0.9, 1440),
           compute_topk(0.0, 624), compute_topk(0.999, 8)] == [125, 63, 73, 144, 624, 1],
          "VSA topk: 125, 63 (624 tiles at 0.8, 0.9), 73 (364 at 0.8), 144 (1440 at 0.9), N at 0, at least 1")
    tiles = tile_token_ids((5, 6, 7))
    sizes = [len(t) for t in tiles]
    check(sorted(np.concatenate(tiles).tolist()) == list(range(210)) and sizes == [64, 48, 32, 24, 16, 12, 8, 6]
          and tiles[1][0] == 4 and tiles[2][0] == 28 and tiles[4][0] == 4 * 42,
          "VSA tiles of 5×6×7: every token once, partial sizes 4·4·4 .. 1·2·3, (t, h, w)-tile order, raster inside")
    # ties: the k-th largest value kept with its lowest-index equals
    check(select_tiles(np.array([1.0, 3.0, 3.0, 2.0, 3.0]), 2).tolist() == [1, 2]
          and select_tiles(np.array([5.0, 1.0, 1.0, 1.0]), 3).tolist() == [0, 1, 2],
          "VSA top-k keeps everything above the k-th score plus the lowest-index ties at it")
    rng = np.random.default_rng(5)
    grid = (3, 5, 6)
    q, k, v = (rng.standard_normal((90, 2, 8)) for _ in range(3))
    dense = attention(q, k, v)
    out, info = video_sparse_attention(q, k, v, None, grid, 0.0)
    check(info["topk"] == info["num_tiles"] == 4 and np.allclose(out, dense),
          "VSA at sparsity 0 with G = 0 is dense attention (the fine stage keeps every tile)")
    g = rng.standard_normal((90, 2, 8))
    gated, _ = video_sparse_attention(q, k, v, g, grid, 0.0)
    # the coarse branch of the last tile (3×1×2 tokens, 88 among them): means over its 2 valid tokens, softmax over all tiles
    t = tile_token_ids(grid)
    qc = np.stack([q[i].mean(0) for i in t])
    kc = np.stack([k[i].mean(0) for i in t])
    vc = np.stack([v[i].mean(0) for i in t])
    s = qc[3, 1] @ kc[:, 1].T / math.sqrt(8)
    coarse = (np.exp(s - s.max()) / np.exp(s - s.max()).sum()) @ vc[:, 1]
    check(len(t[3]) == 6 and 88 in t[3] and np.allclose(gated.reshape(90, 2, 8)[88, 1] - dense.reshape(90, 2, 8)[88, 1], coarse * g[88, 1]),
          "VSA adds O_coarse ⊙ G, the coarse output of a partial tile from its valid tokens' means")
    sparse, info = video_sparse_attention(q, k, v, None, grid, 0.5)
    check(info["topk"] == 2 and not np.allclose(sparse, dense), "VSA at sparsity 0.5 keeps 2 of 4 tiles and differs from dense")


def check_vae_frames():
    rng = np.random.default_rng(2)
    cfg = {"base_dim": 4, "z_dim": 16, "dim_mult": [1, 2, 4, 4], "num_res_blocks": 2,
           "temperal_downsample": [False, True, True], "latents_mean": [0.0] * 16, "latents_std": [1.0] * 16}
    big = WanVAEDecoder.from_weights({**cfg, "base_dim": 96}, {}, check=False)  # only for the tensor list
    check(len(big.decoder_tensor_shapes()) == 108, "VAE decoder with base 96 has 108 tensors (wan21.md §2.3)")
    check(big.dims() == [384, 384, 384, 192, 96], "VAE decoder dims for base 96 are [384,384,384,192,96]")
    shapes = big.decoder_tensor_shapes()
    check(shapes["decoder.up_blocks.1.resnets.0.conv_shortcut.weight"] == (384, 192, 1, 1, 1)
          and shapes["decoder.up_blocks.0.upsamplers.0.time_conv.weight"] == (768, 384, 3, 1, 1)
          and "decoder.up_blocks.2.upsamplers.0.time_conv.weight" not in shapes
          and shapes["decoder.up_blocks.2.upsamplers.0.resample.1.weight"] == (96, 192, 3, 3),
          "VAE tensor shapes match wan21.md §2.3 examples")
    small = WanVAEDecoder.from_weights(cfg, {}, check=False)
    w = {n: rng.standard_normal(s) * (0.3 / math.sqrt(max(1, np.prod(s[1:])))) for n, s in small.decoder_tensor_shapes().items()}
    for n in w:
        if n.endswith("gamma"):
            w[n] = 1 + 0.1 * w[n]
    vae = WanVAEDecoder.from_weights(cfg, w)
    for T in (1, 2, 3):
        out = vae.decode(rng.standard_normal((16, T, 2, 3)))
        check(out.shape == (3, 1 + 4 * (T - 1), 16, 24), f"VAE decodes T={T} latent frames to 1+4(T-1)={1 + 4 * (T - 1)} frames at 8×")
    z = rng.standard_normal((16, 3, 2, 2))
    z2 = z.copy()
    z2[:, 2] += 1.0
    a, b = vae.decode(z), vae.decode(z2)
    check(np.array_equal(a[:, :5], b[:, :5]) and not np.allclose(a[:, 5:], b[:, 5:]),
          "VAE is causal: changing latent frame 2 leaves output frames 0..4 unchanged and changes 5..8")


def check_safetensors():
    rng = np.random.default_rng(3)
    t = {"a": rng.standard_normal((3, 5)).astype(np.float32), "ids": np.arange(7, dtype=np.int64),
         "u": np.arange(10, dtype=np.uint8).reshape(2, 5), "h": rng.standard_normal(4).astype(np.float16)}
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "x.safetensors")
        write_file(p, t, {"k": "v"})
        with open(p, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
        back = read_file(p)
        check(n % 8 == 0 and read_metadata(p) == {"k": "v"} and all(np.array_equal(back[k], t[k]) for k in t)
              and all(back[k].dtype == t[k].dtype for k in t), "safetensors round trip (padded header, metadata, dtypes)")
        vals = np.array([1.0, 1.00390625, 1.01171875, 1.005859375, -3.0e-3], dtype=np.float32)
        write_file(p, {"b": vals}, bf16={"b"})
        back = read_file(p)["b"]
        # bf16 spacing at 1 is 1/128: 1 + 1/256 is a tie -> even 1.0; 1 + 3/256 is a tie -> even 1 + 2/128;
        # 1 + 1.5/256 is nearer 1 + 1/128
        check(back[0] == 1.0 and back[1] == 1.0 and back[2] == 1.015625 and back[3] == 1.0078125
              and abs(back[4] + 3e-3) < 2e-5,
              "BF16 write rounds to nearest even and reads back widened to f32")


def main():
    check_schedules()
    check_unipc_coefficients()
    check_unipc_exact_on_linear_flow()
    check_buckets()
    check_rope()
    check_dit_layout()
    check_vsa()
    check_vae_frames()
    check_safetensors()
    if FAILURES:
        print(f"{len(FAILURES)} self-check(s) failed")
        sys.exit(1)
    print("all self-checks passed")


if __name__ == "__main__":
    main()

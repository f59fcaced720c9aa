"""Video Sparse Attention (VSA) self-attention as FastVideo implements it, float64.

Written from fastvideo.md §3.1-3.4 and attention-algorithms.md §3.1 only. Tiles are cut from the token
coordinates directly (no padded buffer): padding rows are zero and masked in FastVideo, so leaving them out
is the same math.
"""

import math

import numpy as np

TILE = (4, 4, 4)  # VSA_TILE_SIZE, 64 tokens per tile (§3.1)


def compute_topk(sparsity, num_tiles):
    """§3.1 compute_topk: max(1, min(ceil((1 - s)·N), N))."""
    return max(1, min(math.ceil((1.0 - sparsity) * num_tiles), num_tiles))


def tile_token_ids(grid):
    """Raster token ids (frame-major t, h, w) of each tile, tiles in (t-tile, h-tile, w-tile) lexicographic
    order, each tile's tokens in (t, h, w) raster order; the last tile of an axis holds dim - (n-1)·4 (§3.2)."""
    T, H, W = grid
    ids = np.arange(T * H * W).reshape(T, H, W)
    tt, th, tw = TILE
    return [ids[t:t + tt, h:h + th, w:w + tw].reshape(-1)
            for t in range(0, T, tt) for h in range(0, H, th) for w in range(0, W, tw)]


def select_tiles(scores, topk):
    """§3.3 fused_topk_mask on one row of coarse scores: exactly topk tiles, every score above the k-th
    largest plus the lowest-index ties at it, i.e. the first topk of a stable descending sort. Ascending ids."""
    order = np.argsort(-scores, kind="stable")
    return np.sort(order[:topk])


def selection_margin(scores, topk):
    """How far the row's k-th largest score is above the next one (inf when every tile is kept): a selection
    that fp32 rounding could flip shows up as a margin near 0."""
    if topk >= scores.shape[0]:
        return math.inf
    s = np.sort(scores)[::-1]
    return float(s[topk - 1] - s[topk])


def _softmax(s):
    s = s - s.max(axis=-1, keepdims=True)
    e = np.exp(s)
    return e / e.sum(axis=-1, keepdims=True)


def video_sparse_attention(q, k, v, gate, grid, sparsity):
    """q, k, v [S, H, d] (q, k after RoPE), gate G [S, H, d] or None (G = 0), tokens in raster order of grid
    (T, H, W) -> (O [S, H·d], info). O = O_coarse ⊙ G + O_fine (§3.3 Combination: only the coarse branch is
    gated). info: num_tiles, topk, min_margin (the smallest selection_margin over every (head, query tile))."""
    S, heads, d = q.shape
    tiles = tile_token_ids(grid)
    n = len(tiles)
    topk = compute_topk(sparsity, n)
    scale = 1.0 / math.sqrt(d)

    # Coarse stage: per-tile means over the valid tokens (the divisor is the valid count), attention over all
    # N tiles with no masking, each query tile's output broadcast to its tokens.
    qc = np.stack([q[t].mean(axis=0) for t in tiles])  # [N, H, d]
    kc = np.stack([k[t].mean(axis=0) for t in tiles])
    vc = np.stack([v[t].mean(axis=0) for t in tiles])
    sc = np.einsum("ihd,jhd->hij", qc, kc) * scale  # [H, N, N]
    oc = np.einsum("hij,jhd->ihd", _softmax(sc), vc)  # [N, H, d]

    out = np.empty((S, heads, d))
    margin = math.inf
    for i, rows in enumerate(tiles):
        for h in range(heads):
            # Fine stage: dense attention of the query tile's tokens over the selected tiles' valid keys.
            chosen = select_tiles(sc[h, i], topk)
            margin = min(margin, selection_margin(sc[h, i], topk))
            keys = np.concatenate([tiles[j] for j in chosen])
            fine = _softmax(q[rows, h] @ k[keys, h].T * scale) @ v[keys, h]
            coarse = oc[i, h][None, :] * (gate[rows, h] if gate is not None else 0.0)
            out[rows, h] = coarse + fine
    return out.reshape(S, heads * d), {"num_tiles": n, "topk": topk, "min_margin": margin}

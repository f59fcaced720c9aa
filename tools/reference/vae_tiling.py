"""Tiled VAE decode with diffusers' semantics (AutoencoderKLWan.tiled_decode, used when tiling is
enabled and the latents exceed one tile): overlapping spatial tiles of the latents decoded on their
own, every tile kept, the overlaps blended in place (blend_v with the tile above, then blend_h
with the tile to the left, both already blended), each tile cropped to the stride, the crops
concatenated, cut to the video size, then clamped to [-1, 1].

Sizes are in output pixels, as diffusers' tile_sample_min_{height,width} and
tile_sample_stride_{height,width}."""
import numpy as np

SPATIAL = 8  # the Wan VAE's spatial compression


def _blend_rows(a, b, extent):
    extent = min(a.shape[-2], b.shape[-2], extent)
    for y in range(extent):
        b[..., y, :] = a[..., -extent + y, :] * (1 - y / extent) + b[..., y, :] * (y / extent)
    return b


def _blend_columns(a, b, extent):
    extent = min(a.shape[-1], b.shape[-1], extent)
    for x in range(extent):
        b[..., x] = a[..., -extent + x] * (1 - x / extent) + b[..., x] * (x / extent)
    return b


def tiled_decode(vae, z, tile_h, tile_w, stride_h, stride_w):
    """vae: wan_vae.WanVAEDecoder; z [16, T, H, W] -> video [3, F, 8H, 8W] float64."""
    _, _, H, W = z.shape
    lh, lw, sh, sw = tile_h // SPATIAL, tile_w // SPATIAL, stride_h // SPATIAL, stride_w // SPATIAL
    if H <= lh and W <= lw:
        return vae.decode(z)
    rows = [[vae.decode(z[:, :, i:i + lh, j:j + lw], clamp=False) for j in range(0, W, sw)]
            for i in range(0, H, sh)]
    out_rows = []
    for i, row in enumerate(rows):
        crops = []
        for j, tile in enumerate(row):
            if i > 0:
                tile = _blend_rows(rows[i - 1][j], tile, tile_h - stride_h)
            if j > 0:
                tile = _blend_columns(row[j - 1], tile, tile_w - stride_w)
            crops.append(tile[..., :stride_h, :stride_w])
        out_rows.append(np.concatenate(crops, axis=-1))
    video = np.concatenate(out_rows, axis=-2)[..., :H * SPATIAL, :W * SPATIAL]
    return np.clip(video, -1.0, 1.0)

# python3 tools/flash_attention_portable_layout_check.py (numpy only; no GPU)
# CPU emulation of src/ops/cuda/flash_attention_portable.cu's data movement for one warp (warp 1) and one KV tile:
# swizzled cp.async placement, per-lane ldmatrix addresses (with the XOR stepping), ldmatrix /
# ldmatrix.trans and mma.m16n8k16 fragment semantics as written in the PTX ISA, P packing, and the
# epilogue's smem staging. Checks S = Q K^T and O = P V against numpy.
import numpy as np
rng = np.random.default_rng(0)
D, BM, BN, ROWB = 128, 128, 64, 256
smem = np.zeros(BM * ROWB + 4 * BN * ROWB, dtype=np.uint8)
QT, KT, VT = 0, BM * ROWB, BM * ROWB + 2 * BN * ROWB   # stage 0 tiles (q_tile 256-aligned at 0)
def swz(row, chunk): return row * ROWB + ((chunk ^ (row % 8)) << 4)
def store_tile(base, M):  # load_tile: thread tid copies chunk tid%16 of rows tid/16 + 8i
    rows = M.shape[0]
    for tid in range(128):
        row, chunk = tid // 16, tid % 16
        for i in range(rows // 8):
            r = row + 8 * i
            dst = base + swz(row, chunk) + i * 8 * ROWB
            assert dst == base + swz(r, chunk)
            smem[dst:dst + 16] = M[r, chunk * 8:chunk * 8 + 8].view(np.uint8)
f16 = np.float16  # stand-in 16-bit type: exact data movement check, fp32 math
Q = rng.standard_normal((BM, D)).astype(f16); K = rng.standard_normal((BN, D)).astype(f16)
V = rng.standard_normal((BN, D)).astype(f16)
store_tile(QT, Q); store_tile(KT, K); store_tile(VT, V)
def rd(addr):  # 8 halves at a 16-byte address
    assert addr % 16 == 0
    return smem[addr:addr + 16].view(f16)
def ldmatrix_x4(addrs, trans=False):  # addrs[lane]; returns regs[lane][i] = (lo, hi)
    for i in range(4):  # each 8-address phase hits 8 distinct 16-byte bank groups
        assert len({(addrs[8*i+r] // 16) % 8 for r in range(8)}) == 8
    mats = [np.stack([rd(addrs[8 * i + r]) for r in range(8)]) for i in range(4)]
    out = [[None] * 4 for _ in range(32)]
    for l in range(32):
        for i in range(4):
            m = mats[i].T if trans else mats[i]
            out[l][i] = (m[l // 4, 2 * (l % 4)], m[l // 4, 2 * (l % 4) + 1])
    return out
def mma(d, a, b):  # d[lane][4], a[lane][4 regs of pairs], b[lane][2 regs]
    A = np.zeros((16, 16)); B = np.zeros((16, 8))
    for l in range(32):
        g, t = l // 4, l % 4
        for reg, (r, c) in enumerate([(g, 2*t), (g+8, 2*t), (g, 2*t+8), (g+8, 2*t+8)]):
            A[r, c], A[r, c + 1] = a[l][reg]
        for reg, k in enumerate([2*t, 2*t+8]):
            B[k, g], B[k + 1, g] = b[l][reg]
    C = np.zeros((16, 8))
    for l in range(32):
        g, t = l // 4, l % 4
        C[g, 2*t], C[g, 2*t+1], C[g+8, 2*t], C[g+8, 2*t+1] = d[l]
    C = A @ B + C
    for l in range(32):
        g, t = l // 4, l % 4
        d[l] = [C[g, 2*t], C[g, 2*t+1], C[g+8, 2*t], C[g+8, 2*t+1]]
warp = 1
def lane_address(tile, row, c0): return tile + swz(row, c0)
q_lane = [lane_address(QT, warp * 32 + l % 16, l // 16) for l in range(32)]
k_lane = [lane_address(KT, l % 8 + 8 * (l // 16), (l // 8) % 2) for l in range(32)]
v_lane = [lane_address(VT, l % 16, l // 16) for l in range(32)]
s = [[[[0.0] * 4 for _ in range(32)] for nb in range(8)] for rb in range(2)]  # s[rb][nb][lane]
for kk in range(8):
    a = [ldmatrix_x4([(q_lane[l] ^ (kk << 5)) + rb * 16 * ROWB for l in range(32)]) for rb in range(2)]
    for np_ in range(4):
        b = ldmatrix_x4([(k_lane[l] ^ (kk << 5)) + np_ * 16 * ROWB for l in range(32)])
        for rb in range(2):
            mma(s[rb][2*np_], a[rb], [b[l][0:2] for l in range(32)])
            mma(s[rb][2*np_+1], a[rb], [b[l][2:4] for l in range(32)])
Sref = Q[warp*32:warp*32+32].astype(np.float64) @ K.astype(np.float64).T
for rb in range(2):
    for nb in range(8):
        for l in range(32):
            g, t = l // 4, l % 4
            for e in range(4):
                r = rb * 16 + g + 8 * (e // 2); c = 8 * nb + 2 * t + (e & 1)
                assert abs(s[rb][nb][l][e] - Sref[r, c]) < 1e-3, (rb, nb, l, e)
print("S = Q K^T: fragments match")
# P := S (as 16-bit), packed as in scores_to_operand; O = P V
P = [[[None]*32 for kk in range(4)] for rb in range(2)]
for rb in range(2):
    for kk in range(4):
        for l in range(32):
            x, y = s[rb][2*kk][l], s[rb][2*kk+1][l]
            P[rb][kk][l] = [(f16(x[0]), f16(x[1])), (f16(x[2]), f16(x[3])), (f16(y[0]), f16(y[1])), (f16(y[2]), f16(y[3]))]
o = [[[[0.0] * 4 for _ in range(32)] for db in range(16)] for rb in range(2)]
for kk in range(4):
    for dp in range(8):
        b = ldmatrix_x4([(v_lane[l] ^ (dp << 5)) + kk * 16 * ROWB for l in range(32)], trans=True)
        for rb in range(2):
            mma(o[rb][2*dp], P[rb][kk], [b[l][0:2] for l in range(32)])
            mma(o[rb][2*dp+1], P[rb][kk], [b[l][2:4] for l in range(32)])
Pref = Sref.astype(f16).astype(np.float64)
Oref = Pref @ V.astype(np.float64)
# epilogue staging through the Q tile and the coalesced readback
for rb in range(2):
    for r in range(2):
        for l in range(32):
            g, t = l // 4, l % 4
            row = warp * 32 + rb * 16 + g + 8 * r
            for db in range(16):
                addr = QT + swz(row, db) + 4 * t
                smem[addr:addr+4] = np.array([o[rb][db][l][2*r], o[rb][db][l][2*r+1]], dtype=f16).view(np.uint8)
got = np.zeros((32, D))
for i in range(16):
    for l in range(32):
        row = warp * 32 + 2 * i + l // 16; chunk = l % 16
        got[row - warp * 32, chunk*8:chunk*8+8] = rd(QT + swz(row, chunk))
err = np.abs(got - Oref).max() / np.abs(Oref).max()
print("O = P V through the epilogue staging: max rel err", err); assert err < 2e-3

"""Flow-matching UniPC (order 2, bh2, predict_x0, lower_order_final, final sigma 0), float64.

Two sigma schedules share the same solver (wan21.md §4.2):
- `fastvideo_schedule`: FastVideo's FlowUniPCMultistepScheduler (fastvideo.md §1.3 item 4), the
  Wan-official double shift. This is what the pipeline uses.
- `diffusers_schedule`: diffusers' UniPCMultistepScheduler with flow sigmas (single shift); only used
  by the self-checks, because wan21.md's test vectors are written for it.
"""

import math

import numpy as np


def _shift(sigma, s):
    return s * sigma / (1 + (s - 1) * sigma)


def fastvideo_schedule(num_steps, shift, num_train_timesteps=1000):
    """Returns (sigmas float64 [N+1] ending in 0, timesteps int64 [N]).

    fastvideo.md §1.3 item 4: at init the training table is σ_train = 1 - linspace(1, 1/1000, 1000)[::-1]
    shifted once (held as a float32 tensor, so σ_max/σ_min are float32 values); set_timesteps then takes
    σ = linspace(σ_max, σ_min, N+1)[:-1] in float64, shifts it again, t = int64(σ·1000) (truncation),
    and appends σ = 0. The stored sigma table is float32; we keep those float32 values in float64.
    """
    alphas = np.linspace(1.0, 1.0 / num_train_timesteps, num_train_timesteps)[::-1]
    train = (1.0 - alphas).astype(np.float32)
    s32 = np.float32(shift)
    train = s32 * train / (np.float32(1) + (s32 - np.float32(1)) * train)
    sigma_max, sigma_min = float(train.max()), float(train.min())
    sig = np.linspace(sigma_max, sigma_min, num_steps + 1)[:-1]
    sig = _shift(sig, float(shift))
    timesteps = (sig * num_train_timesteps).astype(np.int64)
    sigmas = np.concatenate([sig, [0.0]]).astype(np.float32).astype(np.float64)
    return sigmas, timesteps


def diffusers_schedule(num_steps, shift, num_train_timesteps=1000):
    """wan21.md §4.2 'Schedule': single shift of linspace(1, 1/1000, N+1)[:-1], σ_0 nudged to 0.999999."""
    i = np.arange(num_steps, dtype=np.float64)
    sig_hat = 1.0 - i * (1.0 - 1.0 / num_train_timesteps) / num_steps
    sig = _shift(sig_hat, float(shift))
    if abs(sig[0] - 1.0) < 1e-6:
        sig[0] -= 1e-6
    timesteps = (sig * num_train_timesteps).astype(np.int64)
    sigmas = np.concatenate([sig, [0.0]]).astype(np.float32).astype(np.float64)
    return sigmas, timesteps


def _lam(sigma):
    """λ(σ) = ln(1-σ) - ln σ; +inf at σ = 0."""
    if sigma == 0.0:
        return math.inf
    return math.log(1.0 - sigma) - math.log(sigma)


class FlowUniPC:
    """UniPC-bh2 in flow form (wan21.md §4.2). Updates are affine combinations of the last corrected
    sample x̃ and the x0 predictions m_j; the coefficient functions expose them for the self-checks."""

    def __init__(self, num_steps, shift, schedule=fastvideo_schedule, order=2):
        self.sigmas, self.timesteps = schedule(num_steps, shift)
        self.num_steps = num_steps
        self.order = order
        self.lams = [_lam(float(s)) for s in self.sigmas]
        self.k = 0
        self.m = []  # x0 predictions m_0..m_k
        self.x_tilde = None
        self.prev_order = None

    def _alpha(self, j):
        return 1.0 - self.sigmas[j]

    def _h_phi(self, a, b):
        h = self.lams[b] - self.lams[a]
        return h, math.expm1(-h)  # φ = e^{-h} - 1; bh2: B = φ

    def predictor_coeffs(self, k, q):
        """x_{k+1} = c_x·x̃_k + Σ_j c[j]·m_j for the UniP step σ_k -> σ_{k+1} of order q."""
        h, phi = self._h_phi(k, k + 1)
        a = self._alpha(k + 1)
        c = {k: -a * phi}
        if q == 2:
            r = (self.lams[k - 1] - self.lams[k]) / h
            d = a * phi * 0.5 / r  # subtract α·B·0.5·(m_{k-1} - m_k)/r
            c[k - 1] = c.get(k - 1, 0.0) - d
            c[k] += d
        elif q != 1:
            raise ValueError(f"predictor order {q} not supported")
        return self.sigmas[k + 1] / self.sigmas[k], c

    def corrector_coeffs(self, k, p):
        """x̃_k = c_x·x̃_{k-1} + Σ_j c[j]·m_j for the UniC step σ_{k-1} -> σ_k of order p."""
        h, phi = self._h_phi(k - 1, k)
        B = phi
        a = self._alpha(k)
        c = {k - 1: -a * phi}
        if p == 1:
            rho_d1, rho_t = 0.0, 0.5
        elif p == 2:
            r = (self.lams[k - 2] - self.lams[k - 1]) / h
            b1 = (phi / (-h) - 1.0) / B
            b2 = 2.0 * ((phi / (-h) - 1.0) / (-h) - 0.5) / B
            rho_d1 = (b1 - b2) / (1.0 - r)
            rho_t = b1 - rho_d1
            # D1 = (m_{k-2} - m_{k-1}) / r
            c[k - 2] = -a * B * rho_d1 / r
            c[k - 1] += a * B * rho_d1 / r
        else:
            raise ValueError(f"corrector order {p} not supported")
        # D1_t = m_k - m_{k-1}
        c[k] = -a * B * rho_t
        c[k - 1] += a * B * rho_t
        return self.sigmas[k] / self.sigmas[k - 1], c

    def _combine(self, cx, base, c):
        out = cx * base
        for j, cj in c.items():
            out = out + cj * self.m[j]
        return out

    def step(self, v, x):
        """v: flow velocity predicted at sample x (the uncorrected x_k). Returns x_{k+1} (float64)."""
        k = self.k
        v = np.asarray(v, dtype=np.float64)
        x = np.asarray(x, dtype=np.float64)
        self.m.append(x - self.sigmas[k] * v)  # x0 prediction from the uncorrected sample
        if k > 0:
            cx, c = self.corrector_coeffs(k, self.prev_order)
            x = self._combine(cx, self.x_tilde, c)
        self.x_tilde = x
        q = min(self.order, self.num_steps - k, k + 1)
        cx, c = self.predictor_coeffs(k, q)
        x_next = self._combine(cx, self.x_tilde, c)
        self.prev_order = q
        self.k += 1
        return x_next

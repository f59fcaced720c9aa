#!/usr/bin/env python3
"""Reference vectors for the schedulers (tests/scheduler_test.cpp).

Two independent sources:
  - "numpy": a float64 numpy re-statement of the reference documents, written from
    /work/shared/reference/wan21.md §4.2-4.3 (UniPC state machine with D1/ρ, Euler) and
    fastvideo.md §1.3 item 4 (FlowUniPC's twice-shifted schedule), not from the C++ code.
    Tensors the solver stores (m, corrected and next samples) are rounded to float32, as the C++
    scheduler stores them.
  - "diffusers": diffusers' own UniPCMultistepScheduler / FlowMatchEulerDiscreteScheduler, when
    importable (float32 torch math, so it differs from float64 at ~1e-7 per step). The diffusers
    schedule tested is the current one (σ̂ = linspace(1, 1/T, N+1)[:-1], σ_0 −= 1e-6 when it
    rounds to 1); releases up to 0.35 used a flipped linspace and give 999, 992, ... instead.

How to run (numpy required; diffusers optional, e.g. pip install diffusers; with an old torch the
script stubs the torch.xpu / torch.accelerator attributes new diffusers probes at import):
    python3 tools/reference/scheduler_vectors.py > tests/data/scheduler_vectors.json
"""
import json
import sys
import types

import numpy as np

T = 1000
ROLLOUT_NUMEL = 32
ROLLOUT_STEPS = 10
f32 = np.float32


def shift(sigma, s):
    return s * sigma / (1 + (s - 1) * sigma)


# ---------------------------------------------------------------- schedules ------------------

def flow_unipc_schedule(n, s):
    """fastvideo.md §1.3 item 4: the training table is shifted once in float32, then the linspace
    between its ends is shifted again."""
    alphas = np.linspace(1, 1 / T, T)[::-1].copy()
    train = (1.0 - alphas).astype(f32)
    train = (f32(s) * train) / (f32(1) + f32(s - 1) * train)  # float32 torch math
    sigma_max, sigma_min = float(train[0]), float(train[-1])
    sig = np.linspace(sigma_max, sigma_min, n + 1)[:-1]
    sig = shift(sig, s)
    timesteps = (sig * T).astype(np.int64).astype(np.float64)
    return timesteps, np.concatenate([sig, [0.0]]).astype(f32).astype(np.float64)


def unipc_checkpoint_schedule(n, s):
    """wan21.md §4.2 Schedule."""
    sig = shift(np.linspace(1, 1 / T, n + 1)[:-1], s)
    if abs(sig[0] - 1) < 1e-6:
        sig[0] -= 1e-6
    timesteps = (sig * T).astype(np.int64).astype(np.float64)
    return timesteps, np.concatenate([sig, [0.0]]).astype(f32).astype(np.float64)


def euler_schedule(n, s):
    """wan21.md §4.3: σ_min = shift(1/T) at init (float32), then t = linspace(T, T·σ_min, N),
    σ = shift(t/T) again, timesteps = σ·T in float32."""
    sigma_min = float((f32(s) * f32(f32(1) / f32(T))) / (f32(1) + f32(s - 1) * f32(f32(1) / f32(T))))
    t = np.linspace(T * 1.0, sigma_min * T, n)
    sig = shift(t / T, s).astype(f32)
    timesteps = (sig * f32(T)).astype(f32).astype(np.float64)
    return timesteps, np.concatenate([sig.astype(np.float64), [0.0]])


# ---------------------------------------------------------------- solvers --------------------

def lam(sigma):
    with np.errstate(divide="ignore"):
        return np.log(1 - sigma) - np.log(sigma)  # +inf at sigma = 0


def unipc_rollout(sigmas, x, vs, bh2=True):
    """wan21.md §4.2 'UniPC-bh2 update' state machine, solver_order 2, lower_order_final."""
    n = len(sigmas) - 1
    outs = []
    m_hist = []  # m_{k-1}, m_{k-2}
    x_tilde_prev = None
    prev_order = 0
    for k in range(n):
        v = vs[k]
        m = (x - sigmas[k] * v).astype(f32).astype(np.float64)
        if k > 0:
            s_a, s_b = sigmas[k - 1], sigmas[k]
            h = lam(s_b) - lam(s_a)
            phi = np.expm1(-h)
            B = phi if bh2 else -h
            alpha = 1 - s_b
            base = (s_b / s_a) * x_tilde_prev - alpha * phi * m_hist[0]
            if prev_order == 1:
                x = base - alpha * B * 0.5 * (m - m_hist[0])
            else:
                r = (lam(sigmas[k - 2]) - lam(sigmas[k - 1])) / h
                D1 = (m_hist[1] - m_hist[0]) / r
                b1 = (phi / (-h) - 1) / B
                b2 = 2 * ((phi / (-h) - 1) / (-h) - 0.5) / B
                rho0 = (b1 - b2) / (1 - r)
                rho1 = b1 - rho0
                x = base - alpha * B * (rho0 * D1 + rho1 * (m - m_hist[0]))
            x = x.astype(f32).astype(np.float64)
        x_tilde = x
        q = min(2, n - k, k + 1)
        s_a, s_b = sigmas[k], sigmas[k + 1]
        with np.errstate(invalid="ignore"):
            h = lam(s_b) - lam(s_a)
            phi = np.expm1(-h)
        alpha = 1 - s_b
        x_next = (s_b / s_a) * x_tilde - alpha * phi * m
        if q == 2:
            B = phi if bh2 else -h
            r = (lam(sigmas[k - 1]) - lam(s_a)) / h
            x_next = x_next - alpha * B * 0.5 * (m_hist[0] - m) / r
        x = x_next.astype(f32).astype(np.float64)
        outs.append(x)
        m_hist = [m] + m_hist[:1]
        x_tilde_prev = x_tilde
        prev_order = q
    return outs


def euler_rollout(sigmas, x, vs):
    outs = []
    for k in range(len(sigmas) - 1):
        dt = float(f32(sigmas[k + 1]) - f32(sigmas[k]))
        x = (x + dt * vs[k]).astype(f32).astype(np.float64)
        outs.append(x)
    return outs


# ---------------------------------------------------------------- diffusers ------------------

def load_diffusers():
    try:
        import torch
    except ImportError:
        return None

    class _Absent(types.SimpleNamespace):
        def __getattr__(self, name):
            return lambda *a, **k: False

    for name in ["xpu", "accelerator", "mps", "mtia"]:
        if not hasattr(torch, name):
            setattr(torch, name, _Absent())
    try:
        import diffusers
        from diffusers import FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler
    except Exception as e:  # noqa: BLE001 - report and continue without diffusers vectors
        print(f"diffusers unavailable: {e}", file=sys.stderr)
        return None
    return torch, diffusers, UniPCMultistepScheduler, FlowMatchEulerDiscreteScheduler


WAN_SCHEDULER_CONFIG = {  # wan21.md §4.2 scheduler_config.json values
    "num_train_timesteps": 1000, "prediction_type": "flow_prediction", "use_flow_sigmas": True,
    "flow_shift": 3.0, "solver_order": 2, "solver_type": "bh2", "predict_x0": True,
    "lower_order_final": True, "disable_corrector": [], "final_sigmas_type": "zero",
    "timestep_spacing": "linspace", "thresholding": False, "use_dynamic_shifting": False,
}


def diffusers_vectors(lib, rng_inputs):
    torch, diffusers, UniPC, Euler = lib
    out = {"version": diffusers.__version__, "schedules": [], "rollouts": []}
    for n, s in [(50, 3.0), (50, 5.0), (10, 3.0), (1, 3.0)]:
        sch = UniPC(**dict(WAN_SCHEDULER_CONFIG, flow_shift=s))
        sch.set_timesteps(n)
        out["schedules"].append({"scheduler": "checkpoint", "steps": n, "shift": s,
                                 "timesteps": [float(t) for t in sch.timesteps],
                                 "sigmas": [float(v) for v in sch.sigmas]})
        e = Euler(shift=s)
        e.set_timesteps(n)
        out["schedules"].append({"scheduler": "euler", "steps": n, "shift": s,
                                 "timesteps": [float(t) for t in e.timesteps],
                                 "sigmas": [float(v) for v in e.sigmas]})
    for name, s in [("checkpoint", 5.0), ("euler", 3.0)]:
        x0, vs = rng_inputs
        sch = (UniPC(**dict(WAN_SCHEDULER_CONFIG, flow_shift=s)) if name == "checkpoint"
               else Euler(shift=s))
        sch.set_timesteps(ROLLOUT_STEPS)
        x = torch.tensor(x0, dtype=torch.float32).reshape(1, -1)  # [B, C] for einsum
        outs = []
        for k, t in enumerate(sch.timesteps):
            v = torch.tensor(vs[k], dtype=torch.float32).reshape(1, -1)
            x = sch.step(v, t, x, return_dict=False)[0]
            outs.append([float(a) for a in x.reshape(-1)])
        out["rollouts"].append({"scheduler": name, "shift": s, "steps": ROLLOUT_STEPS,
                                "outputs": outs})
    return out


def main():
    rng = np.random.default_rng(20240607)
    x0 = rng.standard_normal(ROLLOUT_NUMEL).astype(f32)
    vs = rng.standard_normal((ROLLOUT_STEPS, ROLLOUT_NUMEL)).astype(f32)
    result = {
        "description": "scheduler vectors; see tools/reference/scheduler_vectors.py",
        "rollout_inputs": {"sample": [float(a) for a in x0],
                           "model_outputs": [[float(a) for a in v] for v in vs]},
        "numpy": {"schedules": [], "rollouts": []},
    }
    makers = {"flow_unipc": flow_unipc_schedule, "checkpoint": unipc_checkpoint_schedule,
              "euler": euler_schedule}
    for name, make in makers.items():
        for n, s in [(50, 3.0), (50, 5.0), (50, 8.0), (10, 3.0), (1, 3.0)]:
            ts, sig = make(n, s)
            result["numpy"]["schedules"].append({"scheduler": name, "steps": n, "shift": s,
                                                 "timesteps": ts.tolist(), "sigmas": sig.tolist()})
    for name, s in [("flow_unipc", 3.0), ("flow_unipc", 8.0), ("checkpoint", 5.0), ("euler", 3.0)]:
        ts, sig = makers[name](ROLLOUT_STEPS, s)
        x = x0.astype(np.float64)
        v64 = vs.astype(np.float64)
        outs = euler_rollout(sig, x, v64) if name == "euler" else unipc_rollout(sig, x, v64)
        result["numpy"]["rollouts"].append({"scheduler": name, "shift": s, "steps": ROLLOUT_STEPS,
                                            "outputs": [o.tolist() for o in outs]})
    lib = load_diffusers()
    if lib is not None:
        result["diffusers"] = diffusers_vectors(lib, (x0, vs))
    json.dump(result, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

"""Post-training fake quantisation of SPEC §7, replayed from the quantisation golden's float weights.

Element-wise quantisation runs in float32 exactly as specified (x/s, round half to even, clamp, ·s), so
weights and scales match bit for bit; the forward passes around it run in float64. W8A8-static follows
the README's `quantisation` conventions: ranges calibrated on the float model at every site
`model.gpt_forward` names (30 for the golden's preLN model; attention scores and probabilities observed on
their causal entries only), MSE-clipped weights on the grid k·(absmax + 0.5)/100.
"""
import math

import numpy as np

import autodiff as ad
import model

F = np.float32
MIN_ABSMAX = F(1e-5)
LINEAR_WEIGHTS = ("attn.qkv", "attn.proj", "mlp.fc", "mlp.proj")
# scheme -> (weight granularity, activation granularity)
SCHEMES = {"w8a8-naive": ("tensor", "tensor"), "w8a8-fine": ("channel", "token"), "w8a8-static": ("mse", "static")}


def fake_quantize(x, scale, qmax):
    """clamp(round_half_even(x/s), −q, q)·s in float32; `scale` broadcasts (per tensor, row or token)."""
    x, scale = np.asarray(x, F), np.asarray(scale, F)
    return (np.clip(np.rint(x / scale), -F(qmax), F(qmax)) * scale).astype(F)


def symmetric_scales(x, qmax, per_row):
    a = np.max(np.abs(np.asarray(x, F)), axis=1 if per_row else None, keepdims=per_row)
    return (np.maximum(a, MIN_ABSMAX) / F(qmax)).astype(F)


def mse_clipped_scale(w, qmax, candidates=100, margin=0.5):
    """Bondarenko et al.'s symmetric MSE grid: step = (absmax + margin)/K in float64, thresholds
    c_k = float32(step·k) for k = 1 … K (so the grid runs past absmax and need not contain it); the
    scale max(c_k, 1e-5)/q (float32) of the least summed squared error (float64, summed exactly with
    math.fsum so the order does not matter); the first minimum wins (ties keep the smaller threshold)."""
    w = np.asarray(w, F)
    exact = w.astype(np.float64).ravel()
    step = (float(np.max(np.abs(w))) + margin) / candidates
    best, best_scale = np.inf, None
    for k in range(1, candidates + 1):
        scale = F(max(F(step * k), MIN_ABSMAX) / F(qmax))
        err = math.fsum(((fake_quantize(w, scale, qmax).astype(np.float64).ravel() - exact) ** 2).tolist())
        if err < best:
            best, best_scale = err, scale
    return best_scale


def affine(lo, hi, bits):
    """Asymmetric uint range widened to contain 0: s = max(hi − lo, 1e-5)/(2^b − 1) (float32),
    z = clamp(round(−lo/s), 0, q)."""
    q = 2 ** bits - 1
    lo, hi = min(F(lo), F(0)), max(F(hi), F(0))
    s = F(max(F(hi - lo), MIN_ABSMAX) / F(q))
    z = int(np.clip(np.rint(F(-lo / s)), 0, q))
    return s, z, q


def affine_fake_quantize(x, s, z, q):
    codes = np.clip(np.rint(np.asarray(x, F) / s) + F(z), 0, q)
    return ((codes - F(z)) * s).astype(F)


def causal_entries(a):
    """The entries k ≤ t of (…, T, T) scores or probabilities (what the calibration observes)."""
    T = a.shape[-1]
    return a[..., np.tril(np.ones((T, T), dtype=bool))]


def replay(header, t, rep):
    c = header["config"]
    cfg = model.Config(c["block"], c["width"], c["layers"], c["heads"], c["seq"])
    floats = {n[len("input.param."):]: v for n, v in t.items() if n.startswith("input.param.")}
    tokens, targets = t["tokens"].astype(np.int64), t["targets"].astype(np.int64)
    for setting in c["settings"]:
        scheme, bits = setting.split("@")
        bits = int(bits)
        prefix = f"{scheme}.b{bits}."
        weight_mode, act_mode = SCHEMES[scheme]
        qmax = 2 ** (bits - 1) - 1
        params = dict(floats)
        for l in range(cfg.layers):
            for w in LINEAR_WEIGHTS:
                name = f"h{l}.{w}"
                if weight_mode == "mse":
                    scale = np.array([mse_clipped_scale(floats[name], qmax)], F)
                else:
                    scale = symmetric_scales(floats[name], qmax, weight_mode == "channel")
                params[name] = fake_quantize(floats[name], scale, qmax)
                rep.check(prefix + name + ".weight", params[name], t[prefix + name + ".weight"])
                rep.check(prefix + name + ".weight_scale", np.ravel(scale), t[prefix + name + ".weight_scale"])

        ranges = {}
        if act_mode == "static":
            # Calibration: every batch through the FLOAT model; per site r ← 0.9·r + 0.1·r_batch after the first.
            observed = []

            def observe(site, x, causal=False):
                v = causal_entries(x.value) if causal else x.value
                lo, hi = float(np.min(v)), float(np.max(v))
                if site in ranges:
                    a, b = ranges[site]
                    ranges[site] = (0.9 * a + 0.1 * lo, 0.9 * b + 0.1 * hi)
                else:
                    ranges[site] = (lo, hi)
                    observed.append(site)
                return x

            for batch in t["input.calibration.tokens"]:
                model.gpt_forward(cfg, {n: ad.Var(v) for n, v in floats.items()}, batch.astype(np.int64), observe)
            ranges = {site: affine(*ranges[site], bits) for site in observed}
            for site, (s, z, _) in ranges.items():
                rep.check(prefix + site + ".range_scale", [s], t[prefix + site + ".range_scale"])
                rep.check(prefix + site + ".range_zero_point", [z], t[prefix + site + ".range_zero_point"])

        def quantize_site(site, x, causal=False):
            rows = x.value.reshape(-1, x.shape[-1])
            if act_mode == "static":
                s, z, q = ranges[site]  # every site the calibration saw is quantised (KeyError otherwise)
                out, scale = affine_fake_quantize(rows, s, z, q), [s]
                if causal:  # entries above the diagonal are masked or 0 either way; keep them as they were
                    mask = np.broadcast_to(np.tril(np.ones(x.shape[-2:], dtype=bool)), x.shape).reshape(rows.shape)
                    out = np.where(mask, out, rows)
            elif site.endswith(".in"):
                scale = symmetric_scales(rows, qmax, act_mode == "token")
                out = fake_quantize(rows, scale, qmax)
            else:
                return x
            if site.endswith(".in"):
                rep.check(prefix + site + ".act", out, t[prefix + site + ".act"])
                rep.check(prefix + site + ".act_scale", np.ravel(scale), t[prefix + site + ".act_scale"])
            return ad.Var(out.astype(np.float64).reshape(x.shape))

        logits, _, _ = model.gpt_forward(cfg, {n: ad.Var(v) for n, v in params.items()}, tokens, quantize_site)
        losses, _ = model.cross_entropy(logits, targets.reshape(-1))
        rep.check(prefix + "loss", [losses.value.mean()], t[prefix + "loss"])

"""Post-training fake quantisation of SPEC §7, replayed from the quantisation golden's float weights.

Element-wise quantisation runs in float32 exactly as specified (x/s, round half to even, clamp, ·s), so
weights and scales match bit for bit; the forward passes around it run in float64. W8A8-static follows
the README's `quantisation` conventions: ranges calibrated on the float model at every site
`model.gpt_forward` names (attention scores and probabilities observed on their causal entries only),
MSE-clipped weights on Bondarenko et al.'s grid. Every constant (scale floor, calibration momentum, the
grid's size and margin) comes from the header's `constants`.

Quantised activations are checked site by site: at each quantised site the replay compares its own float
input with the golden's recorded `.input`, quantises the golden's input (not its own) and compares that
with `.act`, then continues with the golden's `.act`. A value the two implementations round to different
sides of a grid boundary therefore costs one site, never everything downstream of it.
"""
import math

import numpy as np

import autodiff as ad
import model

F = np.float32
LINEAR_WEIGHTS = ("attn.qkv", "attn.proj", "mlp.fc", "mlp.proj")
# scheme -> (weight granularity, activation granularity)
SCHEMES = {"w8a8-naive": ("tensor", "tensor"), "w8a8-fine": ("channel", "token"), "w8a8-static": ("mse", "static"),
           "w8a8-smooth": ("tensor", "tensor")}
# SmoothQuant: the weights reading each linear input (qkv and the attention gate share theirs).
SMOOTHED_WEIGHTS = {"qkv": ("attn.qkv", "attn.gate"), "attn_proj": ("attn.proj",), "fc": ("mlp.fc",), "mlp_proj": ("mlp.proj",)}


def smooth(cfg, floats, smoothing, t, prefix, rep):
    """SmoothQuant (Xiao et al. 2023, Eq. 4) from the golden's calibration crops: per linear input the
    channel maxima max|X_j| over the float model's calibration forwards (checked against `.smooth_max`),
    s_j = max(a_j, floor)^α / max(w_j, floor)^(1−α) in float64 from the RECORDED maxima (so a last-ulp
    difference in a maximum cannot move s), rounded to float32, and 1 where a_j = 0 (checked against
    `.smooth_scale`); then
    the fold in float32, linear by linear in forward order as the header's `folds` say: W[:, j]·s_j for
    every weight reading the input, 1/s_j into the norm's gain and bias, qkv's v rows or fc's rows, or
    kept to divide the input explicitly. Returns the folded parameters and {site: s} of explicit inputs."""
    alpha, floor = smoothing["alpha"], smoothing["floor"]
    maxima = {}

    def observe(site, x, causal=False):
        if site.endswith(".in"):
            m = np.max(np.abs(x.value.reshape(-1, x.shape[-1])), axis=0)
            maxima[site] = np.maximum(maxima[site], m) if site in maxima else m
        return x

    for batch in t["input.calibration.tokens"]:
        model.gpt_forward(cfg, {n: ad.Var(v) for n, v in floats.items()}, batch.astype(np.int64), observe)
    params = {n: np.asarray(v, F).copy() for n, v in floats.items()}
    explicit = {}
    for site, fold in smoothing["folds"].items():
        rep.check(prefix + site + ".smooth_max", maxima[site], t[prefix + site + ".smooth_max"])
        layer, linear = site.split(".")[0], site.split(".")[1]
        names = [f"{layer}.{w}" for w in SMOOTHED_WEIGHTS[linear] if f"{layer}.{w}" in floats]
        w_max = np.max(np.stack([np.max(np.abs(np.asarray(floats[n], F)), axis=0) for n in names]), axis=0)
        a = t[prefix + site + ".smooth_max"].astype(np.float64)
        s = (np.maximum(a, floor) ** alpha / np.maximum(w_max.astype(np.float64), floor) ** (1 - alpha)).astype(F)
        s = np.where(a > 0, s, F(1))  # a channel that never fired has nothing to migrate
        rep.check(prefix + site + ".smooth_scale", s, t[prefix + site + ".smooth_scale"])
        s = t[prefix + site + ".smooth_scale"].astype(F)
        for n in names:
            params[n] = (params[n] * s[None, :]).astype(F)
        kind, _, norm = fold.partition(":")
        if kind == "norm":
            for name in (norm + ".g", norm + ".b"):
                if name in params:
                    params[name] = (params[name] / s).astype(F)
        elif fold == "qkv-value-rows":
            C = cfg.width
            w = params[f"{layer}.attn.qkv"]
            w[2 * C:] = (w[2 * C:] / s[:, None]).astype(F)
        elif fold == "fc-rows":
            params[f"{layer}.mlp.fc"] = (params[f"{layer}.mlp.fc"] / s[:, None]).astype(F)
        elif fold == "explicit":
            explicit[site] = s
        else:
            raise ValueError(f"unknown SmoothQuant fold {fold}")
    return params, explicit


def fake_quantize(x, scale, qmax):
    """clamp(round_half_even(x/s), −q, q)·s in float32; `scale` broadcasts (per tensor, row or token)."""
    x, scale = np.asarray(x, F), np.asarray(scale, F)
    return (np.clip(np.rint(x / scale), -F(qmax), F(qmax)) * scale).astype(F)


def symmetric_scales(x, qmax, per_row, floor):
    a = np.max(np.abs(np.asarray(x, F)), axis=1 if per_row else None, keepdims=per_row)
    return (np.maximum(a, F(floor)) / F(qmax)).astype(F)


def mse_clipped_scale(w, qmax, candidates, margin, floor):
    """Bondarenko et al.'s symmetric MSE grid: step = (absmax + margin)/K in float64, thresholds
    c_k = float32(step·k) for k = 1 … K (so the grid runs past absmax and need not contain it); the
    scale max(c_k, floor)/q (float32) of the least summed squared error (float64, summed exactly with
    math.fsum so the order does not matter); the first minimum wins (ties keep the smaller threshold)."""
    w = np.asarray(w, F)
    exact = w.astype(np.float64).ravel()
    step = (float(np.max(np.abs(w))) + margin) / candidates
    best, best_scale = np.inf, None
    for k in range(1, candidates + 1):
        scale = F(max(F(step * k), F(floor)) / F(qmax))
        err = math.fsum(((fake_quantize(w, scale, qmax).astype(np.float64).ravel() - exact) ** 2).tolist())
        if err < best:
            best, best_scale = err, scale
    return best_scale


def affine(lo, hi, bits, floor):
    """Asymmetric uint range widened to contain 0: s = max(hi − lo, floor)/(2^b − 1) (float32),
    z = clamp(round(−lo/s), 0, q)."""
    q = 2 ** bits - 1
    lo, hi = min(F(lo), F(0)), max(F(hi), F(0))
    s = F(max(F(hi - lo), F(floor)) / F(q))
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
    k = c["constants"]
    floor, momentum = k["min_absmax"], k["calibration_momentum"]
    cfg = model.Config(c["model"])
    floats = {n[len("input.param."):]: v for n, v in t.items() if n.startswith("input.param.")}
    tokens, targets = t["tokens"].astype(np.int64), t["targets"].astype(np.int64)
    for setting in c["settings"]:
        scheme, bits = setting.split("@")
        bits = int(bits)
        prefix = f"{scheme}.b{bits}."
        weight_mode, act_mode = SCHEMES[scheme]
        qmax = 2 ** (bits - 1) - 1
        explicit = {}
        if scheme == "w8a8-smooth":
            source, explicit = smooth(cfg, floats, c["smoothquant"], t, prefix, rep)
        else:
            source = floats
        params = dict(source)
        for l in range(cfg.layers):
            for w in LINEAR_WEIGHTS + (("attn.gate",) if cfg.gated else ()):
                name = f"h{l}.{w}"
                if weight_mode == "mse":
                    scale = np.array([mse_clipped_scale(source[name], qmax, k["clipping_candidates"], k["clipping_margin"], floor)], F)
                else:
                    scale = symmetric_scales(source[name], qmax, weight_mode == "channel", floor)
                params[name] = fake_quantize(source[name], scale, qmax)
                rep.check(prefix + name + ".weight", params[name], t[prefix + name + ".weight"])
                rep.check(prefix + name + ".weight_scale", np.ravel(scale), t[prefix + name + ".weight_scale"])

        if act_mode == "static":
            # Calibration: every batch through the FLOAT model; per site r ← m·r + (1 − m)·r_batch after the first.
            ranges, observed = {}, []

            def observe(site, x, causal=False):
                v = causal_entries(x.value) if causal else x.value
                lo, hi = float(np.min(v)), float(np.max(v))
                if site in ranges:
                    a, b = ranges[site]
                    ranges[site] = (momentum * a + (1 - momentum) * lo, momentum * b + (1 - momentum) * hi)
                else:
                    ranges[site] = (lo, hi)
                    observed.append(site)
                return x

            for batch in t["input.calibration.tokens"]:
                model.gpt_forward(cfg, {n: ad.Var(v) for n, v in floats.items()}, batch.astype(np.int64), observe)
            for site in observed:
                s, z, _ = affine(*ranges[site], bits, floor)
                rep.check(prefix + site + ".range_scale", [s], t[prefix + site + ".range_scale"])
                rep.check(prefix + site + ".range_zero_point", [z], t[prefix + site + ".range_zero_point"])

        def quantise_recorded(site, recorded):
            """The golden's recorded float input of `site` quantised as the scheme says, and its scales."""
            if act_mode == "static":
                s, z = t[prefix + site + ".range_scale"][0], int(t[prefix + site + ".range_zero_point"][0])
                return affine_fake_quantize(recorded, s, z, 2 ** bits - 1), [s]
            scale = symmetric_scales(recorded, qmax, act_mode == "token", floor)
            return fake_quantize(recorded, scale, qmax), np.ravel(scale)

        def quantize_site(site, x, causal=False):
            if site in explicit:  # SmoothQuant's explicit X·diag(s)⁻¹, before the quantisation
                x = x * (1 / explicit[site].astype(np.float64))
            act = prefix + site + ".act"
            if act not in t:  # a site this scheme leaves in float32
                return x
            if prefix + site + ".input" not in t:
                # Static attention internals keep only their rewritten values (scores and probabilities: the
                # causal entries): ours must lie within the golden's budget of them, one grid step.
                if not causal:
                    rep.check(act, x.value.reshape(t[act].shape), t[act])
                    return ad.Var(t[act].astype(np.float64).reshape(x.shape))
                rep.check(act, causal_entries(x.value), t[act])
                out = x.value.copy()
                out[..., np.tril(np.ones(x.shape[-2:], dtype=bool))] = t[act].reshape(out.shape[:-2] + (-1,))
                return ad.Var(out)
            rows = x.value.reshape(-1, x.shape[-1])
            rep.check(prefix + site + ".input", rows, t[prefix + site + ".input"])
            quantised, scale = quantise_recorded(site, t[prefix + site + ".input"])
            rep.check(act, quantised, t[act])
            if site.endswith(".in"):
                rep.check(prefix + site + ".act_scale", np.ravel(scale), t[prefix + site + ".act_scale"])
            return ad.Var(t[act].astype(np.float64).reshape(x.shape))

        logits, _, _ = model.gpt_forward(cfg, {n: ad.Var(v) for n, v in params.items()}, tokens, quantize_site)
        losses, _ = model.cross_entropy(logits, targets.reshape(-1))
        rep.check(prefix + "loss", [losses.value.mean()], t[prefix + "loss"])


def replay_quantiser(header, t, rep):
    """`quantiser`: the symmetric quantiser alone on hand-made rows (ties, zeros, values under the floor),
    per tensor and per row (`per-token`) at each setting's bits."""
    x = t["input.x"]
    floor = header["config"]["constants"]["min_absmax"]
    for setting in header["config"]["settings"]:
        granularity, bits = setting.split("@")
        qmax = 2 ** (int(bits) - 1) - 1
        scales = symmetric_scales(x, qmax, granularity != "per-tensor", floor)
        prefix = f"output.{granularity}.b{bits}."
        rep.check(prefix + "scale", np.ravel(scales), t[prefix + "scale"])
        rep.check(prefix + "x", fake_quantize(x, scales, qmax), t[prefix + "x"])

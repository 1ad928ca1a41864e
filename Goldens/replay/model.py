"""The model of SPEC §3 written with `autodiff` operations: each kernel, and the GPT forward pass.

Conventions (README "Golden files", per kind): float32 in the goldens, float64 here. Every constant
(norm ε, QK-norm ε, GELU's coefficient, the soft-cap) comes from the golden's header, never from here.
"""
import numpy as np

import autodiff as ad


def layer_norm(x, g, b, eps):
    """Returns (out, mean, rstd) over the last axis; rstd = 1/√(var + eps), biased variance."""
    mu = ad.mean(x, -1)
    xc = x - mu
    var = ad.mean(xc * xc, -1)
    rstd = ad.reciprocal(ad.sqrt(var + eps))
    return xc * rstd * g + b, mu, rstd


def rms_norm(x, g, eps):
    """Returns (out, rms): out = x/(rms + eps)·g, rms = √(mean x²) (eps added to the RMS, not inside)."""
    rms = ad.sqrt(ad.mean(x * x, -1))
    return x * ad.reciprocal(rms + eps) * g, rms


def srms_norm(x):
    """Returns (out, rstd): out = x·√d/‖x‖ = x/rms(x), rstd = 1/rms (0 for an all-zero row)."""
    zero = np.mean(x.value ** 2, axis=-1, keepdims=True) == 0
    with np.errstate(divide="ignore"):
        rstd = ad.reciprocal(ad.sqrt(ad.mean(x * x, -1)))
    if zero.any():
        rstd = ad.where(~zero, rstd, 0.0)
    return x * rstd, rstd


def gelu(x, coefficient):
    """tanh approximation: ½x(1 + tanh(√(2/π)(x + c·x³)))."""
    inner = np.sqrt(2 / np.pi) * (x + coefficient * x * x * x)
    return 0.5 * x * (1 + ad.tanh(inner))


def linear(x, w):
    """x (…, C) @ wᵀ with w (OC, C), no bias."""
    return ad.matmul(x, ad.transpose(w, (1, 0)))


def causal_softmax(s):
    """Softmax over the last axis with keys > query masked (probability exactly 0 above the diagonal)."""
    T = s.shape[-1]
    mask = np.tril(np.ones((T, T), dtype=bool))
    z = ad.where(mask, s, -np.inf)
    z = z - ad.constant(np.max(z.value, axis=-1, keepdims=True))
    e = ad.where(mask, ad.exp(ad.where(mask, z, 0.0)), 0.0)
    return e / ad.sum_(e, -1)


def attention(qkv, H, q_scale=None, k_scale=None, qk_eps=None, soft_cap=None, hook=None, clip=None):
    """Causal self-attention from fused qkv (B, T, 3C) = [q | k | v], head h at columns h·hs … (h+1)·hs−1.

    Returns dict: out (B, T, C); att (B, H, T, T) post-softmax probabilities; with `clip` ({zeta, gamma})
    also clipped (B, H, T, T), the clipped probabilities that multiply v; with QK-norm also
    qk_normed (B, T, 2C) = [normed q | normed k] and qk_rms (B, T, 2H) = [q heads | k heads], the RMS
    without eps. Logits: s = q·k/√hs, then (optionally) cap·tanh(s/cap).

    `hook(kind, x, causal)` (evaluation only, may return a replacement) sees the QK-norm output
    (`qk_norm.out`, (B, T, 2C)), the softmax's input (`scores`, after any soft-cap) and its output
    (`probs`, before it multiplies v); for the (B, H, T, T) tensors only the causal entries k ≤ t count
    (`causal` True): the rest is masked out by the softmax or is exactly 0.
    """
    B, T, C3 = qkv.shape
    C = C3 // 3
    hs = C // H

    def heads(x):  # (B, T, C) -> (B, H, T, hs)
        return ad.transpose(ad.reshape(x, (B, T, H, hs)), (0, 2, 1, 3))

    q, k, v = (heads(ad.slice_(qkv, (Ellipsis, slice(i * C, (i + 1) * C)))) for i in range(3))
    result = {}
    if q_scale is not None:
        q, rq = rms_norm(q, q_scale, qk_eps)
        k, rk = rms_norm(k, k_scale, qk_eps)
        merge = lambda x: ad.reshape(ad.transpose(x, (0, 2, 1, 3)), (B, T, C))
        result["qk_normed"] = ad.concat([merge(q), merge(k)], -1)
        if hook is not None:
            qk = hook("qk_norm.out", result["qk_normed"], False)
            q, k = (heads(ad.slice_(qk, (Ellipsis, slice(i * C, (i + 1) * C)))) for i in range(2))
        result["qk_rms"] = ad.concat([ad.transpose(ad.reshape(r, (B, H, T)), (0, 2, 1)) for r in (rq, rk)], -1)
    s = ad.matmul(q, ad.transpose(k, (0, 1, 3, 2))) * (1 / np.sqrt(hs))
    if soft_cap is not None:
        s = soft_cap * ad.tanh(s * (1 / soft_cap))
    if hook is not None:
        s = hook("scores", s, True)
    p = causal_softmax(s)
    result["att"] = p
    if clip is not None:
        # Clipped softmax (Bondarenko et al. 2023, Eq. 4.1): v is weighted by clip((ζ − γ)p + γ, 0, 1),
        # ζ − γ rounded to float32 once as the kernel does; entries above the diagonal stay 0.
        stretch = float(np.float32(clip["zeta"]) - np.float32(clip["gamma"]))
        causal = np.tril(np.ones((T, T)))
        p = ad.clip01(p * stretch + clip["gamma"]) * causal
        result["clipped"] = p
    if hook is not None:
        p = hook("probs", p, True)
    if clip is None:
        result["att"] = p
    y = ad.matmul(p, v)  # (B, H, T, hs)
    result["out"] = ad.reshape(ad.transpose(y, (0, 2, 1, 3)), (B, T, C))
    return result


def attention_gate(y, x, weight, bias, H):
    """Gated attention (Bondarenko et al. 2023, §4.2): head h's columns of y (N, C) times
    σ(x·W_g[h] + b_g[h]). Returns (out, gate (N, H))."""
    N, C = y.shape
    gate = ad.sigmoid(linear(x, weight) + bias)  # (N, H)
    spread = np.kron(np.eye(H), np.ones((1, C // H)))  # (H, C): head h -> its hs columns
    return y * ad.matmul(gate, ad.constant(spread)), gate


def cross_entropy(logits, targets):
    """Per-row losses −log softmax(logits)[target] (logsumexp form) and the probabilities."""
    z = logits - ad.constant(np.max(logits.value, axis=-1, keepdims=True))
    lse = ad.log(ad.sum_(ad.exp(z), -1))
    n = np.arange(len(targets))
    onehot = np.zeros(logits.shape)
    onehot[n, targets] = 1
    target_logit = ad.sum_(z * onehot, -1)
    losses = ad.reshape(lse - target_logit, (len(targets),))
    probs = np.exp(z.value - lse.value)
    return losses, probs


class Config:
    """A model as a golden header describes it (`ModelConfig.goldenDescription`): every value resolved,
    the kernels' constants included; a missing key is a golden this replay cannot follow (KeyError)."""

    def __init__(self, d):
        self.block, self.width, self.layers, self.heads, self.seq = d["block"], d["width"], d["layers"], d["heads"], d["seq"]
        self.vocab, self.activation, self.soft_cap, self.final_norm = d["vocab"], d["activation"], d["soft_cap"], d["final_norm"]
        self.qk_norm = d["qk_norm"]
        # Only the constants of the kernels this model uses are recorded; using another is a KeyError.
        self.eps = {name: d[key] for name, key in (("ln", "layer_norm_eps"), ("rms", "rms_norm_eps"), ("qk", "qk_norm_eps")) if key in d}
        self.gelu_coefficient = d.get("gelu_coefficient")
        # Bondarenko et al.'s remedies, written only when on.
        self.clip = d.get("clipped_softmax")
        self.gated = d.get("gated_attention", False)
        self.norm = {"preLN": "ln", "postLN": "ln", "preRMS": "rms", "preSRMS": "srms"}.get(self.block)


def apply_norm(cfg, kind, x, p, prefix):
    if kind == "ln":
        return layer_norm(x, p[prefix + ".g"], p[prefix + ".b"], cfg.eps["ln"])[0]
    if kind == "rms":
        return rms_norm(x, p[prefix + ".g"], cfg.eps["rms"])[0]
    return srms_norm(x)[0]


def site_is_identity(site):
    return getattr(site, "identity", False)


def _identity(name, x, causal=False):
    return x


_identity.identity = True


def gpt_forward(cfg, p, tokens, site=None):
    """The GPT of SPEC §3 on tokens (B, T). p maps parameter names to Vars. Returns (logits (B·T, V),
    taps): taps are the residual stream at L+1 points (before any final norm). `site(name, x, causal)`
    may observe or replace an activation (quantisation), in forward order; names as the quantisation
    golden's sites: `embedding.sum`, per block `h<l>.ln1.out`, `h<l>.qkv.{in,out}`, `h<l>.attn.qk_norm.out`
    (QK-norm blocks), `h<l>.attn.{scores,probs}` (causal True: only entries k ≤ t are meaningful),
    `h<l>.attn_proj.{in,out}`, `h<l>.residual.attn`, `h<l>.ln2.out`, `h<l>.fc.{in,out}` (fc.out AFTER
    the activation), `h<l>.mlp_proj.{in,out}`, `h<l>.residual.mlp`, then `lnf.out`. A `.in` site sees
    the tensor the linear layer reads (its replacement feeds only that layer)."""
    site = site or _identity
    B, T = tokens.shape
    x = ad.reshape(ad.take(p["wte"], tokens.reshape(-1), 0), (B, T, cfg.width)) + ad.slice_(p["wpe"], slice(0, T))
    taps, entropies = [x], []
    x = site("embedding.sum", x)  # taps keep the float embedding sum; only quantisation replaces it

    def lin(l, name, inp, weight, out_site=True):
        inp = site(f"h{l}.{name}.in", inp)
        out = linear(inp, p[weight])
        return site(f"h{l}.{name}.out", out) if out_site else out

    for l in range(cfg.layers):
        h = f"h{l}."
        op_like = cfg.block in ("op", "noNorm")
        if cfg.block in ("preLN", "preRMS", "preSRMS"):
            a_in = site(f"h{l}.ln1.out", apply_norm(cfg, cfg.norm, x, p, h + "ln1"))
        elif op_like and l == 0:
            a_in = site(f"h{l}.ln1.out", apply_norm(cfg, "ln", x, p, "h0.ln0"))
        else:
            a_in = x
        qkv_in = site(f"h{l}.qkv.in", a_in)  # the gate reads this same (possibly quantised) tensor
        qkv = site(f"h{l}.qkv.out", linear(qkv_in, p[h + "attn.qkv"]))
        hook = None if site_is_identity(site) else (lambda kind, v, causal, l=l: site(f"h{l}.attn.{kind}", v, causal))
        if cfg.qk_norm:
            att = attention(qkv, cfg.heads, p[h + "attn.q_norm"], p[h + "attn.k_norm"], cfg.eps["qk"], soft_cap=cfg.soft_cap, hook=hook,
                            clip=cfg.clip)
        else:
            att = attention(qkv, cfg.heads, soft_cap=cfg.soft_cap, hook=hook, clip=cfg.clip)
        entropies.append(att["att"].value)
        y = att["out"]
        if cfg.gated:
            y = attention_gate(y, qkv_in, p[h + "attn.gate"], p[h + "attn.gate.b"], cfg.heads)[0]
        a_out = lin(l, "attn_proj", y, h + "attn.proj")
        if cfg.block == "postLN":
            x = site(f"h{l}.residual.attn", apply_norm(cfg, "ln", x + a_out, p, h + "ln1"))
        else:
            x = site(f"h{l}.residual.attn", x + (p[h + "beta_attn"] * a_out if op_like else a_out))
        if cfg.block in ("preLN", "preRMS", "preSRMS"):
            m_in = site(f"h{l}.ln2.out", apply_norm(cfg, cfg.norm, x, p, h + "ln2"))
        else:
            m_in = x
        hidden = lin(l, "fc", m_in, h + "mlp.fc", out_site=False)
        hidden = ad.relu(hidden) if cfg.activation == "relu" else gelu(hidden, cfg.gelu_coefficient)
        hidden = site(f"h{l}.fc.out", hidden)  # fc and its activation act as one layer: quantised after it
        m_out = lin(l, "mlp_proj", hidden, h + "mlp.proj")
        if cfg.block == "postLN":
            x = site(f"h{l}.residual.mlp", apply_norm(cfg, "ln", x + m_out, p, h + "ln2"))
        else:
            x = site(f"h{l}.residual.mlp", x + (p[h + "beta_mlp"] * m_out if op_like else m_out))
        taps.append(x)
    final = x
    if cfg.final_norm:
        final = site("lnf.out", apply_norm(cfg, cfg.norm or "ln", x, p, "lnf"))
    head = p["lm_head"] if "lm_head" in p else p["wte"]
    logits = linear(ad.reshape(final, (B * T, cfg.width)), head)
    return logits, taps, entropies

"""Outlier-feature metrics of SPEC §6 on X (n, d), in float64."""
import numpy as np


def kurtosis(x):
    """Paper Eq. 1: s_j² = mean_α X_αj² (no centring); mean s⁴ / (mean s²)²; 1 for an all-zero X."""
    s2 = np.mean(np.asarray(x, np.float64) ** 2, axis=0)
    m2 = s2.mean()
    return 1.0 if m2 == 0 else np.mean(s2 ** 2) / m2 ** 2


def width_centred_normalised(x):
    """f = (X − row mean over the width) / global RMS of the centred values (f = 0 if that RMS is 0)."""
    x = np.asarray(x, np.float64)
    c = x - x.mean(axis=1, keepdims=True)
    r = np.sqrt(np.mean(c ** 2))
    return c / r if r > 0 else c * 0


def kurtosis_centred(x):
    """The official logger's form: unbiased variance over j of v_j = mean_α f_αj²."""
    f = width_centred_normalised(x)
    return np.var(np.mean(f ** 2, axis=0), ddof=1) if f.shape[1] > 1 else 0.0


def mmr_per_row(x, centred=False):
    """max_j |X_αj − c_α| / lower-median_j |X_αj − c_α| (sorted index (d−1)//2); 1 for an all-zero row,
    +inf for median 0. c_α = 0, or with `centred` the row mean over the width (the official logger's form)."""
    x = np.asarray(x, np.float64)
    if centred:
        x = x - x.mean(axis=1, keepdims=True)
    a = np.sort(np.abs(x), axis=1)
    med, mx = a[:, (a.shape[1] - 1) // 2], a[:, -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = mx / med
    r[mx == 0] = 1.0
    return r


def mmr(x, centred=False):
    """Mean over rows of `mmr_per_row`, rows with an infinite ratio left out (+inf if all are)."""
    r = mmr_per_row(x, centred)
    finite = r[np.isfinite(r)]
    return finite.mean() if finite.size else np.inf


def signal_propagation(x):
    """On f: mean and RMS of the off-diagonal of f fᵀ/d, RMS of the off-diagonal of fᵀf/n, and the mean
    off-diagonal cosine between token rows (a zero row has cosine 0)."""
    f = width_centred_normalised(x)
    n, d = f.shape
    G = f @ f.T / d
    F = f.T @ f / n
    off_n, off_d = ~np.eye(n, dtype=bool), ~np.eye(d, dtype=bool)
    norms = np.linalg.norm(f, axis=1)
    safe = np.where(norms > 0, norms, 1)
    cos = (f / safe[:, None]) @ (f / safe[:, None]).T
    return {
        "token_corr_mean": G[off_n].mean() if n > 1 else 0.0,
        "token_corr_rms": np.sqrt(np.mean(G[off_n] ** 2)) if n > 1 else 0.0,
        "feature_corr_rms": np.sqrt(np.mean(F[off_d] ** 2)) if d > 1 else 0.0,
        "token_cosine_mean": cos[off_n].mean() if n > 1 else 0.0,
    }


def tap_metrics(x):
    x = np.asarray(x, np.float64)
    out = {"kurtosis": kurtosis(x), "kurtosis_centred": kurtosis_centred(x), "mmr": mmr(x),
           "mmr_centred": mmr(x, centred=True),
           "activation_rms": np.sqrt(np.mean(x ** 2))}
    out.update(signal_propagation(x))
    return out


def attention_entropy(p):
    """Mean over (B, H, query rows) of −Σ_k p log p over the causal keys 0…t (0·log 0 = 0)."""
    p = np.asarray(p, np.float64)
    T = p.shape[-1]
    p = np.where(np.tril(np.ones((T, T), dtype=bool)), p, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log(p), 0)
    return terms.sum(-1).mean()


def kurtosis_update(x, dx):
    """SPEC §6 decomposition for activations x and their change dx (n, d)."""
    x, dx = np.asarray(x, np.float64), np.asarray(dx, np.float64)
    n = x.shape[0]
    s2 = np.mean(x ** 2, axis=0)
    a = 2 / n * np.sum(x * dx, axis=0)
    b = np.mean(dx ** 2, axis=0)
    m2, m4 = s2.mean(), np.mean(s2 ** 2)
    u = {"u21": a.mean(), "u22": b.mean(), "u41": np.mean(2 * s2 * a), "u42": np.mean(a ** 2 + 2 * s2 * b),
         "u43": np.mean(2 * a * b), "u44": np.mean(b ** 2)}
    after2, after4 = m2 + u["u21"] + u["u22"], m4 + u["u41"] + u["u42"] + u["u43"] + u["u44"]
    u.update(mean_square=m2, mean_fourth=m4, kurtosis_before=m4 / m2 ** 2 if m2 else 1.0,
             kurtosis_after=after4 / after2 ** 2 if after2 else 1.0,
             # ΔKurt to first order in dx: u₄₁/M₂² − 2·M₄·u₂₁/M₂³
             first_order_kurtosis_change=u["u41"] / m2 ** 2 - 2 * m4 * u["u21"] / m2 ** 3)
    return u

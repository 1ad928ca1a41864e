"""The optimisers of SPEC §5 in float64 NumPy, one class per convention.

`step(params, grads, lr)` updates the dict `params` (name -> array) in place; `state()` returns the state
under the checkpoint names `opt.<p>.<field>`. `roles` maps each name to matrix / embedding / vector /
scalar; weight decay applies to matrix and embedding only.
"""
import numpy as np

DECAYED = ("matrix", "embedding")


class SGD:
    """torch.optim.SGD (dampening 0): g ← g + wd·W; buf ← g first, μ·buf + g after; W ← W − lr·buf
    (Nesterov: W ← W − lr·(g + μ·buf))."""

    def __init__(self, h, roles):
        self.h, self.roles, self.buf, self.t = h, roles, {}, {}

    def step(self, params, grads, lr):
        mu, wd = self.h["momentum"], self.h["weight_decay"]
        for name, g in grads.items():
            g = g + wd * params[name] if self.roles[name] in DECAYED else g
            self.buf[name] = g.copy() if name not in self.buf else mu * self.buf[name] + g
            self.t[name] = self.t.get(name, 0) + 1
            params[name] = params[name] - lr * (g + mu * self.buf[name] if self.h["nesterov"] else self.buf[name])

    def state(self):
        return {**{f"opt.{p}.m": b for p, b in self.buf.items()}, **{f"opt.{p}.step": t for p, t in self.t.items()}}


class AdamW:
    """torch: W ← W(1 − lr·wd), then W ← W − lr/(1−β₁ᵗ) · m/(√v/√(1−β₂ᵗ) + ε).
    hf: W ← W − lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · m/(√v + ε), then W ← W − lr·wd·W (decay after, on the new W)."""

    def __init__(self, h, roles):
        self.h, self.roles, self.m, self.v, self.t = h, roles, {}, {}, {}

    def step(self, params, grads, lr):
        b1, b2, eps, wd, hf = (self.h[k] for k in ("beta1", "beta2", "eps", "weight_decay", "eps_convention_hf"))
        for name, g in grads.items():
            t = self.t[name] = self.t.get(name, 0) + 1
            m = self.m[name] = b1 * self.m.get(name, 0 * g) + (1 - b1) * g
            v = self.v[name] = b2 * self.v.get(name, 0 * g) + (1 - b2) * g * g
            decays = self.roles[name] in DECAYED and wd > 0
            w = params[name]
            if hf:
                w = w - lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m / (np.sqrt(v) + eps)
                w = w - lr * wd * w if decays else w
            else:
                w = w * (1 - lr * wd) if decays else w
                w = w - lr / (1 - b1 ** t) * m / (np.sqrt(v) / np.sqrt(1 - b2 ** t) + eps)
            params[name] = w

    def state(self):
        out = {}
        for p in self.t:
            out.update({f"opt.{p}.step": self.t[p], f"opt.{p}.m": self.m[p], f"opt.{p}.v": self.v[p]})
        return out


class Rotated:
    """Adam / AdaFactor in a rotated basis per 2-D tensor: SOAP, rotated AdaFactor, the random-rotation
    ablation, and (with no rotation at all) plain AdaFactor.

    basis "shampoo": SOAP's eigenbasis of GG, the first call per tensor only accumulates GG and builds Q
    (no update, no decay, t stays 0; vectors and scalars skip it too); refresh every f steps.
    basis "random": fixed bases given in `fixed_q` (name -> {"L": Q, "R": Q}); no skip, no GG.
    basis "none": identity (AdaFactor); no skip.
    Update: g' = Q_Lᵀ g Q_R; t += 1; M ← β₁M + (1−β₁)g'; V ← β₂V + (1−β₂)g'² (factored: r, c of
    g'² + 1e-30 and V̂ = r cᵀ/mean r); W ← W − lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · Q_L (M/(√V + ε)) Q_Rᵀ; then
    W ← W − lr·wd·W. Then GG ← β_s GG + (1−β_s)(g gᵀ, gᵀ g) and if t % f == 0 a refresh: columns sorted by
    diag(Qᵀ GG Q) descending (V's / r's / c's axis permuted alike), Q ← qr(GG Q).Q; M (kept in the rotated
    basis) is carried over to the new basis."""

    def __init__(self, h, roles, shapes, basis, factored, constants, fixed_q=None):
        self.h, self.roles, self.basis, self.factored = h, roles, basis, factored
        self.floor, self.regulariser = constants["factored_floor"], constants["eigen_regulariser"]
        self.s = {}
        maxdim = h.get("max_precond_dim", 0)
        for name, shape in shapes.items():
            two_d = roles[name] in DECAYED
            rows, cols = (shape if two_d else (1, int(np.prod(shape))))
            st = {"rows": rows, "cols": cols, "t": 0, "M": np.zeros((rows, cols)), "first": True,
                  "factored": factored and two_d}
            st["sides"] = {side: n for side, n in (("L", rows), ("R", cols))
                           if two_d and basis != "none" and n <= maxdim}
            st["Q"] = {side: np.eye(n) for side, n in (("L", rows), ("R", cols))}
            if basis == "random":
                for side in st["sides"]:
                    st["Q"][side] = np.asarray(fixed_q[name][side], np.float64)
            st["GG"] = {side: np.zeros((n, n)) for side, n in st["sides"].items()}
            if st["factored"]:
                st["r"], st["c"] = np.zeros(rows), np.zeros(cols)
            else:
                st["V"] = np.zeros((rows, cols))
            self.s[name] = st

    def _accumulate(self, st, g, decay):
        bs = self.h["shampoo_beta"]
        for side in st["sides"]:
            outer = g @ g.T if side == "L" else g.T @ g
            st["GG"][side] = decay * st["GG"][side] + (1 - bs) * outer

    def step(self, params, grads, lr):
        b1, b2, eps, wd = (self.h[k] for k in ("beta1", "beta2", "eps", "weight_decay"))
        for name, g0 in grads.items():
            st = self.s[name]
            shape = np.shape(params[name])
            g = np.asarray(g0, np.float64).reshape(st["rows"], st["cols"])
            if self.basis == "shampoo" and st["first"]:
                st["first"] = False
                self._accumulate(st, g, 0.0)
                for side in st["sides"]:
                    n = st["sides"][side]
                    w, q = np.linalg.eigh(st["GG"][side] + self.regulariser * np.eye(n))
                    st["Q"][side] = q[:, ::-1]
                continue
            QL, QR = st["Q"]["L"], st["Q"]["R"]
            gp = QL.T @ g @ QR
            st["t"] += 1
            t = st["t"]
            st["M"] = b1 * st["M"] + (1 - b1) * gp
            if st["factored"]:
                sq = gp * gp + self.floor
                st["r"] = b2 * st["r"] + (1 - b2) * sq.mean(axis=1)
                st["c"] = b2 * st["c"] + (1 - b2) * sq.mean(axis=0)
                vhat = np.outer(st["r"], st["c"]) / st["r"].mean()
            else:
                st["V"] = b2 * st["V"] + (1 - b2) * gp * gp
                vhat = st["V"]
            u = QL @ (st["M"] / (np.sqrt(vhat) + eps)) @ QR.T
            w = np.asarray(params[name], np.float64).reshape(st["rows"], st["cols"])
            w = w - lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t) * u
            if self.roles[name] in DECAYED and wd > 0:
                w = w - lr * wd * w
            params[name] = w.reshape(shape)
            if self.basis != "shampoo":
                continue
            self._accumulate(st, g, self.h["shampoo_beta"])
            if t % int(self.h["precondition_frequency"]) == 0:
                m_orig = QL @ st["M"] @ QR.T
                for side in st["sides"]:
                    Q, GG = st["Q"][side], st["GG"][side]
                    order = np.argsort(-np.diag(Q.T @ GG @ Q), kind="stable")
                    axis = 0 if side == "L" else 1
                    if st["factored"]:
                        key = "r" if side == "L" else "c"
                        st[key] = st[key][order]
                    else:
                        st["V"] = np.take(st["V"], order, axis=axis)
                    st["Q"][side] = np.linalg.qr(GG @ Q[:, order])[0]
                st["M"] = st["Q"]["L"].T @ m_orig @ st["Q"]["R"]

    def state(self):
        out = {}
        for p, st in self.s.items():
            out[f"opt.{p}.step"] = st["t"]
            out[f"opt.{p}.m"] = st["M"]
            if st["factored"]:
                out[f"opt.{p}.r"], out[f"opt.{p}.c"] = st["r"], st["c"]
            else:
                out[f"opt.{p}.v"] = st["V"]
            for side in st["sides"]:
                out[f"opt.{p}.Q{side}"] = st["Q"][side]
                if self.basis == "shampoo":
                    out[f"opt.{p}.GG{side}"] = st["GG"][side]
        return out


def make(kind, h, roles, shapes, constants, fixed_q=None):
    """kind: the header's config.optimizer (sgd, adamw, adafactor, soap, rotated-adafactor,
    adam-random-rotation); constants: the header's optimiser constants (factored floor, eigen regulariser)."""
    if kind == "sgd":
        return SGD(h, roles)
    if kind == "adamw":
        return AdamW(h, roles)
    if kind == "adafactor":
        return Rotated(h, roles, shapes, "none", factored=True, constants=constants)
    if kind == "soap":
        return Rotated(h, roles, shapes, "shampoo", factored=False, constants=constants)
    if kind == "rotated-adafactor":
        return Rotated(h, roles, shapes, "shampoo", factored=True, constants=constants)
    if kind == "adam-random-rotation":
        return Rotated(h, roles, shapes, "random", factored=False, constants=constants, fixed_q=fixed_q)
    raise ValueError(f"unknown optimiser {kind}")

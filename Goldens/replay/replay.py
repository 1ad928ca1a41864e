#!/usr/bin/env python3
"""Replays every OutlierLab golden with NumPy alone: python3 replay.py [GOLDENS_DIR | FILE.golden.gz ...]

An implementation independent of the Swift code, written from SPEC.md and the README's per-kind
schema. For each golden it reads the inputs, recomputes every output and compares it with the golden's
own stored compare mode and tolerances. One line per golden: name, OK/FAIL, the worst difference as a
fraction of its budget (|a − g| / (atol + rtol·|g|); ≤ 1 passes) and where it occurred. Exit 1 if any
golden fails (beyond a tolerance, an output left unrecomputed, or a golden it cannot follow), 2 if no
golden was found.
"""
import glob
import os
import sys

import numpy as np

sys.dont_write_bytecode = True  # no __pycache__ inside Goldens/: every file there is a listed golden or tool
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import autodiff as ad  # noqa: E402
import metrics  # noqa: E402
import model  # noqa: E402
import optimizers  # noqa: E402
import quant  # noqa: E402
from read_golden import read_golden  # noqa: E402


# ---------------------------------------------------------------------------------------------- compare

def sign_canonical(a, axis):
    """Flip each vector along `axis` so its largest-|·| entry (lowest index on ties) is positive."""
    a = np.moveaxis(np.asarray(a, np.float64), axis, 0)
    idx = np.argmax(np.abs(a), axis=0)
    signs = np.sign(np.take_along_axis(a, idx[None], axis=0))
    signs[signs == 0] = 1
    return np.moveaxis(a * signs, 0, axis)


def budget_ratio(actual, golden, compare):
    """Worst |a − g| / (atol + rtol·|g|) over the tensor (inf for an exact mismatch), with its flat
    index, |a − g| and budget there."""
    mode = compare["mode"]
    golden = np.asarray(golden)
    actual = np.asarray(actual).reshape(golden.shape)
    if mode == "exact":
        if golden.dtype.kind == "f":
            same = np.asarray(actual, golden.dtype).tobytes() == golden.tobytes()
        else:
            same = np.array_equal(actual.astype(np.int64), golden.astype(np.int64))
        i = 0 if same else int(np.argmax(actual.ravel() != golden.ravel()))
        return (0.0 if same else np.inf), i, (0.0 if same else np.inf), 0.0
    a, g = np.asarray(actual, np.float64), np.asarray(golden, np.float64)
    if mode == "sign_canonical":
        a, g = sign_canonical(a, compare["axis"]), sign_canonical(g, compare["axis"])
    if a.size == 0:
        return 0.0, 0, 0.0, 0.0
    both_nan = np.isnan(a) & np.isnan(g)
    same_inf = np.isinf(a) & (a == g)
    budget = compare["atol"] + compare["rtol"] * np.abs(g)
    with np.errstate(invalid="ignore"):
        diff = np.abs(a - g)
        ratio = diff / budget
    ratio = np.where(both_nan | same_inf | (a == g), 0.0, ratio)
    ratio = np.where(np.isnan(ratio), np.inf, ratio)
    i = int(np.argmax(ratio))
    return float(ratio.ravel()[i]), i, float(diff.ravel()[i]), float(budget.ravel()[i])


class Report:
    def __init__(self, path, header):
        self.path, self.header = path, header
        self.spec = {t["name"]: t for t in header["tensors"]}
        self.worst, self.where, self.checked = 0.0, "", set()

    def check(self, name, actual, golden):
        r, i, diff, budget = budget_ratio(actual, golden, self.spec[name]["compare"])
        self.checked.add(name)
        if r > self.worst or not self.where:
            self.worst, self.where = r, f"|Δ| {diff:.2g} vs budget {budget:.2g} at {name}[{i}]"


# ------------------------------------------------------------------------------------------------ kernels

def replay_kernel(header, t, rep):
    c = header["config"]
    k = c["kernel"]
    V = {n.split(".", 1)[1]: ad.Var(v) for n, v in t.items() if n.startswith("input.") and t[n].dtype.kind == "f"}
    dout = V.pop("dout").value
    if k == "matmul":
        outs = {"out": model.linear(V["inp"], V["weight"])}
    elif k == "layerNorm":
        o, mu, rstd = model.layer_norm(V["inp"], V["weight"], V["bias"], c["eps"])
        outs = {"out": o, "mean": mu, "rstd": rstd}
    elif k == "rmsNorm":
        o, rms = model.rms_norm(V["inp"], V["weight"], c["eps"])
        outs = {"out": o, "rms": rms}
    elif k == "srmsNorm":
        o, rstd = model.srms_norm(V["inp"])
        outs = {"out": o, "rstd": rstd}
    elif k == "relu":
        outs = {"out": ad.relu(V["inp"])}
    elif k == "gelu":
        outs = {"out": model.gelu(V["inp"], c["gelu_coefficient"])}
    elif k == "residual":
        outs = {"out": V["x"] + V["beta"] * V["branch"]}
    elif k == "embedding":
        tok = t["input.tokens"]
        B, T = tok.shape
        e = ad.reshape(ad.take(V["wte"], tok.reshape(-1), 0), (B, T, c["C"]))
        outs = {"out": e + ad.slice_(V["wpe"], slice(0, T))}
    elif k == "crossEntropy":
        losses, probs = model.cross_entropy(V["logits"], t["input.targets"].astype(np.int64))
        outs = {"losses": losses}
        rep.check("output.probs", probs, t["output.probs"])
    elif k == "attention":
        qk = c.get("qk_norm")
        res = model.attention(V["qkv"], c["H"], V.get("q_scale") if qk else None, V.get("k_scale") if qk else None,
                              c["qk_norm_eps"] if qk else None, c.get("soft_cap"), clip=c.get("clipped_softmax"))
        outs = res
    elif k == "attentionGate":
        out, gate = model.attention_gate(V["y"], V["x"], V["weight"], V["bias"], c["H"])
        outs = {"out": out, "gate": gate}
    else:
        raise ValueError(f"unknown kernel {k}")
    main = outs["losses"] if k == "crossEntropy" else outs["out"]
    main.backward(dout)
    for name, var in outs.items():
        if "output." + name in t:
            rep.check("output." + name, var.value, t["output." + name])
    for name, var in V.items():
        if "grad." + name in t:
            g = var.grad if var.grad is not None else np.zeros(var.shape)
            rep.check("grad." + name, g, t["grad." + name])


# ------------------------------------------------------------------------------------------------ metrics

def replay_metrics(header, t, rep):
    kind = header["kind"]
    if kind == "tap_metrics":
        x = t["input.x"]
        out = metrics.tap_metrics(x)
        out["mmr_per_row"] = metrics.mmr_per_row(x)
        out["mmr_centred_per_row"] = metrics.mmr_per_row(x, centred=True)
        out["width_centred_normalised"] = metrics.width_centred_normalised(x)
    elif kind == "attention_entropy":
        out = {"attention_entropy": metrics.attention_entropy(t["input.probabilities"])}
    else:
        out = metrics.kurtosis_update(t["input.x"], t["input.delta"])
    for name, value in out.items():  # an output this replay does not compute is reported as not recomputed
        if "output." + name in t:
            rep.check("output." + name, value, t["output." + name])


# --------------------------------------------------------------------------------------------- optimisers

def replay_trajectory(header, t, rep):
    c = header["config"]
    specs = c["specs"]
    h = {n.split(".", 2)[2]: float(v) for n, v in t.items() if n.startswith("input.hparam.")}
    roles = {s["name"]: s["role"] for s in specs}
    shapes = {s["name"]: tuple(s["shape"]) for s in specs}
    # The random-rotation bases are fixed for the whole run: the golden's final QL/QR are the bases used.
    fixed = {s["name"]: {side: t[f"output.state.opt.{s['name']}.Q{side}"] for side in "LR"
                         if f"output.state.opt.{s['name']}.Q{side}" in t} for s in specs}
    opt = optimizers.make(c["optimizer"], h, roles, shapes, c["constants"], fixed)
    params = {s["name"]: t["input.param." + s["name"]].astype(np.float64) for s in specs}
    for step in range(1, c["steps"] + 1):
        grads = {s["name"]: t[f"input.grad.{step:04d}.{s['name']}"].astype(np.float64) for s in specs}
        opt.step(params, grads, h["step_lr"])  # the constant rate of the trajectory, never hparam.lr
        for s in specs:
            rep.check(f"output.param.{step:04d}.{s['name']}", params[s["name"]], t[f"output.param.{step:04d}.{s['name']}"])
    state = opt.state()
    for name in t:
        if name.startswith("output.state."):
            rep.check(name, state[name[len("output.state."):]], t[name])


# -------------------------------------------------------------------------------------------------- data

def layout_rows(stream, starts, T, bos_token):
    """Rows cut at `starts` by the TokenLayout convention (README "Data options"): without BOS
    (bos_token None) inputs b[s:s+T], targets b[s+1:s+T+1]; with it [bos] + b[s:s+T-1] and b[s:s+T]."""
    xs, ys = [], []
    for s in np.ravel(starts).astype(np.int64):
        if bos_token is None:
            xs.append(stream[s:s + T])
            ys.append(stream[s + 1:s + T + 1])
        else:
            xs.append(np.concatenate([[bos_token], stream[s:s + T - 1]]))
            ys.append(stream[s:s + T])
    return np.array(xs, np.int64), np.array(ys, np.int64)


def replay_data(header, t, rep):
    """data_batches: every row re-derived from the stored corpus bytes and drawn offsets; the offsets
    (drawn by the Swift RNG) are checked for range and, with crop_align line, for following a newline."""
    c = header["config"]
    T, vocab = c["seq"], c["vocab"]
    bos_token = c["bos_token"] if c["bos"] else None
    if bos_token is not None and bos_token != vocab - 1:
        raise ValueError(f"BOS token {bos_token} is not the last id of a vocabulary of {vocab}")
    train, val = t["input.corpus.train"].astype(np.int64), t["input.corpus.validation"].astype(np.int64)
    starts, probe_starts = t["input.batch.starts"], t["input.probe.starts"]
    last = len(train) - T - 1
    misplaced = [int(s) for s in starts.ravel()
                 if not 0 <= s <= last or (c["crop_align"] == "line" and (s < 1 or train[s - 1] != ord("\n")))]
    if misplaced:
        raise ValueError(f"crop offsets {misplaced[:3]} are not valid {c['crop_align']}-aligned starts (last valid {last})")
    if not all(0 <= s <= len(val) - T - 1 for s in probe_starts):
        raise ValueError("a probe offset lies outside the validation split")
    K = c["eval_windows"]
    window_starts = np.array([0] if K == 1 else [k * (len(val) - T - 1) // (K - 1) for k in range(K)], np.int64)
    rep.check("output.window.starts", window_starts, t["output.window.starts"])
    for kind, stream, at in (("batch", train, starts), ("window", val, window_starts), ("probe", val, probe_starts)):
        x, y = layout_rows(stream, at, T, bos_token)
        rep.check(f"output.{kind}.tokens", x, t[f"output.{kind}.tokens"])
        rep.check(f"output.{kind}.targets", y, t[f"output.{kind}.targets"])
        if x.max() >= vocab or y.max() >= vocab:
            raise ValueError(f"{kind} tokens reach {max(x.max(), y.max())}, outside a vocabulary of {vocab}")


# ---------------------------------------------------------------------------------------------- training

def check_rows(tokens, targets, vocab, bos):
    """Every row's targets are its inputs shifted by one, all ids lie in the model's vocabulary (the rows
    of wte), and with BOS the last id sits at position 0 of every row and nowhere else."""
    tokens, targets = tokens.reshape(-1, tokens.shape[-1]), targets.reshape(-1, targets.shape[-1])
    if not np.array_equal(tokens[:, 1:], targets[:, :-1]):
        raise ValueError("a row's targets are not its inputs shifted by one")
    if max(tokens.max(), targets.max()) >= vocab:
        raise ValueError(f"token ids reach {max(tokens.max(), targets.max())}, outside the vocabulary of {vocab} rows of wte")
    if bos and not (np.all(tokens[:, 0] == vocab - 1) and np.all(tokens[:, 1:] < vocab - 1) and np.all(targets < vocab - 1)):
        raise ValueError(f"with bos, id {vocab - 1} must sit at position 0 of every row and nowhere else")


def parameter_role(name, shape):
    if name in ("wte", "wpe"):
        return "embedding"
    if ".beta_" in name:
        return "scalar"
    return "matrix" if len(shape) == 2 else "vector"


def loss_of(cfg, params, tokens, targets, with_taps=False):
    p = {n: ad.Var(v) for n, v in params.items()}
    logits, taps, entropies = model.gpt_forward(cfg, p, tokens.astype(np.int64))
    losses, _ = model.cross_entropy(logits, targets.reshape(-1).astype(np.int64))
    loss = ad.mean(ad.reshape(losses, (1, -1)), 1)
    return loss, p, taps, entropies


def replay_training(header, t, rep):
    c = header["config"]
    resolved = c["resolved"]
    cfg = model.Config(resolved["model"])
    h = {n.split(".", 2)[2]: float(v) for n, v in t.items() if n.startswith("input.hparam.")}
    params = {n[len("input.param."):]: v.astype(np.float64) for n, v in t.items() if n.startswith("input.param.")}
    roles = {n: parameter_role(n, v.shape) for n, v in params.items()}
    opt = optimizers.make(resolved["optimizer"], h, roles, {n: v.shape for n, v in params.items()}, resolved["optimizer_constants"])
    tokens, targets, lrs = t["input.batch.tokens"], t["input.batch.targets"], t["input.step_lr"]
    vocab = params["wte"].shape[0]
    check_rows(tokens, targets, vocab, c.get("bos", False))
    check_rows(t["input.probe.tokens"], t["input.probe.targets"], vocab, c.get("bos", False))
    steps = len(lrs)
    log_steps = list(t["output.log_step"])
    losses, probe_losses, grad_norms = [], [], []

    def probe(final):
        loss, _, taps, entropies = loss_of(cfg, params, t["input.probe.tokens"], t["input.probe.targets"])
        probe_losses.append(loss.value.item())
        if final:
            n = t["input.probe.tokens"].size
            per_tap = [metrics.tap_metrics(x.value.reshape(n, -1)) for x in taps]
            for key in per_tap[0]:
                if "output.tap." + key in t:
                    rep.check("output.tap." + key, [m[key] for m in per_tap], t["output.tap." + key])
            rep.check("output.attention_entropy", [metrics.attention_entropy(e) for e in entropies], t["output.attention_entropy"])

    if 0 in log_steps:
        probe(False)
    for step in range(steps):
        loss, p, _, _ = loss_of(cfg, params, tokens[step], targets[step])
        losses.append(loss.value.item())
        loss.backward(np.ones((1, 1)))
        grads = {n: p[n].grad for n in params}
        norm = np.sqrt(sum(np.sum(g * g) for g in grads.values()))
        if h["grad_clip"] > 0 and norm > h["grad_clip"]:
            grads = {n: g * (h["grad_clip"] / norm) for n, g in grads.items()}
        opt.step(params, grads, float(lrs[step]))
        if step + 1 in log_steps:
            grad_norms.append(norm)
            probe(step + 1 == log_steps[-1])
    rep.check("output.train_loss", losses, t["output.train_loss"])
    rep.check("output.probe_loss", probe_losses, t["output.probe_loss"])
    rep.check("output.grad_norm", grad_norms, t["output.grad_norm"])
    rep.check("output.log_step", np.array(log_steps), t["output.log_step"])
    for n, v in params.items():
        rep.check("output.param_sum." + n, np.sum(v), t["output.param_sum." + n])
        rep.check("output.param_sumsq." + n, np.sum(v * v), t["output.param_sumsq." + n])
        flat = v.ravel()
        k = len(t["output.param_sample." + n])
        rep.check("output.param_sample." + n, flat[[i * flat.size // k for i in range(k)]], t["output.param_sample." + n])
        if "output.param." + n in t:
            rep.check("output.param." + n, v, t["output.param." + n])


# ---------------------------------------------------------------------------------------------------- main

REPLAYS = {"kernel": replay_kernel, "tap_metrics": replay_metrics, "attention_entropy": replay_metrics,
           "kurtosis_update": replay_metrics, "optimizer_trajectory": replay_trajectory,
           "training_run": replay_training, "quantisation": quant.replay, "quantiser": quant.replay_quantiser,
           "data_batches": replay_data}


def replay_file(path):
    header, t = read_golden(path)
    rep = Report(path, header)
    REPLAYS[header["kind"]](header, t, rep)
    outputs = {n for n in t if not n.startswith("input.") and n not in ("tokens", "targets")}
    unchecked = sorted(outputs - rep.checked)
    return header, rep, unchecked


def main(argv):
    args = argv[1:] or [os.path.join(os.path.dirname(HERE))]
    files = []
    for a in args:
        files += sorted(glob.glob(os.path.join(a, "*", "*.golden.gz"))) if os.path.isdir(a) else [a]
    if not files:
        print(f"replay: no goldens under {' '.join(args)}")
        return 2
    failed = 0
    for path in files:
        name = os.path.relpath(path, os.path.dirname(os.path.dirname(path))).replace(".golden.gz", "")
        try:
            header, rep, unchecked = replay_file(path)
        except Exception as error:  # a golden the replay cannot follow is a failure, never a skip
            print(f"{name:48s} FAIL  {type(error).__name__}: {error}")
            failed += 1
            continue
        ok = rep.worst <= 1 and not unchecked
        failed += not ok
        shown = np.floor(rep.worst * 1e4) / 1e4 if 0.999 < rep.worst < 1 else rep.worst  # literal: display only, never print 1 for < 1
        detail = f"worst {shown:.4g} of budget ({rep.where})"
        if unchecked:
            detail += f"; not recomputed: {', '.join(unchecked[:3])}{' …' if len(unchecked) > 3 else ''}"
        print(f"{name:48s} {'OK  ' if ok else 'FAIL'}  {len(rep.checked):4d} tensors  {detail}")
    print(f"replay: {len(files) - failed} of {len(files)} goldens replayed within their tolerances")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

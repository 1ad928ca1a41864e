"""A minimal reverse-mode autodiff over NumPy arrays (float64), enough for the model's kernels.

Each `Var` holds a value and, after `backward`, its gradient. Operations broadcast like NumPy; the
gradient of a broadcast operand is summed back to its shape. This is the replay's own differentiation:
kernel gradients are never copied from the Swift backward formulas.
"""
import numpy as np


class Var:
    def __init__(self, value, parents=(), grad_fns=()):
        self.value = np.asarray(value, dtype=np.float64)
        self.parents = parents        # Vars this one was computed from
        self.grad_fns = grad_fns      # for each parent: upstream gradient -> gradient w.r.t. that parent
        self.grad = None

    shape = property(lambda self: self.value.shape)

    def __add__(self, other): return add(self, other)
    __radd__ = __add__
    def __sub__(self, other): return add(self, neg(lift(other)))
    def __rsub__(self, other): return add(lift(other), neg(self))
    def __mul__(self, other): return mul(self, other)
    __rmul__ = __mul__
    def __truediv__(self, other): return mul(self, reciprocal(lift(other)))
    def __neg__(self): return neg(self)

    def backward(self, seed):
        """Accumulates d(Σ seed·self)/d(v) into v.grad for every Var v this one depends on."""
        order, seen = [], set()

        def visit(v):
            if id(v) in seen:
                return
            seen.add(id(v))
            for p in v.parents:
                visit(p)
            order.append(v)

        visit(self)
        grads = {id(self): np.asarray(seed, dtype=np.float64)}
        for v in reversed(order):
            g = grads.pop(id(v), None)
            if g is None:
                continue
            v.grad = g if v.grad is None else v.grad + g
            for p, fn in zip(v.parents, v.grad_fns):
                pg = unbroadcast(fn(g), p.shape)
                grads[id(p)] = pg if id(p) not in grads else grads[id(p)] + pg


def lift(x):
    return x if isinstance(x, Var) else Var(x)


def unbroadcast(g, shape):
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    return g


def add(a, b):
    a, b = lift(a), lift(b)
    return Var(a.value + b.value, (a, b), (lambda g: g, lambda g: g))


def neg(a):
    return Var(-a.value, (a,), (lambda g: -g,))


def mul(a, b):
    a, b = lift(a), lift(b)
    return Var(a.value * b.value, (a, b), (lambda g: g * b.value, lambda g: g * a.value))


def reciprocal(a):
    r = 1.0 / a.value
    return Var(r, (a,), (lambda g: -g * r * r,))


def sqrt(a):
    s = np.sqrt(a.value)
    return Var(s, (a,), (lambda g: g * 0.5 / np.where(s > 0, s, np.inf),))


def exp(a):
    e = np.exp(a.value)
    return Var(e, (a,), (lambda g: g * e,))


def log(a):
    return Var(np.log(a.value), (a,), (lambda g: g / a.value,))


def tanh(a):
    t = np.tanh(a.value)
    return Var(t, (a,), (lambda g: g * (1 - t * t),))


def relu(a):
    """max(x, 0), derivative 0 at 0."""
    mask = a.value > 0
    return Var(np.where(mask, a.value, 0.0), (a,), (lambda g: g * mask,))


def clip01(a):
    """min(max(a, 0), 1); the gradient passes where 0 ≤ a ≤ 1 (at a kink: from inside), else 0."""
    inside = (a.value >= 0) & (a.value <= 1)
    return Var(np.clip(a.value, 0, 1), (a,), (lambda g: g * inside,))


def sigmoid(a):
    s = 1 / (1 + np.exp(-a.value))
    return Var(s, (a,), (lambda g: g * s * (1 - s),))


def sum_(a, axis, keepdims=True):
    shape = a.shape
    return Var(a.value.sum(axis=axis, keepdims=keepdims), (a,),
               (lambda g: np.broadcast_to(g if keepdims else np.expand_dims(g, axis), shape),))


def mean(a, axis):
    return sum_(a, axis) * (1.0 / a.shape[axis])


def matmul(a, b):
    """a @ b over the last two axes (leading axes broadcast)."""
    a, b = lift(a), lift(b)
    return Var(a.value @ b.value, (a, b),
               (lambda g: g @ np.swapaxes(b.value, -1, -2), lambda g: np.swapaxes(a.value, -1, -2) @ g))


def transpose(a, axes):
    inverse = np.argsort(axes)
    return Var(np.transpose(a.value, axes), (a,), (lambda g: np.transpose(g, inverse),))


def reshape(a, shape):
    old = a.shape
    return Var(a.value.reshape(shape), (a,), (lambda g: g.reshape(old),))


def take(a, index, axis):
    """a[..., index, ...] along `axis` (index an integer array), as an embedding lookup."""
    def grad(g):
        out = np.zeros(a.shape)
        np.add.at(out, (slice(None),) * axis + (index,), g)
        return out
    return Var(np.take(a.value, index, axis=axis), (a,), (grad,))


def slice_(a, key):
    def grad(g):
        out = np.zeros(a.shape)
        out[key] = g
        return out
    return Var(a.value[key], (a,), (grad,))


def concat(parts, axis):
    sizes = np.cumsum([0] + [p.shape[axis] for p in parts])
    fns = tuple((lambda lo, hi: lambda g: np.take(g, np.arange(lo, hi), axis=axis))(sizes[i], sizes[i + 1])
                for i in range(len(parts)))
    return Var(np.concatenate([p.value for p in parts], axis=axis), tuple(parts), fns)


def where(mask, a, constant):
    """a where mask, else the constant (no gradient to the constant)."""
    return Var(np.where(mask, a.value, constant), (a,), (lambda g: g * mask,))


def constant(x):
    """The value of x with no gradient path (e.g. the max subtracted before a softmax)."""
    return Var(x.value if isinstance(x, Var) else x)

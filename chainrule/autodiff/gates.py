"""The gate table: every elementary operation, its forward value and its local gradient.

A gate is two plain functions that sit next to each other, as on the slides:

* ``forward(xp, *arrays, **params) -> (out, saved)`` computes the gate's output and
  returns what its backward needs (the intermediate values the notes say to keep);
* ``vjp(xp, g, saved, needs) -> tuple`` receives the *upstream* gradient ``g`` (same
  shape as ``out``) and returns one *downstream* gradient per input: upstream times
  local gradient (a vector-Jacobian product).  ``needs[i]`` is False when input ``i``
  requires no gradient, and the gate then returns ``None`` for it and skips the work.

A vjp may return a gradient with the *broadcast* shape of the output; the engine sums
it back to the input's shape in one place (``backward.unbroadcast``), so no gate deals
with broadcasting.  ``xp`` is the array module of the inputs (NumPy today; any module
with NumPy's API, such as CuPy, tomorrow), and gates reach array functions only
through it.

Gates are registered in :data:`GATES` by name.  A gate registered without a vjp can run
forward, but backpropagating through it raises :class:`NoGradientError` naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

Forward = Callable[..., tuple[Any, Any]]
VJP = Callable[[Any, Any, Any, tuple[bool, ...]], tuple[Any, ...]]


class NoGradientError(RuntimeError):
    """Backpropagation reached a gate that defines no local gradient."""


class Gate:
    """One elementary operation: its name, forward, vjp and the notes' gradient pattern.

    ``forward_into``, when an elementwise gate has one, is a forward that writes its
    output over its (only) input array and saves the same values as ``forward``: a
    fused gate uses it on a temporary it made itself, saving an allocation.

    ``vjp_into``, when a gate has one, is its vjp allowed to write the first input's
    gradient over the upstream gradient g, with the same values as ``vjp``: for a
    caller that owns g (nothing else refers to it), saving an allocation.
    """

    __slots__ = ("forward", "forward_into", "name", "pattern", "vjp", "vjp_into")

    def __init__(
        self,
        name: str,
        forward: Forward,
        vjp: VJP | None = None,
        pattern: str | None = None,
        forward_into: Forward | None = None,
        vjp_into: VJP | None = None,
    ) -> None:
        self.name = name
        self.forward = forward
        self.vjp = vjp if vjp is not None else _missing_vjp(name)
        self.pattern = pattern
        self.forward_into = forward_into
        self.vjp_into = vjp_into

    def __repr__(self) -> str:
        return f"Gate({self.name!r})"

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        """A gate pickles as its name in the table (scikit-learn and joblib copy fitted
        estimators by pickling, and networks cache their gates): unpickling looks it
        up again, as fused gates' functions could not be pickled themselves."""
        return (registered_gate, (self.name,))


def _missing_vjp(name: str) -> VJP:
    def vjp(xp, g, saved, needs):
        raise NoGradientError(f"gate '{name}' has no local gradient (vjp) defined")

    return vjp


GATES: dict[str, Gate] = {}


def registered_gate(name: str) -> Gate:
    """The gate registered under ``name``."""
    try:
        return GATES[name]
    except KeyError:
        raise KeyError(f"no gate named '{name}' is registered") from None


def register_gate(
    name: str,
    forward: Forward,
    vjp: VJP | None = None,
    pattern: str | None = None,
    forward_into: Forward | None = None,
    vjp_into: VJP | None = None,
) -> Gate:
    """Add a gate to the table (``vjp=None`` makes a forward-only gate) and return it."""
    if name in GATES:
        raise ValueError(f"a gate named '{name}' is already registered")
    gate = Gate(name, forward, vjp, pattern, forward_into, vjp_into)
    GATES[name] = gate
    return gate


# --------------------------------------------------------------------------------------
# Arithmetic.  The patterns are the notes' "patterns in gradient flow".
# --------------------------------------------------------------------------------------


def _add(xp, a, b):
    """f = a + b."""
    return a + b, None


def _add_vjp(xp, g, saved, needs):
    """df/da = df/db = 1: the add gate distributes the upstream gradient unchanged."""
    return g, g


ADD = register_gate("add", _add, _add_vjp, pattern="add distributes")


def _sub(xp, a, b):
    """f = a - b."""
    return a - b, None


def _sub_vjp(xp, g, saved, needs):
    """df/da = 1, df/db = -1."""
    return g, (-g if needs[1] else None)


SUB = register_gate("sub", _sub, _sub_vjp)


def _neg(xp, a):
    """f = -a."""
    return -a, None


def _neg_vjp(xp, g, saved, needs):
    """df/da = -1."""
    return (-g,)


NEG = register_gate("neg", _neg, _neg_vjp)


def _mul(xp, a, b):
    """f = a b."""
    return a * b, (a, b)


def _mul_vjp(xp, g, saved, needs):
    """df/da = b, df/db = a: the mul gate swaps its inputs ("swap multiplier")."""
    a, b = saved
    return (g * b if needs[0] else None), (g * a if needs[1] else None)


MUL = register_gate("mul", _mul, _mul_vjp, pattern="mul swaps")


def _div(xp, a, b):
    """f = a / b."""
    return a / b, (a, b)


def _div_vjp(xp, g, saved, needs):
    """df/da = 1/b, df/db = -a/b^2."""
    a, b = saved
    ga = g / b if needs[0] else None
    gb = -g * a / (b * b) if needs[1] else None
    return ga, gb


DIV = register_gate("div", _div, _div_vjp)


def _pow_const(xp, a, exponent):
    """f = a^p for a constant p."""
    out = a * a if exponent == 2 else a**exponent
    return out, (a, exponent)


def _pow_const_vjp(xp, g, saved, needs):
    """df/da = p a^(p-1)."""
    a, p = saved
    if p == 2:
        return (g * (2 * a),)
    return (g * (p * a ** (p - 1)),)


POW_CONST = register_gate("pow_const", _pow_const, _pow_const_vjp)


def _pow(xp, a, b):
    """f = a^b, both tensors."""
    out = a**b
    return out, (a, b, out)


def _pow_vjp(xp, g, saved, needs):
    """df/da = b a^(b-1); df/db = a^b log(a), taken as 0 where a <= 0 (as PyTorch does)."""
    a, b, out = saved
    ga = g * (b * a ** (b - 1)) if needs[0] else None
    gb = None
    if needs[1]:
        positive = a > 0
        log_a = xp.log(xp.where(positive, a, 1))
        gb = g * xp.where(positive, out * log_a, 0)
    return ga, gb


POW = register_gate("pow", _pow, _pow_vjp)


# --------------------------------------------------------------------------------------
# Elementwise functions
# --------------------------------------------------------------------------------------


def _exp(xp, a):
    """f = e^a."""
    out = xp.exp(a)
    return out, out


def _exp_vjp(xp, g, out, needs):
    """df/da = e^a, the output itself."""
    return (g * out,)


EXP = register_gate("exp", _exp, _exp_vjp)


def _log(xp, a):
    """f = ln a."""
    return xp.log(a), a


def _log_vjp(xp, g, a, needs):
    """df/da = 1/a."""
    return (g / a,)


LOG = register_gate("log", _log, _log_vjp)


def _sqrt(xp, a):
    """f = sqrt(a)."""
    out = xp.sqrt(a)
    return out, out


def _sqrt_vjp(xp, g, out, needs):
    """df/da = 1 / (2 sqrt(a))."""
    return (g / (2 * out),)


SQRT = register_gate("sqrt", _sqrt, _sqrt_vjp)


def _abs(xp, a):
    """f = |a|."""
    return xp.abs(a), a


def _abs_vjp(xp, g, a, needs):
    """df/da = sign(a) (0 at a = 0)."""
    return (g * xp.sign(a),)


ABS = register_gate("abs", _abs, _abs_vjp)


def _maximum(xp, a, b):
    """f = max(a, b), elementwise."""
    return xp.maximum(a, b), (a, b)


def _route_between(xp, g, a_wins, needs):
    """The whole gradient to ``a`` where ``a_wins``, to ``b`` elsewhere."""
    zero = xp.zeros((), dtype=g.dtype)
    ga = xp.where(a_wins, g, zero) if needs[0] else None
    gb = xp.where(a_wins, zero, g) if needs[1] else None
    return ga, gb


def _maximum_vjp(xp, g, saved, needs):
    """The max gate routes: the whole gradient goes to the larger input; on a tie,
    to the first input ``a``."""
    a, b = saved
    return _route_between(xp, g, a >= b, needs)


MAXIMUM = register_gate("maximum", _maximum, _maximum_vjp, pattern="max routes")


def _minimum(xp, a, b):
    """f = min(a, b), elementwise."""
    return xp.minimum(a, b), (a, b)


def _minimum_vjp(xp, g, saved, needs):
    """Routes the gradient to the smaller input; on a tie, to the first input ``a``."""
    a, b = saved
    return _route_between(xp, g, a <= b, needs)


MINIMUM = register_gate("minimum", _minimum, _minimum_vjp, pattern="min routes")


def _clip(xp, a, low, high):
    """f = min(max(a, low), high) with constant bounds (either may be None)."""
    return xp.clip(a, low, high), (a, low, high)


def _clip_vjp(xp, g, saved, needs):
    """df/da = 1 inside [low, high], 0 outside."""
    a, low, high = saved
    inside = xp.ones(a.shape, dtype=bool)
    if low is not None:
        inside &= a >= low
    if high is not None:
        inside &= a <= high
    return (xp.where(inside, g, xp.zeros((), dtype=g.dtype)),)


CLIP = register_gate("clip", _clip, _clip_vjp)


def _where(xp, a, b, condition):
    """f = a where condition else b (condition is a constant boolean array)."""
    return xp.where(condition, a, b), condition


def _where_vjp(xp, g, condition, needs):
    """The gradient is routed to ``a`` where the condition holds, to ``b`` elsewhere."""
    return _route_between(xp, g, condition, needs)


WHERE = register_gate("where", _where, _where_vjp)


def _astype(xp, a, dtype):
    """f = a converted to another floating dtype."""
    return a.astype(dtype), a.dtype


def _astype_vjp(xp, g, source_dtype, needs):
    """The gradient is converted back to the input's dtype."""
    return (g.astype(source_dtype),)


ASTYPE = register_gate("astype", _astype, _astype_vjp)


# --------------------------------------------------------------------------------------
# Activations
# --------------------------------------------------------------------------------------


def _sigmoid(xp, a):
    """s = 1 / (1 + e^-a), computed as e^-|a| based fractions so that no exp overflows."""
    e = xp.exp(-xp.abs(a))
    one = e.dtype.type(1)
    out = xp.where(a >= 0, one / (one + e), e / (one + e))
    return out, out


def _sigmoid_vjp(xp, g, s, needs):
    """ds/da = (1 - s) s, the notes' local gradient of the sigmoid gate."""
    return (g * ((1 - s) * s),)


def _sigmoid_vjp_into(xp, g, s, needs):
    """The same, written over g."""
    g *= (1 - s) * s
    return (g,)


SIGMOID = register_gate("sigmoid", _sigmoid, _sigmoid_vjp, vjp_into=_sigmoid_vjp_into)


def _tanh(xp, a):
    """t = tanh(a)."""
    out = xp.tanh(a)
    return out, out


def _tanh_into(xp, a):
    """t = tanh(a), written over a."""
    xp.tanh(a, out=a)
    return a, a


def _tanh_vjp(xp, g, t, needs):
    """dt/da = 1 - t^2, applied as g - g t t (no constant to convert)."""
    g_t_t = g * t
    g_t_t *= t
    return (g - g_t_t,)


def _tanh_vjp_into(xp, g, t, needs):
    """The same, written over g."""
    g_t_t = g * t
    g_t_t *= t
    g -= g_t_t
    return (g,)


TANH = register_gate("tanh", _tanh, _tanh_vjp, forward_into=_tanh_into, vjp_into=_tanh_vjp_into)


def _relu(xp, a):
    """f = max(a, 0)."""
    out = xp.maximum(a, 0)
    return out, out


def _relu_into(xp, a):
    """f = max(a, 0), written over a."""
    xp.maximum(a, 0, out=a)
    return a, a


def _relu_vjp(xp, g, out, needs):
    """df/da = 1 where a > 0, else 0 (the max gate routing against the constant 0)."""
    return (g * (out > 0),)


def _relu_vjp_into(xp, g, out, needs):
    """The same, written over g."""
    xp.multiply(g, out > 0, out=g)
    return (g,)


RELU = register_gate(
    "relu",
    _relu,
    _relu_vjp,
    pattern="max routes",
    forward_into=_relu_into,
    vjp_into=_relu_vjp_into,
)


def _leaky_relu(xp, a, slope):
    """f = a for a > 0, slope a otherwise."""
    return xp.where(a > 0, a, a * slope), (a, slope)


def _leaky_relu_vjp(xp, g, saved, needs):
    """df/da = 1 for a > 0, slope otherwise."""
    a, slope = saved
    return (xp.where(a > 0, g, g * slope),)


LEAKY_RELU = register_gate("leaky_relu", _leaky_relu, _leaky_relu_vjp)


def _elu(xp, a, alpha):
    """f = a for a > 0, alpha (e^a - 1) otherwise (the exp sees only a <= 0)."""
    negative_part = alpha * xp.expm1(xp.minimum(a, 0))
    out = xp.where(a > 0, a, negative_part)
    return out, (a, out, alpha)


def _elu_vjp(xp, g, saved, needs):
    """df/da = 1 for a > 0, f + alpha = alpha e^a otherwise."""
    a, out, alpha = saved
    return (xp.where(a > 0, g, g * (out + alpha)),)


ELU = register_gate("elu", _elu, _elu_vjp)


def _softplus(xp, a):
    """f = ln(1 + e^a) = max(a, 0) + ln(1 + e^-|a|), finite for any a."""
    return xp.maximum(a, 0) + xp.log1p(xp.exp(-xp.abs(a))), a


def _softplus_vjp(xp, g, a, needs):
    """df/da = sigmoid(a)."""
    s, _ = _sigmoid(xp, a)
    return (g * s,)


SOFTPLUS = register_gate("softplus", _softplus, _softplus_vjp)

_GELU_C = 0.7978845608028654  # sqrt(2 / pi)


def _gelu(xp, a):
    """f = a/2 (1 + tanh(c (a + 0.044715 a^3))), c = sqrt(2/pi): the tanh form of GELU."""
    inner = _GELU_C * (a + 0.044715 * a * a * a)
    t = xp.tanh(inner)
    return 0.5 * a * (1 + t), (a, t)


def _gelu_vjp(xp, g, saved, needs):
    """df/da = (1 + t)/2 + a/2 (1 - t^2) c (1 + 3 * 0.044715 a^2)."""
    a, t = saved
    local = 0.5 * (1 + t) + 0.5 * a * (1 - t * t) * _GELU_C * (1 + 0.134145 * a * a)
    return (g * local,)


GELU = register_gate("gelu", _gelu, _gelu_vjp)


# --------------------------------------------------------------------------------------
# Softmax family: fused for stability (the max is subtracted before exp) and speed.
# --------------------------------------------------------------------------------------


def _softmax(xp, a, axis):
    """s_i = e^(a_i - m) / sum_k e^(a_k - m), m = max_k a_k (the notes' f_i, shifted)."""
    shifted = a - a.max(axis=axis, keepdims=True)
    e = xp.exp(shifted)
    out = e / e.sum(axis=axis, keepdims=True)
    return out, (out, axis)


def _softmax_vjp(xp, g, saved, needs):
    """ds_i/da_j = s_i (delta_ij - s_j), so the vjp is s (g - sum_k g_k s_k)."""
    s, axis = saved
    return (s * (g - (g * s).sum(axis=axis, keepdims=True)),)


SOFTMAX = register_gate("softmax", _softmax, _softmax_vjp)


def _log_softmax(xp, a, axis):
    """log s_i = a_i - m - ln sum_k e^(a_k - m)."""
    shifted = a - a.max(axis=axis, keepdims=True)
    out = shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
    return out, (out, axis)


def _log_softmax_vjp(xp, g, saved, needs):
    """d log s_i / da_j = delta_ij - s_j, so the vjp is g - s sum_k g_k."""
    out, axis = saved
    return (g - xp.exp(out) * g.sum(axis=axis, keepdims=True),)


LOG_SOFTMAX = register_gate("log_softmax", _log_softmax, _log_softmax_vjp)


def _logsumexp(xp, a, axis, keepdims):
    """f = m + ln sum e^(a - m), m the max (taken as 0 where it is infinite)."""
    m = a.max(axis=axis, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0)
    out = m + xp.log(xp.exp(a - m).sum(axis=axis, keepdims=True))
    value = out if keepdims else _squeeze(out, axis, a.ndim)
    return value, (a, out, axis, keepdims)


def _logsumexp_vjp(xp, g, saved, needs):
    """df/da_i = e^(a_i - f) = softmax(a)_i."""
    a, out, axis, keepdims = saved
    if not keepdims:
        g = _expand(xp, g, axis, a.ndim)
    return (g * xp.exp(a - out),)


LOGSUMEXP = register_gate("logsumexp", _logsumexp, _logsumexp_vjp)


# --------------------------------------------------------------------------------------
# Reductions
# --------------------------------------------------------------------------------------


def _normalize_axes(axis, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(sorted(ax % ndim if ndim else ax for ax in axes))


def _squeeze(x, axis, ndim):
    """Drop the reduced axes of a keepdims=True result."""
    return x.reshape([n for i, n in enumerate(x.shape) if i not in _normalize_axes(axis, ndim)])


def _expand(xp, g, axis, ndim):
    """Put back, as length-1 axes, the axes a keepdims=False reduction removed."""
    return xp.expand_dims(g, _normalize_axes(axis, ndim))


def _sum(xp, a, axis, keepdims):
    """f = sum of a over axis."""
    return a.sum(axis=axis, keepdims=keepdims), (a.shape, axis, keepdims)


def _spread(xp, g, shape):
    """An array of ``shape`` filled by broadcasting g (a writeable copy: faster than
    NumPy's broadcast_to wrapper on small arrays)."""
    out = xp.empty(shape, dtype=g.dtype)
    out[...] = g
    return out


def _sum_vjp(xp, g, saved, needs):
    """df/da_i = 1: the upstream gradient is copied to every summed element."""
    shape, axis, keepdims = saved
    if not keepdims and axis is not None:
        g = _expand(xp, g, axis, len(shape))
    return (_spread(xp, g, shape),)


SUM = register_gate("sum", _sum, _sum_vjp, pattern="add distributes")


def _mean(xp, a, axis, keepdims):
    """f = (1/n) sum of a over axis, n the number of elements reduced."""
    out = a.mean(axis=axis, keepdims=keepdims)
    count = a.size // max(out.size, 1) if a.size else 0
    return out, (a.shape, axis, keepdims, count)


def _mean_vjp(xp, g, saved, needs):
    """df/da_i = 1/n."""
    shape, axis, keepdims, count = saved
    if not keepdims and axis is not None:
        g = _expand(xp, g, axis, len(shape))
    return (_spread(xp, g / count, shape),)


MEAN = register_gate("mean", _mean, _mean_vjp)


def _first_extreme_mask(xp, a, axis, pick):
    """Boolean mask with True at the first position of the max (pick=argmax) or min of
    ``a`` over ``axis``: the gradient router's choice among ties."""
    axes = _normalize_axes(axis, a.ndim)
    kept = [i for i in range(a.ndim) if i not in axes]
    moved = xp.transpose(a, kept + list(axes))
    flat = moved.reshape([a.shape[i] for i in kept] + [-1])
    winner = pick(flat, axis=-1)
    mask = xp.zeros(flat.shape, dtype=bool)
    xp.put_along_axis(mask, winner[..., None], True, axis=-1)
    mask = mask.reshape(moved.shape)
    return xp.transpose(mask, xp.argsort(xp.asarray(kept + list(axes))))


def _max(xp, a, axis, keepdims):
    """f = max of a over axis."""
    return a.max(axis=axis, keepdims=keepdims), (a, axis, keepdims)


def _route_to_first(xp, g, saved, pick):
    """The whole upstream gradient goes to the first element ``pick`` (argmax or argmin)
    chooses along the reduced axes; every other element gets 0."""
    a, axis, keepdims = saved
    if not keepdims:
        g = _expand(xp, g, axis, a.ndim)
    mask = _first_extreme_mask(xp, a, axis, pick)
    return (xp.where(mask, g, xp.zeros((), dtype=g.dtype)),)


def _max_vjp(xp, g, saved, needs):
    """The max gate routes the whole gradient to the first maximal element."""
    return _route_to_first(xp, g, saved, xp.argmax)


MAX = register_gate("max", _max, _max_vjp, pattern="max routes")


def _min(xp, a, axis, keepdims):
    """f = min of a over axis."""
    return a.min(axis=axis, keepdims=keepdims), (a, axis, keepdims)


def _min_vjp(xp, g, saved, needs):
    """Routes the whole gradient to the first minimal element."""
    return _route_to_first(xp, g, saved, xp.argmin)


MIN = register_gate("min", _min, _min_vjp, pattern="min routes")


# --------------------------------------------------------------------------------------
# Linear algebra
# --------------------------------------------------------------------------------------


def _matmul(xp, a, b):
    """f = a @ b (1-D, 2-D or batched, NumPy's rules)."""
    return a @ b, (a, b)


def _matmul_vjp(xp, g, saved, needs):
    """df/da = g @ b^T, df/db = a^T @ g; 1-D operands are promoted to matrices first,
    batch axes are summed back by the engine's unbroadcast."""
    a, b = saved
    if a.ndim == 2 and b.ndim == 2:
        return (g @ b.T if needs[0] else None), (a.T @ g if needs[1] else None)
    if a.ndim == 1 and b.ndim == 1:  # inner product: the mul gate's swap, summed
        return (g * b if needs[0] else None), (g * a if needs[1] else None)
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    g2 = g
    if a.ndim == 1:
        g2 = xp.expand_dims(g2, -2)
    if b.ndim == 1:
        g2 = xp.expand_dims(g2, -1)
    ga = gb = None
    if needs[0]:
        ga = g2 @ xp.swapaxes(b2, -1, -2)
        if a.ndim == 1:
            ga = ga.reshape(ga.shape[:-2] + ga.shape[-1:])
    if needs[1]:
        gb = xp.swapaxes(a2, -1, -2) @ g2
        if b.ndim == 1:
            gb = gb.reshape(gb.shape[:-1])
    return ga, gb


MATMUL = register_gate("matmul", _matmul, _matmul_vjp)


# A weight gradient x^T g with at least this many numbers is computed ``x.T @ g``, a
# smaller one ``x.T.dot(g)``.  Both give the same product; ``ndarray.dot`` skips
# matmul's generalised-ufunc set-up (about a microsecond: much of a small step), but
# with a transposed first operand it zeroes its output before BLAS writes it, a pass
# through memory that costs more from about this size on (~50 us for 784 x 256).
_DOT_LIMIT = 8192


def _linear(xp, x, weight, bias):
    """f = x @ U + b: a layer's affine map fused in one gate (x is (..., in), U (in, out)).

    Products with a matrix U are written ``x.dot(U)``: the same as ``x @ U`` for a 2-D
    U, without matmul's generalised-ufunc set-up (half the cost on a small batch)."""
    out = x.dot(weight)
    out += bias
    return out, (x, weight)


def _linear_vjp(xp, g, saved, needs):
    """df/dx = g @ U^T, df/dU = x^T @ g, df/db = sum of g over the batch."""
    x, weight = saved
    g2 = g.reshape(-1, g.shape[-1]) if g.ndim != 2 else g
    gx = g.dot(weight.T) if needs[0] else None
    gw = None
    if needs[1]:
        x2 = x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x
        gw = x2.T.dot(g2) if weight.size < _DOT_LIMIT else x2.T @ g2
    gb = None
    if needs[2]:  # a sum over one row is that row: no reduction for a batch of one
        gb = g2[0] if len(g2) == 1 else g2.sum(axis=0)
    return gx, gw, gb


LINEAR = register_gate("linear", _linear, _linear_vjp)


def _fuse_with_linear(activation: Gate) -> Gate:
    """The gate "linear_<activation>": f = act(x @ U + b), a layer and the elementwise
    activation after it in one gate, registered as such in the table.

    The activation's own forward and vjp are used, so the values and gradients are
    exactly those of the two gates in a row, with one graph node instead of two and,
    where the activation can write over its input, one array fewer.  Options of the
    activation (leaky_relu's ``slope``, elu's ``alpha``) pass through."""

    def forward(xp, x, weight, bias, **options):
        z = x.dot(weight)
        z += bias
        into = activation.forward_into
        if into is not None and z.base is None:  # z is ours: overwrite it
            out, act_saved = into(xp, z, **options)
        else:
            out, act_saved = activation.forward(xp, z, **options)
        return out, (x, weight, act_saved)

    def vjp(xp, g, saved, needs):
        """The chain rule through the two: upstream -> activation's vjp -> linear's."""
        x, weight, act_saved = saved
        (gz,) = activation.vjp(xp, g, act_saved, (True,))
        return _linear_vjp(xp, gz, (x, weight), needs)

    def vjp_into(xp, g, saved, needs):
        """The same, with the activation's gradient written over g."""
        x, weight, act_saved = saved
        (gz,) = activation.vjp_into(xp, g, act_saved, (True,))
        return _linear_vjp(xp, gz, (x, weight), needs)

    into = vjp_into if activation.vjp_into is not None else None
    return register_gate(f"linear_{activation.name}", forward, vjp, vjp_into=into)


# The activations a Linear layer fuses with, by name.
LINEAR_THEN = {
    gate.name: _fuse_with_linear(gate)
    for gate in (RELU, TANH, SIGMOID, LEAKY_RELU, ELU, SOFTPLUS, GELU)
}


# --------------------------------------------------------------------------------------
# Shape and indexing
# --------------------------------------------------------------------------------------


def _reshape(xp, a, shape):
    """f = a with a new shape, same elements in the same order."""
    return a.reshape(shape), a.shape


def _reshape_vjp(xp, g, shape, needs):
    """The gradient is reshaped back."""
    return (g.reshape(shape),)


RESHAPE = register_gate("reshape", _reshape, _reshape_vjp)


def _transpose(xp, a, axes):
    """f = a with its axes permuted (reversed when axes is None)."""
    return xp.transpose(a, axes), axes


def _transpose_vjp(xp, g, axes, needs):
    """The gradient is permuted back by the inverse permutation."""
    if axes is None:
        return (xp.transpose(g),)
    return (xp.transpose(g, xp.argsort(xp.asarray(axes))),)


TRANSPOSE = register_gate("transpose", _transpose, _transpose_vjp)


def _is_basic_index(index) -> bool:
    """True for slices, integers, Ellipsis and None: indexing that never repeats an element."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, slice)) for p in parts)


def _getitem(xp, a, index):
    """f = a[index]."""
    return a[index], (a.shape, index)


def _getitem_vjp(xp, g, saved, needs):
    """The gradient lands where the elements came from; repeated indices accumulate."""
    shape, index = saved
    grad = xp.zeros(shape, dtype=g.dtype)
    if _is_basic_index(index):
        grad[index] = g
    else:
        xp.add.at(grad, index, g)
    return (grad,)


GETITEM = register_gate("getitem", _getitem, _getitem_vjp)


def _concatenate(xp, *arrays, axis):
    """f = the arrays joined along an existing axis."""
    sizes = [a.shape[axis] for a in arrays]
    return xp.concatenate(arrays, axis=axis), (sizes, axis)


def _concatenate_vjp(xp, g, saved, needs):
    """Each input gets its own slice of the gradient."""
    sizes, axis = saved
    bounds = [sum(sizes[: i + 1]) for i in range(len(sizes) - 1)]
    return tuple(xp.split(g, bounds, axis=axis))


CONCATENATE = register_gate("concatenate", _concatenate, _concatenate_vjp)


def _stack(xp, *arrays, axis):
    """f = the arrays joined along a new axis."""
    return xp.stack(arrays, axis=axis), (len(arrays), axis)


def _stack_vjp(xp, g, saved, needs):
    """Each input gets its own slice of the gradient along the new axis."""
    count, axis = saved
    return tuple(xp.take(g, i, axis=axis) for i in range(count))


STACK = register_gate("stack", _stack, _stack_vjp)


# --------------------------------------------------------------------------------------
# Fused losses: one gate each, stable at any logit, and one node instead of five.
# ``weights`` holds each sample's share of the mean: an array of w_i / sum(w), or the
# number 1/N when every sample counts the same (no array to allocate per batch).
# --------------------------------------------------------------------------------------


@lru_cache(maxsize=32)
def _index_range(xp, n):
    """0, 1, ..., n-1 for indexing (never written to): one array per batch size, made once."""
    return xp.arange(n)


def _rows_times(xp, values, weights):
    """values (N, ...) scaled row by row by weights (N,), or all by one number."""
    if isinstance(weights, float):
        return values * weights
    return values * weights.reshape((-1,) + (1,) * (values.ndim - 1))


def _softmax_cross_entropy(xp, logits, target, weights):
    """CE = -sum_i w_i sum_k y_ik log softmax(z_i)_k, with y given as class indices
    (N,) or as probability rows (N, M).  With each row's max subtracted, s = z - max(z),

        log softmax(z)_k = s_k - log T,   T = sum_k e^(s_k)   (1 <= T <= M: no overflow,
                                                               and log T is finite)

    so for class indices t_i, CE = sum_i w_i (log T_i - s_i,t_i): two sums of
    non-negative terms, taken apart (no cancellation) and subtracted in double.
    Saves e^s and T, whose ratio is the softmax its vjp needs."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exps = xp.exp(shifted)
    total = exps.sum(axis=1, keepdims=True)
    if target.ndim == 1:  # log softmax at each row's class only: N numbers, not N x M
        log_total = xp.log(total)[:, 0]
        picked = shifted[_index_range(xp, len(target)), target]
        if isinstance(weights, float):
            loss = (float(log_total.sum()) - float(picked.sum())) * weights
        else:
            loss = float(((log_total - picked) * weights).sum())
        return xp.asarray(loss, dtype=logits.dtype), (exps, total, target, weights)
    loss = -(_rows_times(xp, (shifted - xp.log(total)) * target, weights)).sum()
    return loss, (exps, total, target, weights)


def _softmax_cross_entropy_vjp(xp, g, saved, needs):
    """dCE/dz_i = w_i (softmax(z_i) - y_i): the notes' (y_hat - y) / N when w_i = 1/N."""
    exps, total, target, weights = saved
    # g is the upstream gradient of a scalar: one number
    share = float(g) * weights if isinstance(weights, float) else (g * weights)[:, None]
    if target.ndim == 1:  # w_i e^s / T, dividing N numbers rather than N x M; then
        grad = exps * (share / total)  # w_i off each row's class
        picked = (_index_range(xp, len(target)), target)
        grad[picked] -= share if isinstance(weights, float) else share[:, 0]
        return (grad,)
    grad = exps / total
    grad = grad * target.sum(axis=1, keepdims=True) - target
    grad *= share
    return (grad,)


SOFTMAX_CROSS_ENTROPY = register_gate(
    "softmax_cross_entropy", _softmax_cross_entropy, _softmax_cross_entropy_vjp
)


def _sigmoid_binary_cross_entropy(xp, logits, target, weights):
    """BCE = -sum_i w_i sum_k [y log s(z) + (1 - y) log(1 - s(z))]
    = sum_i w_i sum_k [max(z, 0) - z y + log(1 + e^-|z|)], finite for any z."""
    per_element = xp.maximum(logits, 0) - logits * target + xp.log1p(xp.exp(-xp.abs(logits)))
    loss = _rows_times(xp, per_element, weights).sum()
    return loss, (logits, target, weights)


def _sigmoid_binary_cross_entropy_vjp(xp, g, saved, needs):
    """dBCE/dz = w_i (sigmoid(z) - y)."""
    logits, target, weights = saved
    s, _ = _sigmoid(xp, logits)
    return (_rows_times(xp, s - target, g * weights),)


SIGMOID_BINARY_CROSS_ENTROPY = register_gate(
    "sigmoid_binary_cross_entropy", _sigmoid_binary_cross_entropy, _sigmoid_binary_cross_entropy_vjp
)


def _squared_error(xp, prediction, target, weights, scale):
    """MSE = scale sum_i w_i ||y_hat_i - y_i||^2 (scale 1, or 1/2 for the 'half' form)."""
    error = prediction - target
    loss = scale * _rows_times(xp, error * error, weights).sum()
    return loss, (error, weights, scale)


def _squared_error_vjp(xp, g, saved, needs):
    """dMSE/dy_hat_i = 2 scale w_i (y_hat_i - y_i); the target gets the negative."""
    error, weights, scale = saved
    grad = _rows_times(xp, error, (2 * scale) * g * weights)
    return grad, (-grad if needs[1] else None)


SQUARED_ERROR = register_gate("squared_error", _squared_error, _squared_error_vjp)


def _sum_of_squares(xp, *arrays, scale=1.0):
    """f = scale x the sum over all the arrays of their squared elements (an L2 penalty
    with its coefficient), one BLAS dot product per array."""
    total = sum(xp.vdot(a, a) for a in arrays)
    return xp.asarray(scale * total, dtype=arrays[0].dtype), (arrays, scale)


def _sum_of_squares_vjp(xp, g, saved, needs):
    """df/da = 2 scale a for each array."""
    arrays, scale = saved
    factor = (2 * scale) * g
    return tuple(factor * a if need else None for a, need in zip(arrays, needs, strict=True))


SUM_OF_SQUARES = register_gate("sum_of_squares", _sum_of_squares, _sum_of_squares_vjp)

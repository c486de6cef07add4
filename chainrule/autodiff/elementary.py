"""The notes' elementary gates: arithmetic, elementwise functions, activations, the
softmax family, reductions, products and shape.  Each is a forward function and its
local gradient (vjp) side by side, registered in the gate table (:mod:`.gates`).

The notes' patterns in gradient flow are each gate's ``pattern``: the add gate
distributes, the mul gate swaps, the max gate routes; the copy gate (a value used twice)
is not a gate but the engine's sum of the gradients arriving at one value.
"""

from __future__ import annotations

from .gates import local, register_gate

# --------------------------------------------------------------------------------------
# Arithmetic.  The patterns are the notes' "patterns in gradient flow".
# --------------------------------------------------------------------------------------


def _add(xp, a, b):
    """f = a + b."""
    return a + b, None


def _add_vjp(xp, g, saved, needs):
    """df/da = df/db = 1: the add gate distributes the upstream gradient unchanged."""
    return g, g


ADD = register_gate(
    "add",
    _add,
    _add_vjp,
    pattern="add distributes",
    local_gradient=local("1", "1", inputs="x y"),
)


def _sub(xp, a, b):
    """f = a - b."""
    return a - b, None


def _sub_vjp(xp, g, saved, needs):
    """df/da = 1, df/db = -1."""
    return g, (-g if needs[1] else None)


SUB = register_gate("sub", _sub, _sub_vjp, local_gradient=local("1", "-1", inputs="x y"))


def _neg(xp, a):
    """f = -a."""
    return -a, None


def _neg_vjp(xp, g, saved, needs):
    """df/da = -1."""
    return (-g,)


NEG = register_gate("neg", _neg, _neg_vjp, local_gradient=local("-1"))


def _mul(xp, a, b):
    """f = a b."""
    return a * b, (a, b)


def _mul_vjp(xp, g, saved, needs):
    """df/da = b, df/db = a: the mul gate swaps its inputs ("swap multiplier")."""
    a, b = saved
    return (g * b if needs[0] else None), (g * a if needs[1] else None)


MUL = register_gate(
    "mul",
    _mul,
    _mul_vjp,
    pattern="mul swaps",
    local_gradient=local("{y}", "{x}", inputs="x y", words="the other input"),
)


def _div(xp, a, b):
    """f = a / b."""
    return a / b, (a, b)


def _div_vjp(xp, g, saved, needs):
    """df/da = 1/b, df/db = -a/b^2."""
    a, b = saved
    ga = g / b if needs[0] else None
    gb = -g * a / (b * b) if needs[1] else None
    return ga, gb


DIV = register_gate(
    "div", _div, _div_vjp, local_gradient=local("1/{y}", "-{x}/{y}^2", inputs="x y")
)


def _pow_const(xp, a, exponent):
    """f = a^p for a constant p."""
    out = a * a if exponent == 2 else a**exponent
    return out, (a, exponent)


def _pow_const_vjp(xp, g, saved, needs):
    """df/da = p a^(p-1); for p = 0 (f = 1) it is 0 everywhere, a = 0 included (where
    the formula would give 0 x 0^-1)."""
    a, p = saved
    if p == 2:
        return (g * (2 * a),)
    if p == 0:
        return (xp.zeros_like(g * a),)
    return (g * (p * a ** (p - 1)),)


POW_CONST = register_gate(
    "pow_const",
    _pow_const,
    _pow_const_vjp,
    local_gradient=local("{p} * {x}^({p} - 1)", inputs="x p"),
)


def _pow(xp, a, b):
    """f = a^b, both tensors."""
    out = a**b
    return out, (a, b, out)


def _pow_vjp(xp, g, saved, needs):
    """df/da = b a^(b-1); df/db = a^b log(a).  Where a <= 0, log(a) is not real and
    chainrule takes df/db as 0 (PyTorch gives NaN for a < 0): a negative base with a
    learned exponent then gets no gradient through the exponent, rather than a NaN that
    would spread to every parameter."""
    a, b, out = saved
    ga = g * (b * a ** (b - 1)) if needs[0] else None
    gb = None
    if needs[1]:
        positive = a > 0
        log_a = xp.log(xp.where(positive, a, 1))
        gb = g * xp.where(positive, out * log_a, 0)
    return ga, gb


POW = register_gate(
    "pow",
    _pow,
    _pow_vjp,
    local_gradient=local("{y} * {x}^({y} - 1)", "{x}^{y} * log({x})", inputs="x y"),
)


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


EXP = register_gate("exp", _exp, _exp_vjp, local_gradient=local("exp({x})"))


def _log(xp, a):
    """f = ln a."""
    return xp.log(a), a


def _log_vjp(xp, g, a, needs):
    """df/da = 1/a."""
    return (g / a,)


LOG = register_gate("log", _log, _log_vjp, local_gradient=local("1/{x}"))


def _sqrt(xp, a):
    """f = sqrt(a)."""
    out = xp.sqrt(a)
    return out, out


def _sqrt_vjp(xp, g, out, needs):
    """df/da = 1 / (2 sqrt(a))."""
    return (g / (2 * out),)


SQRT = register_gate("sqrt", _sqrt, _sqrt_vjp, local_gradient=local("1/(2 * sqrt({x}))"))


def _abs(xp, a):
    """f = |a|."""
    return xp.abs(a), a


def _abs_vjp(xp, g, a, needs):
    """df/da = sign(a) (0 at a = 0)."""
    return (g * xp.sign(a),)


ABS = register_gate(
    "abs",
    _abs,
    _abs_vjp,
    local_gradient=local("sign({x})", words="1 above 0, -1 below, 0 at 0"),
)


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


MAXIMUM = register_gate(
    "maximum",
    _maximum,
    _maximum_vjp,
    pattern="max routes",
    local_gradient=local(
        "1 if {x} >= {y} else 0",
        "1 if {y} > {x} else 0",
        inputs="x y",
        words="routes to the larger input (to the first on a tie)",
    ),
)


def _minimum(xp, a, b):
    """f = min(a, b), elementwise."""
    return xp.minimum(a, b), (a, b)


def _minimum_vjp(xp, g, saved, needs):
    """Routes the gradient to the smaller input; on a tie, to the first input ``a``."""
    a, b = saved
    return _route_between(xp, g, a <= b, needs)


MINIMUM = register_gate(
    "minimum",
    _minimum,
    _minimum_vjp,
    pattern="min routes",
    local_gradient=local(
        "1 if {x} <= {y} else 0",
        "1 if {y} < {x} else 0",
        inputs="x y",
        words="routes to the smaller input (to the first on a tie)",
    ),
)


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


CLIP = register_gate(
    "clip", _clip, _clip_vjp, local_gradient=local("1 if low <= {x} <= high else 0")
)


def _where(xp, a, b, condition):
    """f = a where condition else b (condition is a constant boolean array)."""
    return xp.where(condition, a, b), condition


def _where_vjp(xp, g, condition, needs):
    """The gradient is routed to ``a`` where the condition holds, to ``b`` elsewhere."""
    return _route_between(xp, g, condition, needs)


WHERE = register_gate(
    "where",
    _where,
    _where_vjp,
    local_gradient=local("1 where condition, else 0", "0 where condition, else 1", inputs="x y"),
)


def _astype(xp, a, dtype):
    """f = a converted to another floating dtype."""
    return a.astype(dtype), a.dtype


def _astype_vjp(xp, g, source_dtype, needs):
    """The gradient is converted back to the input's dtype."""
    return (g.astype(source_dtype),)


ASTYPE = register_gate("astype", _astype, _astype_vjp, local_gradient=local("1"))


# --------------------------------------------------------------------------------------
# Activations
# --------------------------------------------------------------------------------------


def sigmoid_values(xp, a):
    """s = 1 / (1 + e^-a), computed as e^-|a| based fractions so that no exp overflows:
    1 / (1 + e^-a) for a >= 0, e^a / (1 + e^a) below."""
    e = xp.exp(-xp.abs(a))
    one = e.dtype.type(1)
    return xp.where(a >= 0, one / (one + e), e / (one + e))


def _sigmoid(xp, a):
    """s = sigmoid(a), saved for the local gradient."""
    out = sigmoid_values(xp, a)
    return out, out


def _sigmoid_vjp(xp, g, s, needs, out=None):
    """ds/da = (1 - s) s, the notes' local gradient of the sigmoid gate."""
    return (xp.multiply(g, (1 - s) * s, out=out),)


SIGMOID = register_gate(
    "sigmoid",
    _sigmoid,
    _sigmoid_vjp,
    vjp_out=True,
    local_gradient=local("(1 - {s}) * {s}", output="s"),
)


def _tanh(xp, a, out=None):
    """t = tanh(a)."""
    t = xp.tanh(a, out=out)
    return t, t


def _tanh_vjp(xp, g, t, needs, out=None):
    """dt/da = 1 - t^2, applied as g - g t t (no constant to convert)."""
    g_t_t = g * t
    g_t_t *= t
    return (xp.subtract(g, g_t_t, out=out),)


TANH = register_gate(
    "tanh",
    _tanh,
    _tanh_vjp,
    forward_out=True,
    vjp_out=True,
    local_gradient=local("1 - {t}^2", output="t"),
)


def _relu(xp, a, out=None):
    """f = max(a, 0)."""
    f = xp.maximum(a, 0, out=out)
    return f, f


def _relu_vjp(xp, g, f, needs, out=None):
    """df/da = 1 where a > 0, else 0 (the max gate routing against the constant 0)."""
    return (xp.multiply(g, f > 0, out=out),)


RELU = register_gate(
    "relu",
    _relu,
    _relu_vjp,
    pattern="max routes",
    forward_out=True,
    vjp_out=True,
    local_gradient=local("1 if {x} > 0 else 0", words="the max gate against the constant 0"),
)


def _leaky_relu(xp, a, slope):
    """f = a for a > 0, slope a otherwise."""
    return xp.where(a > 0, a, a * slope), (a, slope)


def _leaky_relu_vjp(xp, g, saved, needs):
    """df/da = 1 for a > 0, slope otherwise."""
    a, slope = saved
    return (xp.where(a > 0, g, g * slope),)


LEAKY_RELU = register_gate(
    "leaky_relu", _leaky_relu, _leaky_relu_vjp, local_gradient=local("1 if {x} > 0 else slope")
)


def _elu(xp, a, alpha):
    """f = a for a > 0, alpha (e^a - 1) otherwise (the exp sees only a <= 0)."""
    negative_part = alpha * xp.expm1(xp.minimum(a, 0))
    out = xp.where(a > 0, a, negative_part)
    return out, (a, out, alpha)


def _elu_vjp(xp, g, saved, needs):
    """df/da = 1 for a > 0, f + alpha = alpha e^a otherwise."""
    a, out, alpha = saved
    return (xp.where(a > 0, g, g * (out + alpha)),)


ELU = register_gate(
    "elu", _elu, _elu_vjp, local_gradient=local("1 if {x} > 0 else alpha * exp({x})")
)


def _softplus(xp, a):
    """f = ln(1 + e^a) = max(a, 0) + ln(1 + e^-|a|), finite for any a."""
    return xp.maximum(a, 0) + xp.log1p(xp.exp(-xp.abs(a))), a


def _softplus_vjp(xp, g, a, needs):
    """df/da = sigmoid(a)."""
    return (g * sigmoid_values(xp, a),)


SOFTPLUS = register_gate(
    "softplus",
    _softplus,
    _softplus_vjp,
    local_gradient=local("σ({x})"),  # noqa: RUF001
)

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


GELU = register_gate(
    "gelu",
    _gelu,
    _gelu_vjp,
    local_gradient=local(
        "(1 + t)/2 + ({x}/2) * (1 - t^2) * c * (1 + 0.134145 * {x}^2),"
        " t = tanh(c ({x} + 0.044715 {x}^3)), c = sqrt(2/pi)"
    ),
)


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


SOFTMAX = register_gate(
    "softmax", _softmax, _softmax_vjp, local_gradient=local("s_i (delta_ij - s_j)", output="s")
)


def _log_softmax(xp, a, axis):
    """log s_i = a_i - m - ln sum_k e^(a_k - m)."""
    shifted = a - a.max(axis=axis, keepdims=True)
    out = shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
    return out, (out, axis)


def _log_softmax_vjp(xp, g, saved, needs):
    """d log s_i / da_j = delta_ij - s_j, so the vjp is g - s sum_k g_k."""
    out, axis = saved
    return (g - xp.exp(out) * g.sum(axis=axis, keepdims=True),)


LOG_SOFTMAX = register_gate(
    "log_softmax", _log_softmax, _log_softmax_vjp, local_gradient=local("delta_ij - s_j")
)


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


LOGSUMEXP = register_gate(
    "logsumexp", _logsumexp, _logsumexp_vjp, local_gradient=local("softmax({x})_i")
)


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


SUM = register_gate(
    "sum",
    _sum,
    _sum_vjp,
    pattern="add distributes",
    local_gradient=local("1", words="1 for every summed element"),
)


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


MEAN = register_gate(
    "mean", _mean, _mean_vjp, local_gradient=local("1/n", words="1/n for every averaged element")
)


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


MAX = register_gate(
    "max",
    _max,
    _max_vjp,
    pattern="max routes",
    local_gradient=local("1 at the first largest element, else 0"),
)


def _min(xp, a, axis, keepdims):
    """f = min of a over axis."""
    return a.min(axis=axis, keepdims=keepdims), (a, axis, keepdims)


def _min_vjp(xp, g, saved, needs):
    """Routes the whole gradient to the first minimal element."""
    return _route_to_first(xp, g, saved, xp.argmin)


MIN = register_gate(
    "min",
    _min,
    _min_vjp,
    pattern="min routes",
    local_gradient=local("1 at the first smallest element, else 0"),
)


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


MATMUL = register_gate(
    "matmul",
    _matmul,
    _matmul_vjp,
    local_gradient=local(
        "{b}^T", "{a}^T", inputs="a b", words="upstream @ b^T to a, a^T @ upstream to b"
    ),
)


# --------------------------------------------------------------------------------------
# Shape and indexing
# --------------------------------------------------------------------------------------


def _reshape(xp, a, shape):
    """f = a with a new shape, same elements in the same order."""
    return a.reshape(shape), a.shape


def _reshape_vjp(xp, g, shape, needs):
    """The gradient is reshaped back."""
    return (g.reshape(shape),)


RESHAPE = register_gate(
    "reshape", _reshape, _reshape_vjp, local_gradient=local("1", words="reshaped back")
)


def _transpose(xp, a, axes):
    """f = a with its axes permuted (reversed when axes is None)."""
    return xp.transpose(a, axes), axes


def _transpose_vjp(xp, g, axes, needs):
    """The gradient is permuted back by the inverse permutation (of the axes counted
    from 0: -1 is the last)."""
    if axes is None:
        return (xp.transpose(g),)
    return (xp.transpose(g, xp.argsort(xp.asarray([axis % g.ndim for axis in axes]))),)


TRANSPOSE = register_gate(
    "transpose", _transpose, _transpose_vjp, local_gradient=local("1", words="permuted back")
)


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


GETITEM = register_gate(
    "getitem",
    _getitem,
    _getitem_vjp,
    local_gradient=local("1 where an element was taken, else 0"),
)


def _concatenate(xp, *arrays, axis):
    """f = the arrays joined along an existing axis."""
    sizes = [a.shape[axis] for a in arrays]
    return xp.concatenate(arrays, axis=axis), (sizes, axis)


def _concatenate_vjp(xp, g, saved, needs):
    """Each input gets its own slice of the gradient."""
    sizes, axis = saved
    bounds = [sum(sizes[: i + 1]) for i in range(len(sizes) - 1)]
    return tuple(xp.split(g, bounds, axis=axis))


CONCATENATE = register_gate(
    "concatenate",
    _concatenate,
    _concatenate_vjp,
    local_gradient=local("1", words="each input its own slice"),
)


def _stack(xp, *arrays, axis):
    """f = the arrays joined along a new axis."""
    return xp.stack(arrays, axis=axis), (len(arrays), axis)


def _stack_vjp(xp, g, saved, needs):
    """Each input gets its own slice of the gradient along the new axis."""
    count, axis = saved
    return tuple(xp.take(g, i, axis=axis) for i in range(count))


STACK = register_gate(
    "stack", _stack, _stack_vjp, local_gradient=local("1", words="each input its own slice")
)

"""Fused gates: one node doing the work of several, for speed and stability.

* ``linear``: x @ U + b, a layer's affine map;
* ``linear_<activation>``: a layer and the elementwise activation after it, built from
  the linear gate's and the activation's own functions (so their formulas are written
  once, in :mod:`.elementary` and here);
* the losses on logits, each stable at any logit: ``softmax_cross_entropy``,
  ``sigmoid_binary_cross_entropy``; ``squared_error``; and ``sum_of_squares``, an L2
  penalty.

Their values and gradients are those of the elementary gates they stand for (the tests
check each against them and against central differences).
"""

from __future__ import annotations

from functools import lru_cache

from .elementary import ELU, GELU, LEAKY_RELU, RELU, SIGMOID, SOFTPLUS, TANH, sigmoid_values
from .gates import Gate, LocalGradient, local, register_gate

# A weight gradient x^T g of at least this many numbers is computed ``x.T @ g``, a
# smaller one ``x.T.dot(g)``.  Both give the same product; ``ndarray.dot`` skips matmul's
# generalised-ufunc set-up, which is much of a small step, but with a transposed first
# operand it zeroes its output before BLAS writes it, a pass through memory that costs
# more than the set-up from about this size on (``bench/engine_overhead.py`` times both).
_DOT_LIMIT = 8192


def _linear(xp, x, weight, bias):
    """f = x @ U + b: a layer's affine map fused in one gate (x is (..., in), U (in, out)).

    Products with a matrix U are written ``x.dot(U)``: the same as ``x @ U`` for a 2-D
    U, without matmul's generalised-ufunc set-up."""
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


LINEAR = register_gate(
    "linear",
    _linear,
    _linear_vjp,
    local_gradient=local(
        "{U}^T",
        "{x}^T",
        "1",
        inputs="x U b",
        words="upstream @ U^T to x, x^T @ upstream to U, upstream summed over the batch to b",
    ),
)


def _fuse_with_linear(activation: Gate) -> Gate:
    """The gate "linear_<activation>": f = act(x @ U + b), a layer and the elementwise
    activation after it in one gate, registered as such in the table.

    It is the chain rule through the two gates' own functions, composed: the values and
    gradients are exactly those of the two gates in a row, with one graph node instead
    of two.  Where the activation takes ``out=``, it writes over x @ U + b, which the
    linear formula has just made here (and so may be overwritten), and its local
    gradient over an upstream gradient the caller owns.  Options of the activation
    (leaky_relu's ``slope``, elu's ``alpha``) pass through."""

    act_forward, act_vjp = activation.forward, activation.vjp
    in_place = activation.forward_out

    def forward(xp, x, weight, bias, **options):
        z, linear_saved = _linear(xp, x, weight, bias)
        if in_place and not options:  # out=z by position: a call without keywords
            out, act_saved = act_forward(xp, z, z)
        elif in_place:
            out, act_saved = act_forward(xp, z, out=z, **options)
        else:
            out, act_saved = act_forward(xp, z, **options)
        return out, (linear_saved, act_saved)

    def vjp(xp, g, saved, needs, out=None):
        """upstream -> the activation's vjp -> the linear gate's vjp."""
        linear_saved, act_saved = saved
        if out is None:
            (gz,) = act_vjp(xp, g, act_saved, (True,))
        else:
            (gz,) = act_vjp(xp, g, act_saved, (True,), out)
        return _linear_vjp(xp, gz, linear_saved, needs)

    return register_gate(
        f"linear_{activation.name}",
        forward,
        vjp,
        vjp_out=activation.vjp_out,
        local_gradient=_fused_local_gradient(activation),
    )


def _fused_local_gradient(activation: Gate) -> LocalGradient:
    """act(z), z = x @ U + b: the activation's local gradient times the linear gate's."""
    act = activation.local_gradient.formula(0) if activation.local_gradient else "act'(z)"
    act = act.replace("{", "").replace("}", "")
    words = f"the activation's local gradient ({act}, at z = x @ U + b) times the linear gate's"
    return local("{U}^T", "{x}^T", "1", inputs="x U b", words=words)


# The activations a Linear layer fuses with, by name.
LINEAR_THEN = {
    gate.name: _fuse_with_linear(gate)
    for gate in (RELU, TANH, SIGMOID, LEAKY_RELU, ELU, SOFTPLUS, GELU)
}


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
    "softmax_cross_entropy",
    _softmax_cross_entropy,
    _softmax_cross_entropy_vjp,
    local_gradient=local("w_i (softmax(z_i) - y_i)", inputs="z"),
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
    s = sigmoid_values(xp, logits)
    return (_rows_times(xp, s - target, g * weights),)


SIGMOID_BINARY_CROSS_ENTROPY = register_gate(
    "sigmoid_binary_cross_entropy",
    _sigmoid_binary_cross_entropy,
    _sigmoid_binary_cross_entropy_vjp,
    local_gradient=local("w_i (σ(z_i) - y_i)", inputs="z"),  # noqa: RUF001
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


SQUARED_ERROR = register_gate(
    "squared_error",
    _squared_error,
    _squared_error_vjp,
    local_gradient=local(
        "2 scale w_i ({y_hat} - {y})", "-2 scale w_i ({y_hat} - {y})", inputs="y_hat y"
    ),
)


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


SUM_OF_SQUARES = register_gate(
    "sum_of_squares",
    _sum_of_squares,
    _sum_of_squares_vjp,
    local_gradient=local("2 scale {a}", inputs="a"),
)

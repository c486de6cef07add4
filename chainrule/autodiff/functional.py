"""Functions on tensors: one per gate (``cr.exp(x)``, ``cr.sigmoid(x)``, ...) and a few
composites built only from gates, whose gradients therefore come for free."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import elementary as G
from . import fused
from .tensors import Tensor, _axis, _lift, apply

Axis = int | Sequence[int] | None


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


# Elementwise gates ----------------------------------------------------------------------


def exp(x: Any) -> Tensor:
    """e^x."""
    return apply(G.EXP, _as_tensor(x))


def log(x: Any) -> Tensor:
    """Natural logarithm."""
    return apply(G.LOG, _as_tensor(x))


def sqrt(x: Any) -> Tensor:
    """Square root."""
    return apply(G.SQRT, _as_tensor(x))


def abs(x: Any) -> Tensor:
    """|x|; its gradient at 0 is 0."""
    return apply(G.ABS, _as_tensor(x))


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise max(a, b).  The gradient is routed to the larger input; on a tie, to
    ``a``."""
    a, b = _pair(a, b)
    return apply(G.MAXIMUM, a, b)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise min(a, b).  The gradient is routed to the smaller input; on a tie,
    to ``a``."""
    a, b = _pair(a, b)
    return apply(G.MINIMUM, a, b)


def clip(x: Any, low: float | None = None, high: float | None = None) -> Tensor:
    """x limited to [low, high]; the gradient is zero where x was clipped."""
    return apply(G.CLIP, _as_tensor(x), low=low, high=high)


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """a where condition holds, else b; ``condition`` is a constant boolean array."""
    a, b = _pair(a, b)
    condition = condition.data if isinstance(condition, Tensor) else condition
    return apply(G.WHERE, a, b, condition=np.asarray(condition, dtype=bool))


def sigmoid(x: Any) -> Tensor:
    """s = 1 / (1 + e^-x), one gate with local gradient (1 - s) s, finite for any x."""
    return apply(G.SIGMOID, _as_tensor(x))


def tanh(x: Any) -> Tensor:
    """Hyperbolic tangent; local gradient 1 - tanh^2."""
    return apply(G.TANH, _as_tensor(x))


def relu(x: Any) -> Tensor:
    """max(x, 0)."""
    return apply(G.RELU, _as_tensor(x))


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, negative_slope * x otherwise."""
    return apply(G.LEAKY_RELU, _as_tensor(x), slope=negative_slope)


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    """x for x > 0, alpha (e^x - 1) otherwise."""
    return apply(G.ELU, _as_tensor(x), alpha=alpha)


def softplus(x: Any) -> Tensor:
    """ln(1 + e^x), computed without overflow; its derivative is sigmoid(x)."""
    return apply(G.SOFTPLUS, _as_tensor(x))


def gelu(x: Any) -> Tensor:
    """GELU in its tanh form: x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    return apply(G.GELU, _as_tensor(x))


def softmax(x: Any, axis: int = -1) -> Tensor:
    """f_i = e^(x_i) / sum_k e^(x_k) along ``axis`` (the notes' classification layer),
    computed with the max subtracted, so finite for any input."""
    return apply(G.SOFTMAX, _as_tensor(x), axis=axis)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """log softmax(x) = x_i - logsumexp(x), finite for any input."""
    return apply(G.LOG_SOFTMAX, _as_tensor(x), axis=axis)


def logsumexp(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """ln sum_i e^(x_i), with the max factored out so it never overflows."""
    return apply(G.LOGSUMEXP, _as_tensor(x), axis=_axis(axis), keepdims=keepdims)


# Reductions and shape --------------------------------------------------------------------


def sum(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis`` (all axes when None)."""
    return _as_tensor(x).sum(axis, keepdims)


def mean(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis`` (all axes when None)."""
    return _as_tensor(x).mean(axis, keepdims)


def max(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Max over ``axis``; the gradient goes to the first maximal element."""
    return _as_tensor(x).max(axis, keepdims)


def min(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Min over ``axis``; the gradient goes to the first minimal element."""
    return _as_tensor(x).min(axis, keepdims)


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with NumPy's rules (1-D, 2-D, batched)."""
    a, b = _pair(a, b)
    return apply(G.MATMUL, a, b)


def linear(x: Any, weight: Any, bias: Any) -> Tensor:
    """x @ U + b in one gate: a layer's affine map with U of shape (in, out)."""
    return apply(fused.LINEAR, _as_tensor(x), _as_tensor(weight), _as_tensor(bias))


def linear_activation(x: Any, weight: Any, bias: Any, activation: str, **options: Any) -> Tensor:
    """act(x @ U + b) in one gate, ``activation`` the name of an elementwise gate (relu,
    tanh, sigmoid, leaky_relu with ``slope=``, ...): the same values and gradients as
    ``linear`` followed by that gate, with one graph node."""
    gate = fused.LINEAR_THEN.get(activation)
    if gate is None:
        known = ", ".join(sorted(fused.LINEAR_THEN))
        raise ValueError(f"linear fuses with one of {known}; got '{activation}'")
    return apply(gate, _as_tensor(x), _as_tensor(weight), _as_tensor(bias), **options)


def sum_of_squares(*tensors: Any, scale: float = 1.0) -> Tensor:
    """scale (||a||^2 + ||b||^2 + ...): the sum of the squares of every element of every
    tensor, an L2 penalty with its coefficient, in one gate."""
    return apply(fused.SUM_OF_SQUARES, *[_as_tensor(t) for t in tensors], scale=scale)


def reshape(x: Any, shape: Sequence[int]) -> Tensor:
    return _as_tensor(x).reshape(tuple(shape))


def transpose(x: Any, axes: Sequence[int] | None = None) -> Tensor:
    return apply(G.TRANSPOSE, _as_tensor(x), axes=None if axes is None else tuple(axes))


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    return apply(G.CONCATENATE, *[_as_tensor(t) for t in tensors], axis=axis)


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along a new axis."""
    return apply(G.STACK, *[_as_tensor(t) for t in tensors], axis=axis)


# Composites: built from gates only --------------------------------------------------------


def sigmoid_elementary(x: Any) -> Tensor:
    """The sigmoid as the notes first draw it, four elementary gates:
    negate, exp, add 1, reciprocal: 1 / (1 + e^-x).  Same value and gradient as the
    one-gate :func:`sigmoid` (except that e^-x overflows for x below about -709)."""
    return 1.0 / (1.0 + exp(-_as_tensor(x)))


def softmax_elementary(x: Any, axis: int = -1) -> Tensor:
    """softmax from elementary gates: exp(x - max) / sum(exp(x - max))."""
    x = _as_tensor(x)
    e = exp(x - x.max(axis=axis, keepdims=True).detach())
    return e / e.sum(axis=axis, keepdims=True)


def _pair(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    if isinstance(a, Tensor):
        return a, _lift(b, a)
    if isinstance(b, Tensor):
        return _lift(a, b), b
    return Tensor(a), Tensor(b)

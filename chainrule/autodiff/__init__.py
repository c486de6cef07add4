"""The automatic-differentiation engine: tensors, the gate table, backward, gradcheck."""

from .backward import GraphReleasedError, topological_order, unbroadcast
from .functional import (
    abs,
    clip,
    concatenate,
    elu,
    exp,
    gelu,
    leaky_relu,
    linear,
    log,
    log_softmax,
    logsumexp,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    relu,
    reshape,
    sigmoid,
    sigmoid_elementary,
    softmax,
    softmax_elementary,
    softplus,
    sqrt,
    stack,
    sum,
    tanh,
    transpose,
    where,
)
from .gates import GATES, Gate, NoGradientError, register_gate
from .gradcheck import GradcheckError, GradcheckReport, gradcheck, numerical_grad
from .mode import AnomalyError, detect_anomaly, enable_grad, is_grad_enabled, no_grad
from .tensor import Tensor, apply, tensor


def zero_grad(params) -> None:
    """Reset the gradient of every tensor in ``params`` (``t.grad = None``)."""
    for p in params:
        p.grad = None


__all__ = [
    "GATES",
    "AnomalyError",
    "Gate",
    "GradcheckError",
    "GradcheckReport",
    "GraphReleasedError",
    "NoGradientError",
    "Tensor",
    "abs",
    "apply",
    "clip",
    "concatenate",
    "detect_anomaly",
    "elu",
    "enable_grad",
    "exp",
    "gelu",
    "gradcheck",
    "is_grad_enabled",
    "leaky_relu",
    "linear",
    "log",
    "log_softmax",
    "logsumexp",
    "matmul",
    "max",
    "maximum",
    "mean",
    "min",
    "minimum",
    "no_grad",
    "numerical_grad",
    "register_gate",
    "relu",
    "reshape",
    "sigmoid",
    "sigmoid_elementary",
    "softmax",
    "softmax_elementary",
    "softplus",
    "sqrt",
    "stack",
    "sum",
    "tanh",
    "tensor",
    "topological_order",
    "transpose",
    "unbroadcast",
    "where",
    "zero_grad",
]

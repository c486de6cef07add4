"""Layers: Linear (x @ U + b), the activation functions, Dropout."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import autodiff as ad
from ..autodiff import Tensor, apply
from ..autodiff import elementary as G
from ..autodiff.fused import LINEAR, LINEAR_THEN
from ..autodiff.gates import Gate
from ..autodiff.tensors import constant
from .init import RandomSource, as_generator, get_initializer
from .module import Module, Parameter


def as_input(x: Any, dtype: np.dtype) -> Tensor:
    """The input of a layer as a tensor of the layer's dtype: NumPy data is converted
    once here, so float64 data never silently upcasts a float32 network."""
    if isinstance(x, Tensor):
        return x if x.dtype == dtype else x.astype(dtype)
    array = np.asarray(x)
    if array.dtype.kind not in "fiub":
        raise TypeError(f"a layer's input must be numeric, got an array of dtype {array.dtype}")
    return constant(array.astype(dtype, copy=False))


class Linear(Module):
    """f(x) = x @ U + b, with U of shape (in_features, out_features), as in the notes.

    ``init`` names the weight initialiser (default Glorot uniform); the bias starts at 0.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        init: str = "glorot_uniform",
        rng: RandomSource = None,
        dtype: Any = "float32",
    ) -> None:
        self.in_features = in_features
        self.out_features = out_features
        self.U = Parameter(get_initializer(init)((in_features, out_features), rng, dtype))
        self.b = Parameter(np.zeros(out_features, dtype=dtype)) if bias else None

    @property
    def weight(self) -> Parameter:
        """The weight matrix U (in_features, out_features)."""
        return self.U

    def forward(self, x: Any, activation: Activation | None = None) -> Tensor:
        """x @ U + b; with ``activation`` (an elementwise activation module), its value
        after that activation, computed by one fused gate (same values and gradients
        as the two in a row)."""
        x = self.checked_input(x)
        gate = self.gate_with(activation)
        if gate is not None:
            options = {} if activation is None else activation.gate_options()
            return apply(gate, x, self.U, self.b, **options)
        out = x @ self.U if self.b is None else apply(LINEAR, x, self.U, self.b)
        if activation is None:
            return out
        return activation(out)  # an activation the table does not fuse: two gates in a row

    def checked_input(self, x: Any) -> Tensor:
        """x as a tensor of this layer's dtype with ``in_features`` values in its last
        axis, or a ValueError naming the shapes."""
        if x.__class__ is not Tensor or x.data.dtype is not self.U.data.dtype:
            x = as_input(x, self.U.dtype)
        self._check_width(x.data.shape)
        return x

    def input_array(self, x: Any) -> np.ndarray:
        """The array of :meth:`checked_input`, for code that records no graph (an array
        of this layer's dtype is taken as it is)."""
        if (
            x.__class__ is np.ndarray
            and x.dtype is self.U.data.dtype
            and x.ndim
            and x.shape[-1] == self.in_features
        ):
            return x
        return self.checked_input(x).data  # converted, or the error naming the shapes

    def _check_width(self, shape: tuple[int, ...]) -> None:
        if not shape or shape[-1] != self.in_features:
            raise ValueError(
                f"Linear({self.in_features}, {self.out_features}) expects inputs with "
                f"{self.in_features} features in the last axis, got shape {shape}"
            )

    def gate_with(self, activation: Activation | None) -> Gate | None:
        """The one gate that computes this layer followed by ``activation`` (None: no
        activation), applied to (x, U, b): linear, or the fused linear_<activation>.
        None when there is no such gate: no bias, or an activation the table does not
        fuse."""
        if self.b is None:
            return None
        if activation is None:
            return LINEAR
        return None if activation.gate is None else LINEAR_THEN.get(activation.gate.name)

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, bias={self.b is not None}"


class Activation(Module):
    """An activation gate as a module; ``name`` is its name in model files.

    ``gate`` is the gate it applies (None for the identity), with keyword options
    ``gate_options()``; a Linear layer fuses an elementwise one into a single gate
    (softmax, which mixes a row's values, stays a gate of its own).
    """

    name = "activation"
    gate: Gate | None = None

    def gate_options(self) -> dict[str, Any]:
        return {}

    def forward(self, x: Any) -> Tensor:
        """The gate on x, with this module's options (subclasses without a gate override)."""
        return apply(self.gate, x if isinstance(x, Tensor) else Tensor(x), **self.gate_options())

    def extra_repr(self) -> str:
        return ""


class Identity(Activation):
    """f(x) = x: the regression output layer of the notes."""

    name = "identity"

    def forward(self, x: Any) -> Tensor:
        return x if isinstance(x, Tensor) else Tensor(x)


class Sigmoid(Activation):
    """f(x) = 1 / (1 + e^-x), local gradient (1 - f) f."""

    name = "sigmoid"
    gate = G.SIGMOID


class Tanh(Activation):
    name = "tanh"
    gate = G.TANH


class ReLU(Activation):
    name = "relu"
    gate = G.RELU


class LeakyReLU(Activation):
    name = "leaky_relu"
    gate = G.LEAKY_RELU

    def __init__(self, negative_slope: float = 0.01) -> None:
        self.negative_slope = negative_slope

    def gate_options(self) -> dict[str, Any]:
        return {"slope": self.negative_slope}

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class ELU(Activation):
    name = "elu"
    gate = G.ELU

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha

    def gate_options(self) -> dict[str, Any]:
        return {"alpha": self.alpha}

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class Softplus(Activation):
    name = "softplus"
    gate = G.SOFTPLUS


class GELU(Activation):
    name = "gelu"
    gate = G.GELU


class Softmax(Activation):
    """f_i(x) = e^(x_i) / sum_k e^(x_k) over the last axis: the notes' classification
    output layer."""

    name = "softmax"
    gate = G.SOFTMAX

    def __init__(self, axis: int = -1) -> None:
        self.axis = axis

    def gate_options(self) -> dict[str, Any]:
        return {"axis": self.axis}

    def forward(self, x: Any) -> Tensor:
        return ad.softmax(x, axis=self.axis)


ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls
    for cls in (Identity, Sigmoid, Tanh, ReLU, LeakyReLU, ELU, Softplus, GELU, Softmax)
}
ACTIVATIONS["logistic"] = Sigmoid  # scikit-learn's name


def make_activation(name: str) -> Activation:
    """The activation module called ``name`` (identity, sigmoid/logistic, tanh, relu,
    leaky_relu, elu, softplus, gelu, softmax)."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        known = ", ".join(sorted(ACTIVATIONS))
        raise ValueError(f"unknown activation '{name}'; known: {known}") from None


class Dropout(Module):
    """Inverted dropout: in training, each value is zeroed with probability p and the
    rest scaled by 1 / (1 - p), so evaluation needs no rescaling; in eval mode, identity."""

    def __init__(self, p: float = 0.5, rng: RandomSource = None) -> None:
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p
        self.rng = as_generator(rng)

    def forward(self, x: Any) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        if not self.active:
            return x
        return x * self.draw_scale(x.shape, x.dtype)

    @property
    def active(self) -> bool:
        """Whether the forward drops anything: in training, with p > 0."""
        return self.training and self.p != 0.0

    def draw_scale(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """The factor that multiplies the input: 1 / (1 - p) where a value is kept, 0
        where it is dropped, drawn from this layer's random source."""
        keep = self.rng.random(shape) >= self.p
        return np.asarray(keep, dtype=dtype) / np.dtype(dtype).type(1.0 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"

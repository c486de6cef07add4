"""Tensor: an array, its gradient, and the gate that made it.

A tensor produced by a gate while gradients are being recorded remembers that gate, its
input tensors (``parents``) and the values the gate saved for its local gradient.  That
is the computational graph of the notes; :meth:`Tensor.backward` walks it backwards.
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import backward as _backward
from . import elementary as G
from .arrays import FLOAT_KINDS, array_module
from .gates import Gate
from .mode import check_finite, state


class Tensor:
    """An n-dimensional array (0-d for a scalar) that records how it was computed.

    Attributes:
        data: the values, a NumPy (or NumPy-like) array.
        grad: d(output)/d(this tensor) after ``backward``: an array of ``data``'s shape,
            or None.  Gradients accumulate across ``backward`` calls on leaf tensors
            (and on gate nodes after :meth:`retain_grad`; other gate nodes keep
            none); reset with ``t.grad = None``.  Several ``grad`` arrays may share memory
            (the add gate hands the same gradient to both inputs): replace them, do
            not modify them in place.  (An optimizer takes them with
            :func:`take_grads`, which says when the engine made one for this tensor
            alone and no one has read it since: then it may write over it.)
        requires_grad: whether gradients flow to this tensor.
    """

    __slots__ = (
        "__weakref__",
        "_acc",
        "_gate",
        "_grad",
        "_grad_owned",
        "_needs",
        "_parents",
        "_saved",
        "_seq",
        "data",
        "requires_grad",
    )

    # Make NumPy defer to our reflected operators: ndarray + Tensor -> Tensor.__radd__.
    __array_ufunc__ = None

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        array = _to_array(data, dtype)
        if requires_grad and array.dtype.kind not in FLOAT_KINDS:
            raise TypeError(
                f"only floating-point tensors can require gradients, got dtype {array.dtype}"
                " (pass dtype=float or convert the data first)"
            )
        self.data = array
        self._grad = None
        self._grad_owned = False
        self.requires_grad = bool(requires_grad)
        self._gate = None
        self._parents: tuple[Tensor, ...] = ()
        self._needs: Sequence[bool] = ()
        self._saved = None

    # ----------------------------------------------------------------------------------
    # Array-like properties
    # ----------------------------------------------------------------------------------
    @property
    def grad(self) -> Any:
        """The accumulated gradient (None before any backward).  Once read, it may be
        held outside the engine: no optimizer will write over it."""
        self._grad_owned = False
        return self._grad

    @grad.setter
    def grad(self, value: Any) -> None:
        self._grad = value
        self._grad_owned = False

    def __copy__(self) -> Tensor:
        """A shallow copy: the same ``data`` and ``grad`` arrays, and the same place in
        the graph.  As two tensors then hold one gradient array, neither owns it."""
        copy = _new_tensor(type(self))
        for name in Tensor.__slots__:
            if name != "__weakref__" and hasattr(self, name):
                setattr(copy, name, getattr(self, name))
        self._grad_owned = copy._grad_owned = False
        return copy

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def gate(self) -> Gate | None:
        """The gate that produced this tensor (None for a leaf)."""
        return self._gate

    @property
    def parents(self) -> tuple[Tensor, ...]:
        """The gate's input tensors (empty for a leaf or once the graph is released)."""
        return self._parents

    @property
    def is_leaf(self) -> bool:
        return self._gate is None

    def __len__(self) -> int:
        return len(self.data)

    def item(self) -> float:
        return self.data.item()

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self.data

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, cut from the graph."""
        return Tensor(self.data)

    def __repr__(self) -> str:
        body = np.array2string(np.asarray(self.data), separator=", ", prefix="tensor(")
        extras = ""
        if self._gate is not None:
            extras = f", gate={self._gate.name}"
        elif self.requires_grad:
            extras = ", requires_grad=True"
        return f"tensor({body}{extras})"

    __hash__ = object.__hash__

    # ----------------------------------------------------------------------------------
    # Backward
    # ----------------------------------------------------------------------------------
    def retain_grad(self) -> None:
        """Keep this intermediate node's gradient in ``grad`` during backward, as a
        leaf's (PyTorch's ``retain_grad``): for q = x + y, f = q * z, after
        ``q.retain_grad(); f.backward()``, q.grad = df/dq = z.  Without it, a gate
        node's ``grad`` stays None.  No-op on a leaf; RuntimeError on a tensor that
        does not require gradients."""
        _backward.retain_grad(self)

    @property
    def retains_grad(self) -> bool:
        """Whether :meth:`retain_grad` was called on this (non-leaf) tensor."""
        return _backward.retains_grad(self)

    def backward(self, gradient: Any = None, retain_graph: bool = False) -> None:
        """Backpropagate from this tensor: every leaf that requires grad receives
        d(self)/d(leaf), multiplied by ``gradient``, added to its ``grad``.

        ``gradient`` may be omitted only for a single-element tensor (it is then 1).
        The saved values are released afterwards unless ``retain_graph=True``.
        """
        _backward.backward(self, gradient, retain_graph)

    # ----------------------------------------------------------------------------------
    # Operators
    # ----------------------------------------------------------------------------------
    def __add__(self, other: Any) -> Tensor:
        return apply(G.ADD, self, _lift(other, self))

    def __radd__(self, other: Any) -> Tensor:
        return apply(G.ADD, _lift(other, self), self)

    def __sub__(self, other: Any) -> Tensor:
        return apply(G.SUB, self, _lift(other, self))

    def __rsub__(self, other: Any) -> Tensor:
        return apply(G.SUB, _lift(other, self), self)

    def __mul__(self, other: Any) -> Tensor:
        return apply(G.MUL, self, _lift(other, self))

    def __rmul__(self, other: Any) -> Tensor:
        return apply(G.MUL, _lift(other, self), self)

    def __truediv__(self, other: Any) -> Tensor:
        return apply(G.DIV, self, _lift(other, self))

    def __rtruediv__(self, other: Any) -> Tensor:
        return apply(G.DIV, _lift(other, self), self)

    def __pow__(self, exponent: Any) -> Tensor:
        if isinstance(exponent, numbers.Real) and not isinstance(exponent, bool):
            return apply(G.POW_CONST, self, exponent=exponent)
        return apply(G.POW, self, _lift(exponent, self))

    def __rpow__(self, base: Any) -> Tensor:
        return apply(G.POW, _lift(base, self), self)

    def __matmul__(self, other: Any) -> Tensor:
        return apply(G.MATMUL, self, _lift(other, self))

    def __rmatmul__(self, other: Any) -> Tensor:
        return apply(G.MATMUL, _lift(other, self), self)

    def __neg__(self) -> Tensor:
        return apply(G.NEG, self)

    def __getitem__(self, index: Any) -> Tensor:
        if isinstance(index, Tensor):
            index = index.data
        elif isinstance(index, tuple):
            index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
        elif isinstance(index, list):
            index = np.asarray(index)
        return apply(G.GETITEM, self, index=index)

    # Comparisons give plain boolean arrays: they have no gradient.
    def __lt__(self, other: Any) -> np.ndarray:
        return self.data < _data(other)

    def __le__(self, other: Any) -> np.ndarray:
        return self.data <= _data(other)

    def __gt__(self, other: Any) -> np.ndarray:
        return self.data > _data(other)

    def __ge__(self, other: Any) -> np.ndarray:
        return self.data >= _data(other)

    def __eq__(self, other: Any) -> np.ndarray:  # type: ignore[override]
        return self.data == _data(other)

    def __ne__(self, other: Any) -> np.ndarray:  # type: ignore[override]
        return self.data != _data(other)

    # ----------------------------------------------------------------------------------
    # Methods
    # ----------------------------------------------------------------------------------
    def sum(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return apply(G.SUM, self, axis=_axis(axis), keepdims=keepdims)

    def mean(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return apply(G.MEAN, self, axis=_axis(axis), keepdims=keepdims)

    def max(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return apply(G.MAX, self, axis=_axis(axis), keepdims=keepdims)

    def min(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return apply(G.MIN, self, axis=_axis(axis), keepdims=keepdims)

    def reshape(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return apply(G.RESHAPE, self, shape=shape)

    def transpose(self, *axes: Any) -> Tensor:
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return apply(G.TRANSPOSE, self, axes=axes or None)

    @property
    def T(self) -> Tensor:
        return apply(G.TRANSPOSE, self, axes=None)

    def astype(self, dtype: Any) -> Tensor:
        return apply(G.ASTYPE, self, dtype=np.dtype(dtype))

    def exp(self) -> Tensor:
        return apply(G.EXP, self)

    def log(self) -> Tensor:
        return apply(G.LOG, self)

    def sqrt(self) -> Tensor:
        return apply(G.SQRT, self)

    def abs(self) -> Tensor:
        return apply(G.ABS, self)

    def sigmoid(self) -> Tensor:
        return apply(G.SIGMOID, self)

    def tanh(self) -> Tensor:
        return apply(G.TANH, self)

    def relu(self) -> Tensor:
        return apply(G.RELU, self)

    def clip(self, low: float | None = None, high: float | None = None) -> Tensor:
        return apply(G.CLIP, self, low=low, high=high)

    __abs__ = abs


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Make a leaf tensor from an array, a nested list or a number.

    ``dtype=None`` keeps NumPy's inference (Python floats give float64, the precision
    used for teaching and gradient checks); pass ``dtype="float32"`` for speed.
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


# --------------------------------------------------------------------------------------
# The one place where gates run and the graph is recorded
# --------------------------------------------------------------------------------------


_creation_order = itertools.count()


def apply(gate: Gate, *inputs: Tensor, **params: Any) -> Tensor:
    """Run ``gate`` forward on the inputs' arrays and, if any input requires a gradient
    and recording is on, remember the gate, inputs and saved values on the output.

    This is the engine's hot path: every gate of every network passes through it, so it
    is written for speed (one loop over the inputs, one look-up per switch).
    """
    arrays = []
    needs = []
    for tensor in inputs:
        arrays.append(tensor.data)
        needs.append(tensor.requires_grad)
    first = arrays[0]
    xp = np if first.__class__ is np.ndarray else array_module(first)
    try:
        out, saved = gate.forward(xp, *arrays, **params)
    except ValueError as error:
        shapes = " and ".join(str(a.shape) for a in arrays)
        raise ValueError(f"gate '{gate.name}' cannot combine shapes {shapes}: {error}") from None
    if out.__class__ is not np.ndarray and isinstance(out, np.generic):
        out = np.asarray(out)
    if True in needs and state.grad_enabled:
        result = _new_tensor(Tensor)
        result.data = out
        result._grad = None  # (_grad_owned is read only once a gradient is set)
        result.requires_grad = True
        result._gate = gate
        result._parents = inputs
        result._needs = needs
        result._saved = saved
        result._seq = next(_creation_order)  # every node is created after its inputs
        result._acc = None  # the gradient backward sums here
    else:
        result = constant(out)  # nothing to record: a leaf
    if state.detect_anomaly:
        check_finite(out, gate, "forward", arrays)
    return result


_new_tensor = Tensor.__new__


def zero_grad(tensors: Sequence[Tensor]) -> None:
    """Reset the gradient of every tensor in ``tensors`` (``t.grad = None``)."""
    for tensor in tensors:
        tensor._grad = None


def take_grads(tensors: Sequence[Tensor], release: bool = True) -> list[tuple[Any, bool]]:
    """Hand each tensor's gradient over to an optimizer, leaving its ``grad`` None: for
    each, the array (or None) and whether the engine made it for this tensor alone and
    nobody has read ``grad`` since (see ``backward.accumulate_grad``): the taker then
    owns that array and may overwrite it.  With ``release=False`` the gradients stay
    where they are, as reading ``grad`` leaves them: no longer owned by anyone.  One
    call for all of an optimizer's parameters."""
    taken = []
    for tensor in tensors:
        grad = tensor._grad
        if not release:  # read by the caller, who may keep it: no one owns it any more
            taken.append((grad, False))
            tensor._grad_owned = False
            continue
        taken.append((grad, grad is not None and tensor._grad_owned))
        tensor._grad = None
    return taken


def constant(array: Any) -> Tensor:
    """A leaf tensor on an array that is already a NumPy (or NumPy-like) numeric array,
    without :class:`Tensor`'s conversions: for the hot paths that have checked it."""
    result = _new_tensor(Tensor)
    result.data = array
    result._grad = None
    result.requires_grad = False
    result._gate = None
    result._parents = ()
    result._needs = ()
    result._saved = None
    return result


# --------------------------------------------------------------------------------------
# Conversions
# --------------------------------------------------------------------------------------


def _to_array(data: Any, dtype: Any) -> Any:
    if isinstance(data, Tensor):
        data = data.data
    if hasattr(data, "__array_namespace__") and type(data) is not np.ndarray:
        return data if dtype is None else data.astype(dtype)  # a NumPy-like array
    array = np.asarray(data, dtype=dtype)
    if array.dtype == object:
        raise TypeError(
            "cannot make a tensor from objects: the data must be numbers "
            f"(got an array of {type(array.flat[0]).__name__ if array.size else 'objects'})"
        )
    if array.dtype.kind not in "biufc":
        raise TypeError(f"a tensor holds numbers; got data of dtype {array.dtype} ({data!r:.40})")
    return array


def _lift(value: Any, like: Tensor) -> Tensor:
    """Turn the other operand of an operator into a constant tensor.  A Python number
    takes the floating dtype of ``like``, so float32 stays float32."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (int, float)) and like.data.dtype.kind == "f":
        return Tensor(like.data.dtype.type(value))
    return Tensor(value)


def _data(value: Any) -> Any:
    return value.data if isinstance(value, Tensor) else value


def _axis(axis: Any) -> Any:
    return tuple(axis) if isinstance(axis, list) else axis


__all__ = ["Tensor", "apply", "array_module", "constant", "tensor"]

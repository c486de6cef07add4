"""Module and Parameter: the containers that hold a network's weights.

A module's parameters are found by walking its attributes in the order they were set:
a :class:`Parameter` is a parameter, a :class:`Module` (or a list or tuple of modules)
is searched recursively.  Names are dotted paths, e.g. ``layers.0.U``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..autodiff import Tensor, no_grad
from ..autodiff.chain import AnyLink


class Parameter(Tensor):
    """A leaf tensor that a module owns and an optimizer updates: requires_grad=True."""

    __slots__ = ()

    def __init__(self, data: Any, dtype: Any = None) -> None:
        super().__init__(data, requires_grad=True, dtype=dtype)

    def __repr__(self) -> str:
        return f"Parameter(shape={self.shape}, dtype={self.dtype})"


class StateDictError(KeyError):
    """load_state_dict() got missing, unexpected or wrongly shaped entries."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class Module:
    """Base class of layers and networks: ``__call__`` runs ``forward``."""

    training: bool = True

    def forward(self, *args: Any) -> Tensor:
        raise NotImplementedError

    def __call__(self, *args: Any) -> Tensor:
        return self.forward(*args)

    def chain(
        self, x: Any, logits: bool = False
    ) -> tuple[Any, list[AnyLink], tuple[int, ...]] | None:
        """The forward on x (its logits, with ``logits=True``) as a chain of gates that
        :func:`~chainrule.nn.value_and_grad` may run without recording a graph: the
        checked input array, the links (those the forward records) and the shape of the
        chain's output.  None, as here, when the module is not known to be one; the
        graph is then recorded."""
        return None

    # Discovery ---------------------------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The modules held in attributes (or lists/tuples in them); attributes named
        with a leading underscore are private caches and are not searched."""
        for name, value in vars(self).items():
            if name[0] == "_":
                continue
            if isinstance(value, Module):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, Module):
                        yield f"{name}.{i}", item

    def modules(self) -> Iterator[Module]:
        """This module and every module inside it, depth first."""
        yield self
        for _, child in self.named_children():
            yield from child.modules()

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield prefix + name, value
        for name, child in self.named_children():
            yield from child.named_parameters(prefix + name + ".")

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def num_parameters(self) -> int:
        return sum(p.size for p in self.parameters())

    def flatten_parameters(self) -> np.ndarray | None:
        """Lay the parameters end to end in one array, each parameter's ``data`` becoming
        a view of its part (values unchanged), and return that array; None when they do
        not share a dtype.  An optimizer then updates them all with one NumPy call per
        operation.  Rebinding a parameter's ``data`` undoes it, harmlessly: in-place
        writes (``load_state_dict``, ``p.data[...] = v``) keep it."""
        params = self.parameters()
        if not params or len({p.dtype for p in params}) != 1:
            return None
        flat = np.empty(sum(p.size for p in params), dtype=params[0].dtype)
        offset = 0
        for p in params:
            part = flat[offset : offset + p.size].reshape(p.shape)
            part[...] = p.data
            p.data = part
            offset += p.size
        return flat

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    # Modes -------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active); returns self."""
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode (dropout off); returns self."""
        return self.train(False)

    # State -------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of every parameter's values, by name."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Copy values into the parameters; every name must be present with the same
        shape, and no other name may appear."""
        own = dict(self.named_parameters())
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        problems = []
        if missing:
            problems.append(f"missing entries: {', '.join(missing)}")
        if unexpected:
            problems.append(f"unexpected entries: {', '.join(unexpected)}")
        for name in sorted(set(own) & set(state)):
            got = np.shape(state[name])
            if got != own[name].shape:
                problems.append(f"'{name}' has shape {got}, expected {own[name].shape}")
        if problems:
            raise StateDictError("load_state_dict: " + "; ".join(problems))
        for name, p in own.items():
            p.data[...] = state[name]  # copied into the parameter's array, in its dtype

    # Inference ---------------------------------------------------------------------------
    @contextmanager
    def inference(self) -> Iterator[None]:
        """Evaluation mode (dropout off) without recording a graph; the previous mode is
        restored on leaving."""
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                yield
        finally:
            self.train(was_training)

    def predict(self, X: Any, batch_size: int = 1024) -> np.ndarray:
        """The network's output for every row of X, in batches, in :meth:`inference`."""
        with self.inference():
            outputs = [
                self(X[start : start + batch_size]).data for start in range(0, len(X), batch_size)
            ]
        return np.concatenate(outputs) if outputs else np.empty((0,))

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        children = list(self.named_children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}("]
        for name, child in children:
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        lines.append(")")
        return "\n".join(lines)


class Sequential(Module):
    """Modules applied one after the other."""

    def __init__(self, *layers: Module) -> None:
        self.layers = list(layers)

    def forward(self, x: Any) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x

    def __getitem__(self, index: int) -> Module:
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)
